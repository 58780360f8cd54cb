"""The portal's web side: aiohttp routes, Jinja2 pages and a JSON poll for the login QR.

A browser session (a random cookie) owns its login challenge and, once the phone has
answered, the person the engine named; nothing of it leaves this process.
"""

from __future__ import annotations

import base64
import io
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import segno
from aiohttp import web

from portal.engine import Challenge, EngineClient, Refusal
from portal.texts import LANGUAGES, TEXTS

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "portal_session"
LANG_COOKIE = "lang"
IDLE_SECONDS = 30 * 60
"""A browser session unused this long is forgotten (the engine's login session is 15 minutes)."""
ENGINE: web.AppKey[EngineClient] = web.AppKey("engine", EngineClient)
SESSIONS: web.AppKey[dict[str, BrowserSession]] = web.AppKey("sessions", dict)
PAGES: web.AppKey[jinja2.Environment] = web.AppKey("pages", jinja2.Environment)


@dataclass
class BrowserSession:
    """What one browser has: its current login QR and, after login, the person."""

    challenge: Challenge | None = None
    person: dict[str, str] | None = None
    session_handle: str = field(default="", repr=False)
    last_seen: float = field(default_factory=time.monotonic)


def qr_image(payload: str) -> str:
    """The QR payload as an SVG data URI (segno), for an ``<img>`` that CSS can grey."""
    out = io.BytesIO()
    segno.make(payload, error="m").save(out, kind="svg", scale=6, border=4)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def _lang(request: web.Request) -> str:
    asked = request.query.get("lang") or request.cookies.get(LANG_COOKIE, "nl")
    return asked if asked in LANGUAGES else "nl"


def _session(request: web.Request) -> tuple[str, BrowserSession]:
    sessions = request.app[SESSIONS]
    key = request.get(SESSION_COOKIE) or request.cookies.get(SESSION_COOKIE, "")
    now = time.monotonic()
    if key not in sessions:
        for idle in [k for k, s in sessions.items() if now - s.last_seen > IDLE_SECONDS]:
            del sessions[idle]
        key = secrets.token_urlsafe(32)
        sessions[key] = BrowserSession()
    request[SESSION_COOKIE] = key  # one session per request, even before its cookie is set
    sessions[key].last_seen = now
    return key, sessions[key]


def _render(
    request: web.Request, template: str, status: int = 200, **values: object
) -> web.Response:
    lang = _lang(request)
    key, _ = _session(request)
    html = (
        request.app[PAGES]
        .get_template(template)
        .render(t=TEXTS[lang], lang=lang, other="en" if lang == "nl" else "nl", **values)
    )
    response = web.Response(text=html, status=status, content_type="text/html")
    response.set_cookie(SESSION_COOKIE, key, httponly=True, samesite="Strict")
    response.set_cookie(LANG_COOKIE, lang, samesite="Strict")
    return response


def _refused(request: web.Request, refusal: Refusal) -> web.Response:
    return _render(
        request, "error.html", status=502, code=refusal.code, text=refusal.text(_lang(request))
    )


def _remaining(challenge: Challenge) -> int:
    return max(0, int((challenge.expires_at - datetime.now(UTC)).total_seconds()))


async def index(request: web.Request) -> web.Response:
    """Figure 2: the login QR with its countdown (a fresh one if none or lapsed)."""
    _, session = _session(request)
    if session.person is not None:
        raise web.HTTPFound("/overzicht")
    if session.challenge is None:
        try:
            session.challenge = await request.app[ENGINE].create_login()
        except Refusal as refusal:
            return _refused(request, refusal)
    challenge = session.challenge
    return _render(
        request,
        "index.html",
        payload=challenge.payload,
        image=qr_image(challenge.payload),
        remaining=_remaining(challenge),
        expires_at=challenge.expires_at.isoformat(timespec="seconds"),
    )


async def new_login(request: web.Request) -> web.Response:
    """Figure 3's click: forget the lapsed QR and show a new one."""
    _, session = _session(request)
    session.challenge = None
    raise web.HTTPSeeOther("/")


async def login_status(request: web.Request) -> web.Response:
    """The page's poll: the engine's state of this browser's challenge, as JSON."""
    _, session = _session(request)
    if session.person is not None:
        return web.json_response({"state": "authenticated", "next": "/overzicht"})
    if session.challenge is None:
        return web.json_response({"state": "expired"})
    try:
        status = await request.app[ENGINE].poll_login(session.challenge.challenge_id)
    except Refusal as refusal:
        return web.json_response(
            {"state": "error", "code": refusal.code, "text": refusal.text(_lang(request))}
        )
    if status.state == "authenticated" and status.person is not None:
        session.person, session.session_handle = status.person, status.session_handle
        return web.json_response({"state": "authenticated", "next": "/overzicht"})
    body: dict[str, str] = {"state": status.state}
    if status.state == "refused":
        body |= {"code": status.refusal_code, "text": TEXTS[_lang(request)]["refused"]}
    return web.json_response(body)


async def overview(request: web.Request) -> web.Response:
    """Figure 17: who logged in, as the engine's login status names them."""
    _, session = _session(request)
    if session.person is None:
        raise web.HTTPFound("/")
    return _render(request, "overview.html", person=session.person)


async def logout(request: web.Request) -> web.Response:
    key, _ = _session(request)
    request.app[SESSIONS].pop(key, None)
    raise web.HTTPSeeOther("/")


def make_app(engine: EngineClient) -> web.Application:
    """The portal's routes around one engine client."""
    app = web.Application()
    app[ENGINE] = engine
    app[SESSIONS] = {}
    app[PAGES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    app.router.add_get("/", index)
    app.router.add_post("/login/new", new_login)
    app.router.add_get("/login/status", login_status)
    app.router.add_get("/overzicht", overview)
    app.router.add_post("/logout", logout)
    app.router.add_static("/static", HERE / "static")

    async def close_engine(_: web.Application) -> None:
        await engine.close()

    app.on_cleanup.append(close_engine)
    return app
