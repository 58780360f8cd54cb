"""``zorgid dev`` listens where it is told, on every start, or refuses before making anything.

The attacks (issue 21): with a port taken the first start made ``var/`` and died
with a traceback; ``--listen`` on a later start was silently ignored; an address
given once was forgotten by the next start. Every case runs the real command.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from issuer.cli.failures import Exit
from issuer.dev.listen import with_listen
from tests.dev.devprocess import ZORGID, DevProcess, dev_env, free_port, run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken() -> Iterator[int]:
    """A loopback port another process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _refused(done: subprocess.CompletedProcess[str], status: Exit, *said: str) -> None:
    report = f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    assert done.returncode == status, report
    assert "Traceback" not in done.stdout + done.stderr, report
    for text in said:
        assert text in done.stderr, f"{text!r} not said; {report}"


@pytest.mark.parametrize("which", ["gRPC", "OCSP/CRL HTTP"])
def test_a_taken_port_is_refused_before_anything_is_made(
    tmp_path: Path, taken: int, which: str
) -> None:
    grpc, ocsp = (taken, free_port()) if which == "gRPC" else (free_port(), taken)
    option, key = (
        ("--listen", "[server] listen") if which == "gRPC" else ("--ocsp-listen", "[ocsp] listen")
    )
    root = tmp_path / "var"
    done = run(
        tmp_path,
        ZORGID,
        "dev",
        "--data-dir",
        str(root),
        "--listen",
        f"127.0.0.1:{grpc}",
        "--ocsp-listen",
        f"127.0.0.1:{ocsp}",
    )
    _refused(
        done,
        Exit.UNREACHABLE,
        f"zorgid dev: cannot listen on 127.0.0.1:{taken} ({which}): Address already in use",
        f"start with {option} HOST:PORT (it is then written to {key} in {root / 'zorgid.toml'})",
    )
    assert not root.exists()


def test_a_malformed_address_is_a_usage_error(tmp_path: Path) -> None:
    root = tmp_path / "var"
    done = run(tmp_path, ZORGID, "dev", "--data-dir", str(root), "--listen", "localhost")
    _refused(done, Exit.USAGE, "--listen: got 'localhost', expected host:port")
    assert not root.exists()


def test_python_m_devapps_checks_its_ports_before_the_engine_starts(
    tmp_path: Path, taken: int
) -> None:
    root = tmp_path / "var"
    for option in ("--portal-listen", "--apps-listen"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "devapps",
                "--data-dir",
                str(root),
                option,
                f"127.0.0.1:{taken}",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(dev_env(), PYTHONPATH=str(ROOT)),  # devapps is a folder of the checkout
        )
        _refused(
            done,
            Exit.UNREACHABLE,
            f"cannot listen on 127.0.0.1:{taken} ({option}): Address already in use",
            f"give {option} HOST:PORT",
        )
        assert not root.exists()


def _config(root: Path) -> dict[str, object]:
    return tomllib.loads((root / "zorgid.toml").read_text())


def _health(root: Path) -> subprocess.CompletedProcess[str]:
    return run(root.parent, ZORGID, "dev", "--data-dir", str(root), "health")


def test_listen_options_are_honoured_and_kept_on_every_start(tmp_path: Path) -> None:
    root = tmp_path / "var"
    grpc_a, grpc_b, ocsp_a, ocsp_b = (free_port() for _ in range(4))

    first = DevProcess(
        tmp_path,
        "--data-dir", str(root), "--listen", f"127.0.0.1:{grpc_a}",
        "--ocsp-listen", f"127.0.0.1:{ocsp_a}",
    )  # fmt: skip
    first.wait_ready()
    assert first.stop() == 0
    config = _config(root)
    assert config["server"] == {"listen": f"127.0.0.1:{grpc_a}"}
    assert config["ocsp"] == {"listen": f"127.0.0.1:{ocsp_a}"}  # kept, not first-start only
    # As an earlier version wrote it: no [hsm.environment]; the next start adds it.
    conf = root / "softhsm" / "softhsm2.conf"
    text = (root / "zorgid.toml").read_text()
    (root / "zorgid.toml").write_text(text.replace(f'SOFTHSM2_CONF = "{conf}"\n', ""))
    assert _config(root)["hsm"]["environment"] == {}  # type: ignore[index]

    # A later start with another gRPC address: it takes effect, is said and kept.
    second = DevProcess(tmp_path, "--data-dir", str(root), "--listen", f"127.0.0.1:{grpc_b}")
    try:
        banner = second.wait_ready()
        assert f"serving gRPC over mutual TLS on 127.0.0.1:{grpc_b}" in banner
        assert (
            f"[server] listen 127.0.0.1:{grpc_a} -> 127.0.0.1:{grpc_b} (--listen; later starts "
            "listen there too)"
        ) in banner
        assert "names the root certificate" not in banner  # OCSP stayed where the CA says
        assert f"[hsm.environment] SOFTHSM2_CONF = {conf} (added: no export needed)" in banner
        assert _health(root).returncode == 0
    finally:
        assert second.stop() == 0
    assert _config(root)["server"] == {"listen": f"127.0.0.1:{grpc_b}"}
    assert _config(root)["hsm"]["environment"] == {"SOFTHSM2_CONF": str(conf)}  # type: ignore[index]

    # The OCSP/CRL front moved: it takes effect and is kept, with the warning that the
    # CA certificates made on first start name the old address.
    third = DevProcess(tmp_path, "--data-dir", str(root), "--ocsp-listen", f"127.0.0.1:{ocsp_b}")
    try:
        banner = third.wait_ready()
        assert f"[ocsp] listen 127.0.0.1:{ocsp_a} -> 127.0.0.1:{ocsp_b}" in banner
        assert (
            f"names the root certificate and the root's CRL on http://127.0.0.1:{ocsp_a}"
        ) in banner
    finally:
        assert third.stop() == 0

    # No options: where the last start was told.
    fourth = DevProcess(tmp_path, "--data-dir", str(root))
    try:
        banner = fourth.wait_ready()
        assert f"mutual TLS on 127.0.0.1:{grpc_b}" in banner
        assert "(reused)" in banner and "listen 127.0.0.1" not in banner
        url = f"http://127.0.0.1:{ocsp_b}/ca/root.cer"
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert reply.status == 200
    finally:
        assert fourth.stop() == 0


