"""Two engine nodes, one PostgreSQL database, one HSM: built as docs/deploy.md says.

The HSM host is a ``p11-kit server`` exporting a SoftHSM token on a unix socket; the
key ceremony and every node process load ``p11-kit-client.so`` and reach the token
through that socket. The database is a PostgreSQL database of its own per run,
reached through PostgreSQL's unix socket. Each node runs ``zorgid serve`` (gRPC) and
``zorgid ocsp serve`` (HTTP) inside a network namespace of its own, listening on the
address the test gave it there. Unix sockets are files, so the nodes reach the
database and the HSM from inside their namespaces without any network route.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from issuer.dev.pki import ROLE_URI_PREFIX, ROLES, DevPki, ensure_dev_pki
from issuer.dev.softhsm import SOFTHSM_MODULE, SoftHsmDir
from issuer.files import PUBLIC_FILE, write_file
from tests.deploy.netns import Namespace

ZORGID = str(Path(sys.executable).with_name("zorgid"))
P11_KIT_CLIENT = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"
PG_ADMIN_URL = os.environ.get(
    "ZORGID_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PG_SOCKET_DIR = "/var/run/postgresql"
TOKEN = "zorgid-deploy"
SERVICE_NAME = "engine.zorgid.test"
"""The name both nodes' server certificate carries: clients check it whichever node answers."""
PUBLIC_URL = "http://ocsp.zorgid.test"
"""``[ocsp] public_url`` of both nodes: certificates name this one front, not a node."""
GRPC_PORT = 50051
OCSP_PORT = 8080


def require_tools() -> None:
    """Fail (never skip) naming the Debian package of what is missing."""
    missing = [
        f"{path} (Debian package {package})"
        for path, package in (
            (P11_KIT_CLIENT, "p11-kit-modules"),
            ("/usr/libexec/p11-kit/p11-kit-server", "p11-kit"),
            (SOFTHSM_MODULE, "softhsm2"),
        )
        if not Path(path).exists()
    ]
    if missing:
        raise RuntimeError("missing: " + ", ".join(missing) + "; run `make system-deps`")


@dataclass
class HsmServer:
    """``p11-kit server`` exporting the SoftHSM token on a unix socket."""

    softhsm: SoftHsmDir
    socket: Path
    pin_file: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """What ``P11_KIT_SERVER_ADDRESS`` is set to for the clients."""
        return f"unix:path={self.socket}"

    def start(self) -> None:
        self.socket.unlink(missing_ok=True)  # a killed server's socket file stays behind
        env = dict(os.environ, SOFTHSM2_CONF=str(self.softhsm.conf))
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    "p11-kit",
                    "server",
                    "--foreground",
                    "--name",
                    str(self.socket),
                    "--provider",
                    SOFTHSM_MODULE,
                    f"pkcs11:token={TOKEN}",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 15
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"p11-kit server did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@dataclass
class Node:
    """One engine node: its folder, namespace and its two processes."""

    name: str
    root: Path
    ns: Namespace
    env: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.root / "zorgid.toml"

    @property
    def grpc_target(self) -> str:
        return f"{self.ns.address}:{GRPC_PORT}"

    @property
    def ocsp_base(self) -> str:
        return f"http://{self.ns.address}:{OCSP_PORT}"

    def log(self, process: str) -> Path:
        return self.root / f"{process}.log"

    def start(self) -> None:
        for process, argv in (
            ("serve", [ZORGID, "serve", "--config", str(self.config)]),
            ("ocsp", [ZORGID, "ocsp", "serve", "--config", str(self.config)]),
        ):
            with self.log(process).open("ab") as out:
                self.procs[process] = subprocess.Popen(
                    self.ns.command(*argv),
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

    def kill(self) -> None:
        """``kill -9`` of both processes (``ip netns exec`` execs: the pid is the node's)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(
            f"--- {self.name} {process}.log (last {lines} lines) ---\n"
            + "\n".join(self.log(process).read_text(errors="replace").splitlines()[-lines:])
            for process in ("serve", "ocsp")
            if self.log(process).exists()
        )


def make_database() -> tuple[str, str]:
    """A PostgreSQL database of this run's own: (its name, the nodes' URL by unix socket)."""
    name = f"zid_deploy_{os.getpid()}_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    finally:
        admin.dispose()
    return name, node_database_url(name)


def node_database_url(name: str) -> str:
    """What the nodes' ``[database] url`` says: database *name* by PostgreSQL's unix socket."""
    return f"postgresql+psycopg://postgres@/{name}?host={PG_SOCKET_DIR}"


def drop_database(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        admin.dispose()


def drop_leftover_databases() -> None:
    """Databases of earlier runs that died before their teardown (their pid is gone)."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            names = list(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())
        for name in names:
            parts = name.split("_")
            if name.startswith("zid_deploy_") and not Path(f"/proc/{parts[2]}").exists():
                drop_database(name)
    finally:
        admin.dispose()


