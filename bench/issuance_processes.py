"""The issuance cycle in several processes at once: what sharing one SQLite file costs.

``bench/issuance.py`` measures the whole gRPC path; this script takes gRPC out
and runs ``Redeemer.redeem`` (the same cycle: token read, steps 1-4, the first
OCSP response pre-signed) in N worker processes of M threads each, started
together, and prints certificates/s and the workers' CPU per certificate:

- ``shared``: all workers on one SQLite file (as ``[server] processes = N``
  runs): one writer queue, and every commit of one process empties the page
  caches of the others' connections;
- ``separate``: each worker on a database file of its own: the same work with
  nothing shared but the two cores (and the SoftHSM token). The difference
  between the two is the price of the shared file.

``--dir`` puts the databases (and the token) elsewhere, e.g. ``/dev/shm``, to
see what the disk's write path costs beside memory.

    PYTHONPATH=. .venv/bin/python bench/issuance_processes.py [--n 3000]
        [--layouts 1x1 2x1 2x8 3x8] [--dir /dev/shm]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import issuance as bench  # bench/issuance.py: ceremony, enrolment, CSRs

from issuer.dev.softhsm import SoftHsmDir


def _worker(
    setup: Any,
    url: str,
    tokens: list[str],
    requests: list[bytes],
    threads: int,
    start: Any,
    out: Any,
) -> None:
    from issuer.enrolment.redeem import Redeemer

    _engine, cycle = bench.build(setup, url, None, ocsp=True)
    redeemer = Redeemer(cycle)
    redeemer.redeem(tokens[0], requests[0], actor=bench.ACTOR)  # warm-up
    pairs = list(zip(tokens[1:], requests[1:], strict=True))
    chunks = [pairs[i::threads] for i in range(threads)]

    def run(chunk: list[tuple[str, bytes]]) -> None:
        for token, csr in chunk:
            redeemer.redeem(token, csr, actor=bench.ACTOR)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda _i: None, range(threads)))  # threads started before the clock
        start.wait()
        wall, cpu = time.perf_counter(), time.process_time()
        list(pool.map(run, chunks))
        out.put((len(pairs), time.perf_counter() - wall, time.process_time() - cpu))


def measure(
    root: Path, setup: Any, processes: int, threads: int, n: int, *, separate: bool
) -> tuple[float, float]:
    """(certificates/s over all workers, worker CPU ms a certificate)."""
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    tag = f"{processes}x{threads}-{'separate' if separate else 'shared'}"
    url, _ = bench.new_database(root, False, tag)
    engine, cycle = bench.build(setup, url, None)
    workers = []
    for p in range(processes):
        if separate and p > 0:
            url, _ = bench.new_database(root, False, f"{tag}-{p}")
            engine.dispose()
            engine, cycle = bench.build(setup, url, None)
        tokens = bench.enrol(engine, cycle, n + 1, p * 1_000_000)
        requests = bench.csrs(n + 1)
        workers.append(
            ctx.Process(target=_worker, args=(setup, url, tokens, requests, threads, start, out))
        )
    engine.dispose()
    for w in workers:
        w.start()
    time.sleep(3 + processes)  # imports, HSM login, warm-up
    start.set()
    results = [out.get(timeout=600) for _ in workers]
    for w in workers:
        w.join()
    done = sum(r[0] for r in results)
    wall = max(r[1] for r in results)
    cpu = sum(r[2] for r in results)
    return done / wall, 1000 * cpu / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="certificates per worker process")
    parser.add_argument(
        "--layouts",
        nargs="+",
        default=["1x1", "2x1", "2x8", "3x8"],
        help="PROCESSESxTHREADS of the workers",
    )
    parser.add_argument("--dir", default=None, help="where the databases and token go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zorgid-bench-", dir=args.dir) as tmp:
        root = Path(tmp)
        softhsm = SoftHsmDir.create(root / "softhsm")
        softhsm.activate()
        setup = bench.ceremony(softhsm, root, "ec-p256")
        print(
            f"zorgid issuance in worker processes: {os.cpu_count()} CPUs, SQLite (WAL, "
            f"synchronous=FULL) in {args.dir or tempfile.gettempdir()}, P-256 issuing CA"
        )
        for layout in args.layouts:
            processes, threads = (int(x) for x in layout.split("x"))
            shared = measure(root, setup, processes, threads, args.n, separate=False)
            line = (
                f"  {processes} process(es) x {threads} thread(s): one file {shared[0]:6.0f}/s "
                f"({shared[1]:.3f} ms CPU a certificate)"
            )
            if processes > 1:
                own = measure(root, setup, processes, threads, args.n, separate=True)
                line += (
                    f"; a file each {own[0]:6.0f}/s ({own[1]:.3f} ms); "
                    f"one file / a file each = {shared[0] / own[0]:.2f}"
                )
            print(line, flush=True)


if __name__ == "__main__":
    main()
