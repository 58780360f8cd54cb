"""Per-certificate fast lint (ARCHITECTURE §5 step 3).

pkilint checks the whole profile once per policy version
(:func:`issuer.lint.profile.lint_profile`); what differs between two
certificates of one profile is the subject names, the SAN string, the key,
the validity and the serial. The checks here cover those *varying* fields at
least as strictly as pkilint does (string types, RFC 5280 upper bounds,
character sets, no empty values) and pin every other field to exactly what
the profile says, so a certificate that passes both could not differ from the
linted sample in any way pkilint would notice.

One function per requirement; each returns ``None`` or one :class:`Finding`
whose ``code`` is ``zorgid.<check name>`` and whose ``rule`` cites the rule
it enforces. Tests build, for every check, a certificate that breaks exactly
that condition.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asn1crypto import core as acore
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtensionOID, NameOID

from issuer.keys import PublicKey, WeakKeyError, check_public_key, spki_der
from issuer.lint.findings import Finding, Severity
from issuer.profile import VerifiedAttributes, build_tbs, validity_window
from issuer.profile.attributes import (
    MAX_COMMON_NAME,
    MAX_GIVEN_NAME,
    MAX_ORGANIZATION,
    MAX_SURNAME,
    MAX_TITLE,
    has_control_characters,
    sample_attributes,
)
from issuer.profile.builder import ca_validity
from issuer.profile.der import (
    TbsTemplate,
    rdn_tlv,
    read_tlv,
    tbs_template,
    tlv,
)
from issuer.uzi_vocabulary import UZI_OTHER_NAME_OID, is_issuable_uzi_name
from policies import Policy

# X.680 §41.4 Table 10: the PrintableString repertoire.
_PRINTABLE = re.compile(r"^[A-Za-z0-9 '()+,\-./:=?]*$")

# Upper bounds per attribute: RFC 5280 Appendix A.1 (ub-common-name 64,
# ub-organization-name 64, ub-title 64, ub-serial-number 64, country 2) and
# the profile's 64 for surname and givenName (X520name allows ub-name 32768).
_BOUNDS: dict[x509.ObjectIdentifier, tuple[int, int]] = {
    NameOID.COUNTRY_NAME: (2, 2),
    NameOID.ORGANIZATION_NAME: (1, MAX_ORGANIZATION),
    NameOID.TITLE: (1, MAX_TITLE),
    NameOID.SURNAME: (1, MAX_SURNAME),
    NameOID.GIVEN_NAME: (1, MAX_GIVEN_NAME),
    NameOID.SERIAL_NUMBER: (1, 64),
    NameOID.COMMON_NAME: (1, MAX_COMMON_NAME),
}
_PRINTABLE_TYPES = (NameOID.COUNTRY_NAME, NameOID.SERIAL_NUMBER)

_CRITICAL = {ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE}


@dataclass(frozen=True, kw_only=True)
class Expected:
    """What one certificate must say: the inputs of :func:`build_tbs`."""

    attrs: VerifiedAttributes
    public_key: PublicKey
    serial: int
    policy: Policy
    issuer_cert: x509.Certificate
    now: dt.datetime


@dataclass(frozen=True, kw_only=True)
class ProfileShape:
    """The per-(policy, issuer) constants (see :func:`profile_shape`)."""

    extension_oids: tuple[x509.ObjectIdentifier, ...]
    constant_values: dict[x509.ObjectIdentifier, x509.ExtensionType]
    issuer_name_der: bytes
    template: TbsTemplate
    """The profile's constant DER (what the issuance cycle splices certificates from)."""
    extension_oid_ders: tuple[bytes, ...]
    """The OID TLV of each extension of the template, in order."""
    fast_pass_usable: bool
    """The template's extensions are the profile's (set, order, criticality):
    only then may :func:`_fast_pass` compare against their bytes."""


