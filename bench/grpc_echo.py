"""The ceiling of a unary gRPC call over mTLS on this machine: a handler that does nothing.

``bench/issuance.py`` measures certificates per second over gRPC; this script
measures the same transport with no work behind it, so the two together say
how much of a certificate's time is the RPC itself and how much is issuance.
Same shape as the issuance measurement: grpcio server(s) with mTLS
(``require_client_auth``), 1 and 2 processes on one port (SO_REUSEPORT), a
client process with one channel per concurrent caller, a request the size of
a CSR (600 bytes) and a reply the size of a certificate (1,400 bytes).

Prints calls/s; asserts no time.

    PYTHONPATH=. .venv/bin/python bench/grpc_echo.py [--n 6000] [--concurrency 8 32]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc

REQUEST = b"r" * 600
REPLY = b"c" * 1400
METHOD = "/bench.Echo/Call"


def _reply(_request: bytes, _context: Any) -> bytes:
    return REPLY


def _serve(port: int, tls: dict[str, bytes], ready: Any, stop: Any) -> None:
    server = grpc.server(ThreadPoolExecutor(max_workers=32), options=[("grpc.so_reuseport", 1)])
    handler = grpc.unary_unary_rpc_method_handler(_reply)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Echo", {"Call": handler}),)
    )
    creds = grpc.ssl_server_credentials(
        [(tls["server_key"], tls["server_cert"])],
        root_certificates=tls["client_ca"],
        require_client_auth=True,
    )
    server.add_secure_port(f"127.0.0.1:{port}", creds)
    server.start()
    ready.put(os.getpid())
    stop.wait()
    server.stop(0)


def _client(port: int, tls: dict[str, bytes], concurrency: int, n: int, out: Any) -> None:
    creds = grpc.ssl_channel_credentials(
        root_certificates=tls["server_ca"],
        private_key=tls["client_key"],
        certificate_chain=tls["client_cert"],
    )
    channels = [
        grpc.secure_channel(
            f"127.0.0.1:{port}", creds, options=[("grpc.use_local_subchannel_pool", 1)]
        )
        for _ in range(concurrency)
    ]
    calls = [c.unary_unary(METHOD, None, None) for c in channels]
    for call in calls:  # warm-up: the TLS handshake of every channel
        call(REQUEST)
    lock = threading.Lock()
    left = [n]

    def worker(i: int) -> None:
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            calls[i](REQUEST, timeout=60)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    out.put(n / (time.perf_counter() - start))


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


def echo_rates(
    n: int, concurrencies: list[int], processes: tuple[int, ...] = (1, 2)
) -> dict[tuple[int, int], float]:
    """Calls/s keyed by (server processes, concurrency)."""
    ctx = mp.get_context("spawn")
    rates: dict[tuple[int, int], float] = {}
    with tempfile.TemporaryDirectory(prefix="zorgid-bench-echo-") as tmp:
        tls = _tls(Path(tmp))
        for count in processes:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            ready, stop = ctx.Queue(), ctx.Event()
            servers = [
                ctx.Process(target=_serve, args=(port, tls, ready, stop)) for _ in range(count)
            ]
            for p in servers:
                p.start()
            for _ in servers:
                ready.get(timeout=60)
            try:
                for concurrency in concurrencies:
                    out = ctx.Queue()
                    client = ctx.Process(target=_client, args=(port, tls, concurrency, n, out))
                    client.start()
                    rates[(count, concurrency)] = out.get(timeout=600)
                    client.join()
            finally:
                stop.set()
                for p in servers:
                    p.join(timeout=30)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6000, help="calls per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    args = parser.parse_args()
    print(f"gRPC mTLS unary echo (no work): {os.cpu_count()} CPUs shared by client and servers")
    for (count, concurrency), rate in echo_rates(args.n, args.concurrency).items():
        print(
            f"  {count} server process(es), concurrency {concurrency:3d}: {rate:7.0f} calls/s"
            f"  ({1000 * (os.cpu_count() or 1) / rate:.2f} ms of CPU a call, both sides,"
            " if every core was busy)"
        )


if __name__ == "__main__":
    main()
