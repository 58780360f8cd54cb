"""What the certificate checks share: the inputs, the profile's shape, one certificate under lint.

A certificate lint (:mod:`issuer.lint.fast`) reads a whole certificate against
the inputs it was made from (:class:`Expected`) and the constants of its
profile (:class:`ProfileShape`, made once per policy and issuing CA). The
per-certificate checks before signing (:mod:`issuer.lint.inputs`) use the
same two types.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtensionOID, NameOID

from issuer.keys import PublicKey
from issuer.lint.findings import Finding, Severity
from issuer.profile import VerifiedAttributes, build_tbs
from issuer.profile.attributes import (
    MAX_COMMON_NAME,
    MAX_GIVEN_NAME,
    MAX_ORGANIZATION,
    MAX_SURNAME,
    MAX_TITLE,
    sample_attributes,
)
from issuer.profile.der import TbsTemplate, read_tlv, sample_policy, tbs_template, tlv
from issuer.profile.usage import CertificateUsage
from policies import Policy

__all__ = [
    "BOUNDS",
    "CRITICAL",
    "PRINTABLE",
    "PRINTABLE_TYPES",
    "Cert",
    "Check",
    "Expected",
    "ProfileShape",
    "TbsFields",
    "expected_subject",
    "finding",
    "oid_der",
    "profile_shape",
]

PRINTABLE = re.compile(r"^[A-Za-z0-9 '()+,\-./:=?]*$")
"""X.680 §41.4 Table 10: the PrintableString repertoire."""

BOUNDS: dict[x509.ObjectIdentifier, tuple[int, int]] = {
    NameOID.COUNTRY_NAME: (2, 2),
    NameOID.ORGANIZATION_NAME: (1, MAX_ORGANIZATION),
    NameOID.TITLE: (1, MAX_TITLE),
    NameOID.SURNAME: (1, MAX_SURNAME),
    NameOID.GIVEN_NAME: (1, MAX_GIVEN_NAME),
    NameOID.SERIAL_NUMBER: (1, 64),
    NameOID.COMMON_NAME: (1, MAX_COMMON_NAME),
}
"""Characters per attribute: RFC 5280 Appendix A.1 (ub-common-name 64,
ub-organization-name 64, ub-title 64, ub-serial-number 64, country 2) and the
profile's 64 for surname and givenName (X520name allows ub-name 32768)."""

PRINTABLE_TYPES = (NameOID.COUNTRY_NAME, NameOID.SERIAL_NUMBER)
"""The attributes RFC 5280 Appendix A.1 types as PrintableString; the rest are UTF8String."""

CRITICAL = {ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE}
"""The profile's critical extensions (RFC 5280 §4.2.1.3, §4.2.1.9)."""


@dataclass(frozen=True, kw_only=True)
class Expected:
    """What one certificate must say: the inputs of :func:`build_tbs`."""

    attrs: VerifiedAttributes
    public_key: PublicKey
    serial: int
    policy: Policy
    issuer_cert: x509.Certificate
    now: dt.datetime
    card_not_after: dt.datetime | None = None
    """The UZI-pas certificate's notAfter that caps the validity (None: the policy's)."""
    usage: CertificateUsage = CertificateUsage.MOBILE_ID
    """Which certificate; for a card usage ``attrs`` and ``policy`` are
    :func:`issuer.profile.builder.for_usage`'s (what the TBS is built from)."""


@dataclass(frozen=True, kw_only=True)
class ProfileShape:
    """The per-(policy, issuer) constants (see :func:`profile_shape`)."""

    extension_oids: tuple[x509.ObjectIdentifier, ...]
    constant_values: dict[x509.ObjectIdentifier, x509.ExtensionType]
    issuer_name_der: bytes
    template: TbsTemplate
    """The profile's constant DER (what the issuance cycle splices certificates from)."""
    template_extension_order: bool
    """The template holds the profile's extensions, each once, in the profile's order."""
    template_criticality: bool
    """Each extension of the template is critical exactly when the profile says so."""


