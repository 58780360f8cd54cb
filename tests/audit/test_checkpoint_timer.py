"""A running engine signs checkpoints on a timer and at shutdown (issue 16, item 10).

Before, only every 1000th event was checkpointed: a dev run had 700 events and
no checkpoint, and removing an event and recomputing the chain passed
``audit verify``. The timer signs the head when events were appended since the
last checkpoint; a rewrite before a checkpoint is then caught.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.audit import AuditLog, CheckpointTimer, events_after_checkpoint, verify_chain
from issuer.cli import main
from issuer.store.schema import audit_checkpoints, audit_head
from tests.audit.helpers import StepClock, append_many, remove_and_rechain
from tests.store.dbfixtures import Database

WAIT_SECONDS = 30.0
"""Generous: the machine is shared; the timer's interval in these tests is 0.2 s."""


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def log() -> AuditLog:
    """Appends without a signer: only the timer signs checkpoints here."""
    return AuditLog(clock=StepClock())


@pytest.fixture
def timer(migrated: sa.Engine, key: ec.EllipticCurvePrivateKey) -> Iterator[CheckpointTimer]:
    made = CheckpointTimer(engine=migrated, signer=lambda: key, interval=0.2)
    made.start()
    yield made
    made.stop()


def _head(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(audit_head.c.seq)).scalar_one())


def _checkpointed(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(sa.select(audit_checkpoints.c.seq).order_by(audit_checkpoints.c.seq))
            .scalars()
            .all()
        )


def _await_checkpoint_at(engine: sa.Engine, seq: int) -> None:
    """Wait (bounded) until a checkpoint covers event *seq*, signed by the timer's thread."""
    deadline = time.monotonic() + WAIT_SECONDS
    while seq not in _checkpointed(engine):
        assert time.monotonic() < deadline, f"no checkpoint at {seq}: {_checkpointed(engine)}"
        time.sleep(0.05)


def test_appended_events_get_a_checkpoint_within_the_interval(
    migrated: sa.Engine, log: AuditLog, timer: CheckpointTimer
) -> None:
    append_many(migrated, log, 30)
    _await_checkpoint_at(migrated, 30)
    append_many(migrated, log, 4)
    _await_checkpoint_at(migrated, 34)
    with migrated.connect() as conn:
        assert events_after_checkpoint(conn) == 0


def test_a_quiet_chain_gets_no_new_checkpoint(
    migrated: sa.Engine, log: AuditLog, key: ec.EllipticCurvePrivateKey
) -> None:
    timer = CheckpointTimer(engine=migrated, signer=lambda: key, interval=3600)
    assert timer.tick() is None  # empty chain
    append_many(migrated, log, 3)
    made = timer.tick()
    assert made is not None and made.seq == 3
    assert timer.tick() is None  # nothing appended since
    assert _checkpointed(migrated) == [3]


def test_stop_signs_the_events_appended_since_the_last_pass(
    migrated: sa.Engine, log: AuditLog, key: ec.EllipticCurvePrivateKey
) -> None:
    timer = CheckpointTimer(engine=migrated, signer=lambda: key, interval=3600)
    timer.start()
    append_many(migrated, log, 12)
    assert _checkpointed(migrated) == []
    timer.stop()  # the server's shutdown
    assert _checkpointed(migrated) == [12]


def test_a_signer_failure_is_retried_at_the_next_pass(
    migrated: sa.Engine, log: AuditLog, key: ec.EllipticCurvePrivateKey
) -> None:
    """An HSM that is away must not stop the timer; the next pass signs."""
    calls: list[int] = []

    def flaky() -> ec.EllipticCurvePrivateKey:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("token not present")
        return key

    timer = CheckpointTimer(engine=migrated, signer=flaky, interval=0.2)
    append_many(migrated, log, 5)
    timer.start()
    try:
        _await_checkpoint_at(migrated, 5)
    finally:
        timer.stop()
    assert len(calls) == 2


def _public_pem(key: ec.EllipticCurvePrivateKey, folder: Path) -> Path:
    path = folder / "audit-checkpoint.pub.pem"
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def test_removing_an_event_before_the_timers_checkpoint_fails_verify(
    migrated_db: Database,
    migrated: sa.Engine,
    log: AuditLog,
    key: ec.EllipticCurvePrivateKey,
    timer: CheckpointTimer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    append_many(migrated, log, 40, batch=40)
    _await_checkpoint_at(migrated, 40)
    append_many(migrated, log, 3, batch=3)  # a stretch after it, as in any running engine
    remove_and_rechain(migrated, 17)
    result = verify_chain(migrated, key.public_key())
    assert not result.ok
    assert result.first_bad_seq == 40
    assert "event 40 disagrees with its signed checkpoint" in (result.problem or "")
    args = ["audit", "verify", "--database", migrated_db.cli_url]
    assert main([*args, "--public-key", str(_public_pem(key, tmp_path))]) == 1
    assert "audit chain BROKEN at event 40" in capsys.readouterr().err
