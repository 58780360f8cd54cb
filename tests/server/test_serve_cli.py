"""``zorgid serve`` and ``zorgid config check`` as real processes."""

from __future__ import annotations

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
