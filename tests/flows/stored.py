"""What the engine stored about a certificate, read as a relying party would see it."""

from __future__ import annotations

import sqlalchemy as sa
from cryptography import x509
from cryptography.x509 import ocsp

from issuer.store.schema import certificates, ocsp_responses
from tests.flows.conftest import Engine


def serial_of(der: bytes) -> str:
    """The store's serial: lowercase hex of the certificate's serial number."""
    return format(x509.load_der_x509_certificate(der).serial_number, "x")


def stored_status(eng: Engine, der: bytes) -> tuple[str, str | None]:
    """The certificate's status and revocation reason in the store."""
    with eng.db.connect() as conn:
        row = conn.execute(
            sa.select(certificates.c.status, certificates.c.revocation_reason).where(
                certificates.c.serial == serial_of(der)
            )
        ).one()
    return row.status, row.revocation_reason


def stored_ocsp_status(eng: Engine, der: bytes) -> ocsp.OCSPCertStatus:
    """The status in the engine's pre-signed OCSP response for the certificate."""
    with eng.db.connect() as conn:
        answer = conn.execute(
            sa.select(ocsp_responses.c.der).where(ocsp_responses.c.serial == serial_of(der))
        ).scalar_one()
    serial = x509.load_der_x509_certificate(der).serial_number
    answers = ocsp.load_der_ocsp_response(bytes(answer)).responses
    return next(a.certificate_status for a in answers if a.serial_number == serial)
