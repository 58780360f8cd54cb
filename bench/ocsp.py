"""OCSP serving and signing rates, each beside a baseline measured in the same run.

Usage: ``.venv/bin/python bench/ocsp.py [--sizes 10000,1000000] [--seconds 10]
[--warmup 10] [--rounds 1] [--processes 2] [--connections 64]``; ``--rounds 3`` measures
each size three times (engine, openssl, nginx, again...) and prints the medians too.

Needs ``wrk`` (Debian package ``wrk``) as the load generator and ``openssl``.
Everything lives in a temporary folder: its own SoftHSM token directory, the
development key ceremony, a migrated SQLite database.

1. Signing: ``PreSigner.sign`` (status read, two CertIDs, asn1crypto encoding,
   ECDSA P-256 on the token) per second, beside raw ``key.sign`` on the same
   HSM key (the floor: the HSM alone).
2. Serving, for each size N: N certificates with pre-signed responses in the
   store; ``zorgid ocsp serve`` (``--processes`` processes, SO_REUSEPORT) is
   loaded by ``wrk`` with GET requests for ``--sample`` (10,000) distinct serials
   drawn uniformly from the N, each request one of them at random; then ``openssl
   ocsp -index`` (``-multi`` the same number of processes, ``-rsigner`` a software
   P-256 key: it signs every answer), same request set, same wrk settings.
3. Ceiling, when ``nginx`` is installed (``make bench`` installs Debian's
   ``nginx-light``): nginx, ``worker_processes`` the same number, answering
   every request path with one stored response's bytes from a static file,
   same request set, same wrk settings. No OCSP server on this machine can
   answer faster than a C server sending a fixed file, so ``ceiling / openssl``
   bounds the ratio any responder can reach here.

4. ``--flood`` (issue 16 item 4), instead of 1-3 (needs no wrk): issuance p50
   idle and under a flood of OCSP requests that each ask for a fresh signature
   (distinct nonces for an issued serial, random never-issued serials), in the
   same run. Laid out as ``make run`` is: the issuance cycle and the HTTP
   responder in one process on one HSM login (one module lock, one GIL); the
   flood comes from another process (``--flood-threads`` keep-alive clients, at
   ``--flood-rate`` requests/s, default the issue's ~300 + ~340/s; 0: closed
   loop). Idle and flooded blocks alternate (``--flood-rounds``). Measured with
   the default ``[ocsp]`` limits, then with ``sign_rate`` unbounded (contrast);
   prints p50s and ratios.

The first min(N, 10,000) responses are signed on the HSM by the real
pre-signer; rows beyond that carry copies of those DERs, because signing a
million on SoftHSM would take many minutes and the serving path never looks
inside a stored response (it is a keyed lookup returning bytes).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from asn1crypto import algos, core
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from hsm import Hsm
    from issuer.ca import CaMaterial
    from issuer.dev.softhsm import SoftHsmToken
    from ocsp.model import StoredResponse

REPO = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path and its name would
# shadow the ``ocsp`` package: drop it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # bench.issuance and tests.ocsp helpers for --flood
ZORGID = [sys.executable, "-c", "import sys; from issuer.cli import main; sys.exit(main())"]
"""``zorgid`` of this checkout with this interpreter (a venv that has granian while the
shared one does not yet, e.g.)."""
REAL_SIGNED_MAX = 10_000
SAMPLE = 10_000
"""Distinct certificates asked for, at every size: the same request set's shape at 10,000
and at 1,000,000 certificates, so the two figures differ only by how many the store
holds (issue 23). Each answer stays in a responder's memory ``cache_seconds``; with
more distinct requests more of them are misses, at any size."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def setup(root: Path) -> tuple[Hsm, CaMaterial, SoftHsmToken, sa.Engine, str, Path]:
    from hsm import Hsm
    from issuer.ca import default_dev_ceremony, load_ca_material, run_ceremony
    from issuer.ca.config import HsmSettings
    from issuer.ca.dev import DEFAULT_DEV_PUBLIC_URL
    from issuer.dev.softhsm import SoftHsmDir
    from issuer.store import create_engine_for, upgrade

    softhsm = SoftHsmDir.create(root / "softhsm")
    softhsm.activate()
    token = softhsm.init_token("bench")
    hsm = Hsm.open(
        module_path=token.module, token_label=token.label, pin_source=f"file:{token.pin_file}"
    )
    data_dir = root / "data"
    settings = HsmSettings(
        module=token.module, token=token.label, pin_source=f"file:{token.pin_file}"
    )
    run_ceremony(
        default_dev_ceremony(data_dir, settings, DEFAULT_DEV_PUBLIC_URL), hsm, out=lambda *_: None
    )
    material = load_ca_material(data_dir)
    url = f"sqlite:///{data_dir / 'zorgid.sqlite3'}"
    engine = create_engine_for(url)
    upgrade(engine)
    config = root / "zorgid.toml"
    config.write_text(
        f'data_dir = "{data_dir}"\n\n[server]\ndev_plaintext = true\n\n'
        f'[hsm]\nmodule = "{token.module}"\ntoken = "{token.label}"\n'
        f'pin_source = "file:{token.pin_file}"\n\n[database]\nurl = "{url}"\n'
    )
    return hsm, material, token, engine, url, config


