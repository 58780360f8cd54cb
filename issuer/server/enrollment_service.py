"""``zorgid.v1.EnrollmentService``: the mobile gateway redeems a registration QR."""

from __future__ import annotations

import grpc

from issuer.api.zorgid.v1 import enrollment_pb2, enrollment_pb2_grpc
from issuer.issuance.runtime import IssuanceRuntime
from issuer.server.certificate_service import actor_for, certificate_message

_METHOD = "/zorgid.v1.EnrollmentService/RedeemEnrollment"


class EnrollmentServicer(enrollment_pb2_grpc.EnrollmentServiceServicer):
    """Protobuf in, :meth:`issuer.enrolment.redeem.Redeemer.redeem`, protobuf out."""

    def __init__(self, runtime: IssuanceRuntime) -> None:
        self._runtime = runtime

    def RedeemEnrollment(
        self, request: enrollment_pb2.RedeemEnrollmentRequest, context: grpc.ServicerContext
    ) -> enrollment_pb2.RedeemEnrollmentResponse:
        built = self._runtime.get()
        result = built.redeemer.redeem(request.token, request.csr, actor=actor_for(_METHOD))
        return enrollment_pb2.RedeemEnrollmentResponse(
            certificate=certificate_message(result.certificate),
            chain=list(built.chain_der),
            replayed=result.replayed,
        )
