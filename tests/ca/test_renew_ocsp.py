"""``renew_ocsp``: a new short-lived responder certificate, same key or new key, all or nothing."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization

import issuer.ca.ceremony.rollback as rollback_module
from issuer.ca import CeremonyFailed, load_ca_material, renew_ocsp, run_ceremony
from issuer.cli import main as cli_main
from tests.ca.conftest import VENV_BIN, CeremonySetup, openssl_verify, pkilint_cert, pkilint_pair


def _spki(cert: object) -> bytes:
    return cert.public_key().public_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _check_valid(setup: CeremonySetup, at: datetime | None = None) -> None:
    ca = setup.data_dir / "ca"
    done = openssl_verify(ca / "root.pem", ca / "ocsp-responder.pem", ca / "issuing-ca.pem", at)
    assert done.returncode == 0, done.stdout + done.stderr
    lint = pkilint_cert(ca / "ocsp-responder.pem")
    assert lint.returncode == 0 and lint.stdout.strip() == "", lint.stdout
    pair = pkilint_pair(ca / "issuing-ca.pem", ca / "ocsp-responder.pem")
    assert pair.returncode == 0 and pair.stdout.strip() == "", pair.stdout


@pytest.mark.parametrize("new_key", [False, True])
def test_renew_ocsp_issues_a_valid_certificate_and_keeps_the_old_one(
    setup: CeremonySetup, new_key: bool
) -> None:
    start = datetime.now(UTC)
    run_ceremony(setup.config, setup.hsm, out=lambda _: None, clock=lambda: start)
    ca = setup.data_dir / "ca"
    old_pem = (ca / "ocsp-responder.pem").read_bytes()
    old = load_ca_material(setup.data_dir).ocsp_responder

    later = start + timedelta(days=20)  # the usual moment: before the 30 days run out
    result = renew_ocsp(
        setup.config, setup.hsm, new_key=new_key, out=lambda _: None, clock=lambda: later
    )

    assert result.archived == ca / f"ocsp-responder-{old.serial_number:x}.pem"
    assert result.archived.read_bytes() == old_pem
    material = load_ca_material(setup.data_dir)
    new = material.ocsp_responder
    assert new.serial_number != old.serial_number
    assert new.not_valid_before_utc == later.replace(microsecond=0)
    assert new.not_valid_after_utc - new.not_valid_before_utc == timedelta(days=30)
    _check_valid(setup, later + timedelta(minutes=1))

    if new_key:
        assert result.key_label.startswith("ocsp-responder-")
        assert _spki(new) != _spki(old)
        attrs = setup.hsm.key_attributes(result.key_label)
        assert attrs.sensitive and not attrs.extractable
        assert setup.hsm.has_key("ocsp-responder")  # old key kept: its certificate still runs
    else:
        assert result.key_label == "ocsp-responder"
        assert _spki(new) == _spki(old)
    assert material.ocsp_responder_key_label == result.key_label
    assert _spki(new) == setup.hsm.get_key(result.key_label).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = json.loads((ca / "ceremony.json").read_text())
    assert record["ocsp_responder"]["previous"][0]["serial"] == f"{old.serial_number:x}"
    assert record["events"][-1]["event"] == "renew-ocsp"

    # and again: a second renewal keeps both older certificates
    again = renew_ocsp(
        setup.config,
        setup.hsm,
        new_key=new_key,
        out=lambda _: None,
        clock=lambda: later + timedelta(days=20),
    )
    assert again.archived.name == f"ocsp-responder-{new.serial_number:x}.pem"
    assert result.archived.exists()
    _check_valid(setup, later + timedelta(days=20, minutes=1))


def test_renewal_near_the_issuing_ca_end_is_clipped_to_it(setup: CeremonySetup) -> None:
    start = datetime.now(UTC)
    run_ceremony(setup.config, setup.hsm, out=lambda _: None, clock=lambda: start)
    issuing_end = load_ca_material(setup.data_dir).issuing_ca.not_valid_after_utc
    late = issuing_end - timedelta(days=3)
    result = renew_ocsp(
        setup.config, setup.hsm, new_key=False, out=lambda _: None, clock=lambda: late
    )
    assert result.certificate.not_valid_after_utc == issuing_end


def test_failed_renewal_restores_files_and_removes_the_new_key(
    setup: CeremonySetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    tokens, files = setup.token_state(), setup.data_state()
    real = rollback_module.atomic_replace

    def replace(path: object, data: bytes) -> None:
        if getattr(path, "name", "") == "ceremony.json" and b"renew-ocsp" in data:
            raise OSError(5, "injected: I/O error writing the record")
        real(path, data)  # type: ignore[arg-type]

    monkeypatch.setattr(rollback_module, "atomic_replace", replace)
    with pytest.raises(CeremonyFailed, match="injected") as caught:
        renew_ocsp(setup.config, setup.hsm, new_key=True, out=lambda _: None)
    assert "as they were before" in str(caught.value)
    assert setup.token_state() == tokens
    assert setup.data_state() == files
    monkeypatch.undo()
    _check_valid(setup)


def test_renew_cli_subprocess(setup: CeremonySetup, capsys: pytest.CaptureFixture[str]) -> None:
    init = subprocess.run(
        [str(VENV_BIN / "zorgid"), "ca", "init", "--config", str(setup.config_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    assert "Ceremony complete" in init.stdout
    renew = subprocess.run(
        [
            str(VENV_BIN / "zorgid"),
            "ca",
            "renew-ocsp",
            "--config",
            str(setup.config_path),
            "--new-key",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert renew.returncode == 0, renew.stderr
    assert "OCSP responder renewed" in renew.stdout
    assert setup.token.pin not in init.stdout + init.stderr + renew.stdout + renew.stderr
    _check_valid(setup)
    assert cli_main(["ca", "init", "--config", str(setup.config_path)]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
