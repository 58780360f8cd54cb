"""Run a ``zorgid`` command on a pseudo-terminal, as an operator at a shell would."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ZORGID = str(Path(sys.executable).with_name("zorgid"))


def checkout_env() -> dict[str, str]:
    """This checkout first on the path (SOFTHSM2_CONF of the run's token directory kept)."""
    return {**os.environ, "PYTHONPATH": str(REPO)}


def on_terminal(*args: str, answer: str | None = None) -> tuple[int, str]:
    """Exit status and everything the command wrote to its terminal.

    stdin, stdout and stderr are one pty; *answer* is typed (with Enter) when
    the confirmation prompt appears.
    """
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [ZORGID, *args], stdin=slave, stdout=slave, stderr=slave, env=checkout_env()
    )
    os.close(slave)
    seen = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 120)
            if not ready:
                proc.kill()
                raise AssertionError(f"no output from zorgid {args}:\n{seen.decode()}")
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the command closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if answer is not None and b"revoke? [y/N]" in seen:
                os.write(master, answer.encode() + b"\n")
                answer = None
        status = proc.wait(60)
    finally:
        os.close(master)
    return status, seen.decode(errors="replace")
