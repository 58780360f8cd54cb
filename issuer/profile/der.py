"""The mobile-ID TBSCertificate as DER, spliced from a per-profile template.

:func:`issuer.profile.builder.build_tbs` states the profile with
``cryptography``'s ``CertificateBuilder``; building and encoding that object
graph costs about four times the software signature it is for, and the
issuance cycle needs it per certificate (issue 4). Everything in a mobile-ID
TBS except the serial, the validity, the subject, the key, the SAN and the SKI
is the same for every certificate of one (policy, issuing CA, signature
algorithm), so :func:`tbs_template` builds one sample with ``build_tbs``, signs
it with a throwaway key of the CA key's type and keeps the DER of every
constant field as bytes; only
the varying fields are encoded here, by hand, the way ``cryptography`` encodes
them. This is the one encoder of the TBS the issuance cycle signs;
``build_tbs`` is its reference: tests/profile/test_der.py checks byte equality
over names with and without a title, diacritics, maximal lengths, EC and RSA
keys and dates on both sides of 2050, and tests/profile/test_der_property.py
over generated inputs. The per-certificate lint checks the inputs against the
profile's rules (:mod:`issuer.lint.inputs`) rather than encoding again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from issuer.keys import PublicKey, spki_der
from issuer.profile.attributes import VerifiedAttributes, sample_attributes
from issuer.profile.builder import (
    ProfileError,
    build_tbs,
    check_issuable,
    for_usage,
    signature_hash,
    validity_window,
)
from issuer.profile.usage import CertificateUsage
from policies import Policy

__all__ = [
    "TbsTemplate",
    "build_tbs_der",
    "der_length",
    "rdn_tlv",
    "read_tlv",
    "sample_policy",
    "tbs_template",
    "tlv",
]

_SEQUENCE = 0x30
_SET = 0x31
_UTF8 = 0x0C
_PRINTABLE = 0x13
# id-at-* (2.5.4.x) attribute types of the subject, in profile order.
_OID_C = b"\x06\x03\x55\x04\x06"
_OID_O = b"\x06\x03\x55\x04\x0a"
_OID_TITLE = b"\x06\x03\x55\x04\x0c"
_OID_SN = b"\x06\x03\x55\x04\x04"
_OID_GN = b"\x06\x03\x55\x04\x2a"
_OID_SERIAL = b"\x06\x03\x55\x04\x05"
_OID_CN = b"\x06\x03\x55\x04\x03"
_OID_SAN = b"\x06\x03\x55\x1d\x11"
_OID_SKI = b"\x06\x03\x55\x1d\x0e"
_OID_UZI = b"\x06\x03\x55\x05\x05"


def der_length(length: int) -> bytes:
    """X.690 §8.1.3 definite length, short or long form (DER: minimal)."""
    if length < 0x80:
        return bytes((length,))
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def tlv(tag: int, content: bytes) -> bytes:
    """One DER TLV with a single-octet tag."""
    length = len(content)
    if length < 0x80:
        return bytes((tag, length)) + content
    return bytes((tag,)) + der_length(length) + content


def read_tlv(der: bytes, at: int) -> tuple[int, int, int]:
    """(tag, content start, end) of the DER TLV at ``at`` (X.690 §8.1).

    Raises ``ValueError`` when the TLV runs past the end of ``der``.
    """
    tag, first = der[at], der[at + 1]
    if first < 0x80:
        start, length = at + 2, first
    else:
        count = first & 0x7F
        start = at + 2 + count
        length = int.from_bytes(der[at + 2 : start], "big")
    end = start + length
    if end > len(der):
        raise ValueError(f"TLV at {at} runs past the end ({end} > {len(der)})")
    return tag, start, end


def _children(der: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each TLV between ``start`` and ``end``."""
    out = []
    at = start
    while at < end:
        _, _, child_end = read_tlv(der, at)
        out.append((at, child_end))
        at = child_end
    return out


def _time(when: dt.datetime) -> bytes:
    """RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050."""
    rest = f"{when.month:02d}{when.day:02d}{when.hour:02d}{when.minute:02d}{when.second:02d}Z"
    if when.year < 2050:
        return tlv(0x17, f"{when.year % 100:02d}{rest}".encode("ascii"))
    return tlv(0x18, f"{when.year:04d}{rest}".encode("ascii"))


