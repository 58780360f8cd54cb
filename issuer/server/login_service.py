"""``zorgid.v1.LoginService`` (flow 3): thin servicer over :mod:`issuer.flows.login`."""

from __future__ import annotations

from datetime import UTC

import grpc

from issuer.api.zorgid.v1 import login_pb2, login_pb2_grpc
from issuer.errors import Code, ZorgIdError
from issuer.flows import login as flow
from issuer.flows import revocation
from issuer.flows.common import FlowDeps
from issuer.server.certificate_service import actor_for, certificate_message
from issuer.server.registration_service import portal_for, qr_message, timestamp

_SERVICE = "/zorgid.v1.LoginService/"
_STATES = {
    "pending": login_pb2.LOGIN_STATE_PENDING,
    "authenticated": login_pb2.LOGIN_STATE_AUTHENTICATED,
    "expired": login_pb2.LOGIN_STATE_EXPIRED,
    "refused": login_pb2.LOGIN_STATE_REFUSED,
}


class LoginServicer(login_pb2_grpc.LoginServiceServicer):
    """Protobuf in, :mod:`issuer.flows.login`, protobuf out."""

    def __init__(self, deps: FlowDeps) -> None:
        self._deps = deps

    def CreateLoginChallenge(
        self, request: login_pb2.CreateLoginChallengeRequest, context: grpc.ServicerContext
    ) -> login_pb2.CreateLoginChallengeResponse:
        made = flow.create_login_challenge(
            self._deps, portal=portal_for(_SERVICE + "CreateLoginChallenge")
        )
        return login_pb2.CreateLoginChallengeResponse(
            challenge_id=made.id, expires_at=timestamp(made.expires_at), qr=qr_message(made.qr)
        )

    def GetLoginChallenge(
        self, request: login_pb2.GetLoginChallengeRequest, context: grpc.ServicerContext
    ) -> login_pb2.GetLoginChallengeResponse:
        status = flow.get_login_challenge(
            self._deps,
            portal=portal_for(_SERVICE + "GetLoginChallenge"),
            challenge_id=request.challenge_id,
        )
        reply = login_pb2.GetLoginChallengeResponse(
            state=_STATES[status.state],
            expires_at=timestamp(status.expires_at),
            session_handle=status.session_handle or "",
            session_expires_at=timestamp(status.session_expires_at),
            person_id=status.person_id or "",
            mobile_id=status.mobile_id or "",
            certificate_id=status.certificate_id or "",
            certificate_serial=status.certificate_serial or "",
            refusal_code=status.refusal_code or "",
        )
        attrs = status.attributes
        if attrs is not None:
            reply.attributes.CopyFrom(
                login_pb2.LoginAttributes(
                    uzi_number=attrs.uzi_number,
                    card_type=attrs.card_type,
                    ura=attrs.subscriber_number,
                    role=attrs.role,
                    agb_code=attrs.agb_code,
                    given_name=attrs.given_name,
                    surname=attrs.surname,
                    common_name=attrs.common_name,
                    organization=attrs.organization,
                )
            )
        return reply

    def DescribeLoginChallenge(
        self, request: login_pb2.DescribeLoginChallengeRequest, context: grpc.ServicerContext
    ) -> login_pb2.DescribeLoginChallengeResponse:
        described = flow.describe_login_challenge(self._deps, challenge_id=request.challenge_id)
        return login_pb2.DescribeLoginChallengeResponse(
            portal_identity=described.portal_identity,
            portal_name=described.portal_name,
            nonce=described.nonce,
            expires_at=timestamp(described.expires_at),
        )

    def AnswerLoginChallenge(
        self, request: login_pb2.AnswerLoginChallengeRequest, context: grpc.ServicerContext
    ) -> login_pb2.AnswerLoginChallengeResponse:
        if not request.HasField("signed_at"):
            raise ZorgIdError(Code.ZID_0005, "signed_at: not set; expected the time in t= (UTC)")
        try:
            signed_at = request.signed_at.ToDatetime(tzinfo=UTC)
        except (ValueError, OverflowError):
            raise ZorgIdError(Code.ZID_0005, "signed_at: not a valid time (years 1-9999)") from None
        flow.answer_login_challenge(
            self._deps,
            actor=actor_for(_SERVICE + "AnswerLoginChallenge"),
            challenge_id=request.challenge_id,
            certificate_der=request.certificate,
            signature=request.signature,
            signed_at=signed_at,
        )
        return login_pb2.AnswerLoginChallengeResponse()

    def RevokeCertificateWithSession(
        self,
        request: login_pb2.RevokeCertificateWithSessionRequest,
        context: grpc.ServicerContext,
    ) -> login_pb2.RevokeCertificateWithSessionResponse:
        revoked = revocation.revoke_with_session(
            self._deps,
            portal=portal_for(_SERVICE + "RevokeCertificateWithSession"),
            login_session_handle=request.login_session_handle,
            certificate_id=request.certificate_id,
            reason=int(request.reason),
        )
        return login_pb2.RevokeCertificateWithSessionResponse(
            certificate=certificate_message(revoked)
        )

    def EndLoginSession(
        self, request: login_pb2.EndLoginSessionRequest, context: grpc.ServicerContext
    ) -> login_pb2.EndLoginSessionResponse:
        ended = flow.end_login_session(
            self._deps,
            portal=portal_for(_SERVICE + "EndLoginSession"),
            handle=request.login_session_handle,
        )
        return login_pb2.EndLoginSessionResponse(ended=ended)
