"""UziService end to end: challenge -> desktop app signs on its token -> verify, and every refusal.

Each refusal must reach the portal as a gRPC status whose ``ErrorInfo.reason``
is the stable code and whose ``LocalizedMessage`` details carry the catalogue
text in ``en`` and ``nl-NL`` (ARCHITECTURE section 2, flow 7).
"""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from issuer.api.zorgid.v1 import uzi_pb2
from issuer.errors import CATALOGUE
from issuer.server.uzi_service import PURPOSE_REGISTRATION
from issuer.uzi import errors
from issuer.uzi.card import load_certificates
from issuer.uzi.verify import challenge_message
from tests.uzi.conftest import NOW, World
from tests.uzi_grpc.conftest import SECOND_PORTAL, StubFor, UziServer

PKCS1 = uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256
REGISTRATION = uzi_pb2.UZI_PURPOSE_REGISTRATION


def _refusal(call: grpc.RpcError) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    """Status code, ErrorInfo reason and the localized texts of a refused call."""
    status = rpc_status.from_call(call)  # type: ignore[arg-type]
    assert isinstance(status, status_pb2.Status), f"no rich status: {call}"
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.domain == "zorg-id"
    texts = {}
    for detail in status.details[1:]:
        text = error_details_pb2.LocalizedMessage()
        assert detail.Unpack(text)
        texts[text.locale] = text.message
    return call.code(), info.reason, texts


def _assert_refused(info: pytest.ExceptionInfo[grpc.RpcError], code: str) -> None:
    status, reason, texts = _refusal(info.value)
    spec = CATALOGUE[code]
    assert reason == code, info.value.details()
    assert status.name == spec.status.name
    assert texts == {
        "en": f"{spec.cause_en} {spec.solution_en}",
        "nl-NL": f"{spec.cause_nl} {spec.solution_nl}",
    }


def _verify(
    stub: object, challenge_id: str, chain: list[bytes], signature: bytes, **extra: object
) -> uzi_pb2.VerifyUziCardResponse:
    request = uzi_pb2.VerifyUziCardRequest(
        challenge_id=challenge_id,
        certificate_chain=chain,
        signature=signature,
        signature_scheme=extra.pop("scheme", PKCS1),  # type: ignore[arg-type]
        purpose=extra.pop("purpose", REGISTRATION),  # type: ignore[arg-type]
    )
    reply: uzi_pb2.VerifyUziCardResponse = stub.VerifyUziCard(request, timeout=30)  # type: ignore[attr-defined]
    return reply


def test_happy_path_returns_identity_and_a_session(
    uzi: World, uzi_server: UziServer, stub_for: StubFor
) -> None:
    stub = stub_for("portal")
    challenge = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
    assert challenge.to_be_signed == challenge_message(challenge.challenge_id, challenge.nonce)
    assert len(challenge.nonce) == 32
    assert challenge.expires_at.ToDatetime().replace(tzinfo=NOW.tzinfo) == (
        uzi_server.clock.now + uzi_server.verifier.policy.challenge_lifetime
    )
    reply = _verify(
        stub, challenge.challenge_id, uzi.app.chain(), uzi.app.sign(challenge.to_be_signed)
    )
    card = uzi.app.card
    ident = reply.identity
    assert ident.uzi_number == card.uzi_number
    assert ident.card_type == uzi_pb2.UZI_CARD_TYPE_ZORGVERLENER
    assert ident.subscriber_number == card.ura
    assert ident.role == card.role
    assert ident.common_name and ident.organization
    assert reply.certificate_kind == uzi_pb2.UZI_CERTIFICATE_KIND_AUTHENTICATION
    assert reply.certificate_serial == format(card.auth.serial_number, "x")
    assert reply.certificate_issuer == card.auth.issuer.rfc4514_string()
    assert len(reply.chain) >= 2 and reply.chain[0] == card.auth.subject.rfc4514_string()
    assert reply.session_expires_at.ToDatetime().replace(tzinfo=NOW.tzinfo) == (
        uzi_server.clock.now + uzi_server.verifier.policy.session_lifetime
    )
    # The handle opens the registration flow for this portal only.
    portal = uzi_server.identity("portal")
    found = uzi_server.verifier.session(
        reply.session_handle, portal=portal, purpose=PURPOSE_REGISTRATION
    )
    assert found.uzi_number == card.uzi_number


def test_pss_signature_over_grpc(uzi: World, stub_for: StubFor) -> None:
    stub = stub_for("portal")
    challenge = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
    reply = _verify(
        stub,
        challenge.challenge_id,
        uzi.app.chain(),
        uzi.app.sign(challenge.to_be_signed, pss=True),
        scheme=uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PSS_SHA256,
        purpose=uzi_pb2.UZI_PURPOSE_ORGANISATION_VALIDATION,
    )
    assert reply.identity.uzi_number == uzi.app.card.uzi_number


BROKEN = {
    "signature-certificate": errors.SIGNATURE_CERTIFICATE,
    "encryption-certificate": errors.ENCRYPTION_CERTIFICATE,
    "card-type-M": errors.CARD_TYPE_REFUSED,
    "card-type-S": errors.CARD_TYPE_REFUSED,
    "revoked": errors.REVOKED,
    "expired": errors.EXPIRED,
    "garbage": errors.BAD_ENCODING,
}


