"""Registrations as the portal flows read and change them (``registrations``).

A ``registrations`` row is what a confirmed registration (flow 2), a
PIN-forgotten reset (flow 6) or an attribute registration (flow 5) froze:
the verified data, the UZI proof behind it and, once redeemed, the
certificate it led to. The enrolment token's own rules (single use, failed
attempts) live in :mod:`issuer.store.repo`; these are the flows' reads and
writes around it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography import x509

from issuer.store.evidence import UziEvidence
from issuer.store.records import record, record_or_none
from issuer.store.schema import registrations


@dataclass(frozen=True, kw_only=True)
class Registration:
    """A ``registrations`` row."""

    id: str
    kind: str
    """registration | reset | attributes."""
    state: str
    """started | data_entered | confirmed | redeemed | cancelled."""
    portal_identity: str
    person_id: str | None
    terms_version: str | None
    frozen_data: dict[str, Any] | None
    card_certificate: bytes | None
    card_serial: str | None
    card_issuer_sha256: str | None
    card_chain: list[str] | None
    challenge_nonce: bytes | None
    card_signature: bytes | None
    proven_at: datetime | None
    card_not_after: datetime | None
    """The card certificate's notAfter: caps the certificates issued on this proof (issue 18)."""
    token_sha256: str | None
    token_expires_at: datetime | None
    token_used_at: datetime | None
    failed_attempts: int
    csr_sha256: str | None
    certificate_id: str | None
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None
    policy_version: int | None


def get_registration(conn: sa.Connection, registration_id: str) -> Registration:
    """The registration of this id (it exists: a draft or certificate names it)."""
    row = conn.execute(sa.select(registrations).where(registrations.c.id == registration_id)).one()
    return record(Registration, row)


def find_reset(
    conn: sa.Connection, *, registration_id: str, portal_identity: str
) -> Registration | None:
    """The reset (flow 6) of this id that *portal_identity* made, or None."""
    row = conn.execute(
        sa.select(registrations).where(
            registrations.c.id == registration_id,
            registrations.c.kind == "reset",
            registrations.c.portal_identity == portal_identity,
        )
    ).first()
    return record_or_none(Registration, row)


def frozen_data_of(conn: sa.Connection, registration_id: str) -> dict[str, Any] | None:
    """The verified data the registration froze, or None (no such row, or none frozen)."""
    frozen: dict[str, Any] | None = conn.execute(
        sa.select(registrations.c.frozen_data).where(registrations.c.id == registration_id)
    ).scalar_one_or_none()
    return frozen


def card_of(conn: sa.Connection, registration_id: str) -> tuple[datetime | None, bytes | None]:
    """(card_not_after, card certificate DER) the registration's proof recorded; Nones if none."""
    row = conn.execute(
        sa.select(registrations.c.card_not_after, registrations.c.card_certificate).where(
            registrations.c.id == registration_id
        )
    ).first()
    if row is None:
        return None, None
    der = None if row.card_certificate is None else bytes(row.card_certificate)
    return row.card_not_after, der


def card_key(der: bytes) -> tuple[str | None, str | None]:
    """(serial hex, SHA-256 of the issuer Name DER) of a card certificate, as a CRL names it.

    (None, None) for what does not parse or has no positive serial: the proof
    verified it, so that does not happen for a stored proof; the watch skips it.
    """
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None, None
    if cert.serial_number <= 0:
        return None, None
    return format(cert.serial_number, "x"), hashlib.sha256(cert.issuer.public_bytes()).hexdigest()


def attach_evidence(
    conn: sa.Connection, registration_id: str, proof: UziEvidence, *, card_not_after: datetime
) -> None:
    """Copy the UZI proof onto the registration its certificates will name.

    ``card_not_after`` is the notAfter of ``proof.card_certificate`` (read by
    the caller, :func:`issuer.flows.evidence.card_not_after`): kept as a column
    so that redeeming a token reads the cap without parsing the card.
    """
    serial, issuer_sha256 = card_key(bytes(proof.card_certificate))
    conn.execute(
        registrations.update()
        .where(registrations.c.id == registration_id)
        .values(
            card_certificate=bytes(proof.card_certificate),
            card_serial=serial,
            card_issuer_sha256=issuer_sha256,
            card_chain=list(proof.card_chain),
            challenge_nonce=bytes(proof.nonce),
            card_signature=bytes(proof.signature),
            proven_at=proof.proven_at,
            card_not_after=card_not_after,
        )
    )


def copy_evidence(conn: sa.Connection, *, registration_id: str, source: Registration) -> None:
    """Copy the UZI proof *source* carries onto another registration (a reset's)."""
    conn.execute(
        registrations.update()
        .where(registrations.c.id == registration_id)
        .values(
            card_certificate=source.card_certificate,
            card_serial=source.card_serial,
            card_issuer_sha256=source.card_issuer_sha256,
            card_chain=source.card_chain,
            challenge_nonce=source.challenge_nonce,
            card_signature=source.card_signature,
            proven_at=source.proven_at,
            card_not_after=source.card_not_after,
        )
    )


def insert_attributes_registration(
    conn: sa.Connection,
    *,
    registration_id: str,
    portal_identity: str,
    person_id: str,
    frozen_data: dict[str, Any],
    policy_version: int,
    at: datetime,
) -> None:
    """A confirmed registration of kind ``attributes`` (flow 5): no token, no QR."""
    conn.execute(
        registrations.insert().values(
            id=registration_id,
            kind="attributes",
            state="confirmed",
            portal_identity=portal_identity,
            person_id=person_id,
            frozen_data=frozen_data,
            failed_attempts=0,
            created_at=at,
            updated_at=at,
            confirmed_at=at,
            policy_version=policy_version,
        )
    )


def mark_redeemed(
    conn: sa.Connection, *, registration_id: str, certificate_id: str, at: datetime
) -> None:
    """The registration led to *certificate_id*."""
    conn.execute(
        registrations.update()
        .where(registrations.c.id == registration_id)
        .values(state="redeemed", certificate_id=certificate_id, updated_at=at)
    )


def cancel_unredeemed(conn: sa.Connection, *, person_id: str, at: datetime) -> int:
    """Cancel the person's confirmed registrations no certificate came from yet; how many.

    Why: their QR codes must no longer redeem once a reset made a new one.
    """
    cancelled = conn.execute(
        registrations.update()
        .where(
            registrations.c.person_id == person_id,
            registrations.c.state == "confirmed",
            registrations.c.certificate_id.is_(None),
        )
        .values(state="cancelled", updated_at=at)
    )
    return int(cancelled.rowcount)


def proofs_of(conn: sa.Connection, person_id: str) -> list[Registration]:
    """The person's confirmed registrations that carry a UZI proof, newest first.

    Only kinds ``registration`` and ``attributes``: a reset copies a proof, it
    proves nothing itself.
    """
    rows = conn.execute(
        sa.select(registrations)
        .where(
            registrations.c.person_id == person_id,
            registrations.c.kind.in_(("registration", "attributes")),
            registrations.c.frozen_data.is_not(None),
            registrations.c.card_certificate.is_not(None),
            registrations.c.confirmed_at.is_not(None),
        )
        .order_by(registrations.c.confirmed_at.desc())
    ).all()
    return [record(Registration, row) for row in rows]
