"""Certificates per second through the whole issuance cycle, beside raw HSM signatures/s.

Every certificate here is redeemed from an enrolment token, checked (CSR PoP,
weak keys), reserved (committed), built, lint-signed and fast-linted,
HSM-signed, TBS-compared and stored with its audit event (committed): the
production path. Measured in one run, on this machine:

- raw HSM ECDSA signatures/s (SoftHSM, one process) for P-384 and P-256 keys:
  the ceiling of one engine process;
- in-process: ``Redeemer.redeem`` in a loop, p50/p99, and the time per cycle
  step (where the time goes);
- over gRPC with mTLS: 1, 2 and 3 server processes (SO_REUSEPORT, one HSM login
  each) at several client concurrencies; the client runs in its own process
  and reports its own CPU a call (timed section); the server processes' CPU
  per certificate and the machine's idle and stolen (hypervisor) shares are
  read from ``/proc`` around each round (where the time goes over gRPC).

Prints figures and ratios; asserts no time.

    .venv/bin/python bench/issuance.py [--n 1500] [--seconds 6] [--pg] [--ca p256|p384|both]
        [--client thread|aio] [--concurrency 8 32] [--no-grpc]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bench.grpc_echo import Counters, Variant, counters, measure
from hsm import Hsm
from issuer.audit import AuditLog
from issuer.ca import load_ca_material, run_ceremony
from issuer.ca.config import parse_ceremony
from issuer.ca.dev import (
    DEFAULT_DEV_PUBLIC_URL,
    DEV_POLICY_OID,
    ROOT_CERTIFICATE_PATH,
    ROOT_CRL_PATH,
)
from issuer.dev.softhsm import SoftHsmDir
from issuer.enrolment.create import create_enrolment
from issuer.enrolment.redeem import Redeemer
from issuer.issuance.cycle import IssuanceCycle
from issuer.issuance.policy_record import record_active_policy
from issuer.issuance.records import Actor
from issuer.profile.attributes import VerifiedAttributes
from issuer.store import create_engine_for, upgrade
from issuer.uzi_vocabulary import AgbCode, RoleCode, Ura, UziNumber

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ACTOR = Actor(role="mobile", identity="bench")


@dataclass(frozen=True)
class Setup:
    label: str
    data_dir: Path
    token_uri: str
    token_label: str
    pin_file: Path
    spec: str


def ceremony(softhsm: SoftHsmDir, root: Path, spec: str) -> Setup:
    """The dev ceremony with the issuing CA key of ``spec`` (ec-p384 is the dev default)."""
    label = f"bench-{spec}"
    token = softhsm.init_token(label)
    data_dir = root / label
    doc = {
        "data_dir": str(data_dir),
        "hsm": {
            "module": str(token.module),
            "token": token.label,
            "pin_source": f"file:{token.pin_file}",
        },
        "root": {
            "mode": "self-signed",
            "key_label": "root-ca",
            "key_spec": "ec-p384",
            "organization": "ZORG-ID Bench",
            "common_name": "ZORG-ID Bench Root CA",
            "validity_days": 7305,
        },
        "issuing_ca": {
            "key_label": "issuing-ca",
            "key_spec": spec,
            "organization": "ZORG-ID Bench",
            "common_name": "ZORG-ID Bench Mobile ID CA",
            "validity_days": 3653,
            "policy_oids": [DEV_POLICY_OID],
            "ca_issuers_url": f"{DEFAULT_DEV_PUBLIC_URL}{ROOT_CERTIFICATE_PATH}",
            "crl_urls": [f"{DEFAULT_DEV_PUBLIC_URL}{ROOT_CRL_PATH}"],
        },
        "ocsp_responder": {
            "key_label": "ocsp-responder",
            "key_spec": "ec-p256",
            "organization": "ZORG-ID Bench",
            "common_name": "ZORG-ID Bench OCSP Responder",
            "validity_days": 30,
        },
        "audit": {"key_label": "audit-checkpoint"},
    }
    config = parse_ceremony(doc, base_dir=root, source="bench")
    hsm = Hsm.open(token.uri)
    start = datetime.now(UTC) - timedelta(hours=1)
    run_ceremony(config, hsm, out=lambda _: None, clock=lambda: start)
    return Setup(label, data_dir, token.uri, token.label, token.pin_file, spec)


def p256_cycle(root: Path, name: str) -> tuple[Setup, sa.Engine, IssuanceCycle]:
    """A SoftHSM token folder under *root*, the dev ceremony with a P-256 issuing CA, a
    SQLite database *name* and the cycle on it with OCSP pre-signing (as the server has)."""
    softhsm = SoftHsmDir.create(root / "softhsm")
    softhsm.activate()
    setup = ceremony(softhsm, root, "ec-p256")
    url, schema = new_database(root, False, name)
    engine, cycle = build(setup, url, schema, ocsp=True)
    return setup, engine, cycle


def attrs(n: int) -> VerifiedAttributes:
    return VerifiedAttributes(
        uzi_number=UziNumber(f"{100000000 + n}"),
        card_type="Z",
        subscriber_number=Ura("90000382"),
        role=RoleCode("01.015"),
        agb_code=AgbCode("01234567"),
        given_name="Zoë",
        surname="van der Heijden",
        common_name="Zoë van der Heijden",
        title="dr.",
        organization="Huisartsenpraktijk De Ëik",
    )


def csrs(count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "phone")]))
            .sign(key, hashes.SHA256())
        )
        out.append(csr.public_bytes(serialization.Encoding.DER))
    return out


def new_database(root: Path, pg: bool, name: str) -> tuple[str, str | None]:
    if not pg:
        url = f"sqlite:///{root / f'{name}.sqlite3'}"
        upgrade(create_engine_for(url))
        return url, None
    schema = f"zid_bench_{secrets.token_hex(4)}"
    admin = create_engine_for(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    engine = create_engine_for(PG_URL, pg_schema=schema)
    upgrade(engine)
    engine.dispose()
    return PG_URL, schema


def build(
    setup: Setup, url: str, schema: str | None, *, ocsp: bool = False, policy: Path | None = None
) -> tuple[sa.Engine, IssuanceCycle]:
    """The cycle as the server builds it; ``ocsp``: the OCSP service pre-signs (hooks);
    ``policy``: the document an empty store starts with (default: the packaged one)."""
    material = load_ca_material(setup.data_dir)
    hsm = Hsm.open(setup.token_uri)
    engine = create_engine_for(url, pg_schema=schema)
    audit = AuditLog(signer=hsm.get_ec_key(material.audit_key_label))
    active = record_active_policy(
        engine,
        audit_key=hsm.get_ec_key(material.audit_key_label),
        material=material,
        **({"source": policy} if policy is not None else {}),
    )
    cycle = IssuanceCycle(
        engine=engine,
        policy=active.policy,
        policy_version=active.version,
        ca_cert=material.issuing_ca,
        ca_key=hsm.get_key(material.issuing_ca_key_label),
        audit=audit,
        hooks=_ocsp_hooks(engine, material, hsm, active.policy) if ocsp else None,
    )
    return engine, cycle


def _ocsp_hooks(engine: sa.Engine, material: Any, hsm: Hsm, policy: Any) -> Any:
    from issuer.ocsp_service import OcspService

    return OcspService.build(
        engine=engine,
        material=material,
        hsm=hsm,
        policy=policy.ocsp,
        signature_hash=policy.profile.signature_hash,
    )


def enrol(engine: sa.Engine, cycle: IssuanceCycle, count: int, offset: int) -> list[str]:
    tokens = []
    audit = cycle.audit
    now = datetime.now(UTC)
    for start in range(0, count, 200):
        with engine.begin() as conn:
            for n in range(start, min(count, start + 200)):
                tokens.append(
                    create_enrolment(
                        conn,
                        attrs=attrs(offset + n),
                        card_certificate_sha256="ab" * 32,
                        portal_identity="bench",
                        policy=cycle.policy,
                        policy_version=cycle.policy_version,
                        audit=audit,
                        actor=ACTOR,
                        now=now,
                    ).token
                )
    return tokens


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def raw_hsm(setup: Setup, seconds: float) -> float:
    key = Hsm.open(setup.token_uri).get_key("issuing-ca")
    data = secrets.token_bytes(600)  # about a TBSCertificate
    count, end = 0, time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        key.sign(data, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,arg-type]
        count += 1
    return count / (time.perf_counter() - start)


STEPS = (
    "step1_check_request",
    "step2_reserve_serial",
    "step3_build_lint_sign",
    "step4_store",
)
HOOKS = ("hooks.before_store", "hooks.on_issued")


def in_process(setup: Setup, args: argparse.Namespace, root: Path) -> tuple[float, float]:
    """Redemptions in one thread; (certificates/s, CPU ms a certificate of this process)."""
    url, schema = new_database(root, args.pg, f"inproc-{setup.spec}")
    engine, cycle = build(setup, url, schema, ocsp=not args.no_ocsp)
    tokens = enrol(engine, cycle, args.n, 0)
    requests = csrs(args.n)
    spent: dict[str, float] = dict.fromkeys((*STEPS, *HOOKS), 0.0)
    inner = cycle.hooks

    class TimedHooks:
        def before_store(self, issuer: str, serial: str) -> Any:
            t = time.perf_counter()
            try:
                return inner.before_store(issuer, serial)
            finally:
                spent["hooks.before_store"] += time.perf_counter() - t

        def on_issued(self, cert: Any) -> None:
            t = time.perf_counter()
            try:
                inner.on_issued(cert)
            finally:
                spent["hooks.on_issued"] += time.perf_counter() - t

        def on_revoked(self, cert: Any) -> None:
            inner.on_revoked(cert)

    cycle.hooks = TimedHooks()
    sign_time = [0.0]
    key = cycle.ca_key
    for name in STEPS:
        method = getattr(cycle, name)

        def timed(*a: Any, _m: Callable[..., Any] = method, _n: str = name, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return _m(*a, **k)
            finally:
                spent[_n] += time.perf_counter() - t

        setattr(cycle, name, timed)
    original_sign = key.sign

    def sign(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return original_sign(*a, **k)
        finally:
            sign_time[0] += time.perf_counter() - t

    key.sign = sign  # type: ignore[method-assign]
    redeemer = Redeemer(cycle)
    redeemer.redeem(tokens[0], requests[0], actor=ACTOR)  # warm-up
    for name in spent:
        spent[name] = 0.0
    sign_time[0] = 0.0
    latencies = []
    cpu, start = time.process_time(), time.perf_counter()
    for token, csr in zip(tokens[1:], requests[1:], strict=True):
        t = time.perf_counter()
        redeemer.redeem(token, csr, actor=ACTOR)
        latencies.append(time.perf_counter() - t)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    n = len(latencies)
    rate = n / total
    print(
        f"  in-process {setup.spec}: {rate:7.0f} certs/s  p50 {pct(latencies, 0.5):.2f} ms  "
        f"p99 {pct(latencies, 0.99):.2f} ms  ({n} certificates)"
    )
    accounted = 0.0
    for name in (*STEPS, *HOOKS):
        share = spent[name] / total
        accounted += spent[name]
        extra = ""
        if name == "step3_build_lint_sign":
            extra = f"  (of which HSM sign {sign_time[0] / n * 1000:.3f} ms)"
        if name == "hooks.before_store":
            extra = "  (OCSP pre-sign, responder key in the HSM; stored in step 4)"
        print(f"    {name:24s} {spent[name] / n * 1000:6.3f} ms/cert  {share:5.1%}{extra}")
    rest = total - accounted
    print(f"    {'token read+claim, misc':24s} {rest / n * 1000:6.3f} ms/cert  {rest / total:5.1%}")
    key.sign = original_sign  # type: ignore[method-assign]
    engine.dispose()
    return rate, 1000 * cpu / n


# -- gRPC ----------------------------------------------------------------------------


def _tls(root: Path) -> dict[str, Path]:
    from tests.server.pki import issue, make_ca

    server_ca, client_ca = make_ca("Bench server CA"), make_ca("Bench client CA")
    issue(server_ca, "localhost", server=True).write(root, "server")
    issue(client_ca, "mobile", uris=("urn:zorgid:role:mobile",)).write(root, "mobile")
    (root / "server-ca.pem").write_bytes(server_ca.cert_pem)
    (root / "client-ca.pem").write_bytes(client_ca.cert_pem)
    return {
        "server_ca": root / "server-ca.pem",
        "cert": root / "mobile.pem",
        "key": root / "mobile.key",
    }


def _config(root: Path, setup: Setup, url: str, schema: str | None, port: int) -> Path:
    if schema is not None:
        url = f"{url}?options=-csearch_path%3D{schema}"
    path = root / f"zorgid-{setup.spec}.toml"
    path.write_text(
        f'data_dir = "{setup.data_dir}"\n\n'
        f'[server]\nlisten = "127.0.0.1:{port}"\nworkers = 32\n\n'
        f'[tls]\ncert = "{root / "server.pem"}"\nkey = "{root / "server.key"}"\n'
        f'client_ca = "{root / "client-ca.pem"}"\n\n'
        f'[hsm]\ntoken = "{setup.token_label}"\npin_source = "file:{setup.pin_file}"\n\n'
        f'[database]\nurl = "{url}"\n\n'
        '[[roles.rule]]\nrole = "mobile"\nsan_uri = "urn:zorgid:role:mobile"\n'
    )
    return path


def _serve(config_path: str, ready: Any, stop: Any) -> None:
    from issuer.config import load_config
    from issuer.server.app import build_server
    from issuer.server.binding import issuance_service_bindings
    from issuer.server.health import HealthControl
    from issuer.wiring import issuance_runtime

    config = load_config(Path(config_path))
    health = HealthControl()
    built = build_server(
        config,
        issuance_service_bindings(issuance_runtime(config, health=health)),
        health=health,
        reuse_port=True,
    )
    built.start()
    ready.put(os.getpid())
    stop.wait()
    built.stop(0)


def _client(
    port: int,
    tls: dict[str, Path],
    tokens: list[str],
    requests: list[bytes],
    concurrency: int,
    out: Any,
    kind: str = "thread",
    started: Any = None,
) -> None:
    """Redeem every token over mTLS; put (certs/s, p50 ms, p99 ms, errors, client CPU ms a call).

    An honest mTLS gRPC client, only not a wasteful one: the request messages are
    built and serialised before the clock starts (what a phone does once, not per
    retry), each response is parsed. The client CPU is ``time.process_time`` (all
    threads of this process) over the timed section only: imports, the warm-up
    handshakes and the request lists' pickling are not the calls' cost.
    ``kind`` ``"aio"``: one ``grpc.aio`` event loop, one channel per caller.
    """
    import grpc

    from issuer.api.zorgid.v1 import enrollment_pb2

    creds = grpc.ssl_channel_credentials(
        root_certificates=tls["server_ca"].read_bytes(),
        private_key=tls["key"].read_bytes(),
        certificate_chain=tls["cert"].read_bytes(),
    )
    wire = [
        enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=csr).SerializeToString()
        for token, csr in zip(tokens, requests, strict=True)
    ]
    parse = enrollment_pb2.RedeemEnrollmentResponse.FromString
    if kind == "aio":
        import asyncio

        out.put(asyncio.run(_aclient(port, creds, wire, parse, concurrency, started)))
        return
    # One channel per client thread: separate connections, so SO_REUSEPORT spreads them.
    channels = [
        grpc.secure_channel(f"127.0.0.1:{port}", creds, options=_CHANNEL_OPTIONS)
        for _ in range(concurrency)
    ]
    calls = [c.unary_unary(_REDEEM, None, parse) for c in channels]
    for call, request in zip(calls, wire, strict=False):  # warm-up, one each: the handshakes
        call(request)
    work = wire[concurrency:]
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]
    index = [0]

    def worker(i: int) -> None:
        call = calls[i]
        while True:
            with lock:
                if index[0] >= len(work):
                    return
                request = work[index[0]]
                index[0] += 1
            t = time.perf_counter()
            try:
                call(request, timeout=60)
            except grpc.RpcError:
                errors[0] += 1
                continue
            with lock:
                latencies.append(time.perf_counter() - t)

    pool = ThreadPoolExecutor(max_workers=concurrency)
    list(pool.map(lambda _i: None, range(concurrency)))  # threads started before the clock
    if started is not None:
        started.set()
    cpu, start = time.process_time(), time.perf_counter()
    list(pool.map(worker, range(concurrency)))
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    pool.shutdown()
    done = len(latencies) + errors[0]
    out.put(
        (
            len(latencies) / total,
            pct(latencies, 0.5),
            pct(latencies, 0.99),
            errors[0],
            1000 * cpu / max(done, 1),
        )
    )


def _machine_ticks() -> list[int]:
    """The machine's CPU time by kind (``/proc/stat``: user nice system idle iowait irq
    softirq steal ...), in clock ticks."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


