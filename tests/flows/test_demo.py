"""``zorgid demo`` walks the manual to its end against a real ``zorgid dev`` process.

The engine is started as ``make run`` starts it (a fresh data folder: token,
ceremony, TLS, config, database and the test UZI-register made on first
start); the demo runs as the console script a developer types, in its own
process with its own SoftHSM tokens. Its expired-login-QR step waits the
development policy's 30-second login lifetime: the one real wait here, since a
separate engine process cannot be given an injected clock.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.dev.test_make_run import ZORGID, Engine, _free_port


def test_demo_runs_to_the_end_against_make_run(tmp_path: Path) -> None:
    root = tmp_path / "var"
    engine = Engine(root, _free_port())
    try:
        banner = engine.wait_ready(timeout=120)
        assert "test UZI-register" in banner
        env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
        done = subprocess.run(
            [ZORGID, "demo", "--data-dir", str(root)],
            capture_output=True,
            text=True,
            timeout=240,
            env=env,
        )
    finally:
        engine.stop()
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}\n{engine.log.read_text()[-4000:]}"
    assert "demo complete" in out
    for expected in (
        "refused as expected: ZID-1602",
        "administrator of URA",
        "waiting for approval",
        "refused as expected: ZID-1830",
        "AUTHENTICATED",
        "for the same phone key",
        "portal poll: LOGIN_STATE_EXPIRED",
        "refused as expected: ZID-1702",
        "refused as expected: ZID-1704",
        "REVOKED (REVOCATION_REASON_CESSATION_OF_OPERATION)",
    ):
        assert expected in out, f"missing {expected!r} in:\n{out}"
    # Secrets never printed: no enrolment token in the output.
    assert "zorgid://enroll?v=1&t=" not in out
    assert list((root / "demo" / "qr").glob("*.png"))
    # A registration QR is a bearer token: its PNG and folder are the owner's only (issue 16).
    for made in [root / "demo" / "qr", *(root / "demo" / "qr").glob("*.png")]:
        assert made.stat().st_mode & 0o077 == 0, (made, oct(made.stat().st_mode))
