"""The UZI proof behind each session (``uzi_evidence``), and the session's single use.

The evidence-keeping verifier (:mod:`issuer.flows.evidence`) writes the proof
when the card's signature verifies; a registration copies it onto its
``registrations`` row (:func:`issuer.store.registrations.attach_evidence`).
A UZI session opens one flow only: :func:`use_uzi_session` marks it used by
one conditional ``UPDATE``, which exactly one of any concurrent callers wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from issuer.store.records import record_or_none
from issuer.store.schema import uzi_challenges, uzi_evidence, uzi_sessions


@dataclass(frozen=True, kw_only=True)
class UziEvidence:
    """A ``uzi_evidence`` row: what an auditor needs to re-verify the card's signature."""

    handle_sha256: str
    challenge_id: str
    nonce: bytes
    card_certificate: bytes
    card_chain: list[str]
    """Base64 DER, as the desktop app sent it."""
    signature: bytes
    signature_scheme: str
    portal_identity: str
    proven_at: datetime


def use_uzi_session(conn: sa.Connection, *, handle_sha256: str, at: datetime) -> bool:
    """Mark the UZI session used; False when it is unknown or was used already."""
    used = conn.execute(
        uzi_sessions.update()
        .where(uzi_sessions.c.handle_sha256 == handle_sha256, uzi_sessions.c.used_at.is_(None))
        .values(used_at=at)
    )
    return used.rowcount == 1


def find_evidence(conn: sa.Connection, handle_sha256: str) -> UziEvidence | None:
    """The proof kept for the session with this handle digest, or None."""
    row = conn.execute(
        sa.select(uzi_evidence).where(uzi_evidence.c.handle_sha256 == handle_sha256)
    ).first()
    return record_or_none(UziEvidence, row)


def challenge_nonce(conn: sa.Connection, challenge_id: str) -> bytes:
    """The nonce of the UZI challenge the card signed (it exists: the proof just used it)."""
    nonce: Any = conn.execute(
        sa.select(uzi_challenges.c.nonce).where(uzi_challenges.c.id == challenge_id)
    ).scalar_one()
    return bytes(nonce)


def keep_evidence(conn: sa.Connection, evidence: UziEvidence) -> None:
    """Store *evidence* under its session's handle digest."""
    conn.execute(
        uzi_evidence.insert().values(
            handle_sha256=evidence.handle_sha256,
            challenge_id=evidence.challenge_id,
            nonce=evidence.nonce,
            card_certificate=evidence.card_certificate,
            card_chain=evidence.card_chain,
            signature=evidence.signature,
            signature_scheme=evidence.signature_scheme,
            portal_identity=evidence.portal_identity,
            proven_at=evidence.proven_at,
        )
    )
