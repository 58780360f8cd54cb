"""Pre-signing and refresh (RFC 5019 §4): responses re-signed at the refresh point, missing
ones signed, revocations reflected within one refresh, the cache bounded in time, and the
serving path never touching the HSM."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from asn1crypto import ocsp as asn1_ocsp

from issuer.store import repo
from ocsp.codec import response_cert_state
from ocsp.responder import Answer
from tests.ocsp.conftest import OcspEnv, Pki, http_app, make_env, serve_app
from tests.ocsp.helpers import get_path, http, make_request


def _this_update(der: bytes) -> object:
    basic = asn1_ocsp.OCSPResponse.load(der).basic_ocsp_response
    return basic["tbs_response_data"]["responses"][0]["this_update"].native


def test_presigned_response_covers_sha1_and_sha256(env: OcspEnv) -> None:
    cert = env.issue()
    stored = env.service.responses.get(env.pki.issuer_id, cert.serial)
    assert stored is not None
    basic = asn1_ocsp.OCSPResponse.load(stored.der).basic_ocsp_response
    algs = [
        s["cert_id"]["hash_algorithm"]["algorithm"].native
        for s in basic["tbs_response_data"]["responses"]
    ]
    assert algs == ["sha1", "sha256"]
    assert stored.next_update - stored.this_update == env.service.timing.validity


def test_refresh_resigns_only_past_the_refresh_point(env: OcspEnv) -> None:
    cert = env.issue()
    before = env.service.responses.get(env.pki.issuer_id, cert.serial)
    assert before is not None
    assert env.service.refresh().signed == 0  # fresh: nothing due
    env.clock.advance(env.service.timing.refresh_after + timedelta(seconds=1))
    seen: list[tuple[int, int]] = []
    report = env.service.refresh(progress=lambda done, total: seen.append((done, total)))
    assert report.signed == 1 and report.failed == 0
    assert seen == [(1, 1)]
    after = env.service.responses.get(env.pki.issuer_id, cert.serial)
    assert after is not None and after.this_update > before.this_update
    assert env.service.refresh().signed == 0


def test_refresh_signs_missing_responses_but_not_expired_certificates(env: OcspEnv) -> None:
    missing = env.issue(presign=False)
    assert env.service.responses.get(env.pki.issuer_id, missing.serial) is None
    assert env.service.refresh().signed == 1
    assert env.service.responses.get(env.pki.issuer_id, missing.serial) is not None
    short = env.issue(presign=False, days=1)
    env.clock.advance(timedelta(days=2))
    env.service.refresh()
    assert env.service.responses.get(env.pki.issuer_id, short.serial) is None


def test_revocation_without_its_hook_is_reflected_within_one_refresh(
    env: OcspEnv, tmp_path: Path
) -> None:
    """Another node revoked in the store and died before re-signing: the next refresh catches up."""
    cert = env.issue()
    env.service.crls.publish(env.pki.issuer_id)
    with env.engine.begin() as conn:
        assert repo.revoke_certificate(
            conn,
            issuer=env.pki.issuer_id,
            serial=cert.serial_hex,
            at=env.clock(),
            reason="keyCompromise",
        )
    stored = env.service.responses.get(env.pki.issuer_id, cert.serial)
    assert stored is not None and response_cert_state(stored.der) == "good"
    env.clock.advance(env.service.timing.crl_refresh_after + timedelta(seconds=1))
    env.service.refresh()
    stored = env.service.responses.get(env.pki.issuer_id, cert.serial)
    assert stored is not None and response_cert_state(stored.der) == "revoked"
    latest = env.service.crl_store.latest(env.pki.issuer_id)
    assert latest is not None and latest.number == 2
    from cryptography import x509

    assert x509.load_der_x509_crl(latest.der).get_revoked_certificate_by_serial_number(cert.serial)


def test_cache_bounds_how_late_another_nodes_revocation_is_seen(
    pki: Pki, migrated: sa.Engine, tmp_path: Path
) -> None:
    """Two responders on one database: node B caches; node A revokes; B sees it after its TTL."""
    node_a = make_env(pki, migrated, tmp_path)
    node_b = make_env(pki, migrated, tmp_path, cache=30.0)
    cert = node_a.issue()
    der = make_request(pki.issuing_pem, f"-cert {cert.pem}", out=tmp_path / "req.der")
    served, stop = serve_app(http_app(node_b))
    try:
        first = http(served.port, "GET", get_path(der))
        node_a.revoke(cert)
        cached = http(served.port, "GET", get_path(der))
        assert cached.body == first.body  # still within node B's 30 s cache
        node_b.clock.advance(timedelta(seconds=31))
        fresh = http(served.port, "GET", get_path(der))
        assert response_cert_state(fresh.body) == "revoked"
    finally:
        stop()


def test_the_feed_brings_another_nodes_revocation_within_seconds(
    pki: Pki, migrated: sa.Engine, tmp_path: Path
) -> None:
    """Node B keeps answers a minute (``keep_seconds``) and reads the store's change feed
    every second: past its 10 s ``cache_seconds`` it still answers from memory, and node A's
    revocation reaches it in about a second, not after those 10 s (nor the minute)."""
    node_a = make_env(pki, migrated, tmp_path)
    node_b = make_env(pki, migrated, tmp_path, cache=10.0, keep=60.0)
    cert, other = node_a.issue(), node_a.issue()
    der = make_request(pki.issuing_pem, f"-cert {cert.pem}", out=tmp_path / "req.der")
    other_der = make_request(pki.issuing_pem, f"-cert {other.pem}", out=tmp_path / "o.der")
    answers: list[Answer] = []
    served, stop = serve_app(http_app(node_b, on_answer=answers.append))
    try:
        first = http(served.port, "GET", get_path(der))
        assert response_cert_state(first.body) == "good"
        http(served.port, "GET", get_path(other_der))
        for node in (node_a, node_b):  # past cache_seconds, within keep_seconds (the nodes'
            node.clock.advance(timedelta(seconds=20))  # clocks agree, as NTP keeps them)
        time.sleep(1.2)  # a feed read is due (real time: the feed's thread reads the store)
        http(served.port, "GET", get_path(other_der))  # read again: no feed read for 20 s
        for _ in range(20):
            assert http(served.port, "GET", get_path(der)).body == first.body
            time.sleep(0.05)
        assert answers[-1].cached  # from memory, 1 s and more after the store was read
        node_a.revoke(cert)
        revoked_at = time.monotonic()
        while time.monotonic() - revoked_at < 10:
            if response_cert_state(http(served.port, "GET", get_path(der)).body) == "revoked":
                break
            time.sleep(0.05)
        seen_after = time.monotonic() - revoked_at
        assert seen_after < 3, f"node B served the revocation after {seen_after:.1f} s"
        assert response_cert_state(http(served.port, "GET", get_path(other_der)).body) == "good"
        assert answers[-1].cached  # the other certificate's answer was not ended
    finally:
        stop()


def test_serving_presigned_never_signs(
    env: OcspEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert = env.issue()
    der = make_request(env.pki.issuing_pem, f"-cert {cert.pem}", out=tmp_path / "req.der")

    def no_hsm(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("the serving path signed")

    monkeypatch.setattr(env.service.signer, "_sign", no_hsm)
    answer = env.service.responder.answer(der)
    assert answer.outcome == "successful" and answer.cacheable


def test_stale_response_is_resigned_on_demand(env: OcspEnv, tmp_path: Path) -> None:
    cert = env.issue()
    der = make_request(env.pki.issuing_pem, f"-cert {cert.pem}", out=tmp_path / "req.der")
    env.clock.advance(env.service.timing.validity + timedelta(minutes=1))
    answer = env.service.responder.answer(der)
    assert answer.outcome == "successful"
    assert answer.next_update is not None and answer.next_update > env.clock()


def test_hsm_down_gives_try_later_or_the_presigned_answer(
    env: OcspEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 6960 §2.3 tryLater when a signature is needed; RFC 8954 §2.1 fallback for a nonce."""
    from hsm import HsmUnavailable

    cert, other = env.issue(), env.issue()
    nonce = make_request(env.pki.issuing_pem, f"-cert {cert.pem}", nonce=True, out=tmp_path / "n")
    several = make_request(
        env.pki.issuing_pem, f"-cert {cert.pem}", f"-cert {other.pem}", out=tmp_path / "s"
    )
    unknown = make_request(env.pki.issuing_pem, "-serial 0x56", out=tmp_path / "u")

    def down(*args: object, **kwargs: object) -> bytes:
        raise HsmUnavailable("token removed (test)")

    monkeypatch.setattr(env.service.signer, "_sign", down)
    fallback = env.service.responder.answer(nonce)
    assert fallback.outcome == "successful" and fallback.cacheable  # pre-signed, no nonce
    assert response_cert_state(fallback.der) == "good"
    assert env.service.responder.answer(several).outcome == "tryLater"
    assert env.service.responder.answer(unknown).outcome == "unauthorized"  # needs no HSM
