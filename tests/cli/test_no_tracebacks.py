"""No ``zorgid`` command prints a traceback for an expected failure (issue 21, docs/cli.md).

Real commands run as subprocesses against one real development engine
(``zorgid dev``: SoftHSM token, mTLS gRPC, SQLite): engine down, wrong role,
missing file, malformed input, a refusal, an HSM token SoftHSM cannot see, a
database that cannot be opened. Each asserts the exit status of the scheme,
no traceback, and the ZID code with the catalogue's solution where there is one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from issuer.cli.failures import Exit
from issuer.errors import CATALOGUE

REPO = Path(__file__).resolve().parents[2]
ZORGID = str(Path(sys.executable).with_name("zorgid"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(**extra: str) -> dict[str, str]:
    """This checkout first on the path, and no SOFTHSM2_CONF unless a case sets one."""
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


@dataclass(frozen=True)
class Dev:
    root: Path
    port: int


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """One development engine for the module (its first start makes token, CA and PKI)."""
    root = tmp_path_factory.mktemp("cli") / "var"
    port = _free_port()
    log = root.parent / "engine.log"
    proc = subprocess.Popen(
        [
            ZORGID,
            "dev",
            "--data-dir",
            str(root),
            "--listen",
            f"127.0.0.1:{port}",
            "--ocsp-listen",
            f"127.0.0.1:{_free_port()}",
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=_env(),
    )
    try:
        deadline = time.monotonic() + 90
        while "Stop with Ctrl-C" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"zorgid dev did not start ({proc.poll()}):\n{log.read_text()}")
            time.sleep(0.2)
        yield Dev(root=root, port=port)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ZORGID, *args], capture_output=True, text=True, timeout=60, env=_env(**env)
    )


def _expect(done: subprocess.CompletedProcess[str], status: Exit, *said: str) -> None:
    report = f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    assert done.returncode == status, report
    assert "Traceback" not in done.stderr + done.stdout, report
    for text in said:
        assert text in done.stderr, f"{text!r} not said; {report}"


def _zid(code: str) -> tuple[str, str]:
    """The code and the catalogue's solution, as the CLI prints them."""
    return code, f"solution: {CATALOGUE[code].solution_en}"


def test_engine_down(dev: Dev, tmp_path: Path) -> None:
    tls = dev.root / "tls"
    closed = _free_port()
    done = _run(
        "policy",
        "list",
        "--server",
        f"127.0.0.1:{closed}",
        "--cert",
        str(tls / "clients" / "auditor.pem"),
        "--key",
        str(tls / "clients" / "auditor.key"),
        "--ca",
        str(tls / "client-ca.pem"),
    )
    _expect(done, Exit.UNREACHABLE, f"127.0.0.1:{closed} not reachable", "solution: start it")
    # `zorgid dev health` of an environment whose engine is not running.
    stopped = tmp_path / "var"
    stopped.mkdir()
    (stopped / "tls").symlink_to(tls)
    config = (dev.root / "zorgid.toml").read_text()
    (stopped / "zorgid.toml").write_text(config.replace(f":{dev.port}", f":{closed}"))
    done = _run("dev", "--data-dir", str(stopped), "health")
    _expect(done, Exit.UNREACHABLE, f"localhost:{closed} not reachable")


def test_wrong_role_is_a_refusal_with_the_catalogue_solution(dev: Dev) -> None:
    config = str(dev.root / "zorgid.toml")
    done = _run("policy", "list", "--config", config, "--role", "mobile")
    _expect(done, Exit.REFUSED, *_zid("ZID-0003"))
    assert _run("policy", "list", "--config", config, "--role", "auditor").returncode == Exit.OK


def test_missing_files(dev: Dev, tmp_path: Path) -> None:
    absent = tmp_path / "absent.toml"
    _expect(_run("ocsp", "refresh", "--config", str(absent)), Exit.FILE, str(absent))
    _expect(
        _run("certs", "revoke", "--config", str(absent), "x", "--reason", "superseded"),
        Exit.FILE,
        str(absent),
    )
    _expect(_run("policy", "show", str(tmp_path / "p.yaml")), Exit.FILE, "p.yaml")
    _expect(_run("dev", "--data-dir", str(tmp_path), "health"), Exit.FILE, "make run")
    database = f"sqlite:///{dev.root / 'zorgid.sqlite3'}"
    done = _run("audit", "verify", "--database", database, "--public-key", str(tmp_path / "k.pem"))
    _expect(done, Exit.FILE, "k.pem")


