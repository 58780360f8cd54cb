"""A steady load of issuance, login and OCSP against a real engine, and the check after it.

The engine is ``zorgid serve`` and ``zorgid ocsp serve`` as subprocesses, on
loopback, with a config, a SoftHSM token, a key ceremony and a database made
for the run (:class:`World`). The load (:class:`Load`) is N client threads over
gRPC with mTLS and HTTP at a fixed rate of requests a second, bounded by time
and by count, mixing:

- issuance: ``RedeemEnrollment`` of an enrolment made before the clock starts
  (the phone's key is kept: the client logs in with it later);
- login: CreateLoginChallenge, DescribeLoginChallenge, AnswerLoginChallenge
  (signed with an acknowledged certificate's key), GetLoginChallenge;
- OCSP: an RFC 6960 GET for an acknowledged certificate at the OCSP front.

Every call has a deadline; every certificate a client was handed is recorded
(serial and DER), every failure by gRPC code and ZID code, every latency.
:func:`check` then asks the store and the front whether any acknowledged
certificate was lost (``bench/robustness.py``, ``tests/robustness/``).
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

ZORGID = str(Path(sys.executable).with_name("zorgid"))
ROLES = ("mobile", "portal", "operator", "auditor")
DEADLINE = 10.0
"""Every call's deadline (s): a request still unanswered then has hung."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- the engine ----------------------------------------------------------------------


