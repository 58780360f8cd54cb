"""Issue 16 item 4: nobody outside can make the HSM sign at will, over real HTTP.

The attacks: random never-issued serials (each used to cost a fresh ``unknown``
signature), one request with many CertIDs, and a burst of nonce'd requests for a
known serial (each nonce forces a fresh signature). Signatures are counted at the
HSM seam: every ``sign`` call of the delegated responder key on the token.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from asn1crypto import ocsp as asn1_ocsp

from ocsp.codec import response_cert_state
from ocsp.issuers import IssuingCa
from ocsp.responder import SigningRate
from tests.ocsp.conftest import OcspEnv, Pki, Served, http_app, make_env, serve_app
from tests.ocsp.helpers import build_request, get_path, http, post


@dataclass
class Signatures:
    """HSM signatures made with the responder key since the fixture started."""

    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def signatures(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> Signatures:
    label = pki.material.ocsp_responder_key_label
    key_class = type(pki.hsm.get_key(label))
    original = key_class.sign
    seen = Signatures()

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.label == label:
            with seen.lock:
                seen.count += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(key_class, "sign", counting)
    return seen


def _ca(env: OcspEnv) -> IssuingCa:
    return IssuingCa.from_certificate(env.pki.material.issuing_ca)


def _never_issued() -> int:
    return secrets.randbits(63) | 1 << 62  # positive, 8 octets, as the engine draws them


def _nonce_in(body: bytes) -> bytes | None:
    basic = asn1_ocsp.OCSPResponse.load(body).basic_ocsp_response
    for ext in basic["tbs_response_data"]["response_extensions"] or []:
        if ext["extn_id"].native == "nonce":
            return bytes(ext["extn_value"].parsed.native)
    return None


def test_never_issued_serials_are_unauthorized_without_a_signature(
    env: OcspEnv, served: Served, signatures: Signatures
) -> None:
    """RFC 5019 §2.2.3 ``unauthorized``, the same fixed bytes each time: no HSM, no cache."""
    known = env.issue()
    ca = _ca(env)
    before = signatures.count
    answers = []
    for n in range(30):
        serial = _never_issued()
        if n % 3 == 0:
            answers.append(http(served.port, "GET", get_path(build_request(ca, [serial]))))
        elif n % 3 == 1:
            answers.append(
                post(served.port, build_request(ca, [serial], nonce=secrets.token_bytes(16)))
            )
        else:  # hidden beside an issued certificate, with a SHA-256 CertID
            der = build_request(ca, [known.serial, serial], algorithm="sha256")
            answers.append(post(served.port, der))
    for bad in (0, -5, 1 << 200):
        answers.append(post(served.port, build_request(ca, [bad], nonce=b"\x01" * 8)))
    assert signatures.count == before, "a never-issued serial made the HSM sign"
    for got in answers:
        assert got.status == 200
        assert got.ocsp_status() == "unauthorized"
        assert got.headers["cache-control"] == "no-store"


def test_an_issued_certificate_without_its_response_is_still_signed(
    env: OcspEnv, served: Served, signatures: Signatures
) -> None:
    """The refusal keys on issuance, not on a stored response: a certificate whose
    pre-signing failed at issuance (HSM down) is answered, signed once and stored."""
    cert = env.issue(presign=False)
    der = build_request(_ca(env), [cert.serial])
    before = signatures.count
    first = http(served.port, "GET", get_path(der))
    again = http(served.port, "GET", get_path(der))
    assert first.ocsp_status() == "successful"
    assert response_cert_state(first.body) == "good"
    assert again.body == first.body
    assert signatures.count == before + 1


@pytest.fixture
def limited(pki: Pki, migrated: sa.Engine, tmp_path: Path) -> Iterator[tuple[OcspEnv, Served]]:
    """A responder with a small cap and a small signing budget (configured, not defaults)."""
    env = make_env(pki, migrated, tmp_path, max_certids=4, sign_rate=2.0, sign_burst=5)
    made, stop = serve_app(http_app(env))
    yield env, made
    stop()


def test_more_certids_than_the_cap_are_refused_without_signing(
    limited: tuple[OcspEnv, Served], signatures: Signatures
) -> None:
    env, served = limited
    certs = [env.issue() for _ in range(4)]
    ca = _ca(env)
    before = signatures.count
    over = post(served.port, build_request(ca, [c.serial for c in certs] + [certs[0].serial]))
    attack = post(served.port, build_request(ca, [certs[0].serial] * 110, nonce=b"\x02" * 8))
    assert over.ocsp_status() == "malformed_request"
    assert attack.ocsp_status() == "malformed_request"
    assert over.headers["cache-control"] == "no-store"
    assert signatures.count == before
    within = post(served.port, build_request(ca, [c.serial for c in certs]))
    assert within.ocsp_status() == "successful"
    assert signatures.count == before + 1


def test_a_nonce_burst_is_bounded_by_the_bucket(
    limited: tuple[OcspEnv, Served], signatures: Signatures
) -> None:
    """At most burst + rate x elapsed fresh signatures; the rest get the pre-signed
    response without the nonce (RFC 8954 §2.1), which is still a valid answer."""
    env, served = limited
    cert = env.issue()
    ca = _ca(env)
    presigned = http(served.port, "GET", get_path(build_request(ca, [cert.serial]))).body
    nonces = [secrets.token_bytes(16) for _ in range(60)]
    before = signatures.count
    start = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda n: post(served.port, build_request(ca, [cert.serial], nonce=n)), nonces)
        )
    elapsed = time.monotonic() - start
    signed = signatures.count - before
    assert signed <= 5 + 2.0 * elapsed, f"{signed} signatures in {elapsed:.2f} s"
    echoed = 0
    for nonce, got in zip(nonces, answers, strict=True):
        assert got.ocsp_status() == "successful"
        assert response_cert_state(got.body) == "good"
        if _nonce_in(got.body) == nonce:
            echoed += 1
            assert got.headers["cache-control"] == "no-store"
        else:
            assert got.body == presigned
    assert echoed == signed
    assert echoed >= 1, "the bucket starts full: some nonces are echoed"


def test_signing_rate_is_a_token_bucket() -> None:
    now = [100.0]
    bucket = SigningRate(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5
    assert bucket.take() and not bucket.take()
    now[0] += 60.0
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    off = SigningRate(rate=0.0, burst=3, clock=lambda: now[0])
    assert not off.take(), "rate 0: no on-demand signatures at all"


def test_over_the_rate_nothing_is_signed_and_each_request_gets_its_documented_answer(
    pki: Pki, migrated: sa.Engine, tmp_path: Path, signatures: Signatures
) -> None:
    """``sign_rate = 0`` (on-demand signing off): a single-CertID nonce request gets the
    pre-signed response (no nonce), what needs a fresh signature gets ``tryLater``."""
    env = make_env(pki, migrated, tmp_path, sign_rate=0.0)
    made, stop = serve_app(http_app(env))
    try:
        good, other = env.issue(), env.issue()
        missing = env.issue(presign=False)
        ca = _ca(env)
        presigned = http(made.port, "GET", get_path(build_request(ca, [good.serial]))).body
        before = signatures.count
        nonce = post(made.port, build_request(ca, [good.serial], nonce=b"\x07" * 16))
        several = post(made.port, build_request(ca, [good.serial, other.serial]))
        sha384 = post(made.port, build_request(ca, [good.serial], algorithm="sha384"))
        unsigned = post(made.port, build_request(ca, [missing.serial]))
        assert signatures.count == before
        assert nonce.ocsp_status() == "successful" and nonce.body == presigned
        assert _nonce_in(nonce.body) is None
        assert several.ocsp_status() == "try_later"
        assert sha384.ocsp_status() == "try_later"
        assert unsigned.ocsp_status() == "try_later"
    finally:
        stop()
