"""``renew_ocsp_if_due``: the responder certificate renews itself before it runs out, once."""

from __future__ import annotations

import json
import logging
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from issuer.ca import load_ca_material, renew_ocsp_if_due, run_ceremony
from issuer.ca.material import CaMaterial
from ocsp.codec import ResponseSigner
from ocsp.issuers import IssuingCa
from tests.ca.conftest import VENV_BIN, CeremonySetup

TEN_DAYS = timedelta(days=10)
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
