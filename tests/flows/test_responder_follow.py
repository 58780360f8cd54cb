"""``zorgid serve`` follows a renewed OCSP responder certificate without a restart (issue 18).

The first OCSP response of every new mobile ID is signed by the issuance server
(ARCHITECTURE §5 step 4). The OCSP process, cron or ``zorgid ca renew-ocsp`` renews
the responder certificate in the CA directory; the server must sign with the
renewed one from its next check on, not with the one it started with until it is
restarted. Each test has a CA of its own: renewing the shared one would change
every other test's responder.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from pathlib import Path

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from issuer.ca import HsmSettings, default_dev_ceremony, load_ca_material, renew_ocsp
from issuer.ca.dev import DEFAULT_DEV_PUBLIC_URL
from issuer.ocsp_service import OcspService
from issuer.server.binding import issuance_service_bindings
from issuer.store.schema import ocsp_responses
from issuer.wiring import open_ceremony_hsm
from tests.flows.conftest import Engine, EngineParts, running_engine
from tests.issuance.conftest import make_ca
from tests.ocsp.helpers import openssl
from tests.softhsm import SoftHsmDir


def _first_response(eng: Engine, der: bytes) -> ocsp.OCSPResponse:
    serial = f"{x509.load_der_x509_certificate(der).serial_number:x}"
    with eng.db.connect() as conn:
        row = conn.execute(
            sa.select(ocsp_responses.c.der).where(ocsp_responses.c.serial == serial)
        ).one()
    return ocsp.load_der_ocsp_response(bytes(row.der))


def _verifies(tmp: Path, data_dir: Path, der: bytes, response: ocsp.OCSPResponse) -> str:
    """``openssl ocsp -respin``: the stored response checked as a relying party would."""
    material = load_ca_material(data_dir)
    (tmp / "leaf.pem").write_bytes(x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM))
    (tmp / "issuer.pem").write_bytes(material.issuing_ca.public_bytes(Encoding.PEM))
    (tmp / "cafile.pem").write_bytes(
        material.root.public_bytes(Encoding.PEM) + material.issuing_ca.public_bytes(Encoding.PEM)
    )
    (tmp / "resp.der").write_bytes(response.public_bytes(Encoding.DER))
    done = openssl(
        "ocsp", "-respin", str(tmp / "resp.der"), "-issuer", str(tmp / "issuer.pem"),
        "-cert", str(tmp / "leaf.pem"), "-CAfile", str(tmp / "cafile.pem"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stderr + done.stdout


def _renew(data_dir: Path, settings: HsmSettings) -> x509.Certificate:
    ceremony = default_dev_ceremony(data_dir, settings, DEFAULT_DEV_PUBLIC_URL)
    return renew_ocsp(
        ceremony, open_ceremony_hsm(ceremony), new_key=True, out=lambda _: None
    ).certificate


def test_new_certificates_get_first_responses_of_the_renewed_responder(
    engine_parts: EngineParts, softhsm_dir: SoftHsmDir, tmp_path: Path
) -> None:
    ca = make_ca(softhsm_dir, tmp_path / "ca", f"follow-{secrets.token_hex(3)}")
    (tmp_path / "run").mkdir()
    with running_engine(dataclasses.replace(engine_parts, flows_ca=ca), tmp_path / "run") as eng:
        eng.register_org()
        _, before, _ = eng.registered(eng.cards.app())
        old = load_ca_material(ca.data_dir).ocsp_responder
        assert _first_response(eng, before).certificates == [old]

        renewed = _renew(ca.data_dir, ca.settings())
        assert renewed != old
        assert eng.runtime.follow_responder() is True
        assert eng.runtime.follow_responder() is False  # followed once, nothing new since

        _, after, _ = eng.registered(eng.cards.app())
        response = _first_response(eng, after)
        assert response.certificates == [renewed]
        assert {r.certificate_status for r in response.responses} == {ocsp.OCSPCertStatus.GOOD}
        assert "Response verify OK" in _verifies(tmp_path, ca.data_dir, after, response)


def test_the_servers_check_follows_on_its_own(
    engine_parts: EngineParts, softhsm_dir: SoftHsmDir, tmp_path: Path
) -> None:
    """The check ``issuance_service_bindings`` starts with the server runs by itself."""
    ca = make_ca(softhsm_dir, tmp_path / "ca", f"follow-{secrets.token_hex(3)}")
    (tmp_path / "run").mkdir()
    with running_engine(dataclasses.replace(engine_parts, flows_ca=ca), tmp_path / "run") as eng:
        eng.register_org()
        eng.registered(eng.cards.app())  # issuance open: its hooks sign with the old responder
        hooks = eng.runtime.get().cycle.hooks
        assert isinstance(hooks, OcspService)
        old = hooks.signer.certificate
        # Every binding's start, as the server runs them (the follow check is one of them).
        bindings = issuance_service_bindings(eng.runtime, follow_seconds=0.05)
        starts = [(b.start, b.stop) for b in bindings if b.start is not None]
        assert starts and all(stop is not None for _, stop in starts)
        renewed = _renew(ca.data_dir, ca.settings())
        for start, _ in starts:
            start()
        try:
            deadline = time.monotonic() + 30
            while hooks.signer.certificate == old:  # wait for a state, not for a time
                assert time.monotonic() < deadline, "the server never followed the renewal"
                time.sleep(0.02)
        finally:
            for _, stop in starts:
                assert stop is not None
                stop()
        assert hooks.signer.certificate == renewed
        _, after, _ = eng.registered(eng.cards.app())
        assert _first_response(eng, after).certificates == [renewed]
