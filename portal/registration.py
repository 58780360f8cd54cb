"""Manual §3 "Registreren": terms, UZI-pas, card data, date of birth, summary, the QR.

The state lives in ``session.flow("registration")``: the accepted terms version, then the
engine's registration (its id, the card data, the summary digest) and, once confirmed, the
registration QR, which the page shows until the phone redeems it. Every engine refusal is
shown on the step it belongs to, with its code and text in the page's language.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from issuer.api.zorgid.v1 import registration_pb2
from portal.engine import Refusal
from portal.uzi_step import identity_of
from portal.web import COMPANIONS, ENGINE, browser_session, lang_of, qr_image, render

FLOW = "registration"
LOCAL = ZoneInfo("Europe/Amsterdam")
"""Dates are shown as the Dutch reader's clock says them."""

_STATES = {
    registration_pb2.REGISTRATION_STATE_STARTED: "started",
    registration_pb2.REGISTRATION_STATE_DATA_ENTERED: "data_entered",
    registration_pb2.REGISTRATION_STATE_CONFIRMED: "confirmed",
    registration_pb2.REGISTRATION_STATE_REDEEMED: "redeemed",
    registration_pb2.REGISTRATION_STATE_CANCELLED: "cancelled",
    registration_pb2.REGISTRATION_STATE_EXPIRED: "expired",
}


def _flow(request: web.Request) -> dict[str, Any]:
    _, session = browser_session(request)
    return session.flow(FLOW)


def _shown_date(when: datetime) -> str:
    return when.astimezone(LOCAL).strftime("%d-%m-%Y %H:%M")


def _iso_to_dutch(iso: str) -> str:
    """``1980-04-23`` as ``23-04-1980`` (the form people type and read)."""
    year, month, day = iso.split("-")
    return f"{day}-{month}-{year}"


def _remember(flow: dict[str, Any], registration: Any) -> None:
    """What the next pages show of the engine's registration."""
    flow["id"] = registration.id
    flow["identity"] = identity_of(registration)
    flow["organization_name"] = registration.organization_name
    flow["birth_date"] = registration.birth_date
    flow["summary_digest"] = registration.summary_digest


def _refusal(request: web.Request, refusal: Refusal) -> dict[str, str]:
    return {"code": refusal.code, "text": refusal.text(lang_of(request))}


def _require(flow: dict[str, Any], *keys: str) -> None:
    """A step reached out of order goes back to the start of §3."""
    if any(not flow.get(key) for key in keys):
        raise web.HTTPFound("/registreren")


async def terms(request: web.Request) -> web.Response:
    """Figure 5: the policy's terms, their version, and "Ik ga akkoord"."""
    engine = request.app[ENGINE]
    try:
        got = await engine.call(engine.registration.GetTerms, registration_pb2.GetTermsRequest())
    except Refusal as refusal:
        return render(request, "registration_refused.html", refusal=_refusal(request, refusal))
    return render(
        request,
        "registration_terms.html",
        version=got.version,
        terms=got.text.strip(),
        missing=request.query.get("akkoord") == "nee",
    )


async def accept_terms(request: web.Request) -> web.Response:
    """ "Volgende" with the box ticked: on to the UZI-pas step; unticked: the terms again."""
    form = await request.post()
    if form.get("akkoord") != "ja":
        raise web.HTTPSeeOther("/registreren?akkoord=nee")
    _, session = browser_session(request)
    session.flows[FLOW] = {"terms_version": str(form.get("terms_version", ""))}
    if session.uzi is not None:
        session.uzi = None  # a new registration proves the card anew
    raise web.HTTPSeeOther("/uzi/registratie")


async def card_data(request: web.Request) -> web.Response:
    """Figure 9: StartRegistration with the proven UZI-pas; the card's data."""
    _, session = browser_session(request)
    flow = session.flow(FLOW)
    _require(flow, "terms_version")
    proof = session.uzi
    if proof is not None and proof.purpose == "registratie":
        session.uzi = None  # the handle is used once, whatever the engine says
        engine = request.app[ENGINE]
        try:
            started = await engine.call(
                engine.registration.StartRegistration,
                registration_pb2.StartRegistrationRequest(
                    terms_version=flow["terms_version"], uzi_session_handle=proof.handle
                ),
            )
        except Refusal as refusal:
            flow.pop("id", None)
            flow["refused"] = {"code": refusal.code, "texts": refusal.texts}
            flow["identity"] = proof.identity
        else:
            flow.pop("refused", None)
            _remember(flow, started.registration)
    if flow.get("refused"):  # kept, so a reload or the other language shows it again
        kept = Refusal(flow["refused"]["code"], flow["refused"]["texts"])
        return render(
            request,
            "registration_refused.html",
            refusal=_refusal(request, kept),
            identity=flow["identity"],
        )
    if not flow.get("id"):
        raise web.HTTPFound("/uzi/registratie")
    return render(
        request,
        "registration_card.html",
        identity=flow["identity"],
        organization_name=flow["organization_name"],
    )


