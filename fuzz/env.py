"""The fuzzing work folder: a development environment with real state, made once.

The servicer, HTTP and login targets run against the engine's own pieces on a
real SoftHSM token and SQLite database. :func:`ensure` makes them the way an
operator would: ``zorgid dev`` (token, key ceremony, test UZI-register, policy,
migrated database) on free loopback ports, then ``zorgid demo`` against it
(organisations, registrations, mobile IDs, logins, a revocation), then stops
the engine. Everything stays under the work folder (default ``var/fuzz``,
ignored by git); nothing is fetched from outside.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORK = ROOT / "var" / "fuzz"
_ZORGID = "import sys; from issuer.cli import main; sys.exit(main())"
START_SECONDS = 180
"""zorgid dev's first start runs the key ceremony; on a busy machine it takes a while."""


def dev_root(work: Path) -> Path:
    return work / "dev"


def config_file(work: Path) -> Path:
    return dev_root(work) / "zorgid.toml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _zorgid(*args: str) -> list[str]:
    return [sys.executable, "-c", _ZORGID, *args]


def _environ() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}


def _wait_for(port: int, engine: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if engine.poll() is not None:
            raise RuntimeError(f"zorgid dev stopped early (exit {engine.returncode}); see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"zorgid dev did not listen on {port} in {START_SECONDS} s; see {log}")


def ensure(work: Path) -> Path:
    """The development environment under *work*, made (with the demo's state) if missing."""
    root = dev_root(work)
    done = root / ".fuzz-ready"
    if done.exists():
        return root
    work.mkdir(parents=True, exist_ok=True)
    grpc_port, http_port = _free_port(), _free_port()
    log = work / "dev.log"
    print(f"fuzz env    zorgid dev + zorgid demo in {root} (log {log})", file=sys.stderr)
    with log.open("wb") as sink:
        engine = subprocess.Popen(
            _zorgid(
                "dev",
                "--data-dir",
                str(root),
                "--listen",
                f"127.0.0.1:{grpc_port}",
                "--ocsp-listen",
                f"127.0.0.1:{http_port}",
            ),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=_environ(),
        )
        try:
            _wait_for(grpc_port, engine, log)
            subprocess.run(
                _zorgid("demo", "--data-dir", str(root)),
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=_environ(),
                check=True,
                timeout=600,
            )
        finally:
            engine.terminate()
            engine.wait(30)
    done.touch()
    return root
