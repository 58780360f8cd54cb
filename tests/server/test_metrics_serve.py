"""``zorgid serve`` opens a metrics endpoint only on ``[metrics] listen`` (issue 21).

Real processes; what each one listens on is read from ``/proc`` (its socket
descriptors matched with the kernel's table of listening TCP sockets).
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from issuer.cli.failures import Exit
from issuer.config import ConfigError, MetricsConfig, parse_config
from tests.scrape import scrape, value
from tests.server.conftest import ClientPki, write_config

ZORGID = str(Path(sys.executable).parent / "zorgid")
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp


def _listening_ports(pid: int) -> set[int]:
    """The TCP ports process *pid* listens on."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = str(fd.readlink()) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _serve_until_ready(config: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [ZORGID, "serve", "--config", str(config)], stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    seen = ""
    for line in process.stderr:  # ends if the process dies
        seen += line
        if re.search(r"serving .* on 127\.0\.0\.1:\d+ \(mTLS\)", line):
            return process, seen
    process.wait()
    raise AssertionError(f"zorgid serve did not start (exit {process.returncode}):\n{seen}")


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_no_metrics_listener_unless_configured(tmp_path: Path, test_pki: ClientPki) -> None:
    config = write_config(tmp_path / "off", test_pki)
    process, log = _serve_until_ready(config)
    try:
        grpc_port = int(re.findall(r"on 127\.0\.0\.1:(\d+) \(mTLS\)", log)[-1])
        assert _listening_ports(process.pid) == {grpc_port}
        assert "metrics on" not in log
    finally:
        _stop(process)


def test_metrics_listener_when_configured(tmp_path: Path, test_pki: ClientPki) -> None:
    config = write_config(tmp_path / "on", test_pki)
    config.write_text(config.read_text() + '\n[metrics]\nlisten = "127.0.0.1:0"\n')
    process, log = _serve_until_ready(config)
    try:
        grpc_port = int(re.findall(r"on 127\.0\.0\.1:(\d+) \(mTLS\)", log)[-1])
        found = re.search(r"metrics on (http://127\.0\.0\.1:(\d+)/metrics)", log)
        assert found, log
        assert _listening_ports(process.pid) == {grpc_port, int(found.group(2))}
        samples = scrape(found.group(1))
        # The process's own metrics are there; no call was made, so no call is counted.
        assert value(samples, "process_open_fds") > 0
        assert not [name for name, _ in samples if name.startswith("zorgid_grpc_server_handled")]
    finally:
        _stop(process)


@pytest.mark.parametrize("listener", ["metrics", "server"])
def test_a_taken_address_stops_the_start_with_a_message(
    tmp_path: Path, test_pki: ClientPki, listener: str
) -> None:
    """Either listener taken: one line naming the address and its key, exit 4, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        if listener == "metrics":
            config = write_config(tmp_path / "taken", test_pki)
            config.write_text(config.read_text() + f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n')
        else:
            config = write_config(tmp_path / "taken", test_pki)
            config.write_text(
                config.read_text().replace('listen = "127.0.0.1:0"', f'listen = "127.0.0.1:{port}"')
            )
        done = subprocess.run(
            [ZORGID, "serve", "--config", str(config)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == Exit.UNREACHABLE, done.stderr
    assert f"not starting: cannot listen on 127.0.0.1:{port} ([{listener}] listen)" in done.stderr
    assert "Traceback" not in done.stderr


def test_metrics_addresses_are_checked_with_the_config() -> None:
    minimal = (
        'data_dir = "var"\n[server]\ndev_plaintext = true\n'
        '[hsm]\ntoken = "zorgid"\npin_source = "env:ZORGID_PIN"\n'
    )
    assert parse_config(minimal, base=Path("/")).metrics == MetricsConfig(listen="", ocsp_listen="")
    with pytest.raises(ConfigError) as refused:
        parse_config(minimal + '[metrics]\nlisten = "9464"\nocsp_listen = "h:x"\n', base=Path("/"))
    assert refused.value.problems == (
        "metrics.listen: got '9464', expected host:port such as 127.0.0.1:50051",
        "metrics.ocsp_listen: got port 'x' in 'h:x', expected 0..65535",
    )
    with pytest.raises(ConfigError) as same:
        parse_config(
            minimal + '[metrics]\nlisten = "127.0.0.1:9464"\nocsp_listen = "127.0.0.1:9464"\n',
            base=Path("/"),
        )
    assert same.value.problems == (
        "metrics.ocsp_listen: the same address as listen; choose another port",
    )
