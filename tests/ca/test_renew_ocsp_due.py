"""``renew_ocsp_if_due``: the responder certificate renews itself before it runs out, once."""

from __future__ import annotations

import json
import logging
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from issuer.audit import AuditLog
from issuer.ca import load_ca_material, renew_ocsp, renew_ocsp_if_due, run_ceremony
from issuer.ca.material import CaMaterial
from issuer.ocsp_renewal import LOCK_NAME, ResponderRenewal
from issuer.ocsp_service import OcspService
from ocsp.codec import ResponseSigner
from ocsp.issuers import IssuingCa, spki_sha256
from ocsp.model import CertStatus, OcspTiming
from tests.ca.conftest import VENV_BIN, CeremonySetup
from tests.store.dbfixtures import migrated, migrated_db  # noqa: F401 -- fixtures

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
    files = setup.data_state()

    def open_hsm() -> object:
        raise AssertionError("the token is opened only when a renewal is due")

    got = renew_ocsp_if_due(
        setup.config, open_hsm, renew_before=TEN_DAYS, out=lambda _: None, clock=lambda: now
    )  # type: ignore[arg-type]
    assert got is None
    assert setup.data_state() == files


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
    assert service.presigner.signer.certificate == new
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
    assert service.presigner.signer.certificate == old
    assert _renewal_events(migrated) == []

    # renewed by the command (or another process): the next pass signs with it
    renewed = renew_ocsp(setup.config, setup.hsm, new_key=True, out=lambda _: None)
    assert renewal.run_once() is None
    assert service.presigner.signer.certificate == renewed.certificate
    assert _renewal_events(migrated) == []
