"""``zorgid ocsp refresh|crl|serve`` as real console scripts against a config file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from tests.ocsp.conftest import CRL_PATH, OcspEnv, Pki, make_env
from tests.ocsp.helpers import http, openssl
from tests.store.dbfixtures import Database

ZORGID = Path(sys.executable).with_name("zorgid")
"""The console script beside this interpreter (the repository's .venv, also from a worktree)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(pki: Pki, db: Database, tmp: Path, port: int) -> Path:
    path = tmp / "zorgid.toml"
    path.write_text(
        f"""data_dir = "{pki.data_dir}"

[server]
dev_plaintext = true

[hsm]
module = "{pki.token.module}"
token = "{pki.token.label}"
pin_source = "file:{pki.token.pin_file}"

[database]
url = "{db.cli_url}"

[ocsp]
listen = "127.0.0.1:{port}"
cache_seconds = 0
"""
    )
    return path


def _env(pki: Pki, engine: sa.Engine, tmp: Path) -> OcspEnv:
    return make_env(pki, engine, tmp)


def test_refresh_shows_progress_and_signs_all_due(
    pki: Pki, migrated_db: Database, migrated: sa.Engine, tmp_path: Path
) -> None:
    env = _env(pki, migrated, tmp_path)
    for _ in range(3):
        env.issue(presign=False)
    config = _config(pki, migrated_db, tmp_path, _free_port())
    done = subprocess.run(
        [str(ZORGID), "ocsp", "refresh", "--config", str(config)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "3/3" in done.stderr and "[" + "#" * 30 + "]" in done.stderr
    assert "signed 3," in done.stdout
    assert env.service.crl_store.latest(pki.issuer_id) is not None  # first CRL published
    again = subprocess.run(
        [str(ZORGID), "ocsp", "refresh", "--config", str(config)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert "signed 0," in again.stdout


def test_serve_answers_openssl_and_serves_the_crl(
    pki: Pki, migrated_db: Database, migrated: sa.Engine, tmp_path: Path
) -> None:
    env = _env(pki, migrated, tmp_path)
    cert = env.issue()
    port = _free_port()
    config = _config(pki, migrated_db, tmp_path, port)
    proc = subprocess.Popen(
        [str(ZORGID), "ocsp", "serve", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"serving http://127.0.0.1:{port}/ocsp" in line, line
        done = openssl(
            "ocsp", "-issuer", str(pki.issuing_pem), "-cert", str(cert.pem),
            "-url", f"http://127.0.0.1:{port}/ocsp", "-CAfile", str(pki.cafile),
        )  # fmt: skip
        assert f"{cert.pem}: good" in done.stdout, done.stderr
        assert "Response verify OK" in done.stderr
        got = http(port, "GET", CRL_PATH)  # published before "serving" was printed
        assert got.status == 200
        assert got.headers["content-type"] == "application/pkix-crl"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert proc.returncode == 0