def profile_shape(
    policy: Policy,
    issuer_cert: x509.Certificate,
    template: TbsTemplate | None = None,
    usage: CertificateUsage = CertificateUsage.MOBILE_ID,
) -> ProfileShape:
    """Build a sample with the profile and read back its constant extensions.

    Only fields that do not depend on the subscriber are taken as constants;
    the sample's subject, SAN, key, SKI, serial and validity are ignored. It
    costs a build and a signature (two without ``template``): the issuance
    cycle makes it once per profile (:class:`issuer.lint.presign.Presigner`).
    """
    sample_key = ec.generate_private_key(ec.SECP256R1())
    builder = build_tbs(
        sample_attributes(),
        sample_key.public_key(),
        1,
        sample_policy(policy),
        issuer_cert,
        issuer_cert.not_valid_before_utc,
        usage=usage,
    )
    extensions = builder._extensions
    constant: dict[x509.ObjectIdentifier, x509.ExtensionType] = {}
    for ext in extensions:
        if ext.oid not in (
            ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
            ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ):
            constant[ext.oid] = ext.value
    if template is None:
        template = tbs_template(policy, issuer_cert, usage)
    oid_ders = tuple(_extension_parts(ext)[0] for ext in template.extensions)
    criticality = tuple(_extension_parts(ext)[1] for ext in template.extensions)
    extension_oids = tuple(ext.oid for ext in extensions)
    return ProfileShape(
        extension_oids=extension_oids,
        constant_values=constant,
        issuer_name_der=issuer_cert.subject.public_bytes(),
        template=template,
        template_extension_order=(
            oid_ders == tuple(oid_der(oid) for oid in extension_oids)
            and len(set(oid_ders)) == len(oid_ders)
        ),
        template_criticality=criticality == tuple(oid in CRITICAL for oid in extension_oids),
    )


def oid_der(oid: x509.ObjectIdentifier) -> bytes:
    """The DER TLV of an OBJECT IDENTIFIER (X.690 §8.19)."""
    arcs = [int(a) for a in oid.dotted_string.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, bytes(body))


def _extension_parts(ext_der: bytes) -> tuple[bytes, bool | None]:
    """(OID TLV, critical) of one Extension DER; critical None if not canonical DER."""
    _, start, end = read_tlv(ext_der, 0)
    _, _, oid_end = read_tlv(ext_der, start)
    children = [oid_end]
    at = oid_end
    while at < end:
        _, _, at = read_tlv(ext_der, at)
        children.append(at)
    critical: bool | None
    if len(children) == 2:
        critical = False
    elif len(children) == 3 and ext_der[oid_end : children[1]] == b"\x01\x01\xff":
        critical = True
    else:
        critical = None  # DER forbids an explicit FALSE (X.690 §11.5)
    return ext_der[start:oid_end], critical


def finding(code: str, rule: str, message: str) -> Finding:
    """An ERROR finding ``zorgid.<code>`` citing ``rule``."""
    return Finding(code=f"zorgid.{code}", severity=Severity.ERROR, message=message, rule=rule)


def expected_subject(exp: Expected) -> list[tuple[x509.ObjectIdentifier, str]]:
    """The subject the profile makes of ``exp``: (type, value) in the card's order."""
    a = exp.attrs
    rows = [
        (NameOID.COUNTRY_NAME, exp.policy.profile.country),
        (NameOID.ORGANIZATION_NAME, a.organization),
    ]
    if a.title is not None:
        rows.append((NameOID.TITLE, a.title))
    rows += [
        (NameOID.SURNAME, a.surname),
        (NameOID.GIVEN_NAME, a.given_name),
        (NameOID.SERIAL_NUMBER, a.uzi_number),
        (NameOID.COMMON_NAME, a.common_name),
    ]
    return rows


def _tlv(der: bytes, at: int) -> tuple[int, int, int]:
    """(tag, content start, end) of the DER TLV at ``at`` (X.690 §8.1)."""
    tag, first = der[at], der[at + 1]
    if first < 0x80:
        return tag, at + 2, at + 2 + first
    count = first & 0x7F
    length = int.from_bytes(der[at + 2 : at + 2 + count], "big")
    return tag, at + 2 + count, at + 2 + count + length


