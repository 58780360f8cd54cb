"""``zorgid serve`` and ``zorgid config check`` as real processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.server.conftest import ClientPki, write_config

ZORGID = str(Path(sys.executable).parent / "zorgid")


def test_config_check_exit_codes(tmp_path: Path, test_pki: ClientPki) -> None:
    good = write_config(tmp_path / "good", test_pki)
    done = subprocess.run([ZORGID, "config", "check", str(good)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"{good}: OK" in done.stdout
    good.write_text(good.read_text() + "\n[surprise]\nx = 1\n")
    done = subprocess.run([ZORGID, "config", "check", str(good)], capture_output=True, text=True)
    assert done.returncode == 2
    assert "surprise: unknown key" in done.stderr


def test_serve_answers_health_over_mtls_and_stops_on_sigterm(
    tmp_path: Path, test_pki: ClientPki
) -> None:
    config = write_config(tmp_path, test_pki)
    process = subprocess.Popen(
        [ZORGID, "serve", "--config", str(config)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        port = None
        for line in process.stderr:  # ends if the process dies
            found = re.search(r"serving .* on 127\.0\.0\.1:(\d+) \(mTLS\)", line)
            if found:
                port = int(found.group(1))
                break
        assert port, "zorgid serve did not report its port"
        cert, key = test_pki.client("auditor")
        creds = grpc.ssl_channel_credentials(
            test_pki.server_ca_pem, key.read_bytes(), cert.read_bytes()
        )
        with grpc.secure_channel(f"127.0.0.1:{port}", creds) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="zorgid.v1.CaService"), timeout=10
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _server_children(pid: int) -> list[int]:
    """The spawned server processes of ``pid`` (not multiprocessing's resource tracker)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"multiprocessing.spawn" in cmdline:
            found.append(int(child))
    return found


def _start(config: Path) -> tuple[subprocess.Popen[str], int, str]:
    process = subprocess.Popen(
        [ZORGID, "serve", "--config", str(config)], stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    for line in process.stderr:  # ends if the process dies
        found = re.search(r"serving .* on 127\.0\.0\.1:(\d+) \(mTLS\) in (\d+) process", line)
        if found:
            return process, int(found.group(1)), found.group(2)
    process.wait()
    raise AssertionError(f"zorgid serve did not report its port (exit {process.returncode})")


def _health(test_pki: ClientPki, port: int) -> int:
    cert, key = test_pki.client("auditor")
    creds = grpc.ssl_channel_credentials(
        test_pki.server_ca_pem, key.read_bytes(), cert.read_bytes()
    )
    # Separate connections (no shared subchannel), so the kernel may pick either process.
    with grpc.secure_channel(
        f"127.0.0.1:{port}", creds, options=[("grpc.use_local_subchannel_pool", 1)]
    ) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="zorgid.v1.CaService"), timeout=10
        )
    return int(reply.status)


def test_two_processes_share_the_port_and_stop_together(
    tmp_path: Path, test_pki: ClientPki
) -> None:
    config = write_config(tmp_path, test_pki, server="processes = 2")
    process, port, count = _start(config)
    try:
        assert count == "2"
        (child,) = _server_children(process.pid)
        for _ in range(6):
            assert _health(test_pki, port) == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert (
            not Path(f"/proc/{child}").exists()
            or b"Z" in Path(f"/proc/{child}/stat").read_bytes().split(b") ")[1][:1]
        )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_dead_server_process_stops_the_server_with_an_error(
    tmp_path: Path, test_pki: ClientPki
) -> None:
    config = write_config(tmp_path, test_pki, server="processes = 2")
    process, _, _ = _start(config)
    try:
        (child,) = _server_children(process.pid)
        os.kill(child, signal.SIGKILL)
        assert process.wait(timeout=60) == 1
        assert process.stderr is not None
        assert "exited with code -9" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
