"""Certificate checks of the subjectAltName, the key and the extensions.

One function per requirement, as in :mod:`issuer.lint.checks_tbs`: ``None`` or
one :class:`Finding` named ``zorgid.<check name>`` citing its rule.
"""

from __future__ import annotations

import hashlib

from cryptography import x509

from issuer.keys import WeakKeyError, check_public_key
from issuer.lint.cert import CRITICAL, Cert, Check, Expected, finding
from issuer.lint.findings import Finding
from issuer.uzi_vocabulary import UZI_OTHER_NAME_OID, is_issuable_uzi_name

__all__ = ["EXTENSION_CHECKS", "ia5"]

_CHECKS: list[Check] = []


def _check(func: Check) -> Check:
    _CHECKS.append(func)
    return func


# --- subjectAltName (RFC 5280 §4.2.1.6; docs/uzi-profile.md) --------------


def ia5(value: bytes) -> str | None:
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
    name = cert.san_othername
    if isinstance(name, Finding):
        return name
    if name.type_id != UZI_OTHER_NAME_OID:
        return finding(
            "san_single_uzi_othername",
            "docs/uzi-profile.md (type-id 2.5.5.5)",
            f"otherName type-id {name.type_id.dotted_string}; expected 2.5.5.5",
        )
    return None


@_check
def san_value_ia5string(cert: Cert, exp: Expected) -> Finding | None:
    name = cert.san_othername
    if isinstance(name, Finding):
        return None  # reported by san_single_uzi_othername
    if ia5(name.value) is None:
        return finding(
            "san_value_ia5string",
            "docs/uzi-profile.md ([0] EXPLICIT IA5String); X.680 §41 (IA5 = 7-bit); X.690 DER",
            f"otherName value {name.value[:8].hex()}... is not one DER IA5String of 7-bit text",
        )
    return None


@_check
def san_string_format(cert: Cert, exp: Expected) -> Finding | None:
    name = cert.san_othername
    text = None if isinstance(name, Finding) else ia5(name.value)
    if text is not None and not is_issuable_uzi_name(text):
        return finding(
            "san_string_format",
            "docs/uzi-profile.md: <CA OID>-1-<9 digits>-<Z|N>-<8 digits>-<NN.NNN>-<8 digits>",
            f"SAN string {text!r} does not have the UZI layout",
        )
    return None


@_check
def san_string_matches_attributes(cert: Cert, exp: Expected) -> Finding | None:
    name = cert.san_othername
    text = None if isinstance(name, Finding) else ia5(name.value)
    want = exp.attrs.san_string(exp.policy.profile.ca_oid)
    if text is not None and text != want:
        return finding(
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
        return finding(
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
        return finding("key_allowed", "policy keys.*; NIST SP 800-57 §5.6.1", str(exc))
    return None


# --- extensions (RFC 5280 §4.2; profile) ---------------------------------


def _extensions(cert: Cert) -> x509.Extensions | Finding:
    try:
        return cert.extensions
    except x509.DuplicateExtension as exc:
        return finding(
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
        return finding(
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
        if ext.critical != (ext.oid in CRITICAL):
            return finding(
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
            return finding(
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
        return finding(
            "ski_matches_key",
            "RFC 5280 §4.2.1.2 (method 1: SHA-1 of the subjectPublicKey)",
            f"SKI {ski.digest.hex()} is not derived from the certificate's key",
        )
    return None


EXTENSION_CHECKS: tuple[Check, ...] = tuple(_CHECKS)
"""The checks of this module, in the order they report."""