def test_malformed_input(dev: Dev, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\nlisten =")
    _expect(_run("ocsp", "crl", "--config", str(bad)), Exit.USAGE, *_zid("ZID-0901"))
    config = str(dev.root / "zorgid.toml")
    done = _run("certs", "show", "--config", config, "--serial", "not-hex")
    _expect(done, Exit.USAGE, *_zid("ZID-0005"))
    _expect(_run("ocsp", "refresh", "--config", config, "--frobnicate"), Exit.USAGE, "--frobnicate")


def test_the_dev_config_names_its_token_directory_nothing_is_exported(
    dev: Dev, tmp_path: Path
) -> None:
    """No SOFTHSM2_CONF exported: the config's [hsm.environment] finds the token; an
    exported one pointing elsewhere does not win over it (issue 21: no hidden variable)."""
    config = str(dev.root / "zorgid.toml")
    done = _run("certs", "revoke", "--config", config, "no-such-id", "--reason", "superseded")
    _expect(done, Exit.REFUSED, *_zid("ZID-1210"))
    assert "SOFTHSM2_CONF" not in done.stderr
    (tmp_path / "tokens").mkdir()
    elsewhere = tmp_path / "softhsm2.conf"
    elsewhere.write_text(
        f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n"
    )
    for env in ({}, {"SOFTHSM2_CONF": str(elsewhere)}):
        done = _run("ocsp", "crl", "--config", config, **env)
        assert done.returncode == Exit.OK, done.stderr
        assert "CRL number" in done.stdout


def test_token_not_found_names_the_configured_softhsm2_conf(dev: Dev, tmp_path: Path) -> None:
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n")
    config = dev.root / "zorgid.toml"
    text = config.read_text()
    assert "SOFTHSM2_CONF = " in text
    other = dev.root / "other-token-dir.toml"  # beside it: its relative paths still resolve
    other.write_text(
        "\n".join(
            f'SOFTHSM2_CONF = "{conf}"' if line.startswith("SOFTHSM2_CONF = ") else line
            for line in text.splitlines()
        )
    )
    done = _run("ocsp", "refresh", "--config", str(other))
    _expect(
        done,
        Exit.UNREACHABLE,
        "HSM token not found",
        "'zorgid-dev'",
        f"SOFTHSM2_CONF is {conf}",
        "[hsm.environment] SOFTHSM2_CONF in the config",
    )


def test_database_not_reachable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.sqlite3'}"
    done = _run("certs", "list", "--database", url, "--person", "p")
    _expect(done, Exit.UNREACHABLE, "database not usable", "solution: check [database] url")


def test_address_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run(
            "dev", "--data-dir", str(tmp_path / "var"), "--ocsp-listen", f"127.0.0.1:{port}"
        )
    _expect(
        done,
        Exit.UNREACHABLE,
        f"cannot listen on 127.0.0.1:{port} (OCSP/CRL HTTP)",
        "solution: stop what listens there, or start with --ocsp-listen",
    )
    assert not (tmp_path / "var").exists()


def test_listing_commands_of_the_operator(dev: Dev, tmp_path: Path) -> None:
    """``certs list --all``, ``audit list|export``, ``policy dry-run``: each failure its status."""
    config = str(dev.root / "zorgid.toml")
    tls = dev.root / "tls"
    _expect(_run("audit", "list", "--config", config), Exit.OK, "event(s)")
    _expect(_run("certs", "list", "--all", "--config", config), Exit.OK, "certificate(s)")
    # Engine down, wrong role: the dry run (a progress bar on a terminal) as every RPC.
    closed = f"127.0.0.1:{_free_port()}"
    client = ["--cert", str(tls / "clients" / "auditor.pem"), "--key"]
    client += [str(tls / "clients" / "auditor.key"), "--ca", str(tls / "client-ca.pem")]
    done = _run("policy", "dry-run", "1", "--server", closed, *client)
    _expect(done, Exit.UNREACHABLE, f"{closed} not reachable", "solution: start it")
    done = _run("policy", "dry-run", "1", "--config", config, "--role", "mobile")
    _expect(done, Exit.REFUSED, *_zid("ZID-0003"))
    # Missing and unwritable files.
    absent = str(tmp_path / "absent.toml")
    _expect(_run("certs", "list", "--all", "--config", absent), Exit.FILE, absent)
    _expect(_run("audit", "export", "--config", absent), Exit.FILE, absent)
    nowhere = tmp_path / "no" / "such" / "audit.jsonl"
    done = _run("audit", "export", "--config", config, "--out", str(nowhere))
    _expect(done, Exit.FILE, f"cannot write {nowhere}")
    taken = tmp_path / "taken.jsonl"
    taken.write_text("kept\n")
    _expect(_run("audit", "export", "--config", config, "--out", str(taken)), Exit.FILE, "exists")
    assert taken.read_text() == "kept\n"
    # Malformed input.
    _expect(
        _run("audit", "list", "--config", config, "--since", "yesterday"), Exit.USAGE, "RFC 3339"
    )
    # A database that cannot be opened.
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'x.sqlite3'}"
    for command in (("certs", "list", "--all"), ("audit", "list"), ("audit", "export")):
        done = _run(*command, "--database", url)
        _expect(done, Exit.UNREACHABLE, "database not usable", "solution: check [database] url")


def test_malformed_serials(dev: Dev) -> None:
    config = str(dev.root / "zorgid.toml")
    for serial in ("0A::1B", "zz", "dec:0x12", "0"):
        done = _run("certs", "show", "--config", config, "--serial", serial)
        _expect(done, Exit.USAGE, *_zid("ZID-0005"), "dec:NNN")
    done = _run(
        "certs", "revoke", "--config", config, "--serial", "12-34", "--reason", "superseded"
    )
    _expect(done, Exit.USAGE, *_zid("ZID-0005"))
    # A well-formed serial of no certificate: refused before anything is asked.
    done = _run(
        "certs", "revoke", "--config", config, "--serial", "0A:1B", "--reason", "superseded"
    )
    _expect(done, Exit.REFUSED, *_zid("ZID-1210"))
