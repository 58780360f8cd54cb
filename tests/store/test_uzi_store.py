"""SqlUziChallengeStore: the UziChallengeStore protocol on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from issuer.store import DuplicateKeyError
from issuer.store.schema import uzi_sessions
from issuer.store.uzi import SqlUziChallengeStore
from issuer.uzi.card import UziIdentity
from issuer.uzi.store import ChallengeRecord, ChallengeState, UziSessionRecord
from issuer.uzi_vocabulary import AgbCode, CardType, RoleCode, Ura, UziNumber

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)

IDENTITY = UziIdentity(
    uzi_number=UziNumber("900000001"),
    card_type=CardType("Z"),
    subscriber_number=Ura("90000123"),
    role=RoleCode("01.015"),
    agb_code=AgbCode("00000000"),
    given_name="Zoë",
    surname="Jansen",
    common_name="Zoë Jansen",
    title=None,
    organization="Test Zorg BV",
)


def _challenge(cid: str = "c1", expires: datetime = T0 + timedelta(minutes=5)) -> ChallengeRecord:
    return ChallengeRecord(challenge_id=cid, nonce=b"\x01" * 32, expires_at=expires, portal="p-a")


def test_a_challenge_is_consumed_once(migrated: sa.Engine) -> None:
    store = SqlUziChallengeStore(migrated, clock=lambda: T0)
    store.create_challenge(_challenge())
    assert store.challenge_state("c1") is ChallengeState.OPEN
    assert store.challenge_state("nope") is ChallengeState.UNKNOWN
    # Another portal's attempt leaves it open for the portal it was made for.
    assert store.consume_challenge("c1", T0 + timedelta(seconds=4), portal="p-b") is None
    assert store.challenge_state("c1") is ChallengeState.OPEN
    got = store.consume_challenge("c1", T0 + timedelta(seconds=5), portal="p-a")
    assert got == _challenge()
    assert store.consume_challenge("c1", T0 + timedelta(seconds=6), portal="p-a") is None
    assert store.challenge_state("c1") is ChallengeState.USED
    assert store.consume_challenge("nope", T0, portal="p-a") is None


def test_an_expired_challenge_is_still_consumed(migrated: sa.Engine) -> None:
    store = SqlUziChallengeStore(migrated)
    store.create_challenge(_challenge("old", expires=T0))
    got = store.consume_challenge("old", T0 + timedelta(hours=1), portal="p-a")
    assert got is not None and got.expires_at == T0
    assert store.challenge_state("old") is ChallengeState.USED


def test_a_duplicate_challenge_id_is_refused(migrated: sa.Engine) -> None:
    store = SqlUziChallengeStore(migrated)
    store.create_challenge(_challenge("dup"))
    with pytest.raises(DuplicateKeyError, match="UZI challenge with id dup already exists"):
        store.create_challenge(_challenge("dup"))


def test_concurrent_consumers_get_one_record(migrated: sa.Engine) -> None:
    store = SqlUziChallengeStore(migrated)
    store.create_challenge(_challenge("race"))
    barrier = threading.Barrier(8)
    got: list[ChallengeRecord | None] = []
    lock = threading.Lock()

    def consume() -> None:
        barrier.wait()
        result = store.consume_challenge("race", T0, portal="p-a")
        with lock:
            got.append(result)

    threads = [threading.Thread(target=consume) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([g for g in got if g is not None]) == 1
    assert got.count(None) == 7


def test_sessions_are_found_by_hash_until_they_expire(migrated: sa.Engine) -> None:
    store = SqlUziChallengeStore(migrated)
    handle = b"the-handle-the-portal-holds"
    digest = hashlib.sha256(handle).digest()
    record = UziSessionRecord(
        handle_sha256=digest,
        expires_at=T0 + timedelta(minutes=15),
        purpose="registration",
        portal="p-a",
        identity=IDENTITY,
    )
    store.create_session(record)
    assert store.find_session(digest, T0) == record
    assert store.find_session(digest, T0 + timedelta(minutes=15)) is None
    assert store.find_session(hashlib.sha256(b"other").digest(), T0) is None
    with migrated.connect() as conn:
        stored = conn.execute(sa.select(uzi_sessions.c.handle_sha256)).scalar_one()
    assert stored == digest.hex()
    with pytest.raises(DuplicateKeyError, match="sha256:"):
        store.create_session(record)
