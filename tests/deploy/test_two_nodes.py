"""Two engine nodes, one PostgreSQL, one HSM through p11-kit, one address list (docs/deploy.md).

Each node runs ``zorgid serve`` and ``zorgid ocsp serve`` in a network namespace of
its own; the client reaches them at the addresses the test gave them, one by one and
through one gRPC target naming both (round robin). Shown: issuance and login through
either node and the list, with state made on one node used on the other; a
revocation on node A answered ``revoked`` by node B's OCSP within ``[ocsp]
cache_seconds``; node A killed (SIGKILL) during a burst of issuance through the list
loses no certificate the client was told was issued; the HSM host's ``p11-kit
server`` restarted under a running node costs no node restart. Needs root for ``ip netns``
(CI runs as root): without it the test fails saying so, it does not skip.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from issuer.api.zorgid.v1 import (
    attribute_pb2_grpc,
    certificate_pb2,
    certificate_pb2_grpc,
    enrollment_pb2,
    enrollment_pb2_grpc,
    login_pb2,
    login_pb2_grpc,
    organization_pb2,
    organization_pb2_grpc,
    registration_pb2,
    registration_pb2_grpc,
    uzi_pb2_grpc,
)
from issuer.cli.demo import Demo
from issuer.cli.demo_walk import confirm_registration, login, register_user
from issuer.config import load_config
from issuer.dev.pki import DevPki
from issuer.dev.softhsm import SoftHsmDir
from issuer.enrolment.tokens import parse_enrolment_uri, token_sha256
from tests.deploy import cluster, netns

MARGIN_SECONDS = 5.0
"""Slack over ``[ocsp] cache_seconds`` for a poll round and a loaded 2-CPU machine."""
BURST = 24
"""Registrations redeemed in the burst during which node A is killed."""


class Stubs:
    """The services the walk calls, on one channel."""

    def __init__(self, ch: grpc.Channel) -> None:
        self.uzi: Any = uzi_pb2_grpc.UziServiceStub(ch)  # type: ignore[no-untyped-call]
        self.reg: Any = registration_pb2_grpc.RegistrationServiceStub(ch)  # type: ignore[no-untyped-call]
        self.login: Any = login_pb2_grpc.LoginServiceStub(ch)  # type: ignore[no-untyped-call]
        self.org: Any = organization_pb2_grpc.OrganizationServiceStub(ch)  # type: ignore[no-untyped-call]
        self.attrs: Any = attribute_pb2_grpc.AttributeServiceStub(ch)  # type: ignore[no-untyped-call]
        self.enrol: Any = enrollment_pb2_grpc.EnrollmentServiceStub(ch)  # type: ignore[no-untyped-call]
        self.certs: Any = certificate_pb2_grpc.CertificateServiceStub(ch)  # type: ignore[no-untyped-call]


class Walk(Demo):
    """``zorgid demo``'s parties (portal, mobile gateway, operator, cards, phones), calling
    *target* (one node, or the address list) with the deployment's server name."""

    def __init__(
        self, shared: Path, target: str, softhsm: SoftHsmDir, *, round_robin: bool
    ) -> None:
        self._round_robin = round_robin
        self.channels: list[grpc.Channel] = []
        super().__init__(shared, target, out=lambda line: None, softhsm=softhsm)

    def _stubs(self, role: str) -> Any:
        ch = cluster.channel(self.pki, self.target, role, round_robin=self._round_robin)
        self.channels.append(ch)
        return Stubs(ch)

    def close(self) -> None:
        for ch in self.channels:
            ch.close()