def profile_shape(policy: Policy, issuer_cert: x509.Certificate) -> ProfileShape:
    """Build a sample with the profile and read back its constant extensions.

    Only fields that do not depend on the subscriber are taken as constants;
    the sample's subject, SAN, key, SKI, serial and validity are ignored. It
    costs a build and a signature: the issuance cycle makes it once per profile
    (:class:`issuer.lint.presign.Presigner`) and passes it to :func:`fast_lint`.
    """
    sample_key = ec.generate_private_key(ec.SECP256R1())
    sample = sample_attributes()
    builder = build_tbs(
        sample,
        sample_key.public_key(),
        1,
        _policy_for_sample(policy),
        issuer_cert,
        issuer_cert.not_valid_before_utc,
    )
    extensions = builder._extensions
    constant: dict[x509.ObjectIdentifier, x509.ExtensionType] = {}
    for ext in extensions:
        if ext.oid not in (
            ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
            ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ):
            constant[ext.oid] = ext.value
    template = tbs_template(policy, issuer_cert)
    oid_ders = tuple(_extension_parts(ext)[0] for ext in template.extensions)
    criticality = tuple(_extension_parts(ext)[1] for ext in template.extensions)
    extension_oids = tuple(ext.oid for ext in extensions)
    usable = (
        oid_ders == tuple(_oid_der(oid) for oid in extension_oids)
        and criticality == tuple(oid in _CRITICAL for oid in extension_oids)
        and len(set(oid_ders)) == len(oid_ders)
    )
    return ProfileShape(
        extension_oids=extension_oids,
        constant_values=constant,
        issuer_name_der=issuer_cert.subject.public_bytes(),
        template=template,
        extension_oid_ders=oid_ders,
        fast_pass_usable=usable,
    )


@functools.lru_cache(maxsize=64)
def _oid_der(oid: x509.ObjectIdentifier) -> bytes:
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


def _policy_for_sample(policy: Policy) -> Policy:
    """The policy with a one-day validity so a sample fits any live CA."""
    profile = dataclasses.replace(policy.profile, validity_days=1, backdate_seconds=0)
    uzi = dataclasses.replace(policy.uzi, card_types=("Z", "N"), roles=("*",))
    return dataclasses.replace(policy, profile=profile, uzi=uzi)


def _finding(code: str, rule: str, message: str) -> Finding:
    return Finding(code=f"zorgid.{code}", severity=Severity.ERROR, message=message, rule=rule)


def _tlv(der: bytes, at: int) -> tuple[int, int, int]:
    """(tag, content start, end) of the DER TLV at ``at`` (X.690 §8.1)."""
    tag, first = der[at], der[at + 1]
    if first < 0x80:
        return tag, at + 2, at + 2 + first
    count = first & 0x7F
    length = int.from_bytes(der[at + 2 : at + 2 + count], "big")
    return tag, at + 2 + count, at + 2 + count + length


@dataclass(frozen=True, kw_only=True)
class _TbsFields:
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
    def read(cls, tbs: bytes) -> _TbsFields:
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
    def tbs_fields(self) -> _TbsFields:
        return _TbsFields.read(self.tbs_certificate_bytes)

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
        return _read_san_othername(self)

    @functools.cached_property
    def _public_key(self) -> PublicKeyTypes:
        return self.raw.public_key()

    def public_key(self) -> PublicKeyTypes:
        return self._public_key


Check = Callable[[Cert, Expected], Finding | None]
CHECKS: list[Check] = []


def _check(func: Check) -> Check:
    CHECKS.append(func)
    return func


# --- serial (RFC 5280 §4.1.2.2) -------------------------------------------


@_check
def serial_positive(cert: Cert, exp: Expected) -> Finding | None:
    serial = cert.serial_number
    if serial <= 0:
        return _finding(
            "serial_positive",
            "RFC 5280 §4.1.2.2",
            f"serial is {serial}; it MUST be a positive integer",
        )
    return None


@_check
def serial_max_20_octets(cert: Cert, exp: Expected) -> Finding | None:
    octets = len(cert.tbs_fields.serial_content)
    if octets > 20:
        return _finding(
            "serial_max_20_octets",
            "RFC 5280 §4.1.2.2",
            f"serial needs {octets} octets; at most 20 are allowed",
        )
    return None


@_check
def serial_matches_intent(cert: Cert, exp: Expected) -> Finding | None:
    serial = cert.serial_number
    if serial != exp.serial:
        return _finding(
            "serial_matches_intent",
            "ARCHITECTURE §5 step 2 (serial recorded before signing)",
            f"serial {serial:x} is not the recorded {exp.serial:x}",
        )
    return None


# --- version, issuer, signature (RFC 5280 §4.1.2.1, §4.1.2.3, §4.1.2.4) ---


