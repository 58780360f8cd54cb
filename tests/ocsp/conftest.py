"""OCSP/CRL fixtures: a real ceremony on a fresh SoftHSM token, certificates issued by its
issuing CA key, the store on SQLite and PostgreSQL, and the granian front on a real port."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hsm import Hsm
from issuer.ca import CaMaterial, default_dev_ceremony, load_ca_material, run_ceremony
from issuer.ca.config import HsmSettings
from issuer.ca.dev import DEFAULT_DEV_PUBLIC_URL
from issuer.ocsp_service import OcspService
from issuer.store import repo
from issuer.store.ocsp import serial_hex
from ocsp.front import CrlCache, Front, HttpRoutes
from ocsp.granian_server import listen, serve
from ocsp.issuers import spki_sha256
from ocsp.model import OcspTiming
from ocsp.probes import ReadinessCheck
from ocsp.responder import Answer
from ocsp.rsgi import RsgiFront
from tests.server.conftest import test_pki  # noqa: F401 -- fixture for test_grpc
from tests.softhsm import SoftHsmDir, SoftHsmToken
from tests.store.dbfixtures import migrated, migrated_db  # noqa: F401 -- fixtures

CRL_PATH = "/crl/issuing-ca.crl"
CA_PATH = "/ca/issuing-ca.cer"
TIMING = OcspTiming(
    validity=timedelta(days=4),
    refresh_fraction=0.5,
    crl_validity=timedelta(days=7),
    echo_nonce=True,
)


@dataclass(frozen=True)
class Pki:
    """The ceremony's hierarchy on a token, and files for ``openssl``."""

    hsm: Hsm
    material: CaMaterial
    issuer_id: str
    issuing_pem: Path
    cafile: Path
    """root + issuing CA: what ``-CAfile`` gets (the responder cert comes in the response)."""
    token: SoftHsmToken
    data_dir: Path


@pytest.fixture(scope="session")
def pki(softhsm_dir: SoftHsmDir, tmp_path_factory: pytest.TempPathFactory) -> Pki:
    token = softhsm_dir.init_token(f"ocsp-{secrets.token_hex(3)}")
    hsm = Hsm.open(
        module_path=token.module, token_label=token.label, pin_source=f"file:{token.pin_file}"
    )
    data_dir = tmp_path_factory.mktemp("ocsp-ca")
    settings = HsmSettings(
        module=token.module, token=token.label, pin_source=f"file:{token.pin_file}"
    )
    run_ceremony(
        default_dev_ceremony(data_dir, settings, DEFAULT_DEV_PUBLIC_URL), hsm, out=lambda *_: None
    )
    material = load_ca_material(data_dir)
    pem = serialization.Encoding.PEM
    issuing_pem = data_dir / "issuing.pem"
    issuing_pem.write_bytes(material.issuing_ca.public_bytes(pem))
    cafile = data_dir / "cafile.pem"
    cafile.write_bytes(material.root.public_bytes(pem) + material.issuing_ca.public_bytes(pem))
    return Pki(
        hsm=hsm,
        material=material,
        issuer_id=spki_sha256(material.issuing_ca),
        issuing_pem=issuing_pem,
        cafile=cafile,
        token=token,
        data_dir=data_dir,
    )