def bench_signing(service: object, hsm: object, material: object, count: int) -> dict[str, float]:
    from issuer.ocsp_service import OcspService

    assert isinstance(service, OcspService)
    key = hsm.get_key(material.ocsp_responder_key_label)  # type: ignore[attr-defined]
    issuer_id = service.issuers.all()[0].issuer_id
    data = os.urandom(200)
    start = time.perf_counter()
    for _ in range(count):
        key.sign(data, ec.ECDSA(hashes.SHA256()))
    raw = count / (time.perf_counter() - start)
    from ocsp.model import CertStatus

    good = CertStatus.good()
    start = time.perf_counter()
    for serial in range(1, count + 1):
        service.presigner.sign(issuer_id, serial, status=good)
    ours = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for serial in range(1, count + 1):
        service.presigner.sign(issuer_id, serial)
    looked = count / (time.perf_counter() - start)
    return {"raw": raw, "presign": ours, "lookup": looked}


def populate(
    engine: sa.Engine,
    service: object,
    start: int,
    stop: int,
    issuer_id: str,
    pool: list[StoredResponse],
) -> None:
    """Rows for serials [start, stop): reservation, certificate, pre-signed response."""
    from issuer.ocsp_service import OcspService
    from issuer.store.ocsp import serial_hex
    from issuer.store.schema import certificates, ocsp_responses, serial_reservations
    from ocsp.model import CertStatus

    assert isinstance(service, OcspService)
    now = datetime.now(UTC)
    later = now + timedelta(days=365)
    batch = 20_000
    for lo in range(start, stop, batch):
        hi = min(stop, lo + batch)
        res, certs, resp = [], [], []
        for serial in range(lo, hi):
            sh = serial_hex(serial)
            res.append(
                {"issuer": issuer_id, "serial": sh, "request_sha256": "0" * 64,
                 "policy_version": 1, "state": "issued", "created_at": now}
            )  # fmt: skip
            certs.append(
                {"id": secrets.token_hex(18), "issuer": issuer_id, "serial": sh, "der": b"\x30\x00",
                 "not_before": now, "not_after": later, "status": "good", "policy_version": 1,
                 "spki_sha256": hashlib.sha256(sh.encode()).hexdigest(), "issued_at": now}
            )  # fmt: skip
        with engine.begin() as conn:
            conn.execute(serial_reservations.insert(), res)
            conn.execute(certificates.insert(), certs)
        for serial in range(lo, hi):
            if serial <= REAL_SIGNED_MAX:
                stored = service.presigner.sign(issuer_id, serial, status=CertStatus.good())
                pool.append(stored)
            else:
                stored = pool[serial % len(pool)]
            resp.append(
                {"issuer": issuer_id, "serial": serial_hex(serial), "der": stored.der,
                 "this_update": stored.this_update, "next_update": stored.next_update,
                 "produced_at": stored.produced_at}
            )  # fmt: skip
        with engine.begin() as conn:
            conn.execute(ocsp_responses.insert(), resp)
        print(f"  populated {hi - 1:,} certificates", file=sys.stderr, end="\r")
    print(file=sys.stderr)


