"""Instructions per certificate through the issuance cycle (valgrind callgrind), beside a raw HSM
signature's, in one run.

Why instructions: on a shared virtual machine the wall time of the same code
swings by 2x within minutes (bench/NOTES.md, the fourth session), so
a change worth a few per cent cannot be seen in certificates/s. callgrind
counts the instructions executed, which repeats to about 0.2% run to run:
a change to the cycle is judged by this figure first and by the rate after.

The cycle runs in-process, one thread, as ``bench/issuance.py`` runs it
(SQLite, OCSP pre-signing on, P-256 issuing CA): set-up, enrolment and the
phones' keys are made with instrumentation off; it is switched on
(``callgrind_control -i on``) for ``--n`` redemptions, the counters are
dumped, then for ``--n`` raw signatures of the issuing key through
python-pkcs11 (the baseline). Printed: instructions a certificate, a raw HSM
signature, their ratio, and the inclusive share of the cycle's instructions
in the parts the issue requires (SoftHSM's signing, the CSR signature check,
the lint-key signature) and in SQLite.

    PYTHONPATH=. .venv/bin/python bench/issuance_instructions.py [--n 100] [--grpc]

``--grpc`` also counts a gRPC server process (the engine's own, mTLS, 32
workers, under callgrind) while a client outside valgrind redeems ``--n``
tokens one call at a time, then makes ``--n`` health checks (a call that does
no work): the server's instructions a certificate beside the in-process
figure tell how much the serving path adds in code. Set against the CPU a
certificate costs the loaded server (``bench/issuance.py``), they tell the
rest apart: time the same instructions take longer to run (kernel, thread
switches, caches), which callgrind does not count.

Needs valgrind (Debian package ``valgrind``). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PARTS = {
    "SoftHSM signing (C_SignInit + C_Sign)": ("C_SignInit", "C_Sign"),
    "CSR signature check (ECPublicKey.verify)": ("ECPublicKey>::__pymethod_verify__",),
    "lint-key signature (ECPrivateKey.sign)": ("ECPrivateKey>::__pymethod_sign__",),
    "SQLite (sqlite3_step)": ("sqlite3_step",),
}
"""Inclusive shares to print: label -> callgrind symbol fragments (summed)."""


def child(n: int) -> None:
    """Set up, then run the two measured sections when told (one line on stdin each)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from bench.issuance import ACTOR, csrs, enrol, p256_cycle
    from hsm import Hsm
    from issuer.enrolment.redeem import Redeemer

    with tempfile.TemporaryDirectory(prefix="zorgid-instr-") as tmp:
        setup, engine, cycle = p256_cycle(Path(tmp), "instr")
        warm = 5
        tokens = enrol(engine, cycle, n + warm, 0)
        requests = csrs(n + warm)
        redeemer = Redeemer(cycle)
        for token, csr in zip(tokens[:warm], requests[:warm], strict=True):
            redeemer.redeem(token, csr, actor=ACTOR)
        key = Hsm.open(setup.token_uri).get_key("issuing-ca")
        data = os.urandom(600)  # about a TBSCertificate
        key.sign(data, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,arg-type]
        print("ready", flush=True)
        sys.stdin.readline()
        for token, csr in zip(tokens[warm:], requests[warm:], strict=True):
            redeemer.redeem(token, csr, actor=ACTOR)
        print("done", flush=True)
        sys.stdin.readline()
        for _ in range(n):
            key.sign(data, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,arg-type]
        print("done", flush=True)
        sys.stdin.readline()
        engine.dispose()


