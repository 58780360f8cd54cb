"""Flow 3 over gRPC with mTLS: login by QR (portal asks, phone signs, portal polls)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from issuer.api.zorgid.v1 import certificate_pb2, login_pb2
from issuer.qr import parse_login_uri
from tests.flows.conftest import SECOND_PORTAL, Engine, rpc_code, sign_as_phone


def _poll(
    eng: Engine, challenge_id: str, portal: object = None
) -> login_pb2.GetLoginChallengeResponse:
    stub = (portal or eng.portal).login  # type: ignore[attr-defined]
    reply: login_pb2.GetLoginChallengeResponse = stub.GetLoginChallenge(
        login_pb2.GetLoginChallengeRequest(challenge_id=challenge_id)
    )
    return reply


def test_login_by_qr(eng: Engine) -> None:
    eng.register_org()
    app = eng.cards.app()
    phone, der, _ = eng.registered(app)
    made = eng.portal.login.CreateLoginChallenge(login_pb2.CreateLoginChallengeRequest())
    assert made.qr.payload.startswith("zorgid://login?v=1&c=" + made.challenge_id + "&n=")
    assert made.qr.png.startswith(b"\x89PNG") and "<svg" in made.qr.svg
    assert made.expires_at.ToDatetime(tzinfo=UTC) - eng.clock() == timedelta(minutes=5)
    assert _poll(eng, made.challenge_id).state == login_pb2.LOGIN_STATE_PENDING

    described = eng.mobile.login.DescribeLoginChallenge(
        login_pb2.DescribeLoginChallengeRequest(challenge_id=made.challenge_id)
    )
    assert described.portal_identity.startswith("sha256:")
    assert "portal-client" in described.portal_name
    assert described.nonce == parse_login_uri(made.qr.payload).nonce

    eng.clock.advance(timedelta(minutes=4))
    eng.answer(made.qr.payload, phone, der)
    first = _poll(eng, made.challenge_id)
    assert first.state == login_pb2.LOGIN_STATE_AUTHENTICATED
    assert len(first.session_handle) >= 43
    assert first.attributes.uzi_number == app.card.uzi_number
    assert first.attributes.ura == "90000382"
    # The handle is handed out once; later polls still say who, without it.
    second = _poll(eng, made.challenge_id)
    assert second.state == login_pb2.LOGIN_STATE_AUTHENTICATED and second.session_handle == ""
    # Answered twice: refused.
    with pytest.raises(grpc.RpcError) as err:
        eng.answer(made.qr.payload, phone, der)
    assert rpc_code(err.value) == (grpc.StatusCode.ALREADY_EXISTS, "ZID-1708")
    # Another portal cannot poll it.
    with pytest.raises(grpc.RpcError) as err:
        _poll(eng, made.challenge_id, eng.stubs(SECOND_PORTAL))
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "ZID-1701")


def test_expired_login_qr(eng: Engine) -> None:
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    made = eng.portal.login.CreateLoginChallenge(login_pb2.CreateLoginChallengeRequest())
    eng.clock.advance(timedelta(minutes=5))
    assert _poll(eng, made.challenge_id).state == login_pb2.LOGIN_STATE_EXPIRED
    with pytest.raises(grpc.RpcError) as err:
        eng.answer(made.qr.payload, phone, der, at=eng.clock() - timedelta(minutes=1))
    assert rpc_code(err.value) == (grpc.StatusCode.DEADLINE_EXCEEDED, "ZID-1702")
    # The portal asks a new one, which works.
    assert eng.login(phone, der).state == login_pb2.LOGIN_STATE_AUTHENTICATED


def test_revoked_certificate_refused(eng: Engine) -> None:
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    cert_id = eng.login(phone, der).certificate_id
    eng.operator.certs.RevokeCertificate(
        certificate_pb2.RevokeCertificateRequest(
            id=cert_id, reason=certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE
        )
    )
    made = eng.portal.login.CreateLoginChallenge(login_pb2.CreateLoginChallengeRequest())
    with pytest.raises(grpc.RpcError) as err:
        eng.answer(made.qr.payload, phone, der)
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1704")
    polled = _poll(eng, made.challenge_id)
    assert polled.state == login_pb2.LOGIN_STATE_REFUSED and polled.refusal_code == "ZID-1704"


def test_expired_certificate_refused(eng: Engine) -> None:
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    not_after = x509.load_der_x509_certificate(der).not_valid_after_utc
    eng.clock.now = not_after + timedelta(seconds=1)
    made = eng.portal.login.CreateLoginChallenge(login_pb2.CreateLoginChallengeRequest())
    with pytest.raises(grpc.RpcError) as err:
        eng.answer(made.qr.payload, phone, der)
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1705")


def test_foreign_certificate_refused(eng: Engine) -> None:
    phone = eng.new_phone()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not ours")])
    now = datetime.now(UTC)
    foreign = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(phone.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(phone.key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    made = eng.portal.login.CreateLoginChallenge(login_pb2.CreateLoginChallengeRequest())
    with pytest.raises(grpc.RpcError) as err:
        eng.answer(made.qr.payload, phone, foreign.public_bytes(Encoding.DER))
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1703")


def test_signature_must_cover_this_portal_and_time(eng: Engine) -> None:
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    made = eng.portal.login.CreateLoginChallenge(login_pb2.CreateLoginChallengeRequest())
    qr = parse_login_uri(made.qr.payload)
    # Signed for another portal identity: does not verify.
    from issuer.flows.login import login_message

    at = eng.clock()
    bad = sign_as_phone(phone, login_message(qr.challenge_id, qr.nonce, "sha256:" + "0" * 64, at))
    request = login_pb2.AnswerLoginChallengeRequest(
        challenge_id=qr.challenge_id, certificate=der, signature=bad
    )
    request.signed_at.FromDatetime(at)
    with pytest.raises(grpc.RpcError) as err:
        eng.mobile.login.AnswerLoginChallenge(request)
    assert rpc_code(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "ZID-1706")
    # A signing time far outside the QR's lifetime.
    with pytest.raises(grpc.RpcError) as err:
        eng.answer(made.qr.payload, phone, der, at=at + timedelta(hours=1))
    assert rpc_code(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "ZID-1707")
    # Still pending: a bad signature does not end the challenge.
    assert _poll(eng, made.challenge_id).state == login_pb2.LOGIN_STATE_PENDING


def test_login_roles(eng: Engine) -> None:
    with pytest.raises(grpc.RpcError) as err:
        eng.mobile.login.CreateLoginChallenge(login_pb2.CreateLoginChallengeRequest())
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.login.AnswerLoginChallenge(login_pb2.AnswerLoginChallengeRequest())
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
