"""Manual §6 "Smartcard aanmaken": a ZORG-ID smartcard for the logged-in person.

The portal asks the engine for a card ticket (``StartSmartcard``) and keeps it: the page
shows only a connection code, and the Desktop App, given the link
``<portal>card-link/<code>``, reads what the card must hold (``GET``) and sends one CSR
per slot made on the card (``POST``); the portal redeems the ticket with them
(``RedeemSmartcard``) and returns the certificates for the Desktop App to write. The
ticket never leaves this process; the code is single-use in effect (the engine issues
one set per ticket) and lapses with the ticket.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from issuer.api.zorgid.v1 import smartcard_pb2
from portal.engine import Refusal
from portal.links import connect_url, new_code, normal, shown
from portal.web import (
    COMPANIONS,
    ENGINE,
    browser_session,
    explained,
    lang_of,
    logged_in,
    refused,
    render,
    text,
)

SLOTS = {
    "authentication": smartcard_pb2.SMARTCARD_SLOT_AUTHENTICATION,
    "non-repudiation": smartcard_pb2.SMARTCARD_SLOT_NON_REPUDIATION,
    "encryption": smartcard_pb2.SMARTCARD_SLOT_ENCRYPTION,
}
"""The card's slots by the name the Desktop App protocol uses (as on the card itself)."""
SLOT_NAMES = {number: name for name, number in SLOTS.items()}
REQUIRED = ("authentication",)
OPTIONAL = ("non-repudiation", "encryption")
"""The engine requires the authentication slot; the others it issues when asked."""
STATES = {
    smartcard_pb2.SMARTCARD_STATE_ISSUING: "issuing",
    smartcard_pb2.SMARTCARD_STATE_ACTIVE: "active",
    smartcard_pb2.SMARTCARD_STATE_REVOKED: "revoked",
    smartcard_pb2.SMARTCARD_STATE_SUPERSEDED: "superseded",
}


@dataclass
class CardLink:
    """One card being made: the engine's ticket (kept here only) and how far it got."""

    code: str = field(repr=False)
    ticket: str = field(repr=False)
    expires_at: datetime
    holder: str
    state: str = "waiting"
    """waiting -> connected (the Desktop App read it) -> issued, or refused."""
    card_id: str = ""
    refusal: Refusal | None = None

    def lapsed(self) -> bool:
        return self.state in ("waiting", "connected") and datetime.now(UTC) >= self.expires_at


CARD_LINKS: web.AppKey[dict[str, CardLink]] = web.AppKey("card_links", dict)


def _link_of(request: web.Request) -> CardLink | None:
    """This browser's card being made (none when logged out: the poll then says expired)."""
    _, session = browser_session(request)
    code = session.flow("smartcard").get("code", "") if session.person else ""
    return request.app[CARD_LINKS].get(code)


async def start(request: web.Request) -> web.Response:
    """ "Smartcard aanmaken": a ticket for the logged-in person, then the waiting page."""
    session = logged_in(request)
    try:
        made = await request.app[ENGINE].call(
            request.app[ENGINE].smartcard.StartSmartcard,
            smartcard_pb2.StartSmartcardRequest(login_session_handle=session.session_handle),
        )
    except Refusal as refusal:
        return refused(request, refusal, back="/overzicht")
    links = request.app[CARD_LINKS]
    for old in [c for c, link in links.items() if link.lapsed()]:
        del links[old]
    code = new_code()
    person = session.person or {}
    links[code] = CardLink(
        code=code,
        ticket=made.ticket,
        expires_at=made.expires_at.ToDatetime(tzinfo=UTC),
        holder=person.get("common_name", ""),
    )
    session.flow("smartcard")["code"] = code
    raise web.HTTPSeeOther("/smartcard/aanmaken")


async def waiting(request: web.Request) -> web.Response:
    """Figure: the connection code and the link to the Desktop App, while the card is made."""
    logged_in(request)
    link = _link_of(request)
    if link is None:
        raise web.HTTPFound("/overzicht")
    connect = connect_url(request, "card-link", link.code)
    remaining = max(0, int((link.expires_at - datetime.now(UTC)).total_seconds()))
    return render(
        request,
        "smartcard_start.html",
        code=shown(link.code),
        connect_url=connect,
        desktop_app=request.app[COMPANIONS].desktop_card(connect),
        remaining=remaining,
        expires_at=link.expires_at.isoformat(timespec="seconds"),
    )


async def status(request: web.Request) -> web.Response:
    """The waiting page's poll: how far the card got, in the page's language."""
    link = _link_of(request)
    if link is None or link.lapsed():
        return web.json_response({"state": "expired", "text": text(request, "sc_expired")})
    if link.state == "refused" and link.refusal is not None:
        return web.json_response(
            {
                "state": "refused",
                "text": link.refusal.text(lang_of(request)),
                **explained(request, link.refusal),
            }
        )
    if link.state == "issued":
        return web.json_response({"state": "issued", "next": "/smartcard/klaar"})
    return web.json_response({"state": link.state, "text": text(request, f"sc_{link.state}")})