@_check
def version_v3(cert: Cert, exp: Expected) -> Finding | None:
    if cert.version is not x509.Version.v3:
        return _finding(
            "version_v3", "RFC 5280 §4.1.2.1", f"version is {cert.version.name}; extensions need v3"
        )
    return None


@_check
def issuer_matches_ca(cert: Cert, exp: Expected) -> Finding | None:
    if cert.tbs_fields.issuer_der != cert.shape.issuer_name_der:
        return _finding(
            "issuer_matches_ca",
            "RFC 5280 §4.1.2.4 / §6.1.3 (a)(4): issuer equals the CA's subject",
            f"issuer {cert.raw.issuer.rfc4514_string()!r} is not the CA subject "
            f"{exp.issuer_cert.subject.rfc4514_string()!r}",
        )
    return None


# --- validity (RFC 5280 §4.1.2.5) -------------------------------------------


@_check
def validity_order(cert: Cert, exp: Expected) -> Finding | None:
    if cert.not_valid_before_utc >= cert.not_valid_after_utc:
        return _finding(
            "validity_order",
            "RFC 5280 §4.1.2.5",
            f"notBefore {cert.not_valid_before_utc} is not before notAfter "
            f"{cert.not_valid_after_utc}",
        )
    return None


_UTC_TIME = re.compile(rb"^[0-9]{12}Z$")
_GENERALIZED_TIME = re.compile(rb"^[0-9]{14}Z$")


@_check
def validity_time_encoding(cert: Cert, exp: Expected) -> Finding | None:
    for name, (tag, content) in zip(
        ("notBefore", "notAfter"), cert.tbs_fields.validity_times, strict=True
    ):
        if tag == 0x17 and _UTC_TIME.match(content) and int(content[:2]) < 50:
            continue  # UTCTime YYMMDDHHMMSSZ for 1950..2049
        if tag == 0x18 and _GENERALIZED_TIME.match(content) and int(content[:4]) >= 2050:
            continue  # GeneralizedTime YYYYMMDDHHMMSSZ from 2050
        return _finding(
            "validity_time_encoding",
            "RFC 5280 §4.1.2.5.1/§4.1.2.5.2 (UTCTime through 2049, GeneralizedTime from 2050, "
            "Zulu, seconds, no fractions)",
            f"{name} is tag 0x{tag:02x} {content!r}",
        )
    return None


@_check
def validity_within_issuer(cert: Cert, exp: Expected) -> Finding | None:
    ca_not_before, ca_not_after = ca_validity(exp.issuer_cert)
    if cert.not_valid_before_utc < ca_not_before or cert.not_valid_after_utc > ca_not_after:
        return _finding(
            "validity_within_issuer",
            "RFC 5280 §6.1.3 (a)(2); profile: refuse beyond the CA (docs/decisions/profile.md)",
            f"{cert.not_valid_before_utc}..{cert.not_valid_after_utc} is not inside the CA's "
            f"{ca_not_before}..{ca_not_after}",
        )
    return None


@_check
def validity_matches_policy(cert: Cert, exp: Expected) -> Finding | None:
    not_before, not_after = validity_window(exp.policy, exp.issuer_cert, exp.now)
    if (cert.not_valid_before_utc, cert.not_valid_after_utc) != (not_before, not_after):
        return _finding(
            "validity_matches_policy",
            "policy profile.validity_days / profile.backdate_seconds",
            f"{cert.not_valid_before_utc}..{cert.not_valid_after_utc}; "
            f"expected {not_before}..{not_after}",
        )
    return None


# --- subject (RFC 5280 §4.1.2.6, Appendix A.1; docs/uzi-profile.md) --------


def _expected_subject(exp: Expected) -> list[tuple[x509.ObjectIdentifier, str]]:
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


@_check
def subject_one_attribute_per_rdn(cert: Cert, exp: Expected) -> Finding | None:
    for rdn in cert.subject.rdns:
        if len(rdn) != 1:
            return _finding(
                "subject_one_attribute_per_rdn",
                "docs/uzi-profile.md (card layout); RFC 5280 §4.1.2.4",
                f"an RDN holds {len(rdn)} attributes; the profile has one per RDN",
            )
    return None


