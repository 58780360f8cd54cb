"""The issuing CAs this responder answers for, indexed by OCSP CertID hashes.

A CertID (RFC 6960 §4.1.1) names the issuer by the hash of its DER-encoded
subject name and the hash of its public key *bit string* (not the whole
SubjectPublicKeyInfo), with the hash algorithm the client chose. We keep those
hashes for every algorithm we accept, so matching a request is a dict lookup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

HASH_ALGORITHMS: tuple[str, ...] = ("sha1", "sha256", "sha384", "sha512")
"""CertID hash algorithms we match. SHA-1 is required by RFC 5019 §2.1.1; SHA-256
is what modern clients send (``openssl ocsp -sha256``); SHA-384/512 cost nothing
to match. Anything else cannot name an issuer we know: ``unauthorized``."""

PRESIGNED_ALGORITHMS: tuple[str, ...] = ("sha1", "sha256")
"""CertID algorithms every pre-signed response carries, one SingleResponse each
(RFC 5019 §2.2.1 allows extra SingleResponses "to improve response
pre-generation performance"): one HSM signature serves both kinds of client."""


def spki_sha256(certificate: x509.Certificate) -> str:
    """The engine's issuer identifier: lowercase hex SHA-256 of the SPKI DER."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


@dataclass(frozen=True, kw_only=True)
class IssuingCa:
    """One issuing CA: its certificate, the store's identifier, and its CertID hashes."""

    issuer_id: str
    certificate: x509.Certificate = field(repr=False)
    name_hashes: Mapping[str, bytes] = field(repr=False)
    key_hashes: Mapping[str, bytes] = field(repr=False)

    @classmethod
    def from_certificate(
        cls, certificate: x509.Certificate, issuer_id: str | None = None
    ) -> IssuingCa:
        parsed = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
        name_der = parsed.subject.dump()
        key_bits = parsed.public_key["public_key"].contents[1:]  # drop the unused-bits octet
        return cls(
            issuer_id=issuer_id or spki_sha256(certificate),
            certificate=certificate,
            name_hashes={a: hashlib.new(a, name_der).digest() for a in HASH_ALGORITHMS},
            key_hashes={a: hashlib.new(a, key_bits).digest() for a in HASH_ALGORITHMS},
        )


class IssuerIndex:
    """Find an :class:`IssuingCa` by (algorithm, issuerNameHash, issuerKeyHash)."""

    def __init__(self, issuers: Iterable[IssuingCa]) -> None:
        self._by_id: dict[str, IssuingCa] = {}
        self._by_hash: dict[tuple[str, bytes, bytes], IssuingCa] = {}
        for ca in issuers:
            self._by_id[ca.issuer_id] = ca
            for alg in HASH_ALGORITHMS:
                self._by_hash[(alg, ca.name_hashes[alg], ca.key_hashes[alg])] = ca
        if not self._by_id:
            raise ValueError("got no issuing CA; expected at least one to answer for")

    def find(self, algorithm: str, name_hash: bytes, key_hash: bytes) -> IssuingCa | None:
        return self._by_hash.get((algorithm, name_hash, key_hash))

    def by_id(self, issuer_id: str) -> IssuingCa:
        try:
            return self._by_id[issuer_id]
        except KeyError:
            raise KeyError(
                f"got issuer {issuer_id!r}; expected one of {sorted(self._by_id)}"
            ) from None

    def all(self) -> tuple[IssuingCa, ...]:
        return tuple(self._by_id.values())
