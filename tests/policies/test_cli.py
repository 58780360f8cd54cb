"""``zorgid policy check|show`` through the real console script."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from issuer.cli.policy import register
from policies import default_policy
from policies.reader import DEFAULT_POLICY_PATH
from tests.profile.certs import make_ca

ZORGID = Path(sys.executable).with_name("zorgid")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``zorgid policy ...`` in-process through this command's own parser
    (so another command module being mid-edit cannot fail these tests)."""
    parser = argparse.ArgumentParser(prog="zorgid")
    register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["policy", *args])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = parsed.func(parsed)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_console_script_runs_the_command() -> None:
    done = subprocess.run(
        [str(ZORGID), "policy", "check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert default_policy().digest in done.stdout


def test_check_default_policy_with_issuing_ca(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ca, _ = make_ca(not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=900))
    pem = tmp_path / "ca.pem"
    pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    done = _run("check", str(DEFAULT_POLICY_PATH), "--issuer-cert", str(pem))
    assert done.returncode == 0, done.stderr
    assert default_policy().digest in done.stdout
    assert "profile: ok" in done.stdout


def test_check_refuses_a_short_lived_ca(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ca, _ = make_ca(not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=30))
    pem = tmp_path / "ca.pem"
    pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    done = _run("check", "--issuer-cert", str(pem))
    assert done.returncode == 1, done.stdout
    assert "notAfter" in done.stderr


def test_check_refuses_a_bad_document_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text(
        DEFAULT_POLICY_PATH.read_text().replace("login_seconds", "login_secs"), encoding="utf-8"
    )
    done = _run("check", str(bad))
    assert done.returncode == 1
    assert "qr.login_secs" in done.stderr or "qr.login_seconds" in done.stderr


def test_check_unreadable_file(tmp_path: Path) -> None:
    assert _run("check", str(tmp_path / "missing.toml")).returncode == 5


def test_show_prints_canonical_document() -> None:
    done = _run("show")
    assert done.returncode == 0
    assert '"ca_oid": "1.3.6.1.4.1.32473.528.1.1"' in done.stdout
    assert done.stdout.strip().endswith(default_policy().digest)