def test_a_config_whose_listen_is_not_one_line_is_refused_naming_the_file(
    tmp_path: Path,
) -> None:
    root = tmp_path / "var"
    first = DevProcess(tmp_path, "--data-dir", str(root), "--listen", "127.0.0.1:0",
                       "--ocsp-listen", "127.0.0.1:0")  # fmt: skip
    first.wait_ready()
    assert first.stop() == 0
    config = root / "zorgid.toml"
    text = (
        config.read_text()
        .replace('[server]\nlisten = "127.0.0.1:0"\n', "")
        .replace('data_dir = "."\n', 'data_dir = "."\nserver = { listen = "127.0.0.1:0" }\n')
    )
    config.write_text(text)
    assert tomllib.loads(text)["server"] == {"listen": "127.0.0.1:0"}

    done = run(tmp_path, ZORGID, "dev", "--data-dir", str(root), "--listen", "127.0.0.1:1")
    _refused(
        done,
        Exit.USAGE,
        f"cannot write --listen 127.0.0.1:1 into {config}",
        f"edit [server] listen in {config} by hand",
    )
    assert config.read_text() == text


def test_a_taken_metrics_port_is_said_before_anything_and_the_engine_serves(
    tmp_path: Path, taken: int
) -> None:
    """Metrics are optional in development (docs/decisions/metrics.md): a taken metrics
    port is one warning naming the address and the key, not a refusal."""
    root = tmp_path / "var"
    first = DevProcess(tmp_path, "--data-dir", str(root), "--listen", "127.0.0.1:0",
                       "--ocsp-listen", "127.0.0.1:0")  # fmt: skip
    first.wait_ready()
    assert first.stop() == 0
    config = root / "zorgid.toml"
    config.write_text(
        config.read_text()
        .replace("[metrics]\n", f'[metrics]\nlisten = "127.0.0.1:{taken}"\n', 1)
        .replace('listen = "127.0.0.1:0"\n\n[policy]', "\n[policy]")
    )
    assert tomllib.loads(config.read_text())["metrics"] == {"listen": f"127.0.0.1:{taken}"}
    second = DevProcess(tmp_path, "--data-dir", str(root))
    try:
        banner = second.wait_ready()
    finally:
        assert second.stop() == 0
    said = (
        f"cannot listen on 127.0.0.1:{taken} (metrics): Address already in use; serving "
        f"without metrics (change [metrics] listen in {config})"
    )
    assert said in banner
    assert "metrics     http" not in banner


def test_with_listen_edits_one_line_and_keeps_the_rest() -> None:
    text = '# mine\n[server]\n# where\nlisten = "a:1"  # old\nworkers = 2\n\n[tls]\ncert = "c"\n'
    assert with_listen(text, "server", "b:2") == (
        '# mine\n[server]\n# where\nlisten = "b:2"\nworkers = 2\n\n[tls]\ncert = "c"\n'
    )
    assert tomllib.loads(with_listen(text, "ocsp", "c:3"))["ocsp"] == {"listen": "c:3"}
    assert with_listen("[ocsp]\nx = 1\n", "ocsp", "c:3") == '[ocsp]\nlisten = "c:3"\nx = 1\n'
    with pytest.raises(ValueError, match="not one line"):
        with_listen('server.listen = "a:1"\n', "server", "b:2")
