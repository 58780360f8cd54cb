"""Acknowledged redemptions are on disk before the reply (issue 16 item 3), seen in syscalls.

Five redemptions in a separate engine process, run under ``strace``: each
acknowledged certificate needs its commits synced, so the WAL file gets at
least one ``fsync``/``fdatasync`` per redemption (with ``synchronous = FULL``
every commit -- the step-2 reservation with the token claim, step 4 -- syncs
it; a group-commit batch syncs once for all its units). Before the fix
(``synchronous = NORMAL``) the same run synced the WAL twice, both in the
checkpoint at the process's exit: none before a reply.

SQLite only: PostgreSQL syncs in its server process, and its setting
(``synchronous_commit``) is asserted in ``tests/store/test_durability.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from issuer.store import create_engine_for, upgrade
from tests.issuance.conftest import CaSetup, build_world
from tests.issuance.test_exactly_once import REPO, _csr
from tests.store.dbfixtures import Database

REDEMPTIONS = 5
_SYNC = re.compile(r"\b(fsync|fdatasync)\((\d+)<([^>]*)>\)\s*=\s*0")


def test_each_acknowledged_redemption_syncs_the_wal(ca: CaSetup, tmp_path: Path) -> None:
    strace = shutil.which("strace")
    assert strace is not None, "strace is needed: apt-get install strace"
    path = tmp_path / "zorgid.sqlite3"
    db = Database("sqlite", f"sqlite:///{path}")
    engine = create_engine_for(db.url)
    upgrade(engine)
    world = build_world(db, engine, ca)
    tokens = [world.enrol().token for _ in range(REDEMPTIONS)]
    engine.dispose()
    job = tmp_path / "job.json"
    job.write_text(
        json.dumps(
            {
                "data_dir": str(ca.data_dir),
                "token_uri": ca.token.uri,
                "url": db.url,
                "items": [{"token": t, "csr": _csr().hex()} for t in tokens],
                "threads": 1,
            }
        )
    )
    trace = tmp_path / "strace.txt"
    proc = subprocess.run(
        [
            strace,
            "-f",
            "-qq",
            "-y",
            "-e",
            "trace=fsync,fdatasync",
            "-o",
            str(trace),
            sys.executable,
            "-m",
            "tests.issuance.worker",
            str(job),
        ],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [r["ok"] for r in results] == [True] * REDEMPTIONS, results
    synced = [
        m.group(3) for m in map(_SYNC.search, trace.read_text().splitlines()) if m is not None
    ]
    wal_syncs = [p for p in synced if p.endswith(".sqlite3-wal")]
    assert len(wal_syncs) >= REDEMPTIONS, (len(wal_syncs), synced[:20])
