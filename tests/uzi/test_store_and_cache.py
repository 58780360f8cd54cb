"""The SQL challenge store (SQLite and PostgreSQL) under concurrency; the path cache."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.serialization import Encoding

from issuer.store.uzi import SqlUziChallengeStore
from issuer.uzi import errors
from issuer.uzi.card import load_certificates
from issuer.uzi.crl import CrlCache, CrlRefresher
from issuer.uzi.errors import UziError
from issuer.uzi.store import ChallengeRecord, ChallengeState
from issuer.uzi.trust import load_trust_set
from issuer.uzi.validate import ChainValidator, RevocationMode
from tests.store.dbfixtures import Database
from tests.uzi.conftest import NOW, World


def test_concurrent_consume_has_exactly_one_winner(
    migrated: sa.Engine, migrated_db: Database
) -> None:
    SqlUziChallengeStore(migrated).create_challenge(
        ChallengeRecord(
            challenge_id="c1", nonce=b"n" * 32, expires_at=NOW + timedelta(minutes=5), portal="p"
        )
    )
    # Separate stores on separate engines: separate connections, as separate processes have.
    engines = [migrated_db.engine() for _ in range(8)]
    stores = [SqlUziChallengeStore(e) for e in engines]
    winners: list[object] = []
    barrier = threading.Barrier(len(stores))

    def consume(store: SqlUziChallengeStore) -> None:
        barrier.wait()
        got = store.consume_challenge("c1", NOW, portal="p")
        if got is not None:
            winners.append(got)

    threads = [threading.Thread(target=consume, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    assert len(winners) == 1
    store = SqlUziChallengeStore(migrated)
    assert store.challenge_state("c1") is ChallengeState.USED
    assert store.challenge_state("nope") is ChallengeState.UNKNOWN


def test_store_refuses_naive_datetimes(migrated: sa.Engine) -> None:
    store = SqlUziChallengeStore(migrated)
    with pytest.raises(sa.exc.StatementError, match="naive"):
        store.consume_challenge("c1", NOW.replace(tzinfo=None), portal="p")


def _validate(validator: ChainValidator, uzi: World, data: bytes, at: object) -> object:
    certs = load_certificates(data)
    trust = load_trust_set(str(uzi.trust_dir))
    return validator.validate(
        certs[0],
        anchors=trust.anchors,
        intermediates=[*certs[1:], *trust.intermediates],
        at=at,  # type: ignore[arg-type]
        revocation=RevocationMode.HARD,
        key_usage=frozenset({"digital_signature"}),
    )


def _validator(uzi: World) -> ChainValidator:
    """A validator whose cache holds the trust set's CRLs (fetched by a refresher, then stopped)."""
    cache = CrlCache()
    cache.want(load_trust_set(str(uzi.trust_dir)).crl_urls)
    refresher = CrlRefresher(cache, clock=lambda: NOW)
    refresher.start()
    try:
        assert refresher.refresh_now(timeout=30)
    finally:
        refresher.stop()
    return ChainValidator(crls=cache)


def test_path_cache_is_used_and_bounded_by_time_and_crls(uzi: World, tmp_path: Path) -> None:
    validator = _validator(uzi)
    card = uzi.world.issue_card("N")
    pem = b"".join(c.public_bytes(Encoding.PEM) for c in (card.auth, *card.chain))
    first = _validate(validator, uzi, pem, NOW)
    again = _validate(validator, uzi, pem, NOW + timedelta(minutes=1))
    assert first.from_cache is False and again.from_cache is True  # type: ignore[attr-defined]
    # A CRL loaded from a file that revokes the card changes the CRLs in force: no reuse.
    uzi.world.revoke(card.auth)
    crl_file = tmp_path / "n.crl"
    crl_file.write_bytes(uzi.world.crl(uzi.world.cas["N"]))
    validator.crls.load_file(crl_file)
    with pytest.raises(UziError) as info:
        _validate(validator, uzi, pem, NOW + timedelta(minutes=2))
    assert info.value.code == errors.REVOKED


def test_path_cache_is_not_used_after_the_card_expires(uzi: World) -> None:
    validator = _validator(uzi)
    card = uzi.world.issue_card("Z", not_after=NOW + timedelta(hours=1))
    pem = b"".join(c.public_bytes(Encoding.PEM) for c in (card.auth, *card.chain))
    _validate(validator, uzi, pem, NOW)
    with pytest.raises(UziError) as info:
        _validate(validator, uzi, pem, NOW + timedelta(hours=1, seconds=5))
    assert info.value.code == errors.EXPIRED
