"""The ceiling of a unary gRPC call over mTLS on this machine: a handler that does nothing.

``bench/issuance.py`` measures certificates per second over gRPC; this script
measures the same transport with no work behind it, so the two together say
how much of a certificate's time is the RPC itself and how much is issuance.
Same shape as the issuance measurement: grpcio server(s) with mTLS
(``require_client_auth``), 1 and 2 processes on one port (SO_REUSEPORT), a
client process with one channel per concurrent caller, a request the size of
a CSR (600 bytes) and a reply the size of a certificate (1,400 bytes).

Besides calls/s it prints the CPU a call costs the client process and the
server processes (``/proc/<pid>/stat`` before and after, all threads, gRPC
core included), because on two shared cores the client's CPU is taken from
the servers: a cheaper client is a faster benchmark, not a faster server.

Variants, to find what cuts per-call CPU (each runs in the same session, so
the figures compare):

- ``--client thread aio``: the blocking client (one thread per concurrent
  caller) and a ``grpc.aio`` client (one event loop, one channel per caller);
- ``--server sync aio``: grpcio's thread-pool server and the ``grpc.aio`` one;
- ``--option NAME=VALUE`` (repeatable): a server channel option, e.g.
  ``grpc.max_concurrent_streams=8``; ``--compare-options`` runs the server
  without and with each given option separately;
- ``--workers``: the sync server's thread pool size.

    PYTHONPATH=. .venv/bin/python bench/grpc_echo.py [--n 6000] [--concurrency 8 32]
        [--processes 1 2] [--client thread aio] [--server sync aio]
        [--option grpc.max_concurrent_streams=8 ...] [--compare-options] [--workers 32]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc
import grpc.aio

REQUEST = b"r" * 600
REPLY = b"c" * 1400
METHOD = "/bench.Echo/Call"
_TICK = os.sysconf("SC_CLK_TCK")

Options = tuple[tuple[str, int | str], ...]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (all threads)."""
    found = counters(pid)
    return found.user + found.system


@dataclass(frozen=True)
class Counters:
    """What a process has cost so far, all its threads: user and system CPU seconds, and
    how often its threads gave up the CPU (``voluntary``: to wait, for a lock, the GIL, a
    socket) or had it taken (``involuntary``: preempted). Subtract two to get a section's.

    Why the switches: the same engine code costs more CPU in a loaded server than in one
    thread (bench/NOTES.md, the fifth session), and each switch costs a kernel entry and the
    caches; the count says how much of that a round had.
    """

    user: float = 0.0
    system: float = 0.0
    voluntary: int = 0
    involuntary: int = 0

    def __add__(self, other: Counters) -> Counters:
        return Counters(
            self.user + other.user,
            self.system + other.system,
            self.voluntary + other.voluntary,
            self.involuntary + other.involuntary,
        )

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            self.user - other.user,
            self.system - other.system,
            self.voluntary - other.voluntary,
            self.involuntary - other.involuntary,
        )


