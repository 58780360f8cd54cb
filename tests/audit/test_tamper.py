"""Changing, removing, reordering and cutting off events are detected; the first bad is named."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.audit import AuditLog, event_hash, verify_chain
from issuer.store.schema import audit_checkpoints, audit_events
from issuer.store.types import to_utc_text
from tests.audit.helpers import StepClock, append_many, rehash_from

EVENTS = 120
EVERY = 50


@dataclass(frozen=True)
class Chain:
    engine: sa.Engine
    key: ec.EllipticCurvePrivateKey
    log: AuditLog

    def verify(self, known_head: int | None = None) -> tuple[int | None, str]:
        result = verify_chain(self.engine, self.key.public_key(), known_head=known_head)
        assert result.ok == (result.first_bad_seq is None and result.problem is None)
        return result.first_bad_seq, result.problem or ""


@pytest.fixture
def chain(migrated: sa.Engine) -> Chain:
    key = ec.generate_private_key(ec.SECP256R1())
    log = AuditLog(signer=key, checkpoint_every=EVERY, clock=StepClock())
    append_many(migrated, log, EVENTS, batch=20)
    made = Chain(migrated, key, log)
    assert made.verify() == (None, "")
    return made


def _execute(chain: Chain, *statements: sa.Executable) -> None:
    with chain.engine.begin() as conn:
        for statement in statements:
            conn.execute(statement)


def _rehash_from(chain: Chain, first: int) -> None:
    with chain.engine.begin() as conn:
        rehash_from(conn, first)


@pytest.mark.parametrize(
    "change",
    [
        {"subject": "certificate:someone-else"},
        {"details": '{"n":36,"reason":"unspecified"}'},
        {"actor_identity": "CN=innocent"},
        {"outcome": "failure"},
        {"action": "certificate.issue"},
    ],
)
def test_a_changed_event_is_named(chain: Chain, change: dict[str, str]) -> None:
    _execute(chain, audit_events.update().where(audit_events.c.seq == 37).values(**change))
    bad, problem = chain.verify()
    assert bad == 37
    assert "event 37 was changed" in problem


def test_a_changed_time_is_named(chain: Chain) -> None:
    with chain.engine.connect() as conn:
        when = conn.execute(
            sa.select(audit_events.c.occurred_at).where(audit_events.c.seq == 80)
        ).scalar_one()
    _execute(
        chain,
        audit_events.update()
        .where(audit_events.c.seq == 80)
        .values(occurred_at=when.replace(year=2025)),
    )
    assert chain.verify()[0] == 80


def test_a_changed_event_with_its_own_hash_fixed_breaks_the_link(chain: Chain) -> None:
    _execute(chain, audit_events.update().where(audit_events.c.seq == 37).values(subject="x"))
    with chain.engine.connect() as conn:
        row = conn.execute(sa.select(audit_events).where(audit_events.c.seq == 37)).one()
    digest = event_hash(
        seq=37,
        occurred_at=to_utc_text(row.occurred_at),
        actor_role=row.actor_role,
        actor_identity=row.actor_identity,
        action=row.action,
        subject=row.subject,
        outcome=row.outcome,
        details=row.details,
        prev_hash=row.prev_hash,
    )
    _execute(chain, audit_events.update().where(audit_events.c.seq == 37).values(hash=digest))
    bad, problem = chain.verify()
    assert bad == 38
    assert "event 38 does not follow event 37" in problem


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(chain: Chain) -> None:
    _execute(chain, audit_events.update().where(audit_events.c.seq == 37).values(subject="x"))
    _rehash_from(chain, 37)
    bad, problem = chain.verify()
    assert bad == EVERY
    assert f"event {EVERY} disagrees with its signed checkpoint" in problem


def test_a_removed_event_is_named(chain: Chain) -> None:
    _execute(chain, audit_events.delete().where(audit_events.c.seq == 37))
    bad, problem = chain.verify()
    assert bad == 37
    assert "event 37 is missing" in problem


def test_a_removed_and_renumbered_event_is_named(chain: Chain) -> None:
    _execute(
        chain,
        audit_events.delete().where(audit_events.c.seq == 37),
        audit_events.update().where(audit_events.c.seq > 37).values(seq=audit_events.c.seq - 1000),
        audit_events.update().where(audit_events.c.seq < 0).values(seq=audit_events.c.seq + 999),
    )
    bad, problem = chain.verify()
    assert bad == 37
    assert "event 37 does not follow event 36" in problem


def test_reordered_events_are_named(chain: Chain) -> None:
    _execute(
        chain,
        audit_events.update().where(audit_events.c.seq == 20).values(seq=-1),
        audit_events.update().where(audit_events.c.seq == 21).values(seq=20),
        audit_events.update().where(audit_events.c.seq == -1).values(seq=21),
    )
    bad, problem = chain.verify()
    assert bad == 20
    assert "event 20 does not follow event 19" in problem


def test_a_cut_off_tail_is_named_by_the_head(chain: Chain) -> None:
    _execute(chain, audit_events.delete().where(audit_events.c.seq > 110))
    bad, problem = chain.verify()
    assert bad == 111
    assert f"events 111..{EVENTS} were cut off" in problem


def test_a_cut_off_tail_with_a_forged_head_is_named_by_a_checkpoint(chain: Chain) -> None:
    with chain.engine.begin() as conn:
        chain.log.checkpoint(conn)  # e.g. the nightly on-demand checkpoint
    _execute(chain, audit_events.delete().where(audit_events.c.seq > 110))
    _rehash_from(chain, 110)  # also sets the head to event 110
    bad, problem = chain.verify()
    assert bad == 111
    assert f"a signed checkpoint covers event {EVENTS}" in problem


def test_a_cut_tail_head_and_checkpoints_need_the_auditors_known_head(chain: Chain) -> None:
    """Whoever may delete rows may delete head and checkpoints too: the auditor's record counts."""
    _execute(
        chain,
        audit_events.delete().where(audit_events.c.seq > 110),
        audit_checkpoints.delete().where(audit_checkpoints.c.seq > 110),
    )
    _rehash_from(chain, 110)
    assert chain.verify() == (None, "")
    bad, problem = chain.verify(known_head=EVENTS)
    assert bad == 111
    assert f"event {EVENTS} was seen before" in problem