@dataclass
class Deployment:
    root: Path
    shared: Path
    database: str
    nodes: dict[str, cluster.Node]
    softhsm: SoftHsmDir
    hsm: cluster.HsmServer
    walks: list[Walk] = field(default_factory=list)

    def walk(self, *names: str) -> Walk:
        """The parties calling node *names[0]*, or the address list of *names*."""
        nodes = [self.nodes[n] for n in names]
        target = nodes[0].grpc_target if len(nodes) == 1 else cluster.address_list(nodes)
        made = Walk(self.shared, target, self.softhsm, round_robin=len(nodes) > 1)
        self.walks.append(made)
        return made

    def logs(self) -> str:
        return "\n".join(node.tail() for node in self.nodes.values())

    def db(self) -> sa.Engine:
        base = sa.engine.make_url(cluster.PG_ADMIN_URL)
        return sa.create_engine(base.set(database=self.database))


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, softhsm_dir: SoftHsmDir
) -> Iterator[Deployment]:
    netns.require_root_networking()
    cluster.require_tools()
    netns.remove_leftovers()
    cluster.drop_leftover_databases()
    root = tmp_path_factory.mktemp("deploy")
    hsm_dir = SoftHsmDir.create(root / "hsm")
    token = hsm_dir.init_token(cluster.TOKEN)
    hsm = cluster.HsmServer(
        hsm_dir, root / "hsm" / "p11-kit.sock", token.pin_file, root / "hsm.log"
    )
    database = ""
    namespaces: list[netns.Namespace] = []
    nodes: dict[str, cluster.Node] = {}
    made: Deployment | None = None
    try:
        hsm.start()
        shared = cluster.prepare_shared(root, hsm)
        database, url = cluster.make_database()
        for index, name in enumerate(("a", "b"), start=1):
            ns = netns.make(index)
            namespaces.append(ns)
            nodes[name] = cluster.lay_out_node(name, root, shared, hsm, url, ns)
        for node in nodes.values():  # as the units' ExecStartPre does
            cluster.run(
                [cluster.ZORGID, "config", "check", str(node.config)], node.env, "config check"
            )
        cluster.run(
            [cluster.ZORGID, "db", "upgrade", "--config", str(nodes["a"].config)],
            nodes["a"].env,
            "zorgid db upgrade",
        )
        for node in nodes.values():  # both at once: two nodes starting together must work
            node.start()
        for node in nodes.values():
            cluster.wait_ready(node, DevPki(root=shared / "tls"))
        made = Deployment(root, shared, database, nodes, softhsm_dir, hsm)
        yield made
    finally:
        if made is not None:
            for walk in made.walks:
                walk.close()
        for node in nodes.values():
            node.stop()
        hsm.stop()
        for ns in namespaces:
            netns.remove(ns)
        if database:
            cluster.drop_database(database)


def _register_organisation(walk: Walk) -> str:
    import secrets

    ura = "9" + format(secrets.randbelow(10**7), "07d")
    walk.operator.org.RegisterOrganization(
        organization_pb2.RegisterOrganizationRequest(ura=ura, name=f"Praktijk {ura}"), timeout=60
    )
    return ura


def _stored(deployment: Deployment) -> dict[bytes, str]:
    """Every certificate in the shared database: DER -> status."""
    return _stored_in(deployment.database)


def _ocsp_path(cert: x509.Certificate) -> str:
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    urls = [
        str(a.access_location.value)
        for a in aia
        if a.access_method == AuthorityInformationAccessOID.OCSP
    ]
    assert urls and urls[0].startswith(cluster.PUBLIC_URL), urls
    return urlsplit(urls[0]).path


def _issuing(deployment: Deployment) -> x509.Certificate:
    return x509.load_pem_x509_certificate(
        (deployment.shared / "ca" / "issuing-ca.pem").read_bytes()
    )


def _ocsp_status(deployment: Deployment, node: str, der: bytes) -> ocsp.OCSPCertStatus:
    """What *node*'s OCSP front answers for the certificate (RFC 5019 POST, no nonce)."""
    import urllib.request

    cert = x509.load_der_x509_certificate(der)
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, _issuing(deployment), hashes.SHA1())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    url = deployment.nodes[node].ocsp_base + _ocsp_path(cert)
    sent = urllib.request.Request(
        url, data=request, headers={"Content-Type": "application/ocsp-request"}
    )
    with urllib.request.urlopen(sent, timeout=10) as resp:
        answer = ocsp.load_der_ocsp_response(resp.read())
    assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL, answer.response_status
    # Pre-signed answers hold a SingleResponse per CertID hash (RFC 5019 section 2.2.1).
    statuses = {
        single.certificate_status
        for single in answer.responses
        if single.serial_number == cert.serial_number
    }
    assert len(statuses) == 1, statuses
    return statuses.pop()


