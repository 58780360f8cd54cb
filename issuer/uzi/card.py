"""Reading a UZI-pas certificate: the UZI identity, the subject and which certificate it is.

Facts from ``docs/uzi-profile.md`` (UZI-register CPS v10.2): the identity is
the ``otherName`` ``2.5.5.5`` in the subjectAltName (RFC 5280 section
4.2.1.6), an ``IA5String`` of seven dash-separated fields; the subject's
``serialNumber`` repeats the UZI number; key usage and policy OID tell the
three certificates of a card apart. Every field is checked against its form
here, so that later code can trust the NewType'd values.

This module reads and checks *structure only*; whether the issuing CA is
trusted and agrees with the card type is decided by :mod:`issuer.uzi.verify`
after the chain has been validated.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from issuer import uzi_vocabulary as vocabulary
from issuer.errors import Code
from issuer.uzi import errors
from issuer.uzi.errors import UziError
from issuer.uzi_vocabulary import (
    AgbCode,
    CaOid,
    CardType,
    RoleCode,
    Ura,
    UziName,
    UziNameError,
    UziNumber,
    read_uzi_other_name,
)
from issuer.x509util import Defect, Part, X509ParseError, parse_certificate_fully, parsing

MS_UPN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
MAX_CERTIFICATE_BYTES = 16 * 1024
"""A UZI card certificate is about 1.7 kB; anything far larger is refused unread."""


class CertKind(enum.StrEnum):
    """Which of a card's three certificates this is."""

    AUTHENTICATION = "authentication"
    SIGNATURE = "signature"
    ENCRYPTION = "encryption"


@dataclass(frozen=True, kw_only=True)
class UziIdentity:
    """Who the card says its holder is: the facts the engine copies into a mobile ID."""

    uzi_number: UziNumber
    card_type: CardType
    subscriber_number: Ura
    role: RoleCode
    agb_code: AgbCode
    given_name: str | None
    surname: str | None
    common_name: str
    title: str | None
    organization: str


@dataclass(frozen=True, kw_only=True)
class UziCard:
    """One parsed UZI-pas certificate: identity plus the certificate facts."""

    identity: UziIdentity
    kind: CertKind
    ca_oid: CaOid
    policy_oids: frozenset[str]
    issuer: str
    serial: int
    not_before: datetime
    not_after: datetime
    certificate: x509.Certificate = field(repr=False, compare=False)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(Encoding.DER)


_DEFECT_CODES: Final[Mapping[Defect, Code]] = {
    Defect.DUPLICATE_EXTENSION: errors.DUPLICATE_EXTENSION,
    Defect.NAME_ATTRIBUTE_TYPE: errors.BAD_NAME_ATTRIBUTE,
    Defect.GENERAL_NAME_TYPE: errors.UNSUPPORTED_GENERAL_NAME,
}
"""The defects with a refusal of their own; any other parse defect is ZID-1101 (unreadable)."""


def _refusal(exc: X509ParseError, data_len: int | None = None) -> UziError:
    """The card refusal for a parse defect (issue 16, item 7: never an internal error)."""
    code = _DEFECT_CODES.get(exc.defect, errors.BAD_ENCODING)
    if exc.part is Part.ENCODING and data_len is not None:
        return UziError(
            code,
            f"got {data_len} bytes that are not an X.509 certificate ({exc.detail}); "
            "expected DER or PEM",
        )
    return UziError(code, f"certificate has a malformed or unsupported field: {exc}")


def load_certificate(data: bytes) -> x509.Certificate:
    """Read one certificate from DER or PEM, every field parsed; hostile input gets its code."""
    if len(data) > 4 * MAX_CERTIFICATE_BYTES:
        raise UziError(
            errors.OVERSIZE_CHAIN,
            f"certificate input is {len(data)} bytes; at most {4 * MAX_CERTIFICATE_BYTES} read",
        )
    try:
        with parsing(Part.ENCODING):
            if data.lstrip().startswith(b"-----BEGIN"):
                cert = x509.load_pem_x509_certificate(data)
            else:
                cert = x509.load_der_x509_certificate(data)
        parse_certificate_fully(cert)
    except X509ParseError as exc:
        raise _refusal(exc, len(data)) from None
    return cert


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Read a PEM bundle (one or more certificates) or a single DER certificate."""
    if not data.lstrip().startswith(b"-----BEGIN"):
        return [load_certificate(data)]
    try:
        with parsing(Part.ENCODING):
            certs = x509.load_pem_x509_certificates(data)
        for cert in certs:
            parse_certificate_fully(cert)
    except X509ParseError as exc:
        raise _refusal(exc) from None
    return certs


def parse_uzi_name(text: str) -> UziName:
    """The vocabulary's check of the UZI SAN string, refused with the card code ZID-1102."""
    try:
        return vocabulary.parse_uzi_name(text)
    except UziNameError as exc:
        raise UziError(errors.BAD_UZI_NAME, str(exc)) from None


def _uzi_other_name(cert: x509.Certificate) -> str:
    """The vocabulary's otherName reader, refused with the card code."""
    try:
        return read_uzi_other_name(cert)
    except UziNameError as exc:
        raise UziError(errors.BAD_UZI_NAME, str(exc)) from None


