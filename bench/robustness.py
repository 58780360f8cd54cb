"""Faults under load and a soak: the engine on its worst day, measured.

Each fault runs against an engine of its own (``zorgid serve`` and ``zorgid
ocsp serve`` on loopback, a SoftHSM token, a fresh database) under a steady
mix of issuance, login and OCSP (``bench/load.py``): load, the fault, its
undoing, more load, then the check. A table a fault: requests sent and
answered by kind, certificates acknowledged and lost (must be 0), serials seen
twice, the audit chain, errors by code, health while down, and the seconds from
the fault's end to health SERVING and to the first certificate issued again.

``--soak MINUTES`` runs mixed traffic that long instead and samples each minute
the engine's memory (RSS), open file descriptors, database connections and
WAL size; prints them and plots them into a PNG.

    PYTHONPATH=. .venv/bin/python bench/robustness.py [--faults NAME ...] [--rate 20]
    PYTHONPATH=. .venv/bin/python bench/robustness.py --soak 30 [--rate 20] [--png soak.png]
        [--memory FILE [--tracemalloc]]

Needs root (tmpfs mount, the private PostgreSQL run as user postgres).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import faults
from bench.load import World

if TYPE_CHECKING:
    from bench.uzi_load import Register

Runner = Callable[[Path, argparse.Namespace], "faults.FaultResult"]


@contextmanager
def _world(
    root: Path, db_url: str = "", *, processes: int = 1, policy: Path | None = None
) -> Iterator[World]:
    world = World.create(root, db_url, processes=processes, policy=policy)
    try:
        yield world
    finally:
        world.stop()


def _count(args: argparse.Namespace) -> int:
    """Enrolments enough for every issuance the run can send."""
    return int(args.rate * (args.warm + args.hold + args.after) * 0.6) + 50


def run_sigkill(root: Path, args: argparse.Namespace) -> faults.FaultResult:
    with _world(root, processes=2) as world:
        tokens = world.enrol(_count(args))
        world.start()
        fault = faults.sigkill_server_process(world)
        return faults.run_fault(world, fault, tokens, **_timing(args))


def run_hsm(root: Path, args: argparse.Namespace) -> faults.FaultResult:
    with _world(root) as world:
        tokens = world.enrol(_count(args))
        world.start()
        return faults.run_fault(world, faults.hsm_token_away(world), tokens, **_timing(args))


def run_hsm_errors(root: Path, args: argparse.Namespace) -> faults.FaultResult:
    with _world(root) as world:
        tokens = world.enrol(_count(args))
        world.runner = []
        world.start()
        fault = faults.hsm_device_errors(world)
        return faults.run_fault(world, fault, tokens, **_timing(args))


def run_disk_full(root: Path, args: argparse.Namespace) -> faults.FaultResult:
    with faults.tmpfs(root / "db", 64) as folder, _world(root) as world:
        tokens = world.enrol(_count(args))
        world.start()
        fault = faults.sqlite_disk_full(world, folder / "filler")
        return faults.run_fault(world, fault, tokens, **_timing(args))


def run_postgres(root: Path, args: argparse.Namespace) -> faults.FaultResult:
    pg = faults.PrivatePostgres()
    pg.init()
    try:
        with _world(root / "engine", pg.url) as world:
            tokens = world.enrol(_count(args))
            world.start()
            return faults.run_fault(world, faults.postgres_restart(pg), tokens, **_timing(args))
    finally:
        pg.destroy()


def _run_crl(
    root: Path, args: argparse.Namespace, fault: Callable[[Register], faults.Fault]
) -> faults.FaultResult:
    """The load with card proofs against a test UZI-register (hard revocation), *fault*
    done to the register's CRL server."""
    from bench.uzi_load import Register

    root.mkdir(parents=True, exist_ok=True)
    register = Register(root)
    try:
        with _world(root / "engine", policy=register.policy) as world:
            cards = register.cards(world.softhsm.init_token("uzi-cards").uri)
            tokens = world.enrol(_count(args))
            world.start()
            return faults.run_fault(world, fault(register), tokens, cards=cards, **_timing(args))
    finally:
        register.close()


def run_crl_down(root: Path, args: argparse.Namespace) -> faults.FaultResult:
    return _run_crl(root, args, faults.crl_server_down)


def run_crl_slow(root: Path, args: argparse.Namespace) -> faults.FaultResult:
    return _run_crl(root, args, faults.crl_server_slow)


