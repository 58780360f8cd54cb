"""One real ``zorgid dev`` for the API's other clients (``buf curl``, the Node example), in a
folder of this run's own on free loopback ports; and a phone whose key is a file.

The clients call the engine as an integrator would, from outside this process: the dev
TLS folder's certificates, the address the engine's banner names.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from issuer.api.zorgid.v1 import enrollment_pb2, organization_pb2
from issuer.cli.demo import Demo
from issuer.cli.demo_walk import confirm_registration
from issuer.enrolment.tokens import parse_enrolment_uri
from issuer.files import write_file
from tests.dev.devprocess import DevProcess
from tests.softhsm import SoftHsmDir

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DevEngine:
    """A running ``zorgid dev``: its data folder and the gRPC address its banner names."""

    root: Path
    port: int

    @property
    def target(self) -> str:
        return f"localhost:{self.port}"  # the development server certificate names localhost


@pytest.fixture(scope="session")
def dev_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevEngine]:
    folder = tmp_path_factory.mktemp("clients")
    dev = DevProcess(
        folder,
        *("--data-dir", str(folder / "var")),
        *("--listen", "127.0.0.1:0", "--ocsp-listen", "127.0.0.1:0"),
    )
    try:
        text = dev.wait_ready(timeout=180)
        found = re.search(r"serving gRPC over mutual TLS on 127\.0\.0\.1:(\d+)", text)
        assert found, text
        yield DevEngine(root=folder / "var", port=int(found.group(1)))
    finally:
        dev.stop()


@dataclass(frozen=True)
class PhoneFiles:
    """A registered phone whose key is a PEM file, as a client in another language reads it."""

    key: Path
    certificate: Path
    serial: str


@pytest.fixture(scope="session")
def demo(dev_engine: DevEngine, softhsm_dir: SoftHsmDir) -> Demo:
    """The engine's portal, mobile gateway and operator (``zorgid demo``'s clients); the UZI-pas
    keys on this run's own token."""
    return Demo(dev_engine.root, dev_engine.target, out=print, softhsm=softhsm_dir)


@pytest.fixture(scope="session")
def phone(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> PhoneFiles:
    """A card holder registered through the portal; the registration QR redeemed by a phone
    whose EC P-256 key is a file (not on a token: Node reads it with ``node:crypto``)."""
    ura = "7" + format(secrets.randbelow(10**7), "07d")
    demo.call(
        "RegisterOrganization",
        demo.operator.org.RegisterOrganization,
        organization_pb2.RegisterOrganizationRequest(ura=ura, name=f"Praktijk {ura} (test)"),
    )
    done = confirm_registration(demo, demo.card(ura=ura), "Tester", "1975-02-01")
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mobile-id")]))
        .sign(key, hashes.SHA256())
    )
    token, _ = parse_enrolment_uri(done.qr.payload)
    redeemed = demo.call(
        "RedeemEnrollment",
        demo.mobile.enrol.RedeemEnrollment,
        enrollment_pb2.RedeemEnrollmentRequest(
            token=token, csr=csr.public_bytes(serialization.Encoding.DER)
        ),
    )
    folder = tmp_path_factory.mktemp("phone")
    made = PhoneFiles(
        key=folder / "phone.key",
        certificate=folder / "phone.pem",
        serial=redeemed.certificate.serial,
    )
    write_file(
        made.key,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        exclusive=True,
    )
    der = x509.load_der_x509_certificate(bytes(redeemed.certificate.der))
    write_file(made.certificate, der.public_bytes(serialization.Encoding.PEM), exclusive=True)
    return made
