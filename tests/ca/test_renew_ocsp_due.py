"""``renew_ocsp_if_due``: the responder certificate renews itself before it runs out, once."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from issuer.audit import AuditLog
from issuer.ca import load_ca_material, renew_ocsp, renew_ocsp_if_due, run_ceremony
from issuer.ca.ceremony.lock import LOCK_NAME
from issuer.ca.material import CaMaterial
from issuer.ocsp_renewal import ResponderRenewal
from issuer.ocsp_service import OcspService
from ocsp.codec import ResponseSigner
from ocsp.issuers import IssuingCa, spki_sha256
from ocsp.model import CertStatus, OcspTiming
from tests.ca.conftest import VENV_BIN, CeremonySetup
from tests.ocsp.conftest import Pki, make_env
from tests.store.dbfixtures import Database, migrated, migrated_db  # noqa: F401 -- fixtures

TEN_DAYS = timedelta(days=10)
TIMING = OcspTiming(
    validity=timedelta(days=1),
    refresh_fraction=0.5,
    crl_validity=timedelta(days=7),
    echo_nonce=True,
)
_SERIAL = 0x5EED0FCAFE


def _ceremony_ago(setup: CeremonySetup, days_left: int) -> datetime:
    """Run the ceremony so the 30-day responder certificate has *days_left* days left now."""
    now = datetime.now(UTC)
    start = now - timedelta(days=30 - days_left)
    run_ceremony(setup.config, setup.hsm, out=lambda _: None, clock=lambda: start)
    return now


def _signed_response(setup: CeremonySetup, material: CaMaterial, path: Path) -> Path:
    """A fresh ``good`` response for a serial, signed with the responder certificate on disk."""
    signer = ResponseSigner(
        certificate=material.ocsp_responder,
        key=setup.hsm.get_key(material.ocsp_responder_key_label),
    )
    now = datetime.now(UTC)
    path.write_bytes(
        signer.build_good(
            IssuingCa.from_certificate(material.issuing_ca),
            ["sha256"],
            _SERIAL,
            at=now,
            next_update=now + timedelta(hours=1),
        )
    )
    return path


def _openssl_verifies(setup: CeremonySetup, response: Path) -> str:
    ca = setup.data_dir / "ca"
    done = subprocess.run(
        ["openssl", "ocsp", "-sha256", "-issuer", str(ca / "issuing-ca.pem"),
         "-serial", hex(_SERIAL), "-respin", str(response), "-CAfile", str(ca / "root.pem"),
         "-no_nonce", "-resp_text"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Response verify OK" in done.stderr, done.stderr
    assert "WARNING" not in done.stdout + done.stderr
    assert f"{hex(_SERIAL)}: good" in done.stdout
    return done.stdout


def test_two_days_left_renews_once(
    setup: CeremonySetup, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = _ceremony_ago(setup, days_left=2)
    ca = setup.data_dir / "ca"
    before = load_ca_material(setup.data_dir)
    old = before.ocsp_responder
    presigned = _signed_response(setup, before, tmp_path / "old.der")
    opened: list[int] = []

    def open_hsm() -> object:
        opened.append(1)
        return setup.hsm

    with caplog.at_level(logging.INFO, logger="issuer.ca.ceremony.renew"):
        result = renew_ocsp_if_due(
            setup.config, open_hsm, renew_before=TEN_DAYS, out=lambda _: None, clock=lambda: now
        )  # type: ignore[arg-type]
    assert result is not None and opened == [1]
    new = load_ca_material(setup.data_dir).ocsp_responder
    assert new == result.certificate
    assert new.serial_number != old.serial_number
    assert new.not_valid_after_utc > old.not_valid_after_utc + timedelta(days=20)
    assert (ca / f"ocsp-responder-{old.serial_number:x}.pem").exists()
    event = json.loads((ca / "ceremony.json").read_text())["events"][-1]
    assert event["event"] == "renew-ocsp" and event["serial"] == f"{new.serial_number:x}"
    assert event["reason"].startswith("due: 1 days left")  # 2 days minus the seconds gone by
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert lines == [
        f"OCSP responder certificate renewed: serial {old.serial_number:x} notAfter "
        f"{old.not_valid_after_utc.isoformat()} -> serial {new.serial_number:x} notAfter "
        f"{new.not_valid_after_utc.isoformat()}"
    ]

    # a fresh response is signed with the new certificate and verifies; the one signed
    # before still verifies too: it carries the old (not yet expired) certificate
    fresh = _openssl_verifies(
        setup, _signed_response(setup, load_ca_material(setup.data_dir), tmp_path / "new.der")
    )
    assert f"{new.serial_number:X}" in fresh.replace(":", "").upper()
    _openssl_verifies(setup, presigned)

    # the pass again: not due any more, the token is not even opened
    files = setup.data_state()
    again = renew_ocsp_if_due(
        setup.config, open_hsm, renew_before=TEN_DAYS, out=lambda _: None, clock=lambda: now
    )  # type: ignore[arg-type]
    assert again is None and opened == [1]
    assert setup.data_state() == files


def test_twenty_days_left_changes_nothing(setup: CeremonySetup) -> None:
    now = _ceremony_ago(setup, days_left=20)
    files = _files(setup)

    def open_hsm() -> object:
        raise AssertionError("the token is opened only when a renewal is due")

    got = renew_ocsp_if_due(
        setup.config, open_hsm, renew_before=TEN_DAYS, out=lambda _: None, clock=lambda: now
    )  # type: ignore[arg-type]
    assert got is None
    assert _files(setup) == files


def test_cli_if_due(setup: CeremonySetup) -> None:
    _ceremony_ago(setup, days_left=20)
    ca = setup.data_dir / "ca"
    serial = load_ca_material(setup.data_dir).ocsp_responder.serial_number

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "zorgid"), "ca", "renew-ocsp", "--config", str(setup.config_path),
             "--if-due", *extra],
            capture_output=True, text=True, check=False,
        )  # fmt: skip

    quiet = run()  # 20 days left, default threshold 10: not due
    assert quiet.returncode == 0, quiet.stderr
    assert "not due" in quiet.stdout
    assert load_ca_material(setup.data_dir).ocsp_responder.serial_number == serial

    due = run("--renew-before-days", "25")
    assert due.returncode == 0, due.stderr
    assert "OCSP responder renewed" in due.stdout
    assert (ca / f"ocsp-responder-{serial:x}.pem").exists()
    assert load_ca_material(setup.data_dir).ocsp_responder.serial_number != serial


# -- the OCSP process renews by itself (issuer.ocsp_renewal, run by the refresher) -----------


def _files(setup: CeremonySetup) -> dict[str, str]:
    """The data directory's files but the renewal's (empty) lock file."""
    state = setup.data_state() or {}
    return {k: v for k, v in state.items() if not k.endswith(LOCK_NAME)}


def _process(
    setup: CeremonySetup, engine: sa.Engine, now: datetime
) -> tuple[OcspService, ResponderRenewal]:
    material = load_ca_material(setup.data_dir)
    service = OcspService.build(
        engine=engine, material=material, hsm=setup.hsm, policy=TIMING, signature_hash="sha384"
    )
    renewal = ResponderRenewal(
        data_dir=setup.data_dir,
        engine=engine,
        hsm=setup.hsm,
        service=service,
        audit=AuditLog(signer=setup.hsm.get_key(material.audit_key_label)),
        renew_before=TEN_DAYS,
        clock=lambda: now,
    )
    return service, renewal


def _presigned(service: OcspService, setup: CeremonySetup, path: Path) -> Path:
    issuer_id = spki_sha256(load_ca_material(setup.data_dir).issuing_ca)
    path.write_bytes(service.presigner.sign(issuer_id, _SERIAL, status=CertStatus.good()).der)
    return path


def _renewal_events(engine: sa.Engine) -> list[dict[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT details FROM audit_events WHERE action = 'ocsp.responder.renewed'")
        ).all()
    return [json.loads(row[0]) for row in rows]


def test_ocsp_process_renews_once_and_signs_with_the_new_certificate(
    setup: CeremonySetup,
    migrated: sa.Engine,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = _ceremony_ago(setup, days_left=2)
    old = load_ca_material(setup.data_dir).ocsp_responder
    service, renewal = _process(setup, migrated, now)
    before = _presigned(service, setup, tmp_path / "before.der")

    with caplog.at_level(logging.INFO, logger="issuer.ocsp_renewal"):
        result = renewal.run_once()

    assert result is not None
    new = load_ca_material(setup.data_dir).ocsp_responder
    assert new == result.certificate and new.serial_number != old.serial_number
    assert new.not_valid_after_utc > old.not_valid_after_utc
    assert result.key_label == "ocsp-responder"  # same key, certified again
    assert service.signer.certificate == new
    fresh = _openssl_verifies(setup, _presigned(service, setup, tmp_path / "after.der"))
    assert f"{new.serial_number:X}" in fresh.replace(":", "").upper()
    _openssl_verifies(setup, before)  # signed before: carries the old, still valid certificate
    assert _renewal_events(migrated) == [
        {
            "old_serial": f"{old.serial_number:x}",
            "old_not_after": old.not_valid_after_utc.isoformat(),
            "new_serial": f"{new.serial_number:x}",
            "new_not_after": new.not_valid_after_utc.isoformat(),
            "key_label": "ocsp-responder",
            "archived": f"ocsp-responder-{old.serial_number:x}.pem",
        }
    ]
    lines = [r.getMessage() for r in caplog.records if r.name == "issuer.ocsp_renewal"]
    assert lines == [
        f"OCSP responder certificate renewed: serial {old.serial_number:x} notAfter "
        f"{old.not_valid_after_utc.isoformat()} -> serial {new.serial_number:x} notAfter "
        f"{new.not_valid_after_utc.isoformat()}"
    ]

    files = _files(setup)
    assert renewal.run_once() is None  # the next pass: not due any more
    assert _files(setup) == files
    assert len(_renewal_events(migrated)) == 1


def test_ocsp_process_with_twenty_days_left_changes_nothing_but_follows_the_command(
    setup: CeremonySetup,
    migrated: sa.Engine,  # noqa: F811
) -> None:
    now = _ceremony_ago(setup, days_left=20)
    old = load_ca_material(setup.data_dir).ocsp_responder
    service, renewal = _process(setup, migrated, now)
    files = _files(setup)
    assert renewal.run_once() is None
    assert _files(setup) == files
    assert service.signer.certificate == old
    assert _renewal_events(migrated) == []

    # renewed by the command (or another process): the next pass signs with it
    renewed = renew_ocsp(setup.config, setup.hsm, new_key=True, out=lambda _: None)
    assert renewal.run_once() is None
    assert service.signer.certificate == renewed.certificate
    assert _renewal_events(migrated) == []


def test_zorgid_ocsp_serve_renews_on_its_schedule(
    setup: CeremonySetup,
    migrated_db: Database,  # noqa: F811
    migrated: sa.Engine,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The real process: started with 2 days left, its first refresher pass renews, and an
    on-demand (nonce) response over HTTP then carries the new certificate and verifies."""
    _ceremony_ago(setup, days_left=2)
    material = load_ca_material(setup.data_dir)
    old = material.ocsp_responder
    pem = serialization.Encoding.PEM
    pki = Pki(
        hsm=setup.hsm,
        material=material,
        issuer_id=spki_sha256(material.issuing_ca),
        issuing_pem=setup.data_dir / "ca" / "issuing-ca.pem",
        cafile=tmp_path / "cafile.pem",
        token=setup.token,
        data_dir=setup.data_dir,
    )
    pki.cafile.write_bytes(material.root.public_bytes(pem) + material.issuing_ca.public_bytes(pem))
    cert = make_env(pki, migrated, tmp_path).issue()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = tmp_path / "zorgid.toml"
    config.write_text(
        f'data_dir = "{setup.data_dir}"\n\n[server]\ndev_plaintext = true\n\n'
        f'[hsm]\nmodule = "{setup.token.module}"\ntoken = "{setup.token.label}"\n'
        f'pin_source = "file:{setup.token.pin_file}"\n\n'
        f'[database]\nurl = "{migrated_db.cli_url}"\n\n'
        f'[ocsp]\nlisten = "127.0.0.1:{port}"\ncache_seconds = 0\n'
    )
    archived = setup.data_dir / "ca" / f"ocsp-responder-{old.serial_number:x}.pem"
    proc = subprocess.Popen(
        [str(VENV_BIN / "zorgid"), "ocsp", "serve", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert "serving" in proc.stdout.readline()
        for _ in range(600):  # the first pass runs at start; wait for it, not for a time
            if archived.exists() and _renewal_events(migrated) and _arl_events(migrated):
                break
            time.sleep(0.05)
        # the root's CRL (2 of 30 days left) renewed in the same pass, served at once
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/crl/root.crl", timeout=10) as got:
            served = x509.load_der_x509_crl(got.read())
        assert served.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
        new = load_ca_material(setup.data_dir).ocsp_responder
        assert new.serial_number != old.serial_number
        done = subprocess.run(
            ["openssl", "ocsp", "-issuer", str(pki.issuing_pem), "-cert", str(cert.pem),
             "-url", f"http://127.0.0.1:{port}/ocsp", "-CAfile", str(pki.cafile), "-nonce",
             "-resp_text"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert f"{cert.pem}: good" in done.stdout, done.stdout + done.stderr
        assert "Response verify OK" in done.stderr
        assert f"{new.serial_number:X}" in done.stdout.replace(":", "").upper()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert err.count("OCSP responder certificate renewed: serial") == 1, err
    assert len(_renewal_events(migrated)) == 1
    assert err.count("root CRL (ARL) renewed: number 1 nextUpdate") == 1, err
    assert len(_arl_events(migrated)) == 1


def _arl_events(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT details FROM audit_events WHERE action = 'ca.root_crl.renewed'")
        ).all()
    return [row[0] for row in rows]