def _servers(processes: list[Any]) -> Counters:
    """The server processes' :class:`Counters`, summed."""
    total = Counters()
    for process in processes:
        if process.pid:
            total = total + counters(process.pid)
    return total


def _where(
    before: tuple[Counters, list[int]],
    after: tuple[Counters, list[int]],
    count: int,
    client_ms: float,
) -> str:
    """Where the time went over gRPC in the client's timed section: server CPU per
    certificate (all server processes, all their threads; user and kernel) and their thread
    switches, the client's CPU, and how much of the machine was idle or stolen by the
    hypervisor meanwhile (a stolen share makes the rate a figure of the machine's day, not
    of the engine)."""
    spent = after[0] - before[0]
    user_ms, system_ms = 1000 * spent.user / count, 1000 * spent.system / count
    ticks = [b - a for a, b in zip(before[1], after[1], strict=False)]
    total = sum(ticks[:8]) or 1
    idle, steal = ticks[3] + ticks[4], ticks[7]
    return (
        f"where the time goes: server CPU {user_ms + system_ms:.2f} ms a certificate "
        f"(user {user_ms:.2f}, kernel {system_ms:.2f}; thread switches "
        f"{spent.voluntary / count:.1f} waiting + {spent.involuntary / count:.1f} preempted), "
        f"client {client_ms:.2f} ms a call; machine {idle / total:.0%} idle, "
        f"{steal / total:.0%} stolen by the hypervisor"
    )