def _integer(value: int) -> bytes:
    """A positive DER INTEGER (two's complement, minimal)."""
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def rdn_tlv(oid: bytes, tag: int, content: bytes) -> bytes:
    """``SET { SEQUENCE { oid, string } }``: one RDN holding one attribute.

    The lengths of all three TLVs in one go when they fit the short form (every
    subject attribute of the profile does), else through :func:`tlv`.
    """
    length = len(content)
    inner = len(oid) + 2 + length
    if inner < 0x7E and length < 0x80:
        return bytes((_SET, inner + 2, _SEQUENCE, inner)) + oid + bytes((tag, length)) + content
    return tlv(_SET, tlv(_SEQUENCE, oid + tlv(tag, content)))


def _rdn(oid: bytes, tag: int, value: str) -> bytes:
    return rdn_tlv(oid, tag, value.encode("utf-8"))


def subject_der(attrs: VerifiedAttributes, country: str) -> bytes:
    """The subject Name as :func:`~issuer.profile.builder.build_subject` encodes it."""
    parts = [_rdn(_OID_C, _PRINTABLE, country), _rdn(_OID_O, _UTF8, attrs.organization)]
    if attrs.title is not None:
        parts.append(_rdn(_OID_TITLE, _UTF8, attrs.title))
    parts += [
        _rdn(_OID_SN, _UTF8, attrs.surname),
        _rdn(_OID_GN, _UTF8, attrs.given_name),
        _rdn(_OID_SERIAL, _PRINTABLE, attrs.uzi_number),
        _rdn(_OID_CN, _UTF8, attrs.common_name),
    ]
    return tlv(_SEQUENCE, b"".join(parts))


def san_extension_der(san_string: str) -> bytes:
    """subjectAltName (not critical) with one otherName 2.5.5.5 ``[0] EXPLICIT IA5String``."""
    ia5 = tlv(0x16, san_string.encode("ascii"))
    other_name = tlv(0xA0, _OID_UZI + tlv(0xA0, ia5))
    return tlv(_SEQUENCE, _OID_SAN + tlv(0x04, tlv(_SEQUENCE, other_name)))


def ski_extension_der(public_key_bits: bytes) -> bytes:
    """SKI method 1 (RFC 5280 §4.2.1.2): SHA-1 of the subjectPublicKey bits."""
    digest = hashlib.sha1(public_key_bits, usedforsecurity=False).digest()
    return tlv(_SEQUENCE, _OID_SKI + tlv(0x04, tlv(0x04, digest)))


def spki_and_bits(public_key: PublicKey) -> tuple[bytes, bytes]:
    """The SubjectPublicKeyInfo DER and its subjectPublicKey bits (no unused-bits octet)."""
    spki = spki_der(public_key)
    _, start, _ = read_tlv(spki, 0)
    _, _, bits_at = read_tlv(spki, start)  # AlgorithmIdentifier
    _, bits_start, bits_end = read_tlv(spki, bits_at)
    return spki, spki[bits_start + 1 : bits_end]


@dataclass(frozen=True, kw_only=True)
class TbsTemplate:
    """The constant DER of one profile's TBSCertificate, cut around the varying fields.

    ``head`` is ``[0] version``; ``signature_issuer`` is the signature
    AlgorithmIdentifier followed by the issuer Name; the extensions are kept
    as the DER of each one, with ``san_index`` and ``ski_index`` marking the
    two that vary.
    """

    head: bytes
    signature_issuer: bytes
    extensions: tuple[bytes, ...]
    san_index: int
    ski_index: int
    signature_algorithm: bytes
    """The AlgorithmIdentifier DER (also the outer signatureAlgorithm)."""


def sample_policy(policy: Policy) -> Policy:
    """The policy with a one-day validity and every card type and role, so a
    profile's sample fits any live CA and any sample holder."""
    profile = dataclasses.replace(policy.profile, validity_days=1, backdate_seconds=0)
    uzi = dataclasses.replace(policy.uzi, card_types=("Z", "N"), roles=("*",))
    smartcard = dataclasses.replace(policy.smartcard, validity_days=1)
    return dataclasses.replace(policy, profile=profile, uzi=uzi, smartcard=smartcard)


