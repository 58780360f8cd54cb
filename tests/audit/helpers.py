"""Helpers shared by the audit tests and their worker processes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.audit import GENESIS_HASH, AuditEvent, AuditLog, event_hash
from issuer.store import create_engine_for
from issuer.store.schema import audit_events, audit_head
from issuer.store.types import to_utc_text


class StepClock:
    """A clock that moves one millisecond per reading (tests move time, never sleep)."""

    def __init__(self, start: datetime = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)) -> None:
        self._now = start

    def __call__(self) -> datetime:
        self._now += timedelta(milliseconds=1)
        return self._now


def event(n: int, actor: str = "operator-1") -> AuditEvent:
    return AuditEvent(
        actor_role="operator",
        actor_identity=f"CN={actor},O=Test",
        action="certificate.revoke",
        subject=f"certificate:{'a' * 64}:{n:x}",
        details={"n": n, "reason": "keyCompromise", "naam": "Zoë van der Berg"},
    )


def append_many(
    engine: sa.Engine, log: AuditLog, count: int, actor: str = "operator-1", *, batch: int = 1
) -> None:
    """Append *count* events, *batch* per transaction (1: as request handlers do)."""
    for start in range(0, count, batch):
        with engine.begin() as conn:
            for n in range(start, min(start + batch, count)):
                log.append(conn, event(n, actor))


def worker_append(
    url: str,
    pg_schema: str | None,
    key_pem: bytes,
    count: int,
    actor: str,
    ready: Callable[[], None],
) -> None:
    """Body of one worker process of the two-process test."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    engine = create_engine_for(url, pg_schema=pg_schema)
    log = AuditLog(signer=key, checkpoint_every=7)
    ready()
    try:
        append_many(engine, log, count, actor)
    finally:
        engine.dispose()


def remove_and_rechain(engine: sa.Engine, seq: int) -> None:
    """What a careful attacker with database access does: remove event *seq*, renumber
    the later events, recompute every hash from there on and move the head."""
    with engine.begin() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.seq == seq))
        # Two steps, so no renumbered row collides with one not yet moved.
        conn.execute(
            audit_events.update()
            .where(audit_events.c.seq > seq)
            .values(seq=-audit_events.c.seq + 1)
        )
        conn.execute(
            audit_events.update().where(audit_events.c.seq < 0).values(seq=-audit_events.c.seq)
        )
        rehash_from(conn, seq)


def rehash_from(conn: sa.Connection, first: int) -> None:
    """What a careful attacker does: recompute every hash from event *first* on, and the head."""
    prev = (
        conn.execute(
            sa.select(audit_events.c.hash).where(audit_events.c.seq == first - 1)
        ).scalar_one_or_none()
        or GENESIS_HASH
    )
    rows = conn.execute(
        sa.select(audit_events).where(audit_events.c.seq >= first).order_by(audit_events.c.seq)
    ).all()
    for row in rows:
        digest = event_hash(
            seq=row.seq,
            occurred_at=to_utc_text(row.occurred_at),
            actor_role=row.actor_role,
            actor_identity=row.actor_identity,
            action=row.action,
            subject=row.subject,
            outcome=row.outcome,
            details=row.details,
            prev_hash=prev,
        )
        conn.execute(
            audit_events.update()
            .where(audit_events.c.seq == row.seq)
            .values(prev_hash=prev, hash=digest)
        )
        prev = digest
    last = rows[-1].seq if rows else first - 1
    conn.execute(audit_head.update().values(seq=last, hash=prev))