_REDEEM = "/zorgid.v1.EnrollmentService/RedeemEnrollment"
_CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]


async def _aclient(
    port: int,
    creds: Any,
    wire: list[bytes],
    parse: Callable[[bytes], Any],
    concurrency: int,
    started: Any = None,
) -> tuple[float, float, float, int, float]:
    """The ``grpc.aio`` client: one event loop, one channel (connection) per caller."""
    import asyncio

    import grpc.aio

    channels = [
        grpc.aio.secure_channel(f"127.0.0.1:{port}", creds, options=_CHANNEL_OPTIONS)
        for _ in range(concurrency)
    ]
    calls = [c.unary_unary(_REDEEM, None, parse) for c in channels]
    await asyncio.gather(*(call(r) for call, r in zip(calls, wire, strict=False)))
    work = wire[concurrency:]
    latencies: list[float] = []
    errors = [0]
    index = [0]

    async def worker(i: int) -> None:
        call = calls[i]
        while index[0] < len(work):  # one event loop: no lock needed
            request = work[index[0]]
            index[0] += 1
            t = time.perf_counter()
            try:
                await call(request, timeout=60)
            except grpc.RpcError:
                errors[0] += 1
                continue
            latencies.append(time.perf_counter() - t)

    if started is not None:
        started.set()
    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    for channel in channels:
        await channel.close(None)
    done = len(latencies) + errors[0]
    return (
        len(latencies) / total,
        pct(latencies, 0.5),
        pct(latencies, 0.99),
        errors[0],
        1000 * cpu / max(done, 1),
    )