async def _cards(request: web.Request) -> list[dict[str, Any]]:
    """The person's cards as the engine lists them, newest first, for a template."""
    session = logged_in(request)
    listed = await request.app[ENGINE].call(
        request.app[ENGINE].smartcard.ListSmartcards,
        smartcard_pb2.ListSmartcardsRequest(login_session_handle=session.session_handle),
    )
    cards = []
    for card in reversed(listed.cards):
        cards.append(
            {
                "id": card.id,
                "state": STATES.get(card.state, "issuing"),
                "created_at": card.created_at.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M"),
                "certificates": [
                    {
                        "slot": SLOT_NAMES.get(item.slot, "authentication"),
                        "serial": item.certificate.serial,
                        "not_after": item.certificate.not_after.ToDatetime(tzinfo=UTC).strftime(
                            "%Y-%m-%d"
                        ),
                    }
                    for item in sorted(card.certificates, key=lambda c: int(c.slot))
                ],
            }
        )
    return cards


async def done(request: web.Request) -> web.Response:
    """The card made: as the engine now lists it (active), with its certificates."""
    link = _link_of(request)
    try:
        cards = await _cards(request)
    except Refusal as refusal:
        return refused(request, refusal, back="/overzicht")
    card_id = link.card_id if link is not None else ""
    made = next((c for c in cards if c["id"] == card_id), None)
    return render(request, "smartcard_done.html", card=made, cards=cards)


async def cards_block(request: web.Request) -> web.Response:
    """The overview's "Mijn smartcards" block (HTML the overview page loads into itself)."""
    _, session = browser_session(request)
    if session.person is None:
        raise web.HTTPUnauthorized()
    try:
        cards = await _cards(request)
    except Refusal as refusal:
        why = explained(request, refusal)
        return render(
            request,
            "smartcard_cards.html",
            cards=[],
            code=why["code"],
            cause=why["cause"],
            help=why["help"],
        )
    return render(request, "smartcard_cards.html", cards=cards, code="")


def _linked(request: web.Request) -> CardLink:
    """The card link of the URL's code; an unknown or lapsed one is a JSON 404."""
    link = request.app[CARD_LINKS].get(normal(request.match_info["code"]))
    if link is None or link.lapsed():
        raise web.HTTPNotFound(
            text='{"state": "expired", "code": "", "texts": {}}', content_type="application/json"
        )
    return link


async def link_info(request: web.Request) -> web.Response:
    """The Desktop App asks what the card must hold: the slots, the holder, until when."""
    link = _linked(request)
    if link.state == "waiting":
        link.state = "connected"
    return web.json_response(
        {
            "portal": f"{request.url.origin()}/",
            "holder": link.holder,
            "slots": {"required": list(REQUIRED), "optional": list(OPTIONAL)},
            "expires_at": link.expires_at.isoformat(timespec="seconds"),
        }
    )


def _csrs(body: object) -> list[smartcard_pb2.SlotCsr] | None:
    """The request's CSRs by slot, or None when the body is not ``{"csrs": {slot: b64}}``."""
    csrs = body.get("csrs") if isinstance(body, dict) else None
    if not isinstance(csrs, dict) or not csrs:
        return None
    made = []
    for slot, value in csrs.items():
        if slot not in SLOTS or not isinstance(value, str):
            return None
        try:
            der = base64.b64decode(value, validate=True)
        except binascii.Error:
            return None
        made.append(smartcard_pb2.SlotCsr(slot=SLOTS[slot], csr=der))
    return made


async def link_redeem(request: web.Request) -> web.Response:
    """The Desktop App sends the card's CSRs; the portal redeems the ticket with them."""
    link = _linked(request)
    try:
        body = await request.json()
    except ValueError:
        body = None
    csrs = _csrs(body)
    if csrs is None:
        names = ", ".join(SLOTS)
        return web.json_response(
            {
                "state": "invalid",
                "text": f'expected {{"csrs": {{slot: base64 DER}}}}, slots {names}',
            },
            status=400,
        )
    engine = request.app[ENGINE]
    try:
        issued = await engine.call(
            engine.smartcard.RedeemSmartcard,
            smartcard_pb2.RedeemSmartcardRequest(ticket=link.ticket, csrs=csrs),
        )
    except Refusal as refusal:
        link.state, link.refusal = "refused", refusal
        return web.json_response(
            {"state": "refused", "code": refusal.code, "texts": refusal.texts}, status=400
        )
    link.state, link.card_id, link.refusal = "issued", issued.card_id, None
    return web.json_response(
        {
            "state": "issued",
            "card_id": issued.card_id,
            "certificates": {
                SLOT_NAMES[item.slot]: base64.b64encode(item.certificate.der).decode()
                for item in issued.certificates
            },
            "chain": [base64.b64encode(der).decode() for der in issued.chain],
        }
    )


def add_routes(app: web.Application) -> None:
    app[CARD_LINKS] = {}
    app.router.add_post("/smartcard/start", start)
    app.router.add_get("/smartcard/aanmaken", waiting)
    app.router.add_get("/smartcard/status", status)
    app.router.add_get("/smartcard/klaar", done)
    app.router.add_get("/smartcard/kaarten", cards_block)
    app.router.add_get("/card-link/{code}", link_info)
    app.router.add_post("/card-link/{code}", link_redeem)
