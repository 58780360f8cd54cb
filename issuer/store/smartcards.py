"""ZORG-ID smartcards (issue 19): ``smartcard_tickets``, ``smartcards``, ``smartcard_certificates``.

A ticket is stored under its SHA-256 only and claimed once: :func:`claim_ticket`
is one conditional ``UPDATE ... WHERE used_at IS NULL``, so of any number of
concurrent redemptions exactly one wins. The claim names the card it creates;
each certificate is linked to its slot in the transaction that stores it
(primary key card + slot: a slot is certified once), and :func:`complete_ticket`
ends the redemption only for the claim that is still its owner's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from issuer.store.records import record, record_or_none
from issuer.store.schema import smartcard_certificates, smartcard_tickets, smartcards


@dataclass(frozen=True, kw_only=True)
class CardTicket:
    """A ``smartcard_tickets`` row."""

    id: str
    token_sha256: str
    portal_identity: str
    person_id: str
    mobile_id_id: str
    registration_id: str
    replaces_card_id: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    csrs_sha256: str | None
    card_id: str | None
    completed_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class Card:
    """A ``smartcards`` row."""

    id: str
    person_id: str
    mobile_id_id: str
    registration_id: str
    ticket_id: str
    state: str
    created_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None


@dataclass(frozen=True, kw_only=True)
class CardCertificate:
    """A ``smartcard_certificates`` row: the certificate of one slot of a card."""

    card_id: str
    slot: str
    certificate_id: str


def insert_ticket(
    conn: sa.Connection,
    *,
    ticket_id: str,
    token_sha256: str,
    portal_identity: str,
    person_id: str,
    mobile_id_id: str,
    registration_id: str,
    replaces_card_id: str | None,
    at: datetime,
    expires_at: datetime,
) -> None:
    """A new, unclaimed ticket."""
    conn.execute(
        smartcard_tickets.insert().values(
            id=ticket_id,
            token_sha256=token_sha256,
            portal_identity=portal_identity,
            person_id=person_id,
            mobile_id_id=mobile_id_id,
            registration_id=registration_id,
            replaces_card_id=replaces_card_id,
            created_at=at,
            expires_at=expires_at,
        )
    )


def find_ticket(conn: sa.Connection, token_sha256: str) -> CardTicket | None:
    """The ticket of this token digest, or None."""
    row = conn.execute(
        sa.select(smartcard_tickets).where(smartcard_tickets.c.token_sha256 == token_sha256)
    ).first()
    return record_or_none(CardTicket, row)


def claim_ticket(
    conn: sa.Connection, *, ticket_id: str, csrs_sha256: str, card_id: str, now: datetime
) -> bool:
    """Claim an unused, unexpired ticket for *card_id*; False if someone else did first."""
    done = conn.execute(
        smartcard_tickets.update()
        .where(
            smartcard_tickets.c.id == ticket_id,
            smartcard_tickets.c.used_at.is_(None),
            smartcard_tickets.c.expires_at > now,
        )
        .values(used_at=now, csrs_sha256=csrs_sha256, card_id=card_id)
    )
    return done.rowcount == 1


def take_over_claim(conn: sa.Connection, *, ticket_id: str, old: datetime, now: datetime) -> bool:
    """Take an unfinished claim made at *old* over (its owner is gone); False if it moved."""
    done = conn.execute(
        smartcard_tickets.update()
        .where(
            smartcard_tickets.c.id == ticket_id,
            smartcard_tickets.c.used_at == old,
            smartcard_tickets.c.completed_at.is_(None),
        )
        .values(used_at=now)
    )
    return done.rowcount == 1


def _claim_owned(ticket_id: str, claimed_at: datetime) -> sa.ColumnElement[bool]:
    """The ticket's redemption is still the claim made at *claimed_at* (not taken over)."""
    return sa.and_(
        smartcard_tickets.c.id == ticket_id,
        smartcard_tickets.c.used_at == claimed_at,
        smartcard_tickets.c.completed_at.is_(None),
    )


def hold_claim(conn: sa.Connection, *, ticket_id: str, claimed_at: datetime) -> bool:
    """Whether the claim made at *claimed_at* is still the owner's (locks the row on PostgreSQL)."""
    done = conn.execute(
        smartcard_tickets.update()
        .where(_claim_owned(ticket_id, claimed_at))
        .values(used_at=claimed_at)
    )
    return done.rowcount == 1


def complete_ticket(
    conn: sa.Connection, *, ticket_id: str, claimed_at: datetime, now: datetime
) -> bool:
    """End the redemption of the claim made at *claimed_at*; False if it was taken over."""
    done = conn.execute(
        smartcard_tickets.update()
        .where(_claim_owned(ticket_id, claimed_at))
        .values(completed_at=now)
    )
    return done.rowcount == 1


def insert_card(
    conn: sa.Connection,
    *,
    card_id: str,
    ticket: CardTicket,
    at: datetime,
) -> None:
    """The card a claimed ticket makes, ``issuing`` until its certificates are stored."""
    conn.execute(
        smartcards.insert().values(
            id=card_id,
            person_id=ticket.person_id,
            mobile_id_id=ticket.mobile_id_id,
            registration_id=ticket.registration_id,
            ticket_id=ticket.id,
            state="issuing",
            created_at=at,
        )
    )


def find_card(conn: sa.Connection, card_id: str) -> Card | None:
    """The card of this id, or None."""
    row = conn.execute(sa.select(smartcards).where(smartcards.c.id == card_id)).first()
    return record_or_none(Card, row)


def cards_of_person(conn: sa.Connection, person_id: str) -> list[Card]:
    """The person's cards, oldest first."""
    rows = conn.execute(
        sa.select(smartcards)
        .where(smartcards.c.person_id == person_id)
        .order_by(smartcards.c.created_at, smartcards.c.id)
    )
    return [record(Card, row) for row in rows]


def set_card_state(
    conn: sa.Connection,
    *,
    card_id: str,
    from_states: tuple[str, ...],
    state: str,
    at: datetime | None = None,
    reason: str | None = None,
) -> bool:
    """Move a card from one of *from_states* to *state*; False if it was in none of them."""
    values: dict[str, object] = {"state": state}
    if at is not None:
        values.update(revoked_at=at, revocation_reason=reason)
    done = conn.execute(
        smartcards.update()
        .where(smartcards.c.id == card_id, smartcards.c.state.in_(from_states))
        .values(**values)
    )
    return done.rowcount == 1


def link_certificate(conn: sa.Connection, *, card_id: str, slot: str, certificate_id: str) -> None:
    """Record the certificate of *slot* (in the transaction that stores the certificate)."""
    conn.execute(
        smartcard_certificates.insert().values(
            card_id=card_id, slot=slot, certificate_id=certificate_id
        )
    )


def certificates_of_card(conn: sa.Connection, card_id: str) -> list[CardCertificate]:
    """The card's slot certificates, by slot name."""
    rows = conn.execute(
        sa.select(smartcard_certificates)
        .where(smartcard_certificates.c.card_id == card_id)
        .order_by(smartcard_certificates.c.slot)
    )
    return [record(CardCertificate, row) for row in rows]
