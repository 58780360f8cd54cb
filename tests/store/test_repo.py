"""Rules the database enforces across processes: unique serials, single-use tokens."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from issuer.store import ReservationStateError, SerialInUseError
from issuer.store.repo import (
    CertificateRecord,
    consume_enrolment_token,
    count_failed_attempt,
    reserve_serial,
    store_certificate,
)
from issuer.store.schema import certificates, registrations, serial_reservations

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ISSUER_A = "a" * 64
ISSUER_B = "b" * 64


def _reserve(conn: sa.Connection, serial: str, issuer: str = ISSUER_A) -> None:
    reserve_serial(
        conn,
        issuer=issuer,
        serial=serial,
        request_sha256="c" * 64,
        policy_version=1,
        now=NOW,
    )


def _record(serial: str, issuer: str = ISSUER_A) -> CertificateRecord:
    return CertificateRecord(
        issuer=issuer,
        serial=serial,
        der=b"0\x03\x02\x01\x00",
        not_before=NOW,
        not_after=NOW + timedelta(days=365),
        policy_version=1,
        spki_sha256="d" * 64,
    )


def test_a_serial_is_reserved_once_per_issuer(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        _reserve(conn, "7f01")
        with pytest.raises(SerialInUseError, match="serial 7f01 is already reserved or used"):
            _reserve(conn, "7f01")
        # the clash left the transaction usable, and another issuer may use the same number
        _reserve(conn, "7f01", ISSUER_B)
        _reserve(conn, "7f02")
    with migrated.connect() as conn:
        rows = conn.execute(
            sa.select(serial_reservations.c.issuer, serial_reservations.c.serial).order_by(
                serial_reservations.c.issuer, serial_reservations.c.serial
            )
        ).all()
    assert [tuple(r) for r in rows] == [(ISSUER_A, "7f01"), (ISSUER_A, "7f02"), (ISSUER_B, "7f01")]


def test_certificate_needs_a_reservation_and_uses_it_once(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        _reserve(conn, "1234")
        store_certificate(conn, _record("1234"), now=NOW)
    with migrated.connect() as conn:
        state = conn.execute(
            sa.select(serial_reservations.c.state, serial_reservations.c.finished_at)
        ).one()
    assert tuple(state) == ("issued", NOW)
    # a second certificate with the same serial: refused (reservation no longer 'reserved')
    issued_twice = pytest.raises(ReservationStateError, match="in state issued, expected reserved")
    with issued_twice, migrated.begin() as conn:
        store_certificate(conn, _record("1234"), now=NOW)
    # never reserved: refused by the service and by the database itself
    with pytest.raises(ReservationStateError, match="no reservation"), migrated.begin() as conn:
        store_certificate(conn, _record("9999"), now=NOW)
    with pytest.raises(sa.exc.IntegrityError), migrated.begin() as conn:
        conn.execute(
            certificates.insert().values(
                id="raw",
                issuer=ISSUER_A,
                serial="9999",
                der=b"x",
                not_before=NOW,
                not_after=NOW,
                status="good",
                policy_version=1,
                spki_sha256="d" * 64,
                issued_at=NOW,
            )
        )
    # and the database refuses a duplicate (issuer, serial) even bypassing the functions
    with pytest.raises(sa.exc.IntegrityError), migrated.begin() as conn:
        conn.execute(
            certificates.insert().values(
                id="dup",
                issuer=ISSUER_A,
                serial="1234",
                der=b"x",
                not_before=NOW,
                not_after=NOW,
                status="good",
                policy_version=1,
                spki_sha256="d" * 64,
                issued_at=NOW,
            )
        )


def test_a_crash_leaves_the_intent(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        _reserve(conn, "abcd")
    with migrated.connect() as conn:
        row = conn.execute(sa.select(serial_reservations)).one()
    assert row.state == "reserved"
    assert row.request_sha256 == "c" * 64
    assert row.finished_at is None


@pytest.mark.parametrize("bad", ["", "00ff", "ABCD", "1" * 41, "xyz"])
def test_malformed_serials_are_refused(migrated: sa.Engine, bad: str) -> None:
    with pytest.raises(ValueError), migrated.begin() as conn:
        _reserve(conn, bad)


def _registration(conn: sa.Connection, token: str, *, expires: datetime) -> None:
    conn.execute(
        registrations.insert().values(
            id=token,
            kind="registration",
            state="confirmed",
            portal_identity="portal-a",
            token_sha256=hashlib.sha256(token.encode()).hexdigest(),
            token_expires_at=expires,
            created_at=NOW,
            updated_at=NOW,
        )
    )


def test_an_enrolment_token_is_used_once_under_concurrency(migrated: sa.Engine) -> None:
    digest = hashlib.sha256(b"tok-1").hexdigest()
    with migrated.begin() as conn:
        _registration(conn, "tok-1", expires=NOW + timedelta(days=10))
    winners: list[str | None] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def redeem() -> None:
        start.wait()
        with migrated.begin() as conn:
            got = consume_enrolment_token(conn, token_sha256=digest, now=NOW)
        with lock:
            winners.append(got)

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 8
    assert winners.count("tok-1") == 1
    assert winners.count(None) == 7


def test_an_expired_or_unknown_token_is_not_consumed(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        _registration(conn, "tok-2", expires=NOW)
        digest = hashlib.sha256(b"tok-2").hexdigest()
        assert consume_enrolment_token(conn, token_sha256=digest, now=NOW) is None
        assert consume_enrolment_token(conn, token_sha256="0" * 64, now=NOW) is None
        assert count_failed_attempt(conn, token_sha256=digest, now=NOW) == 1
        assert count_failed_attempt(conn, token_sha256=digest, now=NOW) == 2
        assert count_failed_attempt(conn, token_sha256="0" * 64, now=NOW) == 0