RUNS: dict[str, Runner] = {
    "sigkill": run_sigkill,
    "hsm": run_hsm,
    "hsm-errors": run_hsm_errors,
    "disk-full": run_disk_full,
    "postgres": run_postgres,
    "crl-down": run_crl_down,
    "crl-slow": run_crl_slow,
}


def run_isolated(name: str, root: Path, args: argparse.Namespace) -> faults.FaultResult:
    """Fault *name* in a process of its own: the PKCS#11 module reads its token folder
    once a process, so each run's own SoftHSM folder needs a fresh process."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(RUNS[name], root, args).result()


def _timing(args: argparse.Namespace) -> dict[str, Any]:
    """``run_fault``'s phases from *args*; ``settle`` only when *args* has it (the tests')."""
    timing = {"rate": args.rate, "warm": args.warm, "hold": args.hold, "after": args.after}
    return timing | {"settle": getattr(args, "settle", None)}


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def table(result: faults.FaultResult) -> str:
    c = result.checked
    audit = "verifies" if c.audit_ok else "FAILS: " + c.audit_output
    kinds = sorted(result.sent)
    lines = [
        f"## {result.name}",
        "| | " + " | ".join(kinds) + " |",
        "|---|" + "---|" * len(kinds),
        "| sent | " + " | ".join(str(result.sent[k]) for k in kinds) + " |",
        "| answered OK | " + " | ".join(str(result.ok[k]) for k in kinds) + " |",
        "",
        f"- certificates acknowledged {c.acknowledged}, **lost {len(c.lost)}**, serials twice "
        f"{c.duplicate_serials}; audit chain {audit}; "
        f"OCSP sample {'as expected' if not c.ocsp_wrong else c.ocsp_wrong} ({c.revoked} revoked)",
        f"- health while the fault lasted: {dict(result.health_during) or 'no sample'}",
        f"- recovery after the fault's end: health SERVING {_seconds(result.serving_after)}, "
        f"first certificate {_seconds(result.issuing_after)}"
        + (f", first card proof {_seconds(result.proving_after)}" if result.sent["card"] else ""),
        f"- slowest request {result.slowest:.2f} s; past their deadline: {result.hung}",
        "- errors by code: "
        + (", ".join(f"{k} x{n}" for k, n in sorted(result.errors.items())) or "none"),
    ]
    return "\n".join(lines)


# -- the soak ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    minute: float
    rss_mb: float
    rss_serve_mb: float
    """Of which ``zorgid serve`` (with its further processes); the rest is the OCSP front."""
    fds: int
    db_connections: int
    wal_mb: float
    requests: int


def _tree(pid: int) -> list[int]:
    found = [pid]
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        for p in child.read_text().split():
            found += _tree(int(p))
    return found


def sample(
    world: World, started: float, requests: int, pg: faults.PrivatePostgres | None = None
) -> Sample:
    """The engine's processes (gRPC and OCSP, with their children) right now; on
    PostgreSQL (*pg*) its connections are the server's client backends and the WAL its
    ``pg_wal`` folder."""
    serve = set(_tree(world.procs["serve"].pid))
    pids = [p for proc in world.procs.values() for p in _tree(proc.pid)]
    rss = rss_serve = fds = conns = 0
    db = world.sqlite_file
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                    rss_serve += int(line.split()[1]) if pid in serve else 0
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                fds += 1
                try:
                    if db is not None and os.readlink(fd) == str(db):
                        conns += 1
                except OSError:
                    pass
        except OSError:
            continue
    wal = db.with_name(db.name + "-wal") if db is not None else None
    wal_mb = wal.stat().st_size / 1e6 if wal is not None and wal.exists() else 0.0
    if pg is not None:
        conns = pg.client_connections()
        wal_mb = pg.wal_bytes() / 1e6
    minute = (time.monotonic() - started) / 60
    return Sample(minute, rss / 1024, rss_serve / 1024, fds, conns, wal_mb, requests)


def soak(args: argparse.Namespace, root: Path) -> list[Sample]:
    """The soak on SQLite, or on a PostgreSQL of the run's own (``--soak-db postgresql``)."""
    if args.soak_db == "sqlite":
        return _soak(args, root, None)
    pg = faults.PrivatePostgres()
    pg.init()
    try:
        return _soak(args, root, pg)
    finally:
        pg.destroy()


