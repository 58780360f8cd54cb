"""The per-certificate lint before signing: the inputs, rule by rule.

The TBSCertificate is encoded once (:func:`issuer.profile.der.build_tbs_der`)
from the inputs (verified attributes, proven key, recorded serial, clock) and
the profile's constant DER (the template, pkilinted at activation). What the
encoder makes of valid inputs is tested, not re-derived per certificate:
tests/profile/test_der_property.py asserts over generated inputs that its
bytes are ``cryptography``'s ``CertificateBuilder``'s and pkilint-clean. So
the checks here ask, per rule of the profile, whether the *inputs* are ones
the profile may carry (:data:`INPUT_RULES`), and read back from the encoded
TBS only what binds it to the intent (serial, version, issuer, validity:
:data:`issuer.lint.checks_tbs.READ_CHECKS`). Codes are the certificate
checks' codes (``zorgid.<check>``) where the rule is the same.

:data:`ANSWERED_BY` names, for every check of the certificate lint
(:data:`issuer.lint.fast.CHECKS`), what answers for it on the issuing path.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509

from issuer.keys import WeakKeyError, check_public_key
from issuer.lint.cert import (
    BOUNDS,
    PRINTABLE,
    PRINTABLE_TYPES,
    Cert,
    Expected,
    ProfileShape,
    expected_subject,
    finding,
)
from issuer.lint.checks_tbs import READ_CHECKS
from issuer.lint.findings import Finding
from issuer.profile.attributes import has_control_characters
from issuer.profile.usage import card_certificate_policy, check_card_key
from issuer.uzi_vocabulary import is_issuable_uzi_name

__all__ = ["ANSWERED_BY", "CARD_RULES", "INPUT_RULES", "InputRule", "lint_encoded", "lint_inputs"]

InputRule = Callable[[Expected, ProfileShape], Finding | None]
"""One rule of the profile asked of the inputs: ``None`` or its finding."""


# --- subject (RFC 5280 §4.1.2.6, Appendix A.1; docs/uzi-profile.md) --------


def subject_printable_charset(exp: Expected, shape: ProfileShape) -> Finding | None:
    """C and serialNumber are PrintableString: only its repertoire may go in."""
    for oid, value in expected_subject(exp):
        if oid in PRINTABLE_TYPES and not PRINTABLE.match(value):
            return finding(
                "subject_printable_charset",
                "X.680 §41.4 (PrintableString repertoire); RFC 5280 Appendix A.1",
                f"{oid.dotted_string} value {value!r} has characters outside "
                "A-Z a-z 0-9 space '()+,-./:=?",
            )
    return None


def subject_string_types(exp: Expected, shape: ProfileShape) -> Finding | None:
    """The other attributes are UTF8String: each value must have a UTF-8 encoding."""
    for oid, value in expected_subject(exp):
        if oid in PRINTABLE_TYPES:
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return finding(
                "subject_string_types",
                "RFC 5280 §4.1.2.6 (DirectoryString as UTF8String); RFC 3629",
                f"{oid.dotted_string} value {value!r} has no UTF-8 encoding",
            )
    return None


def subject_no_empty_values(exp: Expected, shape: ProfileShape) -> Finding | None:
    """No attribute value is empty."""
    for oid, value in expected_subject(exp):
        if not value:
            return finding(
                "subject_no_empty_values",
                "X.520 DirectoryString SIZE (1..ub); RFC 5280 Appendix A.1",
                f"{oid.dotted_string} is empty",
            )
    return None


def subject_lengths(exp: Expected, shape: ProfileShape) -> Finding | None:
    """Each value within its upper bound (characters)."""
    for oid, value in expected_subject(exp):
        low, high = BOUNDS[oid]
        if value and not low <= len(value) <= high:
            return finding(
                "subject_lengths",
                "RFC 5280 Appendix A.1 upper bounds (ub-*-length); profile 64 for SN/GN",
                f"{oid.dotted_string} has {len(value)} characters; expected {low}..{high}",
            )
    return None


def subject_no_control_characters(exp: Expected, shape: ProfileShape) -> Finding | None:
    """Names as printed on the card: no control characters, no outer spaces."""
    for oid, value in expected_subject(exp):
        if has_control_characters(value) or value != value.strip():
            return finding(
                "subject_no_control_characters",
                "profile: names as printed on the card; RFC 4518 §2 (insignificant space)",
                f"{oid.dotted_string} value {value!r} has control characters or outer spaces",
            )
    return None


# --- subjectAltName (RFC 5280 §4.2.1.6; docs/uzi-profile.md) --------------


def san_value_ia5string(exp: Expected, shape: ProfileShape) -> Finding | None:
    """The otherName value is one IA5String: 7-bit text, a length of at most two octets."""
    text = exp.attrs.san_string(exp.policy.profile.ca_oid)
    if not text.isascii() or len(text) > 0xFFFF:
        return finding(
            "san_value_ia5string",
            "docs/uzi-profile.md ([0] EXPLICIT IA5String); X.680 §41 (IA5 = 7-bit)",
            f"SAN string {text[:32]!r}... is not 7-bit text of at most 65535 characters",
        )
    return None


def san_string_format(exp: Expected, shape: ProfileShape) -> Finding | None:
    """The SAN string has the UZI layout."""
    text = exp.attrs.san_string(exp.policy.profile.ca_oid)
    if not is_issuable_uzi_name(text):
        return finding(
            "san_string_format",
            "docs/uzi-profile.md: <CA OID>-1-<9 digits>-<Z|N>-<8 digits>-<NN.NNN>-<8 digits>",
            f"SAN string {text!r} does not have the UZI layout",
        )
    return None


# --- key (RFC 5280 §4.1.2.7; policy keys.*) -------------------------------


def key_allowed(exp: Expected, shape: ProfileShape) -> Finding | None:
    """The proven key is of a type and size the policy allows."""
    try:
        check_public_key(exp.public_key, exp.policy.keys)
    except WeakKeyError as exc:
        return finding("key_allowed", "policy keys.*; NIST SP 800-57 §5.6.1", str(exc))
    return None


# --- the smartcard's certificates (policy [smartcard]; docs/uzi-profile.md) -


def card_usage_issued(exp: Expected, shape: ProfileShape) -> Finding | None:
    """A card certificate only under a policy that enables the card and carries it."""
    if not exp.usage.is_card:
        return None
    try:
        card_certificate_policy(exp.policy, exp.usage)
    except LookupError as exc:
        return finding("card_usage_issued", "policy [smartcard] (docs/policy.md)", str(exc))
    return None


def card_key_type(exp: Expected, shape: ProfileShape) -> Finding | None:
    """A card certificate's key is of one of the exact types its certificate allows."""
    if not exp.usage.is_card:
        return None
    try:
        check_card_key(exp.public_key, exp.policy, exp.usage)
    except (WeakKeyError, LookupError) as exc:
        return finding(
            "card_key_type",
            "policy smartcard.<certificate>.key_types; docs/uzi-profile.md (RSA-2048 cards)",
            str(exc),
        )
    return None


