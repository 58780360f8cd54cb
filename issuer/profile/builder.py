"""The mobile-ID certificate profile: one TBSCertificate from verified inputs.

The certificate mirrors a UZI-pas authentication certificate
(``docs/uzi-profile.md``) so that a relying party's UZI parser reads it
unchanged. Every value comes from the verified attributes, the policy, the
issuing CA certificate, the serial and the clock; from a CSR only the public
key is ever used (ARCHITECTURE §5).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID, ObjectIdentifier

from issuer.keys import PublicKey
from issuer.profile.attributes import VerifiedAttributes
from issuer.profile.usage import CertificateUsage, card_certificate_policy, usage_profile
from issuer.uzi_vocabulary import UZI_OTHER_NAME_OID, CardType, RoleCode
from issuer.x509util import key_usage
from policies import KeyPolicy, Policy
from policies.schema import SignatureHash

SERIAL_BITS = 159
"""Random bits in a serial (see :func:`draw_serial`)."""

__all__ = [
    "SERIAL_BITS",
    "ProfileError",
    "build_subject",
    "build_tbs",
    "ca_validity",
    "check_issuable",
    "draw_serial",
    "encode_uzi_othername",
    "for_usage",
    "hash_named",
    "signature_hash",
    "validity_window",
]


class ProfileError(ValueError):
    """The profile cannot make a certificate from these inputs."""

    def __init__(self, what: str, got: str, expected: str, fix: str) -> None:
        self.what = what
        super().__init__(f"{what}: got {got}; expected {expected}. {fix}")


def draw_serial() -> int:
    """A fresh serial number: 159 bits from the OS CSPRNG, never zero.

    RFC 5280 §4.1.2.2: positive, at most 20 octets; CA/B BR §7.1 asks for at
    least 64 bits from a CSPRNG. A DER INTEGER is two's complement, so a
    160-bit value with its top bit set would need a 21st (zero) octet; drawing
    159 bits keeps the top bit of a 20-octet encoding clear, so the encoding is
    always <= 20 octets and always positive, with no rejection that would skew
    the distribution. Zero (probability 2^-159) is redrawn because RFC 5280
    forbids it.
    """
    while True:
        serial = secrets.randbits(SERIAL_BITS)
        if serial:
            return serial


def encode_uzi_othername(san_string: str) -> x509.OtherName:
    """The UZI otherName: type-id 2.5.5.5, value ``[0] EXPLICIT IA5String``.

    ``cryptography``'s ``OtherName.value`` is the DER of what goes *inside*
    the ``[0] EXPLICIT`` of ``OtherName`` (RFC 5280 §4.2.1.6); the library
    writes the ``[0]`` wrapper itself. So the value here is the bare
    IA5String TLV (tag 0x16), which yields ``A0 len 16 len <string>`` on the
    wire, exactly the card layout; passing an already ``[0]``-wrapped value
    would double the tag and break every UZI parser.
    """
    raw = san_string.encode("ascii")
    if len(raw) > 0xFFFF:
        raise ProfileError("SAN string", f"{len(raw)} octets", "< 64 KiB", "Shorten the string.")
    if len(raw) < 0x80:
        length = bytes([len(raw)])
    elif len(raw) < 0x100:
        length = bytes([0x81, len(raw)])
    else:
        length = bytes([0x82]) + len(raw).to_bytes(2, "big")
    return x509.OtherName(UZI_OTHER_NAME_OID, b"\x16" + length + raw)


def build_subject(attrs: VerifiedAttributes, policy: Policy) -> x509.Name:
    """``C, O, [title], SN, GN, serialNumber, CN`` as on a UZI-pas.

    One attribute per RDN, in the card's order; C and serialNumber are
    PrintableString (RFC 5280 Appendix A: X520countryName and
    X520SerialNumber are PrintableString), the rest UTF8String (RFC 5280
    §4.1.2.6: new certificates use UTF8String for DirectoryString).
    """
    utf8 = _ASN1Type.UTF8String
    printable = _ASN1Type.PrintableString
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, policy.profile.country, _type=printable),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, attrs.organization, _type=utf8),
    ]
    if attrs.title is not None:
        attributes.append(x509.NameAttribute(NameOID.TITLE, attrs.title, _type=utf8))
    attributes += [
        x509.NameAttribute(NameOID.SURNAME, attrs.surname, _type=utf8),
        x509.NameAttribute(NameOID.GIVEN_NAME, attrs.given_name, _type=utf8),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, attrs.uzi_number, _type=printable),
        x509.NameAttribute(NameOID.COMMON_NAME, attrs.common_name, _type=utf8),
    ]
    return x509.Name([x509.RelativeDistinguishedName([a]) for a in attributes])


def ca_validity(issuer_cert: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    """The CA certificate's (notBefore, notAfter)."""
    return issuer_cert.not_valid_before_utc, issuer_cert.not_valid_after_utc