@_check
def subject_rdn_order(cert: Cert, exp: Expected) -> Finding | None:
    got = [attr.oid for rdn in cert.subject.rdns for attr in rdn]
    want = [oid for oid, _ in _expected_subject(exp)]
    if got != want:
        return _finding(
            "subject_rdn_order",
            "docs/uzi-profile.md: C, O, [title], SN, GN, serialNumber, CN",
            f"attribute types {[o.dotted_string for o in got]}; expected "
            f"{[o.dotted_string for o in want]}",
        )
    return None


@_check
def subject_string_types(cert: Cert, exp: Expected) -> Finding | None:
    for attr in cert.subject_attributes:
        want = _ASN1Type.PrintableString if attr.oid in _PRINTABLE_TYPES else _ASN1Type.UTF8String
        if attr._type is not want:
            return _finding(
                "subject_string_types",
                "RFC 5280 §4.1.2.6 / Appendix A.1 (C, serialNumber PrintableString; "
                "DirectoryString as UTF8String)",
                f"{attr.oid.dotted_string} is {attr._type.name}; expected {want.name}",
            )
    return None


def _raw_subject_strings(tbs_der: bytes) -> list[tuple[str, int, bytes]]:
    """(type OID, universal tag, content octets) of each subject attribute, read
    without interpreting the strings: ``cryptography`` refuses to parse a
    subject whose PrintableString holds a forbidden character, and this lint
    must still say which rule it broke."""
    tbs = ax509.TbsCertificate.load(tbs_der)
    out = []
    for rdn in tbs["subject"].chosen:
        for atv in rdn:
            value = atv["value"]
            if isinstance(value, acore.Choice):
                value = value.chosen
            out.append((atv["type"].dotted, value.tag, value.contents or b""))
    return out


def _raw_subject_finding(tbs_der: bytes) -> Finding:
    """Why a subject that ``cryptography`` cannot parse is wrong."""
    for oid, tag, contents in _raw_subject_strings(tbs_der):
        if tag == 19 and not _PRINTABLE.match(contents.decode("latin-1")):
            return _finding(
                "subject_printable_charset",
                "X.680 §41.4 (PrintableString repertoire)",
                f"{oid} value {contents!r} has characters outside A-Z a-z 0-9 space '()+,-./:=?",
            )
    return _finding(
        "subject_string_types",
        "RFC 5280 §4.1.2.6; X.680 §41 (string encodings)",
        "the subject does not decode (a string value is not valid for its type)",
    )


@_check
def subject_printable_charset(cert: Cert, exp: Expected) -> Finding | None:
    try:
        cert.subject_attributes  # noqa: B018 -- may not parse: then read it raw
    except ValueError:
        return _raw_subject_finding(cert.tbs_certificate_bytes)
    for attr in cert.subject_attributes:
        if attr._type is _ASN1Type.PrintableString and not _PRINTABLE.match(str(attr.value)):
            return _finding(
                "subject_printable_charset",
                "X.680 §41.4 (PrintableString repertoire)",
                f"{attr.oid.dotted_string} value {attr.value!r} has characters outside "
                "A-Z a-z 0-9 space '()+,-./:=?",
            )
    return None


@_check
def subject_no_empty_values(cert: Cert, exp: Expected) -> Finding | None:
    for attr in cert.subject_attributes:
        if not attr.value:
            return _finding(
                "subject_no_empty_values",
                "X.520 DirectoryString SIZE (1..ub); RFC 5280 Appendix A.1",
                f"{attr.oid.dotted_string} is empty",
            )
    return None


@_check
def subject_lengths(cert: Cert, exp: Expected) -> Finding | None:
    for attr in cert.subject_attributes:
        low, high = _BOUNDS.get(attr.oid, (1, 64))
        length = len(str(attr.value))
        if length and not low <= length <= high:
            return _finding(
                "subject_lengths",
                "RFC 5280 Appendix A.1 upper bounds (ub-*-length); profile 64 for SN/GN",
                f"{attr.oid.dotted_string} has {length} characters; expected {low}..{high}",
            )
    return None


@_check
def subject_no_control_characters(cert: Cert, exp: Expected) -> Finding | None:
    for attr in cert.subject_attributes:
        value = str(attr.value)
        if has_control_characters(value) or value != value.strip():
            return _finding(
                "subject_no_control_characters",
                "profile: names as printed on the card; RFC 4518 §2 (insignificant space)",
                f"{attr.oid.dotted_string} value {value!r} has control characters or outer spaces",
            )
    return None