def request_paths(issuing: x509.Certificate, serials: list[int], prefix: str) -> list[str]:
    """GET paths under *prefix*, the OCSP URL's path (since issue 18 nothing else answers)."""
    from ocsp.issuers import IssuingCa

    ca = IssuingCa.from_certificate(issuing)
    paths = []
    for serial in serials:
        req = asn1_ocsp.OCSPRequest(
            {
                "tbs_request": {
                    "request_list": [
                        {
                            "req_cert": {
                                "hash_algorithm": algos.DigestAlgorithm(
                                    {"algorithm": "sha1", "parameters": core.Null()}
                                ),
                                "issuer_name_hash": ca.name_hashes["sha1"],
                                "issuer_key_hash": ca.key_hashes["sha1"],
                                "serial_number": serial,
                            }
                        }
                    ]
                }
            }
        )
        paths.append(
            prefix
            + "/"
            + base64.b64encode(req.dump())
            .decode()
            .replace("/", "%2F")
            .replace("+", "%2B")
            .replace("=", "%3D")
        )
    return paths


WRK_LUA = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
local n = #paths
math.randomseed(os.time())
request = function()
  return wrk.format("GET", paths[math.random(n)])
end
"""


def run_wrk(
    port: int, paths_file: Path, seconds: int, connections: int, warmup: int = 0
) -> dict[str, float]:
    """wrk for *seconds*, after *warmup* seconds of the same load whose figures are
    dropped: a server is measured in its steady state (a responder's memory filled,
    nginx's open-file cache), not in its first second."""
    script = paths_file.with_suffix(".lua")
    script.write_text(WRK_LUA % paths_file)
    if warmup > 0:
        subprocess.run(
            ["wrk", "-t", "1", "-c", str(connections), "-d", f"{warmup}s",
             "-s", str(script), f"http://127.0.0.1:{port}"],
            capture_output=True, check=True,
        )  # fmt: skip
    done = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency",
         "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        value = float(m.group(1))
        return value / 1000 if m.group(2) == "us" else value * 1000 if m.group(2) == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rate": rate,
        "p50": pct("50"),
        "p99": pct("99"),
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "errors": errors.group(1) if errors else "",  # type: ignore[dict-item]
    }


