"""`zorgid audit verify` on both back ends: exit 0 for a good chain, 1 naming the bad event."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hsm import Hsm, KeySpec
from issuer.audit import AuditLog
from issuer.cli import main
from issuer.store.schema import audit_checkpoints, audit_events
from issuer.store.types import to_utc_text
from tests.audit.helpers import StepClock, append_many
from tests.softhsm import SoftHsmToken
from tests.store.dbfixtures import Database


@pytest.fixture
def key_file(migrated: sa.Engine, tmp_path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    append_many(migrated, AuditLog(signer=key, checkpoint_every=10, clock=StepClock()), 25)
    path = tmp_path / "audit-checkpoint.pub.pem"
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def test_verify_ok_and_broken(
    migrated_db: Database,
    migrated: sa.Engine,
    key_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["audit", "verify", "--database", migrated_db.cli_url, "--public-key", str(key_file)]
    assert main(args) == 0
    assert "audit chain OK: 25 events, 2 signed checkpoints" in capsys.readouterr().out
    with migrated.begin() as conn:
        conn.execute(audit_events.update().where(audit_events.c.seq == 12).values(subject="x"))
    assert main(args) == 1
    assert "audit chain BROKEN at event 12: event 12 was changed" in capsys.readouterr().err
    assert main([*args, "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is False
    assert result["first_bad_seq"] == 12
    assert result["events_checked"] == 11


def test_verify_reports_the_events_after_the_last_checkpoint(
    migrated_db: Database,
    migrated: sa.Engine,
    key_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """25 events, a checkpoint every 10: events 21..25 are vouched for by the chain only."""
    with migrated.connect() as conn:
        signed_at = conn.execute(
            sa.select(audit_checkpoints.c.signed_at).where(audit_checkpoints.c.seq == 20)
        ).scalar_one()
    args = ["audit", "verify", "--database", migrated_db.cli_url, "--public-key", str(key_file)]
    assert main(args) == 0
    assert (
        f"5 events after the last checkpoint (event 20, signed {to_utc_text(signed_at)})"
        in capsys.readouterr().out
    )
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["events_after_checkpoint"] == 5
    assert result["last_checkpoint_seq"] == 20
    assert result["last_checkpoint_at"] == to_utc_text(signed_at)


def test_verify_without_checkpoints_says_so(
    migrated_db: Database, migrated: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    append_many(migrated, AuditLog(clock=StepClock()), 7)
    assert main(["audit", "verify", "--database", migrated_db.cli_url]) == 0
    assert "7 events after the last checkpoint (no signed checkpoint yet" in (
        capsys.readouterr().out
    )


def test_verify_with_config_uses_the_ceremony_public_key(
    migrated_db: Database, migrated: sa.Engine, key_file: Path, tmp_path: Path
) -> None:
    ca_dir = tmp_path / "data" / "ca"
    ca_dir.mkdir(parents=True)
    (ca_dir / "audit-checkpoint.pub.pem").write_bytes(key_file.read_bytes())
    config = tmp_path / "zorgid.toml"
    config.write_text(
        'data_dir = "data"\n[server]\ndev_plaintext = true\n'
        '[hsm]\ntoken = "t"\npin_source = "file:pin"\n'
        f'[database]\nurl = "{migrated_db.cli_url}"\n'
    )
    assert main(["audit", "verify", "--config", str(config)]) == 0
    assert main(["audit", "verify", "--config", str(config), "--known-head", "30"]) == 1


def test_unusable_key_exits_5_missing_2_malformed(
    migrated_db: Database, migrated: sa.Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.pem"
    args = ["audit", "verify", "--database", migrated_db.cli_url, "--public-key", str(missing)]
    assert main(args) == 5  # docs/cli.md: a file missing
    assert "cannot read the audit public key" in capsys.readouterr().err
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    assert main([*args[:-1], str(garbage)]) == 2
    assert "could not read the audit public key" in capsys.readouterr().err


def _hsm_config(tmp_path: Path, token: SoftHsmToken, label: str, url: str) -> Path:
    config = tmp_path / "zorgid.toml"
    config.write_text(
        'data_dir = "data"\n[server]\ndev_plaintext = true\n'
        f'[hsm]\nmodule = "{token.module}"\ntoken = "{token.label}"\n'
        f'pin_source = "file:{token.pin_file}"\n[hsm.keys]\naudit = "{label}"\n'
        f'[database]\nurl = "{url}"\n'
    )
    return config


def test_checkpoint_with_the_hsm_audit_key(
    migrated_db: Database,
    migrated: sa.Engine,
    engine_token: SoftHsmToken,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hsm = Hsm.open(
        module_path=engine_token.module,
        token_label=engine_token.label,
        pin_source=f"file:{engine_token.pin_file}",
    )
    label = f"audit-cli-{secrets.token_hex(4)}"
    key = hsm.generate_key(label, KeySpec.EC_P256)
    ca_dir = tmp_path / "data" / "ca"
    ca_dir.mkdir(parents=True)
    (ca_dir / "audit-checkpoint.pub.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    config = _hsm_config(tmp_path, engine_token, label, migrated_db.cli_url)
    assert main(["audit", "checkpoint", "--config", str(config)]) == 0
    assert "nothing to checkpoint" in capsys.readouterr().out
    append_many(migrated, AuditLog(clock=StepClock()), 7)
    assert main(["audit", "checkpoint", "--config", str(config)]) == 0
    assert "checkpoint at event 7" in capsys.readouterr().out
    assert main(["audit", "verify", "--config", str(config), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["ok"], result["checkpoints_checked"], result["last_seq"]) == (True, 1, 7)
    # a config naming another HSM key than the published one is refused before signing
    other = f"audit-other-{secrets.token_hex(4)}"
    hsm.generate_key(other, KeySpec.EC_P256)
    config = _hsm_config(tmp_path, engine_token, other, migrated_db.cli_url)
    assert main(["audit", "checkpoint", "--config", str(config)]) == 2
    assert "is not the audit key published" in capsys.readouterr().err
