"""Manual §2 "Inloggen": the login QR with its countdown, the poll, expiry, the overview."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from issuer.api.zorgid.v1 import login_pb2
from portal import certificates
from portal.engine import Challenge, Refusal
from portal.web import (
    COMPANIONS,
    ENGINE,
    SESSIONS,
    browser_session,
    lang_of,
    logged_in,
    qr_image,
    refused,
    render,
    text,
)


def _remaining(challenge: Challenge) -> int:
    return max(0, int((challenge.expires_at - datetime.now(UTC)).total_seconds()))


async def index(request: web.Request) -> web.Response:
    """Figure 2: the login QR with its countdown (a fresh one if none or lapsed)."""
    _, session = browser_session(request)
    if session.person is not None:
        raise web.HTTPFound("/overzicht")
    if session.challenge is None:
        try:
            session.challenge = await request.app[ENGINE].create_login()
        except Refusal as refusal:
            return refused(request, refusal)
    challenge = session.challenge
    return render(
        request,
        "index.html",
        payload=challenge.payload,
        image=qr_image(challenge.payload),
        remaining=_remaining(challenge),
        expires_at=challenge.expires_at.isoformat(timespec="seconds"),
        mobile_app=request.app[COMPANIONS].mobile(challenge.payload),
    )


async def new_login(request: web.Request) -> web.Response:
    """Figure 3's click: forget the lapsed QR and show a new one."""
    _, session = browser_session(request)
    session.challenge = None
    raise web.HTTPSeeOther("/")


async def login_status(request: web.Request) -> web.Response:
    """The page's poll: the engine's state of this browser's challenge, as JSON."""
    _, session = browser_session(request)
    if session.person is not None:
        return web.json_response({"state": "authenticated", "next": "/overzicht"})
    if session.challenge is None:
        return web.json_response({"state": "expired"})
    try:
        status = await request.app[ENGINE].poll_login(session.challenge.challenge_id)
    except Refusal as refusal:
        return web.json_response(
            {"state": "error", "code": refusal.code, "text": refusal.text(lang_of(request))}
        )
    if status.state == "authenticated" and status.person is not None:
        session.person, session.session_handle = status.person, status.session_handle
        return web.json_response({"state": "authenticated", "next": "/overzicht"})
    body: dict[str, str] = {"state": status.state}
    if status.state == "refused":
        body |= {"code": status.refusal_code, "text": text(request, "refused")}
    return web.json_response(body)


async def overview(request: web.Request) -> web.Response:
    """Figure 17: who logged in, as the engine's login status names them."""
    session = logged_in(request)
    assert session.person is not None
    try:
        listed = await certificates.of_person(
            request.app[ENGINE], session.person["person_id"], session.person["mobile_id"]
        )
    except Refusal as refusal:
        return refused(request, refusal)
    return render(request, "overview.html", person=session.person, certificates=listed)


async def logout(request: web.Request) -> web.Response:
    """Forget this browser's session and end the engine's login session with it."""
    key, session = browser_session(request)
    request.app[SESSIONS].pop(key, None)
    if session.session_handle:
        try:
            await request.app[ENGINE].call(
                request.app[ENGINE].login.EndLoginSession,
                login_pb2.EndLoginSessionRequest(login_session_handle=session.session_handle),
            )
        except Refusal as refusal:
            return refused(request, refusal)
    raise web.HTTPSeeOther("/")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_post("/login/new", new_login)
    app.router.add_get("/login/status", login_status)
    app.router.add_get("/overzicht", overview)
    app.router.add_post("/logout", logout)