@_check
def subject_matches_attributes(cert: Cert, exp: Expected) -> Finding | None:
    got = [(attr.oid, str(attr.value)) for attr in cert.subject_attributes]
    want = _expected_subject(exp)
    if got != want:
        return _finding(
            "subject_matches_attributes",
            "ARCHITECTURE §5: the subject comes from the verified UZI attributes only",
            f"subject {cert.subject.rfc4514_string()!r} differs from the verified attributes",
        )
    return None


# --- subjectAltName (RFC 5280 §4.2.1.6; docs/uzi-profile.md) --------------


def _san_othername(cert: Cert) -> x509.OtherName | Finding:
    return cert.san_othername


def _read_san_othername(cert: Cert) -> x509.OtherName | Finding:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return _finding("san_single_uzi_othername", "docs/uzi-profile.md", "no subjectAltName")
    names = list(san)
    if len(names) != 1 or not isinstance(names[0], x509.OtherName):
        return _finding(
            "san_single_uzi_othername",
            "docs/uzi-profile.md (one otherName 2.5.5.5)",
            f"subjectAltName holds {[type(n).__name__ for n in names]}; expected one OtherName",
        )
    return names[0]


def _ia5(value: bytes) -> str | None:
    """The text of a DER IA5String TLV, or None when it is not exactly one."""
    if len(value) < 2 or value[0] != 0x16:
        return None
    first = value[1]
    if first < 0x80:
        length, start = first, 2
    elif first == 0x81 and len(value) > 2 and value[2] >= 0x80:
        length, start = value[2], 3
    elif first == 0x82 and len(value) > 3 and value[2] != 0:
        length, start = int.from_bytes(value[2:4], "big"), 4
    else:
        return None
    body = value[start:]
    if len(body) != length or any(b > 0x7F for b in body):
        return None
    return body.decode("ascii")


@_check
def san_single_uzi_othername(cert: Cert, exp: Expected) -> Finding | None:
    name = _san_othername(cert)
    if isinstance(name, Finding):
        return name
    if name.type_id != UZI_OTHER_NAME_OID:
        return _finding(
            "san_single_uzi_othername",
            "docs/uzi-profile.md (type-id 2.5.5.5)",
            f"otherName type-id {name.type_id.dotted_string}; expected 2.5.5.5",
        )
    return None


@_check
def san_value_ia5string(cert: Cert, exp: Expected) -> Finding | None:
    name = _san_othername(cert)
    if isinstance(name, Finding):
        return None  # reported by san_single_uzi_othername
    if _ia5(name.value) is None:
        return _finding(
            "san_value_ia5string",
            "docs/uzi-profile.md ([0] EXPLICIT IA5String); X.680 §41 (IA5 = 7-bit); X.690 DER",
            f"otherName value {name.value[:8].hex()}... is not one DER IA5String of 7-bit text",
        )
    return None


@_check
def san_string_format(cert: Cert, exp: Expected) -> Finding | None:
    name = _san_othername(cert)
    text = None if isinstance(name, Finding) else _ia5(name.value)
    if text is not None and not is_issuable_uzi_name(text):
        return _finding(
            "san_string_format",
            "docs/uzi-profile.md: <CA OID>-1-<9 digits>-<Z|N>-<8 digits>-<NN.NNN>-<8 digits>",
            f"SAN string {text!r} does not have the UZI layout",
        )
    return None


@_check
def san_string_matches_attributes(cert: Cert, exp: Expected) -> Finding | None:
    name = _san_othername(cert)
    text = None if isinstance(name, Finding) else _ia5(name.value)
    want = exp.attrs.san_string(exp.policy.profile.ca_oid)
    if text is not None and text != want:
        return _finding(
            "san_string_matches_attributes",
            "ARCHITECTURE §5: SAN from the verified attributes and the policy's CA OID",
            f"SAN string {text!r}; expected {want!r}",
        )
    return None


# --- key (RFC 5280 §4.1.2.7; ARCHITECTURE §5 step 1) ----------------------


@_check
def key_matches_request(cert: Cert, exp: Expected) -> Finding | None:
    # Key equality compares the parameters and the point/modulus (EVP_PKEY_eq),
    # the same as comparing SPKI encodings at a twentieth of the cost.
    if cert.public_key() != exp.public_key:
        return _finding(
            "key_matches_request",
            "RFC 2986 §3 (proof of possession binds this key)",
            "the certificate's public key is not the key whose possession was proven",
        )
    return None


