"""What the issuance cycle takes and gives: requests, reservations, issued certificates, hooks.

Why apart from :mod:`issuer.issuance.cycle`: the flows, the servicers and the
OCSP side name these types without needing the cycle's machinery; they are
imported from here, not through ``cycle``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from issuer.keys import PublicKey
from issuer.profile import VerifiedAttributes
from issuer.profile.usage import CertificateUsage
from issuer.store import Connection

CaSigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
"""The issuing CA key: an :class:`hsm.HsmPrivateKey` in the engine, a software key in units."""


@dataclass(frozen=True, kw_only=True)
class Actor:
    """Who asked (audit "who"): the caller's role and certificate identity."""

    role: str
    identity: str


ENGINE_ACTOR = Actor(role="engine", identity="zorgid")


@dataclass(frozen=True, kw_only=True)
class IssuanceRequest:
    """What to certify: the *verified* attributes of a person and their phone's CSR.

    ``csr`` supplies the public key and proof of possession only; nothing
    else in it is ever copied into the certificate (ARCHITECTURE §5).
    ``card_not_after`` is the notAfter of the UZI-pas certificate whose proof
    the attributes were verified with, as the registration recorded it (never
    from the phone): step 3 caps the certificate's notAfter there (issue 18);
    ``None`` (no card date recorded) leaves the policy's validity.
    ``usage``: the mobile ID, or one certificate of a ZORG-ID smartcard's set.
    """

    attrs: VerifiedAttributes
    csr: bytes = field(repr=False)
    person_id: str
    actor: Actor
    registration_id: str | None = None
    card_not_after: datetime | None = None
    usage: CertificateUsage = CertificateUsage.MOBILE_ID


@dataclass(frozen=True, kw_only=True)
class CheckedRequest:
    """Step 1's result: the request with its checked public key and digests."""

    request: IssuanceRequest
    public_key: PublicKey = field(repr=False)
    spki_sha256: str
    csr_sha256: str
    request_sha256: str
    """Digest of the intent (attributes, key, policy, registration) kept on the reservation."""


@dataclass(frozen=True, kw_only=True)
class Reservation:
    """Step 2's result: the serial recorded (committed) before signing."""

    issuer: str
    serial: int
    reserved_at: datetime

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "x")


@dataclass(frozen=True, kw_only=True)
class IssuedCertificate:
    """A stored certificate as the rest of the engine sees it (no gRPC types)."""

    id: str
    issuer: str
    serial: str
    """Lowercase hex without leading zeros."""
    der: bytes = field(repr=False)
    not_before: datetime
    not_after: datetime
    status: str
    policy_version: int
    spki_sha256: str
    person_id: str | None
    mobile_id_id: str | None
    registration_id: str | None
    issued_at: datetime
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    usage: CertificateUsage = CertificateUsage.MOBILE_ID

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)

    @classmethod
    def from_row(cls, row: Any) -> IssuedCertificate:
        return cls(
            id=row.id,
            issuer=row.issuer,
            serial=row.serial,
            der=bytes(row.der),
            not_before=row.not_before,
            not_after=row.not_after,
            status=row.status,
            policy_version=int(row.policy_version),
            spki_sha256=row.spki_sha256,
            person_id=row.person_id,
            mobile_id_id=row.mobile_id_id,
            registration_id=row.registration_id,
            issued_at=row.issued_at,
            revoked_at=row.revoked_at,
            revocation_reason=row.revocation_reason,
            usage=CertificateUsage(getattr(row, "usage", CertificateUsage.MOBILE_ID)),
        )


Finish = Callable[[Connection, IssuedCertificate], None]
"""A caller's own change in step 4's transaction (e.g. mark the enrolment token redeemed);
raising rolls the whole of step 4 back."""


class CertificateHooks(Protocol):
    """Where OCSP/CRL hook in.

    ``before_store(issuer, serial)`` runs after step 3 (the certificate is
    signed, nothing is stored yet) and may return a write to make inside step
    4's transaction, after the certificate row: the OCSP service pre-signs the
    first response there (ARCHITECTURE §5 step 4) so it commits with the
    certificate and its audit event -- no status read (the certificate is new:
    ``good``) and no commit of its own. It runs outside the transaction, so
    the HSM signature never holds the database writer; if it raises, the
    failure is logged and the certificate is stored without it (the OCSP
    refresher signs missing responses). The write itself is part of step 4:
    if it fails, step 4 fails.

    ``on_issued`` is told after the commit; ``on_revoked`` re-signs the
    response as revoked. A failing after-commit hook is logged and does not
    undo the committed change: the OCSP refresher catches up.
    """

    def before_store(self, issuer: str, serial: str) -> Finish | None: ...

    def on_issued(self, cert: IssuedCertificate) -> None: ...

    def on_revoked(self, cert: IssuedCertificate) -> None: ...


class NoHooks:
    """Hooks that do nothing (until the OCSP engine hands its own in)."""

    def before_store(self, issuer: str, serial: str) -> Finish | None:
        return None

    def on_issued(self, cert: IssuedCertificate) -> None:
        return None

    def on_revoked(self, cert: IssuedCertificate) -> None:
        return None


Begin = Callable[[Connection], None]
"""A caller's own change at the start of step 2's transaction (the redeemer's token claim)."""

HealthReport = Callable[[bool, str], None]
"""Told ``(False, why)`` when the HSM is unavailable and ``(True, why)`` once it signs again."""

IssuanceStep = Literal["check", "reserve", "lint", "sign", "verify", "ocsp", "store"]
"""The cycle's timed steps: step 1's request checks, step 2's reservation commit, step 3's
build and lint, HSM signature and its verification, the first OCSP response's signature
(``before_store``), step 4's transaction."""

IssuanceOutcome = Literal["issued", "refused", "failed"]
"""``refused``: a ZID error about the request (the caller can change it); ``failed``: the
engine could not (HSM, database, an unexpected error)."""


class IssuanceObserver(Protocol):
    """Hears how each issuance went and how long its steps took (the engine's metrics)."""

    def step(self, step: IssuanceStep, seconds: float) -> None:
        """One *step* of one request took *seconds* (whether or not it succeeded)."""

    def outcome(self, outcome: IssuanceOutcome, code: str | None) -> None:
        """One request ended: *code* is the ZID code of a refusal or failure, if any."""


class NoObserver:
    """An observer that hears nothing (no metrics)."""

    def step(self, step: IssuanceStep, seconds: float) -> None:
        return None

    def outcome(self, outcome: IssuanceOutcome, code: str | None) -> None:
        return None


def issuer_id(ca_cert: x509.Certificate) -> str:
    """The store's issuer identifier: hex SHA-256 of the issuing CA's SPKI DER."""
    der = ca_cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


__all__ = [
    "ENGINE_ACTOR",
    "Actor",
    "Begin",
    "CaSigningKey",
    "CertificateHooks",
    "CheckedRequest",
    "Finish",
    "HealthReport",
    "IssuanceObserver",
    "IssuanceOutcome",
    "IssuanceRequest",
    "IssuanceStep",
    "IssuedCertificate",
    "NoHooks",
    "NoObserver",
    "Reservation",
    "issuer_id",
]