def validity_window(
    policy: Policy,
    issuer_cert: x509.Certificate,
    now: dt.datetime,
    card_not_after: dt.datetime | None = None,
) -> tuple[dt.datetime, dt.datetime]:
    """``(notBefore, notAfter)`` for a certificate issued at ``now``.

    notAfter is the policy's ``now + validity_days``, or ``card_not_after``
    (the notAfter of the UZI-pas certificate whose proof the request was issued
    on) when that is earlier: a mobile ID is derived trust and never outlives
    its card; the policy may shorten, never lengthen (issue 18). A card expired
    at ``now`` is refused (``what="UZI-pas validity"``), as nothing valid can
    be derived from it. ``None``: no card date recorded, the policy's validity.

    A certificate that would outlive its issuing CA is *refused*, not clipped
    (docs/decisions/profile.md): a clipped certificate silently breaks the
    validity the policy promises, and the fix (a new issuing CA) is an
    operator act that must not wait for the first short-lived certificates.
    RFC 5280 §4.1.2.5 times are whole seconds, so microseconds are dropped.
    """
    if now.tzinfo is None:
        raise ProfileError(
            "clock", "a naive datetime", "an aware UTC datetime", "Pass datetime.now(UTC)."
        )
    now = now.astimezone(dt.UTC).replace(microsecond=0)
    not_before = now - dt.timedelta(seconds=policy.profile.backdate_seconds)
    not_after = now + dt.timedelta(days=policy.profile.validity_days)
    if card_not_after is not None:
        card_end = card_not_after.astimezone(dt.UTC).replace(microsecond=0)
        if card_end <= now:
            raise ProfileError(
                "UZI-pas validity",
                f"the UZI-pas certificate expired at {card_end.isoformat()}",
                f"a card valid after now ({now.isoformat()})",
                "Register again with a valid UZI-pas.",
            )
        not_after = min(not_after, card_end)
    ca_not_before, ca_not_after = ca_validity(issuer_cert)
    if not_before < ca_not_before or now > ca_not_after:
        raise ProfileError(
            "issuing CA validity",
            f"now {now.isoformat()} outside the CA's "
            f"{ca_not_before.isoformat()}..{ca_not_after.isoformat()}",
            "a CA valid now",
            "Check the clock or activate a valid issuing CA.",
        )
    if not_after > ca_not_after:
        raise ProfileError(
            "validity",
            f"notAfter {not_after.isoformat()}",
            f"no later than the CA's notAfter {ca_not_after.isoformat()}",
            "Roll over to a new issuing CA or lower profile.validity_days in the policy.",
        )
    return not_before, not_after


def signature_hash(policy: Policy) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512:
    """The hash the policy names for the certificate signature."""
    return hash_named(policy.profile.signature_hash)


def hash_named(name: SignatureHash) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512:
    """The hash of a policy ``signature_hash`` name; also the CRL's (one key, one hash)."""
    if name == "sha384":
        return hashes.SHA384()
    if name == "sha512":
        return hashes.SHA512()
    return hashes.SHA256()


def _authority_key_identifier(issuer_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """AKI = the issuer's SKI (RFC 5280 §4.2.1.1), so path building matches."""
    try:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_cert.public_key()  # type: ignore[arg-type]
        )
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)


def check_issuable(attrs: VerifiedAttributes, serial: int, policy: Policy) -> None:
    """Refuse a serial out of range, or a card type or role the policy does not issue for.

    Shared by :func:`build_tbs` and :func:`issuer.profile.der.build_tbs_der`
    so both refuse the same inputs with the same error.
    """
    if not 0 < serial < 2 ** (8 * 20 - 1):
        raise ProfileError(
            "serial", str(serial), "0 < serial < 2^159 (<= 20 octets)", "Use draw_serial()."
        )
    if attrs.card_type not in policy.uzi.card_types:
        raise ProfileError(
            "card type",
            attrs.card_type,
            f"one of {list(policy.uzi.card_types)}",
            "This policy does not issue for this card type.",
        )
    if not policy.uzi.accepts_role(attrs.role):
        raise ProfileError(
            "role",
            attrs.role,
            f"a role matching {list(policy.uzi.roles)}",
            "This policy does not issue for this role.",
        )


