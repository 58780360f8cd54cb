"""Every lifetime of the flows moved by the injected clock, and every flow method's role rule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest

from issuer.api.zorgid.v1 import (
    attribute_pb2,
    login_pb2,
    organization_pb2,
    registration_pb2,
    smartcard_pb2,
    uzi_pb2,
)
from issuer.config import Role
from issuer.server.roles import METHOD_ROLES
from tests.flows.conftest import Engine, rpc_code


def test_uzi_challenge_and_session_lifetimes(eng: Engine) -> None:
    eng.register_org()
    app = eng.cards.app()
    challenge = eng.portal.uzi.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest())
    eng.clock.advance(timedelta(seconds=121))  # policy qr.uzi_challenge_seconds = 120
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.uzi.VerifyUziCard(
            uzi_pb2.VerifyUziCardRequest(
                challenge_id=challenge.challenge_id,
                certificate_chain=app.chain(),
                signature=app.sign(challenge.to_be_signed),
                signature_scheme=uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256,
                purpose=uzi_pb2.UZI_PURPOSE_REGISTRATION,
            )
        )
    assert rpc_code(err.value)[1].startswith("ZID-11")
    handle = eng.uzi_session(app, uzi_pb2.UZI_PURPOSE_REGISTRATION)
    eng.clock.advance(timedelta(seconds=900))  # policy qr.uzi_session_seconds
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.reg.StartRegistration(
            registration_pb2.StartRegistrationRequest(
                terms_version="2026-1", uzi_session_handle=handle
            )
        )
    assert rpc_code(err.value)[1] == "ZID-1122"


def test_unconfirmed_registration_lapses(eng: Engine) -> None:
    eng.register_org()
    started = eng.start(eng.cards.app())
    eng.clock.advance(timedelta(minutes=30))
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.reg.SetBirthDate(
            registration_pb2.SetBirthDateRequest(
                registration_id=started.id, birth_date="15-03-1980"
            )
        )
    assert rpc_code(err.value) == (grpc.StatusCode.DEADLINE_EXCEEDED, "ZID-1610")
    polled = eng.portal.reg.GetRegistration(
        registration_pb2.GetRegistrationRequest(registration_id=started.id)
    )
    assert polled.registration.state == registration_pb2.REGISTRATION_STATE_EXPIRED


def test_login_session_lapses(eng: Engine) -> None:
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    handle = eng.login(phone, der).session_handle
    eng.clock.advance(timedelta(minutes=15))
    uzi = eng.uzi_session(
        eng.cards.app(), uzi_pb2.UZI_PURPOSE_ATTRIBUTE_REGISTRATION
    )  # a live UZI session, a dead login session
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.attrs.RegisterAttributes(
            attribute_pb2.RegisterAttributesRequest(
                login_session_handle=handle, uzi_session_handle=uzi
            )
        )
    assert rpc_code(err.value) == (grpc.StatusCode.UNAUTHENTICATED, "ZID-1709")


_REQUESTS: dict[str, Any] = {
    "RegistrationService": registration_pb2,
    "LoginService": login_pb2,
    "OrganizationService": organization_pb2,
    "AttributeService": attribute_pb2,
    "SmartcardService": smartcard_pb2,
}
FLOW_METHODS = sorted(
    m for m in METHOD_ROLES if m.split("/")[1].removeprefix("zorgid.v1.") in _REQUESTS
)


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_every_other_role_is_refused(eng: Engine, method: str) -> None:
    service, name = method.split("/")[1].removeprefix("zorgid.v1."), method.split("/")[2]
    module = _REQUESTS[service]
    allowed = METHOD_ROLES[method]
    # One role a method, except ApproveAdministrator and RevokeSmartcard (operator, or
    # portal for a logged-in person).
    assert isinstance(allowed, frozenset) and len(allowed) == (
        2 if name in ("ApproveAdministrator", "RevokeSmartcard") else 1
    )
    for role in Role:
        if role in allowed:
            continue
        call = eng.channel(role.value).unary_unary(
            method,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=lambda b: b,
        )
        with pytest.raises(grpc.RpcError) as err:
            call(getattr(module, f"{name}Request")(), timeout=30)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, (method, role)