def over_grpc(setup: Setup, args: argparse.Namespace, root: Path, tls: dict[str, Path]) -> float:
    """Every (server processes, concurrency) round; the best certificates/s of them."""
    ctx = mp.get_context("spawn")
    best = 0.0
    for processes in (1, 2, 3):
        url, schema = new_database(root, args.pg, f"grpc-{setup.spec}-{processes}")
        engine, cycle = build(setup, url, schema)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = _config(root, setup, url, schema, port)
        ready, stop = ctx.Queue(), ctx.Event()
        servers = [
            ctx.Process(target=_serve, args=(str(config), ready, stop)) for _ in range(processes)
        ]
        for p in servers:
            p.start()
        for _ in servers:
            ready.get(timeout=60)
        for concurrency in args.concurrency:
            count = max(args.n, concurrency * 20)
            tokens = enrol(engine, cycle, count, 1_000_000 * concurrency + 10_000 * processes)
            requests = csrs(count)
            out, started = ctx.Queue(), ctx.Event()
            client = ctx.Process(
                target=_client,
                args=(port, tls, tokens, requests, concurrency, out, args.client, started),
            )
            client.start()
            started.wait(timeout=600)  # warm-up calls done: the timed section starts
            before = _servers(servers), _machine_ticks()
            rate, p50, p99, errors, client_ms = out.get(timeout=600)
            after = _servers(servers), _machine_ticks()
            client.join()
            print(
                f"  gRPC mTLS {setup.spec}, {processes} server process(es), concurrency "
                f"{concurrency:3d}: {rate:7.0f} certs/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms"
                f"  client CPU {client_ms:.3f} ms a call ({args.client})"
                + (f"  ({errors} errors)" if errors else "")
            )
            print("    " + _where(before, after, count - concurrency, client_ms))
            best = max(best, rate)
        stop.set()
        for p in servers:
            p.join(timeout=30)
        with engine.connect() as conn:
            from issuer.store.schema import certificates

            stored = conn.execute(sa.select(sa.func.count()).select_from(certificates)).scalar()
        print(f"    stored certificates in this database: {stored}")
        engine.dispose()
    return best


