"""A relying party follows the certificates' own links, and openssl agrees (issue 18).

A fresh ``zorgid dev`` on non-default ports issues two mobile-ID certificates through its
API (registration, as the demo does) and revokes one through the operator's
RevokeCertificate. Then, with nothing but the URLs in the certificates: the issuing CA
certificate from the leaf's caIssuers, the root from the issuing CA's, every CRL of the
chain from the CRL DPs (leaf -> issuing CA's CRL, issuing CA -> the root's CRL), OCSP at
the leaf's AIA OCSP URL; ``openssl ocsp`` says good / revoked, and ``openssl verify
-crl_check_all`` passes for the good one and says "certificate revoked" for the other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID

from tests.dev.test_make_run import Engine, _free_port

#: Run in its own process: the demo's phones and UZI-pas cards live on their own SoftHSM.
ISSUE = """
import json, secrets, sys
from pathlib import Path
from issuer.api.zorgid.v1 import certificate_pb2, organization_pb2
from issuer.cli.demo import Demo
from issuer.cli.demo_walk import register_user

demo = Demo(Path(sys.argv[1]), None, out=lambda line: None)
ura = "9" + format(secrets.randbelow(10**7), "07d")
cards = [demo.card(ura=ura), demo.card(ura=ura)]
demo.call(
    "RegisterOrganization",
    demo.operator.org.RegisterOrganization,
    organization_pb2.RegisterOrganizationRequest(
        ura=ura, name="Huisartsenpraktijk Links (test)",
        administrator_uzi_numbers=[c.card.uzi_number for c in cards],
    ),
)
good = register_user(demo, cards[0], "Good", "1970-01-02")[1]
gone = register_user(demo, cards[1], "Revoked", "1980-03-04")[1]
from cryptography import x509
serial = format(x509.load_der_x509_certificate(gone).serial_number, "x")
found = demo.call(
    "GetCertificate", demo.operator.certs.GetCertificate,
    certificate_pb2.GetCertificateRequest(serial=serial),
).certificate
done = demo.call(
    "RevokeCertificate", demo.operator.certs.RevokeCertificate,
    certificate_pb2.RevokeCertificateRequest(
        id=found.id, reason=certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE
    ),
).certificate
assert done.status == certificate_pb2.CERTIFICATE_STATUS_REVOKED, done
print(json.dumps({"good": good.hex(), "revoked": gone.hex()}))
"""


def _uris(cert: x509.Certificate, method: x509.ObjectIdentifier) -> list[str]:
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    return [
        str(a.access_location.value)
        for a in aia
        if a.access_method == method
        and isinstance(a.access_location, x509.UniformResourceIdentifier)
    ]


def _crl_uris(cert: x509.Certificate) -> list[str]:
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    return [
        str(n.value)
        for p in points
        for n in p.full_name or ()
        if isinstance(n, x509.UniformResourceIdentifier)
    ]


def _fetch(url: str, content_type: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.status == 200, url
        assert reply.headers["Content-Type"] == content_type, (url, reply.headers)
        body: bytes = reply.read()
        return body


def _follow(leaf: x509.Certificate, into: Path) -> dict[str, Path]:
    """Everything a relying party needs for *leaf*, fetched from the links alone."""
    issuing = x509.load_der_x509_certificate(
        _fetch(_uris(leaf, AuthorityInformationAccessOID.CA_ISSUERS)[0], "application/pkix-cert")
    )
    root = x509.load_der_x509_certificate(
        _fetch(_uris(issuing, AuthorityInformationAccessOID.CA_ISSUERS)[0], "application/pkix-cert")
    )
    assert root.subject == root.issuer == issuing.issuer
    crls = [
        x509.load_der_x509_crl(_fetch(url, "application/pkix-crl"))
        for cert in (leaf, issuing)
        for url in _crl_uris(cert)
    ]
    assert [crl.issuer for crl in crls] == [issuing.subject, root.subject]
    into.mkdir(exist_ok=True)
    files = {"leaf": into / "leaf.pem", "issuing": into / "issuing.pem", "root": into / "root.pem"}
    for name, cert in (("leaf", leaf), ("issuing", issuing), ("root", root)):
        files[name].write_bytes(cert.public_bytes(Encoding.PEM))
    files["crls"] = into / "crls.pem"
    files["crls"].write_bytes(b"".join(crl.public_bytes(Encoding.PEM) for crl in crls))
    return files


def _every_url(leaf: x509.Certificate, issuing: x509.Certificate) -> list[str]:
    return [
        *_uris(leaf, AuthorityInformationAccessOID.OCSP),
        *_uris(leaf, AuthorityInformationAccessOID.CA_ISSUERS),
        *_crl_uris(leaf),
        *_uris(issuing, AuthorityInformationAccessOID.CA_ISSUERS),
        *_crl_uris(issuing),
    ]


def _openssl_ocsp(files: dict[str, Path], url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "ocsp", "-issuer", str(files["issuing"]), "-cert", str(files["leaf"]),
         "-url", url, "-CAfile", str(files["root"])],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip


def _openssl_verify(files: dict[str, Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "verify", "-crl_check_all", "-CAfile", str(files["root"]), "-untrusted",
         str(files["issuing"]), "-CRLfile", str(files["crls"]), str(files["leaf"])],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip


def test_a_relying_party_follows_the_certificates_links(tmp_path: Path) -> None:
    root = tmp_path / "var"
    engine = Engine(root, _free_port())
    try:
        engine.wait_ready(timeout=120)
        env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
        issued = subprocess.run(
            [sys.executable, "-c", ISSUE, str(root)],
            capture_output=True, text=True, check=False, timeout=240, env=env,
        )  # fmt: skip
        assert issued.returncode == 0, issued.stdout + issued.stderr + engine.log.read_text()
        ders = json.loads(issued.stdout.strip().splitlines()[-1])
        for name, expected in (("good", "good"), ("revoked", "revoked")):
            leaf = x509.load_der_x509_certificate(bytes.fromhex(ders[name]))
            files = _follow(leaf, tmp_path / name)
            issuing = x509.load_pem_x509_certificate(files["issuing"].read_bytes())
            ports = {urlsplit(url).port for url in _every_url(leaf, issuing)}
            assert ports == {engine.ocsp_port} and 8080 not in ports, ports

            ocsp_url = _uris(leaf, AuthorityInformationAccessOID.OCSP)[0]
            asked = _openssl_ocsp(files, ocsp_url)
            assert asked.returncode == 0, asked.stdout + asked.stderr
            assert "Response verify OK" in asked.stderr, asked.stderr
            assert f"{files['leaf']}: {expected}" in asked.stdout, asked.stdout

            verified = _openssl_verify(files)
            if expected == "good":
                assert verified.returncode == 0, verified.stdout + verified.stderr
                assert verified.stdout.strip() == f"{files['leaf']}: OK"
            else:
                assert verified.returncode != 0
                assert "certificate revoked" in verified.stdout + verified.stderr, (
                    verified.stdout + verified.stderr
                )
    finally:
        assert engine.stop() == 0
