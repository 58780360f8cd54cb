"""Where a RedeemEnrollment call spends the server's CPU outside the issuance cycle.

``bench/issuance.py`` says how many certificates/s the gRPC path does; this
script says why. It runs the same setup (dev ceremony in SoftHSM, SQLite or
``--pg``, mTLS, a client in its own process) and measures, per call:

- the CPU time of the server processes (from ``/proc/<pid>/stat`` before and
  after the run: everything, gRPC core included) and of the client process
  (``time.process_time`` over its timed section: no imports, no handshakes);
- inside the server, the CPU time (``time.thread_time``, so concurrent calls do
  not inflate it) of each layer: the guard interceptor's authentication,
  ``IssuanceRuntime.get`` (active policy lookup), the token read, step 1,
  the cycle's ``issue_checked`` (steps 2-4, the cycle's own business), the
  protobuf response; and what remains of the servicer;
- the same layers timed the same way in ONE thread, in-process, in the same
  run: each server figure is printed with its ratio to that one, which is
  what running concurrently costs a step (GIL hand-overs, thread switches,
  the caches they cost), apart from gRPC;
- optionally (``--py-spy``) a sampled profile of server process 1, top frames.

    .venv/bin/python bench/issuance_profile.py [--n 1500] [--concurrency 8 32]
        [--processes 1 2] [--pg] [--py-spy] [--client thread|aio]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.grpc_echo import cpu_seconds
from bench.issuance import (
    ACTOR,
    Setup,
    _client,
    _config,
    _tls,
    build,
    ceremony,
    csrs,
    enrol,
    new_database,
)
from issuer.dev.softhsm import SoftHsmDir

_TICK = os.sysconf("SC_CLK_TCK")


class _Timers:
    """CPU seconds and counts per label, summed over the gRPC worker threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spent: dict[str, float] = {}
        self.count: Counter[str] = Counter()

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)
        timers = self

        def timed(*a: Any, **k: Any) -> Any:
            t = time.thread_time()
            try:
                return original(*a, **k)
            finally:
                spent = time.thread_time() - t
                with timers.lock:
                    timers.spent[label] = timers.spent.get(label, 0.0) + spent
                    timers.count[label] += 1

        setattr(owner, name, timed)

    def snapshot(self) -> dict[str, tuple[float, int]]:
        with self.lock:
            keys = set(self.spent) | set(self.count)
            return {k: (self.spent.get(k, 0.0), self.count[k]) for k in keys}


