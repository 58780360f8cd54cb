"""What every screen shares: the browser session, the page renderer and the refusal page.

A browser session (a random cookie) holds what this browser did so far: its login QR,
the person once logged in, a proven UZI-pas, and each flow's own state under
``BrowserSession.flows[name]``; nothing of it leaves this process.
"""

from __future__ import annotations

import base64
import io
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jinja2
import segno
from aiohttp import web

from portal.catalogue import lookup
from portal.engine import Challenge, EngineClient, Refusal
from portal.texts import LANGUAGES, TEXTS

SESSION_COOKIE = "portal_session"
LANG_COOKIE = "lang"
IDLE_SECONDS = 30 * 60
"""A browser session unused this long is forgotten (the engine's login session is 15 minutes)."""


@dataclass
class UziProof:
    """A UZI-pas the desktop app proved for this browser: the engine's one-use session
    handle for ``purpose`` and the card's identity to show."""

    purpose: str
    handle: str = field(repr=False)
    identity: dict[str, str]


@dataclass
class BrowserSession:
    """What one browser has: its login QR, the person after login, a proven UZI-pas, and
    per flow a dict of that flow's own state."""

    challenge: Challenge | None = None
    person: dict[str, str] | None = None
    session_handle: str = field(default="", repr=False)
    uzi: UziProof | None = None
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_seen: float = field(default_factory=time.monotonic)

    def flow(self, name: str) -> dict[str, Any]:
        """The state of one flow (``registration``, ``organisation``, ...), made on first use."""
        return self.flows.setdefault(name, {})


@dataclass(frozen=True)
class Companions:
    """Where the development stand-ins for the outside world answer (``--companions``):
    links to them are shown beside the QR and the UZI-pas and smartcard steps. Empty in
    production: then every link is empty."""

    base_url: str = ""

    def _link(self, page: str, key: str, value: str) -> str:
        return f"{self.base_url}{page}?{key}={_quote(value)}" if self.base_url else ""

    def mobile(self, payload: str) -> str:
        return self._link("mobile", "scan", payload)

    def desktop(self, connect_url: str) -> str:
        return self._link("desktop", "connect", connect_url)

    def desktop_card(self, connect_url: str) -> str:
        return self._link("desktop/smartcard", "connect", connect_url)


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


ENGINE: web.AppKey[EngineClient] = web.AppKey("engine", EngineClient)
SESSIONS: web.AppKey[dict[str, BrowserSession]] = web.AppKey("sessions", dict)
PAGES: web.AppKey[jinja2.Environment] = web.AppKey("pages", jinja2.Environment)
COMPANIONS: web.AppKey[Companions] = web.AppKey("companions", Companions)


def qr_image(payload: str) -> str:
    """The QR payload as an SVG data URI (segno), for an ``<img>`` that CSS can grey."""
    out = io.BytesIO()
    segno.make(payload, error="m").save(out, kind="svg", scale=6, border=4)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def lang_of(request: web.Request) -> str:
    asked = request.query.get("lang") or request.cookies.get(LANG_COOKIE, "nl")
    return asked if asked in LANGUAGES else "nl"


def text(request: web.Request, key: str) -> str:
    """One text in the request's language."""
    return TEXTS[lang_of(request)][key]


def browser_session(request: web.Request) -> tuple[str, BrowserSession]:
    """This browser's session (a new one if its cookie is unknown); idle ones are forgotten."""
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


def logged_in(request: web.Request) -> BrowserSession:
    """The session of a logged-in person; otherwise to the login page."""
    _, session = browser_session(request)
    if session.person is None:
        raise web.HTTPFound("/")
    return session


def render(
    request: web.Request, template: str, status: int = 200, **values: object
) -> web.Response:
    """A page in the request's language, with the session and language cookies set."""
    lang = lang_of(request)
    key, session = browser_session(request)
    html = (
        request.app[PAGES]
        .get_template(template)
        .render(
            t=TEXTS[lang],
            lang=lang,
            other="en" if lang == "nl" else "nl",
            signed_in=session.person is not None,
            **values,
        )
    )
    response = web.Response(text=html, status=status, content_type="text/html")
    response.set_cookie(SESSION_COOKIE, key, httponly=True, samesite="Strict")
    response.set_cookie(LANG_COOKIE, lang, samesite="Strict")
    return response


def explained(request: web.Request, refusal: Refusal) -> dict[str, str]:
    """A refusal for a page: code, cause and solution from the engine's catalogue (the
    refusal's own text as the cause while the portal has no catalogue), and its entry on
    the Probleemoplossing page."""
    lang = lang_of(request)
    entry = lookup(request.app, refusal.code)
    cause = entry.cause(lang) if entry else refusal.text(lang)
    solution = entry.solution(lang) if entry else ""
    help_url = f"/problemen#{refusal.code}" if refusal.code.startswith("ZID-") else "/problemen"
    return {"code": refusal.code, "cause": cause, "solution": solution, "help": help_url}


def refused(request: web.Request, refusal: Refusal, *, back: str = "/") -> web.Response:
    """The engine's refusal as a page: its code, cause and solution in the page's language.

    A ZID refusal is the page answering the person's step (200, as a form shows its own
    errors): a 4xx document is a console error in the browser, which the tests forbid."""
    return render(
        request,
        "error.html",
        status=200 if refusal.code.startswith("ZID-") else 502,
        text=refusal.text(lang_of(request)),
        back=back,
        **explained(request, refusal),
    )


def refusal_json(request: web.Request, refusal: Refusal) -> web.Response:
    """The engine's refusal for a page's poll: its code and its text in the page's language
    (and, apart, cause, solution and the link to its entry)."""
    return web.json_response(
        {"state": "refused", "text": refusal.text(lang_of(request)), **explained(request, refusal)}
    )
