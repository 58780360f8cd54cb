"""Manual §4 "Organisatie valideren": terms and URA, the UZI-pas step, the organisation's
name and URA, confirm; then administrator at once, or waiting for approval -- which an
approved administrator of the URA gives here too.

The flow's state lives in ``session.flow("organisation")``: the accepted terms version and
URA, then the engine's validation (id, name, URA, card holder), then its outcome. The UZI
session handle is used once, on arrival from the UZI-pas step, and forgotten at once.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from issuer.api.zorgid.v1 import organization_pb2, registration_pb2
from portal.engine import Refusal
from portal.members import list_members
from portal.web import (
    ENGINE,
    BrowserSession,
    logged_in,
    refused,
    render,
)

FLOW = "organisation"
UZI_STEP = "/uzi/organisatie"
PURPOSE = "organisatie"
"""The slug the UZI-pas step gives its proof for this flow (``UziProof.purpose``)."""

APPROVED = organization_pb2.ADMINISTRATOR_STATE_APPROVED
PENDING = organization_pb2.ADMINISTRATOR_STATE_PENDING
PENDING_CODE = "ZID-1830"
"""ListMembers' refusal for a requester still waiting: the status check reads it as pending."""


async def start(request: web.Request) -> web.Response:
    """Figure 18: the terms (GetTerms) to accept and the URA to validate."""
    session = logged_in(request)
    engine = request.app[ENGINE]
    try:
        terms = await engine.call(engine.registration.GetTerms, registration_pb2.GetTermsRequest())
    except Refusal as refusal:
        return refused(request, refusal, back="/overzicht")
    assert session.person is not None
    return render(
        request,
        "organisation_start.html",
        terms_version=terms.version,
        terms_text=terms.text,
        ura=session.flow(FLOW).get("ura") or session.person.get("ura", ""),
        missing_accept=request.query.get("accept") == "missing",
    )


async def accept(request: web.Request) -> web.Response:
    """Figure 18's button: remember the accepted terms and URA, then prove the UZI-pas."""
    session = logged_in(request)
    form = await request.post()
    ura = str(form.get("ura", "")).strip()
    if form.get("accept") != "yes":
        raise web.HTTPSeeOther("/organisatie?accept=missing")
    session.flows[FLOW] = {"terms_version": str(form.get("terms_version", "")), "ura": ura}
    session.uzi = None  # a proof of an earlier step is not this one's
    raise web.HTTPSeeOther(UZI_STEP)


async def details(request: web.Request) -> web.Response:
    """Figure 20: StartValidation with the proven UZI-pas; the organisation's name and URA."""
    session = logged_in(request)
    flow = session.flow(FLOW)
    proof = session.uzi
    if proof is not None and proof.purpose == PURPOSE:
        session.uzi = None  # the handle is good for one call: never offered twice
        engine = request.app[ENGINE]
        try:
            started = await engine.call(
                engine.organization.StartValidation,
                organization_pb2.StartValidationRequest(
                    terms_version=flow.get("terms_version", ""),
                    uzi_session_handle=proof.handle,
                    ura=flow.get("ura", ""),
                ),
            )
        except Refusal as refusal:
            session.flows.pop(FLOW, None)
            return refused(request, refusal, back="/organisatie")
        flow["validation"] = {
            "id": started.validation_id,
            "name": started.organization.name,
            "ura": started.organization.ura,
            "holder": started.identity.common_name,
            "uzi_number": started.identity.uzi_number,
        }
        flow.pop("outcome", None)
    if "validation" not in flow:
        raise web.HTTPFound("/organisatie")
    return render(request, "organisation_details.html", validation=flow["validation"])


async def confirm(request: web.Request) -> web.Response:
    """Figure 21's button: ConfirmValidation, which records the request to administer."""
    session = logged_in(request)
    flow = session.flow(FLOW)
    validation = flow.get("validation")
    if validation is None:
        raise web.HTTPSeeOther("/organisatie")
    engine = request.app[ENGINE]
    try:
        done = await engine.call(
            engine.organization.ConfirmValidation,
            organization_pb2.ConfirmValidationRequest(validation_id=validation["id"]),
        )
    except Refusal as refusal:
        return refused(request, refusal, back="/organisatie")
    flow["outcome"] = {
        "approved": done.state == APPROVED,
        "name": done.organization.name,
        "ura": done.organization.ura,
        "mobile_id": done.mobile_id,
        "uzi_number": validation["uzi_number"],
    }
    raise web.HTTPSeeOther("/organisatie/resultaat")


async def result(request: web.Request) -> web.Response:
    """Figures 22-23: administrator (naming the mobile ID) or waiting for approval; a
    revisit of a pending request asks the engine again (ListMembers answers ZID-1830
    while it waits)."""
    session = logged_in(request)
    outcome = session.flow(FLOW).get("outcome")
    if outcome is None:
        raise web.HTTPFound("/organisatie")
    if not outcome["approved"]:
        try:
            outcome["approved"] = await _approved(request, session, outcome)
        except Refusal as refusal:
            if refusal.code != PENDING_CODE:
                return refused(request, refusal, back="/overzicht")
    assert session.person is not None
    return render(
        request,
        "organisation_result.html",
        outcome=outcome,
        own_mobile_id=outcome["mobile_id"] == session.person.get("mobile_id"),
    )


async def _approved(request: web.Request, session: BrowserSession, outcome: dict[str, Any]) -> bool:
    """Whether the engine now lists this person as an approved administrator of the URA."""
    for member in await list_members(request, session):
        if (
            member.ura == outcome["ura"]
            and member.uzi_number == outcome["uzi_number"]
            and member.administrator_state == APPROVED
        ):
            return True
    return False


async def requests(request: web.Request) -> web.Response:
    """Figure 24: an administrator sees the pending requests of their URA(s) to approve."""
    session = logged_in(request)
    try:
        members = await list_members(request, session)
    except Refusal as refusal:
        return refused(request, refusal, back="/overzicht")
    pending = [m for m in members if m.administrator_state == PENDING]
    approved = session.flow(FLOW).pop("approved_notice", None)
    return render(request, "organisation_requests.html", pending=pending, approved=approved)


async def approve(request: web.Request) -> web.Response:
    """Figure 25: ApproveAdministrator with this administrator's login session."""
    session = logged_in(request)
    form = await request.post()
    engine = request.app[ENGINE]
    try:
        done = await engine.call(
            engine.organization.ApproveAdministrator,
            organization_pb2.ApproveAdministratorRequest(
                ura=str(form.get("ura", "")),
                uzi_number=str(form.get("uzi_number", "")),
                login_session_handle=session.session_handle,
            ),
        )
    except Refusal as refusal:
        return refused(request, refusal, back="/organisatie/verzoeken")
    session.flow(FLOW)["approved_notice"] = {
        "name": str(form.get("name", "")),
        "organisation": done.organization.name,
    }
    raise web.HTTPSeeOther("/organisatie/verzoeken")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/organisatie", start)
    app.router.add_post("/organisatie/voorwaarden", accept)
    app.router.add_get("/organisatie/gegevens", details)
    app.router.add_post("/organisatie/bevestigen", confirm)
    app.router.add_get("/organisatie/resultaat", result)
    app.router.add_get("/organisatie/verzoeken", requests)
    app.router.add_post("/organisatie/verzoeken/goedkeuren", approve)