def _totals(path: Path) -> int:
    found = re.search(r"^totals:\s+(\d+)", path.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no totals in {path}")
    return int(found.group(1))


def _shares(path: Path) -> dict[str, int]:
    """Inclusive instructions per :data:`PARTS` label, from ``callgrind_annotate``."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    best: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*)$", line)
        if m is None:
            continue
        count, symbol = int(m.group(1).replace(",", "")), m.group(2)
        for label, fragments in PARTS.items():
            for fragment in fragments:
                # the outermost frame of each part: the symbol itself, first (largest) line
                key = f"{label}|{fragment}"
                if re.search(rf"[:>]{re.escape(fragment)}( |$|\[)", symbol) and key not in best:
                    best[key] = count
    out: dict[str, int] = dict.fromkeys(PARTS, 0)
    for key, count in best.items():
        out[key.split("|", 1)[0]] += count
    return out


def _under_callgrind(out: Path, *args: str) -> subprocess.Popen[str]:
    """This script with ``args``, under callgrind with instrumentation off until switched on
    (:func:`_control`); its dumps go to ``out.<n>``, lines in and out by pipe."""
    return subprocess.Popen(
        [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            *args,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )


def _control(proc: subprocess.Popen[str], *args: str) -> None:
    """``callgrind_control`` on ``proc``: ``--instr=on|off``, ``--dump=NAME``."""
    subprocess.run(["callgrind_control", *args, str(proc.pid)], capture_output=True)


def parent(n: int) -> None:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (Debian package valgrind): no instruction counts")
        return
    with tempfile.TemporaryDirectory(prefix="zorgid-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = _under_callgrind(out, "--child", "--n", str(n))
        assert proc.stdin is not None and proc.stdout is not None

        def expect(word: str) -> None:
            line = proc.stdout.readline().strip() if proc.stdout else ""
            if line != word:
                proc.kill()
                raise RuntimeError(f"the measured process said {line!r}; expected {word!r}")

        def step() -> None:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()

        expect("ready")
        _control(proc, "--instr=on")
        step()
        expect("done")
        _control(proc, "--dump=cycle")
        step()
        expect("done")
        _control(proc, "--instr=off")
        _control(proc, "--dump=raw")
        step()
        proc.wait(timeout=600)
        dumps = sorted(Path(tmp).glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:]))
        if len(dumps) < 2:
            raise RuntimeError(f"expected two callgrind dumps; got {[p.name for p in dumps]}")
        cycle_path, raw_path = dumps[0], dumps[1]
        per_cert = _totals(cycle_path) / n
        per_sign = _totals(raw_path) / n
        print(
            f"zorgid issuance instructions (callgrind, {n} in-process redemptions, SQLite, "
            f"P-256 issuing CA, OCSP pre-signing on; {os.cpu_count()} CPUs)"
        )
        print(f"  instructions a certificate:       {per_cert:12,.0f}")
        print(
            f"  instructions a raw HSM signature: {per_sign:12,.0f}"
            "  (hsm/ key.sign: SHA-256, then ECDSA in SoftHSM)"
        )
        print(f"  certificate / raw HSM signature = {per_cert / per_sign:.1f}")
        total = _totals(cycle_path)
        for label, count in _shares(cycle_path).items():
            print(f"    {label:44s} {count / total:6.1%}")


def serve(config_path: str) -> None:
    """The engine's gRPC server on ``config_path``, until a line on stdin (run under callgrind)."""
    from issuer.config import load_config
    from issuer.server.app import build_server
    from issuer.server.binding import issuance_service_bindings
    from issuer.server.health import HealthControl
    from issuer.wiring import issuance_runtime

    config = load_config(Path(config_path))
    health = HealthControl()
    built = build_server(
        config, issuance_service_bindings(issuance_runtime(config, health=health)), health=health
    )
    built.start()
    print("ready", flush=True)
    sys.stdin.readline()
    built.stop(0)


def over_grpc(n: int) -> None:
    """Instructions a call in one gRPC server process: ``n`` redemptions, ``n`` health checks."""
    import socket

    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from bench.issuance import (
        _CHANNEL_OPTIONS,
        _REDEEM,
        _config,
        _tls,
        build,
        ceremony,
        csrs,
        enrol,
        new_database,
    )
    from issuer.api.zorgid.v1 import enrollment_pb2
    from issuer.dev.softhsm import SoftHsmDir

    with tempfile.TemporaryDirectory(prefix="zorgid-callgrind-grpc-") as tmp:
        root = Path(tmp)
        softhsm = SoftHsmDir.create(root / "softhsm")
        softhsm.activate()
        setup = ceremony(softhsm, root, "ec-p256")
        tls = _tls(root)
        url, schema = new_database(root, False, "grpc")
        engine, cycle = build(setup, url, schema)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = _config(root, setup, url, schema, port)
        out = root / "callgrind.out"
        proc = _under_callgrind(out, "--serve", str(config))
        assert proc.stdin is not None and proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            proc.kill()
            raise RuntimeError("the server under valgrind did not start")
        warm = 20
        tokens = enrol(engine, cycle, n + warm, 0)
        wire = [
            enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=csr).SerializeToString()
            for token, csr in zip(tokens, csrs(n + warm), strict=True)
        ]
        creds = grpc.ssl_channel_credentials(
            root_certificates=tls["server_ca"].read_bytes(),
            private_key=tls["key"].read_bytes(),
            certificate_chain=tls["cert"].read_bytes(),
        )
        channel = grpc.secure_channel(f"127.0.0.1:{port}", creds, options=_CHANNEL_OPTIONS)
        parse = enrollment_pb2.RedeemEnrollmentResponse.FromString
        call = channel.unary_unary(_REDEEM, None, parse)
        health = health_pb2_grpc.HealthStub(channel)
        check = health_pb2.HealthCheckRequest(service="")

        for request in wire[:warm]:
            call(request, timeout=300)
        for _ in range(warm):
            health.Check(check, timeout=300)
        _control(proc, "--instr=on")
        for request in wire[warm:]:
            call(request, timeout=300)
        _control(proc, "--dump=redeem")
        for _ in range(n):
            health.Check(check, timeout=300)
        _control(proc, "--dump=health")
        _control(proc, "--instr=off")
        channel.close()
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        proc.wait(timeout=600)
        engine.dispose()
        dumps = sorted(root.glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:]))
        if len(dumps) < 2:
            raise RuntimeError(f"expected two callgrind dumps; got {[p.name for p in dumps]}")
        print(
            f"  gRPC server process (mTLS, 32 workers, one call at a time), instructions a call: "
            f"RedeemEnrollment {_totals(dumps[0]) / n:,.0f};  health check (no work) "
            f"{_totals(dumps[1]) / n:,.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="redemptions (and raw signatures)")
    parser.add_argument(
        "--grpc", action="store_true", help="also count a gRPC server process's instructions"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.n)
    elif args.serve:
        serve(args.serve)
    else:
        parent(args.n)
        if args.grpc and shutil.which("valgrind") is not None:
            over_grpc(args.n)


if __name__ == "__main__":
    main()
