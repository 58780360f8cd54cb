"""Which certificate a TBS is: the mobile ID or one of a ZORG-ID smartcard's set.

One vocabulary for the profile, the lint, the issuance cycle and the store.
A card certificate is the mobile-ID profile with what differs per certificate
of a UZI-pas (docs/uzi-profile.md, "The three certificates on a card"):
keyUsage, EKUs and policy OIDs, the card's key types and validity
(``[smartcard]`` of the policy), and the otherName laid out as the policy's
card type. :func:`issuer.profile.builder.for_usage` applies it to the inputs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from issuer.keys import PublicKey, WeakKeyError
from policies import CardCertificatePolicy, Policy

__all__ = [
    "CARD_USAGES",
    "DOCUMENT_SIGNING",
    "EFS",
    "CertificateUsage",
    "UsageProfile",
    "card_certificate_policy",
    "card_key_type",
    "check_card_key",
    "usage_profile",
]

DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
"""Microsoft documentSigning, on a UZI-pas authentication and signature certificate."""
EFS = ObjectIdentifier("1.3.6.1.4.1.311.10.3.4")
"""Microsoft Encrypting File System, on a UZI-pas encryption certificate."""


class CertificateUsage(enum.StrEnum):
    """What one certificate is for; its value is what the store records."""

    MOBILE_ID = "mobile-id"
    CARD_AUTHENTICATION = "card-authentication"
    CARD_SIGNATURE = "card-signature"
    CARD_ENCRYPTION = "card-encryption"

    @property
    def is_card(self) -> bool:
        return self is not CertificateUsage.MOBILE_ID

    @property
    def card_certificate(self) -> str:
        """The ``[smartcard.<name>]`` table of this usage (``""`` for the mobile ID)."""
        return self.value.removeprefix("card-") if self.is_card else ""


CARD_USAGES = (
    CertificateUsage.CARD_AUTHENTICATION,
    CertificateUsage.CARD_SIGNATURE,
    CertificateUsage.CARD_ENCRYPTION,
)


@dataclass(frozen=True)
class UsageProfile:
    """keyUsage bits (``issuer.x509util.key_usage`` names) and EKUs of one usage."""

    key_usage: tuple[str, ...]
    ekus: tuple[ObjectIdentifier, ...]


_PROFILES = {
    CertificateUsage.CARD_AUTHENTICATION: UsageProfile(
        ("digital_signature",),
        (ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING),
    ),
    CertificateUsage.CARD_SIGNATURE: UsageProfile(
        ("content_commitment",),
        (ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING),
    ),
    CertificateUsage.CARD_ENCRYPTION: UsageProfile(
        ("key_encipherment", "data_encipherment"),
        (ExtendedKeyUsageOID.EMAIL_PROTECTION, EFS),
    ),
}
"""The UZI-pas table (docs/uzi-profile.md); nonRepudiation is ``content_commitment``."""


def usage_profile(usage: CertificateUsage, policy: Policy) -> UsageProfile:
    """keyUsage and EKUs: the mobile ID's from ``[profile]``, a card's from the UZI table."""
    if usage is CertificateUsage.MOBILE_ID:
        extra = tuple(ObjectIdentifier(o) for o in policy.profile.extra_ekus)
        return UsageProfile(("digital_signature",), (ExtendedKeyUsageOID.CLIENT_AUTH, *extra))
    return _PROFILES[usage]


def card_certificate_policy(policy: Policy, usage: CertificateUsage) -> CardCertificatePolicy:
    """The ``[smartcard.<certificate>]`` of a card usage; ``LookupError`` says why none."""
    card = policy.smartcard
    if not card.enabled:
        raise LookupError(
            f"policy {policy.version!r} does not issue smartcard certificates "
            "([smartcard] absent or enabled = false)"
        )
    found: CardCertificatePolicy | None = getattr(card, usage.card_certificate)
    if found is None:
        raise LookupError(
            f"policy {policy.version!r} has no [smartcard.{usage.card_certificate}]: "
            "the card carries no such certificate"
        )
    return found


def card_key_type(public_key: PublicKey) -> str:
    """The policy's name of a key: ``rsa-<bits>`` or ``ec-p256``/``ec-p384``."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"rsa-{public_key.key_size}"
    return {"secp256r1": "ec-p256", "secp384r1": "ec-p384"}.get(
        public_key.curve.name, f"ec-{public_key.curve.name}"
    )


def check_card_key(public_key: PublicKey, policy: Policy, usage: CertificateUsage) -> None:
    """:class:`WeakKeyError` unless the key's exact type is one this card certificate allows
    (``[smartcard.<certificate>] key_types``; the weak-key checks are the phone key's)."""
    allowed = card_certificate_policy(policy, usage).key_types
    kind = card_key_type(public_key)
    if kind not in allowed:
        raise WeakKeyError(
            "unsupported-type",
            kind,
            f"one of {list(allowed)} (policy smartcard.{usage.card_certificate}.key_types)",
        )
