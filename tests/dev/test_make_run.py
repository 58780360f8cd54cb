"""``make run`` is ``zorgid dev``: first start makes everything, later starts reuse it.

The engine is started as a real process on a free loopback port; the test
talks to it as a developer would (``zorgid dev health``) and as a raw TLS
client would (``openssl s_client``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest
from cryptography import x509
from cryptography.x509 import ocsp

from policies import default_policy

ZORGID = str(Path(sys.executable).with_name("zorgid"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Engine:
    def __init__(self, root: Path, port: int, ocsp_port: int | None = None) -> None:
        self.root = root
        self.port = port
        self.ocsp_port = ocsp_port or _free_port()
        self.log = root.parent / f"{root.name}-{time.monotonic_ns()}.log"
        env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
        self.proc = subprocess.Popen(
            [
                ZORGID,
                "dev",
                "--data-dir",
                str(root),
                "--listen",
                f"127.0.0.1:{port}",
                "--ocsp-listen",
                f"127.0.0.1:{self.ocsp_port}",
            ],
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            env=env,
        )

    def wait_ready(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text()
            if "Stop with Ctrl-C" in text:
                return text
            if self.proc.poll() is not None:
                pytest.fail(f"zorgid dev exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.2)
        pytest.fail(f"zorgid dev not ready in {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=30)


@pytest.fixture
def dev_root(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "var"


def _health(root: Path, role: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ZORGID, "dev", "--data-dir", str(root), "health", "--role", role],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_first_start_creates_everything_and_serves(dev_root: Path) -> None:
    engine = Engine(dev_root, _free_port())
    try:
        banner = engine.wait_ready()
        assert "initialised" in banner and "Ceremony complete" in banner
        for made in (
            "ca/root.pem",
            "ca/root.crl",
            "ca/issuing-ca.pem",
            "ca/ocsp-responder.pem",
            "ca/audit-checkpoint.pub.pem",
            "ca/ceremony.json",
            "tls/client-ca.pem",
            "tls/server.pem",
            "tls/clients/portal.pem",
            "zorgid.toml",
            "zorgid.sqlite3",
        ):
            assert (dev_root / made).is_file(), made
        pin = (dev_root / "softhsm" / "zorgid-dev.pin").read_text()
        assert pin not in banner
        assert oct((dev_root / "softhsm" / "zorgid-dev.pin").stat().st_mode & 0o777) == "0o600"

        # The printed hint names this engine's data folder, so it runs as printed.
        assert f"zorgid dev --data-dir {dev_root} health --role auditor" in banner
        result = _health(dev_root, "auditor")
        assert result.returncode == 0, result.stderr
        assert "SERVING" in result.stdout and "NOT_SERVING" not in result.stdout

        tls = dev_root / "tls"
        handshake = subprocess.run(
            [
                "openssl",
                "s_client",
                "-connect",
                f"127.0.0.1:{engine.port}",
                "-CAfile",
                str(tls / "client-ca.pem"),
                "-verify_return_error",
                "-cert",
                str(tls / "clients/operator.pem"),
                "-key",
                str(tls / "clients/operator.key"),
                "-alpn",
                "h2",
                "-brief",
            ],
            input=b"",
            capture_output=True,
            timeout=30,
        )
        # stdout carries the server's raw HTTP/2 frames: read only stderr, as text.
        report = handshake.stderr.decode(errors="replace")
        assert handshake.returncode == 0, report
        assert "Verification: OK" in report

        # Relying parties' side: the CRL is served over HTTP and verifies under the issuing CA.
        crl_path = urlsplit(default_policy().profile.crl_url).path
        url = f"http://127.0.0.1:{engine.ocsp_port}{crl_path}"
        with urllib.request.urlopen(url, timeout=10) as reply:
            crl = x509.load_der_x509_crl(reply.read())
        issuing = x509.load_pem_x509_certificate((dev_root / "ca/issuing-ca.pem").read_bytes())
        assert crl.issuer == issuing.subject
        assert crl.is_signature_valid(issuing.public_key())  # type: ignore[arg-type]

        # Inside the trust boundary: OCSP over gRPC as the portal, for a serial nobody was
        # issued: the unsigned "unauthorized" (RFC 5019 §2.2.3), never a fresh signature
        # (issue 16 item 4).
        answer = _grpc_ocsp_answer(dev_root, engine.port, issuing, serial=0x1234)
        assert answer.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED
    finally:
        assert engine.stop() == 0


def _grpc_ocsp_answer(
    root: Path, port: int, issuing: x509.Certificate, *, serial: int
) -> ocsp.OCSPResponse:
    from cryptography.hazmat.primitives import hashes, serialization

    from issuer.api.zorgid.v1 import ocsp_pb2, ocsp_pb2_grpc

    spki = issuing.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    from asn1crypto import keys

    key_bits = keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]
    name_hash = hashes.Hash(hashes.SHA1())
    name_hash.update(issuing.subject.public_bytes())
    key_hash = hashes.Hash(hashes.SHA1())
    key_hash.update(key_bits)
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(name_hash.finalize(), key_hash.finalize(), serial, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    tls = root / "tls"
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(tls / "client-ca.pem").read_bytes(),
        private_key=(tls / "clients/portal.key").read_bytes(),
        certificate_chain=(tls / "clients/portal.pem").read_bytes(),
    )
    with grpc.secure_channel(f"localhost:{port}", credentials) as channel:
        stub = ocsp_pb2_grpc.OcspServiceStub(channel)
        reply = stub.GetOcspResponse(
            ocsp_pb2.GetOcspResponseRequest(ocsp_request=request), timeout=30
        )
    return ocsp.load_der_ocsp_response(reply.ocsp_response)


def test_second_start_reuses_the_environment(dev_root: Path) -> None:
    port = _free_port()
    first = Engine(dev_root, port)
    first.wait_ready()
    assert first.stop() == 0
    issuing = (dev_root / "ca" / "issuing-ca.pem").read_bytes()

    second = Engine(dev_root, port)  # another OCSP/CRL port than the first start's
    try:
        banner = second.wait_ready()
        assert "Ceremony complete" not in banner
        assert "(reused)" in banner
        assert (dev_root / "ca" / "issuing-ca.pem").read_bytes() == issuing
        result = _health(dev_root, "portal")
        assert result.returncode == 0, result.stderr
    finally:
        assert second.stop() == 0
    # the issuing CA names the root certificate and CRL on the first start's port: a warning
    assert "WARNING" in banner
    assert (
        f"names the root certificate and the root's CRL on http://127.0.0.1:{first.ocsp_port} "
        "(paths /ca/root.cer, /crl/root.crl), but the OCSP/CRL HTTP front is on "
        f"http://127.0.0.1:{second.ocsp_port} this time"
    ) in banner, banner

    third = Engine(dev_root, port, ocsp_port=first.ocsp_port)  # back where the CA says
    try:
        assert "names the root certificate" not in third.wait_ready()
    finally:
        assert third.stop() == 0
