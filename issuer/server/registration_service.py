"""``zorgid.v1.RegistrationService`` (flow 2) and the protobuf helpers the flow services share.

Thin (STYLE.md): protobuf in, one :mod:`issuer.flows` call, protobuf out. The
portal a registration is bound to is ``current_caller().identity`` (the
SHA-256 of its verified TLS certificate), never anything the caller writes.

The four flow services share one :class:`~issuer.flows.common.FlowDeps`,
built in :mod:`issuer.wiring` (``flow_deps``, ``build_evidence_verifier``).
"""

from __future__ import annotations

from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from issuer.api.zorgid.v1 import registration_pb2, registration_pb2_grpc
from issuer.flows import registration as flow
from issuer.flows.common import FlowDeps, Portal
from issuer.qr import RenderedQr
from issuer.server.certificate_service import actor_for
from issuer.server.roles import current_caller
from issuer.server.uzi_service import _identity

_SERVICE = "/zorgid.v1.RegistrationService/"
_STATES = {
    "started": registration_pb2.REGISTRATION_STATE_STARTED,
    "data_entered": registration_pb2.REGISTRATION_STATE_DATA_ENTERED,
    "confirmed": registration_pb2.REGISTRATION_STATE_CONFIRMED,
    "redeemed": registration_pb2.REGISTRATION_STATE_REDEEMED,
    "cancelled": registration_pb2.REGISTRATION_STATE_CANCELLED,
    "expired": registration_pb2.REGISTRATION_STATE_EXPIRED,
}


def timestamp(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def portal_for(method: str) -> Portal:
    """The calling portal of the current RPC (identity from the verified TLS peer)."""
    caller = current_caller()
    return Portal(identity=caller.identity, name=caller.subject, actor=actor_for(method, caller))


def qr_message(qr: RenderedQr) -> registration_pb2.QrCode:
    return registration_pb2.QrCode(payload=qr.payload, png=qr.png, svg=qr.svg.decode("utf-8"))


def registration_message(view: flow.RegistrationView) -> registration_pb2.Registration:
    return registration_pb2.Registration(
        id=view.id,
        state=_STATES[view.state],
        terms_version=view.terms_version,
        identity=_identity(view.identity),
        organization_name=view.organisation_name,
        birth_date=view.date_of_birth.isoformat() if view.date_of_birth else "",
        summary_digest=view.summary_digest,
        expires_at=timestamp(view.expires_at),
        qr_expires_at=timestamp(view.token_expires_at),
        certificate_id=view.certificate_id or "",
        registration_record_id=view.registration_id or "",
    )


class RegistrationServicer(registration_pb2_grpc.RegistrationServiceServicer):
    """Protobuf in, :mod:`issuer.flows.registration`, protobuf out."""

    def __init__(self, deps: FlowDeps) -> None:
        self._deps = deps

    def GetTerms(
        self, request: registration_pb2.GetTermsRequest, context: grpc.ServicerContext
    ) -> registration_pb2.GetTermsResponse:
        terms = flow.get_terms(self._deps.policy().policy, request.version or None)
        return registration_pb2.GetTermsResponse(version=terms.version, text=terms.text)

    def StartRegistration(
        self, request: registration_pb2.StartRegistrationRequest, context: grpc.ServicerContext
    ) -> registration_pb2.StartRegistrationResponse:
        view = flow.start_registration(
            self._deps,
            portal=portal_for(_SERVICE + "StartRegistration"),
            terms_version=request.terms_version,
            uzi_session=request.uzi_session_handle,
        )
        return registration_pb2.StartRegistrationResponse(registration=registration_message(view))

    def SetBirthDate(
        self, request: registration_pb2.SetBirthDateRequest, context: grpc.ServicerContext
    ) -> registration_pb2.SetBirthDateResponse:
        view = flow.set_birth_date(
            self._deps,
            portal=portal_for(_SERVICE + "SetBirthDate"),
            registration_id=request.registration_id,
            birth_date=request.birth_date,
        )
        return registration_pb2.SetBirthDateResponse(registration=registration_message(view))

    def ConfirmRegistration(
        self, request: registration_pb2.ConfirmRegistrationRequest, context: grpc.ServicerContext
    ) -> registration_pb2.ConfirmRegistrationResponse:
        done = flow.confirm_registration(
            self._deps,
            portal=portal_for(_SERVICE + "ConfirmRegistration"),
            registration_id=request.registration_id,
            summary_digest=request.summary_digest,
        )
        return registration_pb2.ConfirmRegistrationResponse(
            registration=registration_message(done.view), qr=qr_message(done.qr)
        )

    def GetRegistration(
        self, request: registration_pb2.GetRegistrationRequest, context: grpc.ServicerContext
    ) -> registration_pb2.GetRegistrationResponse:
        view = flow.get_registration(
            self._deps,
            portal=portal_for(_SERVICE + "GetRegistration"),
            registration_id=request.registration_id,
        )
        return registration_pb2.GetRegistrationResponse(registration=registration_message(view))
