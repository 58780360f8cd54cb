"""``zorgid.v1.OcspService``: OCSP answers over gRPC for callers inside the trust boundary.

Thin: bytes in, :meth:`ocsp.responder.Responder.answer` (the same logic and the
same pre-signed responses as HTTP), bytes out. OCSP-level errors are answers
(RFC 6960 §2.3), not gRPC errors; only an empty or oversize request is refused
(ZID-0005), as HTTP refuses it with 413.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Final, Protocol

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from issuer.api.zorgid.v1 import ocsp_pb2, ocsp_pb2_grpc
from issuer.errors import Code, ZorgIdError
from ocsp.front import MAX_REQUEST_BYTES
from ocsp.responder import Answer

if TYPE_CHECKING:
    from issuer.issuance.runtime import IssuanceRuntime


class Answering(Protocol):
    """What the servicer needs: RFC 6960 request bytes in, an answer out (never raises)."""

    def answer(self, request_der: bytes) -> Answer: ...


class RuntimeResponder:
    """The responder of the OCSP service that the issuance runtime wired for the active policy.

    ``zorgid serve`` opens the HSM lazily through :class:`IssuanceRuntime`; answering
    through it keeps one HSM login, one database engine and one pre-signing service per
    process, so gRPC callers see exactly what HTTP relying parties see.
    """

    def __init__(self, runtime: IssuanceRuntime) -> None:
        self._runtime = runtime

    def answer(self, request_der: bytes) -> Answer:
        from issuer.ocsp_service import OcspService

        hooks = self._runtime.get().cycle.hooks
        if not isinstance(hooks, OcspService):
            raise ZorgIdError(Code.ZID_0004, "OCSP pre-signing is not enabled in this process")
        return hooks.responder.answer(request_der)


_OUTCOMES: Final = {
    "successful": ocsp_pb2.OCSP_OUTCOME_SUCCESSFUL,
    "malformedRequest": ocsp_pb2.OCSP_OUTCOME_MALFORMED_REQUEST,
    "unauthorized": ocsp_pb2.OCSP_OUTCOME_UNAUTHORIZED,
    "tryLater": ocsp_pb2.OCSP_OUTCOME_TRY_LATER,
}


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def to_proto(answer: Answer) -> ocsp_pb2.GetOcspResponseResponse:
    reply = ocsp_pb2.GetOcspResponseResponse(
        ocsp_response=answer.der, outcome=_OUTCOMES[answer.outcome]
    )
    if answer.cacheable and answer.next_update is not None:
        reply.next_update.CopyFrom(_timestamp(answer.next_update))
    if answer.produced_at is not None:
        reply.produced_at.CopyFrom(_timestamp(answer.produced_at))
    return reply


class OcspServicer(ocsp_pb2_grpc.OcspServiceServicer):
    """Protobuf in, :class:`Responder` call, protobuf out."""

    def __init__(self, responder: Answering) -> None:
        self._responder = responder

    def GetOcspResponse(
        self, request: ocsp_pb2.GetOcspResponseRequest, context: grpc.ServicerContext
    ) -> ocsp_pb2.GetOcspResponseResponse:
        size = len(request.ocsp_request)
        if not 0 < size <= MAX_REQUEST_BYTES:
            raise ZorgIdError(
                Code.ZID_0005,
                f"ocsp_request: got {size} bytes, expected 1..{MAX_REQUEST_BYTES} "
                "(one DER OCSPRequest)",
            )
        return to_proto(self._responder.answer(request.ocsp_request))


def add_to_server(responder: Answering) -> Callable[[grpc.Server], None]:
    servicer = OcspServicer(responder)
    add: Callable[[OcspServicer, grpc.Server], None] = (
        ocsp_pb2_grpc.add_OcspServiceServicer_to_server
    )
    return lambda server: add(servicer, server)
