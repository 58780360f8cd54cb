"""ZORG-ID smartcard (portal manual §6): a card certified on the evidence of the user's mobile ID.

The portal, for a person logged in with their mobile ID, asks for a card
enrolment ticket (:func:`start_smartcard`); the desktop app makes the keys on
the blank card and its CSRs, one per slot (authentication required,
non-repudiation and encryption optional); the portal redeems the ticket with
them (:func:`redeem_smartcard`) and writes the returned certificates to the
card. The certificates carry the attributes of the registration the mobile ID
was issued on, and their notAfter is capped by that registration's UZI-pas
(``card_not_after``), as a mobile ID's is.

Exactly once, as :mod:`issuer.enrolment.redeem` for a registration QR: the
ticket is *claimed* by one conditional UPDATE that records the digest of the
CSR set and creates the card (``issuing``); each slot's certificate is linked
to the card in the transaction that stores it (one per slot by primary key),
and the card becomes ``active`` when the set is complete. So a retry (or a
concurrent call) with the same CSRs gets the same set; another CSR set is
refused (ZID-2003); a winner that died is taken over after :data:`LEASE` by a
same-CSR retry, which issues only the slots still missing.

A card is revoked as a whole (:func:`revoke_card_as_holder`,
:func:`revoke_card_by_operator`): each certificate through
:func:`issuer.issuance.certificates.revoke`, so OCSP and the CRL say revoked.
A replacement (:func:`replace_smartcard`) is a new ticket naming the old card;
once the new set is issued, the old card's certificates are revoked
``superseded``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from issuer.enrolment.create import attrs_from_json
from issuer.errors import Code, ZorgIdError
from issuer.flows.administrators import administered
from issuer.flows.common import FlowDeps, Portal, audit, sha256_hex
from issuer.flows.login import LoginSession, login_session
from issuer.issuance import certificates as certs
from issuer.issuance.records import Actor, CheckedRequest, IssuanceRequest, IssuedCertificate
from issuer.issuance.runtime import Issuance
from issuer.profile import VerifiedAttributes
from issuer.profile.usage import CertificateUsage
from issuer.store import Connection
from issuer.store import mobile_ids as mobile_id_store
from issuer.store import persons as person_store
from issuer.store import registrations as registration_store
from issuer.store import smartcards as store
from issuer.store.repo import new_id
from issuer.store.smartcards import Card, CardTicket

AUTHENTICATION: Final = "authentication"
NON_REPUDIATION: Final = "non-repudiation"
ENCRYPTION: Final = "encryption"
CARD_SLOTS: Final = (AUTHENTICATION, NON_REPUDIATION, ENCRYPTION)
SLOT_USAGES: Final[Mapping[str, CertificateUsage]] = {
    AUTHENTICATION: CertificateUsage.CARD_AUTHENTICATION,
    NON_REPUDIATION: CertificateUsage.CARD_SIGNATURE,
    ENCRYPTION: CertificateUsage.CARD_ENCRYPTION,
}
"""Which certificate of the card profile (``[smartcard.<certificate>]``) each slot gets."""
"""The card's key slots, in the order they are issued (the store's CHECK names the same)."""

TICKET_LIFETIME: Final = timedelta(minutes=10)
"""How long a card enrolment ticket may be redeemed. A constant, as the policy has no
fitting setting (``qr.registration_seconds`` is days, for a QR sent to a phone): the
card is in the reader and the user at the portal when the ticket is made, and a
ticket is a bearer right to have keys certified for the person."""
LEASE: Final = timedelta(seconds=30)
"""How long an unfinished claim belongs to its redeemer: above a set's issuance
(three signatures) and a gRPC deadline, so only a dead redeemer loses it."""
WAIT_SECONDS: Final = 10.0
"""How long a same-CSR retry waits for a running redemption before ZID-2004 (retry)."""
POLL_SECONDS: Final = 0.01
MAX_TICKET: Final = 64


@dataclass(frozen=True, kw_only=True)
class CardTicketIssued:
    """A new ticket (shown once, never logged) and what it is for."""

    ticket: str = field(repr=False)
    expires_at: datetime
    replaces_card_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class CardSet:
    """A card's certificates by slot, and the CA chain to write with them."""

    card_id: str
    certificates: Mapping[str, IssuedCertificate]
    chain: tuple[bytes, ...]
    replayed: bool


