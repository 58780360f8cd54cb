"""Progress bars: drawn on a terminal, never in a pipe, a log or JSON output."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.audit import AuditLog
from issuer.cli.progress import progress
from tests.audit.helpers import StepClock, append_many
from tests.cli.terminal import ZORGID, checkout_env, on_terminal
from tests.store.dbfixtures import Database


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("total", [40, None], ids=["counted", "unknown-length"])
def test_drawn_on_a_terminal_only(total: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    for stream, drawn in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr("sys.stderr", stream)
        with progress("counting things", total=total) as update:
            for n in range(1, 41):
                update(n, total)
        assert ("counting things" in stream.getvalue()) is drawn
        if drawn and total is not None:
            assert "40/40" in stream.getvalue()
        if not drawn:
            assert stream.getvalue() == ""


def test_not_drawn_when_disabled_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Terminal()
    monkeypatch.setattr("sys.stderr", stream)
    with progress("counting things", total=3, enabled=False) as update:
        update(3, 3)
    assert stream.getvalue() == ""


@pytest.fixture
def verify_args(migrated_db: Database, migrated: sa.Engine, tmp_path: Path) -> list[str]:
    key = ec.generate_private_key(ec.SECP256R1())
    append_many(migrated, AuditLog(signer=key, checkpoint_every=10, clock=StepClock()), 250)
    public = tmp_path / "audit.pub.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return ["audit", "verify", "--database", migrated_db.cli_url, "--public-key", str(public)]


def test_audit_verify_shows_progress_on_a_terminal_and_none_in_a_pipe(
    verify_args: list[str],
) -> None:
    status, shown = on_terminal(*verify_args)
    assert status == 0, shown
    assert "verifying the audit chain" in shown and "250/250" in shown
    assert "audit chain OK: 250 events" in shown
    piped = subprocess.run(
        [ZORGID, *verify_args], capture_output=True, text=True, env=checkout_env(), timeout=120
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == ""
    assert piped.stdout.startswith("audit chain OK: 250 events")
    assert "\x1b" not in piped.stdout + piped.stderr
