"""The ZORG-ID Desktop App, UZI-pas side: test UZI-passes and the portal's connection request.

A "card" is a key on the Desktop App's own token (``world.cards_hsm``) certified by the test
UZI-register, with a 5-digit security code kept only as a salted hash. Connecting fetches the
portal's challenge by its connect URL, and on "Accepteren" with the right security code signs
it with the card's key (RSA PKCS#1 v1.5, SHA-256, as a card does) and posts it back.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from devapps.web import WORLD, render
from devapps.world import DEV_ORGANISATIONS, DevWorld

CARDS = "cards"
"""``world.load(CARDS)``: the UZI-passes made in this app."""
UNKNOWN_ORGANISATION = "onbekend"
"""The form's choice for a card of a URA the engine does not know (to see ZID-1602)."""
PURPOSES = {
    "registratie": "registreren als gebruiker",
    "organisatie": "organisatie valideren",
    "attributen": "UZI-attributen registreren",
}
_HSM_LOCK = asyncio.Lock()
"""One token operation at a time: the token's sessions are not shared between threads."""


def list_cards(world: DevWorld) -> list[dict[str, Any]]:
    """The UZI-passes in the app, without their secrets (for other pages of the app)."""
    hidden = {"pin_salt", "pin_hash", "chain"}
    return [{k: v for k, v in card.items() if k not in hidden} for card in world.load(CARDS)]


def _pin_hash(salt: bytes, pin: str) -> str:
    return hashlib.scrypt(pin.encode(), salt=salt, n=2**14, r=8, p=1).hex()


def _pin_ok(card: dict[str, Any], pin: str) -> bool:
    expected = _pin_hash(bytes.fromhex(card["pin_salt"]), pin)
    return hmac.compare_digest(expected, card["pin_hash"])


def _make_card(world: DevWorld, form: dict[str, str]) -> tuple[dict[str, Any], str]:
    """Key on the token, certificate from the test UZI-register, a new security code."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from hsm import KeySpec

    choice = form.get("organisation", DEV_ORGANISATIONS[0][0])
    admins: tuple[str, ...]
    if choice == UNKNOWN_ORGANISATION:
        ura, organisation, admins = "8" + format(secrets.randbelow(10**7), "07d"), "", ()
    else:
        ura, organisation, admins = next(o for o in DEV_ORGANISATIONS if o[0] == choice)
    uzi_number = admins[0] if admins and form.get("administrator") == "ja" else None
    card_type = "N" if form.get("card_type") == "N" else "Z"
    given = form.get("given_name", "").strip() or "Jan"
    surname = form.get("surname", "").strip() or "de Vries"
    label = f"uzi-pas-{secrets.token_hex(4)}"
    key = world.cards_hsm.generate_key(label, KeySpec.RSA_2048)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("the Desktop App's token gave no RSA key")
    card = world.uzi.issue_card(
        card_type, uzi_number=uzi_number, ura=ura, auth_key=key, given_name=given, surname=surname
    )
    pin = format(secrets.randbelow(10**5), "05d")
    salt = secrets.token_bytes(16)
    record = {
        "label": label,
        "common_name": f"{given} {surname}",
        "given_name": given,
        "surname": surname,
        "card_type": card_type,
        "ura": ura,
        "organisation": organisation,
        "uzi_number": card.uzi_number,
        "chain": [base64.b64encode(der).decode() for der in card.chain_der()],
        "pin_salt": salt.hex(),
        "pin_hash": _pin_hash(salt, pin),
    }
    world.save(CARDS, [*world.load(CARDS), record])
    return record, pin


def _sign(world: DevWorld, label: str, message: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = world.cards_hsm.get_key(label)
    signature: bytes = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return signature


def _connect_ok(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and "/desktop-link/" in parts.path


async def _fetch(url: str) -> tuple[int, dict[str, Any]]:
    """GET the portal's connection request (server to server)."""
    async with aiohttp.ClientSession() as client, client.get(url) as reply:
        body: dict[str, Any] = await reply.json(content_type=None)
        return reply.status, body


async def _post(url: str, answer: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as client, client.post(url, json=answer) as reply:
        body: dict[str, Any] = await reply.json(content_type=None)
        return body


async def _page(
    request: web.Request, connect: str, status: int = 200, **values: Any
) -> web.Response:
    """The app's one screen: the cards, the new-card form and the connection request."""
    world = request.app[WORLD]
    link: dict[str, Any] | None = None
    link_error = ""
    if connect and "result" not in values:
        if not _connect_ok(connect):
            link_error = "Dit is geen verbindingsadres van een ZORG-ID portaal."
        else:
            try:
                code, link = await _fetch(connect)
            except (aiohttp.ClientError, ValueError):
                code, link = 0, None
            if code != 200 or link is None:
                link, link_error = None, "Onbekende, gebruikte of verlopen verbindingscode."
    values.setdefault("new_card", None)
    values.setdefault("pin", "")
    values.setdefault("result", None)
    values.setdefault("local_error", "")
    return render(
        request,
        "desktop.html",
        status=status,
        cards=list_cards(world),
        organisations=DEV_ORGANISATIONS,
        unknown=UNKNOWN_ORGANISATION,
        connect=connect,
        link=link,
        link_error=link_error,
        purpose=PURPOSES.get(link["purpose"], link["purpose"]) if link else "",
        **values,
    )


async def desktop(request: web.Request) -> web.Response:
    return await _page(request, request.query.get("connect", "").strip())


async def new_card(request: web.Request) -> web.Response:
    """ "Nieuwe UZI-pas": made now; its security code is shown on this page once."""
    form = {k: str(v) for k, v in (await request.post()).items()}
    world = request.app[WORLD]
    async with _HSM_LOCK:
        record, pin = await asyncio.to_thread(_make_card, world, form)
    return await _page(request, form.get("connect", ""), new_card=record, pin=pin)


async def connect(request: web.Request) -> web.Response:
    """ "Accepteren" (sign and send, with the right security code) or "Weigeren" (send nothing)."""
    form = {k: str(v) for k, v in (await request.post()).items()}
    url = form.get("connect", "")
    if form.get("action") != "accept":
        return await _page(request, "", result={"state": "declined"})
    world = request.app[WORLD]
    card = next((c for c in world.load(CARDS) if c["label"] == form.get("card")), None)
    if card is None:
        return await _page(request, url, local_error="Kies een UZI-pas.")
    if not _pin_ok(card, form.get("security_code", "").strip()):
        return await _page(
            request, url, local_error="Onjuiste beveiligingscode: er is niets verstuurd."
        )
    if not _connect_ok(url):
        return await _page(request, url)
    try:
        status, link = await _fetch(url)
        if status != 200:
            return await _page(request, url)
        message = base64.b64decode(link["to_be_signed"])
        async with _HSM_LOCK:
            signature = await asyncio.to_thread(_sign, world, card["label"], message)
        answer = await _post(
            url,
            {
                "certificate_chain": card["chain"],
                "signature": base64.b64encode(signature).decode(),
                "scheme": "RSA_PKCS1V15_SHA256",
            },
        )
    except (aiohttp.ClientError, ValueError, KeyError):
        answer = {"state": "unknown"}
    texts = answer.get("texts") or {}
    result = {
        "state": answer.get("state", "unknown"),
        "code": answer.get("code", ""),
        "text": texts.get("nl") or texts.get("en") or "",
        "card": card["common_name"],
    }
    return await _page(request, "", result=result)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/desktop", desktop)
    app.router.add_post("/desktop/cards", new_card)
    app.router.add_post("/desktop/connect", connect)