def openssl_responder(root: Path, issuing_pem: Path, serials_upto: int) -> tuple[Path, Path, Path]:
    """index.txt with every serial valid, and a software responder key + certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench openssl responder")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    key_path = root / "rkey.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path = root / "rsigner.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    index = root / "index.txt"
    expiry = (now + timedelta(days=365)).strftime("%y%m%d%H%M%SZ")
    with index.open("w") as f:
        for serial in range(1, serials_upto + 1):
            hexed = f"{serial:X}"
            hexed = "0" * (len(hexed) % 2) + hexed  # OpenSSL compares BN_bn2hex text: even length
            f.write(f"V\t{expiry}\t\t{hexed}\tunknown\t/CN=bench {serial}\n")
    return index, key_path, cert_path


NGINX_CONF = """
worker_processes %(processes)d;
pid %(root)s/nginx.pid;
error_log %(root)s/nginx-error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  open_file_cache max=16;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:%(port)d reuseport;
    root %(root)s/static;
    location / {
      default_type application/ocsp-response;
      try_files /response.der =404;
      add_header Cache-Control "max-age=3600, public, no-transform, must-revalidate";
    }
  }
}
"""


def nginx_ceiling(
    root: Path,
    body: bytes,
    paths_file: Path,
    processes: int,
    seconds: int,
    connections: int,
    warmup: int = 0,
) -> dict[str, float] | None:
    """wrk against nginx sending *body* for every path: the fastest this machine answers."""
    sbin = Path("/usr/sbin/nginx")
    nginx = shutil.which("nginx") or (str(sbin) if sbin.exists() else None)
    if nginx is None:
        return None
    (root / "static").mkdir(exist_ok=True)
    (root / "static" / "response.der").write_bytes(body)
    port = _free_port()
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF % {"processes": processes, "root": root, "port": port})
    server = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_port(port)
        time.sleep(0.5)
        return run_wrk(port, paths_file, seconds, connections, warmup)
    finally:
        server.terminate()
        server.wait(30)


# -- 4. issuance under an OCSP flood (issue 16 item 4) ---------------------------------------

FLOOD_NONCE = bytes(range(0xA0, 0xB0))
"""Marker nonce of the request template; each flood request puts fresh random bytes there."""
FLOOD_SERIAL = 0x5A5A5A5A5A5A5A5A
"""Marker serial of the never-issued template (8 octets, positive), replaced per request."""


def _flood_templates(issuing_der: bytes, known_serial: int) -> tuple[bytes, bytes, bytes]:
    """(nonce request for *known_serial*, request for FLOOD_SERIAL, plain request for
    *known_serial*), DER, SHA-1 CertIDs."""
    from ocsp.issuers import IssuingCa
    from tests.ocsp.helpers import build_request

    ca = IssuingCa.from_certificate(x509.load_der_x509_certificate(issuing_der))
    return (
        build_request(ca, [known_serial], nonce=FLOOD_NONCE),
        build_request(ca, [FLOOD_SERIAL]),
        build_request(ca, [known_serial]),
    )


def _flood_client(
    port: int,
    nonce_req: bytes,
    unknown_req: bytes,
    plain_req: bytes | None,
    threads: int,
    rate: float,
    go: object,
    stop: object,
    out: object,
) -> None:
    """Another process: *threads* keep-alive HTTP clients POSTing, alternately, a nonce'd
    request for an issued serial (fresh nonce each) and a random never-issued serial,
    *rate* requests a second in all (0: as fast as they can), while *go* is set; the
    counts of answers go to *out* when *stop* is set. With *plain_req*, that one request
    instead, every time: the same volume of the RFC 5019 requests that never sign."""
    import threading
    from http.client import HTTPConnection

    marker = FLOOD_SERIAL.to_bytes(9, "big", signed=True).lstrip(b"\x00")
    n_at = nonce_req.index(FLOOD_NONCE)
    s_at = unknown_req.index(marker)
    counts: dict[str, int] = {}
    lock = threading.Lock()
    names = {0: "successful", 1: "malformedRequest", 2: "internalError", 3: "tryLater",
             5: "sigRequired", 6: "unauthorized"}  # fmt: skip

    def one() -> None:
        conn = HTTPConnection("127.0.0.1", port, timeout=30)
        mine: dict[str, int] = {}
        flip = False
        gap = threads / rate if rate > 0 else 0.0
        due = time.monotonic()
        while not stop.is_set():  # type: ignore[attr-defined]
            if not go.is_set():
                go.wait(0.2)  # type: ignore[attr-defined]
                due = time.monotonic()
                continue
            if gap:  # open loop: a fixed schedule, whatever the answers' latency
                due += gap
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            flip = not flip
            if plain_req is not None:
                body = plain_req
            elif flip:
                body = nonce_req[:n_at] + os.urandom(16) + nonce_req[n_at + 16 :]
            else:
                serial = bytes([random.randint(0x10, 0x7F)]) + os.urandom(7)
                body = unknown_req[:s_at] + serial + unknown_req[s_at + 8 :]
            try:
                conn.request("POST", "/ocsp", body, {"Content-Type": "application/ocsp-request"})
                got = conn.getresponse().read()
            except OSError:
                conn.close()
                conn = HTTPConnection("127.0.0.1", port, timeout=30)
                mine["error"] = mine.get("error", 0) + 1
                continue
            status = got[4] if got[1] < 0x80 else got[2 + (got[1] & 0x7F) + 2]
            kind = (
                "pre-signed, issued serial"
                if plain_req is not None
                else "nonce, issued serial"
                if flip
                else "never-issued serial"
            )
            key = f"{kind}: {names.get(status, '?')}"
            mine[key] = mine.get(key, 0) + 1
        with lock:
            for key, value in mine.items():
                counts[key] = counts.get(key, 0) + value

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put(counts)  # type: ignore[attr-defined]


def _same_process(
    root: Path,
    setup: Any,
    url: str,
    material: Any,
    hsm: Any,
    policy: Any,
    defaults: Any,
    limits: dict[str, float],
) -> tuple[int, Callable[[], None]]:
    """The HTTP responder in this process, as ``make run`` has it: its own database engine,
    the issuance cycle's HSM login (one module lock) and GIL."""
    from issuer.ocsp_service import OcspService
    from issuer.store import create_engine_for
    from ocsp.front import Front
    from tests.ocsp.conftest import serve_app

    engine = create_engine_for(url)
    service = OcspService.build(
        engine=engine,
        material=material,
        hsm=hsm,
        policy=policy.ocsp,
        signature_hash=policy.profile.signature_hash,
        max_on_demand=defaults.max_on_demand,
        max_certids=defaults.max_certids,
        sign_rate=limits["sign_rate"],
        sign_burst=int(limits["sign_burst"]),
    )
    served, stop = serve_app(Front(service.responder))

    def stop_all() -> None:
        stop()
        engine.dispose()

    return served.port, stop_all