def _soak(args: argparse.Namespace, root: Path, pg: faults.PrivatePostgres | None) -> list[Sample]:
    from bench.load import Load

    seconds = args.soak * 60
    with _world(root, pg.url if pg is not None else "") as world:
        tokens = world.enrol(int(args.rate * seconds * 0.55) + 100)
        if args.memory is not None:  # serve through the bench's runner, watching memory
            world.runner = ["--memory", str(args.memory.resolve())]
            world.runner += ["--tracemalloc"] if args.tracemalloc else []
        world.start()
        load = Load(world, tokens, rate=args.rate)
        started = time.monotonic()
        load.start(seconds)
        samples = [sample(world, started, 0, pg)]
        print(_sample_line(samples[-1]), flush=True)
        for minute in range(1, args.soak + 1):
            time.sleep(max(0.0, started + minute * 60 - time.monotonic()))
            samples.append(sample(world, started, len(load.outcomes), pg))
            print(_sample_line(samples[-1]), flush=True)
        load.wait()
        from collections import Counter

        from bench.load import check

        errors = Counter(f"{o.kind} {o.code}" for o in load.outcomes if o.code != "OK")
        checked = check(world, load)
        print(
            f"soak: {len(load.outcomes)} requests, errors {dict(errors) or 'none'}; "
            f"acknowledged {checked.acknowledged}, lost {len(checked.lost)}, serials twice "
            f"{checked.duplicate_serials}, audit {'verifies' if checked.audit_ok else 'FAILS'}"
        )
    return samples


def _sample_line(s: Sample) -> str:
    return (
        f"  minute {s.minute:5.1f}: RSS {s.rss_mb:7.1f} MB (serve {s.rss_serve_mb:6.1f}), "
        f"fds {s.fds:4d}, "
        f"database handles {s.db_connections:3d}, WAL {s.wal_mb:6.2f} MB, "
        f"requests so far {s.requests}"
    )


def plot(samples: list[Sample], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [s.minute for s in samples]
    fig, axes = plt.subplots(4, 1, figsize=(7, 9), sharex=True)
    series = (
        ("RSS (MB)", [s.rss_mb for s in samples]),
        ("open fds", [s.fds for s in samples]),
        ("database handles", [s.db_connections for s in samples]),
        ("WAL (MB)", [s.wal_mb for s in samples]),
    )
    axes[0].plot(minutes, [s.rss_serve_mb for s in samples], marker=".", label="of which serve")
    for ax, (label, values) in zip(axes, series, strict=True):
        ax.plot(minutes, values, marker="o", label="all")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="lower right")
    axes[-1].set_xlabel("minutes of mixed traffic")
    fig.suptitle("zorgid soak: engine processes (gRPC + OCSP), sampled each minute")
    fig.tight_layout()
    fig.savefig(png, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", nargs="+", choices=sorted(RUNS), default=list(RUNS))
    parser.add_argument("--rate", type=float, default=20, help="requests a second")
    parser.add_argument("--warm", type=float, default=5)
    parser.add_argument("--hold", type=float, default=5, help="seconds the fault lasts")
    parser.add_argument("--after", type=float, default=10)
    parser.add_argument("--soak", type=int, default=None, metavar="MINUTES")
    parser.add_argument("--png", type=Path, default=Path("soak.png"))
    parser.add_argument(
        "--soak-db",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="soak: the database (postgresql: a server of the run's own, as the fault's)",
    )
    parser.add_argument(
        "--memory",
        type=Path,
        default=None,
        metavar="FILE",
        help="soak: what grew in the server each minute to FILE (bench/fault_server.py)",
    )
    parser.add_argument("--tracemalloc", action="store_true", help="with --memory: its lines")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zorgid-robustness-") as tmp:
        if args.soak is not None:
            print(
                f"soak: {args.soak} minutes of mixed traffic at {args.rate:g} requests/s "
                f"on {args.soak_db}"
            )
            samples = soak(args, Path(tmp))
            plot(samples, args.png)
            print(f"plot: {args.png}")
            return
        print(
            f"faults under load: {args.rate:g} requests/s (2 issuances, 1 login, 1 OCSP GET "
            f"in 4; the CRL faults: and a card proof, in 5), {args.warm:g} s before, "
            f"{args.hold:g} s of fault, {args.after:g} s after; {os.cpu_count()} CPUs"
        )
        for name in args.faults:
            result = run_isolated(name, Path(tmp) / name, args)
            print(table(result), flush=True)


if __name__ == "__main__":
    main()