@dataclass(frozen=True, kw_only=True)
class CardView:
    """A card as ``ListSmartcards`` shows it."""

    id: str
    state: str
    created_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None
    certificates: Mapping[str, IssuedCertificate]


class _ClaimLost(Exception):
    """Step 4 found the claim taken over: roll the certificate back, the new owner finishes."""


def card_issuance_request(
    slot: str,
    csr: bytes,
    *,
    attrs: VerifiedAttributes,
    person_id: str,
    registration_id: str,
    card_not_after: datetime | None,
    actor: Actor,
) -> IssuanceRequest:
    """The one place a card certificate's request is built (all slots, all paths): the
    slot's card usage (:data:`SLOT_USAGES`) selects its profile in the issuance cycle."""
    return IssuanceRequest(
        attrs=attrs,
        csr=csr,
        person_id=person_id,
        actor=actor,
        registration_id=registration_id,
        card_not_after=card_not_after,
        usage=SLOT_USAGES[slot],
    )


# -- start, replace ------------------------------------------------------------------


def _session(deps: FlowDeps, portal: Portal, handle: str) -> LoginSession:
    with deps.engine.connect() as conn:
        return login_session(conn, deps, portal=portal, handle=handle)


def start_smartcard(
    deps: FlowDeps,
    *,
    portal: Portal,
    login_session_handle: str,
    replaces_card_id: str | None = None,
) -> CardTicketIssued:
    """A single-use ticket for a card of the logged-in person (:data:`TICKET_LIFETIME`).

    The card is issued on the registration the login's mobile-ID certificate
    names (ZID-2008 if it names none).
    """
    built = deps.issuance()
    now = deps.clock()
    ticket = secrets.token_urlsafe(32)
    with built.engine.begin() as conn:
        session = login_session(conn, deps, portal=portal, handle=login_session_handle)
        cert = mobile_id_store.certificate_by_id(conn, session.certificate_id)
        if cert.registration_id is None:
            raise ZorgIdError(
                Code.ZID_2008, f"certificate {cert.serial} of this login names no registration"
            )
        if replaces_card_id is not None:
            _active(_own_card(conn, session, replaces_card_id))
        ticket_id = new_id()
        expires = now + TICKET_LIFETIME
        store.insert_ticket(
            conn,
            ticket_id=ticket_id,
            token_sha256=sha256_hex(ticket),
            portal_identity=portal.identity,
            person_id=session.person_id,
            mobile_id_id=session.mobile_id,
            registration_id=cert.registration_id,
            replaces_card_id=replaces_card_id,
            at=now,
            expires_at=expires,
        )
        audit(
            conn,
            built,
            portal.actor,
            "smartcard.start",
            f"smartcard-ticket:{ticket_id}",
            {
                "person_id": session.person_id,
                "registration_id": cert.registration_id,
                "replaces_card_id": replaces_card_id,
            },
        )
    return CardTicketIssued(ticket=ticket, expires_at=expires, replaces_card_id=replaces_card_id)


def replace_smartcard(
    deps: FlowDeps, *, portal: Portal, login_session_handle: str, card_id: str
) -> CardTicketIssued:
    """A ticket for a new card; redeeming it revokes *card_id*'s certificates ``superseded``."""
    return start_smartcard(
        deps, portal=portal, login_session_handle=login_session_handle, replaces_card_id=card_id
    )


def _own_card(conn: Connection, session: LoginSession, card_id: str) -> Card:
    card = store.find_card(conn, card_id[:64])
    if card is None or card.person_id != session.person_id:
        raise ZorgIdError(Code.ZID_2006, f"no smartcard {card_id[:40]!r} of yours")
    return card


def _active(card: Card) -> Card:
    if card.state != "active":
        raise ZorgIdError(Code.ZID_2007, f"smartcard {card.id} is {card.state}")
    return card


# -- redeem --------------------------------------------------------------------------


