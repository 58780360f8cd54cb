"""The ZORG-ID Mobile App companion: phones, their mobile IDs, and scanning a QR.

``/mobile`` lists the phones (pick the active one, make a new one), shows the active
phone's mobile IDs as the engine now sees them, and takes a QR's payload to scan
(``?scan=`` prefills it: the portal's link stands in for the camera). A login QR asks
"Inloggen bij <portal>?" before the phone answers; a registration QR installs a mobile ID
on a phone that has none. The active phone is remembered per browser in a cookie. The
payload is never logged and is shown only in the field it was pasted into.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web

from devapps import phones
from devapps.phones import Refusal
from devapps.web import WORLD, render

ACTIVE = "mobile_phone"
T = TypeVar("T")

STATES = {
    phones.GOOD: "geldig · valid",
    phones.SUPERSEDED: "vervangen · superseded",
    phones.NOT_GOOD: "ingetrokken of verlopen · revoked or expired",
}


async def _blocking(request: web.Request, work: Callable[..., T], *args: Any) -> T:
    """Run one of :mod:`devapps.phones`' blocking steps off the event loop."""
    return await asyncio.to_thread(work, request.app[WORLD], *args)


def _active(request: web.Request) -> dict[str, Any] | None:
    return phones.find(request.app[WORLD], request.cookies.get(ACTIVE, ""))


def _back_to_app(payload: str, phone_id: str = "") -> web.HTTPSeeOther:
    """Back to ``/mobile``, keeping a scanned payload the way it came (in ``?scan=``)."""
    redirect = web.HTTPSeeOther("/mobile" + (f"?scan={quote(payload, safe='')}" if payload else ""))
    if phone_id:
        redirect.set_cookie(ACTIVE, phone_id, httponly=True, samesite="Lax", path="/mobile")
    return redirect


def _outcome(
    request: web.Request,
    heading: str,
    message: str = "",
    *,
    refusal: Refusal | None = None,
    phone: dict[str, Any] | None = None,
) -> web.Response:
    """How a scan ended: a result in ``role=status``, a refusal (ZID code, both texts) in
    ``role=alert``."""
    return render(
        request,
        "mobile_outcome.html",
        heading=heading,
        message=message,
        refusal=refusal,
        phone=phone,
    )


async def app_page(request: web.Request) -> web.Response:
    """The phones, the active phone's mobile IDs (refreshed from the engine), the scan field."""
    active = _active(request)
    trouble = None
    if active is not None and active["certificates"]:
        trouble = await _blocking(request, phones.refresh, active)
    return _app(request, active, request.query.get("scan", ""), trouble=trouble)


def _app(
    request: web.Request,
    active: dict[str, Any] | None,
    payload: str,
    *,
    trouble: Refusal | None = None,
    notice: str = "",
) -> web.Response:
    return render(
        request,
        "mobile.html",
        phones=phones.phones(request.app[WORLD]),
        active=active,
        ids=phones.mobile_ids(active) if active else [],
        states=STATES,
        trouble=trouble,
        payload=payload,
        notice=notice,
        has_mobile_id=phones.has_mobile_id,
    )


async def new_phone(request: web.Request) -> web.Response:
    """Make a phone (its key on the phones' token) and make it the active one."""
    form = await request.post()
    made = await _blocking(request, phones.create, str(form.get("name", "")))
    raise _back_to_app(str(form.get("scan", "")), made["id"])


async def choose_phone(request: web.Request) -> web.Response:
    form = await request.post()
    chosen = phones.find(request.app[WORLD], str(form.get("phone", "")))
    raise _back_to_app(str(form.get("scan", "")), chosen["id"] if chosen else "")