def card_other_name_layout(exp: Expected, shape: ProfileShape) -> Finding | None:
    """A card certificate's otherName is laid out as the policy's card type: for an N
    ("medewerker op naam") card role 00.000 and no title in the subject."""
    if not exp.usage.is_card:
        return None
    attrs, layout = exp.attrs, exp.policy.smartcard.card_type
    if attrs.card_type != layout or attrs.role != "00.000" or attrs.title is not None:
        return finding(
            "card_other_name_layout",
            "docs/uzi-profile.md (N, M, S cards: role 00.000; title on Z cards only); "
            "policy smartcard.card_type",
            f"card type {attrs.card_type!r}, role {attrs.role!r}, title {attrs.title!r}; "
            f"expected {layout!r}, '00.000', none",
        )
    return None


# --- extensions (RFC 5280 §4.2; profile) ----------------------------------


def extensions_set_and_order(exp: Expected, shape: ProfileShape) -> Finding | None:
    """The template the TBS is spliced from holds exactly the profile's extensions."""
    if not shape.template_extension_order:
        return finding(
            "extensions_set_and_order",
            "profile (ARCHITECTURE §5): exactly these extensions in this order; "
            "RFC 5280 §4.2 (each at most once)",
            "the profile's TBS template does not hold the profile's extensions in order",
        )
    return None


def extension_criticality(exp: Expected, shape: ProfileShape) -> Finding | None:
    """The template marks critical exactly BC and KU."""
    if not shape.template_criticality:
        return finding(
            "extension_criticality",
            "RFC 5280 §4.2.1.3, §4.2.1.9 (KU, BC critical); profile (others not critical)",
            "the profile's TBS template marks other extensions critical than the profile",
        )
    return None


INPUT_RULES: tuple[InputRule, ...] = (
    subject_string_types,
    subject_printable_charset,
    subject_no_empty_values,
    subject_lengths,
    subject_no_control_characters,
    san_value_ia5string,
    san_string_format,
    key_allowed,
    extensions_set_and_order,
    extension_criticality,
)
"""Every rule asked of the inputs, in the order findings are reported."""

CARD_RULES: tuple[InputRule, ...] = (card_usage_issued, card_key_type, card_other_name_layout)
"""The smartcard certificates' own rules (no finding for a mobile ID), asked after
:data:`INPUT_RULES`; no certificate check of the mobile ID answers for them."""

_ENCODER = "encoder: tests/profile/test_der_property.py (same bytes as CertificateBuilder)"
_READ = "read from the encoded TBS (checks_tbs.READ_CHECKS)"

ANSWERED_BY: dict[str, str] = {
    **{check.__name__: _READ for check in READ_CHECKS},
    **{rule.__name__: "input rule" for rule in INPUT_RULES},
    "subject_one_attribute_per_rdn": _ENCODER,
    "subject_rdn_order": _ENCODER,
    "subject_matches_attributes": _ENCODER,
    "san_single_uzi_othername": _ENCODER,
    "san_string_matches_attributes": _ENCODER,
    "key_matches_request": _ENCODER,
    "extension_values": _ENCODER + "; the template's constant DER, pkilinted at activation",
    "ski_matches_key": _ENCODER,
}
"""Each certificate check's name -> what answers for it when the cycle issues."""


def lint_inputs(exp: Expected, shape: ProfileShape) -> list[Finding]:
    """Every input rule; an empty list means the profile may carry these inputs."""
    rules = INPUT_RULES + CARD_RULES
    return [found for rule in rules if (found := rule(exp, shape)) is not None]


def lint_encoded(cert: x509.Certificate, exp: Expected, shape: ProfileShape) -> list[Finding]:
    """The checks that read the encoded TBS (serial, version, issuer, validity)."""
    view = Cert(cert, shape)
    return [found for check in READ_CHECKS if (found := check(view, exp)) is not None]
