"""Certificate objects on a token: what a smartcard holds beside its keys.

Card software (PKCS#11 middleware, openssl's engine, browsers) finds the
certificate of a key by the ``CKA_ID`` they share, so a certificate is
written as a ``CKO_CERTIFICATE`` of type ``CKC_X_509`` with its key's id
(PKCS#11 v2.40 section 4.6.3). This package knows nothing of X.509: the
caller hands the DER fields the object carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pkcs11 import Attribute, CertificateType, ObjectClass

from hsm import errors
from hsm.objects import find_objects
from hsm.token import Hsm

__all__ = ["CertificateObject", "read_certificates", "store_certificate"]


@dataclass(frozen=True)
class CertificateObject:
    """One X.509 certificate object: the DER certificate and the attributes that find it."""

    label: str
    key_id: bytes
    value: bytes = field(repr=False)
    """The certificate, DER."""
    subject: bytes = field(repr=False)
    """The subject Name, DER (``CKA_SUBJECT``, required for X.509 certificate objects)."""
    issuer: bytes = field(repr=False)
    serial_number: bytes = field(repr=False)
    """The serial number as a DER INTEGER (``CKA_SERIAL_NUMBER``)."""


def _template(cert: CertificateObject) -> dict[Attribute, Any]:
    return {
        Attribute.CLASS: ObjectClass.CERTIFICATE,
        Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: False,
        Attribute.MODIFIABLE: False,
        Attribute.LABEL: cert.label,
        Attribute.ID: cert.key_id,
        Attribute.SUBJECT: cert.subject,
        Attribute.ISSUER: cert.issuer,
        Attribute.SERIAL_NUMBER: cert.serial_number,
        Attribute.VALUE: cert.value,
    }


def store_certificate(hsm: Hsm, cert: CertificateObject) -> None:
    """Write *cert* onto the token as a public token object next to its key.

    Refuses (:class:`~hsm.errors.KeyExists`) when a different certificate holds
    the label or id; the same certificate already there (a retried write) is left.
    """

    def run(session: Any) -> None:
        for what, selector in (
            (f"label {cert.label!r}", {Attribute.LABEL: cert.label}),
            (f"id {cert.key_id.hex()}", {Attribute.ID: cert.key_id}),
        ):
            found = find_objects(session, {Attribute.CLASS: ObjectClass.CERTIFICATE, **selector})
            if [bytes(obj[Attribute.VALUE]) for obj in found] == [cert.value]:
                return
            if found:
                raise errors.KeyExists(
                    f"token {hsm.token_label!r} already holds another certificate with {what}; "
                    "destroy it first or write the certificate under its own key id"
                )
        session.create_object(_template(cert))

    hsm._call("store-certificate", run)


def read_certificates(hsm: Hsm) -> list[CertificateObject]:
    """Every X.509 certificate object on the token, by key id."""

    def run(session: Any) -> list[CertificateObject]:
        found = find_objects(
            session,
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
            },
        )
        return [
            CertificateObject(
                label=str(obj[Attribute.LABEL]),
                key_id=bytes(obj[Attribute.ID]),
                value=bytes(obj[Attribute.VALUE]),
                subject=bytes(obj[Attribute.SUBJECT]),
                issuer=bytes(obj[Attribute.ISSUER]),
                serial_number=bytes(obj[Attribute.SERIAL_NUMBER]),
            )
            for obj in found
        ]

    return sorted(hsm._call("find", run), key=lambda c: c.key_id)
