"""Certificate checks of the TBS fields: serial, version, issuer, validity, subject.

One function per requirement; each returns ``None`` or one :class:`Finding`
whose ``code`` is ``zorgid.<check name>`` and whose ``rule`` cites the rule it
enforces (tests/profile/test_fast_lint.py breaks each one once). The serial,
version, issuer and validity checks read the DER as it is (:data:`READ_CHECKS`):
the issuance cycle runs them on every certificate it is about to sign.
"""

from __future__ import annotations

import re

from asn1crypto import core as acore
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.x509.name import _ASN1Type

from issuer.lint.cert import (
    BOUNDS,
    PRINTABLE,
    PRINTABLE_TYPES,
    Cert,
    Check,
    Expected,
    expected_subject,
    finding,
)
from issuer.lint.findings import Finding
from issuer.profile import validity_window
from issuer.profile.attributes import has_control_characters
from issuer.profile.builder import ca_validity

__all__ = ["READ_CHECKS", "TBS_CHECKS", "raw_subject_finding"]

_CHECKS: list[Check] = []


def _check(func: Check) -> Check:
    _CHECKS.append(func)
    return func


# --- serial (RFC 5280 §4.1.2.2) -------------------------------------------


@_check
def serial_positive(cert: Cert, exp: Expected) -> Finding | None:
    serial = cert.serial_number
    if serial <= 0:
        return finding(
            "serial_positive",
            "RFC 5280 §4.1.2.2",
            f"serial is {serial}; it MUST be a positive integer",
        )
    return None


@_check
def serial_max_20_octets(cert: Cert, exp: Expected) -> Finding | None:
    octets = len(cert.tbs_fields.serial_content)
    if octets > 20:
        return finding(
            "serial_max_20_octets",
            "RFC 5280 §4.1.2.2",
            f"serial needs {octets} octets; at most 20 are allowed",
        )
    return None


@_check
def serial_matches_intent(cert: Cert, exp: Expected) -> Finding | None:
    serial = cert.serial_number
    if serial != exp.serial:
        return finding(
            "serial_matches_intent",
            "ARCHITECTURE §5 step 2 (serial recorded before signing)",
            f"serial {serial:x} is not the recorded {exp.serial:x}",
        )
    return None


# --- version, issuer, signature (RFC 5280 §4.1.2.1, §4.1.2.3, §4.1.2.4) ---


@_check
def version_v3(cert: Cert, exp: Expected) -> Finding | None:
    if cert.version is not x509.Version.v3:
        return finding(
            "version_v3", "RFC 5280 §4.1.2.1", f"version is {cert.version.name}; extensions need v3"
        )
    return None


@_check
def issuer_matches_ca(cert: Cert, exp: Expected) -> Finding | None:
    issuer_der = cert.tbs_fields.issuer_der
    if issuer_der != cert.shape.issuer_name_der:
        try:
            issuer = repr(cert.raw.issuer.rfc4514_string())
        except ValueError:  # a string the Name parser refuses: name it by its octets
            issuer = issuer_der.hex()
        return finding(
            "issuer_matches_ca",
            "RFC 5280 §4.1.2.4 / §6.1.3 (a)(4): issuer equals the CA's subject",
            f"issuer {issuer} is not the CA subject {exp.issuer_cert.subject.rfc4514_string()!r}",
        )
    return None


# --- validity (RFC 5280 §4.1.2.5) -------------------------------------------