@dataclass
class World:
    """One engine on loopback: token, CA, TLS, database, config and its two processes."""

    root: Path
    db_url: str
    processes: int = 1
    grpc_port: int = field(default_factory=free_port)
    ocsp_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    setup: Any = None
    softhsm: Any = None
    cycle: Any = None
    engine: Any = None
    made: int = 0
    policy: Path | None = None
    """The policy document (``[policy] file``); None: the packaged development policy."""
    runner: list[str] | None = None
    """None: ``zorgid serve``; else the same through ``bench/fault_server.py`` with these
    options of its own (its HSM fault switch, ``--tracemalloc``)."""

    @classmethod
    def create(
        cls, root: Path, db_url: str = "", *, processes: int = 1, policy: Path | None = None
    ) -> World:
        """The ceremony, the TLS material and the migrated database; nothing started yet.

        *db_url* empty: an SQLite file under *root* / ``db``. *policy*: the document the
        store starts with (the UZI-pas step's names the test register, bench/uzi_load.py)."""
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import issuance as bench  # bench/issuance.py: ceremony, enrolment

        from issuer.dev.softhsm import SoftHsmDir
        from issuer.store import upgrade

        root.mkdir(parents=True, exist_ok=True)
        world = cls(root=root, db_url=db_url, processes=processes, policy=policy)
        if not db_url:
            (root / "db").mkdir(exist_ok=True)
            world.db_url = f"sqlite:///{root / 'db' / 'zorgid.sqlite3'}"
        world.softhsm = SoftHsmDir.create(root / "softhsm")
        world.softhsm.activate()
        world.setup = bench.ceremony(world.softhsm, root, "ec-p256")
        _tls(root / "tls")
        upgrade(world.db_url)
        world.write_config()
        world.engine, world.cycle = bench.build(world.setup, world.db_url, None, policy=policy)
        return world

    @property
    def config(self) -> Path:
        return self.root / "zorgid.toml"

    @property
    def sqlite_file(self) -> Path | None:
        prefix = "sqlite:///"
        return Path(self.db_url[len(prefix) :]) if self.db_url.startswith(prefix) else None

    def write_config(self) -> None:
        tls = self.root / "tls"
        rules = "".join(
            f'[[roles.rule]]\nrole = "{r}"\nsan_uri = "urn:zorgid:role:{r}"\n\n' for r in ROLES
        )
        self.config.write_text(
            f'data_dir = "{self.setup.data_dir}"\n\n'
            f'[server]\nlisten = "127.0.0.1:{self.grpc_port}"\nworkers = 16\n'
            f"processes = {self.processes}\n\n"
            f'[tls]\ncert = "{tls / "server.pem"}"\nkey = "{tls / "server.key"}"\n'
            f'client_ca = "{tls / "client-ca.pem"}"\n\n'
            f'[hsm]\ntoken = "{self.setup.token_label}"\n'
            f'pin_source = "file:{self.setup.pin_file}"\n\n'
            f'[database]\nurl = "{self.db_url}"\n\n'
            f'[ocsp]\nlisten = "127.0.0.1:{self.ocsp_port}"\n'
            f'public_url = "http://127.0.0.1:{self.ocsp_port}"\n\n'
            + (f'[policy]\nfile = "{self.policy}"\n\n' if self.policy is not None else "")
            + rules
        )

    def enrol(self, count: int) -> list[str]:
        """*count* enrolment tokens (as a confirmed registration leaves them), made now."""
        import issuance as bench

        tokens: list[str] = bench.enrol(self.engine, self.cycle, count, self.made)
        self.made += count
        return tokens

    def start(self, timeout: float = 120) -> None:
        env = dict(os.environ, SOFTHSM2_CONF=str(self.softhsm.conf))
        serve = [ZORGID]
        if self.runner is not None:
            serve = [sys.executable, str(Path(__file__).with_name("fault_server.py")), *self.runner]
        for name, argv in (
            ("serve", [*serve, "serve", "--config", str(self.config)]),
            ("ocsp", [ZORGID, "ocsp", "serve", "--config", str(self.config)]),
        ):
            if name in self.procs and self.procs[name].poll() is None:
                continue
            with (self.root / f"{name}.log").open("ab") as out:
                self.procs[name] = subprocess.Popen(
                    argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
        self.wait_serving(timeout)

    def wait_serving(self, timeout: float) -> float:
        """Seconds until health says SERVING and the front's ``/readyz`` 200, else fail."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited {proc.returncode}\n{self.tail()}")
            if self.health() == "SERVING" and self.ready() == 200:
                return time.monotonic() - start
            time.sleep(0.1)
        raise RuntimeError(f"engine not serving after {timeout} s\n{self.tail()}")

    def health(self) -> str:
        """``grpc.health.v1`` Check: SERVING, NOT_SERVING or the failure's code."""
        ch = self.channel("auditor")
        try:
            reply = health_pb2_grpc.HealthStub(ch).Check(  # type: ignore[no-untyped-call]
                health_pb2.HealthCheckRequest(), timeout=1
            )
            return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
        except grpc.RpcError as err:
            return str(err.code().name)
        finally:
            ch.close()

    def ready(self) -> int:
        """The OCSP front's ``/readyz`` status, 0 when it does not answer."""
        try:
            with urllib.request.urlopen(f"{self.ocsp_base}/readyz", timeout=1) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except OSError:
            return 0

    @property
    def ocsp_base(self) -> str:
        return f"http://127.0.0.1:{self.ocsp_port}"

    def channel(self, role: str) -> grpc.Channel:
        tls = self.root / "tls"
        creds = grpc.ssl_channel_credentials(
            root_certificates=(tls / "server-ca.pem").read_bytes(),
            private_key=(tls / f"{role}.key").read_bytes(),
            certificate_chain=(tls / f"{role}.pem").read_bytes(),
        )
        return grpc.secure_channel(
            f"localhost:{self.grpc_port}", creds, options=[("grpc.use_local_subchannel_pool", 1)]
        )

    def serve_pids(self) -> list[int]:
        """The gRPC server's processes: the first, then its further ones (its children)."""
        proc = self.procs.get("serve")
        if proc is None or proc.poll() is not None:
            return []
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        found = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [proc.pid, *(p for p in found if _cmdline(p).find("multiprocessing") >= 0)]

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self.engine is not None:
            self.engine.dispose()

    def tail(self, lines: int = 30) -> str:
        out = []
        for name in ("serve", "ocsp"):
            log = self.root / f"{name}.log"
            if log.exists():
                text = log.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {name}.log ---\n" + "\n".join(text))
        return "\n".join(out)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _tls(folder: Path) -> None:
    """Server and client TLS material for the run (test PKI of ``tests/server/pki.py``)."""
    from tests.server.pki import issue, make_ca

    folder.mkdir(parents=True, exist_ok=True)
    server_ca, client_ca = make_ca("Load server CA"), make_ca("Load client CA")
    issue(server_ca, "localhost", server=True).write(folder, "server")
    for role in ROLES:
        issue(client_ca, role, uris=(f"urn:zorgid:role:{role}",)).write(folder, role)
    (folder / "server-ca.pem").write_bytes(server_ca.cert_pem)
    (folder / "client-ca.pem").write_bytes(client_ca.cert_pem)


# -- the load ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One request: its kind, when it started (monotonic), how long, and how it ended."""

    kind: str
    started: float
    seconds: float
    code: str
    """``OK``, the gRPC code name (with the ZID code: ``UNAVAILABLE/ZID-0012``), ``HTTP 503``
    or the client-side failure (``URLError``)."""


@dataclass
class Held:
    """A certificate a client was handed, and the phone key it was issued to."""

    der: bytes
    key: ec.EllipticCurvePrivateKey
    serial: int


class Stubs:
    """The calls of one client thread, on channels of its own (one connection per role)."""

    def __init__(self, world: World) -> None:
        from issuer.api.zorgid.v1 import (
            certificate_pb2_grpc,
            enrollment_pb2_grpc,
            login_pb2_grpc,
            uzi_pb2_grpc,
        )

        self.channels = {role: world.channel(role) for role in ("mobile", "portal")}
        mobile, portal = self.channels["mobile"], self.channels["portal"]
        self.enrol: Any = enrollment_pb2_grpc.EnrollmentServiceStub(mobile)  # type: ignore[no-untyped-call]
        self.mobile_login: Any = login_pb2_grpc.LoginServiceStub(mobile)  # type: ignore[no-untyped-call]
        self.portal_login: Any = login_pb2_grpc.LoginServiceStub(portal)  # type: ignore[no-untyped-call]
        self.certs: Any = certificate_pb2_grpc.CertificateServiceStub(portal)  # type: ignore[no-untyped-call]
        self.uzi: Any = uzi_pb2_grpc.UziServiceStub(portal)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        for ch in self.channels.values():
            ch.close()


def error_code(err: grpc.RpcError) -> str:
    """``CODE`` or ``CODE/ZID-nnnn`` (the ErrorInfo reason of the status details)."""
    code = err.code().name if isinstance(err, grpc.Call) else "UNKNOWN"
    try:
        status = rpc_status.from_call(err) if isinstance(err, grpc.Call) else None
    except ValueError:
        status = None
    if status is not None:
        from google.rpc import error_details_pb2

        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                return f"{code}/{info.reason}"
    return code


def phone_csr() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "phone")]))
        .sign(key, hashes.SHA256())
    )
    return key, csr.public_bytes(serialization.Encoding.DER)


