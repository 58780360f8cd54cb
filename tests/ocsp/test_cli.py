"""``zorgid ocsp refresh|crl|serve`` as real console scripts against a config file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from policies import default_policy
from tests.cli.terminal import on_terminal
from tests.ocsp.conftest import CRL_PATH, OcspEnv, Pki, make_env
from tests.ocsp.helpers import get_path, http, make_request, openssl
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


def test_refresh_shows_progress_on_a_terminal_and_signs_all_due(
    pki: Pki, migrated_db: Database, migrated: sa.Engine, tmp_path: Path
) -> None:
    env = _env(pki, migrated, tmp_path)
    for _ in range(3):
        env.issue(presign=False)
    config = _config(pki, migrated_db, tmp_path, _free_port())
    status, shown = on_terminal("ocsp", "refresh", "--config", str(config))
    assert status == 0, shown
    assert "re-signing OCSP responses" in shown and "3/3" in shown
    assert "signed 3," in shown
    assert env.service.crl_store.latest(pki.issuer_id) is not None  # first CRL published
    for _ in range(2):
        env.issue(presign=False)
    piped = subprocess.run(
        [str(ZORGID), "ocsp", "refresh", "--config", str(config)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert "signed 2," in piped.stdout
    assert "re-signing" not in piped.stderr and "2/2" not in piped.stderr  # no bar in a pipe


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
        ready = http(port, "GET", "/readyz")  # the process's own checks: store and token
        assert ready.status == 200, ready.body
        assert b'"checked": ["database", "hsm"]' in ready.body
        _only_the_certificates_urls_answer(pki, port, cert.pem, tmp_path)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert proc.returncode == 0


def _only_the_certificates_urls_answer(pki: Pki, port: int, cert: Path, tmp: Path) -> None:
    """Issue 18: the served paths are the policy's URLs' paths, and nothing else answers.

    Before, every GET path was taken for an OCSP request: the CPS URI, /metrics and
    /health answered ``200 application/ocsp-response`` (malformedRequest)."""
    policy = default_policy()
    cps = urlsplit(policy.profile.certificate_policies[0].cps_uri or "").path
    got = http(port, "GET", cps)
    assert got.status == 200
    assert got.headers["content-type"].startswith("text/plain")
    assert policy.profile.certificate_policies[0].oid in got.body.decode()
    ca = http(port, "GET", urlsplit(policy.profile.ca_issuers_url).path)
    assert ca.status == 200 and ca.headers["content-type"] == "application/pkix-cert"
    assert ca.body == pki.material.issuing_ca.public_bytes(serialization.Encoding.DER)
    for path in ("/metrics", "/health", "/anything", "/", "/cps/x", "/ocspx/QUJD", "/MEQwQjBA"):
        got = http(port, "GET", path)
        assert got.status == 404, path
        assert got.headers.get("content-type", "") != "application/ocsp-response", path
    for method, path in (("POST", cps), ("POST", CRL_PATH), ("PUT", "/ocsp"), ("DELETE", cps)):
        got = http(port, method, path, b"x", {"Content-Type": "application/ocsp-request"})
        assert got.status == 405, (method, path)
    assert (
        http(port, "POST", "/metrics", b"x", {"Content-Type": "application/ocsp-request"}).status
        == 404
    )
    # RFC 5019 GET under the OCSP URL's path, verified by openssl.
    der = make_request(pki.issuing_pem, f"-cert {cert}", out=tmp / "get-req.der")
    got = http(port, "GET", get_path(der, prefix=urlsplit(policy.profile.ocsp_url).path))
    assert got.status == 200 and got.headers["content-type"] == "application/ocsp-response"
    (tmp / "get-resp.der").write_bytes(got.body)
    done = openssl(
        "ocsp", "-issuer", str(pki.issuing_pem), "-cert", str(cert),
        "-respin", str(tmp / "get-resp.der"), "-CAfile", str(pki.cafile), "-no_nonce",
    )  # fmt: skip
    assert f"{cert}: good" in done.stdout, done.stderr
    assert "Response verify OK" in done.stderr