@_check
def key_allowed(cert: Cert, exp: Expected) -> Finding | None:
    try:
        check_public_key(cert.public_key(), exp.policy.keys)
    except WeakKeyError as exc:
        return _finding("key_allowed", "policy keys.*; NIST SP 800-57 §5.6.1", str(exc))
    return None


# --- extensions (RFC 5280 §4.2; profile) ---------------------------------


def _extensions(cert: Cert) -> x509.Extensions | Finding:
    try:
        return cert.extensions
    except x509.DuplicateExtension as exc:
        return _finding(
            "extensions_set_and_order",
            "RFC 5280 §4.2 (an extension MUST NOT appear more than once)",
            f"duplicate extension {exc.oid.dotted_string}",
        )


@_check
def extensions_set_and_order(cert: Cert, exp: Expected) -> Finding | None:
    extensions = _extensions(cert)
    if isinstance(extensions, Finding):
        return extensions
    got = tuple(ext.oid for ext in extensions)
    want = cert.shape.extension_oids
    if got != want:
        return _finding(
            "extensions_set_and_order",
            "profile (ARCHITECTURE §5): exactly these extensions in this order",
            f"extensions {[o.dotted_string for o in got]}; "
            f"expected {[o.dotted_string for o in want]}",
        )
    return None


@_check
def extension_criticality(cert: Cert, exp: Expected) -> Finding | None:
    extensions = _extensions(cert)
    if isinstance(extensions, Finding):
        return None
    for ext in extensions:
        if ext.critical != (ext.oid in _CRITICAL):
            return _finding(
                "extension_criticality",
                "RFC 5280 §4.2.1.3, §4.2.1.9 (KU, BC critical); profile (others not critical)",
                f"{ext.oid.dotted_string} critical={ext.critical}; expected {not ext.critical}",
            )
    return None


@_check
def extension_values(cert: Cert, exp: Expected) -> Finding | None:
    extensions = _extensions(cert)
    if isinstance(extensions, Finding):
        return None
    constants = cert.shape.constant_values
    for ext in extensions:
        want = constants.get(ext.oid)
        if want is not None and ext.value != want:
            return _finding(
                "extension_values",
                "profile (ARCHITECTURE §5): BC CA:FALSE, KU digitalSignature, EKU "
                "clientAuth+policy, CP, AIA, CRL DP, AKI as the policy and CA say",
                f"{ext.oid.dotted_string} is {ext.value}; expected {want}",
            )
    return None


@_check
def ski_matches_key(cert: Cert, exp: Expected) -> Finding | None:
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension):
        return None  # reported by extensions_set_and_order
    if ski.digest != hashlib.sha1(cert.tbs_fields.public_key_bits, usedforsecurity=False).digest():
        return _finding(
            "ski_matches_key",
            "RFC 5280 §4.2.1.2 (method 1: SHA-1 of the subjectPublicKey)",
            f"SKI {ski.digest.hex()} is not derived from the certificate's key",
        )
    return None


# --- the fast pass ---------------------------------------------------------
#
# The checks above say what a certificate must be and name what is wrong; they
# read it through cryptography's objects (a Name, Extensions), which costs more
# than the rest of step 3. For given inputs there is exactly one TBS that every
# check accepts: the profile's constant DER (the template, whose extension set,
# order and criticality profile_shape verifies once) around the canonical encodings
# of the recorded serial, the policy's validity window, the expected subject
# (with the checks' string rules applied to its values), the proven key and
# its SAN and SKI. _fast_pass encodes that TBS here, independently of the
# builder, and accepts the certificate only if its TBS is those bytes and the
# checks that already read the DER (serial, version, issuer, validity) find
# nothing. Anything else goes through the checks, which say why. So a
# certificate passes the fast pass only if it passes the checks;
# tests/profile/test_fast_lint.py breaks every check once, and flips every bit
# of a good TBS, and asserts the fast pass lets none of them through.

_SAN_EXTENSION_OID = b"\x06\x03\x55\x1d\x11"
_SKI_EXTENSION_OID = b"\x06\x03\x55\x1d\x0e"
_UZI_OID = b"\x06\x03\x55\x05\x05"
_V3 = b"\xa0\x03\x02\x01\x02"