def _single(name: x509.Name, oid: x509.ObjectIdentifier, label: str) -> str | None:
    attrs = name.get_attributes_for_oid(oid)
    if len(attrs) > 1:
        raise UziError(errors.BAD_SUBJECT, f"subject has {len(attrs)} {label}; expected one")
    if not attrs:
        return None
    value = attrs[0].value
    if not isinstance(value, str) or not value.strip():
        raise UziError(errors.BAD_SUBJECT, f"subject {label} is empty or not a string")
    return value


def classify(cert: x509.Certificate) -> CertKind:
    """Which of the card's three certificates this is, from its key usage (profile table).

    authentication: digitalSignature without nonRepudiation; signature:
    nonRepudiation (contentCommitment, RFC 5280 4.2.1.3) only; encryption:
    keyEncipherment and/or dataEncipherment. The policy OID is cross-checked
    against the trust set in :mod:`issuer.uzi.verify`.
    """
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise UziError(
            errors.NOT_A_CARD_CERTIFICATE, "no keyUsage extension; every UZI certificate has one"
        ) from None
    if ku.key_encipherment or ku.data_encipherment:
        if ku.digital_signature or ku.content_commitment:
            raise UziError(errors.NOT_A_CARD_CERTIFICATE, "keyUsage mixes signing and encryption")
        return CertKind.ENCRYPTION
    if ku.content_commitment:
        if ku.digital_signature:
            raise UziError(
                errors.NOT_A_CARD_CERTIFICATE,
                "keyUsage has both digitalSignature and nonRepudiation; a card keeps them apart",
            )
        return CertKind.SIGNATURE
    if ku.digital_signature:
        return CertKind.AUTHENTICATION
    raise UziError(
        errors.NOT_A_CARD_CERTIFICATE,
        "keyUsage has none of digitalSignature, nonRepudiation, keyEncipherment",
    )


def _policy_oids(cert: x509.Certificate) -> frozenset[str]:
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return frozenset()
    return frozenset(p.policy_identifier.dotted_string for p in policies)


def parse_card(cert: x509.Certificate) -> UziCard:
    """Read and check the UZI identity of one card certificate (structure only).

    Every field is parsed first (:func:`parse_certificate_fully`), so a caller
    that built *cert* itself gets hostile DER refused with its code too.
    """
    try:
        parse_certificate_fully(cert)
    except X509ParseError as exc:
        raise _refusal(exc) from None
    subject = cert.subject
    name = parse_uzi_name(_uzi_other_name(cert))
    serial_number = _single(subject, NameOID.SERIAL_NUMBER, "serialNumber")
    if serial_number != name.uzi_number:
        raise UziError(
            errors.SUBJECT_SAN_MISMATCH,
            f"subject serialNumber {serial_number!r} but UZI otherName has {name.uzi_number!r}",
        )
    country = _single(subject, NameOID.COUNTRY_NAME, "C")
    if country != "NL":
        raise UziError(errors.BAD_SUBJECT, f"subject C is {country!r}; expected 'NL'")
    organization = _single(subject, NameOID.ORGANIZATION_NAME, "O")
    common_name = _single(subject, NameOID.COMMON_NAME, "CN")
    given = _single(subject, NameOID.GIVEN_NAME, "GN")
    surname = _single(subject, NameOID.SURNAME, "SN")
    title = _single(subject, NameOID.TITLE, "title")
    if organization is None or common_name is None:
        raise UziError(errors.BAD_SUBJECT, "subject lacks O or CN; a UZI certificate has both")
    if name.card_type in (CardType.ZORGVERLENER, CardType.MEDEWERKER_OP_NAAM) and (
        given is None or surname is None
    ):
        raise UziError(
            errors.BAD_SUBJECT,
            f"a {name.card_type} card's subject has GN and SN; got GN={given!r}, SN={surname!r}",
        )
    identity = UziIdentity(
        uzi_number=name.uzi_number,
        card_type=name.card_type,
        subscriber_number=name.subscriber_number,
        role=name.role,
        agb_code=name.agb_code,
        given_name=given,
        surname=surname,
        common_name=common_name,
        title=title,
        organization=organization,
    )
    return UziCard(
        identity=identity,
        kind=classify(cert),
        ca_oid=name.ca_oid,
        policy_oids=_policy_oids(cert),
        issuer=cert.issuer.rfc4514_string(),
        serial=cert.serial_number,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        certificate=cert,
    )


def issuing_ca_card_type(ca_subject: x509.Name) -> CardType | None:
    """The card type an issuing CA gives out, from its CN (profile: "Hierarchy").

    The UZI-register names one issuing CA per card type; the CN is therefore
    the issuing CA's statement of which cards it issues.
    """
    cns = ca_subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else ""
    if "Medewerker niet op naam CA" in cn:
        return CardType.MEDEWERKER_NIET_OP_NAAM
    if "Medewerker op naam CA" in cn:
        return CardType.MEDEWERKER_OP_NAAM
    if "Zorgverlener CA" in cn:
        return CardType.ZORGVERLENER
    if "Server CA" in cn:
        return CardType.SERVER
    return None


def subjects(chain: Sequence[x509.Certificate]) -> list[str]:
    return [c.subject.rfc4514_string() for c in chain]
