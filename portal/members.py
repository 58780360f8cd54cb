"""Manual §7 "PIN vergeten", the administrator's side: the members of their organisation,
a reset per member, and the member's new registration QR.

The QR carries a redeemable token: it is rendered into the reset's answer only, never kept
in the session nor logged.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from aiohttp import web

from issuer.api.zorgid.v1 import organization_pb2
from portal.engine import Refusal
from portal.web import COMPANIONS, ENGINE, BrowserSession, logged_in, qr_image, refused, render

STATES = {
    organization_pb2.ADMINISTRATOR_STATE_APPROVED: "member_admin_approved",
    organization_pb2.ADMINISTRATOR_STATE_PENDING: "member_admin_pending",
}
"""A member's administrator state, as the key of its text (others: not an administrator)."""


async def list_members(request: web.Request, session: BrowserSession) -> list[Any]:
    """ListMembers as this administrator (a non-administrator: the engine's refusal)."""
    engine = request.app[ENGINE]
    listed = await engine.call(
        engine.organization.ListMembers,
        organization_pb2.ListMembersRequest(login_session_handle=session.session_handle),
    )
    return list(listed.members)


async def members(request: web.Request) -> web.Response:
    """The administrator's members, each with "PIN vergeten: herstellen"."""
    session = logged_in(request)
    try:
        listed = await list_members(request, session)
    except Refusal as refusal:
        return refused(request, refusal, back="/overzicht")
    return render(request, "members.html", members=listed, states=STATES)


async def confirm_reset(request: web.Request) -> web.Response:
    """The member to reset, named, before anything is revoked."""
    session = logged_in(request)
    person_id, ura = request.query.get("person", ""), request.query.get("ura", "")
    try:
        listed = await list_members(request, session)
    except Refusal as refusal:
        return refused(request, refusal, back="/overzicht")
    member = next((m for m in listed if m.person_id == person_id and m.ura == ura), None)
    return render(request, "members_reset.html", member=member)


async def reset(request: web.Request) -> web.Response:
    """ResetMember: the member's certificates revoked, their new registration QR shown once."""
    session = logged_in(request)
    form = await request.post()
    engine = request.app[ENGINE]
    try:
        done = await engine.call(
            engine.organization.ResetMember,
            organization_pb2.ResetMemberRequest(
                login_session_handle=session.session_handle,
                person_id=str(form.get("person_id", "")),
                ura=str(form.get("ura", "")),
            ),
        )
    except Refusal as refusal:
        return refused(request, refusal, back="/medewerkers")
    until = done.qr_expires_at.ToDatetime(tzinfo=UTC)
    return render(
        request,
        "members_qr.html",
        name=str(form.get("name", "")),
        revoked=[c.serial for c in done.revoked],
        payload=done.qr.payload,
        image=qr_image(done.qr.payload),
        valid_until=until.astimezone().strftime("%d-%m-%Y %H:%M %Z"),
        valid_until_iso=until.isoformat(timespec="seconds"),
        mobile_app=request.app[COMPANIONS].mobile(done.qr.payload),
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/medewerkers", members)
    app.router.add_get("/medewerkers/herstellen", confirm_reset)
    app.router.add_post("/medewerkers/herstellen", reset)