_CHEAP_CHECKS: tuple[Check, ...] = ()
"""Checks that read the DER already (serial, version, issuer, validity): run as they are."""
FAST_PASS_COVERS: frozenset[str] = frozenset()
"""Names of the checks the fast pass answers for (all of :data:`CHECKS`; tested)."""


def _subject_encoding(exp: Expected) -> bytes | None:
    """The subject the checks require for ``exp``, as canonical DER; None when an
    expected value itself breaks a subject check (the checks then say which).

    One attribute per RDN in the profile's order, PrintableString for C and
    serialNumber (repertoire checked), UTF8String for the rest, each value
    within its bounds, without control characters or outer spaces.
    """
    rdns = []
    for oid, value in _expected_subject(exp):
        oid_der, tag = _SUBJECT_TYPES[oid]
        if tag == 0x13:
            if not _PRINTABLE.match(value):
                return None
            content = value.encode("ascii")
        else:
            content = value.encode("utf-8")
        low, high = _BOUNDS[oid]
        if not low <= len(value) <= high or has_control_characters(value) or value != value.strip():
            return None
        rdns.append(rdn_tlv(oid_der, tag, content))
    return tlv(0x30, b"".join(rdns))


def _san_encoding(exp: Expected) -> bytes | None:
    """subjectAltName, not critical, holding exactly one otherName 2.5.5.5 whose
    ``[0] EXPLICIT`` value is one DER IA5String with the expected UZI string;
    None when that string itself breaks a SAN check."""
    want = exp.attrs.san_string(exp.policy.profile.ca_oid)
    if len(want) > 0xFFFF or not is_issuable_uzi_name(want):
        return None  # _ia5 reads at most a two-octet length
    ia5 = tlv(0x16, want.encode("ascii"))
    names = tlv(0x30, tlv(0xA0, _UZI_OID + tlv(0xA0, ia5)))
    return tlv(0x30, _SAN_EXTENSION_OID + tlv(0x04, names))


def _ski_encoding(spki: bytes) -> bytes:
    """SKI, not critical, the SHA-1 of the subjectPublicKey bits (method 1)."""
    _, start, _ = _tlv(spki, 0)
    _, _, bits_at = _tlv(spki, start)  # AlgorithmIdentifier
    _, bits_start, bits_end = _tlv(spki, bits_at)
    bits = spki[bits_start + 1 : bits_end]  # without the unused-bits octet
    digest = hashlib.sha1(bits, usedforsecurity=False).digest()
    return tlv(0x30, _SKI_EXTENSION_OID + tlv(0x04, tlv(0x04, digest)))


def _time_encoding(when: dt.datetime) -> bytes:
    """validity_time_encoding's rule: UTCTime through 2049, GeneralizedTime from 2050."""
    rest = f"{when.month:02d}{when.day:02d}{when.hour:02d}{when.minute:02d}{when.second:02d}Z"
    if when.year < 2050:
        return tlv(0x17, f"{when.year % 100:02d}{rest}".encode("ascii"))
    return tlv(0x18, f"{when.year:04d}{rest}".encode("ascii"))