async def scan(request: web.Request) -> web.Response:
    """What the payload asks: a login (confirm first), a registration (install), or nothing."""
    form = await request.post()
    payload = str(form.get("payload", "")).strip()
    active = _active(request)
    kind = phones.kind(payload)
    if kind == "other":
        return _outcome(
            request,
            "Geen ZORG-ID QR-code · Not a ZORG-ID QR code",
            "Deze QR-code is geen inlog- of registratie-QR van ZORG-ID; de app doet er niets "
            "mee. · This QR code is neither a ZORG-ID login nor a registration QR; the app "
            "does nothing with it.",
        )
    if active is None:
        return _app(
            request,
            None,
            payload,
            notice="Kies eerst een telefoon of maak een nieuwe. · "
            "First pick a phone or make a new one.",
        )
    if kind == "enroll":
        if not phones.has_mobile_id(active):
            return await _install(request, active, payload)
        return _enrol_choice(request, active, payload)
    try:
        asked = await _blocking(request, phones.describe, payload)
    except Refusal as refused:
        return _outcome(request, "Inloggen lukt niet · Login failed", refusal=refused)
    return render(
        request,
        "mobile_login.html",
        asked=asked,
        active=active,
        eligible=[p for p in phones.phones(request.app[WORLD]) if phones.has_mobile_id(p)],
        payload=payload,
        name_of=_mobile_id_name,
    )


def _mobile_id_name(record: dict[str, Any]) -> str:
    shown = phones.mobile_ids(record)
    return f"{shown[0].name} (UZI {shown[0].uzi_number})" if shown else ""


def _enrol_choice(request: web.Request, active: dict[str, Any], payload: str) -> web.Response:
    """The active phone has a mobile ID: offer the phones without one, or a new phone."""
    return render(
        request,
        "mobile_enrol.html",
        active=active,
        eligible=[p for p in phones.phones(request.app[WORLD]) if not phones.has_mobile_id(p)],
        payload=payload,
    )


async def _install(request: web.Request, phone: dict[str, Any], payload: str) -> web.Response:
    try:
        installed = await _blocking(request, phones.redeem, phone, payload)
    except Refusal as refused:
        return _outcome(
            request, "Installeren lukt niet · Installing failed", refusal=refused, phone=phone
        )
    return _outcome(
        request,
        "ID geïnstalleerd · ID installed",
        f"Mobiel ID van {installed.name} (UZI {installed.uzi_number}) staat op {phone['name']} "
        f"(serienummer {installed.serial}). · {installed.name}'s mobile ID is on {phone['name']}.",
        phone=phone,
    )


async def enrol(request: web.Request) -> web.Response:
    """Install on the phone picked on the choice page, or on a new one named there."""
    form = await request.post()
    payload = str(form.get("payload", "")).strip()
    world = request.app[WORLD]
    phone = phones.find(world, str(form.get("phone", "")))
    if phone is None:
        phone = await _blocking(request, phones.create, str(form.get("name", "")))
    response = await _install(request, phone, payload)
    response.set_cookie(ACTIVE, phone["id"], httponly=True, samesite="Lax", path="/mobile")
    return response


async def login(request: web.Request) -> web.Response:
    """Accept (sign and answer the login QR with the picked phone) or decline (no answer)."""
    form = await request.post()
    payload = str(form.get("payload", "")).strip()
    phone = phones.find(request.app[WORLD], str(form.get("phone", "")))
    if form.get("answer") != "accept":
        return _outcome(
            request,
            "Inloggen geweigerd · Login declined",
            "De telefoon antwoordt niet; de portal blijft wachten tot de QR-code verloopt. · "
            "The phone does not answer; the portal waits until the QR code lapses.",
        )
    if phone is None or not phone["certificates"]:
        return _outcome(
            request,
            "Geen mobiel ID · No mobile ID",
            "Kies een telefoon met een mobiel ID. · Pick a phone with a mobile ID.",
        )
    try:
        asked = await _blocking(request, phones.answer, phone, payload)
    except Refusal as refused:
        return _outcome(request, "Inloggen lukt niet · Login failed", refusal=refused, phone=phone)
    return _outcome(
        request,
        f"Ingelogd bij {asked.portal_name} · Logged in",
        "Ga terug naar de portal: die gaat vanzelf verder. · "
        "Go back to the portal: it moves on by itself.",
        phone=phone,
    )


def add_routes(app: web.Application) -> None:
    """The Mobile App's pages under ``/mobile``."""
    app.router.add_get("/mobile", app_page)
    app.router.add_post("/mobile/phones", new_phone)
    app.router.add_post("/mobile/active", choose_phone)
    app.router.add_post("/mobile/scan", scan)
    app.router.add_post("/mobile/enrol", enrol)
    app.router.add_post("/mobile/login", login)
