"""The issuance policy document: its model, as the checking reader returns it.

A policy is a TOML document. Every field is required unless this module says
otherwise, every unknown key is refused (with its key path), and every bound
carries its reason in ``docs/policy.md``: *nothing passes by default*. The
reader (:mod:`policies.reader`) returns these frozen dataclasses so that a
policy, once checked, cannot be changed behind the checker's back.

The digest is the SHA-256 of the canonical form of the *parsed* document
(JSON, keys sorted, UTF-8, no insignificant white space), so that comments and
layout changes do not change a policy's identity while any value change does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NewType

PolicyVersion = NewType("PolicyVersion", str)
"""The policy version every issued certificate records (ARCHITECTURE §9)."""

TrustSet = str
"""``prod``, ``acc`` or a folder path holding the UZI trust anchors (PEM)."""

RevocationMode = Literal["off", "soft", "hard"]
KeyKind = Literal["ec-p256", "ec-p384", "rsa"]
AcceptedCardType = Literal["Z", "N"]
"""The card letters a policy may accept (named-person cards); the card types
themselves are ``issuer.uzi_vocabulary.CardType`` (policies imports no issuer)."""
SignatureHash = Literal["sha256", "sha384", "sha512"]
CardKeyType = Literal["rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384"]
"""A smartcard key: the algorithm and its exact size (a card makes one of a few)."""
CardLayout = Literal["N"]
"""The UZI card type a ZORG-ID smartcard is laid out as: "medewerker op naam"."""


MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


class PolicyError(ValueError):
    """A policy document that cannot be used.

    The message names the key path, what was found, what was expected and
    what to change, so that a security officer can fix the document from the
    message alone.
    """

    def __init__(self, path: str, got: str, expected: str) -> None:
        self.path = path
        self.got = got
        self.expected = expected
        super().__init__(
            f"policy key {path!r}: got {got}; expected {expected}. "
            f"Fix this key in the policy document (see docs/policy.md)."
        )


# --------------------------------------------------------------------------
# The document model
# --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CertificatePolicy:
    """One certificatePolicies entry (RFC 5280 §4.2.1.4)."""

    oid: str
    cps_uri: str | None


@dataclass(frozen=True, kw_only=True)
class ProfilePolicy:
    """The mobile-ID certificate profile (ARCHITECTURE §5, docs/uzi-profile.md)."""

    ca_oid: str
    country: str
    validity_days: int
    backdate_seconds: int
    signature_hash: SignatureHash
    extra_ekus: tuple[str, ...]
    certificate_policies: tuple[CertificatePolicy, ...]
    ocsp_url: str
    ca_issuers_url: str
    crl_url: str


@dataclass(frozen=True, kw_only=True)
class KeyPolicy:
    """Which phone keys are accepted (NIST SP 800-57 Part 1 §5.6.1)."""

    allowed: tuple[KeyKind, ...]
    rsa_min_bits: int
    rsa_max_bits: int

    def allows_rsa(self) -> bool:
        return "rsa" in self.allowed


@dataclass(frozen=True, kw_only=True)
class UziPolicy:
    """Which UZI-pas proofs are accepted."""

    card_types: tuple[AcceptedCardType, ...]
    roles: tuple[str, ...]
    trust_set: TrustSet
    revocation_mode: RevocationMode

    def accepts_role(self, role: str) -> bool:
        """True when ``role`` (``NN.NNN``) matches one of the role patterns."""
        for pattern in self.roles:
            if pattern == "*" or pattern == role:
                return True
            if pattern.endswith(".*") and role.startswith(pattern[:-1]):
                return True
        return False


@dataclass(frozen=True, kw_only=True)
class QrPolicy:
    """Lifetimes of the one-time handles and of the portal flows' own state, in seconds.

    ``login_session_seconds`` bounds how long a login session handle proves a
    mobile ID login (api-sketch: "short-lived"); ``draft_seconds`` bounds how
    long a registration or organisation validation may stay unconfirmed (a
    portal session's length). Both were constants in ``issuer/flows``; as
    policy they follow the active version (issue 5).
    """

    login_seconds: int
    registration_seconds: int
    uzi_challenge_seconds: int
    uzi_session_seconds: int
    login_session_seconds: int
    draft_seconds: int


@dataclass(frozen=True, kw_only=True)
class OcspPolicy:
    """OCSP and CRL timings (RFC 6960 §4.2.2.1, RFC 5019 §4, RFC 5280 §5.1.2.5)."""

    response_validity_seconds: int
    refresh_fraction: float
    crl_next_update_seconds: int
    echo_nonce: bool


@dataclass(frozen=True, kw_only=True)
class TermsVersion:
    """One version of the terms of use as shown to the user."""

    version: str
    text: str


@dataclass(frozen=True, kw_only=True)
class TermsPolicy:
    """The terms of use; ``current`` must be accepted, and is recorded."""

    current: str
    versions: tuple[TermsVersion, ...]

    def text_of(self, version: str) -> str:
        for terms in self.versions:
            if terms.version == version:
                return terms.text
        raise KeyError(version)


@dataclass(frozen=True, kw_only=True)
class EnrolmentPolicy:
    """Limits on redeeming a registration QR."""

    max_failed_attempts: int


@dataclass(frozen=True, kw_only=True)
class ApprovalPolicy:
    """The two-person rule for new policy versions (ARCHITECTURE §9)."""

    approvals_required: int


@dataclass(frozen=True, kw_only=True)
class CardCertificatePolicy:
    """One certificate of a smartcard's set: the keys it may certify, its policy OIDs."""

    key_types: tuple[CardKeyType, ...]
    certificate_policies: tuple[CertificatePolicy, ...]


@dataclass(frozen=True, kw_only=True)
class SmartcardPolicy:
    """The ZORG-ID smartcard's certificate set (ARCHITECTURE §2 item 8, docs/uzi-profile.md).

    ``signature`` and ``encryption`` are ``None`` when the card does not carry
    them; authentication is always carried. A document without ``[smartcard]``
    reads as :data:`SMARTCARD_OFF`.
    """

    enabled: bool
    card_type: CardLayout
    validity_days: int
    authentication: CardCertificatePolicy | None
    signature: CardCertificatePolicy | None
    encryption: CardCertificatePolicy | None


SMARTCARD_OFF = SmartcardPolicy(
    enabled=False,
    card_type="N",
    validity_days=1,
    authentication=None,
    signature=None,
    encryption=None,
)
"""What a policy without a ``[smartcard]`` section says: no card certificates."""


@dataclass(frozen=True, kw_only=True)
class Policy:
    """One validated, immutable issuance policy document."""

    version: PolicyVersion
    profile: ProfilePolicy
    keys: KeyPolicy
    uzi: UziPolicy
    qr: QrPolicy
    ocsp: OcspPolicy
    terms: TermsPolicy
    enrolment: EnrolmentPolicy
    approval: ApprovalPolicy
    smartcard: SmartcardPolicy = SMARTCARD_OFF
    """Absent from the document: :data:`SMARTCARD_OFF` (card usages refused)."""
    digest: str
    """Hex SHA-256 of :func:`canonical_bytes` of the document."""
    canonical: bytes
    """The canonical document (see :func:`canonical_bytes`)."""

    def __repr__(self) -> str:
        return f"Policy(version={self.version!r}, digest={self.digest[:16]}...)"
