"""The officer CLI round trip against a real ``zorgid serve`` process (mTLS, SQLite).

propose (officer A) -> diff -> approve by A refused -> approve by officer B ->
list/show say active. The CLI runs in-process (``issuer.cli.main``), the
engine in its own process, so the wire, the TLS handshake and the role mapping
are the production ones.
"""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from issuer.cli import main
from issuer.store import upgrade
from tests.issuance.conftest import CaSetup
from tests.policies_admin.conftest import variant, write_policy_config
from tests.policies_admin.test_grpc import SHORTER
from tests.server.conftest import ClientPki
from tests.store.dbfixtures import Database


def on_terminal(argv: list[str]) -> str:
    """Run ``argv`` with stdout on a pseudo-terminal; return what it wrote."""
    main_fd, child_fd = pty.openpty()
    with subprocess.Popen(argv, stdout=child_fd, stderr=subprocess.PIPE) as proc:
        os.close(child_fd)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=60)
    os.close(main_fd)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode().replace("\r\n", "\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def engine_process(tmp_path: Path, test_pki: ClientPki, policy_ca: CaSetup) -> Iterator[str]:
    db = Database("sqlite", f"sqlite:///{tmp_path / 'zorgid.sqlite3'}")
    upgrade(db.url)
    port = _free_port()
    config = write_policy_config(tmp_path, test_pki, policy_ca, db, listen=f"127.0.0.1:{port}")
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "zorgid"), "serve", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "zorgid serve did not listen within 60 s"
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_officer_cli_round_trip_against_a_real_server(
    engine_process: str,
    test_pki: ClientPki,
    officer_files: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def cli(officer: str, *argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(
            [
                "policy",
                *argv,
                "--server",
                engine_process,
                "--cert",
                str(officer_files / f"{officer}.pem"),
                "--key",
                str(officer_files / f"{officer}.key"),
                "--ca",
                str(test_pki.root / "server-ca.pem"),
            ]
        )
        out = capsys.readouterr()
        return code, out.out, out.err

    document = tmp_path / "shorter.toml"
    document.write_text(variant(SHORTER))
    code, out, err = cli("officer-a", "propose", str(document), "--reason", "90 days", "--json")
    assert code == 0, err
    proposed = json.loads(out)["version"]
    version = int(proposed["version"])
    assert proposed["state"] == "POLICY_STATE_PROPOSED"

    code, out, err = cli("officer-b", "diff", str(version))
    assert code == 0, err
    assert "profile.validity_days  changed  365  90" in out
    assert '-    "validity_days": 365\n' in out and '+    "validity_days": 90\n' in out
    assert "\033[" not in out  # not a terminal: no colour codes

    # On a terminal the diff is coloured (green additions, red removals).
    coloured = on_terminal(
        [
            str(Path(sys.executable).parent / "zorgid"),
            "policy",
            "diff",
            str(version),
            "--server",
            engine_process,
            "--cert",
            str(officer_files / "officer-b.pem"),
            "--key",
            str(officer_files / "officer-b.key"),
            "--ca",
            str(test_pki.root / "server-ca.pem"),
        ]
    )
    assert '\033[32m+    "validity_days": 90\033[0m' in coloured
    assert '\033[31m-    "validity_days": 365\033[0m' in coloured

    code, out, err = cli("officer-a", "approve", str(version))
    assert code == 3  # docs/cli.md: refused by the engine
    assert "ZID-1503" in err and "different security officer" in err
    assert "solution: Ask another security officer" in err

    code, out, err = cli("officer-b", "approve", str(version))
    assert code == 0, err
    assert "state        active" in out

    code, out, err = cli("officer-a", "list", "--json")
    assert code == 0, err
    assert int(json.loads(out)["active_version"]) == version
    code, out, err = cli("officer-a", "list")
    assert code == 0, err
    assert f"* {version}" in out and "active" in out and "superseded" in out

    code, out, err = cli("officer-c", "show", "--version", str(version))
    assert code == 0, err
    assert '"validity_days": 90' in out and "approvals    1 of 1: officer-b" in out

    code, out, err = cli("officer-c", "dry-run", str(version))
    assert code == 0, err
    assert "0 same, 0 refused, 0 different of 0 recorded requests" in out

    # --config: address from [server] listen, <client_ca folder>/clients/<role>.pem.
    capsys.readouterr()
    config = tmp_path / "zorgid.toml"
    ca = str(test_pki.root / "server-ca.pem")
    code = main(["policy", "list", "--config", str(config), "--ca", ca, "--json"])
    assert code == 0, capsys.readouterr().err
    assert int(json.loads(capsys.readouterr().out)["active_version"]) == version
    code = main(["policy", "reject", "1", "--config", str(config), "--ca", ca, "--role", "auditor"])
    assert code == 3
    assert "ZID-0003" in capsys.readouterr().err