def _own_process(
    root: Path,
    setup: Any,
    url: str,
    material: Any,
    hsm: Any,
    policy: Any,
    defaults: Any,
    limits: dict[str, float],
) -> tuple[int, Callable[[], None]]:
    """``zorgid ocsp serve`` in a process of its own on the same token and database (the
    production layout): it shares no lock and no GIL with issuance, only the machine."""
    from issuer.dev.softhsm import SOFTHSM_MODULE

    port = _free_port()
    config = root / f"flood-{port}.toml"
    config.write_text(
        f'data_dir = "{setup.data_dir}"\n\n[server]\ndev_plaintext = true\n\n'
        f'[hsm]\nmodule = "{SOFTHSM_MODULE}"\ntoken = "{setup.token_label}"\n'
        f'pin_source = "file:{setup.pin_file}"\n\n[database]\nurl = "{url}"\n\n'
        f'[ocsp]\nlisten = "127.0.0.1:{port}"\nrefresh_interval_seconds = 0\n'
        f"sign_rate = {limits['sign_rate']}\nsign_burst = {int(limits['sign_burst'])}\n"
    )
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("zorgid")), "ocsp", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=(root / "flood-serve.log").open("wb"),
    )  # fmt: skip
    try:
        _wait_port(port)
    except RuntimeError:
        server.kill()
        sys.stderr.write((root / "flood-serve.log").read_text())
        raise

    def stop() -> None:
        server.terminate()
        server.wait(30)

    return port, stop