def issue_server_certificate(pki: DevPki, folder: Path) -> tuple[Path, Path]:
    """The nodes' server certificate: one service name, whichever node answers."""
    ca_cert = x509.load_pem_x509_certificate(pki.client_ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.client_ca_key.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVICE_NAME)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVICE_NAME)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    write_file(
        cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=PUBLIC_FILE, exclusive=True
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_file(key_path, key_bytes, exclusive=True)
    return cert_path, key_path


CEREMONY = """# The deployment's key ceremony, through the HSM host's p11-kit server.
data_dir = "."

[hsm]
module = "{module}"
token = "{token}"
pin_source = "file:{pin}"

[hsm.environment]
P11_KIT_SERVER_ADDRESS = "{address}"

[root]
mode = "self-signed"
key_label = "root-ca"
key_spec = "ec-p384"
organization = "ZORG-ID Deploy Test"
common_name = "ZORG-ID Deploy Test Root CA"
validity_days = 7305
crl_next_update_days = 30

[issuing_ca]
key_label = "issuing-ca"
key_spec = "ec-p384"
organization = "ZORG-ID Deploy Test"
common_name = "ZORG-ID Deploy Test Mobile ID CA"
validity_days = 3653
policy_oids = ["1.3.6.1.4.1.32473.528.1.2.1"]
ca_issuers_url = "{public}/ca/root.cer"
crl_urls = ["{public}/crl/root.crl"]

[ocsp_responder]
key_label = "ocsp-responder"
key_spec = "ec-p256"
organization = "ZORG-ID Deploy Test"
common_name = "ZORG-ID Deploy Test OCSP Responder"
validity_days = 30

[audit]
key_label = "audit-checkpoint"
"""


def node_config(node: str, database_url: str, address: str, hsm_address: str) -> str:
    """One node's ``zorgid.toml``: every path under the node's own folder."""
    rules = "\n".join(
        f'[[roles.rule]]\nrole = "{role}"\nsan_uri = "{ROLE_URI_PREFIX}{role}"\n' for role in ROLES
    )
    return f"""# Node {node} of the two-node deployment (docs/deploy.md).
data_dir = "."

[server]
listen = "{address}:{GRPC_PORT}"
# A dead node's claims lapse in 5 s, not 30: its phones' retries are answered sooner.
claim_lease_seconds = 5

[tls]
cert = "tls/server.pem"
key = "tls/server.key"
client_ca = "tls/client-ca.pem"

{rules}
[hsm]
module = "{P11_KIT_CLIENT}"
token = "{TOKEN}"
pin_source = "file:hsm.pin"

[hsm.environment]
P11_KIT_SERVER_ADDRESS = "{hsm_address}"

[database]
url = "{database_url}"

[ocsp]
listen = "{address}:{OCSP_PORT}"
public_url = "{PUBLIC_URL}"
# Node B answers node A's revocation within 2 s, not 5 (the revocation test's bound).
cache_seconds = 2
# Each node holds a copy of ca/: renewals run at one place and are copied in (docs/deploy.md).
responder_renew_before_days = 0

[policy]
file = "policy/deploy.toml"
"""


def deploy_policy(shared: Path) -> Path:
    """The test register's development policy (``zorgid dev``'s), no backdating.

    Why no backdating: ``zorgid ca init`` starts the CA at the ceremony's second, and a
    certificate may not start before its CA; issued seconds after the ceremony, a
    backdated one would be refused (``zorgid dev`` backdates its CA instead).
    """
    from issuer.cli.demo import ensure_demo_world

    dev_policy, _ = ensure_demo_world(shared)
    text = dev_policy.read_text()
    if "backdate_seconds = 60" not in text:
        raise RuntimeError("policies/default.toml changed shape; update tests/deploy/cluster.py")
    made = shared / "policy" / "deploy.toml"
    made.write_text(text.replace("backdate_seconds = 60", "backdate_seconds = 0", 1))
    return made


def run(argv: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def client_env() -> dict[str, str]:
    """The environment of the ceremony and the nodes: the test's own, without its SoftHSM
    token folder; the HSM host's address comes from their files' ``[hsm.environment]``."""
    return {
        k: v for k, v in os.environ.items() if k not in ("SOFTHSM2_CONF", "P11_KIT_SERVER_ADDRESS")
    }


def lay_out_node(
    name: str, root: Path, shared: Path, hsm: HsmServer, db_url: str, ns: Namespace
) -> Node:
    """Copy what a node holds (CA certificates, TLS, policy, PIN) and write its config."""
    folder = root / f"node-{name}"
    folder.mkdir(mode=0o700)
    shutil.copytree(shared / "ca", folder / "ca")
    (folder / "tls").mkdir(mode=0o700)
    for item in ("server.pem", "server.key", "client-ca.pem"):
        shutil.copy2(shared / "tls" / item, folder / "tls" / item)
    (folder / "policy").mkdir()
    shutil.copy2(shared / "policy" / "deploy.toml", folder / "policy" / "deploy.toml")
    write_file(folder / "hsm.pin", hsm.pin_file.read_bytes(), exclusive=True)
    write_file(
        folder / "zorgid.toml",
        node_config(name, db_url, ns.address, hsm.address).encode(),
        exclusive=True,
    )
    return Node(name, folder, ns, client_env())


def prepare_shared(root: Path, hsm: HsmServer) -> Path:
    """Transport credentials, the test UZI-register and policy, and the ceremony's CA."""
    shared = root / "shared"
    shared.mkdir(mode=0o700)
    pki, _ = ensure_dev_pki(shared / "tls")
    pki.server_cert.unlink()
    pki.server_key.unlink()
    issue_server_certificate(pki, shared / "tls")
    deploy_policy(shared)
    ceremony = shared / "ceremony.toml"
    ceremony.write_text(
        CEREMONY.format(
            module=P11_KIT_CLIENT,
            token=TOKEN,
            pin=hsm.pin_file,
            address=hsm.address,
            public=PUBLIC_URL,
        )
    )
    run([ZORGID, "ca", "init", "--config", str(ceremony)], client_env(), "zorgid ca init")
    return shared


def channel(pki: DevPki, target: str, role: str, *, round_robin: bool = False) -> grpc.Channel:
    """An mTLS channel as *role* to *target*: one node, or ``ipv4:A,B`` (the address list)."""
    creds = grpc.ssl_channel_credentials(
        root_certificates=pki.client_ca_cert.read_bytes(),
        private_key=pki.client_key(role).read_bytes(),
        certificate_chain=pki.client_cert(role).read_bytes(),
    )
    options: list[tuple[str, str | int]] = [
        ("grpc.ssl_target_name_override", SERVICE_NAME),
        ("grpc.use_local_subchannel_pool", 1),
    ]
    if round_robin:
        config = {"loadBalancingConfig": [{"round_robin": {}}]}
        options.append(("grpc.service_config", json.dumps(config)))
    return grpc.secure_channel(target, creds, options=options)


def address_list(nodes: list[Node]) -> str:
    """The client's one target naming every node."""
    return "ipv4:" + ",".join(node.grpc_target for node in nodes)


def wait_ready(node: Node, pki: DevPki, timeout: float = 120) -> None:
    """gRPC health SERVING and the OCSP front's ``/readyz`` 200, else fail with the logs."""
    deadline = time.monotonic() + timeout
    grpc_ok = http_ok = False
    ch = channel(pki, node.grpc_target, "auditor")
    try:
        while time.monotonic() < deadline:
            for process, proc in node.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"node {node.name}: {process} exited with {proc.returncode}\n{node.tail()}"
                    )
            if not grpc_ok:
                try:
                    reply = health_pb2_grpc.HealthStub(ch).Check(  # type: ignore[no-untyped-call]
                        health_pb2.HealthCheckRequest(), timeout=2
                    )
                    grpc_ok = reply.status == health_pb2.HealthCheckResponse.SERVING
                except grpc.RpcError:
                    pass
            if not http_ok:
                try:
                    with urllib.request.urlopen(f"{node.ocsp_base}/readyz", timeout=2) as resp:
                        http_ok = resp.status == 200
                except OSError:
                    pass
            if grpc_ok and http_ok:
                return
            time.sleep(0.3)
    finally:
        ch.close()
    raise RuntimeError(
        f"node {node.name} not ready in {timeout} s (gRPC {grpc_ok}, HTTP {http_ok})\n{node.tail()}"
    )
