"""Helpers shared by the audit tests and their worker processes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.audit import AuditEvent, AuditLog
from issuer.store import create_engine_for


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