def test_an_event_added_behind_the_engines_back_is_named(chain: Chain) -> None:
    with chain.engine.connect() as conn:
        last = conn.execute(sa.select(audit_events).where(audit_events.c.seq == EVENTS)).one()
    values = dict(last._mapping)
    values.update(seq=EVENTS + 1, prev_hash=last.hash, subject="certificate:forged")
    values["hash"] = event_hash(
        seq=EVENTS + 1,
        occurred_at=to_utc_text(last.occurred_at),
        actor_role=last.actor_role,
        actor_identity=last.actor_identity,
        action=last.action,
        subject="certificate:forged",
        outcome=last.outcome,
        details=last.details,
        prev_hash=last.hash,
    )
    _execute(chain, audit_events.insert().values(**values))
    bad, problem = chain.verify()
    assert bad == EVENTS + 1
    assert "head records event" in problem


def test_a_forged_checkpoint_is_named(chain: Chain) -> None:
    _execute(
        chain,
        audit_checkpoints.update().where(audit_checkpoints.c.seq == EVERY).values(hash="f" * 64),
    )
    bad, problem = chain.verify()
    assert bad == EVERY
    assert "signature that does not verify" in problem


def test_the_wrong_public_key_is_named(chain: Chain) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    result = verify_chain(chain.engine, other)
    assert not result.ok
    assert result.first_bad_seq == EVERY
    assert "check that the right public key was given" in (result.problem or "")