@dataclass
class MovableClock:
    """Real time plus an offset tests move (no sleeping)."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass
class Issued:
    serial: int
    cert: x509.Certificate
    pem: Path

    @property
    def serial_hex(self) -> str:
        return serial_hex(self.serial)


@dataclass
class OcspEnv:
    """One test's world: database, service, clock, and a way to issue certificates."""

    pki: Pki
    engine: sa.Engine
    service: OcspService
    clock: MovableClock
    tmp: Path

    def issue(self, *, presign: bool = True, days: int = 365) -> Issued:
        """A real end-entity certificate signed by the issuing CA key on the token, stored."""
        now = self.clock()
        ca = self.pki.material.issuing_ca
        key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()
        ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"test {serial:x}")]))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.pki.hsm.get_key(self.pki.material.issuing_ca_key_label), hashes.SHA384())
        )
        der = cert.public_bytes(serialization.Encoding.DER)
        with self.engine.begin() as conn:
            repo.reserve_serial(
                conn,
                issuer=self.pki.issuer_id,
                serial=serial_hex(serial),
                request_sha256=hashlib.sha256(der).hexdigest(),
                policy_version=1,
                now=now,
            )
            repo.store_certificate(
                conn,
                repo.CertificateRecord(
                    issuer=self.pki.issuer_id,
                    serial=serial_hex(serial),
                    der=der,
                    not_before=cert.not_valid_before_utc,
                    not_after=cert.not_valid_after_utc,
                    policy_version=1,
                    spki_sha256=hashlib.sha256(
                        key.public_key().public_bytes(
                            serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo,
                        )
                    ).hexdigest(),
                ),
                now=now,
            )
        if presign:
            self.service.presign_issued(self.pki.issuer_id, serial_hex(serial))
        pem = self.tmp / f"{serial:x}.pem"
        pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return Issued(serial=serial, cert=cert, pem=pem)

    def revoke(self, issued: Issued, reason: str = "keyCompromise") -> None:
        self.service.revoke(
            self.engine, self.pki.issuer_id, issued.serial_hex, at=self.clock(), reason=reason
        )


def make_env(
    pki: Pki,
    engine: sa.Engine,
    tmp: Path,
    *,
    timing: OcspTiming = TIMING,
    cache: float = 0.0,
    keep: float = 0.0,
    **limits: Any,
) -> OcspEnv:
    """*cache*, *keep*: ``cache_seconds``, ``keep_seconds`` (0: none; *keep* reads the
    store's change feed); *limits*: ``OcspService.build``'s request limits (max_certids,
    sign_rate, ...)."""
    clock = MovableClock()
    service = OcspService.build(
        engine=engine,
        material=pki.material,
        hsm=pki.hsm,
        policy=timing,
        signature_hash="sha384",  # as Pki.issue signs (below)
        clock=clock,
        cache_seconds=cache,
        keep_seconds=keep,
        **limits,
    )
    return OcspEnv(pki=pki, engine=engine, service=service, clock=clock, tmp=tmp)


@pytest.fixture
def env(pki: Pki, migrated: sa.Engine, tmp_path: Path) -> OcspEnv:  # noqa: F811
    return make_env(pki, migrated, tmp_path)


@dataclass(frozen=True)
class Served:
    port: int

    def url(self, path: str = "/ocsp") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def serve_app(front: Front) -> tuple[Served, Callable[[], None]]:
    """Serve *front* as ``zorgid ocsp serve`` does (granian, :mod:`ocsp.granian_server`) on
    127.0.0.1:<free port>, in a thread."""
    sock = listen("127.0.0.1", 0, reuse_port=False)
    stop = threading.Event()
    started = threading.Event()
    thread = threading.Thread(
        target=serve, args=(RsgiFront(front), sock), kwargs={"stop": stop, "ready": started.set},
        daemon=True,
    )  # fmt: skip
    thread.start()
    assert started.wait(10)

    def done() -> None:
        stop.set()
        thread.join(10)
        sock.close()

    return Served(int(sock.getsockname()[1])), done


def http_app(
    env: OcspEnv,
    readiness: Sequence[ReadinessCheck] = (),
    *,
    on_answer: Callable[[Answer], None] | None = None,
    repeat_log_sample: int = 1,
) -> Front:
    """*readiness*: what ``/readyz`` checks (none: always ready); *on_answer* hears answers;
    *repeat_log_sample*: ``[ocsp] repeat_log_sample`` (1: a line for every request)."""
    return Front(
        env.service.responder,
        routes=HttpRoutes(
            ocsp_prefix="/ocsp",
            crl_paths={CRL_PATH: env.pki.issuer_id},
            ca_certificates={
                CA_PATH: env.pki.material.issuing_ca.public_bytes(serialization.Encoding.DER)
            },
        ),
        crls=CrlCache(env.service.crl_store.latest, ttl=0),
        readiness=readiness,
        on_answer=on_answer,
        repeat_log_sample=repeat_log_sample,
    )


@pytest.fixture
def served(env: OcspEnv) -> Iterator[Served]:
    made, stop = serve_app(http_app(env))
    yield made
    stop()