@pytest.mark.parametrize(("condition", "code"), sorted(BROKEN.items()))
def test_broken_card_is_refused_with_its_code(
    uzi: World, stub_for: StubFor, condition: str, code: str
) -> None:
    stub = stub_for("portal")
    challenge = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
    data = uzi.broken[condition].read_bytes()
    chain = (
        [data]
        if condition == "garbage"
        else [c.public_bytes(Encoding.DER) for c in load_certificates(data)]
    )
    key = uzi.world.broken_keys.get(condition)
    signature = (
        key.sign(challenge.to_be_signed, padding.PKCS1v15(), hashes.SHA256())
        if key is not None
        else b"\0" * 256
    )
    with pytest.raises(grpc.RpcError) as info:
        _verify(stub, challenge.challenge_id, chain, signature)
    _assert_refused(info, code)


def test_replayed_challenge_is_refused(uzi: World, stub_for: StubFor) -> None:
    stub = stub_for("portal")
    challenge = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
    signature = uzi.app.sign(challenge.to_be_signed)
    _verify(stub, challenge.challenge_id, uzi.app.chain(), signature)
    with pytest.raises(grpc.RpcError) as info:
        _verify(stub, challenge.challenge_id, uzi.app.chain(), signature)
    _assert_refused(info, errors.CHALLENGE_USED)


def test_expired_challenge_is_refused(uzi: World, uzi_server: UziServer, stub_for: StubFor) -> None:
    stub = stub_for("portal")
    challenge = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
    start = uzi_server.clock.now
    uzi_server.clock.advance(uzi_server.verifier.policy.challenge_lifetime + timedelta(seconds=1))
    try:
        with pytest.raises(grpc.RpcError) as info:
            _verify(
                stub,
                challenge.challenge_id,
                uzi.app.chain(),
                uzi.app.sign(challenge.to_be_signed),
            )
    finally:
        uzi_server.clock.now = start
    _assert_refused(info, errors.CHALLENGE_EXPIRED)


def test_another_portals_challenge_is_refused(uzi: World, stub_for: StubFor) -> None:
    challenge = stub_for("portal").CreateUziChallenge(
        uzi_pb2.CreateUziChallengeRequest(), timeout=30
    )
    with pytest.raises(grpc.RpcError) as info:
        _verify(
            stub_for(SECOND_PORTAL),
            challenge.challenge_id,
            uzi.app.chain(),
            uzi.app.sign(challenge.to_be_signed),
        )
    _assert_refused(info, errors.CHALLENGE_UNKNOWN)


def test_wrong_signature_is_refused(uzi: World, stub_for: StubFor) -> None:
    stub = stub_for("portal")
    challenge = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
    other = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
    with pytest.raises(grpc.RpcError) as info:
        _verify(stub, challenge.challenge_id, uzi.app.chain(), uzi.app.sign(other.to_be_signed))
    _assert_refused(info, errors.BAD_SIGNATURE)


def test_oversize_chain_is_refused(uzi: World, stub_for: StubFor) -> None:
    stub = stub_for("portal")
    challenge = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
    chain = uzi.app.chain()
    too_many = chain + [chain[-1]] * 8
    with pytest.raises(grpc.RpcError) as info:
        _verify(stub, challenge.challenge_id, too_many, uzi.app.sign(challenge.to_be_signed))
    _assert_refused(info, errors.OVERSIZE_CHAIN)
    # Nothing was consumed by a refusal on size alone: the challenge still works.
    _verify(stub, challenge.challenge_id, chain, uzi.app.sign(challenge.to_be_signed))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("purpose", uzi_pb2.UZI_PURPOSE_UNSPECIFIED),
        ("scheme", uzi_pb2.UZI_SIGNATURE_SCHEME_UNSPECIFIED),
    ],
)
def test_unset_enums_are_malformed_requests(
    uzi: World, stub_for: StubFor, field: str, value: int
) -> None:
    stub = stub_for("portal")
    challenge = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
    with pytest.raises(grpc.RpcError) as info:
        _verify(
            stub,
            challenge.challenge_id,
            uzi.app.chain(),
            uzi.app.sign(challenge.to_be_signed),
            **{field: value},
        )
    _assert_refused(info, "ZID-0005")


@pytest.mark.parametrize("client", ["mobile", "operator", "auditor", "security-officer", "norole"])
def test_non_portal_roles_get_permission_denied(uzi: World, stub_for: StubFor, client: str) -> None:
    stub = stub_for(client)
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
    assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
    _assert_refused(info, "ZID-0003")
    with pytest.raises(grpc.RpcError) as info:
        _verify(stub, "x", uzi.app.chain(), b"\0" * 256)
    _assert_refused(info, "ZID-0003")


def test_oversize_certificate_is_refused(uzi: World, stub_for: StubFor) -> None:
    stub = stub_for("portal")
    challenge = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
    huge = uzi.app.chain()[0] + b"\0" * 9000
    with pytest.raises(grpc.RpcError) as info:
        _verify(stub, challenge.challenge_id, [huge], uzi.app.sign(challenge.to_be_signed))
    _assert_refused(info, errors.OVERSIZE_CHAIN)


def test_unknown_and_malformed_challenge_ids(uzi: World, stub_for: StubFor) -> None:
    stub = stub_for("portal")
    with pytest.raises(grpc.RpcError) as info:
        _verify(stub, "no-such-challenge", uzi.app.chain(), b"\0" * 256)
    _assert_refused(info, errors.CHALLENGE_UNKNOWN)
    for bad in ("", "x" * 65):
        with pytest.raises(grpc.RpcError) as info:
            _verify(stub, bad, uzi.app.chain(), b"\0" * 256)
        _assert_refused(info, "ZID-0005")
