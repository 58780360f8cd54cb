"""Faults injected into a running engine under load, each timed from its end to recovery.

One function a fault, each ``(world) -> Fault``: what to do to the engine
(``inject``) and how to undo it (``restore``), for :func:`run_fault`, which
runs a steady :class:`bench.load.Load` around them, watches health, and
checks afterwards that nothing acknowledged was lost (``bench/robustness.py``
prints the table; ``tests/robustness/`` asserts it).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.load import Checked, HealthWatch, Load, World, check, free_port

if TYPE_CHECKING:
    from bench.uzi_load import Register


@dataclass
class Fault:
    """What is done to the engine and how it is undone; *restarts*: the undoing starts the
    server again (a supervisor's job, the one fault where that is the recovery).

    ``restore`` returns the moment (monotonic) recovery is timed from, or None for the
    moment it was called."""

    name: str
    inject: Callable[[], None]
    restore: Callable[[], float | None]
    restarts: bool = False


@dataclass
class FaultResult:
    name: str
    sent: Counter[str]
    ok: Counter[str]
    errors: Counter[str]
    checked: Checked
    health_during: Counter[str]
    serving_after: float | None
    """Seconds from the fault's end to health SERVING (None: never, in the run)."""
    issuing_after: float | None
    """Seconds from the fault's end to the first certificate issued by a request sent then."""
    hung: int
    """Requests that took longer than their deadline (plus a second)."""
    slowest: float
    notes: list[str] = field(default_factory=list)
    proving_after: float | None = None
    """With card proofs in the load: seconds from the fault's end to the first proof accepted
    of a request sent then (None: none, or no card proofs)."""

    @property
    def acknowledged(self) -> int:
        return self.checked.acknowledged

    @property
    def lost(self) -> int:
        return len(self.checked.lost)


def run_fault(
    world: World,
    fault: Fault,
    tokens: list[str],
    *,
    rate: float = 20,
    warm: float = 4,
    hold: float = 4,
    after: float = 8,
    settle: float | None = None,
    cards: Callable[[Any], str] | None = None,
) -> FaultResult:
    """Load for *warm* s, the fault for *hold* s, load for *after* s more; then the check.

    *settle*: None, the load runs the whole *after*; else it ends *settle* s after the
    recovery is seen (health SERVING, a certificate issued and, with *cards*, a card proof
    accepted, each by a request sent after the fault's end), *after* still its bound: what
    :class:`FaultResult` reports is the same, measured over a shorter tail (the tests).
    *cards*: card proofs join the load (``bench/uzi_load.py``, the CRL faults)."""
    from bench.load import DEADLINE

    load = Load(world, tokens, rate=rate, cards=cards)
    watch = HealthWatch(world)
    watch.start()
    load.start(warm + hold + after)
    bound = time.monotonic() + warm + hold + after
    time.sleep(warm)
    began = time.monotonic()
    fault.inject()
    if not fault.restarts:  # a supervisor restarts a dead server at once
        time.sleep(max(0.0, began + hold - time.monotonic()))
    called = time.monotonic()
    restored = fault.restore() or called
    ended = time.monotonic()
    if settle is not None and _wait_recovered(load, watch, restored, bound):
        time.sleep(max(0.0, min(settle, bound - time.monotonic())))
        load.stop()  # health was seen SERVING again: no more samples needed
    else:
        load.wait()
        time.sleep(0.5)
    watch.stop()
    issued_after, proved_after = (
        [
            o.started + o.seconds - restored
            for o in load.outcomes
            if o.kind == kind and o.code == "OK" and o.started >= restored
        ]
        for kind in ("issue", "card")
    )
    result = FaultResult(
        name=fault.name,
        sent=Counter(o.kind for o in load.outcomes),
        ok=Counter(o.kind for o in load.outcomes if o.code == "OK"),
        errors=Counter(f"{o.kind} {o.code}" for o in load.outcomes if o.code != "OK"),
        checked=check(world, load),
        health_during=watch.seen(began, ended),
        serving_after=watch.serving_again(restored),
        issuing_after=min(issued_after) if issued_after else None,
        hung=sum(1 for o in load.outcomes if o.seconds > DEADLINE + 1),
        slowest=max((o.seconds for o in load.outcomes), default=0.0),
        proving_after=min(proved_after) if proved_after else None,
    )
    return result


def _wait_recovered(load: Load, watch: HealthWatch, since: float, bound: float) -> bool:
    """Wait until health says SERVING and a certificate (and, with card proofs in the load,
    a card proof) was had by a request sent at or after *since*; False at *bound* before."""
    kinds = {"issue", "card"} if load.cards is not None else {"issue"}
    while time.monotonic() < bound:
        if watch.serving_again(since) is not None:
            with load.lock:
                done = {o.kind for o in load.outcomes if o.code == "OK" and o.started >= since}
            if kinds <= done:
                return True
        time.sleep(0.05)
    return False


# -- the faults ----------------------------------------------------------------------


def sigkill_server_process(world: World) -> Fault:
    """SIGKILL a further server process of ``[server] processes = 2``.

    The engine stops whole when one of its processes dies (``issuer/server/app.py``:
    so a supervisor restarts it whole); the restore is that supervisor: start it again.
    """
    if world.processes < 2:
        raise ValueError("needs [server] processes = 2")

    def inject() -> None:
        pids = world.serve_pids()
        if len(pids) < 2:
            raise RuntimeError(f"no further server process found: {pids}")
        os.kill(pids[-1], signal.SIGKILL)

    def restore() -> float:
        proc = world.procs["serve"]
        proc.wait(60)  # the first process notices its child died and stops
        down = time.monotonic()
        world.start()
        return down  # recovery is the restart: timed from the server's exit

    return Fault("server process SIGKILLed", inject, restore, restarts=True)


def hsm_token_away(world: World) -> Fault:
    """The SoftHSM token directory moved away (unreadable to the module), then back.

    Moved, not ``chmod 000``: the engine runs as root here, and root reads any mode.
    """
    tokens = world.softhsm.tokens
    away = tokens.with_name(tokens.name + ".away")

    def inject() -> None:
        tokens.rename(away)

    def restore() -> None:
        away.rename(tokens)
        return None

    return Fault("HSM token directory away", inject, restore)


def hsm_device_errors(world: World) -> Fault:
    """Every PKCS#11 operation of the server fails with a device error, then none does.

    Through the module's fault hook, switched by SIGUSR1/SIGUSR2 in the server started by
    ``bench/fault_server.py`` (``World.runner``): the engine itself has no such seam.
    """
    if world.runner is None:
        raise ValueError("needs the server started through bench/fault_server.py (World.runner)")

    def signal_server(signum: int) -> None:
        os.kill(world.procs["serve"].pid, signum)

    def restore() -> None:
        signal_server(signal.SIGUSR2)
        return None

    return Fault("HSM device errors", lambda: signal_server(signal.SIGUSR1), restore)


def sqlite_disk_full(world: World, filler: Path) -> Fault:
    """The file system of the SQLite database filled up (a file taking every free byte),
    then the file removed."""

    def inject() -> None:
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            for size in (1 << 20, 4096, 512):  # down to the last free block
                with suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * size)
        finally:
            os.close(fd)

    def restore() -> None:
        filler.unlink()
        return None

    return Fault("SQLite disk full", inject, restore)