def counters(pid: int) -> Counters:
    """:class:`Counters` of process ``pid`` now (``/proc/<pid>/stat`` and each live thread's
    ``status``; a thread that ended took its switch counts with it, its CPU stays counted)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    voluntary = involuntary = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except (FileNotFoundError, ProcessLookupError):  # the thread ended meanwhile
            continue
        for line in text.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                voluntary += int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                involuntary += int(line.split()[1])
    return Counters(int(fields[11]) / _TICK, int(fields[12]) / _TICK, voluntary, involuntary)


def _reply(_request: bytes, _context: Any) -> bytes:
    return REPLY


async def _areply(_request: bytes, _context: Any) -> bytes:
    return REPLY


def _server_creds(tls: dict[str, bytes]) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [(tls["server_key"], tls["server_cert"])],
        root_certificates=tls["client_ca"],
        require_client_auth=True,
    )


def _serve(
    port: int,
    tls: dict[str, bytes],
    ready: Any,
    stop: Any,
    kind: str,
    options: Options,
    workers: int,
) -> None:
    opts = [("grpc.so_reuseport", 1), *options]
    if kind == "aio":
        asyncio.run(_aserve(port, tls, ready, stop, opts))
        return
    server = grpc.server(ThreadPoolExecutor(max_workers=workers), options=opts)
    handler = grpc.unary_unary_rpc_method_handler(_reply)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Echo", {"Call": handler}),)
    )
    server.add_secure_port(f"127.0.0.1:{port}", _server_creds(tls))
    server.start()
    ready.put(os.getpid())
    stop.wait()
    server.stop(0)


async def _aserve(
    port: int, tls: dict[str, bytes], ready: Any, stop: Any, opts: list[tuple[str, Any]]
) -> None:
    server = grpc.aio.server(options=opts)
    handler = grpc.unary_unary_rpc_method_handler(_areply)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Echo", {"Call": handler}),)
    )
    server.add_secure_port(f"127.0.0.1:{port}", _server_creds(tls))
    await server.start()
    ready.put(os.getpid())
    await asyncio.get_running_loop().run_in_executor(None, stop.wait)
    await server.stop(0)


def _client_creds(tls: dict[str, bytes]) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=tls["server_ca"],
        private_key=tls["client_key"],
        certificate_chain=tls["client_cert"],
    )


_CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]


def _client(
    port: int,
    tls: dict[str, bytes],
    concurrency: int,
    n: int,
    kind: str,
    out: Any,
    channels: int = 0,
) -> None:
    """Calls/s and this process's CPU seconds a call (timed section only, all threads)."""
    if kind == "aio":
        out.put(asyncio.run(_aclient(port, tls, concurrency, n, channels)))
        return
    creds = _client_creds(tls)
    opened = [
        grpc.secure_channel(f"127.0.0.1:{port}", creds, options=_CHANNEL_OPTIONS)
        for _ in range(channels or concurrency)
    ]
    calls = [opened[i % len(opened)].unary_unary(METHOD, None, None) for i in range(concurrency)]
    for call in calls:  # warm-up: the TLS handshake of every channel
        call(REQUEST)
    lock = threading.Lock()
    left = [n]

    def worker(i: int) -> None:
        call = calls[i]
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            call(REQUEST, timeout=60)

    pool = ThreadPoolExecutor(max_workers=concurrency)
    list(pool.map(lambda _i: None, range(concurrency)))  # threads started before the clock
    cpu, start = time.process_time(), time.perf_counter()
    list(pool.map(worker, range(concurrency)))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    pool.shutdown()
    out.put((n / wall, cpu / n))


async def _aclient(
    port: int, tls: dict[str, bytes], concurrency: int, n: int, channels: int = 0
) -> tuple[float, float]:
    creds = _client_creds(tls)
    opened = [
        grpc.aio.secure_channel(f"127.0.0.1:{port}", creds, options=_CHANNEL_OPTIONS)
        for _ in range(channels or concurrency)
    ]
    calls = [opened[i % len(opened)].unary_unary(METHOD, None, None) for i in range(concurrency)]
    await asyncio.gather(*(call(REQUEST) for call in calls))  # warm-up: the handshakes
    left = [n]

    async def worker(i: int) -> None:
        call = calls[i]
        while left[0] > 0:  # one event loop: no lock needed
            left[0] -= 1
            await call(REQUEST, timeout=60)

    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    for channel in opened:
        await channel.close(None)
    return n / wall, cpu / n


def _tls(root: Path) -> dict[str, bytes]:
    from tests.server.pki import issue, make_ca

    server_ca, client_ca = make_ca("Bench server CA"), make_ca("Bench client CA")
    issue(server_ca, "localhost", server=True).write(root, "server")
    issue(client_ca, "mobile", uris=("urn:zorgid:role:mobile",)).write(root, "mobile")
    return {
        "server_cert": (root / "server.pem").read_bytes(),
        "server_key": (root / "server.key").read_bytes(),
        "client_ca": client_ca.cert_pem,
        "server_ca": server_ca.cert_pem,
        "client_cert": (root / "mobile.pem").read_bytes(),
        "client_key": (root / "mobile.key").read_bytes(),
    }


@dataclass(frozen=True)
class Variant:
    """One server set-up to measure."""

    processes: int = 1
    server: str = "sync"
    options: Options = ()
    workers: int = 32

    def label(self) -> str:
        opts = " ".join(f"{k}={v}" for k, v in self.options) or "default options"
        pool = f", {self.workers} workers" if self.server == "sync" else ""
        return f"{self.processes} proc {self.server} server{pool}, {opts}"


