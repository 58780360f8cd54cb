"""Issue 17: the flows' reads answer while the HSM is away; only signing needs it."""

from __future__ import annotations

from pathlib import Path

import grpc
import pkcs11.exceptions as p11e
import pytest

from issuer.api.zorgid.v1 import (
    attribute_pb2,
    enrollment_pb2,
    login_pb2,
    organization_pb2,
    registration_pb2,
)
from issuer.enrolment.tokens import parse_enrolment_uri
from issuer.flows.login import current_certificate_message
from tests.flows.conftest import START, EngineParts, rpc_code, running_engine, sign_as_phone


def _hsm_away(operation: str) -> None:
    """The injected outage: every PKCS#11 call on the module fails like a lost device."""
    raise p11e.DeviceError()


def test_reads_answer_while_the_hsm_is_away_and_signing_answers_unavailable(
    engine_parts: EngineParts, tmp_path: Path
) -> None:
    (tmp_path / "up").mkdir()
    (tmp_path / "down").mkdir()
    # While the HSM works: an organisation with a logged-in administrator, a member
    # with a mobile ID who logged in, a login still pending and a registration
    # confirmed but not yet redeemed.
    with running_engine(engine_parts, tmp_path / "up") as up:
        up.register_org()
        admin, _admin_app = up.administrator()
        member_app = up.cards.app()
        phone, der, done = up.registered(member_app)
        answered = up.portal.login.CreateLoginChallenge(login_pb2.CreateLoginChallengeRequest())
        up.answer(answered.qr.payload, phone, der)
        logged_in = up.portal.login.GetLoginChallenge(
            login_pb2.GetLoginChallengeRequest(challenge_id=answered.challenge_id)
        )
        assert logged_in.state == login_pb2.LOGIN_STATE_AUTHENTICATED
        pending = up.portal.login.CreateLoginChallenge(login_pb2.CreateLoginChallengeRequest())
        waiting = up.confirmed(up.cards.app())
        terms = up.portal.reg.GetTerms(registration_pb2.GetTermsRequest(), timeout=30)
    # Signed on the phones' token (same PKCS#11 module), so before the outage.
    csr = engine_parts.phones().csr()
    proof = attribute_pb2.GetCurrentCertificateRequest(
        spki_sha256=phone.spki_sha256,
        signature=sign_as_phone(phone, current_certificate_message(phone.spki_sha256, START)),
    )
    proof.signed_at.FromDatetime(START)
    token, _host = parse_enrolment_uri(waiting.qr.payload)

    # A new engine process started while the HSM answers nothing.
    hsm = engine_parts.flows_ca.hsm
    hsm.set_fault_hook(_hsm_away)
    try:
        with running_engine(engine_parts, tmp_path / "down") as down:
            polled = down.portal.reg.GetRegistration(
                registration_pb2.GetRegistrationRequest(registration_id=done.registration.id)
            )
            assert polled.registration.state == registration_pb2.REGISTRATION_STATE_REDEEMED
            # The terms come from the policy version in force, verified with the audit
            # public key: no HSM login.
            shown = down.portal.reg.GetTerms(registration_pb2.GetTermsRequest(), timeout=30)
            assert (shown.version, shown.text) == (terms.version, terms.text)
            again = down.portal.login.GetLoginChallenge(
                login_pb2.GetLoginChallengeRequest(challenge_id=answered.challenge_id)
            )
            assert again.state == login_pb2.LOGIN_STATE_AUTHENTICATED
            assert again.person_id == logged_in.person_id
            still = down.portal.login.GetLoginChallenge(
                login_pb2.GetLoginChallengeRequest(challenge_id=pending.challenge_id)
            )
            assert still.state == login_pb2.LOGIN_STATE_PENDING
            described = down.mobile.login.DescribeLoginChallenge(
                login_pb2.DescribeLoginChallengeRequest(challenge_id=pending.challenge_id)
            )
            assert described.portal_identity.startswith("sha256:")
            members = down.portal.org.ListMembers(
                organization_pb2.ListMembersRequest(login_session_handle=admin)
            ).members
            assert member_app.card.uzi_number in {m.uzi_number for m in members}

            current = down.mobile.attrs.GetCurrentCertificate(proof, timeout=30)
            assert bytes(current.certificate.der) == der
            assert len(current.chain) >= 1

            # Signing needs the HSM: the redemption is refused as UNAVAILABLE (ZID-0004).
            with pytest.raises(grpc.RpcError) as err:
                down.mobile.enrol.RedeemEnrollment(
                    enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=csr), timeout=60
                )
            assert rpc_code(err.value) == (grpc.StatusCode.UNAVAILABLE, "ZID-0004")
    finally:
        hsm.set_fault_hook(None)