def _expected_tbs(cert: Cert, exp: Expected) -> bytes | None:
    """The one TBSCertificate every check accepts for ``exp``, or None.

    v3; the recorded serial; the template's signature AlgorithmIdentifier and
    issuer (the CA's subject); the policy's validity window; the subject, key,
    SAN and SKI of the inputs; the template's constant extensions in order.
    """
    subject = _subject_encoding(exp)
    san = _san_encoding(exp)
    if subject is None or san is None or not 0 < exp.serial < 2**159:
        return None
    check_public_key(exp.public_key, exp.policy.keys)  # key_allowed; WeakKeyError
    spki = spki_der(exp.public_key)
    not_before, not_after = validity_window(exp.policy, exp.issuer_cert, exp.now)
    template = cert.shape.template
    extensions = list(template.extensions)
    extensions[template.san_index] = san
    extensions[template.ski_index] = _ski_encoding(spki)
    serial = exp.serial.to_bytes(exp.serial.bit_length() // 8 + 1, "big")
    return tlv(
        0x30,
        b"".join(
            (
                _V3,
                tlv(0x02, serial),
                template.signature_issuer,
                tlv(0x30, _time_encoding(not_before) + _time_encoding(not_after)),
                subject,
                spki,
                tlv(0xA3, tlv(0x30, b"".join(extensions))),
            )
        ),
    )


def _fast_pass(cert: Cert, exp: Expected) -> bool:
    """True only when every check of :data:`CHECKS` would find nothing (see above):
    the certificate's TBS is byte for byte :func:`_expected_tbs`, and the
    checks that read the DER directly (serial, version, issuer, validity)
    find nothing."""
    if not cert.shape.fast_pass_usable:
        return False
    try:
        for check in _CHEAP_CHECKS:
            if check(cert, exp) is not None:
                return False
        expected = _expected_tbs(cert, exp)
    except (ValueError, IndexError, OverflowError, WeakKeyError):
        return False
    return expected is not None and cert.tbs_certificate_bytes == expected


_SUBJECT_TYPES: dict[x509.ObjectIdentifier, tuple[bytes, int]] = {
    oid: (_oid_der(oid), 0x13 if oid in _PRINTABLE_TYPES else 0x0C) for oid in _BOUNDS
}
"""(OID TLV, universal string tag) of each subject attribute type (subject_string_types)."""

_CHEAP_CHECKS = (
    serial_positive,
    serial_max_20_octets,
    serial_matches_intent,
    version_v3,
    issuer_matches_ca,
    validity_order,
    validity_time_encoding,
    validity_within_issuer,
    validity_matches_policy,
)
FAST_PASS_COVERS = frozenset(check.__name__ for check in _CHEAP_CHECKS) | frozenset(
    {
        # _subject_encoding
        "subject_one_attribute_per_rdn",
        "subject_rdn_order",
        "subject_string_types",
        "subject_printable_charset",
        "subject_no_empty_values",
        "subject_lengths",
        "subject_no_control_characters",
        "subject_matches_attributes",
        # _san_encoding
        "san_single_uzi_othername",
        "san_value_ia5string",
        "san_string_format",
        "san_string_matches_attributes",
        # SPKI bytes and check_public_key
        "key_matches_request",
        "key_allowed",
        # extensions: the template's bytes, _ski_encoding
        "extensions_set_and_order",
        "extension_criticality",
        "extension_values",
        "ski_matches_key",
    }
)


def _undecodable(der: bytes, exc: Exception) -> Finding:
    """A finding for DER that ``cryptography`` refuses: name the broken rule
    when the TBS still reads as ASN.1, else report the decoding failure."""
    try:
        tbs_der = ax509.Certificate.load(der)["tbs_certificate"].dump()
        return _raw_subject_finding(tbs_der)
    except (ValueError, TypeError, KeyError):
        return _finding("decode", "RFC 5280 §4.1", f"not a DER certificate: {exc}")


def fast_lint(
    cert_or_der: x509.Certificate | bytes,
    expected: Expected,
    shape: ProfileShape | None = None,
) -> list[Finding]:
    """Run every fast check; an empty list means the certificate may be signed.

    ``shape`` is ``profile_shape(expected.policy, expected.issuer_cert)`` when the
    caller holds it; else it is made here.
    """
    if isinstance(cert_or_der, bytes):
        try:
            loaded = x509.load_der_x509_certificate(cert_or_der)
        except x509.InvalidVersion as exc:
            return [
                _finding(
                    "version_v3", "RFC 5280 §4.1.2.1", f"version {exc.parsed_version}; need v3"
                )
            ]
        except ValueError as exc:
            return [_undecodable(cert_or_der, exc)]
    else:
        loaded = cert_or_der
    if shape is None:
        shape = profile_shape(expected.policy, expected.issuer_cert)
    cert = Cert(loaded, shape)
    if _fast_pass(cert, expected):
        return []
    findings: list[Finding] = []
    for check in CHECKS:
        try:
            finding = check(cert, expected)
        except (ValueError, x509.DuplicateExtension):
            # Content cryptography refuses to parse lazily (a bad string in the
            # subject); the check that owns the rule reports it by raw reading.
            continue
        if finding is not None:
            findings.append(finding)
    if not findings:
        try:
            cert.subject_attributes  # noqa: B018 -- the parse itself is the check
            cert.extensions  # noqa: B018
        except (ValueError, x509.DuplicateExtension) as exc:
            findings.append(_finding("decode", "RFC 5280 §4.1", f"does not decode: {exc}"))
    return findings
