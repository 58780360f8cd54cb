"""HTTP behaviour of the responder (RFC 5019 §5-6): caching headers, ETag revalidation,
GET forms, and hostile input that must get the right OCSP error or HTTP status -- never 500."""

from __future__ import annotations

import base64
import re
import socket
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from asn1crypto import ocsp as asn1_ocsp

from tests.ocsp.conftest import CA_PATH, CRL_PATH, OcspEnv, Served
from tests.ocsp.helpers import get_path, http, make_request, post


def _request(env: OcspEnv, tmp: Path, *targets: str, nonce: bool = False) -> bytes:
    return make_request(env.pki.issuing_pem, *targets, nonce=nonce, out=tmp / "req.der")


def test_cache_headers_follow_rfc5019(env: OcspEnv, served: Served, tmp_path: Path) -> None:
    cert = env.issue()
    got = http(served.port, "GET", get_path(_request(env, tmp_path, f"-cert {cert.pem}")))
    assert got.status == 200
    assert got.headers["content-type"] == "application/ocsp-response"
    cache = got.headers["cache-control"]
    assert re.fullmatch(r"max-age=\d+, public, no-transform, must-revalidate", cache)
    basic = asn1_ocsp.OCSPResponse.load(got.body).basic_ocsp_response
    single = basic["tbs_response_data"]["responses"][0]
    next_update: datetime = single["next_update"].native
    produced: datetime = basic["tbs_response_data"]["produced_at"].native
    max_age = int(cache.split(",")[0].removeprefix("max-age="))
    now = env.clock()
    assert 0 < max_age < (next_update - now).total_seconds()
    assert parsedate_to_datetime(got.headers["expires"]) == next_update
    assert parsedate_to_datetime(got.headers["last-modified"]) == produced
    assert got.headers["etag"].startswith('"')