_CARD_KEY_RULES = KeyPolicy(
    allowed=("rsa", "ec-p256", "ec-p384"), rsa_min_bits=2048, rsa_max_bits=4096
)
"""The weak-key checks of a card's key (every type a card policy may name); which exact
types a card certificate takes is ``check_card_key``'s, so its refusal names the key_types."""


def for_usage(
    attrs: VerifiedAttributes, policy: Policy, usage: CertificateUsage
) -> tuple[VerifiedAttributes, Policy]:
    """The attributes and the policy the profile of ``usage`` builds from.

    The mobile ID's are the inputs themselves (its bytes never change with
    this). A card certificate is laid out as the policy's ``smartcard.card_type``
    (an N card: role ``00.000``, no title, docs/uzi-profile.md) and takes its
    validity, policy OIDs and key rules from ``[smartcard]``; the UZI number,
    URA, AGB and names are the verified ones. Idempotent. :class:`ProfileError`
    when the policy does not issue this card certificate.
    """
    if usage is CertificateUsage.MOBILE_ID:
        return attrs, policy
    try:
        card = card_certificate_policy(policy, usage)
    except LookupError as exc:
        raise ProfileError(
            "smartcard",
            f"a request for a {usage.value} certificate; {exc}",
            "a policy with [smartcard] enabled = true and this certificate",
            "Activate a policy version that issues smartcard certificates.",
        ) from None
    layout = policy.smartcard.card_type
    card_attrs = dataclasses.replace(
        attrs, card_type=CardType(layout), role=RoleCode("00.000"), title=None
    )
    card_policy = dataclasses.replace(
        policy,
        profile=dataclasses.replace(
            policy.profile,
            validity_days=policy.smartcard.validity_days,
            extra_ekus=(),
            certificate_policies=card.certificate_policies,
        ),
        keys=_CARD_KEY_RULES,
        uzi=dataclasses.replace(policy.uzi, card_types=(layout,), roles=("00.000",)),
    )
    return card_attrs, card_policy


def build_tbs(
    attrs: VerifiedAttributes,
    public_key: PublicKey,
    serial: int,
    policy: Policy,
    issuer_cert: x509.Certificate,
    now: dt.datetime,
    card_not_after: dt.datetime | None = None,
    usage: CertificateUsage = CertificateUsage.MOBILE_ID,
) -> x509.CertificateBuilder:
    """The mobile-ID certificate, ready to be signed (ARCHITECTURE §5 step 3).

    Extensions, in this fixed order: basicConstraints CA:FALSE (critical,
    RFC 5280 §4.2.1.9), keyUsage digitalSignature (critical, §4.2.1.3: the
    key only authenticates), extKeyUsage clientAuth + policy extras
    (§4.2.1.12), subjectAltName with the UZI otherName (§4.2.1.6; the subject
    is non-empty so not critical), certificatePolicies (§4.2.1.4), AIA OCSP +
    caIssuers (§4.2.2.1), CRL DP (§4.2.1.13), SKI (§4.2.1.2), AKI (§4.2.1.1).
    ``card_not_after`` caps notAfter (:func:`validity_window`). A card
    ``usage`` has its own keyUsage and EKUs (:mod:`issuer.profile.usage`) and
    its inputs as :func:`for_usage` makes them; the rest is the mobile ID's.
    """
    attrs, policy = for_usage(attrs, policy, usage)
    check_issuable(attrs, serial, policy)
    not_before, not_after = validity_window(policy, issuer_cert, now, card_not_after)
    profile = policy.profile
    usage_prof = usage_profile(usage, policy)
    cert_policies = [
        x509.PolicyInformation(ObjectIdentifier(cp.oid), [cp.cps_uri] if cp.cps_uri else None)
        for cp in profile.certificate_policies
    ]
    return (
        x509.CertificateBuilder()
        .issuer_name(issuer_cert.subject)
        .subject_name(build_subject(attrs, policy))
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(*usage_prof.key_usage), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usage_prof.ekus), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([encode_uzi_othername(attrs.san_string(profile.ca_oid))]),
            critical=False,
        )
        .add_extension(x509.CertificatePolicies(cert_policies), critical=False)
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(profile.ocsp_url),
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(profile.ca_issuers_url),
                    ),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(profile.crl_url)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_authority_key_identifier(issuer_cert), critical=False)
    )
