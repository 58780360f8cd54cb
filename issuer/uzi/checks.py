"""The checks of one UZI-pas certificate that need no challenge and no state.

Kind, card key, issuer and policy OIDs, and the challenge signature: used by the
proof of presence (:mod:`issuer.uzi.verify`) and by ``zorgid uzi inspect``
(:func:`inspect_certificate`), so both refuse a card for the same reasons.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from issuer.uzi import errors
from issuer.uzi.card import (
    CertKind,
    UziCard,
    issuing_ca_card_type,
    load_certificate,
    load_certificates,
    parse_card,
)
from issuer.uzi.errors import UziError
from issuer.uzi.trust import TrustSet, load_trust_set
from issuer.uzi.validate import ChainValidator, RevocationMode, ValidatedChain

MIN_CARD_RSA_BITS = 2048
"""UZI cards carry RSA-2048 (profile); anything smaller is refused (NIST SP 800-131A)."""


CARD_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})


KEY_USAGE_FOR_KIND = {
    CertKind.AUTHENTICATION: frozenset({"digital_signature"}),
    CertKind.SIGNATURE: frozenset({"non_repudiation"}),
    CertKind.ENCRYPTION: frozenset({"key_encipherment"}),
}


class SignatureScheme(enum.StrEnum):
    """How the desktop app signed the challenge with the card's key."""

    RSA_PKCS1V15_SHA256 = "rsa-pkcs1v15-sha256"
    RSA_PSS_SHA256 = "rsa-pss-sha256"
    ECDSA_SHA256 = "ecdsa-sha256"


@dataclass(frozen=True, kw_only=True)
class Inspection:
    """Outcome of :func:`inspect_certificate` (the ``zorgid uzi inspect`` command)."""

    card: UziCard | None
    chain: tuple[str, ...]
    error: UziError | None


def check_kind(card: UziCard, wanted: CertKind) -> None:
    """Refuse a certificate of the wrong kind (by key usage), with that kind's own code."""
    if card.kind == wanted:
        return
    if card.kind == CertKind.SIGNATURE:
        raise UziError(errors.SIGNATURE_CERTIFICATE, f"expected the {wanted} certificate")
    if card.kind == CertKind.ENCRYPTION:
        raise UziError(errors.ENCRYPTION_CERTIFICATE, f"expected the {wanted} certificate")
    raise UziError(
        errors.NOT_A_CARD_CERTIFICATE, f"got the {card.kind} certificate; expected {wanted}"
    )


def check_policy(card: UziCard, trust: TrustSet) -> None:
    """The card's policy OIDs must name the same kind as its key usage (profile table).

    Done after path validation: the policy OIDs of an unverified certificate
    prove nothing, and a card of another register should be refused as such.
    """
    declared = {trust.policy_oids[o] for o in card.policy_oids if o in trust.policy_oids}
    if declared != {card.kind}:
        raise UziError(
            errors.NOT_A_CARD_CERTIFICATE,
            f"keyUsage says {card.kind}; policy OIDs {sorted(card.policy_oids)} say "
            f"{sorted(declared) or 'nothing known to trust set ' + repr(trust.name)}",
        )


def check_issuer(card: UziCard, chain: ValidatedChain, trust: TrustSet) -> None:
    """The SAN's card type and CA OID must agree with the CA that actually issued it."""
    issuer_cert = chain.path[1] if len(chain.path) > 1 else chain.path[0]
    ca_type = issuing_ca_card_type(issuer_cert.subject)
    oid_type = trust.ca_oids.get(card.ca_oid)
    got = card.identity.card_type
    if ca_type != got or oid_type != got:
        raise UziError(
            errors.CARD_TYPE_CA_MISMATCH,
            f"UZI otherName says card type {got} and CA OID {card.ca_oid} "
            f"(= {oid_type or 'unknown to trust set ' + repr(trust.name)}); issuing CA "
            f"{issuer_cert.subject.rfc4514_string()!r} issues type {ca_type or 'unknown'}",
        )


def check_card_key(cert: x509.Certificate) -> None:
    """The card's own key must be strong enough (path validation checks only CA keys)."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_CARD_RSA_BITS:
            raise UziError(
                errors.WEAK_ALGORITHM,
                f"card key is RSA-{key.key_size}; at least RSA-{MIN_CARD_RSA_BITS} is accepted",
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in CARD_CURVES:
            raise UziError(
                errors.WEAK_ALGORITHM,
                f"card key is on curve {key.curve.name}; "
                f"accepted: {', '.join(sorted(CARD_CURVES))}",
            )
    else:
        raise UziError(
            errors.WEAK_ALGORITHM, f"card key is {type(key).__name__}; expected RSA or EC"
        )


def verify_challenge_signature(
    cert: x509.Certificate, message: bytes, signature: bytes, scheme: SignatureScheme
) -> None:
    """Check the card's signature (RSA PKCS#1 v1.5 or PSS, or ECDSA; SHA-256)."""
    check_card_key(cert)
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and scheme is SignatureScheme.RSA_PKCS1V15_SHA256:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, rsa.RSAPublicKey) and scheme is SignatureScheme.RSA_PSS_SHA256:
            key.verify(
                signature,
                message,
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
                hashes.SHA256(),
            )
        elif isinstance(key, ec.EllipticCurvePublicKey) and scheme is SignatureScheme.ECDSA_SHA256:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            raise UziError(
                errors.BAD_SIGNATURE,
                f"signature scheme {scheme} does not fit the card's {type(key).__name__}",
            )
    except InvalidSignature:
        raise UziError(
            errors.BAD_SIGNATURE,
            f"{scheme} signature of {len(signature)} bytes does not verify with the "
            f"certificate's key (serial {cert.serial_number:x})",
        ) from None


def inspect_certificate(
    data: bytes,
    *,
    chain: Sequence[bytes] = (),
    trust: str,
    at: datetime,
    revocation: RevocationMode,
    usage: CertKind = CertKind.AUTHENTICATION,
    validator: ChainValidator | None = None,
) -> Inspection:
    """Read and validate one card certificate for a given usage (no challenge involved).

    Raises :class:`UziError` only for unusable input (not a certificate);
    every other refusal is returned in ``Inspection.error``.
    """
    leaf = load_certificate(data)
    intermediates: list[x509.Certificate] = []
    for item in chain:
        intermediates.extend(_load_bundle(item))
    trust_set = load_trust_set(trust)
    validator = validator if validator is not None else ChainValidator()
    card: UziCard | None = None
    try:
        card = parse_card(leaf)
        check_kind(card, usage)
        check_card_key(leaf)
        validated = validator.validate(
            leaf,
            anchors=trust_set.anchors,
            intermediates=[*intermediates, *trust_set.intermediates],
            at=at,
            revocation=revocation,
            key_usage=KEY_USAGE_FOR_KIND[usage],
        )
        check_issuer(card, validated, trust_set)
        check_policy(card, trust_set)
    except UziError as exc:
        return Inspection(card=card, chain=(), error=exc)
    return Inspection(card=card, chain=tuple(validated.subjects), error=None)


def _load_bundle(data: bytes) -> list[x509.Certificate]:
    return load_certificates(data)