def _slots(csrs: Mapping[str, bytes]) -> tuple[tuple[str, bytes], ...]:
    unknown = sorted(set(csrs) - set(CARD_SLOTS))
    if unknown:
        raise ZorgIdError(Code.ZID_2005, f"got slots {unknown}; expected {list(CARD_SLOTS)}")
    if not csrs.get(AUTHENTICATION):
        raise ZorgIdError(Code.ZID_2005, "no CSR for the authentication slot (required)")
    empty = sorted(slot for slot, csr in csrs.items() if not csr)
    if empty:
        raise ZorgIdError(Code.ZID_2005, f"empty CSR for slots {empty}")
    return tuple((slot, csrs[slot]) for slot in CARD_SLOTS if slot in csrs)


def _csrs_digest(slots: tuple[tuple[str, bytes], ...]) -> str:
    """SHA-256 over ``slot=SHA-256(csr)`` lines: the set a ticket was claimed with."""
    lines = "".join(f"{slot}={hashlib.sha256(csr).hexdigest()}\n" for slot, csr in slots)
    return sha256_hex(lines)


def _check(
    built: Issuance, row: CardTicket, slots: tuple[tuple[str, bytes], ...], actor: Actor
) -> tuple[tuple[str, CheckedRequest], ...]:
    """Cycle step 1 for every slot before claiming: a bad CSR must not use the ticket up."""
    with built.engine.connect() as conn:
        reg = registration_store.get_registration(conn, row.registration_id)
    try:
        attrs = attrs_from_json(dict(reg.frozen_data or {}))
    except ValueError as exc:
        raise ZorgIdError(Code.ZID_1204, f"frozen registration data: {exc}") from None
    checked = tuple(
        (
            slot,
            built.cycle.step1_check_request(
                card_issuance_request(
                    slot,
                    csr,
                    attrs=attrs,
                    person_id=row.person_id,
                    registration_id=row.registration_id,
                    card_not_after=reg.card_not_after,
                    actor=actor,
                )
            ),
        )
        for slot, csr in slots
    )
    keys = [c.spki_sha256 for _, c in checked]
    if len(set(keys)) != len(keys):
        raise ZorgIdError(Code.ZID_2005, "two slots have the same key; expected a key per slot")
    return checked


def redeem_smartcard(
    deps: FlowDeps, *, portal: Portal, ticket: str, csrs: Mapping[str, bytes]
) -> CardSet:
    """The card's certificate set for *ticket*, issued once (module doc)."""
    slots = _slots(csrs)
    if not 0 < len(ticket) <= MAX_TICKET:
        raise ZorgIdError(Code.ZID_2001, f"got a ticket of {len(ticket)} characters")
    digest, csrs_sha = sha256_hex(ticket), _csrs_digest(slots)
    built = deps.issuance()
    deadline = time.monotonic() + WAIT_SECONDS
    checked: tuple[tuple[str, CheckedRequest], ...] | None = None
    while True:
        with built.engine.connect() as conn:
            row = store.find_ticket(conn, digest)
        if row is None or row.portal_identity != portal.identity:
            raise ZorgIdError(Code.ZID_2001, "no card enrolment ticket like this for this portal")
        now = deps.clock()
        if row.used_at is not None and row.csrs_sha256 != csrs_sha:
            with built.engine.begin() as conn:
                audit(
                    conn,
                    built,
                    portal.actor,
                    "smartcard.redeem",
                    f"smartcard-ticket:{row.id}",
                    {"code": Code.ZID_2003},
                    "refused",
                )
            raise ZorgIdError(Code.ZID_2003, f"ticket used at {row.used_at.isoformat()}")
        if row.completed_at is not None:
            assert row.card_id is not None  # a completed ticket made its card
            _supersede_replaced(deps, built, portal.actor, row)
            return _card_set(deps, built, row.card_id, replayed=True)
        if row.used_at is None:
            if row.expires_at <= now:
                raise ZorgIdError(
                    Code.ZID_2002, f"the ticket expired at {row.expires_at.isoformat()}"
                )
            if checked is None:
                checked = _check(built, row, slots, portal.actor)
            card_id = new_id()
            with built.engine.begin() as conn:
                if not store.claim_ticket(
                    conn, ticket_id=row.id, csrs_sha256=csrs_sha, card_id=card_id, now=now
                ):
                    continue  # claimed (or expired) meanwhile: look again
                store.insert_card(conn, card_id=card_id, ticket=row, at=now)
                audit(
                    conn,
                    built,
                    portal.actor,
                    "smartcard.claim",
                    f"smartcard:{card_id}",
                    {"ticket_id": row.id, "slots": [slot for slot, _ in slots]},
                )
            return _issue(deps, built, portal.actor, row, card_id, checked, claimed_at=now)
        assert row.card_id is not None  # a claim names its card
        if now - row.used_at >= LEASE:
            with built.engine.begin() as conn:
                taken = store.take_over_claim(conn, ticket_id=row.id, old=row.used_at, now=now)
            if taken:
                checked = checked or _check(built, row, slots, portal.actor)
                return _issue(deps, built, portal.actor, row, row.card_id, checked, claimed_at=now)
            continue
        if time.monotonic() >= deadline:
            raise ZorgIdError(Code.ZID_2004, "an earlier call with these CSRs is still issuing")
        time.sleep(POLL_SECONDS)


