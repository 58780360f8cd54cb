"""``zorgid dev`` as a developer starts it: a real process, its output in a file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ZORGID = str(Path(sys.executable).with_name("zorgid"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def dev_env() -> dict[str, str]:
    """The caller's environment without SOFTHSM2_CONF: nothing hidden may be needed."""
    return {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}


class DevProcess:
    """``zorgid dev ARGS`` started in *cwd*; :meth:`wait_ready` returns what it printed."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.cwd = cwd
        self.log = cwd / f"dev-{time.monotonic_ns()}.log"
        self.proc = subprocess.Popen(
            [ZORGID, "dev", *args],
            cwd=cwd,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            env=dev_env(),
        )

    def wait_ready(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text()
            if "Stop with Ctrl-C" in text:
                return text
            if self.proc.poll() is not None:
                pytest.fail(f"zorgid dev exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.2)
        pytest.fail(f"zorgid dev not ready in {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)


def run(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """A command as typed in *cwd*, with no SOFTHSM2_CONF exported."""
    return subprocess.run(
        list(argv),
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="replace",  # openssl s_client prints the server's raw HTTP/2 frames
        timeout=120,
        env=dev_env(),
    )