@contextmanager
def tmpfs(folder: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of *size_mb* MB mounted at *folder* (needs root), unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(folder)],
        check=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


# -- a PostgreSQL of the run's own -----------------------------------------------------


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries; run `make system-deps`")
    return found[-1].parent


@dataclass
class PrivatePostgres:
    """``initdb`` into a folder of its own, on a port of its own, run as user postgres:
    restarting it disturbs no other PostgreSQL user of the machine."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="zorgid-pg-")))
    """Its own folder under the temporary directory: user postgres must reach it."""
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv: str) -> None:
        user = pwd.getpwnam("postgres")
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=120,
            user=user.pw_uid,
            group=user.pw_gid,
            cwd=self.folder,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr[-600:]}")

    def init(self) -> None:
        user = pwd.getpwnam("postgres")
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chown(self.folder, user.pw_uid, user.pw_gid)
        self.folder.chmod(0o700)
        self._as_postgres(
            str(_pg_bin() / "initdb"), "-D", str(self.folder / "data"), "-A", "trust", "-U",
            "postgres", "--no-sync",
        )  # fmt: skip
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=on"
        self._as_postgres(
            str(_pg_bin() / "pg_ctl"), "-D", str(self.folder / "data"), "-o", options,
            "-l", str(self.folder / "postgres.log"), "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(
            str(_pg_bin() / "pg_ctl"), "-D", str(self.folder / "data"), "-m", mode, "-w", "stop"
        )

    def destroy(self) -> None:
        with suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def client_connections(self) -> int:
        """Client connections open on the server now, this question's own not counted."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres") as c:
            row = c.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchone()
        return int(row[0]) if row is not None else 0

    def wal_bytes(self) -> int:
        """The size of the write-ahead log's folder (``pg_wal``) now."""
        wal = self.folder / "data" / "pg_wal"
        return sum(f.stat().st_size for f in wal.iterdir() if f.is_file())


def postgres_restart(pg: PrivatePostgres) -> Fault:
    """The database server stopped (``pg_ctl stop -m fast``: every connection cut), then
    started again."""

    def restore() -> None:
        pg.start()
        return None

    return Fault("PostgreSQL restarted", lambda: pg.stop(), restore)


# -- the UZI-register's CRL server -------------------------------------------------------


def crl_server_down(register: Register) -> Fault:
    """The UZI-register's CRL server stops listening (connections refused), then answers
    again on the same port."""

    def restore() -> None:
        register.restore()
        return None

    return Fault("UZI CRL server down", register.down, restore)


def crl_server_slow(register: Register) -> Fault:
    """The UZI-register's CRL server answers a byte every 20 s (beyond the engine's fetch
    deadline of 15 s), then at once again (the tarpit's connections cut: a restarted server)."""

    def restore() -> None:
        register.restore()
        return None

    return Fault("UZI CRL server slow", lambda: register.slow(), restore)