def test_if_none_match_gives_304_until_the_response_changes(
    env: OcspEnv, served: Served, tmp_path: Path
) -> None:
    cert = env.issue()
    path = get_path(_request(env, tmp_path, f"-cert {cert.pem}"))
    first = http(served.port, "GET", path)
    etag = first.headers["etag"]
    again = http(served.port, "GET", path, headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.body == b""
    assert again.headers["etag"] == etag
    env.revoke(cert)
    changed = http(served.port, "GET", path, headers={"If-None-Match": etag})
    assert changed.status == 200
    assert changed.headers["etag"] != etag
    status = asn1_ocsp.OCSPResponse.load(changed.body).basic_ocsp_response
    assert status["tbs_response_data"]["responses"][0]["cert_status"].name == "revoked"


def test_get_forms_raw_and_encoded_only_under_the_ocsp_path(
    env: OcspEnv, served: Served, tmp_path: Path
) -> None:
    cert = env.issue()
    # Find a request whose base64 has '/' or '+' so encoding matters (nonce varies it).
    for _ in range(50):
        der = _request(env, tmp_path, f"-cert {cert.pem}", nonce=True)
        if set(base64.b64encode(der).decode()) & {"/", "+"}:
            break
    else:  # pragma: no cover -- probability ~0
        pytest.fail("no request with / or + in its base64")
    answers = [
        http(served.port, "GET", get_path(der, url_encode=True)),
        http(served.port, "GET", get_path(der, url_encode=False)),
    ]
    for got in answers:
        assert got.status == 200
        assert got.ocsp_status() == "successful"
        # A nonce was asked for and policy echoes it: never cacheable.
        assert got.headers["cache-control"] == "no-store"
    # Issue 18: at the root (no certificate names it) the same request is a plain 404.
    for url_encode in (True, False):
        got = http(served.port, "GET", get_path(der, prefix="", url_encode=url_encode))
        assert got.status == 404
        assert got.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("path", ["/cps", "/metrics", "/health", "/anything", "/ca", "/crl/"])
def test_a_path_no_certificate_names_is_404_never_an_ocsp_response(
    served: Served, path: str
) -> None:
    """Issue 18: every GET path used to be taken for an OCSP request (malformedRequest, 200)."""
    got = http(served.port, "GET", path)
    assert got.status == 404
    assert got.headers["content-type"] != "application/ocsp-response"
    got = http(served.port, "POST", path, b"0", {"Content-Type": "application/ocsp-request"})
    assert got.status == 404
    assert got.headers["content-type"] != "application/ocsp-response"


def test_a_wrong_method_on_a_served_path_is_405(served: Served) -> None:
    for method, path in (("POST", CRL_PATH), ("POST", CA_PATH), ("PUT", CRL_PATH)):
        got = http(served.port, method, path, b"0", {"Content-Type": "application/ocsp-request"})
        assert got.status == 405, (method, path)
        assert got.headers["allow"] == "GET, HEAD"


def test_post_is_answered_and_same_bytes_as_get(
    env: OcspEnv, served: Served, tmp_path: Path
) -> None:
    cert = env.issue()
    der = _request(env, tmp_path, f"-cert {cert.pem}")
    assert post(served.port, der).body == http(served.port, "GET", get_path(der)).body


def _not_500(got_status: int) -> None:
    assert got_status < 500


@pytest.mark.parametrize(
    "body",
    [b"", b"garbage", b"\x30\x03\x02\x01\x01", b"\x30\x80" + b"\x00" * 50, b"\x30" * 4000],
    ids=["empty", "text", "wrong-der", "indefinite", "nested"],
)
def test_garbage_body_is_malformed_request(served: Served, body: bytes) -> None:
    got = post(served.port, body)
    assert got.status == 200
    assert got.ocsp_status() == "malformed_request"
    assert got.headers["cache-control"] == "no-store"


def test_trailing_bytes_are_malformed(env: OcspEnv, served: Served, tmp_path: Path) -> None:
    cert = env.issue()
    der = _request(env, tmp_path, f"-cert {cert.pem}")
    assert post(served.port, der + b"\x00").ocsp_status() == "malformed_request"


def test_huge_body_is_413(served: Served) -> None:
    got = post(served.port, b"\x30\x82" + b"A" * 200_000)
    assert got.status == 413
    assert got.headers["cache-control"] == "no-store"


def test_huge_chunked_body_is_413(served: Served) -> None:
    """No Content-Length to refuse by: the adapter reads the body up to the cap, then 413."""
    chunk = b"A" * 65_536
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as conn:
        conn.sendall(
            b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(4):  # 256 KiB, far over the 10 KiB cap
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.sendall(b"0\r\n\r\n")
        head = conn.recv(4096)
    assert head.startswith(b"HTTP/1.1 413"), head[:80]
    assert b"no-store" in head.lower()


def test_wrong_content_type_is_415(env: OcspEnv, served: Served, tmp_path: Path) -> None:
    cert = env.issue()
    der = _request(env, tmp_path, f"-cert {cert.pem}")
    got = http(served.port, "POST", "/ocsp", der, {"Content-Type": "application/json"})
    assert got.status == 415
    got = http(served.port, "POST", "/ocsp", der)
    assert got.status == 415


def test_other_methods_are_405(served: Served) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        got = http(served.port, method, "/ocsp", b"x")
        assert got.status == 405
        assert "GET" in got.headers["allow"]


@pytest.mark.parametrize("path", ["/ocsp/%%%", "/ocsp/!!!!", "/ocsp/QUJD", "/ocsp/" + "A" * 5000])
def test_bad_base64_or_not_a_request_is_malformed(served: Served, path: str) -> None:
    got = http(served.port, "GET", path)
    _not_500(got.status)
    assert got.status == 200
    assert got.ocsp_status() == "malformed_request"


def test_empty_get_is_404(served: Served) -> None:
    assert http(served.port, "GET", "/ocsp/").status == 404
    assert http(served.port, "GET", "/ocsp").status == 404
    assert http(served.port, "GET", "/").status == 404


def test_unknown_hash_algorithm_is_unauthorized(
    env: OcspEnv, served: Served, tmp_path: Path
) -> None:
    """A CertID under a hash we do not know cannot name any issuer of ours (RFC 5019 §2.2.3)."""
    cert = env.issue()
    request = asn1_ocsp.OCSPRequest.load(_request(env, tmp_path, f"-cert {cert.pem}"))
    cert_id = request["tbs_request"]["request_list"][0]["req_cert"]
    cert_id["hash_algorithm"]["algorithm"] = "1.2.3.4.5"
    got = post(served.port, request.dump(force=True))
    assert got.ocsp_status() == "unauthorized"
    cert_id["hash_algorithm"]["algorithm"] = "md5"
    assert post(served.port, request.dump(force=True)).ocsp_status() == "unauthorized"


def test_oversize_nonce_is_malformed(env: OcspEnv, served: Served, tmp_path: Path) -> None:
    """RFC 8954 §2.1: a nonce over 32 octets is refused."""
    cert = env.issue()
    request = asn1_ocsp.OCSPRequest.load(_request(env, tmp_path, f"-cert {cert.pem}"))
    request["tbs_request"]["request_extensions"] = [
        {"extn_id": "nonce", "critical": False, "extn_value": b"\x01" * 64}
    ]
    assert post(served.port, request.dump(force=True)).ocsp_status() == "malformed_request"


def test_negative_and_huge_serials_are_unauthorized(
    env: OcspEnv, served: Served, tmp_path: Path
) -> None:
    """Never a serial of ours (RFC 5280 §4.1.2.2): refused unsigned, like any never-issued one."""
    request = asn1_ocsp.OCSPRequest.load(_request(env, tmp_path, "-serial 0x1"))
    for serial in (-5, 0, 1 << 200):
        request["tbs_request"]["request_list"][0]["req_cert"]["serial_number"] = serial
        got = post(served.port, request.dump(force=True))
        assert got.ocsp_status() == "unauthorized"


def test_oversize_get_line_and_headers_are_4xx(served: Served) -> None:
    """Request targets and headers over 8 KiB are refused (414, 431): never a 500."""
    assert 400 <= http(served.port, "GET", "/ocsp/" + "A" * 20_000).status < 500
    got = http(served.port, "GET", "/ocsp/QUJD", headers={"X-Big": "b" * 20_000})
    assert 400 <= got.status < 500
