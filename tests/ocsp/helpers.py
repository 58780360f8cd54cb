"""Small clients for the tests: ``openssl ocsp`` as a subprocess, and plain HTTP."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import quote

from asn1crypto import algos, core
from asn1crypto import ocsp as asn1_ocsp

from ocsp.issuers import IssuingCa


def openssl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *args],
        capture_output=True,
        text=True,
        check=False,
        input=None if stdin is None else stdin.decode("latin-1"),
    )


def make_request(
    issuer: Path, *targets: str, nonce: bool = False, digest: str = "-sha1", out: Path
) -> bytes:
    """An OCSP request made by ``openssl ocsp -reqout`` (targets: ``-cert P`` / ``-serial N``)."""
    args = ["ocsp", digest, "-issuer", str(issuer)]
    for target in targets:
        kind, value = target.split(" ", 1)
        args += [kind, value]
    args += ["-nonce" if nonce else "-no_nonce", "-reqout", str(out)]
    done = openssl(*args)
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: dict[str, str]
    body: bytes

    def ocsp_status(self) -> str:
        return str(asn1_ocsp.OCSPResponse.load(self.body)["response_status"].native)


def http(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResult:
    conn = HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return HttpResult(
            status=resp.status,
            headers={k.lower(): v for k, v in resp.getheaders()},
            body=resp.read(),
        )
    finally:
        conn.close()


def get_path(der: bytes, *, prefix: str = "/ocsp", url_encode: bool = True) -> str:
    b64 = base64.b64encode(der).decode()
    return f"{prefix}/{quote(b64, safe='') if url_encode else b64}"


def post(port: int, der: bytes, path: str = "/ocsp") -> HttpResult:
    return http(port, "POST", path, der, {"Content-Type": "application/ocsp-request"})


def build_request(
    ca: IssuingCa, serials: Sequence[int], *, nonce: bytes | None = None, algorithm: str = "sha1"
) -> bytes:
    """A DER OCSPRequest for *serials* of *ca* (one CertID each), with an RFC 8954 nonce if
    given: many distinct requests a second without an ``openssl`` process each."""
    requests = [
        {
            "req_cert": {
                "hash_algorithm": algos.DigestAlgorithm(
                    {"algorithm": algorithm, "parameters": core.Null()}
                ),
                "issuer_name_hash": ca.name_hashes[algorithm],
                "issuer_key_hash": ca.key_hashes[algorithm],
                "serial_number": serial,
            }
        }
        for serial in serials
    ]
    tbs: dict[str, object] = {"request_list": requests}
    if nonce is not None:
        tbs["request_extensions"] = [{"extn_id": "nonce", "critical": False, "extn_value": nonce}]
    return bytes(asn1_ocsp.OCSPRequest({"tbs_request": tbs}).dump())