def ocsp_get_url(cert: x509.Certificate, issuer: x509.Certificate) -> str:
    """The RFC 6960 GET URL at the OCSP URL the certificate names."""
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    url = next(
        str(a.access_location.value)
        for a in aia
        if a.access_method == AuthorityInformationAccessOID.OCSP
    )
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, issuer, hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    encoded = urllib.request.quote(base64.b64encode(request).decode(), safe="")
    return url.rstrip("/") + "/" + encoded


def ocsp_status(url: str, serial: int) -> str:
    """``good``/``revoked``/``unknown`` from the front, or ``HTTP nnn``/the failure's name."""
    try:
        with urllib.request.urlopen(url, timeout=DEADLINE) as resp:
            answer = ocsp.load_der_ocsp_response(resp.read())
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code}"
    except OSError as err:
        return type(err).__name__
    if answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return f"OCSP {answer.response_status.name}"
    for single in answer.responses:
        if single.serial_number == serial:
            return str(single.certificate_status.name).lower()
    return "OCSP no answer for the serial"


class Load:
    """Requests at *rate* a second from *threads* client threads until stopped or done.

    *cards*: a card proof's call (``bench/uzi_load.CardProofs``) adds a fifth kind,
    ``card``, to every five requests (the CRL faults only; the others keep the mix of four)."""

    def __init__(
        self,
        world: World,
        tokens: list[str],
        *,
        rate: float,
        threads: int = 8,
        cards: Callable[[Any], str] | None = None,
    ) -> None:
        self.world = world
        self.cards = cards
        self.tokens = list(reversed(tokens))
        self.rate = rate
        self.threads = threads
        self.lock = threading.Lock()
        self.held: list[Held] = []
        self.outcomes: list[Outcome] = []
        self.stopping = threading.Event()
        self.issuer = x509.load_pem_x509_certificate(
            (world.setup.data_dir / "ca" / "issuing-ca.pem").read_bytes()
        )
        self._next = 0
        self._start = 0.0
        self._workers: list[threading.Thread] = []

    # The mix by ticket: two issuances, one login, one OCSP GET in every four requests
    # (and one card proof in every five with *cards*).
    def _kind(self, ticket: int) -> str:
        mix = ("issue", "login", "issue", "ocsp") + (("card",) if self.cards else ())
        kind = mix[ticket % len(mix)]
        with self.lock:
            if kind in ("login", "ocsp") and not self.held:
                return "issue"
            if kind == "issue" and not self.tokens:
                return "ocsp" if self.held else "none"
        return kind

    def start(self, seconds: float, max_requests: int | None = None) -> None:
        self._start = time.monotonic()
        self._end = self._start + seconds
        self._max = max_requests
        for _ in range(self.threads):
            worker = threading.Thread(target=self._work, daemon=True)
            worker.start()
            self._workers.append(worker)

    def wait(self) -> None:
        for worker in self._workers:
            worker.join()

    def stop(self) -> None:
        self.stopping.set()
        self.wait()

    def _ticket(self) -> int | None:
        with self.lock:
            ticket = self._next
            if self._max is not None and ticket >= self._max:
                return None
            self._next += 1
        due = self._start + ticket / self.rate
        if due >= self._end:
            return None
        delay = due - time.monotonic()
        if delay > 0 and self.stopping.wait(delay):
            return None
        return None if self.stopping.is_set() else ticket

    def _work(self) -> None:
        stubs = Stubs(self.world)
        try:
            while (ticket := self._ticket()) is not None:
                kind = self._kind(ticket)
                if kind == "none":
                    continue
                started = time.monotonic()
                code = getattr(self, f"_{kind}")(stubs)
                done = Outcome(kind, started, time.monotonic() - started, code)
                with self.lock:
                    self.outcomes.append(done)
        finally:
            stubs.close()

    def _issue(self, stubs: Stubs) -> str:
        from issuer.api.zorgid.v1 import enrollment_pb2

        with self.lock:
            token = self.tokens.pop()
        key, csr = phone_csr()
        try:
            reply = stubs.enrol.RedeemEnrollment(
                enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=csr), timeout=DEADLINE
            )
        except grpc.RpcError as err:
            return error_code(err)
        der = bytes(reply.certificate.der)
        serial = x509.load_der_x509_certificate(der).serial_number
        with self.lock:
            self.held.append(Held(der, key, serial))
        return "OK"

    def _login(self, stubs: Stubs) -> str:
        from issuer.api.zorgid.v1 import login_pb2
        from issuer.flows.login import login_message
        from issuer.qr import parse_login_uri

        with self.lock:
            held = self.held[secrets.randbelow(len(self.held))]
        try:
            made = stubs.portal_login.CreateLoginChallenge(
                login_pb2.CreateLoginChallengeRequest(), timeout=DEADLINE
            )
            qr = parse_login_uri(made.qr.payload)
            asked = stubs.mobile_login.DescribeLoginChallenge(
                login_pb2.DescribeLoginChallengeRequest(challenge_id=qr.challenge_id),
                timeout=DEADLINE,
            )
            at = datetime.now(UTC).replace(microsecond=0)
            message = login_message(qr.challenge_id, qr.nonce, asked.portal_identity, at)
            request = login_pb2.AnswerLoginChallengeRequest(
                challenge_id=qr.challenge_id,
                certificate=held.der,
                signature=held.key.sign(message, ec.ECDSA(hashes.SHA256())),
            )
            request.signed_at.FromDatetime(at)
            stubs.mobile_login.AnswerLoginChallenge(request, timeout=DEADLINE)
            polled = stubs.portal_login.GetLoginChallenge(
                login_pb2.GetLoginChallengeRequest(challenge_id=made.challenge_id),
                timeout=DEADLINE,
            )
        except grpc.RpcError as err:
            return error_code(err)
        if polled.state != login_pb2.LOGIN_STATE_AUTHENTICATED:
            return "LOGIN " + login_pb2.LoginState.Name(polled.state)
        return "OK"

    def _card(self, stubs: Stubs) -> str:
        assert self.cards is not None
        return self.cards(stubs.uzi)

    def _ocsp(self, stubs: Stubs) -> str:
        with self.lock:
            held = self.held[secrets.randbelow(len(self.held))]
        cert = x509.load_der_x509_certificate(held.der)
        status = ocsp_status(ocsp_get_url(cert, self.issuer), held.serial)
        return "OK" if status == "good" else status


