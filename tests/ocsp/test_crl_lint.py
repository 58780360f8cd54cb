"""The CRL (RFC 5280 §5) with ``openssl crl -verify``, and pkilint on CRLs and OCSP responses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from tests.ocsp.conftest import CRL_PATH, OcspEnv, Served
from tests.ocsp.helpers import get_path, http, make_request, post

VENV_BIN = Path(sys.executable).parent


def _lint(tool: str, *args: str) -> list[dict[str, object]]:
    done = subprocess.run(
        [str(VENV_BIN / tool), "lint", *args, "-s", "WARNING", "-f", "JSON"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout)
    findings: list[dict[str, object]] = report["results"] if isinstance(report, dict) else report
    return [f for f in findings if f.get("finding_descriptions")]


def test_crl_verifies_and_lists_revoked_serials(env: OcspEnv, served: Served) -> None:
    kept = env.issue()
    gone = [env.issue(), env.issue()]
    env.revoke(gone[0], "keyCompromise")
    env.revoke(gone[1], "unspecified")
    got = http(served.port, "GET", CRL_PATH)
    assert got.status == 200
    assert got.headers["content-type"] == "application/pkix-crl"
    path = env.tmp / "current.crl"
    path.write_bytes(got.body)
    done = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(path), "-CAfile", str(env.pki.cafile),
         "-verify", "-noout", "-text"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "verify OK" in done.stderr
    text = done.stdout.upper()
    for cert in gone:
        assert f"SERIAL NUMBER: {cert.serial:X}" in text.replace(" 0", " ")
    assert f"{kept.serial:X}" not in text
    crl = x509.load_der_x509_crl(got.body)
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number == 2  # one CRL per revocation
    reasons = {r.serial_number: [e.value for e in r.extensions] for r in crl}
    assert reasons[gone[0].serial] == [x509.CRLReason(x509.ReasonFlags.key_compromise)]
    assert reasons[gone[1].serial] == []  # RFC 5280 §5.3.1: unspecified SHOULD be absent
    assert crl.next_update_utc is not None and crl.last_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == env.service.timing.crl_validity
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = env.pki.material.issuing_ca.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    ).value
    assert aki.key_identifier == ski.digest


def test_crl_etag_revalidation(env: OcspEnv, served: Served) -> None:
    env.service.crls.publish(env.pki.issuer_id)
    first = http(served.port, "GET", CRL_PATH)
    assert http(served.port, "GET", CRL_PATH).status == 200
    same = http(served.port, "GET", CRL_PATH, headers={"If-None-Match": first.headers["etag"]})
    assert same.status == 304
    env.revoke(env.issue())
    changed = http(served.port, "GET", CRL_PATH, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status == 200


@pytest.mark.parametrize("reason", ["keyCompromise", "unspecified", None])
def test_pkilint_finds_nothing_at_warning_or_above(
    env: OcspEnv, served: Served, tmp_path: Path, reason: str | None
) -> None:
    cert = env.issue()
    if reason is not None:
        env.revoke(cert, reason)
    for nonce in (False, True):
        der = make_request(
            env.pki.issuing_pem, f"-cert {cert.pem}", nonce=nonce, out=tmp_path / "q"
        )
        answer = tmp_path / f"resp-{nonce}.der"
        answer.write_bytes(
            post(served.port, der).body if nonce else http(served.port, "GET", get_path(der)).body
        )
        assert _lint("lint_ocsp_response", "--document-format", "DER", str(answer)) == []
    env.service.crls.publish(env.pki.issuer_id)
    crl = tmp_path / "crl.der"
    crl.write_bytes(http(served.port, "GET", CRL_PATH).body)
    assert _lint("lint_crl", "-t", "CRL", "-p", "PKIX", "--document-format", "DER", str(crl)) == []
