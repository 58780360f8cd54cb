"""EnrollmentService and CertificateService over real gRPC with mTLS, per role."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.x509 import ocsp
from pkcs11 import exceptions as p11e

from issuer.api.zorgid.v1 import (
    certificate_pb2,
    certificate_pb2_grpc,
    enrollment_pb2,
    enrollment_pb2_grpc,
)
from issuer.config import load_config
from issuer.issuance.runtime import HSM_REASON, IssuanceRuntime
from issuer.profile import read_uzi_san
from issuer.server.app import BuiltServer, build_server
from issuer.server.binding import issuance_service_bindings
from issuer.server.health import HealthControl
from issuer.store.schema import audit_events, crls, ocsp_responses
from issuer.wiring import issuance_runtime
from testkit.phone import Phone
from tests.issuance.conftest import World, attributes
from tests.server.conftest import ClientPki, role_rules, test_pki
from tests.server.test_mtls_roles import error_info

__all__ = ["test_pki"]

Channel = Callable[[str], grpc.Channel]


@pytest.fixture
def served(
    world: World, test_pki: ClientPki, tmp_path: Path
) -> Iterator[tuple[BuiltServer, IssuanceRuntime]]:
    token = world.ca.token
    text = (
        f'data_dir = "{world.ca.data_dir}"\n\n'
        '[server]\nlisten = "127.0.0.1:0"\nworkers = 16\n\n'
        f'[tls]\ncert = "{test_pki.root / "server.pem"}"\nkey = "{test_pki.root / "server.key"}"\n'
        f'client_ca = "{test_pki.root / "client-ca.pem"}"\n\n'
        f'[hsm]\ntoken = "{token.label}"\npin_source = "file:{token.pin_file}"\n\n'
        f'[database]\nurl = "{world.db.cli_url}"\n'
        f"{role_rules()}"
    )
    path = tmp_path / "zorgid.toml"
    path.write_text(text)
    config = load_config(path)
    health = HealthControl()

    runtime = issuance_runtime(config, health=health, engine=world.engine)
    built = build_server(config, issuance_service_bindings(runtime), health=health)
    built.start()
    yield built, runtime
    built.stop(None)


@pytest.fixture
def channel(served: tuple[BuiltServer, IssuanceRuntime], test_pki: ClientPki) -> Iterator[Channel]:
    made: list[grpc.Channel] = []

    def make(name: str) -> grpc.Channel:
        cert, key = test_pki.client(name)
        creds = grpc.ssl_channel_credentials(
            root_certificates=test_pki.server_ca_pem,
            private_key=key.read_bytes(),
            certificate_chain=cert.read_bytes(),
        )
        made.append(
            grpc.secure_channel(
                f"127.0.0.1:{served[0].port}",
                creds,
                options=[("grpc.use_local_subchannel_pool", 1)],
            )
        )
        return made[-1]

    yield make
    for c in made:
        c.close()


def _ocsp_status(world: World, serial: str) -> ocsp.OCSPCertStatus:
    with world.engine.connect() as conn:
        der = conn.execute(
            sa.select(ocsp_responses.c.der).where(ocsp_responses.c.serial == serial)
        ).scalar_one()
    response = ocsp.load_der_ocsp_response(der)
    statuses = {
        single.certificate_status
        for single in response.responses
        if single.serial_number == int(serial, 16)
    }
    assert len(statuses) == 1  # one status, whatever CertID hash the client uses
    return statuses.pop()


def _redeem(
    channel: grpc.Channel, token: str, csr: bytes
) -> enrollment_pb2.RedeemEnrollmentResponse:
    stub = enrollment_pb2_grpc.EnrollmentServiceStub(channel)  # type: ignore[no-untyped-call]
    response: enrollment_pb2.RedeemEnrollmentResponse = stub.RedeemEnrollment(
        enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=csr), timeout=30
    )
    return response


def test_redeem_get_list_revoke_over_mtls(
    world: World, channel: Channel, new_phone: Callable[..., Phone]
) -> None:
    attrs = attributes()
    enrolment = world.enrol(attrs)
    csr = new_phone().csr()
    first = _redeem(channel("mobile"), enrolment.token, csr)
    cert = x509.load_der_x509_certificate(first.certificate.der)
    assert read_uzi_san(cert).uzi_number == attrs.uzi_number
    assert [x509.load_der_x509_certificate(d).subject for d in first.chain] == [
        world.ca.material.issuing_ca.subject,
        world.ca.material.root.subject,
    ]
    assert not first.replayed
    # Step 4's hook pre-signed the first OCSP response (the OCSP service is the hook).
    assert _ocsp_status(world, first.certificate.serial) == ocsp.OCSPCertStatus.GOOD
    again = _redeem(channel("mobile"), enrolment.token, csr)
    assert again.replayed and again.certificate.der == first.certificate.der

    # A portal reads only persons it acts for (issue 16 item 11); this enrolment was made
    # for another portal identity ("portal-sha256"), so the test portal does not see it.
    portal = certificate_pb2_grpc.CertificateServiceStub(channel("portal"))  # type: ignore[no-untyped-call]
    with pytest.raises(grpc.RpcError) as hidden:
        portal.GetCertificate(
            certificate_pb2.GetCertificateRequest(serial=first.certificate.serial)
        )
    assert error_info(hidden.value).reason == "ZID-1210"
    certs = certificate_pb2_grpc.CertificateServiceStub(channel("operator"))  # type: ignore[no-untyped-call]
    got = certs.GetCertificate(
        certificate_pb2.GetCertificateRequest(serial=first.certificate.serial)
    )
    assert got.certificate.id == first.certificate.id
    assert got.certificate.status == certificate_pb2.CERTIFICATE_STATUS_GOOD
    listed = certs.ListCertificates(
        certificate_pb2.ListCertificatesRequest(person_id=first.certificate.person_id)
    )
    assert [c.id for c in listed.certificates] == [first.certificate.id]
    by_phone = certs.ListCertificates(
        certificate_pb2.ListCertificatesRequest(mobile_id=first.certificate.mobile_id)
    )
    assert [c.id for c in by_phone.certificates] == [first.certificate.id]
    with pytest.raises(grpc.RpcError) as unknown:
        certs.GetCertificate(certificate_pb2.GetCertificateRequest(id="no-such-id"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(unknown.value).reason == "ZID-1210"

    # Revoking: operator only; the portal is refused by the role table.
    revoke = certificate_pb2.RevokeCertificateRequest(
        id=first.certificate.id, reason=certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE
    )
    with pytest.raises(grpc.RpcError) as denied:
        portal.RevokeCertificate(revoke)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    operator = certificate_pb2_grpc.CertificateServiceStub(channel("operator"))  # type: ignore[no-untyped-call]
    revoked = operator.RevokeCertificate(revoke).certificate
    assert revoked.status == certificate_pb2.CERTIFICATE_STATUS_REVOKED
    assert revoked.revocation_reason == certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE
    assert _ocsp_status(world, first.certificate.serial) == ocsp.OCSPCertStatus.REVOKED
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(crls)).scalar_one() >= 1
    with pytest.raises(grpc.RpcError) as twice:
        operator.RevokeCertificate(revoke)
    assert error_info(twice.value).reason == "ZID-1212"
    with world.engine.connect() as conn:
        events = conn.execute(
            sa.select(audit_events.c.action, audit_events.c.actor_role, audit_events.c.details)
        ).all()
    revocations = [e for e in events if e.action == "certificate.revoke"]
    assert len(revocations) == 1 and revocations[0].actor_role == "operator"
    assert '"reason":"keyCompromise"' in revocations[0].details
    assert [e.actor_role for e in events if e.action == "certificate.issue"] == ["mobile"]


def test_refusals_carry_catalogue_codes_and_roles_are_enforced(
    world: World, channel: Channel, new_phone: Callable[..., Phone]
) -> None:
    enrolment = world.enrol()
    _redeem(channel("mobile"), enrolment.token, new_phone().csr())
    with pytest.raises(grpc.RpcError) as used:
        _redeem(channel("mobile"), enrolment.token, new_phone().csr())
    assert used.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(used.value).reason == "ZID-1303"
    with pytest.raises(grpc.RpcError) as portal:
        _redeem(channel("portal"), world.enrol(attributes("900016529")).token, b"")
    assert portal.value.code() == grpc.StatusCode.PERMISSION_DENIED
    mobile = certificate_pb2_grpc.CertificateServiceStub(channel("mobile"))  # type: ignore[no-untyped-call]
    with pytest.raises(grpc.RpcError) as listing:
        mobile.ListCertificates(certificate_pb2.ListCertificatesRequest(person_id="x"))
    assert listing.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_hsm_unavailable_answers_unavailable_and_flips_health_until_it_recovers(
    world: World,
    channel: Channel,
    served: tuple[BuiltServer, IssuanceRuntime],
    new_phone: Callable[..., Phone],
) -> None:
    built, runtime = served
    hsm = world.ca.hsm
    enrolment = world.enrol()
    csr = new_phone().csr()
    runtime.get()  # opened: the fault is in signing, not in opening

    def fail_sign(operation: str) -> None:
        if operation == "sign":
            raise p11e.DeviceError()

    hsm.set_fault_hook(fail_sign)
    try:
        with pytest.raises(grpc.RpcError) as down:
            _redeem(channel("mobile"), enrolment.token, csr)
        assert down.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_info(down.value).reason == "ZID-0004"
        assert not built.health.serving and HSM_REASON in built.health.reasons
    finally:
        hsm.set_fault_hook(None)
    # No restart: the same token and CSR now redeem (the claim was given back).
    done = _redeem(channel("mobile"), enrolment.token, csr)
    assert not done.replayed
    assert built.health.serving


def test_health_serves_again_once_the_hsm_answers_without_waiting_for_a_call(
    world: World,
    channel: Channel,
    served: tuple[BuiltServer, IssuanceRuntime],
    new_phone: Callable[..., Phone],
) -> None:
    """A balancer sends a NOT_SERVING process no traffic: its recovery cannot wait for a
    call that succeeds. And once SERVING again, the next HSM failure flips it again."""
    built, runtime = served
    hsm = world.ca.hsm
    runtime.get()

    def away(operation: str) -> None:
        raise p11e.DeviceError()

    for _ in range(2):
        token, csr = world.enrol().token, new_phone().csr()  # the phones' token: same module
        hsm.set_fault_hook(away)
        try:
            with pytest.raises(grpc.RpcError) as down:
                _redeem(channel("mobile"), token, csr)
            assert down.value.code() == grpc.StatusCode.UNAVAILABLE
            assert HSM_REASON in built.health.reasons
        finally:
            hsm.set_fault_hook(None)
        waited_until = time.monotonic() + 5  # the bound for SERVING again
        while not built.health.serving and time.monotonic() < waited_until:
            time.sleep(0.1)
        assert built.health.serving, built.health.reasons


def test_two_server_processes_100_concurrent_grpc_redemptions_one_certificate(
    world: World, test_pki: ClientPki, tmp_path: Path
) -> None:
    """Two engine processes (own HSM login each) on one port and one database."""
    import multiprocessing
    import socket
    import threading

    from tests.issuance.grpc_server import serve
    from tests.issuance.test_exactly_once import _csr

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = world.ca.token
    path = tmp_path / "zorgid.toml"
    path.write_text(
        f'data_dir = "{world.ca.data_dir}"\n\n'
        f'[server]\nlisten = "127.0.0.1:{port}"\nworkers = 64\n\n'
        f'[tls]\ncert = "{test_pki.root / "server.pem"}"\nkey = "{test_pki.root / "server.key"}"\n'
        f'client_ca = "{test_pki.root / "client-ca.pem"}"\n\n'
        f'[hsm]\ntoken = "{token.label}"\npin_source = "file:{token.pin_file}"\n\n'
        f'[database]\nurl = "{world.db.cli_url}"\n'
        f"{role_rules()}"
    )
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    servers = [ctx.Process(target=serve, args=(str(path), ready, stop)) for _ in range(2)]
    for proc in servers:
        proc.start()
    try:
        pids = {ready.get(timeout=60) for _ in servers}
        assert len(pids) == 2
        enrolment = world.enrol()
        same = _csr()
        csrs = [same if n % 2 else _csr() for n in range(100)]
        cert, key = test_pki.client("mobile")
        creds = grpc.ssl_channel_credentials(
            root_certificates=test_pki.server_ca_pem,
            private_key=key.read_bytes(),
            certificate_chain=cert.read_bytes(),
        )
        # One connection per call: the kernel spreads them over both processes.
        channels = [
            grpc.secure_channel(
                f"127.0.0.1:{port}", creds, options=[("grpc.use_local_subchannel_pool", 1)]
            )
            for _ in range(100)
        ]
        barrier = threading.Barrier(100)

        def call(n: int) -> str:
            stub = enrollment_pb2_grpc.EnrollmentServiceStub(channels[n])  # type: ignore[no-untyped-call]
            grpc.channel_ready_future(channels[n]).result(timeout=30)
            barrier.wait()
            try:
                got = stub.RedeemEnrollment(
                    enrollment_pb2.RedeemEnrollmentRequest(token=enrolment.token, csr=csrs[n]),
                    timeout=60,
                )
                return str(got.certificate.id)
            except grpc.RpcError as exc:
                return str(error_info(exc).reason)

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=100) as pool:
            results = list(pool.map(call, range(100)))
        for channel in channels:
            channel.close()
    finally:
        stop.set()
        for proc in servers:
            proc.join(timeout=30)
    ids = {r for r in results if not r.startswith("ZID-")}
    assert len(ids) == 1, results
    assert {r for r in results if r.startswith("ZID-")} <= {"ZID-1303"}
    with world.engine.connect() as conn:
        from issuer.store.schema import certificates

        assert conn.execute(sa.select(sa.func.count()).select_from(certificates)).scalar() == 1
