"""The redemption's token read (``issuer.store.enrolments.TokenRead``) reads what SQLAlchemy reads.

It runs the compiled ``TOKEN_READ`` on a pooled DB-API connection with each
column's own result processor; on both back ends its row must equal the
SQLAlchemy ``Connection`` row field by field -- aware datetimes, the frozen
data as a dict -- before and after a redemption, and be None for an unknown
token.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from issuer.enrolment.tokens import new_token, token_sha256
from issuer.store.enrolments import TOKEN_READ, TokenRead
from testkit.phone import Phone
from tests.issuance.conftest import MOBILE, World


def _sqlalchemy_row(world: World, digest: str) -> tuple[object, ...] | None:
    with world.engine.connect() as conn:
        row = conn.execute(TOKEN_READ, {"digest": digest}).first()
    return None if row is None else tuple(row)


def test_the_fast_read_equals_the_sqlalchemy_read(
    world: World, new_phone: Callable[..., Phone]
) -> None:
    read = TokenRead(world.engine)
    enrolment = world.enrol()
    digest = token_sha256(enrolment.token)

    before = read(digest)
    assert before is not None
    assert tuple(before) == _sqlalchemy_row(world, digest)
    assert before.id == enrolment.registration_id and before.state == "confirmed"
    assert before.token_expires_at == enrolment.expires_at
    assert before.token_expires_at.tzinfo is not None
    assert before.token_expires_at.utcoffset() == UTC.utcoffset(None)
    assert isinstance(before.frozen_data, dict) and before.frozen_data["card_type"] == "Z"
    assert before.token_used_at is None and before.certificate_id is None
    assert before.failed_attempts == 0

    issued = world.redeemer.redeem(enrolment.token, new_phone().csr(), actor=MOBILE)
    after = read(digest)
    assert after is not None
    assert tuple(after) == _sqlalchemy_row(world, digest)
    assert after.state == "redeemed" and after.certificate_id == issued.certificate.id
    assert after.token_used_at is not None and after.csr_sha256 is not None

    assert read(token_sha256(new_token())) is None