async def birth_date(request: web.Request) -> web.Response:
    """Figures 10-11: the date of birth, typed dd-mm-jjjj or picked in the calendar."""
    flow = _flow(request)
    _require(flow, "id")
    typed = _iso_to_dutch(flow["birth_date"]) if flow.get("birth_date") else ""
    return render(request, "registration_birth.html", typed=typed, refusal=None)


async def set_birth_date(request: web.Request) -> web.Response:
    """SetBirthDate; the engine's refusal shown beside the field."""
    flow = _flow(request)
    _require(flow, "id")
    form = await request.post()
    picked = str(form.get("birth_date_picker", "")).strip()
    typed = str(form.get("birth_date", "")).strip() or (_iso_to_dutch(picked) if picked else "")
    engine = request.app[ENGINE]
    try:
        shown = await engine.call(
            engine.registration.SetBirthDate,
            registration_pb2.SetBirthDateRequest(registration_id=flow["id"], birth_date=typed),
        )
    except Refusal as refusal:
        return render(
            request, "registration_birth.html", typed=typed, refusal=_refusal(request, refusal)
        )
    _remember(flow, shown.registration)
    raise web.HTTPSeeOther("/registreren/samenvatting")


async def summary(request: web.Request) -> web.Response:
    """Figure 12: what will be frozen, with "Bevestigen"."""
    flow = _flow(request)
    _require(flow, "id", "summary_digest")
    return render(
        request,
        "registration_summary.html",
        identity=flow["identity"],
        organization_name=flow["organization_name"],
        birth_date=_iso_to_dutch(flow["birth_date"]),
        refusal=None,
    )


async def confirm(request: web.Request) -> web.Response:
    """ "Bevestigen" (figure 13 spins meanwhile): ConfirmRegistration quoting the digest."""
    flow = _flow(request)
    _require(flow, "id", "summary_digest")
    engine = request.app[ENGINE]
    try:
        done = await engine.call(
            engine.registration.ConfirmRegistration,
            registration_pb2.ConfirmRegistrationRequest(
                registration_id=flow["id"], summary_digest=flow["summary_digest"]
            ),
        )
    except Refusal as refusal:
        if _wants_json(request):
            return web.json_response({"state": "refused"} | _refusal(request, refusal))
        return render(
            request,
            "registration_summary.html",
            identity=flow["identity"],
            organization_name=flow["organization_name"],
            birth_date=_iso_to_dutch(flow["birth_date"]),
            refusal=_refusal(request, refusal),
        )
    flow["qr"] = done.qr.payload
    flow["qr_expires_at"] = done.registration.qr_expires_at.ToDatetime(tzinfo=UTC)
    if _wants_json(request):
        return web.json_response({"state": "confirmed", "next": "/registreren/qr"})
    raise web.HTTPSeeOther("/registreren/qr")


def _wants_json(request: web.Request) -> bool:
    """The summary page's script confirms by fetch (its spinner stays live meanwhile)."""
    return request.headers.get("Accept", "").startswith("application/json")


async def registration_qr(request: web.Request) -> web.Response:
    """Figure 14: the registration QR, valid 10 days; take a screenshot of it."""
    flow = _flow(request)
    _require(flow, "id", "qr")
    return render(
        request,
        "registration_qr.html",
        payload=flow["qr"],
        image=qr_image(flow["qr"]),
        valid_until=_shown_date(flow["qr_expires_at"]),
        mobile_app=request.app[COMPANIONS].mobile(flow["qr"]),
    )


async def registration_status(request: web.Request) -> web.Response:
    """The QR page's poll: GetRegistration until the phone has redeemed the QR."""
    flow = _flow(request)
    if not flow.get("id"):
        return web.json_response({"state": "unknown"})
    if flow.get("redeemed"):
        return web.json_response({"state": "redeemed", "next": "/registreren/klaar"})
    engine = request.app[ENGINE]
    try:
        got = await engine.call(
            engine.registration.GetRegistration,
            registration_pb2.GetRegistrationRequest(registration_id=flow["id"]),
        )
    except Refusal as refusal:
        return web.json_response({"state": "refused"} | _refusal(request, refusal))
    state = _STATES.get(got.registration.state, "confirmed")
    if state == "redeemed":
        flow["redeemed"] = True
        return web.json_response({"state": state, "next": "/registreren/klaar"})
    return web.json_response({"state": state})


async def installed(request: web.Request) -> web.Response:
    """Figure 15: "ID geïnstalleerd", with "Inloggen"."""
    _, session = browser_session(request)
    flow = session.flow(FLOW)
    _require(flow, "redeemed")
    identity = flow["identity"]
    session.flows.pop(FLOW, None)  # the registration is done; the QR is no longer shown
    return render(request, "registration_done.html", identity=identity)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/registreren", terms)
    app.router.add_post("/registreren", accept_terms)
    app.router.add_get("/registreren/gegevens", card_data)
    app.router.add_get("/registreren/geboortedatum", birth_date)
    app.router.add_post("/registreren/geboortedatum", set_birth_date)
    app.router.add_get("/registreren/samenvatting", summary)
    app.router.add_post("/registreren/bevestigen", confirm)
    app.router.add_get("/registreren/qr", registration_qr)
    app.router.add_get("/registreren/status", registration_status)
    app.router.add_get("/registreren/klaar", installed)