def _thread_cpu() -> dict[str, float]:
    """CPU seconds per thread of this process, by kind (Python thread name, or OS name)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            comm = (task / "comm").read_text().strip()
        except OSError:
            continue
        name = names.get(int(task.name), f"os:{comm}")
        kind = name.rstrip("0123456789_-").split("(")[0].strip()
        if kind.startswith("zorgid-grpc"):
            kind = "zorgid-grpc workers"
        out[kind] = out.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / _TICK
    return dict(out)


def _serve(config_path: str, ready: Any, stop: Any, reset: Any, report: Any) -> None:
    """One server process as ``zorgid serve`` builds the issuance services, with timers."""
    import sqlalchemy as sa

    from issuer.config import load_config
    from issuer.enrolment.redeem import Redeemer
    from issuer.issuance.cycle import IssuanceCycle
    from issuer.issuance.runtime import IssuanceRuntime
    from issuer.server import enrollment_service
    from issuer.server.app import build_server
    from issuer.server.binding import issuance_service_bindings
    from issuer.server.health import HealthControl
    from issuer.server.interceptors import GuardInterceptor
    from issuer.wiring import issuance_runtime

    timers = _Timers()

    def _connected(dbapi_connection: Any, record: Any) -> None:
        with timers.lock:
            timers.count["db: new DB-API connections"] += 1

    sa.event.listen(sa.pool.Pool, "connect", _connected)
    timers.wrap(GuardInterceptor, "_admit", "guard: authenticate + authorise")
    timers.wrap(enrollment_service.EnrollmentServicer, "RedeemEnrollment", "servicer (total)")
    timers.wrap(IssuanceRuntime, "get", "runtime.get (active policy)")
    timers.wrap(Redeemer, "_read", "redeem: token read")
    timers.wrap(Redeemer, "_check", "redeem: step 1 (+ attrs)")
    timers.wrap(IssuanceCycle, "issue_checked", "cycle: issue_checked (steps 2-4)")
    timers.wrap(enrollment_service, "certificate_message", "response: certificate_message")
    config = load_config(Path(config_path))
    health = HealthControl()
    built = build_server(
        config,
        issuance_service_bindings(issuance_runtime(config, health=health)),
        health=health,
        reuse_port=True,
    )
    built.start()
    threads_before: dict[str, float] = {}
    ready.put(os.getpid())
    while not stop.is_set():
        if reset.wait(0.05):
            reset.clear()
            with timers.lock:
                timers.spent.clear()
                timers.count.clear()
            threads_before = _thread_cpu()
            report.put(("reset", os.getpid()))
    snap = timers.snapshot()
    for kind, spent in _thread_cpu().items():
        snap[f"thread: {kind}"] = (spent - threads_before.get(kind, 0.0), 0)
    report.put(("timers", os.getpid(), snap))
    built.stop(0)


ONE_THREAD = {
    "redeem: token read": ("Redeemer", "_read"),
    "redeem: step 1 (+ attrs)": ("Redeemer", "_check"),
    "cycle: issue_checked (steps 2-4)": ("IssuanceCycle", "issue_checked"),
    "redeem (total)": ("Redeemer", "redeem"),
}
"""The layers the one-thread baseline times (labels as the server's, plus the whole redeem)."""


def _one_thread(setup: Setup, url: str, schema: str | None, n: int, out: Any) -> None:
    """Redemptions in one thread of a fresh process, timed as the servers are; put the snapshot.

    The cycle is built as ``bench/issuance.py`` builds it, with the OCSP
    pre-signing hooks the server has. The first redemption warms up and is
    not counted.
    """
    from issuer.enrolment.redeem import Redeemer
    from issuer.issuance.cycle import IssuanceCycle

    owners = {"Redeemer": Redeemer, "IssuanceCycle": IssuanceCycle}
    timers = _Timers()
    for label, (owner, name) in ONE_THREAD.items():
        timers.wrap(owners[owner], name, label)
    engine, cycle = build(setup, url, schema, ocsp=True)
    tokens = enrol(engine, cycle, n + 1, 7_000_000)
    requests = csrs(n + 1)
    redeemer = Redeemer(cycle)
    redeemer.redeem(tokens[0], requests[0], actor=ACTOR)
    with timers.lock:
        timers.spent.clear()
        timers.count.clear()
    for token, csr in zip(tokens[1:], requests[1:], strict=True):
        redeemer.redeem(token, csr, actor=ACTOR)
    out.put(timers.snapshot())
    engine.dispose()


def one_thread_baseline(
    ctx: Any, setup: Setup, args: argparse.Namespace, root: Path
) -> dict[str, float]:
    """ms of thread CPU a call per label, one thread in-process (see :func:`_one_thread`)."""
    url, schema = new_database(root, args.pg, "prof-one-thread")
    out = ctx.Queue()
    child = ctx.Process(target=_one_thread, args=(setup, url, schema, args.n, out))
    child.start()
    snap: dict[str, tuple[float, int]] = out.get(timeout=900)
    child.join()
    calls = snap["redeem (total)"][1] or 1
    print(f"  one thread, in-process, thread CPU a call ({calls} calls):")
    figures = {}
    for label in ONE_THREAD:
        figures[label] = snap[label][0] / calls * 1000
        print(f"    {label:36s} {figures[label]:7.3f} ms")
    return figures


def _py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = Path(sys.executable).parent / "py-spy"
    if not exe.exists():
        print("  (py-spy not installed in the venv: .venv/bin/pip install py-spy)")
        return None
    return subprocess.Popen(
        [
            str(exe),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "250",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _top_frames(path: Path, limit: int = 30) -> None:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    if not path.exists():
        print("  (no py-spy output)")
        return
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        count = int(n)
        frames = [
            f.split(" (")[0] + " " + f.split(" (")[-1].split(":")[0].rstrip(")")
            for f in stack.split(";")
            if f
        ]
        frames = [f for f in frames if "thread (" not in f]
        if not frames:
            continue
        if any("_worker" in f and "thread.py" in f for f in frames[-1:]):
            continue
        total += count
        own[frames[-1]] += count
        for f in set(frames):
            inclusive[f] += count
    print(f"  py-spy: {total} samples (idle excluded: not reliably)")
    print("  top inclusive:")
    for frame, hits in inclusive.most_common(limit):
        print(f"    {hits / total:6.1%}  {frame}")
    print("  top self:")
    for frame, hits in own.most_common(limit):
        print(f"    {hits / total:6.1%}  {frame}")


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="zorgid-prof-") as tmp:
        root = Path(tmp)
        softhsm = SoftHsmDir.create(root / "softhsm")
        softhsm.activate()
        setup = ceremony(softhsm, root, "ec-p256")
        tls = _tls(root)
        ctx = mp.get_context("spawn")
        print(
            f"issuance profile: {os.cpu_count()} CPUs, "
            f"{'PostgreSQL' if args.pg else 'SQLite'}, p256, n={args.n}, "
            f"workers {args.workers or 'as bench/issuance.py'}"
        )
        baseline = one_thread_baseline(ctx, setup, args, root)
        for processes in args.processes:
            url, schema = new_database(root, args.pg, f"prof-{processes}")
            engine, cycle = build(setup, url, schema)
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            config = _config(root, setup, url, schema, port)
            if args.workers is not None:
                text = config.read_text()
                assert "workers = 32" in text
                config.write_text(text.replace("workers = 32", f"workers = {args.workers}"))
            ready, stop, report = ctx.Queue(), ctx.Event(), ctx.Queue()
            resets = [ctx.Event() for _ in range(processes)]
            servers = [
                ctx.Process(target=_serve, args=(str(config), ready, stop, resets[i], report))
                for i in range(processes)
            ]
            for p in servers:
                p.start()
            pids = [ready.get(timeout=120) for _ in servers]
            for concurrency in args.concurrency:
                count = max(args.n, concurrency * 20)
                tokens = enrol(engine, cycle, count, 1_000_000 * concurrency + 10_000 * processes)
                requests = csrs(count)
                # warm the servers (HSM login, policy, OCSP wiring) before measuring
                warm = enrol(engine, cycle, concurrency * 2, 5_000_000 + concurrency)
                wout = ctx.Queue()
                w = ctx.Process(
                    target=_client,
                    args=(port, tls, warm, csrs(len(warm)), concurrency, wout),
                )
                w.start()
                wout.get(timeout=300)
                w.join()
                for e in resets:
                    e.set()
                for _ in servers:
                    report.get(timeout=30)
                out = ctx.Queue()
                client = ctx.Process(
                    target=_client,
                    args=(port, tls, tokens, requests, concurrency, out, args.client),
                )
                before = {pid: cpu_seconds(pid) for pid in pids}
                client.start()
                spy = _py_spy(pids[0], args.spy_seconds, root / "spy.txt") if args.py_spy else None
                # the client's CPU: sample just before it exits (it puts its result last)
                rate, p50, p99, errors, client_ms = out.get(timeout=900)
                after = {pid: cpu_seconds(pid) for pid in pids}
                client.join()
                calls = count - concurrency
                server_cpu = sum(after[p] - before[p] for p in pids)
                print(
                    f"\n{processes} server process(es), concurrency {concurrency}: "
                    f"{rate:7.0f} certs/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms"
                    + (f"  ({errors} errors)" if errors else "")
                )
                print(
                    f"  CPU per call: server {server_cpu / calls * 1000:.3f} ms "
                    f"(all threads, gRPC core included), client {client_ms:.3f} ms (timed section)"
                )
                if spy is not None:
                    spy.wait(timeout=args.spy_seconds + 30)
                    _top_frames(root / "spy.txt")
                    (root / "spy.txt").unlink(missing_ok=True)
            stop.set()
            merged: Counter[str] = Counter()
            counts: Counter[str] = Counter()
            for _ in servers:
                _, _, snap = report.get(timeout=60)
                for label, (spent, n) in snap.items():
                    merged[label] += spent
                    counts[label] += n
            for p in servers:
                p.join(timeout=30)
            calls = counts["servicer (total)"] or 1
            print(
                f"  per call, thread CPU, last concurrency, {processes} process(es) "
                f"({calls} calls):"
            )
            for label in sorted(merged):
                spent = merged[label] / calls * 1000
                one = baseline.get(label)
                versus = f"  ({spent / one:.2f} x one thread)" if one else ""
                print(f"    {label:36s} {spent:7.3f} ms{versus}")
            print(f"    {'new DB connections (all)':36s} {counts['db: new DB-API connections']:7d}")
            inner = (
                merged["runtime.get (active policy)"]
                + merged["redeem: token read"]
                + merged["redeem: step 1 (+ attrs)"]
                + merged["cycle: issue_checked (steps 2-4)"]
                + merged["response: certificate_message"]
            )
            rest = merged["servicer (total)"] - inner
            print(f"    {'servicer rest (claim closures, misc)':36s} {rest / calls * 1000:7.3f} ms")
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--pg", action="store_true")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8])
    parser.add_argument("--processes", type=int, nargs="+", default=[1])
    parser.add_argument("--workers", type=int, help="[server] workers (default: the bench's)")
    parser.add_argument("--client", choices=["thread", "aio"], default="thread")
    parser.add_argument("--py-spy", action="store_true")
    parser.add_argument("--spy-seconds", type=float, default=4.0)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
