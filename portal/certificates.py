"""The logged-in person's certificates, as the overview (figure 17) lists them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from issuer.api.zorgid.v1 import certificate_pb2
from portal.engine import EngineClient

_REASONS = {
    certificate_pb2.REVOCATION_REASON_UNSPECIFIED: "unspecified",
    certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE: "key_compromise",
    certificate_pb2.REVOCATION_REASON_AFFILIATION_CHANGED: "affiliation_changed",
    certificate_pb2.REVOCATION_REASON_SUPERSEDED: "superseded",
    certificate_pb2.REVOCATION_REASON_CESSATION_OF_OPERATION: "cessation_of_operation",
    certificate_pb2.REVOCATION_REASON_CERTIFICATE_HOLD: "certificate_hold",
    certificate_pb2.REVOCATION_REASON_PRIVILEGE_WITHDRAWN: "privilege_withdrawn",
}


@dataclass(frozen=True)
class Listed:
    """One certificate as a row of the overview."""

    serial: str
    good: bool
    not_after: str
    reason: str
    this_phone: bool


async def of_person(engine: EngineClient, person_id: str, mobile_id: str) -> list[Listed]:
    """Every certificate of the logged-in person (every phone they registered), newest
    first; ``mobile_id`` marks the ones of the phone they logged in with."""
    listed = await engine.call(
        engine.certificate.ListCertificates,
        certificate_pb2.ListCertificatesRequest(person_id=person_id),
    )
    return [
        Listed(
            serial=c.serial,
            good=c.status == certificate_pb2.CERTIFICATE_STATUS_GOOD,
            not_after=c.not_after.ToDatetime(tzinfo=UTC).strftime("%d-%m-%Y"),
            reason=_REASONS.get(c.revocation_reason, "unspecified")
            if c.status == certificate_pb2.CERTIFICATE_STATUS_REVOKED
            else "",
            this_phone=c.mobile_id == mobile_id,
        )
        for c in listed.certificates
    ]