# -- health over time ----------------------------------------------------------------


class HealthWatch:
    """Health Check every *interval* s in a thread: (monotonic time, status) samples."""

    def __init__(self, world: World, interval: float = 0.2) -> None:
        self.world = world
        self.interval = interval
        self.samples: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self.world.health()))
            self._stop.wait(self.interval)

    def seen(self, start: float, end: float) -> Counter[str]:
        return Counter(status for at, status in self.samples if start <= at <= end)

    def serving_again(self, after: float) -> float | None:
        """Seconds from *after* to the first SERVING sample at or after it, None if none."""
        for at, status in self.samples:
            if at >= after and status == "SERVING":
                return at - after
        return None


# -- the check -----------------------------------------------------------------------


@dataclass
class Checked:
    acknowledged: int
    lost: list[int]
    duplicate_serials: int
    audit_ok: bool
    audit_output: str
    ocsp_wrong: list[str]
    revoked: int


def check(world: World, load: Load, *, sample: int = 10, revoke: int = 3) -> Checked:
    """No acknowledged certificate lost, no serial twice, the audit chain verifies,
    a sample good at the OCSP front and *revoke* of them, once revoked, revoked there."""
    from issuer.api.zorgid.v1 import certificate_pb2, certificate_pb2_grpc
    from issuer.store.certificates import find_certificate

    held = list(load.held)
    lost, ids = [], {}
    for item in held:
        row = find_certificate(world.engine, serial=format(item.serial, "x"))
        if row is None or bytes(row.der) != item.der:
            lost.append(item.serial)
        else:
            ids[item.serial] = str(row.id)
    serials = Counter(item.serial for item in held)
    duplicates = sum(n - 1 for n in serials.values() if n > 1)
    chosen = secrets.SystemRandom().sample(held, min(sample, len(held)))  # each once
    to_revoke = [h for h in chosen[:revoke] if h.serial in ids]
    ch = world.channel("operator")
    try:
        certs: Any = certificate_pb2_grpc.CertificateServiceStub(ch)  # type: ignore[no-untyped-call]
        for item in to_revoke:
            certs.RevokeCertificate(
                certificate_pb2.RevokeCertificateRequest(
                    id=ids[item.serial], reason=certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE
                ),
                timeout=DEADLINE,
            )
    finally:
        ch.close()
    revoked = {h.serial for h in to_revoke}
    # The audit chain verified (its revocations included) while the front's cache lapses.
    audit = subprocess.Popen(
        [ZORGID, "audit", "verify", "--config", str(world.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, SOFTHSM2_CONF=str(world.softhsm.conf)),
    )
    try:
        wrong = _ocsp_wrong(chosen, revoked, load.issuer)
        out, err = audit.communicate(timeout=300)
    finally:
        if audit.poll() is None:
            audit.kill()
            audit.wait()
    return Checked(
        acknowledged=len(held),
        lost=lost,
        duplicate_serials=duplicates,
        audit_ok=audit.returncode == 0,
        audit_output=(out + err).strip()[-400:],
        ocsp_wrong=wrong,
        revoked=len(revoked),
    )


def _ocsp_wrong(chosen: list[Held], revoked: set[int], issuer: x509.Certificate) -> list[str]:
    """The sample's answers at the front that are not as expected: good, or revoked for
    the *revoked* (within the front's cache bound)."""
    wrong: list[str] = []
    for item in chosen:
        want = "revoked" if item.serial in revoked else "good"
        url = ocsp_get_url(x509.load_der_x509_certificate(item.der), issuer)
        got = ocsp_status(url, item.serial)
        deadline = time.monotonic() + 15  # the front's cache_seconds bound for a revocation
        while got != want and want == "revoked" and time.monotonic() < deadline:
            time.sleep(0.2)
            got = ocsp_status(url, item.serial)
        if got != want:
            wrong.append(f"{item.serial:x}: {got}, expected {want}")
    return wrong