def _issue(
    deps: FlowDeps,
    built: Issuance,
    actor: Actor,
    row: CardTicket,
    card_id: str,
    checked: tuple[tuple[str, CheckedRequest], ...],
    *,
    claimed_at: datetime,
) -> CardSet:
    """Issue the slots the card has no certificate for yet, then complete the ticket."""
    with built.engine.connect() as conn:
        done = {c.slot for c in store.certificates_of_card(conn, card_id)}
    for slot, request in checked:
        if slot in done:
            continue  # issued by the claim's previous owner

        def finish(conn: Connection, cert: IssuedCertificate, slot: str = slot) -> None:
            if not store.hold_claim(conn, ticket_id=row.id, claimed_at=claimed_at):
                raise _ClaimLost(row.id)
            store.link_certificate(conn, card_id=card_id, slot=slot, certificate_id=cert.id)

        try:
            built.cycle.issue_checked(request, finish=finish)
        except _ClaimLost:
            raise ZorgIdError(Code.ZID_2004, "the redemption was taken over; retry") from None
    now = deps.clock()
    with built.engine.begin() as conn:
        if not store.complete_ticket(conn, ticket_id=row.id, claimed_at=claimed_at, now=now):
            raise ZorgIdError(Code.ZID_2004, "the redemption was taken over; retry")
        store.set_card_state(conn, card_id=card_id, from_states=("issuing",), state="active")
        linked = store.certificates_of_card(conn, card_id)
        audit(
            conn,
            built,
            actor,
            "smartcard.issue",
            f"smartcard:{card_id}",
            {
                "ticket_id": row.id,
                "person_id": row.person_id,
                "registration_id": row.registration_id,
                "certificates": {c.slot: c.certificate_id for c in linked},
            },
        )
    _supersede_replaced(deps, built, actor, row)
    return _card_set(deps, built, card_id, replayed=False)


def _card_set(deps: FlowDeps, built: Issuance, card_id: str, *, replayed: bool) -> CardSet:
    with built.engine.connect() as conn:
        linked = store.certificates_of_card(conn, card_id)
    issued: dict[str, IssuedCertificate] = {}
    for link in linked:
        cert = built.cycle.load(link.certificate_id)
        if cert is None:
            raise ZorgIdError(
                Code.ZID_0001, f"smartcard {card_id} lost its {link.slot} certificate"
            )
        issued[link.slot] = cert
    return CardSet(card_id=card_id, certificates=issued, chain=deps.chain(), replayed=replayed)


# -- lifecycle -----------------------------------------------------------------------


def _view(conn: Connection, card: Card) -> CardView:
    issued = {
        link.slot: IssuedCertificate.from_row(
            mobile_id_store.certificate_by_id(conn, link.certificate_id)
        )
        for link in store.certificates_of_card(conn, card.id)
    }
    return CardView(
        id=card.id,
        state=card.state,
        created_at=card.created_at,
        revoked_at=card.revoked_at,
        revocation_reason=card.revocation_reason,
        certificates=issued,
    )


