"""DryRunPolicy over mTLS on a recorded set of requests (registrations + certificates).

The evidence rows are written here directly, in the shape the issuance cycle
stores them (``registrations.frozen_data`` with the verified UZI attributes,
``certificates.der`` of the issued certificate, joined by ``registration_id``):
what :func:`issuer.policy_store.recorded_requests` reads.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.api.zorgid.v1 import policy_pb2
from issuer.store.schema import certificates, registrations, serial_reservations
from tests.policies_admin.conftest import PolicyServer, StubFor, variant
from tests.policies_admin.test_grpc import SHORTER, Z_ONLY, A, propose
from tests.server.pki import make_ca

ISSUER_ID = "ab" * 32


def record(
    engine: sa.Engine, *, card_type: str, role: str, at: datetime, issued: bool, days: int = 365
) -> str:
    """One registration (and its certificate when ``issued``); returns the registration id."""
    reg_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            registrations.insert().values(
                id=reg_id,
                kind="registration",
                state="redeemed" if issued else "confirmed",
                portal_identity="portal-sha256",
                frozen_data={"format": 1, "card_type": card_type, "role": role},
                created_at=at,
                updated_at=at,
                confirmed_at=at,
                policy_version=1,
            )
        )
        if not issued:
            return reg_id
        ca = make_ca("Dry-run test CA")
        key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "holder")]))
            .issuer_name(ca.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(at - timedelta(seconds=60))
            .not_valid_after(at + timedelta(days=days))
            .sign(ca.key, hashes.SHA256())
        )
        der = cert.public_bytes(serialization.Encoding.DER)
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        conn.execute(
            serial_reservations.insert().values(
                issuer=ISSUER_ID,
                serial=format(serial, "x"),
                request_sha256="cd" * 32,
                policy_version=1,
                state="issued",
                registration_id=reg_id,
                created_at=at,
                finished_at=at,
            )
        )
        conn.execute(
            certificates.insert().values(
                id=str(uuid.uuid4()),
                issuer=ISSUER_ID,
                serial=format(serial, "x"),
                der=der,
                not_before=at - timedelta(seconds=60),
                not_after=at + timedelta(days=days),
                status="good",
                policy_version=1,
                spki_sha256=hashlib.sha256(spki).hexdigest(),
                registration_id=reg_id,
                issued_at=at,
            )
        )
    return reg_id


def outcomes(response: policy_pb2.DryRunPolicyResponse) -> dict[str, tuple[int, list[str]]]:
    return {item.request_id: (item.outcome, list(item.reasons)) for item in response.items}


def test_dry_run_reports_narrowed_card_types_and_shorter_validity(
    stub_for: StubFor, policy_server: PolicyServer
) -> None:
    now = policy_server.clock.now
    engine = policy_server.engine
    z_issued = record(engine, card_type="Z", role="01.015", at=now - timedelta(days=2), issued=True)
    n_issued = record(engine, card_type="N", role="00.000", at=now - timedelta(days=1), issued=True)
    n_pending = record(
        engine, card_type="N", role="00.000", at=now - timedelta(hours=1), issued=False
    )
    old = record(engine, card_type="N", role="00.000", at=now - timedelta(days=90), issued=True)

    narrow = propose(stub_for, A, variant(Z_ONLY))
    ran = stub_for("auditor").DryRunPolicy(policy_pb2.DryRunPolicyRequest(version=narrow.version))
    got = outcomes(ran)
    assert old not in got  # older than the default window of 30 days
    assert got[z_issued] == (policy_pb2.DRY_RUN_OUTCOME_SAME, [])
    refusal = "card type N not accepted (uzi.card_types = ['Z'])"
    assert got[n_issued] == (policy_pb2.DRY_RUN_OUTCOME_REFUSED, [refusal])
    assert got[n_pending] == (policy_pb2.DRY_RUN_OUTCOME_REFUSED, [refusal])
    assert (ran.same, ran.refused, ran.different) == (1, 2, 0)

    shorter = propose(stub_for, A, variant(SHORTER))
    ran = stub_for(A).DryRunPolicy(
        policy_pb2.DryRunPolicyRequest(version=shorter.version, limit=10)
    )
    got = outcomes(ran)
    change = ["validity 365 -> 90 days (profile.validity_days)"]
    assert got[z_issued] == (policy_pb2.DRY_RUN_OUTCOME_DIFFERENT, change)
    assert got[n_issued] == (policy_pb2.DRY_RUN_OUTCOME_DIFFERENT, change)
    assert got[n_pending] == (policy_pb2.DRY_RUN_OUTCOME_SAME, [])
    assert (ran.same, ran.refused, ran.different) == (1, 0, 2)
    assert [i.recorded_policy_version for i in ran.items] == [1, 1, 1]