def ceiling(args: argparse.Namespace, cycle_ms: float, best: float) -> None:
    """About the most this machine allows over gRPC today, from two figures of this run.

    Every certificate over gRPC costs the cycle's CPU (in-process, one
    thread) plus one mTLS unary call's CPU in server and client
    (``bench/grpc_echo.py``: the same transport with a handler that does
    nothing, 3 server processes). On ``os.cpu_count()`` CPUs shared by
    servers and client, an engine running this cycle gets about
    CPUs / (cycle + call) at best. Only group commit does better than the
    one-thread cycle, by sharing each BEGIN/COMMIT among a batch: at most the
    two commits a certificate pays alone (~0.3 ms of the cycle's CPU on the
    slowest machine seen). The target's ratio to it says whether the target is in
    reach on this machine today, which varies: the same code has run at a
    third of the speed on one day that it had on another
    (bench/NOTES.md). The best measured rate's ratio to it says
    how much the engine loses to running concurrently (GIL hand-overs, the
    writer queue, idle time).
    """
    concurrency = max(args.concurrency)
    figures = measure(max(args.n, 3000), [concurrency], [Variant(processes=3)], [args.client])
    call = next(iter(figures.values()))
    cpus = os.cpu_count() or 1
    limit = cpus * 1000 / (cycle_ms + call.server_ms + call.client_ms)
    print(
        f"  no-op gRPC mTLS call (3 server processes, concurrency {concurrency}): "
        f"{call.rate:7.0f} calls/s, server CPU {call.server_ms:.2f} ms, client CPU "
        f"{call.client_ms:.2f} ms a call"
    )
    print(
        f"  ceiling on this machine: {cpus} CPUs / (cycle {cycle_ms:.2f} + call "
        f"{call.server_ms + call.client_ms:.2f} ms) = {limit:7.0f} certs/s;  "
        f"target 1000 / ceiling = {1000 / limit:.2f};  best gRPC / ceiling = {best / limit:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1500, help="certificates per measurement")
    parser.add_argument("--seconds", type=float, default=3.0, help="raw HSM signing time")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--ca", choices=["p256", "p384", "both"], default="both")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--no-grpc", action="store_true")
    parser.add_argument(
        "--client",
        choices=["thread", "aio"],
        default="thread",
        help="gRPC client: blocking threads (default) or one grpc.aio event loop",
    )
    parser.add_argument(
        "--no-ocsp", action="store_true", help="in-process: no OCSP pre-signing hook"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zorgid-bench-") as tmp:
        root = Path(tmp)
        softhsm = SoftHsmDir.create(root / "softhsm")
        softhsm.activate()
        specs = {"p256": ["ec-p256"], "p384": ["ec-p384"], "both": ["ec-p384", "ec-p256"]}
        setups = [ceremony(softhsm, root, spec) for spec in specs[args.ca]]
        print(
            f"zorgid issuance bench: {os.cpu_count()} CPUs, database "
            f"{'PostgreSQL' if args.pg else 'SQLite (WAL, synchronous=FULL)'}"
        )
        tls = _tls(root)
        for setup in setups:
            raw = raw_hsm(setup, args.seconds)
            print(f"{setup.spec} issuing CA: raw HSM ECDSA signatures/s (1 process): {raw:7.0f}")
            rate, cycle_ms = in_process(setup, args, root)
            print(f"  in-process / raw HSM = {rate / raw:.2f}  (CPU {cycle_ms:.2f} ms a cert)")
            if not args.no_grpc:
                best = over_grpc(setup, args, root, tls)
                ceiling(args, cycle_ms, best)


if __name__ == "__main__":
    main()