@_check
def validity_order(cert: Cert, exp: Expected) -> Finding | None:
    if cert.not_valid_before_utc >= cert.not_valid_after_utc:
        return finding(
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
        return finding(
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
        return finding(
            "validity_within_issuer",
            "RFC 5280 §6.1.3 (a)(2); profile: refuse beyond the CA (docs/decisions/profile.md)",
            f"{cert.not_valid_before_utc}..{cert.not_valid_after_utc} is not inside the CA's "
            f"{ca_not_before}..{ca_not_after}",
        )
    return None


@_check
def validity_matches_policy(cert: Cert, exp: Expected) -> Finding | None:
    not_before, not_after = validity_window(
        exp.policy, exp.issuer_cert, exp.now, exp.card_not_after
    )
    if (cert.not_valid_before_utc, cert.not_valid_after_utc) != (not_before, not_after):
        return finding(
            "validity_matches_policy",
            "policy profile.validity_days / profile.backdate_seconds, capped by the UZI-pas "
            "notAfter (issue 18)",
            f"{cert.not_valid_before_utc}..{cert.not_valid_after_utc}; "
            f"expected {not_before}..{not_after}",
        )
    return None


@_check
def subject_one_attribute_per_rdn(cert: Cert, exp: Expected) -> Finding | None:
    for rdn in cert.subject.rdns:
        if len(rdn) != 1:
            return finding(
                "subject_one_attribute_per_rdn",
                "docs/uzi-profile.md (card layout); RFC 5280 §4.1.2.4",
                f"an RDN holds {len(rdn)} attributes; the profile has one per RDN",
            )
    return None


@_check
def subject_rdn_order(cert: Cert, exp: Expected) -> Finding | None:
    got = [attr.oid for rdn in cert.subject.rdns for attr in rdn]
    want = [oid for oid, _ in expected_subject(exp)]
    if got != want:
        return finding(
            "subject_rdn_order",
            "docs/uzi-profile.md: C, O, [title], SN, GN, serialNumber, CN",
            f"attribute types {[o.dotted_string for o in got]}; expected "
            f"{[o.dotted_string for o in want]}",
        )
    return None


@_check
def subject_string_types(cert: Cert, exp: Expected) -> Finding | None:
    for attr in cert.subject_attributes:
        want = _ASN1Type.PrintableString if attr.oid in PRINTABLE_TYPES else _ASN1Type.UTF8String
        if attr._type is not want:
            return finding(
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


def raw_subject_finding(tbs_der: bytes) -> Finding:
    """Why a subject that ``cryptography`` cannot parse is wrong."""
    for oid, tag, contents in _raw_subject_strings(tbs_der):
        if tag == 19 and not PRINTABLE.match(contents.decode("latin-1")):
            return finding(
                "subject_printable_charset",
                "X.680 §41.4 (PrintableString repertoire)",
                f"{oid} value {contents!r} has characters outside A-Z a-z 0-9 space '()+,-./:=?",
            )
    return finding(
        "subject_string_types",
        "RFC 5280 §4.1.2.6; X.680 §41 (string encodings)",
        "the subject does not decode (a string value is not valid for its type)",
    )


@_check
def subject_printable_charset(cert: Cert, exp: Expected) -> Finding | None:
    try:
        cert.subject_attributes  # noqa: B018 -- may not parse: then read it raw
    except ValueError:
        return raw_subject_finding(cert.tbs_certificate_bytes)
    for attr in cert.subject_attributes:
        if attr._type is _ASN1Type.PrintableString and not PRINTABLE.match(str(attr.value)):
            return finding(
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
            return finding(
                "subject_no_empty_values",
                "X.520 DirectoryString SIZE (1..ub); RFC 5280 Appendix A.1",
                f"{attr.oid.dotted_string} is empty",
            )
    return None


@_check
def subject_lengths(cert: Cert, exp: Expected) -> Finding | None:
    for attr in cert.subject_attributes:
        low, high = BOUNDS.get(attr.oid, (1, 64))
        length = len(str(attr.value))
        if length and not low <= length <= high:
            return finding(
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
            return finding(
                "subject_no_control_characters",
                "profile: names as printed on the card; RFC 4518 §2 (insignificant space)",
                f"{attr.oid.dotted_string} value {value!r} has control characters or outer spaces",
            )
    return None


@_check
def subject_matches_attributes(cert: Cert, exp: Expected) -> Finding | None:
    got = [(attr.oid, str(attr.value)) for attr in cert.subject_attributes]
    want = expected_subject(exp)
    if got != want:
        return finding(
            "subject_matches_attributes",
            "ARCHITECTURE §5: the subject comes from the verified UZI attributes only",
            f"subject {cert.subject.rfc4514_string()!r} differs from the verified attributes",
        )
    return None


TBS_CHECKS: tuple[Check, ...] = tuple(_CHECKS)
"""The checks of this module, in the order they report."""

READ_CHECKS: tuple[Check, ...] = (
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
"""The checks that read the encoded TBS itself rather than ``cryptography``'s
parsed Name and Extensions: cheap enough to run on every certificate."""