def test_issuance_and_login_through_each_node_and_through_the_address_list(
    deployment: Deployment,
) -> None:
    stored_before = set(_stored(deployment))
    issued: list[bytes] = []
    for names in (("a",), ("b",), ("a", "b")):
        walk = deployment.walk(*names)
        ura = _register_organisation(walk)
        phone, der = register_user(walk, walk.card(ura=ura), "Person", "01-02-1975")
        polled = login(walk, phone, der, "Person")
        assert polled.state == login_pb2.LOGIN_STATE_AUTHENTICATED, (names, deployment.logs())
        issued.append(der)

    # State made on one node is used on the other: a registration QR shown by node A is
    # redeemed at node B, and B's login QR is answered by the phone through node A.
    on_a, on_b = deployment.walk("a"), deployment.walk("b")
    ura = _register_organisation(on_a)
    done = confirm_registration(on_a, on_a.card(ura=ura), "Person", "01-02-1975")
    phone = on_b.phone()
    token, _ = parse_enrolment_uri(done.qr.payload)
    redeemed = on_b.mobile.enrol.RedeemEnrollment(
        enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=phone.csr()), timeout=60
    )
    polled = on_a.portal.reg.GetRegistration(
        registration_pb2.GetRegistrationRequest(registration_id=done.registration.id), timeout=60
    ).registration
    assert polled.state == registration_pb2.REGISTRATION_STATE_REDEEMED
    on_b.mobile = on_a.mobile  # B's portal shows the QR, the phone's gateway calls A
    assert login(on_b, phone, bytes(redeemed.certificate.der), "Person").state == (
        login_pb2.LOGIN_STATE_AUTHENTICATED
    )
    issued.append(bytes(redeemed.certificate.der))

    stored = _stored(deployment)
    assert set(issued) <= set(stored) - stored_before
    assert all(stored[der] == "good" for der in issued)
    # The two nodes started together and recorded the one policy version once.
    engine = deployment.db()
    try:
        with engine.connect() as conn:
            versions = conn.exec_driver_sql("SELECT count(*) FROM policy_versions").scalar_one()
    finally:
        engine.dispose()
    assert versions == 1