def card_view(deps: FlowDeps, card: Card) -> CardView:
    """*card* with its certificates as stored now."""
    with deps.engine.connect() as conn:
        return _view(conn, card)


def list_smartcards(deps: FlowDeps, *, portal: Portal, login_session_handle: str) -> list[CardView]:
    """The logged-in person's cards, oldest first (a read: answers while the HSM is away)."""
    with deps.engine.connect() as conn:
        session = login_session(conn, deps, portal=portal, handle=login_session_handle)
        return [_view(conn, card) for card in store.cards_of_person(conn, session.person_id)]


def revoke_card_as_holder(
    deps: FlowDeps,
    *,
    portal: Portal,
    login_session_handle: str,
    card_id: str,
    reason: int | str,
) -> CardView:
    """Revoke a card of the logged-in person, or of a member of an organisation they administer."""
    certs.reason_name(reason)
    with deps.engine.connect() as conn:
        session = login_session(conn, deps, portal=portal, handle=login_session_handle)
        card = store.find_card(conn, card_id[:64])
        role = None if card is None else "holder" if card.person_id == session.person_id else None
        if card is not None and role is None:
            uras = {o.ura for o in administered(conn, session.person_id)}
            if uras & person_store.uras_of(conn, card.person_id):
                role = "administrator"
    if card is None or role is None:
        raise ZorgIdError(Code.ZID_2006, f"no smartcard {card_id[:40]!r} of yours")
    actor = Actor(
        role=f"{portal.actor.role}:{role}",
        identity=f"{portal.actor.identity} person:{session.person_id}"[:512],
    )
    return card_view(
        deps, _revoke_card(deps, deps.issuance(), actor, _active(card), reason, "revoked")
    )


def revoke_card_by_operator(
    deps: FlowDeps, *, actor: Actor, card_id: str, reason: int | str
) -> CardView:
    """The operator revokes any card (as ``CertificateService.RevokeCertificate``)."""
    certs.reason_name(reason)
    with deps.engine.connect() as conn:
        card = store.find_card(conn, card_id[:64])
    if card is None:
        raise ZorgIdError(Code.ZID_2006, f"no smartcard {card_id[:40]!r}")
    return card_view(
        deps, _revoke_card(deps, deps.issuance(), actor, _active(card), reason, "revoked")
    )


def _revoke_card(
    deps: FlowDeps, built: Issuance, actor: Actor, card: Card, reason: int | str, state: str
) -> Card:
    """Revoke each good certificate of *card* through the engine's revocation, then the card.

    Certificates first: should this stop half way, the card is still active
    and a repeated request revokes the rest (a certificate revoked already is
    skipped).
    """
    name = certs.reason_name(reason)
    with built.engine.connect() as conn:
        links = store.certificates_of_card(conn, card.id)
    for link in links:
        cert = certs.get_certificate(built.engine, certificate_id=link.certificate_id)
        if cert.status == "revoked":
            continue
        try:
            certs.revoke(
                built.engine,
                built.audit,
                certificate_id=cert.id,
                reason=name,
                actor=actor,
                hooks=built.cycle.hooks,
                clock=deps.clock,
            )
        except ZorgIdError as exc:
            if exc.code != Code.ZID_1212:  # revoked concurrently: the same outcome
                raise
    now = deps.clock()
    with built.engine.begin() as conn:
        if store.set_card_state(
            conn, card_id=card.id, from_states=("active",), state=state, at=now, reason=name
        ):
            audit(
                conn,
                built,
                actor,
                f"smartcard.{state}",
                f"smartcard:{card.id}",
                {"reason": name, "certificates": [link.certificate_id for link in links]},
            )
        found = store.find_card(conn, card.id)
    assert found is not None
    return found


def _supersede_replaced(deps: FlowDeps, built: Issuance, actor: Actor, row: CardTicket) -> None:
    """Revoke the card a replacement ticket names ``superseded`` (once; again on a retry)."""
    if row.replaces_card_id is None:
        return
    with built.engine.connect() as conn:
        old = store.find_card(conn, row.replaces_card_id)
    if old is not None and old.state == "active":
        _revoke_card(deps, built, actor, old, "superseded", "superseded")
