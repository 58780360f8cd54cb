"""Issuing-CA rollover end to end (issue 18 item 3): mobile IDs issued before and after
``zorgid ca rollover`` both log in, answer OCSP (``openssl ocsp``) and appear on their own
CRL once revoked -- through the engine restarted over the same data directory and database,
and once more after a second restart. On SQLite and PostgreSQL (``migrated_db``)."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from issuer.api.zorgid.v1 import certificate_pb2, login_pb2
from issuer.ca import default_dev_ceremony, load_ca_material, rollover_issuing_ca
from issuer.ca.dev import DEFAULT_DEV_PUBLIC_URL
from issuer.config import Config
from issuer.wiring import open_ceremony_hsm, open_ocsp_runtime
from ocsp.issuers import spki_sha256
from testkit.phone import Phone
from tests.flows.conftest import Engine, EngineParts, rpc_code, running_engine
from tests.issuance.conftest import make_ca
from tests.ocsp.conftest import serve_app
from tests.ocsp.helpers import http, openssl
from tests.softhsm import SoftHsmDir

PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER
AUTHENTICATED = login_pb2.LOGIN_STATE_AUTHENTICATED


@dataclass
class MobileId:
    """One person's installed mobile ID and the files ``openssl`` checks it with."""

    phone: Phone
    der: bytes
    cert: x509.Certificate
    pem: Path
    cafile: Path
    """Root + the issuing CA that issued it (the responder certificate comes in the answer)."""
    issuer_pem: Path
    certificate_id: str = ""

    @property
    def crl_path(self) -> str:
        """The path of the CRL URL the certificate names (its own generation's)."""
        points = self.cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        name = points[0].full_name
        assert name is not None
        return urlsplit(str(name[0].value)).path


def _mobile_id(eng: Engine, tmp: Path, data_dir: Path) -> MobileId:
    phone, der, _ = eng.registered(eng.cards.app())
    cert = x509.load_der_x509_certificate(der)
    material = load_ca_material(data_dir)
    issuer = next(
        g.certificate
        for g in material.generations()
        if g.certificate.subject == cert.issuer and _issued_by(cert, g.certificate)
    )
    name = f"{cert.serial_number:x}"
    (tmp / f"{name}.pem").write_bytes(cert.public_bytes(PEM))
    (tmp / f"{name}.issuer.pem").write_bytes(issuer.public_bytes(PEM))
    (tmp / f"{name}.cafile.pem").write_bytes(
        material.root.public_bytes(PEM) + issuer.public_bytes(PEM)
    )
    return MobileId(
        phone=phone,
        der=der,
        cert=cert,
        pem=tmp / f"{name}.pem",
        cafile=tmp / f"{name}.cafile.pem",
        issuer_pem=tmp / f"{name}.issuer.pem",
    )


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except Exception:
        return False
    return True


def _logs_in(eng: Engine, who: MobileId) -> None:
    done = eng.login(who.phone, who.der)
    assert done.state == AUTHENTICATED, done
    who.certificate_id = done.certificate_id


