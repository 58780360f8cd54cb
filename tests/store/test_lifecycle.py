"""Revocation once, newest OCSP response wins, increasing CRL numbers, login once, crash list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from issuer.store import CrlNumberError
from issuer.store.repo import (
    CertificateRecord,
    answer_login_challenge,
    collect_login_challenge,
    next_crl_number,
    open_reservations,
    reserve_serial,
    revoke_certificate,
    save_ocsp_response,
    store_certificate,
    store_crl,
)
from issuer.store.schema import certificates, login_challenges, ocsp_responses

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ISSUER = "e" * 64


def _issue(conn: sa.Connection, serial: str) -> str:
    reserve_serial(
        conn, issuer=ISSUER, serial=serial, request_sha256="0" * 64, policy_version=1, now=T0
    )
    return store_certificate(
        conn,
        CertificateRecord(
            issuer=ISSUER,
            serial=serial,
            der=b"cert",
            not_before=T0,
            not_after=T0 + timedelta(days=365),
            policy_version=1,
            spki_sha256="1" * 64,
        ),
        now=T0,
    )


def test_revocation_happens_once_and_keeps_its_first_time(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        _issue(conn, "51")
        assert revoke_certificate(conn, issuer=ISSUER, serial="51", at=T0, reason="keyCompromise")
        later = T0 + timedelta(hours=1)
        assert not revoke_certificate(
            conn, issuer=ISSUER, serial="51", at=later, reason="superseded"
        )
        assert not revoke_certificate(conn, issuer=ISSUER, serial="99", at=T0, reason="superseded")
        row = conn.execute(sa.select(certificates)).one()
    assert (row.status, row.revoked_at, row.revocation_reason) == ("revoked", T0, "keyCompromise")
    with pytest.raises(ValueError, match="certificateHold"), migrated.begin() as conn:
        revoke_certificate(conn, issuer=ISSUER, serial="51", at=T0, reason="certificateHold")


def test_the_newest_ocsp_response_wins(migrated: sa.Engine) -> None:
    def save(conn: sa.Connection, der: bytes, produced: datetime, *, revoked: bool = False) -> bool:
        return save_ocsp_response(
            conn,
            issuer=ISSUER,
            serial="52",
            der=der,
            this_update=produced,
            next_update=produced + timedelta(days=1),
            produced_at=produced,
            wins_ties=revoked,
        )

    with migrated.begin() as conn:
        _issue(conn, "52")
        assert save(conn, b"good@1", T0 + timedelta(minutes=1))
        assert save(conn, b"revoked@3", T0 + timedelta(minutes=3))
        assert not save(conn, b"good@2-slow-node", T0 + timedelta(minutes=2))
        assert not save(conn, b"same-time", T0 + timedelta(minutes=3))
        stored = conn.execute(sa.select(ocsp_responses.c.der)).scalar_one()
    assert stored == b"revoked@3"


def test_a_revocation_in_the_second_of_the_issuance_is_kept(migrated: sa.Engine) -> None:
    """producedAt has whole seconds: the revoked response of a certificate revoked in the
    second its good one was signed must replace it, and the good one must never win back."""
    at = T0 + timedelta(minutes=5)

    def save(conn: sa.Connection, der: bytes, *, revoked: bool) -> bool:
        return save_ocsp_response(
            conn,
            issuer=ISSUER,
            serial="54",
            der=der,
            this_update=at,
            next_update=at + timedelta(days=1),
            produced_at=at,
            wins_ties=revoked,
        )

    with migrated.begin() as conn:
        _issue(conn, "54")
        assert save(conn, b"good@5", revoked=False)
        assert save(conn, b"revoked@5", revoked=True)
        assert not save(conn, b"good@5-late", revoked=False)
        stored = conn.execute(
            sa.select(ocsp_responses.c.der).where(ocsp_responses.c.serial == "54")
        ).scalar_one()
    assert stored == b"revoked@5"


def test_crl_numbers_only_increase(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        assert next_crl_number(conn, issuer=ISSUER) == 1
        for number in (1, 2, 5):
            store_crl(
                conn, issuer=ISSUER, number=number, der=b"crl", this_update=T0, next_update=T0
            )
        assert next_crl_number(conn, issuer=ISSUER) == 6
        assert next_crl_number(conn, issuer="f" * 64) == 1
        with pytest.raises(CrlNumberError, match="highest stored is 5"):
            store_crl(conn, issuer=ISSUER, number=4, der=b"crl", this_update=T0, next_update=T0)


def test_a_login_is_answered_once_and_collected_once_by_its_portal(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        cert_id = _issue(conn, "53")
        for cid in ("login-1", "login-2"):
            conn.execute(
                login_challenges.insert().values(
                    id=cid,
                    nonce=b"n" * 32,
                    portal_identity="portal-a",
                    created_at=T0,
                    expires_at=T0 + timedelta(minutes=5),
                )
            )
    with migrated.begin() as conn:
        assert (
            collect_login_challenge(conn, challenge_id="login-1", portal_identity="portal-a", at=T0)
            is None
        )  # not answered yet
        assert answer_login_challenge(
            conn, challenge_id="login-1", at=T0, certificate_id=cert_id, signature=b"sig"
        )
        assert not answer_login_challenge(
            conn, challenge_id="login-1", at=T0, certificate_id=cert_id, signature=b"sig"
        )
        expired = T0 + timedelta(minutes=5)
        assert not answer_login_challenge(
            conn, challenge_id="login-2", at=expired, certificate_id=cert_id, signature=b"sig"
        )
        assert (
            collect_login_challenge(conn, challenge_id="login-1", portal_identity="portal-b", at=T0)
            is None
        )  # another portal
        got = collect_login_challenge(
            conn, challenge_id="login-1", portal_identity="portal-a", at=T0
        )
        assert got == cert_id
        assert (
            collect_login_challenge(conn, challenge_id="login-1", portal_identity="portal-a", at=T0)
            is None
        )


def test_interrupted_issuances_are_listed(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        _issue(conn, "54")
        reserve_serial(
            conn, issuer=ISSUER, serial="55", request_sha256="9" * 64, policy_version=2, now=T0
        )
        rows = open_reservations(conn, older_than=T0 + timedelta(minutes=10))
        assert open_reservations(conn, older_than=T0) == []
    assert [(r.serial, r.request_sha256, r.policy_version) for r in rows] == [("55", "9" * 64, 2)]
