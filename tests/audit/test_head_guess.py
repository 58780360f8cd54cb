"""An append chains onto the head it last wrote only when the database still has that head.

(issuer.audit.log: ``AuditLog._head`` is a guess the conditional head UPDATE checks.)
"""

from __future__ import annotations

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.audit import AuditLog, verify_chain
from issuer.store.schema import audit_events, audit_head
from tests.audit.helpers import StepClock, append_many, event


def _head(engine: sa.Engine) -> tuple[int, str]:
    with engine.connect() as conn:
        seq, digest = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).one()
    return int(seq), str(digest)


def test_two_logs_taking_turns_keep_one_chain(migrated: sa.Engine) -> None:
    """Another process's appends move the head behind this one's back: read, not guessed."""
    key = ec.generate_private_key(ec.SECP256R1())
    clock = StepClock()
    first = AuditLog(signer=key, checkpoint_every=5, clock=clock)
    second = AuditLog(signer=key, checkpoint_every=5, clock=clock)
    for turn in range(6):
        append_many(migrated, first if turn % 2 == 0 else second, 3, actor=f"op-{turn}")
    result = verify_chain(migrated, key.public_key())
    assert result.ok, result.problem
    assert result.events_checked == 18 and result.checkpoints_checked == 3
    assert _head(migrated) == (18, result.last_hash)


def test_a_rolled_back_append_is_not_chained_onto(migrated: sa.Engine) -> None:
    log = AuditLog(clock=StepClock())
    append_many(migrated, log, 2)
    with migrated.connect() as conn, conn.begin() as trans:
        log.append(conn, event(99))
        trans.rollback()  # the log's guess (seq 3) never reached the database
    append_many(migrated, log, 2)
    result = verify_chain(migrated, None)
    assert result.ok, result.problem
    assert result.last_seq == 4
    with migrated.connect() as conn:
        seqs = conn.execute(sa.select(audit_events.c.seq).order_by(audit_events.c.seq)).scalars()
        assert list(seqs) == [1, 2, 3, 4]


def test_a_rolled_back_savepoint_is_not_chained_onto(migrated: sa.Engine) -> None:
    """A group-commit unit rolled back to its savepoint while the batch commits."""
    log = AuditLog(clock=StepClock())
    append_many(migrated, log, 1)
    with migrated.begin() as conn:
        nested = conn.begin_nested()
        log.append(conn, event(1))
        nested.rollback()
        log.append(conn, event(2))
    result = verify_chain(migrated, None)
    assert result.ok, result.problem
    assert result.last_seq == 2


def test_a_head_changed_in_the_database_wins_over_the_guess(migrated: sa.Engine) -> None:
    """The head the next append chains onto is the database's, whatever this log wrote."""
    log = AuditLog(clock=StepClock())
    append_many(migrated, log, 3)
    other = AuditLog(clock=StepClock())
    append_many(migrated, other, 1)  # seq 4, unknown to `log`
    append_many(migrated, log, 1)
    with migrated.connect() as conn:
        fifth = conn.execute(sa.select(audit_events).where(audit_events.c.seq == 5)).one()
        fourth = conn.execute(sa.select(audit_events).where(audit_events.c.seq == 4)).one()
    assert fifth.prev_hash == fourth.hash
    assert verify_chain(migrated, None).ok
