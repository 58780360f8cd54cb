"""The UZI-pas step that §3, §4 and §5 share: a connection code for the desktop app.

The page makes a UZI challenge and shows a short connection code; the ZORG-ID Desktop App
fetches the challenge by that code (``GET /desktop-link/{code}``), signs it with the card
and posts the answer back, which the portal hands to the engine's ``VerifyUziCard`` for
this browser's session. The page polls ``/uzi/status`` and moves on once the card is proven.
A code is unguessable (50 bits), bound to one browser session, used once, and never logged.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from aiohttp import web

from issuer.api.zorgid.v1 import uzi_pb2
from portal.engine import Refusal
from portal.links import connect_url, new_code, normal, shown
from portal.texts import TEXTS
from portal.web import (
    COMPANIONS,
    ENGINE,
    SESSIONS,
    UziProof,
    browser_session,
    lang_of,
    refused,
    render,
)

UZI_PURPOSES: dict[str, tuple[int, str]] = {
    "registratie": (uzi_pb2.UZI_PURPOSE_REGISTRATION, "/registreren/gegevens"),
    "organisatie": (uzi_pb2.UZI_PURPOSE_ORGANISATION_VALIDATION, "/organisatie/gegevens"),
    "attributen": (uzi_pb2.UZI_PURPOSE_ATTRIBUTE_REGISTRATION, "/attributen/bevestigen"),
}
"""URL slug -> (the engine's UziPurpose, where the flow goes once the card is proven)."""

_CARD_TYPES = {
    uzi_pb2.UZI_CARD_TYPE_ZORGVERLENER: "Z",
    uzi_pb2.UZI_CARD_TYPE_MEDEWERKER_OP_NAAM: "N",
    uzi_pb2.UZI_CARD_TYPE_MEDEWERKER_NIET_OP_NAAM: "M",
    uzi_pb2.UZI_CARD_TYPE_SERVER: "S",
}
_SCHEMES = {
    "RSA_PKCS1V15_SHA256": uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256,
    "RSA_PSS_SHA256": uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PSS_SHA256,
    "ECDSA_SHA256": uzi_pb2.UZI_SIGNATURE_SCHEME_ECDSA_SHA256,
}


@dataclass
class UziLink:
    """One connection code's challenge, waiting for the desktop app (used once)."""

    session_key: str = field(repr=False)
    purpose: str
    challenge_id: str = field(repr=False)
    to_be_signed: bytes = field(repr=False)
    expires_at: datetime


LINKS: web.AppKey[dict[str, UziLink]] = web.AppKey("uzi_links", dict)
"""Live connection codes (normalised: no dash) -> their challenge."""


def identity_of(proof: Any) -> dict[str, str]:
    """The card data of a VerifyUziCard answer as strings for the pages."""
    who = proof.identity
    return {
        "common_name": who.common_name,
        "given_name": who.given_name,
        "surname": who.surname,
        "title": who.title,
        "uzi_number": who.uzi_number,
        "card_type": _CARD_TYPES.get(who.card_type, ""),
        "ura": who.subscriber_number,
        "role": who.role,
        "agb_code": who.agb_code,
        "organization": who.organization,
    }


def _purpose(request: web.Request) -> str:
    slug = request.match_info["purpose"]
    if slug not in UZI_PURPOSES:
        raise web.HTTPNotFound()
    return slug


async def _new_link(request: web.Request, purpose: str) -> str:
    """A fresh challenge and code for this browser; its earlier code dies."""
    key, session = browser_session(request)
    links = request.app[LINKS]
    now = datetime.now(UTC)
    for old in [c for c, link in links.items() if link.session_key == key or link.expires_at < now]:
        del links[old]
    made = await request.app[ENGINE].call(
        request.app[ENGINE].uzi.CreateUziChallenge, uzi_pb2.CreateUziChallengeRequest()
    )
    code = new_code()
    links[code] = UziLink(
        session_key=key,
        purpose=purpose,
        challenge_id=made.challenge_id,
        to_be_signed=bytes(made.to_be_signed),
        expires_at=made.expires_at.ToDatetime(tzinfo=UTC),
    )
    session.flows["uzi"] = {
        "purpose": purpose,
        "code": code,
        "state": "pending",
        "expires_at": links[code].expires_at,
    }
    return code


async def uzi_page(request: web.Request) -> web.Response:
    """Figure 6: the connection code for the desktop app; the page polls until it answered."""
    purpose = _purpose(request)
    _, session = browser_session(request)
    if session.uzi is not None and session.uzi.purpose == purpose:
        raise web.HTTPFound(UZI_PURPOSES[purpose][1])
    try:
        code = await _new_link(request, purpose)
    except Refusal as refusal:
        return refused(request, refusal)
    url = connect_url(request, "desktop-link", code)
    flow = session.flows["uzi"]
    return render(
        request,
        "uzi.html",
        purpose=purpose,
        code=shown(code),
        connect_url=url,
        desktop_app=request.app[COMPANIONS].desktop(url),
        remaining=max(0, int((flow["expires_at"] - datetime.now(UTC)).total_seconds())),
    )


async def refresh(request: web.Request) -> web.Response:
    """ "Verversen": a new attempt; the page makes a new challenge and code."""
    purpose = _purpose(request)
    key, session = browser_session(request)
    links = request.app[LINKS]
    for old in [c for c, link in links.items() if link.session_key == key]:
        del links[old]
    session.flows.pop("uzi", None)
    if session.uzi is not None and session.uzi.purpose == purpose:
        session.uzi = None  # a new card replaces the proven one
    raise web.HTTPSeeOther(f"/uzi/{purpose}")


async def status(request: web.Request) -> web.Response:
    """The page's poll: pending, verified (and where to go), refused, or expired."""
    _, session = browser_session(request)
    flow = session.flows.get("uzi")
    if not flow:
        return web.json_response({"state": "expired"})
    if flow["state"] == "verified":
        return web.json_response({"state": "verified", "next": UZI_PURPOSES[flow["purpose"]][1]})
    if flow["state"] == "refused":
        texts: dict[str, str] = flow["texts"]
        lang = lang_of(request)
        text = texts.get(lang) or texts.get("en") or next(iter(texts.values()), "")
        return web.json_response({"state": "refused", "code": flow["refusal"], "text": text})
    if flow["expires_at"] < datetime.now(UTC):
        return web.json_response({"state": "expired"})
    return web.json_response({"state": "pending"})


def _unknown() -> web.Response:
    return web.json_response({"state": "unknown"}, status=404)


async def describe_link(request: web.Request) -> web.Response:
    """The desktop app asks what it connects to: the portal, the purpose, what to sign."""
    link = request.app[LINKS].get(normal(request.match_info["code"]))
    if link is None or link.expires_at < datetime.now(UTC):
        return _unknown()
    return web.json_response(
        {
            "portal": f"{TEXTS['nl']['title']} ({request.host})",
            "purpose": link.purpose,
            "challenge_id": link.challenge_id,
            "to_be_signed": base64.b64encode(link.to_be_signed).decode(),
            "expires_at": link.expires_at.isoformat(timespec="seconds"),
        }
    )


def _answer(body: object) -> tuple[list[bytes], bytes, int] | None:
    """The desktop app's JSON answer decoded, or None when it is malformed."""
    if not isinstance(body, dict):
        return None
    chain, signature, scheme = (
        body.get("certificate_chain"),
        body.get("signature"),
        body.get("scheme"),
    )
    if not isinstance(chain, list) or not isinstance(signature, str) or scheme not in _SCHEMES:
        return None
    try:
        certs = [base64.b64decode(c, validate=True) for c in chain if isinstance(c, str)]
        sig = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not certs or len(certs) != len(chain):
        return None
    return certs, sig, _SCHEMES[str(scheme)]


async def answer_link(request: web.Request) -> web.Response:
    """The desktop app's signed answer: the engine verifies it for the code's browser session."""
    link = request.app[LINKS].pop(normal(request.match_info["code"]), None)
    if link is None or link.expires_at < datetime.now(UTC):
        return _unknown()
    session = request.app[SESSIONS].get(link.session_key)
    flow = session.flows.get("uzi") if session is not None else None
    if session is None or flow is None:
        return _unknown()
    try:
        decoded = _answer(await request.json())
    except ValueError:
        decoded = None
    if decoded is None:
        flow |= {"state": "refused", "refusal": "ZID-0005", "texts": _MALFORMED}
        return web.json_response({"state": "invalid"}, status=400)
    chain, signature, scheme = decoded
    engine = request.app[ENGINE]
    try:
        proof = await engine.call(
            engine.uzi.VerifyUziCard,
            uzi_pb2.VerifyUziCardRequest(
                challenge_id=link.challenge_id,
                certificate_chain=chain,
                signature=signature,
                signature_scheme=cast(Any, scheme),
                purpose=cast(Any, UZI_PURPOSES[link.purpose][0]),
            ),
        )
    except Refusal as refusal:
        flow |= {"state": "refused", "refusal": refusal.code, "texts": refusal.texts}
        return web.json_response({"state": "refused", "code": refusal.code, "texts": refusal.texts})
    session.uzi = UziProof(
        purpose=link.purpose, handle=proof.session_handle, identity=identity_of(proof)
    )
    flow["state"] = "verified"
    return web.json_response({"state": "verified"})


_MALFORMED = {
    "nl": "De Desktop App stuurde een onleesbaar antwoord. Klik op Verversen en probeer opnieuw.",
    "en": "The Desktop App sent an unreadable answer. Click Refresh and try again.",
}


def add_routes(app: web.Application) -> None:
    app[LINKS] = {}
    app.router.add_get("/uzi/status", status)
    app.router.add_get("/uzi/{purpose}", uzi_page)
    app.router.add_post("/uzi/{purpose}/verversen", refresh)
    app.router.add_get("/desktop-link/{code}", describe_link)
    app.router.add_post("/desktop-link/{code}", answer_link)