@dataclass(frozen=True, kw_only=True)
class TbsFields:
    """Raw slices of a TBSCertificate (RFC 5280 §4.1), read without a full parse.

    The serial's content octets (so a zero, negative or over-long serial is
    judged on its encoding, as RFC 5280 §4.1.2.2 states the rule), the issuer
    Name DER (compared byte for byte with the CA's subject) and the
    subjectPublicKey bits (the input of the method-1 SKI).
    """

    serial_content: bytes
    issuer_der: bytes
    validity_times: tuple[tuple[int, bytes], tuple[int, bytes]]
    """(tag, content) of notBefore and notAfter."""
    public_key_bits: bytes

    @classmethod
    def read(cls, tbs: bytes) -> TbsFields:
        _, at, _ = _tlv(tbs, 0)
        tag, start, end = _tlv(tbs, at)
        if tag == 0xA0:  # [0] EXPLICIT version
            at = end
            tag, start, end = _tlv(tbs, at)
        serial = tbs[start:end]
        _, _, at = _tlv(tbs, end)  # signature AlgorithmIdentifier
        _, _, issuer_end = _tlv(tbs, at)
        issuer = tbs[at:issuer_end]
        _, validity_start, at = _tlv(tbs, issuer_end)
        times = []
        time_at = validity_start
        for _ in range(2):
            tag, start, end = _tlv(tbs, time_at)
            times.append((tag, tbs[start:end]))
            time_at = end
        _, _, at = _tlv(tbs, at)  # subject
        _, spki_start, _ = _tlv(tbs, at)
        _, _, bits_at = _tlv(tbs, spki_start)  # algorithm
        _, bits_start, bits_end = _tlv(tbs, bits_at)
        return cls(
            serial_content=serial,
            issuer_der=issuer,
            validity_times=(times[0], times[1]),
            public_key_bits=tbs[bits_start + 1 : bits_end],  # skip the unused-bits octet
        )


class Cert:
    """One certificate under lint, each costly view parsed once.

    ``cryptography`` builds new ``Name`` objects on every ``subject`` access;
    the checks read the subject, the SAN and the key several times, so this
    wrapper keeps the parsed forms for the duration of one :func:`fast_lint`.
    """

    def __init__(self, cert: x509.Certificate, shape: ProfileShape) -> None:
        self.raw = cert
        self.shape = shape
        self.version = cert.version
        self.tbs_certificate_bytes = cert.tbs_certificate_bytes
        self.not_valid_before_utc = cert.not_valid_before_utc
        self.not_valid_after_utc = cert.not_valid_after_utc

    @functools.cached_property
    def tbs_fields(self) -> TbsFields:
        return TbsFields.read(self.tbs_certificate_bytes)

    @functools.cached_property
    def serial_number(self) -> int:
        return int.from_bytes(self.tbs_fields.serial_content, "big", signed=True)

    @functools.cached_property
    def subject(self) -> x509.Name:
        return self.raw.subject

    @functools.cached_property
    def subject_attributes(self) -> list[x509.NameAttribute[Any]]:
        return list(self.subject)

    @functools.cached_property
    def extensions(self) -> x509.Extensions:
        return self.raw.extensions

    @functools.cached_property
    def san_othername(self) -> x509.OtherName | Finding:
        """The one otherName of the SAN, or the san_single_uzi_othername finding."""
        try:
            san = self.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return finding("san_single_uzi_othername", "docs/uzi-profile.md", "no subjectAltName")
        names = list(san)
        if len(names) != 1 or not isinstance(names[0], x509.OtherName):
            return finding(
                "san_single_uzi_othername",
                "docs/uzi-profile.md (one otherName 2.5.5.5)",
                f"subjectAltName holds {[type(n).__name__ for n in names]}; expected one OtherName",
            )
        return names[0]

    @functools.cached_property
    def _public_key(self) -> PublicKeyTypes:
        return self.raw.public_key()

    def public_key(self) -> PublicKeyTypes:
        return self._public_key


Check = Callable[[Cert, Expected], Finding | None]
"""One certificate check: ``None`` or the finding of the rule it enforces."""
