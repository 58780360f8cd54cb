"""Appending and verifying: many events, checkpoints, rollback, an HSM checkpoint key."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsm import Hsm, KeySpec
from issuer.audit import (
    GENESIS_HASH,
    AuditError,
    AuditEvent,
    AuditLog,
    event_hash,
    verify_chain,
)
from issuer.store.schema import audit_checkpoints, audit_events, audit_head, organisations
from tests.audit.helpers import StepClock, append_many, event
from tests.softhsm import SoftHsmToken


def test_append_many_then_verify(migrated: sa.Engine) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    log = AuditLog(signer=key, checkpoint_every=25, clock=StepClock())
    append_many(migrated, log, 260)
    result = verify_chain(migrated, key.public_key())
    assert result.ok, result.problem
    assert result.events_checked == 260
    assert result.checkpoints_checked == 10
    assert result.last_seq == 260
    assert result.first_bad_seq is None
    with migrated.connect() as conn:
        head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).one()
        first = conn.execute(sa.select(audit_events).where(audit_events.c.seq == 1)).one()
    assert tuple(head) == (260, result.last_hash)
    assert first.prev_hash == GENESIS_HASH
    # the documented encoding (docs/audit.md) reproduces the stored hash
    assert first.hash == event_hash(
        seq=1,
        occurred_at="2026-11-28T09:00:00.001000Z",
        actor_role="operator",
        actor_identity="CN=operator-1,O=Test",
        action="certificate.revoke",
        subject=f"certificate:{'a' * 64}:0",
        outcome="success",
        details='{"n":0,"naam":"Zo\\u00eb van der Berg","reason":"keyCompromise"}',
        prev_hash=GENESIS_HASH,
    )


def test_event_lands_with_its_change_or_not_at_all(migrated: sa.Engine) -> None:
    log = AuditLog(clock=StepClock())
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with pytest.raises(RuntimeError), migrated.begin() as conn:
        conn.execute(
            organisations.insert().values(
                id="o1", ura="12345678", name="Zorg BV", registered_at=now, registered_by="op"
            )
        )
        log.append(conn, event(1))
        raise RuntimeError("the request failed after the audit append")
    with migrated.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(organisations)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar() == 0
        assert conn.execute(sa.select(audit_head.c.seq)).scalar() == 0
    with migrated.begin() as conn:
        appended = log.append(conn, event(2))
    assert appended.seq == 1
    assert verify_chain(migrated, None).ok


def test_on_demand_checkpoint(migrated: sa.Engine) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    log = AuditLog(signer=key, checkpoint_every=1000, clock=StepClock())
    with migrated.begin() as conn:
        assert log.checkpoint(conn) is None  # empty chain: nothing to vouch for
    append_many(migrated, log, 5)
    with migrated.begin() as conn:
        made = log.checkpoint(conn)
        again = log.checkpoint(conn)
    assert made is not None and made.seq == 5
    assert again == made
    result = verify_chain(migrated, key.public_key())
    assert result.ok and result.checkpoints_checked == 1
    with pytest.raises(AuditError, match="needs the audit key"), migrated.begin() as conn:
        AuditLog().checkpoint(conn)


def test_checkpoints_need_the_public_key_to_count(migrated: sa.Engine) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    append_many(migrated, AuditLog(signer=key, checkpoint_every=2), 3)
    result = verify_chain(migrated, None)
    assert not result.ok
    assert "cannot be checked without the audit public key" in (result.problem or "")


def test_checkpoints_signed_by_the_hsm_key(migrated: sa.Engine, engine_token: SoftHsmToken) -> None:
    hsm = Hsm.open(
        module_path=engine_token.module,
        token_label=engine_token.label,
        pin_source=f"file:{engine_token.pin_file}",
    )
    key = hsm.generate_key(f"audit-{secrets.token_hex(4)}", KeySpec.EC_P256)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    log = AuditLog(signer=key, checkpoint_every=10, clock=StepClock())
    append_many(migrated, log, 30)
    result = verify_chain(migrated, key.public_key())
    assert result.ok, result.problem
    assert result.checkpoints_checked == 3
    with migrated.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_checkpoints)).scalar() == 3


def test_bad_events_are_refused_before_anything_is_written(migrated: sa.Engine) -> None:
    with pytest.raises(AuditError, match="expected one of"):
        AuditEvent(actor_role="r", actor_identity="i", action="a", subject="s", outcome="maybe")
    with pytest.raises(AuditError, match="actor_identity is empty"):
        AuditEvent(actor_role="r", actor_identity="", action="a", subject="s")
    with pytest.raises(AuditError, match="subject is 513 characters, expected at most 512"):
        AuditEvent(actor_role="r", actor_identity="i", action="a", subject="s" * 513)
    longest = AuditEvent(actor_role="r", actor_identity="i" * 512, action="a", subject="s" * 512)
    with migrated.begin() as conn:
        AuditLog().append(conn, longest)  # fits on both back ends
    assert verify_chain(migrated, None).ok