def test_a_revocation_on_node_a_is_served_by_node_b_within_the_cache_bound(
    deployment: Deployment, tmp_path: Path
) -> None:
    cache_seconds = load_config(deployment.nodes["b"].config).ocsp.cache_seconds
    walk = deployment.walk("a", "b")
    ura = _register_organisation(walk)
    done = confirm_registration(walk, walk.card(ura=ura), "Person", "01-02-1975")
    token, _ = parse_enrolment_uri(done.qr.payload)
    redeemed = walk.mobile.enrol.RedeemEnrollment(
        enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=walk.phone().csr()), timeout=60
    ).certificate
    der = bytes(redeemed.der)
    # Node B has answered "good" and holds that answer in its memory cache.
    assert _ocsp_status(deployment, "b", der) == ocsp.OCSPCertStatus.GOOD

    operator_a = deployment.walk("a").operator
    revoked_at = time.monotonic()
    operator_a.certs.RevokeCertificate(
        certificate_pb2.RevokeCertificateRequest(
            id=redeemed.id, reason=certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE
        ),
        timeout=60,
    )
    deadline = revoked_at + cache_seconds + MARGIN_SECONDS
    status = _ocsp_status(deployment, "b", der)
    while status != ocsp.OCSPCertStatus.REVOKED and time.monotonic() < deadline:
        time.sleep(0.2)
        status = _ocsp_status(deployment, "b", der)
    waited = time.monotonic() - revoked_at
    assert status == ocsp.OCSPCertStatus.REVOKED, (
        f"node B still answers {status} {waited:.1f} s after the revocation on node A "
        f"(bound: cache_seconds {cache_seconds} + {MARGIN_SECONDS})\n{deployment.logs()}"
    )

    # As a relying party checks it: openssl ocsp at node B's front, response verified.
    import subprocess

    cert_pem = tmp_path / "cert.pem"
    cert_pem.write_bytes(
        x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    )
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(
        (deployment.shared / "ca" / "root.pem").read_bytes()
        + (deployment.shared / "ca" / "issuing-ca.pem").read_bytes()
    )
    url = deployment.nodes["b"].ocsp_base + _ocsp_path(x509.load_der_x509_certificate(der))
    checked = subprocess.run(
        [
            "openssl",
            "ocsp",
            "-issuer",
            str(deployment.shared / "ca" / "issuing-ca.pem"),
            "-cert",
            str(cert_pem),
            "-url",
            url,
            "-CAfile",
            str(ca_file),
            "-no_nonce",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
    assert "Response verify OK" in checked.stderr, checked.stderr
    assert f"{cert_pem}: revoked" in checked.stdout, checked.stdout
    assert "Reason: keyCompromise" in checked.stdout, checked.stdout


@dataclass
class Burst:
    """Outcomes of the redeems: certificates the client was told of, and failed calls."""

    acknowledged: dict[str, bytes] = field(default_factory=dict)
    """Token -> the certificate (DER) the client got an OK reply with."""
    failed: dict[str, str] = field(default_factory=dict)
    after_kill: int = 0
    killed: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


RETRY_SECONDS = 90.0
"""How long a phone retries an unanswered redeem: the dead node's claim lease (30 s by
default; 5 s in the nodes' ``[server] claim_lease_seconds``) and the wait for a claim's
certificate (10 s), docs/issuance-cycle.md, with room."""


def _retry(walk: Walk, request: Any) -> tuple[bytes, list[str]]:
    """The phone sends the same redeem (same token, same CSR) again until it is answered."""
    deadline = time.monotonic() + RETRY_SECONDS
    seen: list[str] = []
    while True:
        try:
            reply = walk.mobile.enrol.RedeemEnrollment(request, timeout=60, wait_for_ready=True)
            return bytes(reply.certificate.der), seen
        except grpc.RpcError as err:
            seen.append(f"{err.code().name}: {err.details()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"redeem never answered after node A died: {seen}") from None
            time.sleep(2)


def test_node_a_killed_mid_burst_loses_no_acknowledged_certificate(
    deployment: Deployment,
) -> None:
    walk = deployment.walk("a", "b")
    ura = _register_organisation(walk)
    # The registration QRs, each shown by a portal, waiting for their phones.
    tokens = []
    for _ in range(BURST):
        done = confirm_registration(walk, walk.card(ura=ura), "Person", "01-02-1975")
        tokens.append(parse_enrolment_uri(done.qr.payload)[0])
    requests = {
        t: enrollment_pb2.RedeemEnrollmentRequest(token=t, csr=walk.phone().csr()) for t in tokens
    }
    burst = Burst()

    def redeem(token: str, kill: Callable[[], None]) -> None:
        try:
            reply = walk.mobile.enrol.RedeemEnrollment(
                requests[token], timeout=60, wait_for_ready=True
            )
        except grpc.RpcError as err:
            with burst.lock:
                burst.failed[token] = f"{err.code().name}: {err.details()}"
            return
        with burst.lock:
            burst.acknowledged[token] = bytes(reply.certificate.der)
            if burst.killed.is_set():
                burst.after_kill += 1
            if len(burst.acknowledged) == 4:
                kill()

    def kill_a() -> None:
        deployment.nodes["a"].kill()
        burst.killed.set()

    with ThreadPoolExecutor(max_workers=6) as pool:
        for token in tokens:
            pool.submit(redeem, token, kill_a)

    assert burst.killed.is_set()
    assert burst.after_kill > 0, "no redeem finished after node A died"
    # Only calls in flight on node A when it died may fail; everything else went to B.
    assert len(burst.acknowledged) + len(burst.failed) == BURST
    assert len(burst.failed) <= 6, burst.failed
    assert all(f.startswith("UNAVAILABLE") for f in burst.failed.values()), burst.failed

    stored = _stored(deployment)
    lost = [der for der in burst.acknowledged.values() if stored.get(der) != "good"]
    assert not lost, f"{len(lost)} acknowledged certificate(s) not stored as good"
    for der in burst.acknowledged.values():
        assert _ocsp_status(deployment, "b", der) == ocsp.OCSPCertStatus.GOOD

    # The phones whose call died with node A send it again and get their certificate:
    # the one node A stored before it died (replayed), or one node B issues once node
    # A's claim has lapsed. Either way one certificate per registration QR.
    for token in burst.failed:
        der, _ = _retry(walk, requests[token])
        assert der not in burst.acknowledged.values()
        burst.acknowledged[token] = der
    stored = _stored(deployment)
    assert len(set(burst.acknowledged.values())) == BURST
    assert all(stored.get(der) == "good" for der in burst.acknowledged.values())
    assert _certificates_per_registration(deployment, tokens) == [1] * BURST


def _certificates_per_registration(deployment: Deployment, tokens: list[str]) -> list[int]:
    """How many certificates each registration QR's registration has (token order)."""
    engine = deployment.db()
    try:
        with engine.connect() as conn:
            counts = []
            for token in tokens:
                found = conn.execute(
                    sa.text(
                        "SELECT count(c.id) FROM registrations r "
                        "LEFT JOIN certificates c ON c.registration_id = r.id "
                        "WHERE r.token_sha256 = :digest"
                    ),
                    {"digest": token_sha256(token)},
                ).scalar_one()
                counts.append(int(found))
    finally:
        engine.dispose()
    return counts


def test_the_nodes_serve_again_after_the_hsm_host_restarts(deployment: Deployment) -> None:
    """``p11-kit server`` restarted under a running node: no node restart needed."""
    import urllib.error
    import urllib.request

    walk = deployment.walk("a", "b")  # node A is dead since the burst: B answers
    ura = _register_organisation(walk)
    done = confirm_registration(walk, walk.card(ura=ura), "Person", "01-02-1975")
    token, _ = parse_enrolment_uri(done.qr.payload)
    request = enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=walk.phone().csr())

    deployment.hsm.stop()
    deployment.hsm.start()

    der, refused = _retry(walk, request)
    assert _stored(deployment).get(der) == "good", refused
    assert _ocsp_status(deployment, "b", der) == ocsp.OCSPCertStatus.GOOD
    deadline = time.monotonic() + 30
    ready = 0
    while time.monotonic() < deadline and ready != 200:
        try:
            with urllib.request.urlopen(f"{deployment.nodes['b'].ocsp_base}/readyz") as resp:
                ready = resp.status
        except urllib.error.HTTPError as err:
            ready = err.code
            time.sleep(0.5)
    assert ready == 200, deployment.logs()


def test_backup_and_restore_of_database_and_token(deployment: Deployment, tmp_path: Path) -> None:
    """docs/deploy.md's procedure: checkpoint, ``pg_dump``, a copy of the stopped token;
    restored into a new database and token folder, the engine's checks pass on them."""
    import shutil
    import subprocess

    node = deployment.nodes["b"]
    zorgid = cluster.ZORGID
    cluster.run(
        [zorgid, "audit", "checkpoint", "--config", str(node.config)], node.env, "checkpoint"
    )
    dump = tmp_path / "zorgid.dump"
    socket_dir = cluster.PG_SOCKET_DIR
    subprocess.run(
        [
            "pg_dump",
            "-h",
            socket_dir,
            "-U",
            "postgres",
            "-Fc",
            "-f",
            str(dump),
            deployment.database,
        ],
        check=True,
        timeout=120,
    )
    deployment.hsm.stop()  # a consistent copy of the token folder
    try:
        shutil.copytree(deployment.hsm.softhsm.tokens, tmp_path / "token-backup" / "tokens")
    finally:
        deployment.hsm.start()

    restored_db, restored_url = cluster.make_database()
    restored_hsm = cluster.HsmServer(
        SoftHsmDir.create(tmp_path / "restored-hsm"),
        tmp_path / "restored-hsm" / "p11-kit.sock",
        deployment.hsm.pin_file,
        tmp_path / "restored-hsm.log",
    )
    try:
        subprocess.run(
            ["pg_restore", "-h", socket_dir, "-U", "postgres", "-d", restored_db, str(dump)],
            check=True,
            timeout=120,
        )
        shutil.rmtree(restored_hsm.softhsm.tokens)
        shutil.copytree(tmp_path / "token-backup" / "tokens", restored_hsm.softhsm.tokens)
        restored_hsm.start()
        config = node.config.read_text()
        config = config.replace(
            f'url = "{cluster.node_database_url(deployment.database)}"',
            f'url = "{restored_url}"',
        ).replace(deployment.hsm.address, restored_hsm.address)
        assert restored_url in config and restored_hsm.address in config
        restored = node.root / "restored.toml"
        restored.write_text(config)

        for argv in (
            ["db", "check", "--config", str(restored)],
            ["audit", "verify", "--config", str(restored)],
            # Refuses (exit 2) unless the restored token's audit key is the published one.
            ["audit", "checkpoint", "--config", str(restored)],
        ):
            cluster.run([zorgid, *argv], node.env, " ".join(argv[:2]))
        before, after = _stored(deployment), _stored_in(restored_db)
        assert before == after and len(after) > BURST
    finally:
        restored_hsm.stop()
        cluster.drop_database(restored_db)


def _stored_in(database: str) -> dict[bytes, str]:
    """Every certificate in PostgreSQL database *database*: DER -> status."""
    engine = sa.create_engine(sa.engine.make_url(cluster.PG_ADMIN_URL).set(database=database))
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT der, status FROM certificates").all()
    finally:
        engine.dispose()
    return {bytes(der): str(status) for der, status in rows}
