"""The portal flows over gRPC with mTLS against a real ``zorgid dev`` process.

Measured in one run, against a baseline taken on the same channels in the same
run (a ``grpc.health.v1`` check: TLS session, interceptor, role check, no
work), so the ratios say what a flow adds on top of one authenticated call:

- a login by QR: CreateLoginChallenge + DescribeLoginChallenge +
  AnswerLoginChallenge (phone signs on its SoftHSM token) + GetLoginChallenge;
- a registration: UZI-pas proof (challenge, card signature on its token,
  chain validation) + StartRegistration + SetBirthDate + ConfirmRegistration
  (QR rendered) + RedeemEnrollment (a certificate issued) + GetRegistration.
  Card keys are made before the clock starts.

Prints figures and ratios; asserts no time.

    .venv/bin/python bench/flows.py [--logins 100] [--registrations 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ZORGID = str(Path(sys.executable).with_name("zorgid"))


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _timed(fn: object, n: int) -> list[float]:
    took = []
    for _ in range(n):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        took.append(time.perf_counter() - start)
    return took


def _line(name: str, took: list[float], base: float) -> str:
    p50 = statistics.median(took) * 1000
    p99 = sorted(took)[max(0, int(len(took) * 0.99) - 1)] * 1000
    return f"{name:<34} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   x{p50 / base:7.1f} baseline"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=100)
    parser.add_argument("--registrations", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-flows-")) / "var"
    port = _port()
    log = root.parent / "engine.log"
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    proc = subprocess.Popen(
        [ZORGID, "dev", "--data-dir", str(root), "--listen", f"127.0.0.1:{port}"],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while "Stop with Ctrl-C" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"zorgid dev did not start:\n{log.read_text()}")
            time.sleep(0.2)
        _run(root, args)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def _run(root: Path, args: argparse.Namespace) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from issuer.api.zorgid.v1 import organization_pb2
    from issuer.cli.demo import Demo
    from issuer.cli.demo_walk import login, register_user

    demo = Demo(root, None, out=lambda _line: None)
    ura = "91234567"
    demo.call(
        "RegisterOrganization",
        demo.operator.org.RegisterOrganization,
        organization_pb2.RegisterOrganizationRequest(ura=ura, name="Bench"),
    )
    creds = grpc.ssl_channel_credentials(
        root_certificates=demo.pki.client_ca_cert.read_bytes(),
        private_key=demo.pki.client_key("portal").read_bytes(),
        certificate_chain=demo.pki.client_cert("portal").read_bytes(),
    )
    health = health_pb2_grpc.HealthStub(grpc.secure_channel(demo.target, creds))  # type: ignore[no-untyped-call]
    check = health_pb2.HealthCheckRequest()
    _timed(lambda: health.Check(check), 20)
    baseline = _timed(lambda: health.Check(check), 300)
    base = statistics.median(baseline) * 1000

    phone, der = register_user(demo, demo.card(ura=ura), "Bench", "01-01-1980")
    _timed(lambda: login(demo, phone, der, "warm-up"), 5)
    logins = _timed(lambda: login(demo, phone, der, "bench"), args.logins)

    cards = iter([demo.card(ura=ura) for _ in range(args.registrations)])
    registrations = _timed(
        lambda: register_user(demo, next(cards), "Bench", "01-01-1980"), args.registrations
    )
    print(f"portal flows against zorgid dev (SQLite, SoftHSM) at {demo.target}")
    print(_line("baseline: health check", baseline, base))
    print(_line(f"login by QR (4 calls) x{args.logins}", logins, base))
    print(_line(f"registration (7 calls) x{args.registrations}", registrations, base))
    print(f"logins/s, one client: {1 / statistics.median(logins):.1f}")


if __name__ == "__main__":
    main()
