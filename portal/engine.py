"""The portal's only way into the engine: the generated gRPC stubs over mTLS.

Refusals come back as :class:`Refusal` with the catalogue code and the engine's own
texts per language, so every page can show what the engine said.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

from issuer.api.zorgid.v1 import (
    attribute_pb2_grpc,
    certificate_pb2_grpc,
    errors_pb2_grpc,
    login_pb2,
    login_pb2_grpc,
    organization_pb2_grpc,
    registration_pb2_grpc,
    smartcard_pb2_grpc,
    uzi_pb2_grpc,
)

STATUS_DETAILS = "grpc-status-details-bin"


@dataclass  # not frozen: raising sets attributes on an exception
class Refusal(Exception):
    """A call the engine refused: its ZID code and its texts by locale."""

    code: str
    texts: dict[str, str]

    def text(self, lang: str) -> str:
        return self.texts.get(lang) or self.texts.get("en") or next(iter(self.texts.values()), "")


@dataclass(frozen=True)
class Challenge:
    """A login QR as the engine made it."""

    challenge_id: str
    payload: str
    expires_at: datetime


@dataclass(frozen=True)
class LoginStatus:
    """The engine's answer to a poll: the state and, once logged in, who."""

    state: str
    expires_at: datetime
    refusal_code: str = ""
    session_handle: str = ""
    person: dict[str, str] | None = None


_STATES = {
    login_pb2.LOGIN_STATE_PENDING: "pending",
    login_pb2.LOGIN_STATE_AUTHENTICATED: "authenticated",
    login_pb2.LOGIN_STATE_EXPIRED: "expired",
    login_pb2.LOGIN_STATE_REFUSED: "refused",
}

ATTRIBUTES = (
    "common_name",
    "given_name",
    "surname",
    "organization",
    "uzi_number",
    "card_type",
    "ura",
    "role",
    "agb_code",
)


def refusal_from(err: grpc.aio.AioRpcError) -> Refusal:
    """The ZID code (ErrorInfo.reason) and LocalizedMessage texts of a refused call."""
    code, texts = "", {}
    metadata: Any = err.trailing_metadata() or ()  # aio yields (key, value) pairs
    for key, value in metadata:
        if key != STATUS_DETAILS or not isinstance(value, bytes):
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                code = info.reason
            elif detail.Is(error_details_pb2.LocalizedMessage.DESCRIPTOR):
                msg = error_details_pb2.LocalizedMessage()
                detail.Unpack(msg)
                texts[msg.locale.split("-")[0]] = msg.message
    if not texts:
        texts["en"] = err.details() or str(err.code())
    return Refusal(code or str(err.code().name), texts)


class EngineClient:
    """One mTLS channel to the engine as the portal.

    A screen calls ``await engine.call(engine.registration.StartRegistration, request)``:
    one place turns a refused call into a :class:`Refusal` and sets the deadline.
    """

    def __init__(
        self, target: str, *, cert: Path, key: Path, ca: Path, server_name: str = ""
    ) -> None:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca.read_bytes(),
            private_key=key.read_bytes(),
            certificate_chain=cert.read_bytes(),
        )
        options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
        self._channel = grpc.aio.secure_channel(target, credentials, options=options)
        channel = self._channel
        self.login: Any = login_pb2_grpc.LoginServiceStub(channel)  # type: ignore[no-untyped-call]
        self.uzi: Any = uzi_pb2_grpc.UziServiceStub(channel)  # type: ignore[no-untyped-call]
        self.registration: Any = registration_pb2_grpc.RegistrationServiceStub(channel)  # type: ignore[no-untyped-call]
        self.organization: Any = organization_pb2_grpc.OrganizationServiceStub(channel)  # type: ignore[no-untyped-call]
        self.attribute: Any = attribute_pb2_grpc.AttributeServiceStub(channel)  # type: ignore[no-untyped-call]
        self.certificate: Any = certificate_pb2_grpc.CertificateServiceStub(channel)  # type: ignore[no-untyped-call]
        self.smartcard: Any = smartcard_pb2_grpc.SmartcardServiceStub(channel)  # type: ignore[no-untyped-call]
        self.errors: Any = errors_pb2_grpc.ErrorCatalogueServiceStub(channel)  # type: ignore[no-untyped-call]

    async def call(self, method: Any, request: Any, *, timeout: float = 30) -> Any:
        """One unary call; a refusal raises :class:`Refusal` with the engine's code and texts."""
        try:
            return await method(request, timeout=timeout)
        except grpc.aio.AioRpcError as err:
            raise refusal_from(err) from err

    async def close(self) -> None:
        await self._channel.close(grace=None)

    async def create_login(self) -> Challenge:
        made = await self.call(
            self.login.CreateLoginChallenge, login_pb2.CreateLoginChallengeRequest()
        )
        return Challenge(made.challenge_id, made.qr.payload, made.expires_at.ToDatetime(tzinfo=UTC))

    async def poll_login(self, challenge_id: str) -> LoginStatus:
        got = await self.call(
            self.login.GetLoginChallenge,
            login_pb2.GetLoginChallengeRequest(challenge_id=challenge_id),
        )
        state = _STATES.get(got.state, "pending")
        person = None
        if state == "authenticated":
            person = {name: getattr(got.attributes, name) for name in ATTRIBUTES}
            person["certificate_serial"] = got.certificate_serial
            person["mobile_id"] = got.mobile_id
            person["person_id"] = got.person_id
            if got.HasField("session_expires_at"):
                person["session_expires_at"] = got.session_expires_at.ToDatetime(
                    tzinfo=UTC
                ).isoformat(timespec="seconds")
        return LoginStatus(
            state=state,
            expires_at=got.expires_at.ToDatetime(tzinfo=UTC),
            refusal_code=got.refusal_code,
            session_handle=got.session_handle,
            person=person,
        )