def _sample_signer(issuer_cert: x509.Certificate) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    """A throwaway key of the CA key's type: the TBS names only the signature
    algorithm (key type and hash), never the key, so any key of the type will do."""
    ca_key = issuer_cert.public_key()
    if isinstance(ca_key, ec.EllipticCurvePublicKey):
        return ec.generate_private_key(ca_key.curve)
    if isinstance(ca_key, rsa.RSAPublicKey):
        return rsa.generate_private_key(65537, 2048)
    raise ProfileError(
        "issuing CA key",
        type(ca_key).__name__,
        "an EC or RSA key",
        "Use an issuing CA with an EC or RSA key.",
    )


def tbs_template(
    policy: Policy,
    issuer_cert: x509.Certificate,
    usage: CertificateUsage = CertificateUsage.MOBILE_ID,
) -> TbsTemplate:
    """Build one sample with :func:`build_tbs`, sign it, keep its constant DER.

    One per (policy, issuing CA): the signature algorithm follows the CA key
    type (so does the lint key's; sign_tbs_der refuses any other) and the policy's
    hash. It costs a build and a signature, so whoever signs many certificates
    under one profile makes it once and passes it in (:class:`issuer.lint.presign.Presigner`).
    One per ``usage`` too: keyUsage, EKUs and policies are a usage's constants.
    """
    sample = sample_attributes()
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    builder = build_tbs(
        sample,
        key,
        1,
        sample_policy(policy),
        issuer_cert,
        issuer_cert.not_valid_before_utc,
        usage=usage,
    )
    tbs = builder.sign(_sample_signer(issuer_cert), signature_hash(policy)).tbs_certificate_bytes
    _, start, end = read_tlv(tbs, 0)
    fields = _children(tbs, start, end)
    # version, serial, signature, issuer, validity, subject, spki, [3] extensions
    if len(fields) != 8 or tbs[fields[0][0]] != 0xA0 or tbs[fields[7][0]] != 0xA3:
        raise ValueError("the profile's sample TBSCertificate does not have the v3 layout")
    _, ext_seq_at, _ = read_tlv(tbs, fields[7][0])
    _, ext_start, ext_end = read_tlv(tbs, ext_seq_at)
    extensions = tuple(tbs[a:b] for a, b in _children(tbs, ext_start, ext_end))
    oids = []
    for ext in extensions:
        _, oid_at, _ = read_tlv(ext, 0)
        _, _, oid_end = read_tlv(ext, oid_at)
        oids.append(ext[oid_at:oid_end])
    return TbsTemplate(
        head=tbs[fields[0][0] : fields[0][1]],
        signature_issuer=tbs[fields[2][0] : fields[3][1]],
        extensions=extensions,
        san_index=oids.index(_OID_SAN),
        ski_index=oids.index(_OID_SKI),
        signature_algorithm=tbs[fields[2][0] : fields[2][1]],
    )


def build_tbs_der(
    attrs: VerifiedAttributes,
    public_key: PublicKey,
    serial: int,
    policy: Policy,
    issuer_cert: x509.Certificate,
    now: dt.datetime,
    template: TbsTemplate | None = None,
    card_not_after: dt.datetime | None = None,
    usage: CertificateUsage = CertificateUsage.MOBILE_ID,
) -> bytes:
    """The TBSCertificate DER that ``build_tbs(...)`` signed with the lint key has.

    Same inputs, same refusals (:class:`~issuer.profile.ProfileError`) as
    :func:`~issuer.profile.builder.build_tbs`. ``template`` is
    ``tbs_template(policy, issuer_cert)`` when the caller holds it; else it is made here.
    ``card_not_after`` caps notAfter (:func:`~issuer.profile.builder.validity_window`).
    ``usage``: the template must be that usage's (:func:`tbs_template`).
    """
    attrs, policy = for_usage(attrs, policy, usage)
    check_issuable(attrs, serial, policy)
    not_before, not_after = validity_window(policy, issuer_cert, now, card_not_after)
    if template is None:
        template = tbs_template(policy, issuer_cert, usage)
    spki, bits = spki_and_bits(public_key)
    extensions = list(template.extensions)
    extensions[template.san_index] = san_extension_der(attrs.san_string(policy.profile.ca_oid))
    extensions[template.ski_index] = ski_extension_der(bits)
    return tlv(
        _SEQUENCE,
        b"".join(
            (
                template.head,
                _integer(serial),
                template.signature_issuer,
                tlv(_SEQUENCE, _time(not_before) + _time(not_after)),
                subject_der(attrs, policy.profile.country),
                spki,
                tlv(0xA3, tlv(_SEQUENCE, b"".join(extensions))),
            )
        ),
    )
