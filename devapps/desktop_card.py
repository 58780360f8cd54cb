"""The Desktop App's smartcard side (manual §6): a blank card, keys on it, certificates on it.

The portal's "Smartcard aanmaken" page links here with ``?connect=<portal>card-link/<code>``.
The page reads what the card must hold from that link, "Lege smartcard plaatsen" makes a
blank card (a SoftHSM token of its own, :class:`testkit.smartcard.SmartCard`), and
accepting makes an RSA key and a CSR per slot ON the card, sends the CSRs to the link and
writes the certificates the portal returns onto the card, beside their keys. The page
then shows the certificates as read back from the card.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp import web

from devapps.web import WORLD, render
from testkit.smartcard import SLOTS, CardApp, CardSlot, SmartCard

BY_LABEL = {slot.label: slot for slot in SLOTS}
"""The card's slots by the name the portal's card link uses."""
CARDS: web.AppKey[dict[str, CardApp]] = web.AppKey("smartcards", dict)
"""The cards inserted in this Desktop App (this process), by token label."""
SLOT_NAMES = {
    "authentication": "Authenticatie",
    "non-repudiation": "Handtekening",
    "encryption": "Versleuteling",
}


def _connect(value: str) -> str:
    """The portal's card link from the query or form; anything else is a 400."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or "/card-link/" not in parts.path:
        raise web.HTTPBadRequest(text="connect: expected the portal's http(s) .../card-link/<code>")
    return value


async def _portal_json(
    method: str, url: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    """One JSON call to the portal's card link: (HTTP status, body)."""
    timeout = aiohttp.ClientTimeout(total=60)
    async with (
        aiohttp.ClientSession(timeout=timeout) as client,
        client.request(method, url, json=body) as response,
    ):
        answer: dict[str, Any] = await response.json(content_type=None)
        return response.status, answer


def _page(connect: str, card: str = "") -> str:
    query = f"connect={quote(connect, safe='')}"
    return (
        f"/desktop/smartcard?{query}&card={quote(card, safe='')}"
        if card
        else (f"/desktop/smartcard?{query}")
    )


async def request_page(request: web.Request) -> web.Response:
    """The portal's request (slots, holder, until when) and the card in the reader, if any."""
    connect = _connect(request.query.get("connect", ""))
    label = request.query.get("card", "")
    card = request.app[CARDS].get(label)
    try:
        code, info = await _portal_json("GET", connect)
    except (aiohttp.ClientError, ValueError) as err:
        code, info = 502, {"state": "unreachable", "text": type(err).__name__}
    return render(
        request,
        "desktop_card.html",
        connect=connect,
        info=info if code == 200 else None,
        card=card.card.label if card else "",
        slot_names=SLOT_NAMES,
        result=None,
        refusal=None,
        card_id="",
    )


async def insert(request: web.Request) -> web.Response:
    """ "Lege smartcard plaatsen": a new blank card (its own token, no objects) in the reader."""
    form = await request.post()
    connect = _connect(str(form.get("connect", "")))
    label = f"devapps-card-{secrets.token_hex(4)}"
    softhsm = request.app[WORLD].softhsm

    def blank() -> CardApp:
        return CardApp.insert(SmartCard.blank(softhsm, label))

    request.app[CARDS][label] = await asyncio.to_thread(blank)
    raise web.HTTPSeeOther(_page(connect, label))


def _make_csrs(app: CardApp, slots: list[CardSlot]) -> dict[str, str]:
    """A key per slot made on the card, and its CSR signed there (base64 DER)."""
    csrs = {}
    for slot in slots:
        app.generate_key(slot)
        csrs[slot.label] = base64.b64encode(app.csr(slot)).decode()
    return csrs


def _write(app: CardApp, certificates: dict[str, str]) -> list[dict[str, str]]:
    """Each certificate onto the card beside its key; then what the card holds, read back."""
    for name, der in certificates.items():
        app.write_certificate(BY_LABEL[name], base64.b64decode(der))
    on_card = app.certificates()
    return [
        {
            "slot": slot.label,
            "subject": on_card[slot.key_id].subject.rfc4514_string(),
            "serial": format(on_card[slot.key_id].serial_number, "x"),
            "not_after": f"{on_card[slot.key_id].not_valid_after_utc:%Y-%m-%d}",
        }
        for slot in SLOTS
        if slot.key_id in on_card
    ]


async def accept(request: web.Request) -> web.Response:
    """Accept the portal's request: keys and CSRs on the card, certificates back onto it."""
    form = await request.post()
    connect = _connect(str(form.get("connect", "")))
    label = str(form.get("card", ""))
    app = request.app[CARDS].get(label)
    if app is None:
        raise web.HTTPSeeOther(_page(connect))
    chosen = {"authentication", *(str(v) for v in form.getall("slot", []))}
    slots = [slot for slot in SLOTS if slot.label in chosen]
    csrs = await asyncio.to_thread(_make_csrs, app, slots)
    try:
        status, answer = await _portal_json("POST", connect, {"csrs": csrs})
    except (aiohttp.ClientError, ValueError) as err:
        status, answer = 502, {"state": "unreachable", "text": f"portal: {type(err).__name__}"}
    result: list[dict[str, str]] | None = None
    refusal: dict[str, str] | None = None
    if status == 200 and answer.get("state") == "issued":
        result = await asyncio.to_thread(_write, app, answer["certificates"])
        world = request.app[WORLD]
        records = world.load("smartcards")
        records.append(
            {"label": label, "card_id": answer["card_id"], "serials": [r["serial"] for r in result]}
        )
        world.save("smartcards", records)
    else:
        texts = answer.get("texts") or {}
        refusal = {
            "code": str(answer.get("code") or answer.get("state", "")),
            "text": str(texts.get("nl") or texts.get("en") or answer.get("text", "")),
        }
    return render(
        request,
        "desktop_card.html",
        connect=connect,
        info=None,
        card=label,
        slot_names=SLOT_NAMES,
        result=result,
        refusal=refusal,
        card_id=answer.get("card_id", ""),
    )


def add_routes(app: web.Application) -> None:
    app[CARDS] = {}
    app.router.add_get("/desktop/smartcard", request_page)
    app.router.add_post("/desktop/smartcard/plaatsen", insert)
    app.router.add_post("/desktop/smartcard/accepteren", accept)
