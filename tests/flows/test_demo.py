"""``zorgid demo`` walks the manual to its end against a real ``zorgid dev`` process.

The engine is started as ``make run`` starts it (a fresh data folder: token,
ceremony, TLS, config, database and the test UZI-register made on first
start); the demo runs as the console script a developer types, in its own
process with its own SoftHSM tokens. Its expired-login-QR step waits the
development policy's 30-second login lifetime: the one real wait here, since a
separate engine process cannot be given an injected clock.
"""

from __future__ import annotations

import base64
import os
import re
import sqlite3
import subprocess
import urllib.request
from pathlib import Path
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from tests.dev.test_make_run import ZORGID, Engine, _free_port
from tests.dev.test_metrics import assert_every_family_moved
from tests.scrape import scrape


def test_demo_runs_to_the_end_against_make_run(tmp_path: Path) -> None:
    root = tmp_path / "var"
    engine = Engine(root, _free_port())
    try:
        banner = engine.wait_ready(timeout=120)
        assert "test UZI-register" in banner
        metrics_url = re.search(r"metrics +(http://127\.0\.0\.1:\d+/metrics)", banner)
        ocsp_url = re.search(r"ocsp +(http://127\.0\.0\.1:\d+\S*) \(CRL", banner)
        assert metrics_url and ocsp_url, banner
        before = scrape(metrics_url.group(1))
        env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
        done = subprocess.run(
            [ZORGID, "demo", "--data-dir", str(root)],
            capture_output=True,
            text=True,
            timeout=240,
            env=env,
        )
        if done.returncode == 0:
            _certificates_urls_answer_on_the_bound_port(root, engine.ocsp_port)
            assert_every_family_moved(root, ocsp_url.group(1), metrics_url.group(1), before)
    finally:
        engine.stop()
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}\n{engine.log.read_text()[-4000:]}"
    assert "demo complete" in out
    for expected in (
        "refused as expected: ZID-1602",
        "administrator of URA",
        "waiting for approval",
        "refused as expected: ZID-1830",
        "AUTHENTICATED",
        "for the same phone key",
        "portal poll: LOGIN_STATE_EXPIRED",
        "refused as expected: ZID-1702",
        "refused as expected: ZID-1704",
        "REVOKED (REVOCATION_REASON_CESSATION_OF_OPERATION)",
        "make a ZORG-ID smartcard",
        "3 certificates issued",
    ):
        assert expected in out, f"missing {expected!r} in:\n{out}"
    # Manual §6: the card's three certificates, written to it, each with its card usage.
    written = [line for line in out.splitlines() if "written to the card, slot" in line]
    assert [line.split("usage ")[1].split(",")[0] for line in written] == [
        "card-authentication",
        "card-signature",
        "card-encryption",
    ], out
    assert all("serial " in line and "CN=" in line for line in written), written
    # Secrets never printed: no enrolment token in the output.
    assert "zorgid://enroll?v=1&t=" not in out
    assert list((root / "demo" / "qr").glob("*.png"))
    # A registration QR is a bearer token: its PNG and folder are the owner's only (issue 16).
    for made in [root / "demo" / "qr", *(root / "demo" / "qr").glob("*.png")]:
        assert made.stat().st_mode & 0o077 == 0, (made, oct(made.stat().st_mode))


def _certificates_urls_answer_on_the_bound_port(root: Path, ocsp_port: int) -> None:
    """Issue 18: a dev engine whose OCSP front is on a port other than the policy's 8080
    issues certificates whose AIA, CRL DP and CPS URLs name that port, and each answers."""
    with sqlite3.connect(root / "zorgid.sqlite3") as db:
        rows = db.execute("SELECT der, status FROM certificates").fetchall()
    assert rows
    issuing = x509.load_pem_x509_certificate((root / "ca/issuing-ca.pem").read_bytes())
    base = f"http://127.0.0.1:{ocsp_port}/"
    for der, status in rows:
        cert = x509.load_der_x509_certificate(bytes(der))
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        urls = {d.access_method: str(d.access_location.value) for d in aia}
        crl_dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        crl_url = str(crl_dp[0].full_name[0].value)  # type: ignore[index]
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
        cps_url = str(policies[0].policy_qualifiers[0])
        ocsp_url = urls[x509.AuthorityInformationAccessOID.OCSP]
        ca_url = urls[x509.AuthorityInformationAccessOID.CA_ISSUERS]
        for url in (ocsp_url, ca_url, crl_url, cps_url):
            assert url.startswith(base), url
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(cert, issuing, hashes.SHA1())
            .build()
            .public_bytes(serialization.Encoding.DER)
        )
        got = _fetch(f"{ocsp_url.rstrip('/')}/{quote(base64.b64encode(request).decode(), safe='')}")
        assert got[1] == "application/ocsp-response"
        answer = ocsp.load_der_ocsp_response(got[0])
        assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        want = ocsp.OCSPCertStatus.GOOD if status == "good" else ocsp.OCSPCertStatus.REVOKED
        singles = {r.serial_number: r.certificate_status for r in answer.responses}
        assert singles == {cert.serial_number: want}  # (one CertID per hash, same status)
        body, kind = _fetch(ca_url)
        assert kind == "application/pkix-cert" and body == issuing.public_bytes(
            serialization.Encoding.DER
        )
        body, kind = _fetch(crl_url)
        crl = x509.load_der_x509_crl(body)
        assert kind == "application/pkix-crl" and crl.is_signature_valid(issuing.public_key())  # type: ignore[arg-type]
        assert crl.signature_algorithm_oid == cert.signature_algorithm_oid  # one key, one hash
        body, kind = _fetch(cps_url)
        assert kind.startswith("text/plain") and policies[0].policy_identifier.dotted_string in (
            body.decode()
        )


def _fetch(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.status == 200, url
        return reply.read(), reply.headers["Content-Type"]
