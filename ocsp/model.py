"""Plain values and the ports through which ``ocsp`` talks to whoever owns the store.

``ocsp`` never imports ``issuer`` (ARCHITECTURE.md §3): the engine implements
:class:`StatusSource`, :class:`ResponseStore` and :class:`CrlStore` over its
database and hands them in at start-up. Everything crossing that line is a
frozen dataclass of plain types, so both sides can be tested alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

REASON_CODES: dict[str, int] = {
    "unspecified": 0,
    "keyCompromise": 1,
    "cACompromise": 2,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
    "certificateHold": 6,
    "removeFromCRL": 8,
    "privilegeWithdrawn": 9,
    "aACompromise": 10,
}
"""RFC 5280 §5.3.1 CRLReason names (as the store keeps them) and their codes."""

CertState = Literal["good", "revoked", "unknown"]


class OcspError(Exception):
    """Base of this package's errors; the message says what was got, expected, and the fix."""


class ResponderUnavailable(OcspError):
    """No signature can be made now (HSM down or the on-demand signing bound is full).

    Answered as OCSP ``tryLater`` (RFC 6960 §2.3), never as an HTTP 500.
    """


@dataclass(frozen=True, kw_only=True)
class CertStatus:
    """A certificate's status as the store knows it (RFC 6960 §2.2).

    ``reason`` is the RFC 5280 §5.3.1 name; ``unspecified`` is kept in the
    store but left out of responses and CRLs (RFC 5280 §5.3.1: "SHOULD be absent").
    """

    state: CertState
    revoked_at: datetime | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if (self.state == "revoked") != (self.revoked_at is not None):
            raise ValueError(
                f"got state {self.state!r} with revoked_at={self.revoked_at!r}; "
                "expected revoked_at exactly when the state is 'revoked'"
            )
        if self.reason is not None and self.reason not in REASON_CODES:
            raise ValueError(
                f"got revocation reason {self.reason!r}; expected an RFC 5280 §5.3.1 name "
                f"({', '.join(REASON_CODES)})"
            )

    @classmethod
    def good(cls) -> CertStatus:
        return cls(state="good")

    @classmethod
    def unknown(cls) -> CertStatus:
        return cls(state="unknown")

    @classmethod
    def revoked(cls, at: datetime, reason: str | None = None) -> CertStatus:
        return cls(state="revoked", revoked_at=at, reason=reason)


@dataclass(frozen=True, kw_only=True)
class RevokedEntry:
    """One revoked certificate as it goes on the CRL (RFC 5280 §5.1.2.6)."""

    serial: int
    revoked_at: datetime
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class StoredResponse:
    """A signed, successful OCSP response (full ``OCSPResponse`` DER) and its times."""

    der: bytes
    this_update: datetime
    next_update: datetime
    produced_at: datetime


@dataclass(frozen=True, kw_only=True)
class StoredCrl:
    """A signed CRL (DER) with its number and times."""

    number: int
    der: bytes
    this_update: datetime
    next_update: datetime


@dataclass(frozen=True, kw_only=True)
class DueItem:
    """A certificate whose pre-signed response is missing or past its refresh point."""

    issuer_id: str
    serial: int
    status: CertStatus | None = None
    """The status read by the same query, when the store had it at hand (saves a lookup)."""


class StatusSource(Protocol):
    """Where certificate status comes from (the engine's certificate store)."""

    def lookup(self, issuer_id: str, serial: int) -> CertStatus:
        """Status of *serial* under *issuer_id*; ``unknown`` when the store has no such row."""
        ...

    def revoked(self, issuer_id: str, *, now: datetime) -> Sequence[RevokedEntry]:
        """Revoked certificates of *issuer_id* not yet expired at *now* (for the CRL)."""
        ...


class ResponseStore(Protocol):
    """Where pre-signed responses live, shared by every responder process."""

    def get(self, issuer_id: str, serial: int) -> StoredResponse | None: ...

    def put(self, issuer_id: str, serial: int, response: StoredResponse) -> bool:
        """Keep *response* unless one produced later is stored; ``True`` if kept."""
        ...

    def due(self, *, now: datetime, next_update_before: datetime, limit: int) -> Sequence[DueItem]:
        """Unexpired certificates whose response is missing or ends before *next_update_before*."""
        ...


class CrlStore(Protocol):
    """Where signed CRLs live (numbers strictly increasing per issuer, RFC 5280 §5.2.3)."""

    def latest(self, issuer_id: str) -> StoredCrl | None: ...

    def next_number(self, issuer_id: str) -> int: ...

    def put(self, issuer_id: str, crl: StoredCrl) -> bool:
        """Store *crl*; ``False`` when another node already used its number (sign again)."""
        ...


@dataclass(frozen=True, kw_only=True)
class OcspTiming:
    """Lifetimes from policy (``[ocsp]``, see docs/policy.md).

    ``refresh_fraction`` of the validity after ``thisUpdate`` a response is
    re-signed (RFC 5019 §4: responses are pre-produced and refreshed before
    ``nextUpdate``). ``unknown_validity`` is short on purpose: a serial that is
    unknown now may be issued a moment later (the serial is reserved before
    signing, ARCHITECTURE.md §5), and a cached ``unknown`` must not outlive that.
    """

    validity: timedelta
    refresh_fraction: float
    crl_validity: timedelta
    echo_nonce: bool
    unknown_validity: timedelta = timedelta(minutes=10)

    @property
    def refresh_after(self) -> timedelta:
        return self.validity * self.refresh_fraction

    @property
    def crl_refresh_after(self) -> timedelta:
        return self.crl_validity * self.refresh_fraction
