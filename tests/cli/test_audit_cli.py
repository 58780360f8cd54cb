"""``zorgid audit list|export``: the log read back, filtered, and exported so that every
line's hash can be recomputed and the chain followed (docs/audit.md)."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.audit import GENESIS_HASH, AuditEvent, AuditLog, event_hash
from issuer.cli import main
from issuer.cli.failures import Exit
from tests.audit.helpers import StepClock, append_many
from tests.cli.terminal import ZORGID, checkout_env
from tests.store.dbfixtures import Database


@pytest.fixture
def url(migrated_db: Database, migrated: sa.Engine) -> str:
    """A log of six events: revocations by two operators, issuances by the engine."""
    log = AuditLog(signer=ec.generate_private_key(ec.SECP256R1()), clock=StepClock())
    for n in range(6):
        who = ("operator", f"CN=op-{n % 2}") if n % 3 else ("engine", "engine")
        action = "certificate.revoke" if n % 3 else "certificate.issue"
        with migrated.begin() as conn:
            log.append(
                conn,
                AuditEvent(
                    actor_role=who[0], actor_identity=who[1], action=action,
                    subject=f"certificate:{n}", details={"n": n, "naam": "Zoë"},
                ),
            )  # fmt: skip
    return migrated_db.cli_url


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_export_lines_carry_the_hash_chain(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "export", "--database", url]) == Exit.OK
    records = _lines(capsys.readouterr().out)
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5, 6]
    previous = GENESIS_HASH
    for record in records:
        fields = {k: v for k, v in record.items() if k != "hash"}
        assert event_hash(**fields) == record["hash"]  # type: ignore[arg-type]
        assert record["prev_hash"] == previous
        previous = str(record["hash"])
    assert json.loads(str(records[0]["details"])) == {"n": 0, "naam": "Zoë"}


def test_export_filters_and_writes_a_private_file(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "audit.jsonl"
    argv = ["audit", "export", "--database", url, "--actor", "CN=op-1", "--kind", "certificate.*"]
    assert main([*argv, "--out", str(out)]) == Exit.OK
    assert "2 event(s) exported" in capsys.readouterr().err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    records = _lines(out.read_text())
    assert [(r["seq"], r["actor_identity"]) for r in records] == [(2, "CN=op-1"), (6, "CN=op-1")]
    # An export never overwrites: exit 5, the file as it was.
    assert main([*argv, "--kind", "certificate.issue", "--out", str(out)]) == Exit.FILE
    assert "exists" in capsys.readouterr().err
    assert _lines(out.read_text()) == records


def test_a_failed_export_leaves_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "audit.jsonl"
    nowhere = f"sqlite:///{tmp_path / 'no' / 'such' / 'x.sqlite3'}"
    assert main(["audit", "export", "--database", nowhere, "--out", str(out)]) == Exit.UNREACHABLE
    assert "database not usable" in capsys.readouterr().err
    assert not out.exists()


def test_list_is_a_table_of_the_events_selected(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "list", "--database", url, "--page", "2"]) == Exit.OK
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split() == ["SEQ", "AT", "ROLE", "ACTOR", "KIND", "OUTCOME", "SUBJECT"]
    assert [line.split()[0] for line in lines[2:]] == ["1", "2", "3", "4", "5", "6"]
    assert lines[2].split()[1:] == [
        "2026-11-28T09:00:00Z", "engine", "engine", "certificate.issue", "success",
        "certificate:0",
    ]  # fmt: skip
    assert "6 event(s)" in captured.err
    argv = [
        "audit",
        "list",
        "--database",
        url,
        "--actor",
        "operator",
        "--kind",
        "certificate.issue",
    ]
    assert main(argv) == Exit.OK
    assert capsys.readouterr().out == ""  # nothing matches: no table at all
    argv = ["audit", "list", "--database", url, "--since", "2026-11-28T09:00:00.004Z"]
    assert main([*argv, "--until", "2026-11-29"]) == Exit.OK
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]] == ["4", "5", "6"]


@pytest.mark.parametrize("command", ["list", "export"])
def test_a_reader_that_stops_early_ends_it_quietly(
    command: str, migrated_db: Database, migrated: sa.Engine
) -> None:
    """``zorgid audit export | head``: more than a pipe holds, the reader gone after a line."""
    log = AuditLog(signer=ec.generate_private_key(ec.SECP256R1()), clock=StepClock())
    append_many(migrated, log, 1500, batch=100)
    proc = subprocess.Popen(
        [ZORGID, "audit", command, "--database", migrated_db.cli_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=checkout_env(),
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(120) == Exit.OK, err
    assert "Traceback" not in err and "Exception ignored" not in err