@dataclass(frozen=True)
class Figure:
    """What one client run measured."""

    rate: float  # calls/s
    client_ms: float  # client process CPU a call
    server_ms: float  # all server processes' CPU a call


def measure(
    n: int,
    concurrencies: list[int],
    variants: list[Variant],
    clients: list[str],
    channels: int = 0,
) -> dict[tuple[Variant, str, int], Figure]:
    """Every (variant, client kind, concurrency), one variant's servers at a time."""
    ctx = mp.get_context("spawn")
    figures: dict[tuple[Variant, str, int], Figure] = {}
    with tempfile.TemporaryDirectory(prefix="zorgid-bench-echo-") as tmp:
        tls = _tls(Path(tmp))
        for variant in variants:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            ready, stop = ctx.Queue(), ctx.Event()
            args = (port, tls, ready, stop, variant.server, variant.options, variant.workers)
            servers = [ctx.Process(target=_serve, args=args) for _ in range(variant.processes)]
            for p in servers:
                p.start()
            pids = [ready.get(timeout=60) for _ in servers]
            try:
                for kind in clients:
                    for concurrency in concurrencies:
                        out = ctx.Queue()
                        client = ctx.Process(
                            target=_client,
                            args=(port, tls, concurrency, n, kind, out, channels),
                        )
                        before = sum(cpu_seconds(pid) for pid in pids)
                        client.start()
                        rate, client_cpu = out.get(timeout=600)
                        # the warm-up handshakes fall in the server's window: a few ms in n calls
                        server_cpu = sum(cpu_seconds(pid) for pid in pids) - before
                        client.join()
                        figures[(variant, kind, concurrency)] = Figure(
                            rate, 1000 * client_cpu, 1000 * server_cpu / n
                        )
            finally:
                stop.set()
                for p in servers:
                    p.join(timeout=30)
    return figures


def echo_rates(
    n: int, concurrencies: list[int], processes: tuple[int, ...] = (1, 2)
) -> dict[tuple[int, int], float]:
    """Calls/s keyed by (server processes, concurrency): sync server, thread client."""
    variants = [Variant(processes=count) for count in processes]
    figures = measure(n, concurrencies, variants, ["thread"])
    return {(v.processes, c): f.rate for (v, _k, c), f in figures.items()}


def _option(text: str) -> tuple[str, int | str]:
    name, _, value = text.partition("=")
    return (name, int(value)) if value.lstrip("-").isdigit() else (name, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6000, help="calls per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--client", nargs="+", choices=["thread", "aio"], default=["thread"])
    parser.add_argument("--server", nargs="+", choices=["sync", "aio"], default=["sync"])
    parser.add_argument("--workers", type=int, nargs="+", default=[32])
    parser.add_argument("--option", type=_option, action="append", default=[])
    parser.add_argument(
        "--compare-options",
        action="store_true",
        help="run without options, then with each --option alone",
    )
    parser.add_argument(
        "--channels",
        type=int,
        nargs="+",
        default=[0],
        help="client channels (connections) the callers share; 0: one per caller",
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat every variant, interleaved")
    args = parser.parse_args()
    option_sets: list[Options] = (
        [(), *(((o,)) for o in args.option)] if args.compare_options else [tuple(args.option)]
    )
    variants = [
        Variant(processes=p, server=s, options=o, workers=w)
        for p in args.processes
        for s in args.server
        for w in (args.workers if s == "sync" else args.workers[:1])
        for o in option_sets
    ]
    print(
        f"gRPC mTLS unary echo (no work): {os.cpu_count()} CPUs shared by client and servers;"
        " CPU is ms a call (all threads)"
    )
    for round_ in range(args.rounds):
        if args.rounds > 1:
            print(f" round {round_ + 1}")
        for channels in args.channels:
            for (variant, kind, concurrency), f in measure(
                args.n, args.concurrency, variants, args.client, channels
            ).items():
                print(
                    f"  {variant.label()}; {kind} client, {channels or 'own'} channel(s), "
                    f"concurrency {concurrency:3d}: "
                    f"{f.rate:7.0f} calls/s  client CPU {f.client_ms:.3f}"
                    f"  server CPU {f.server_ms:.3f}"
                )


if __name__ == "__main__":
    main()
