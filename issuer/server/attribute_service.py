"""``zorgid.v1.AttributeService`` (flow 5): thin servicer over :mod:`issuer.flows.attributes`."""

from __future__ import annotations

from datetime import UTC

import grpc

from issuer.api.zorgid.v1 import attribute_pb2, attribute_pb2_grpc
from issuer.errors import Code, ZorgIdError
from issuer.flows import attributes as flow
from issuer.flows import login
from issuer.flows.common import FlowDeps
from issuer.server.certificate_service import certificate_message
from issuer.server.registration_service import portal_for

_SERVICE = "/zorgid.v1.AttributeService/"


class AttributeServicer(attribute_pb2_grpc.AttributeServiceServicer):
    """Protobuf in, :mod:`issuer.flows.attributes`, protobuf out."""

    def __init__(self, deps: FlowDeps) -> None:
        self._deps = deps

    def RegisterAttributes(
        self, request: attribute_pb2.RegisterAttributesRequest, context: grpc.ServicerContext
    ) -> attribute_pb2.RegisterAttributesResponse:
        done = flow.register_attributes(
            self._deps,
            portal=portal_for(_SERVICE + "RegisterAttributes"),
            login_session_handle=request.login_session_handle,
            uzi_session=request.uzi_session_handle,
        )
        return attribute_pb2.RegisterAttributesResponse(
            certificate=certificate_message(done.certificate),
            superseded=certificate_message(done.superseded),
        )

    def GetCurrentCertificate(
        self, request: attribute_pb2.GetCurrentCertificateRequest, context: grpc.ServicerContext
    ) -> attribute_pb2.GetCurrentCertificateResponse:
        spki_sha256 = request.spki_sha256.lower()
        signed_at = None
        if request.HasField("signed_at"):
            try:
                signed_at = request.signed_at.ToDatetime(tzinfo=UTC)
            except (ValueError, OverflowError):
                raise ZorgIdError(Code.ZID_1851, "signed_at: not a valid time") from None
        login.check_key_proof(
            self._deps, spki_sha256=spki_sha256, signature=request.signature, signed_at=signed_at
        )
        cert = flow.current_certificate(self._deps, spki_sha256=spki_sha256)
        return attribute_pb2.GetCurrentCertificateResponse(
            certificate=certificate_message(cert), chain=list(self._deps.chain())
        )
