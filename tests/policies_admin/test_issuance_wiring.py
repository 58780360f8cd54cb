"""Issuance under the active version: before and after an activation, and in flight.

One server serves PolicyService and the issuance services
(EnrollmentService) on one database; officers change the policy over gRPC,
the mobile gateway redeems registration QRs over gRPC, and each certificate
(and its reservation and audit event) records the version it was issued under.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from cryptography import x509

from hsm import Hsm
from issuer.api.zorgid.v1 import enrollment_pb2, enrollment_pb2_grpc
from issuer.config import load_config
from issuer.enrolment.create import Enrolment, create_enrolment
from issuer.issuance.records import Actor
from issuer.issuance.runtime import Issuance, IssuanceRuntime
from issuer.server.app import build_server
from issuer.server.binding import issuance_service_bindings, policy_service_binding
from issuer.store.schema import audit_events, certificates
from issuer.wiring import PolicyRuntime, issuance_runtime
from testkit.phone import Phone
from tests.issuance.conftest import CaSetup, attributes
from tests.policies_admin.conftest import PolicyServer, StubFor, variant, write_policy_config
from tests.policies_admin.test_grpc import SHORTER, A, B, active, approve, propose
from tests.server.conftest import ClientPki
from tests.softhsm import SoftHsmDir
from tests.store.dbfixtures import Database

PORTAL = Actor(role="portal", identity="CN=portal,serial=2")
MOBILE = Actor(role="mobile", identity="CN=mobile-gateway,serial=1")


@pytest.fixture(scope="session")
def phones(softhsm_dir: SoftHsmDir) -> Hsm:
    token = softhsm_dir.init_token("policy-phones")
    return Hsm.open(token.uri)


@dataclass
class Both:
    issuance: IssuanceRuntime
    mobile: enrollment_pb2_grpc.EnrollmentServiceStub
    engine: sa.Engine


@pytest.fixture
def both(
    policy_server: PolicyServer,
    migrated_db: Database,
    policy_ca: CaSetup,
    test_pki: ClientPki,
    tmp_path: Path,
) -> Iterator[Both]:
    config = load_config(write_policy_config(tmp_path / "iss", test_pki, policy_ca, migrated_db))
    runtime = issuance_runtime(config, engine=policy_server.engine)
    built = build_server(
        config,
        [
            *issuance_service_bindings(runtime),
            policy_service_binding(PolicyRuntime(config, engine=policy_server.engine).get),
        ],
    )
    built.start()
    cert, key = test_pki.client("mobile")
    creds = grpc.ssl_channel_credentials(
        root_certificates=test_pki.server_ca_pem,
        private_key=key.read_bytes(),
        certificate_chain=cert.read_bytes(),
    )
    channel = grpc.secure_channel(
        f"127.0.0.1:{built.port}", creds, options=[("grpc.use_local_subchannel_pool", 1)]
    )
    yield Both(runtime, enrollment_pb2_grpc.EnrollmentServiceStub(channel), policy_server.engine)  # type: ignore[no-untyped-call]
    channel.close()
    built.stop(None)


_phone_count = iter(range(10_000))


def enrol(issuance: Issuance, uzi_number: str) -> Enrolment:
    with issuance.engine.begin() as conn:
        return create_enrolment(
            conn,
            attrs=attributes(uzi_number),
            card_certificate_sha256="ab" * 32,
            portal_identity="portal-sha256",
            policy=issuance.cycle.policy,
            policy_version=issuance.cycle.policy_version,
            audit=issuance.audit,
            actor=PORTAL,
            now=datetime.now(UTC),
        )


def redeem(
    both: Both, phones: Hsm, enrolment: Enrolment
) -> enrollment_pb2.RedeemEnrollmentResponse:
    phone = Phone.create(phones, f"policy-phone-{next(_phone_count)}")
    return both.mobile.RedeemEnrollment(  # type: ignore[no-any-return]
        enrollment_pb2.RedeemEnrollmentRequest(token=enrolment.token, csr=phone.csr()), timeout=30
    )


def validity_days(der: bytes) -> int:
    cert = x509.load_der_x509_certificate(der)
    return (cert.not_valid_after_utc - cert.not_valid_before_utc).days


def test_issuance_before_and_after_activation_carries_the_right_version(
    both: Both, stub_for: StubFor, phones: Hsm
) -> None:
    first = both.issuance.get()
    v1 = active(stub_for).version
    assert first.cycle.policy_version == v1
    before = redeem(both, phones, enrol(first, "900016528"))
    assert before.certificate.policy_version == v1
    assert validity_days(before.certificate.der) == 365

    proposal = propose(stub_for, A, variant(SHORTER))
    assert both.issuance.get().cycle.policy_version == v1  # proposed is not active
    approve(stub_for, B, proposal.version)

    after_issuance = both.issuance.get()
    assert after_issuance.cycle.policy_version == proposal.version
    after = redeem(both, phones, enrol(after_issuance, "900016529"))
    assert after.certificate.policy_version == proposal.version
    assert validity_days(after.certificate.der) == 90

    # A request that took the old version at its start finishes under it.
    in_flight = redeem_in_process(first, phones, enrol(first, "900016530"))
    assert in_flight == v1

    with both.engine.connect() as conn:
        stored = dict(
            conn.execute(sa.select(certificates.c.serial, certificates.c.policy_version)).all()
        )
        issued = [
            json.loads(row.details)
            for row in conn.execute(
                sa.select(audit_events.c.details).where(
                    audit_events.c.action == "certificate.issue"
                )
            )
        ]
    assert stored[before.certificate.serial] == v1
    assert stored[after.certificate.serial] == proposal.version
    recorded = {event["serial"]: event["policy_version"] for event in issued}
    assert recorded[before.certificate.serial] == v1
    assert recorded[after.certificate.serial] == proposal.version


def redeem_in_process(issuance: Issuance, phones: Hsm, enrolment: Enrolment) -> int:
    phone = Phone.create(phones, f"policy-phone-{next(_phone_count)}")
    done = issuance.redeemer.redeem(enrolment.token, phone.csr(), actor=MOBILE)
    return done.certificate.policy_version