def flood_bench(args: argparse.Namespace) -> int:
    """Issuance p50 idle and under a forced-signing OCSP flood, in one run (see docstring 4)."""
    import multiprocessing
    import statistics

    from bench.issuance import ACTOR, csrs, enrol, p256_cycle
    from hsm import Hsm
    from issuer.ca import load_ca_material
    from issuer.config import OcspConfig
    from issuer.enrolment.redeem import Redeemer

    with tempfile.TemporaryDirectory(prefix="zorgid-bench-flood-") as tmp:
        root = Path(tmp)
        setup, engine, cycle = p256_cycle(root, "flood")
        url = f"sqlite:///{root / 'flood.sqlite3'}"  # bench.issuance.new_database's file
        hsm = Hsm.open(setup.token_uri)  # the same login (one per process) and module lock
        material = load_ca_material(setup.data_dir)
        label = material.ocsp_responder_key_label
        key_class = type(hsm.get_key(label))
        original_sign = key_class.sign
        responder_signs = [0]

        def counting(self: object, *a: object, **k: object) -> object:
            if getattr(self, "label", None) == label:
                responder_signs[0] += 1
            return original_sign(self, *a, **k)  # type: ignore[arg-type]

        key_class.sign = counting  # type: ignore[method-assign,assignment]
        n = args.flood_n
        phases = 7
        tokens = enrol(engine, cycle, n * phases + 20, 0)
        requests = csrs(n * phases + 20)
        redeemer = Redeemer(cycle)
        used = [0]

        def issue(count: int) -> list[float]:
            times = []
            for _ in range(count):
                i = used[0]
                used[0] += 1
                t = time.perf_counter()
                redeemer.redeem(tokens[i], requests[i], actor=ACTOR)
                times.append(time.perf_counter() - t)
            return times

        issue(20)  # warm-up
        known = int(engine.connect().exec_driver_sql(
            "SELECT serial FROM certificates LIMIT 1").scalar_one(), 16)  # fmt: skip
        nonce_req, unknown_req, plain_req = _flood_templates(
            material.issuing_ca.public_bytes(serialization.Encoding.DER), known
        )
        defaults = OcspConfig()
        print(
            f"issuance p50 under an OCSP flood: {n} redemptions a phase (P-256 CA, SQLite, "
            f"OCSP pre-signing), flood of {args.flood_threads} keep-alive clients in another "
            f"process at {args.flood_rate:g} req/s (0: closed loop); responder in "
            f"{'the issuance process' if args.flood_layout == 'same' else 'its own process'}; "
            f"{os.cpu_count()} cores shared"
        )
        print(f"    {'':<40} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}")
        results: list[tuple[str, float]] = []
        default_limits = {"sign_rate": defaults.sign_rate, "sign_burst": defaults.sign_burst}
        for title, limits, plain in (
            (
                f"forcing flood, default limits (rate {defaults.sign_rate:g}/s, burst "
                f"{defaults.sign_burst})",
                default_limits,
                None,
            ),
            (
                "forcing flood, sign_rate unbounded (contrast)",
                {"sign_rate": 10_000.0, "sign_burst": 100_000},
                None,
            ),
            ("floor: same volume of pre-signed requests", default_limits, plain_req),
        ):
            start_responder = _own_process if args.flood_layout == "own" else _same_process
            port, stop_server = start_responder(
                root, setup, url, material, hsm, cycle.policy, defaults, limits
            )
            context = multiprocessing.get_context("spawn")
            go, stop, out = context.Event(), context.Event(), context.Queue()
            client = context.Process(
                target=_flood_client,
                args=(
                    port,
                    nonce_req,
                    unknown_req,
                    plain,
                    args.flood_threads,
                    args.flood_rate,
                    go,
                    stop,
                    out,
                ),
                daemon=True,
            )
            client.start()
            time.sleep(2.0)  # the client process imports and starts its threads
            # Idle and flooded blocks interleave, so the machine's other load (it drifts)
            # falls on both alike.
            idle: list[float] = []
            flooded: list[float] = []
            flood_time = 0.0
            fresh = 0
            block = max(1, n // args.flood_rounds)
            for _ in range(args.flood_rounds):
                idle += issue(block)
                go.set()
                time.sleep(0.3)  # the flood is at full strength
                signs_before, t0 = responder_signs[0], time.perf_counter()
                batch = issue(block)
                flood_time += time.perf_counter() - t0
                fresh += responder_signs[0] - signs_before - len(batch)  # minus pre-signs
                flooded += batch
                go.clear()
                time.sleep(0.3)  # in-flight flood requests end
            stop.set()
            counts = out.get(timeout=60)
            client.join(30)
            stop_server()
            p50_idle = statistics.median(idle) * 1000
            p50 = statistics.median(flooded) * 1000
            ratio = p50 / p50_idle
            results.append((title, ratio))
            total = sum(counts.values())
            flood_seconds = flood_time + args.flood_rounds * 0.3
            print(f"  {title}")
            print(f"    {'idle':<40} {p50_idle:7.2f} {pct(idle, 0.99):7.2f}")
            print(
                f"    {'under flood':<40} {p50:7.2f} {pct(flooded, 0.99):7.2f} {ratio:6.2f}  "
                f"~{total / flood_seconds:.0f} req/s, "
                + (
                    f"{fresh / max(flood_time, 1e-9):.0f} fresh OCSP signatures/s"
                    if args.flood_layout == "same"
                    else "(signatures made in the responder process, not counted)"
                )
            )
            for key in sorted(counts):
                print(f"      {key:<44} {counts[key]:>8}")
        ok = results[0][1] <= 1.5
        print(
            f"  forcing flood, default limits: issuance p50 under flood / idle = "
            f"{results[0][1]:.2f} ({'within' if ok else 'NOT within'} 1.5x); the floor "
            f"(no signature asked) {results[2][1]:.2f}; rate off {results[1][1]:.2f}"
        )
        key_class.sign = original_sign  # type: ignore[method-assign]
        engine.dispose()
    return 0


Figures = dict[str, Any]
"""run_wrk's figures: rate, p50, p99 (ms), non2xx, errors (text)."""


def _serve_round(
    args: argparse.Namespace,
    root: Path,
    config: Path,
    size: int,
    paths_file: Path,
    root_paths_file: Path,
    issuing_pem: Path,
    body: bytes,
) -> tuple[Figures, Figures, Figures | None]:
    """One round at *size*: the engine, ``openssl ocsp``, nginx, one after the other."""
    port = _free_port()
    cfg = config.read_text() + (
        f'\n[ocsp]\nlisten = "127.0.0.1:{port}"\nprocesses = {args.processes}\n'
        "refresh_interval_seconds = 0\n"
    )
    for key in ("cache_seconds", "repeat_log_sample"):
        if (value := getattr(args, key)) is not None:
            cfg += f"{key} = {value}\n"
    cfg_path = root / f"zorgid-{size}.toml"
    cfg_path.write_text(cfg)
    server = subprocess.Popen(
        [*ZORGID, "ocsp", "serve", "--config", str(cfg_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        _wait_port(port)
        time.sleep(1.0)  # let every process bind
        ours = run_wrk(port, paths_file, args.seconds, args.connections, args.warmup)
    finally:
        server.terminate()
        server.wait(30)
    index, rkey, rsigner = openssl_responder(root, issuing_pem, size)
    oport = _free_port()
    baseline = subprocess.Popen(
        ["openssl", "ocsp", "-index", str(index), "-port", str(oport),
         "-rsigner", str(rsigner), "-rkey", str(rkey), "-CA", str(issuing_pem),
         "-multi", str(args.processes), "-nmin", "5", "-ignore_err"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        # Wait for its "ACCEPT ..." line: a probe connection that sends nothing
        # wedges an OpenSSL 3.0 responder child (it spins on the empty read).
        assert baseline.stdout is not None
        first = baseline.stdout.readline()
        if not first.startswith(b"ACCEPT"):
            raise RuntimeError(f"openssl ocsp did not start: {first!r}")
        time.sleep(0.5)  # the -multi children are forked after that line
        # No warm-up: it keeps nothing to warm, and wrk's connections cut at the
        # end of a run wedge its children as the probe above would.
        theirs = run_wrk(oport, root_paths_file, args.seconds, args.connections)
    finally:
        # -multi makes the parent its own process group leader (setpgid(0, 0),
        # which is also why it must not be started as a session leader) and it
        # ignores SIGTERM: kill the group.
        os.killpg(baseline.pid, signal.SIGKILL)
        baseline.wait(30)
    ceiling = nginx_ceiling(
        root,
        body,
        paths_file,
        args.processes,
        args.seconds,
        args.connections,
        args.warmup,
    )
    return ours, theirs, ceiling


def _print_round(
    size: int, ours: Figures, theirs: Figures, ceiling: Figures | None, label: str = ""
) -> None:
    if label:
        print(f"  {label}")
    print(
        f"{size:>10,} {'zorgid (pre-signed)':<22} {ours['rate']:>9.0f} "
        f"{ours['p50']:>8.2f} {ours['p99']:>8.2f}  "
        f"{ours['rate'] / max(theirs['rate'], 1e-9):.1f}x"
        + (f"  non-2xx {ours['non2xx']:.0f}" if ours["non2xx"] else "")
    )
    print(
        f"{size:>10,} {'openssl ocsp -index':<22} {theirs['rate']:>9.0f} "
        f"{theirs['p50']:>8.2f} {theirs['p99']:>8.2f}  1.0x (baseline)"
        + (f"  errors {theirs['errors']}" if theirs["errors"] else "")
    )
    if ceiling is None:
        print(f"{size:>10,} {'nginx static (ceiling)':<22} not measured: no nginx")
    else:
        print(
            f"{size:>10,} {'nginx static (ceiling)':<22} {ceiling['rate']:>9.0f} "
            f"{ceiling['p50']:>8.2f} {ceiling['p99']:>8.2f}  "
            f"{ceiling['rate'] / max(theirs['rate'], 1e-9):.1f}x"
        )
        print(
            f"{size:>10,} zorgid at {ours['rate'] / max(ceiling['rate'], 1e-9):.0%} of the ceiling"
        )


def _medians(
    rounds: list[tuple[Figures, Figures, Figures | None]],
) -> tuple[Figures, Figures, Figures | None]:
    """Per server, the median of each figure over the rounds (the rounds alternate)."""

    def median(runs: list[Figures]) -> Figures:
        return {
            key: statistics.median(run[key] for run in runs)
            for key in ("rate", "p50", "p99", "non2xx")
        } | {"errors": ""}

    ceilings = [c for _o, _t, c in rounds if c is not None]
    return (
        median([o for o, _t, _c in rounds]),
        median([t for _o, t, _c in rounds]),
        median(ceilings) if ceilings else None,
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--rounds", type=int, default=1, help="measure each size this often, then the medians"
    )
    parser.add_argument(
        "--warmup", type=int, default=10, help="seconds of load before each measured run"
    )
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--sign-count", type=int, default=300)
    parser.add_argument("--sample", type=int, default=SAMPLE, help="distinct serials asked for")
    parser.add_argument("--cache-seconds", type=float, help="[ocsp] cache_seconds if given")
    parser.add_argument("--repeat-log-sample", type=int, help="[ocsp] repeat_log_sample if given")
    parser.add_argument("--flood", action="store_true", help="only 4.: issuance under a flood")
    parser.add_argument("--flood-n", type=int, default=400, help="redemptions a phase")
    parser.add_argument("--flood-threads", type=int, default=16)
    parser.add_argument(
        "--flood-layout",
        choices=["same", "own"],
        default="same",
        help="the responder in the issuance process (make run) or its own (zorgid ocsp serve)",
    )
    parser.add_argument(
        "--flood-rate",
        type=float,
        default=640.0,
        help="flood requests/s (half nonce'd, half never-issued; issue 16 measured ~300 and "
        "~340 fresh signatures/s); 0: closed loop, as fast as the clients can",
    )
    parser.add_argument("--flood-rounds", type=int, default=8, help="idle/flood alternations")
    args = parser.parse_args()
    if args.flood:
        return flood_bench(args)
    if shutil.which("wrk") is None:
        print("bench/ocsp.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="zorgid-bench-ocsp-") as tmp:
        root = Path(tmp)
        hsm, material, _token, engine, _url, config = setup(root)
        from issuer.ocsp_service import OcspService
        from issuer.ocsp_wiring import active_policy
        from policies.urls import served_paths

        service = OcspService.build(
            engine=engine,
            material=material,
            hsm=hsm,
            policy=(active := active_policy(engine, material)).ocsp,
            signature_hash=active.profile.signature_hash,
        )
        issuer_id = service.issuers.all()[0].issuer_id
        print(f"signing, {args.sign_count} responses (SoftHSM, EC P-256 responder key)")
        sig = bench_signing(service, hsm, material, args.sign_count)
        print(f"  raw HSM key.sign      {sig['raw']:8.0f} /s   (baseline)")
        for name, key, note in (
            ("PreSigner.sign", "presign", "status given, as refresh does"),
            ("+ status lookup", "lookup", "one SELECT per response, as the issuance hook does"),
        ):
            ratio = sig[key] / sig["raw"]
            print(f"  {name:<20}  {sig[key]:8.0f} /s   ratio {ratio:.2f}  ({note})")
        with engine.begin() as conn:  # the signing run stored nothing, but be sure
            conn.exec_driver_sql("DELETE FROM ocsp_responses")
        issuing_pem = root / "issuing.pem"
        issuing_pem.write_bytes(material.issuing_ca.public_bytes(serialization.Encoding.PEM))
        done_upto = 0
        pool: list[StoredResponse] = []
        print(
            f"\nserving over HTTP GET: wrk -c {args.connections} -d {args.seconds}s (after "
            f"{args.warmup}s of the same load, but for openssl: it keeps nothing), "
            f"{args.processes} process(es) each side, {os.cpu_count()} cores shared with wrk"
        )
        print(f"{'certs':>10} {'server':<22} {'resp/s':>9} {'p50 ms':>8} {'p99 ms':>8}  ratio")
        for size in sizes:
            t0 = time.perf_counter()
            populate(engine, service, done_upto + 1, size + 1, issuer_id, pool)
            done_upto = size
            print(f"  ({size:,} rows in {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
            # The rows' pages (2 GB at a million) written out now, not by the kernel's
            # flusher threads on the two cores during the measured runs.
            os.sync()
            rng = random.Random(size)
            serials = rng.sample(range(1, size + 1), min(args.sample, size))
            paths_file = root / f"paths-{size}.txt"
            prefix = served_paths(active.profile).ocsp
            paths_file.write_text(
                "\n".join(request_paths(material.issuing_ca, serials, prefix)) + "\n"
            )
            # openssl ocsp reads the request from the path's last segment: the same requests
            # at the root, as an OCSP URL without a path would send them.
            root_paths_file = root / f"paths-{size}-root.txt"
            root_paths_file.write_text(
                "\n".join(request_paths(material.issuing_ca, serials, "")) + "\n"
            )
            rounds = [
                _serve_round(
                    args, root, config, size, paths_file, root_paths_file, issuing_pem,
                    pool[0].der,
                )
                for _ in range(args.rounds)
            ]  # fmt: skip
            for n, (ours, theirs, ceiling) in enumerate(rounds, start=1):
                _print_round(size, ours, theirs, ceiling, f"round {n}" if args.rounds > 1 else "")
            if args.rounds > 1:
                _print_round(size, *_medians(rounds), f"median of {args.rounds} rounds")
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