def _ocsp_state(who: MobileId, port: int) -> str:
    done = openssl(
        "ocsp", "-sha256", "-issuer", str(who.issuer_pem), "-cert", str(who.pem),
        "-url", f"http://127.0.0.1:{port}/ocsp", "-CAfile", str(who.cafile), "-no_nonce",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Response verify OK" in done.stderr, done.stderr
    assert "WARNING" not in done.stdout + done.stderr
    return done.stdout.split(f"{who.pem}: ", 1)[1].split()[0]


def _crl_serials(who: MobileId, port: int, tmp: Path) -> set[int]:
    """The CRL at the path *who*'s certificate names, verified with its own CA (openssl)."""
    got = http(port, "GET", who.crl_path)
    assert got.status == 200, who.crl_path
    path = tmp / "crl.der"
    path.write_bytes(got.body)
    done = openssl("crl", "-inform", "DER", "-in", str(path), "-CAfile", str(who.cafile), "-text")
    assert done.returncode == 0, done.stderr
    assert "verify OK" in done.stdout + done.stderr
    return {
        int(line.split(":", 1)[1].strip(), 16)
        for line in done.stdout.splitlines()
        if line.strip().startswith("Serial Number:")
    }


def _ocsp_and_crls(
    config: Config, kept: list[MobileId], revoked: list[MobileId], tmp: Path
) -> None:
    """A freshly started OCSP process (``zorgid ocsp serve``'s runtime) over the same data:
    every kept certificate good, every revoked one revoked and on its own CRL only."""
    runtime = open_ocsp_runtime(config)
    served, stop = serve_app(runtime.front())
    try:
        for who in kept:
            assert _ocsp_state(who, served.port) == "good"
        for who in revoked:
            assert _ocsp_state(who, served.port) == "revoked"
            assert _crl_serials(who, served.port, tmp) == {who.cert.serial_number}
    finally:
        stop()
        runtime.close()


def test_mobile_ids_of_both_issuing_cas_log_in_and_are_revoked_across_restarts(
    engine_parts: EngineParts, softhsm_dir: SoftHsmDir, tmp_path: Path
) -> None:
    ca = make_ca(softhsm_dir, tmp_path / "ca", f"rollover-{secrets.token_hex(3)}")
    parts = dataclasses.replace(engine_parts, flows_ca=ca)
    for run in ("first", "second", "third"):
        (tmp_path / run).mkdir()
    with running_engine(parts, tmp_path / "first") as eng:
        eng.register_org()
        old = _mobile_id(eng, tmp_path, ca.data_dir)
        old_revoked = _mobile_id(eng, tmp_path, ca.data_dir)
        _logs_in(eng, old)
    g1 = load_ca_material(ca.data_dir).issuing_ca

    ceremony = default_dev_ceremony(ca.data_dir, ca.settings(), DEFAULT_DEV_PUBLIC_URL)
    start = datetime.now(UTC) - timedelta(hours=1)  # as make_ca: leaves are backdated
    rollover_issuing_ca(
        ceremony, open_ceremony_hsm(ceremony), out=lambda _: None, clock=lambda: start
    )
    g2 = load_ca_material(ca.data_dir).issuing_ca

    with running_engine(parts, tmp_path / "second") as eng:  # the restart
        new = _mobile_id(eng, tmp_path, ca.data_dir)
        new_revoked = _mobile_id(eng, tmp_path, ca.data_dir)
        assert old.cert.issuer == new.cert.issuer == g2.subject  # same name, new key
        assert old.issuer_pem.read_bytes() == g1.public_bytes(PEM)
        assert new.issuer_pem.read_bytes() == g2.public_bytes(PEM)
        assert old.crl_path == "/crl/issuing-ca.crl"
        assert new.crl_path == "/crl/issuing-ca-g2.crl"
        for who in (old, old_revoked, new, new_revoked):
            _logs_in(eng, who)
        for who, ca_cert in ((old, g1), (new, g2)):  # each under its own issuer id
            shown = eng.operator.certs.GetCertificate(
                certificate_pb2.GetCertificateRequest(serial=f"{who.cert.serial_number:x}"),
                timeout=30,
            ).certificate
            assert shown.id == who.certificate_id
            assert shown.issuer_id == spki_sha256(ca_cert)
        # The store keeps the later of two responses: the revocation's is signed after
        # the issuance's (the injected clock stands still otherwise).
        eng.clock.advance(timedelta(minutes=1))
        for who in (old_revoked, new_revoked):
            eng.operator.certs.RevokeCertificate(
                certificate_pb2.RevokeCertificateRequest(
                    id=who.certificate_id,
                    reason=certificate_pb2.REVOCATION_REASON_CESSATION_OF_OPERATION,
                ),
                timeout=30,
            )
        _ocsp_and_crls(eng.config, [old, new], [old_revoked, new_revoked], tmp_path)

    with running_engine(parts, tmp_path / "third") as eng:  # and again
        _logs_in(eng, old)
        _logs_in(eng, new)
        for who in (old_revoked, new_revoked):
            made = eng.portal.login.CreateLoginChallenge(
                login_pb2.CreateLoginChallengeRequest(), timeout=30
            )
            with pytest.raises(grpc.RpcError) as err:
                eng.answer(made.qr.payload, who.phone, who.der)
            assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1704")
        _ocsp_and_crls(eng.config, [old, new], [old_revoked, new_revoked], tmp_path)
