"""Typed errors of the storage layer.

Each message says what was found, what was expected and what to do, and
never carries a secret (tokens and handles are stored and shown as hashes only).
"""

from __future__ import annotations

import sqlalchemy as sa


class StoreError(Exception):
    """Base of every storage error."""


class SchemaOutOfDateError(StoreError):
    """The database schema is not at the revision this code was built for.

    Raised at start-up by :func:`issuer.store.check_schema` so that a server
    never runs against a schema it does not understand.
    """

    def __init__(self, *, found: str | None, expected: str, url: str) -> None:
        self.found = found
        self.expected = expected
        shown = found if found is not None else "none (empty database)"
        super().__init__(
            f"database schema at {url} is at revision {shown}, expected {expected}: "
            "run `zorgid db upgrade --config FILE` (or `zorgid db upgrade --database URL`) "
            "and start again"
        )


class SerialInUseError(StoreError):
    """A serial number was drawn that the issuer already used or reserved.

    RFC 5280 §4.1.2.2: the serial must be unique for each certificate issued by
    a given CA. With >= 64 random bits a collision means a broken random source
    or a replayed request; the caller draws a new serial.
    """

    def __init__(self, *, issuer: str, serial: str) -> None:
        self.issuer = issuer
        self.serial = serial
        super().__init__(
            f"serial {serial} is already reserved or used by issuer {issuer}; "
            "expected a fresh serial: draw a new random serial and retry"
        )


class ReservationStateError(StoreError):
    """A serial reservation was asked to change from a state that does not allow it."""

    def __init__(self, *, issuer: str, serial: str, found: str | None, expected: str) -> None:
        self.issuer = issuer
        self.serial = serial
        shown = found if found is not None else "no reservation"
        super().__init__(
            f"serial reservation {serial} of issuer {issuer} is in state {shown}, expected "
            f"{expected}: reserve a new serial with reserve_serial() before issuing"
        )


class DuplicateKeyError(StoreError):
    """A row with this key already exists (e.g. a challenge id drawn twice)."""

    def __init__(self, *, what: str, key: str) -> None:
        self.what = what
        self.key = key
        super().__init__(
            f"a {what} with id {key} already exists; expected a fresh random id: draw a new one"
        )


class CrlNumberError(StoreError):
    """A CRL number that does not increase (RFC 5280 §5.2.3: monotonically increasing)."""

    def __init__(self, *, issuer: str, number: int, highest: int) -> None:
        self.issuer = issuer
        self.number = number
        self.highest = highest
        super().__init__(
            f"CRL number {number} for issuer {issuer} does not increase: the highest stored is "
            f"{highest}; expected a number above it: take next_crl_number() and sign again"
        )


_SQLITE_TRANSIENT = (
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
)
"""SQLite's result codes (and their extended forms) of a database it cannot use right now."""


def is_unavailable(exc: BaseException) -> bool:
    """Whether *exc* (or what caused it) says the database cannot be used right now: the
    server down or restarting, a connection cut, the pool exhausted, SQLite's disk full.

    Why: such a failure is the database's, not the request's, and it passes; the caller
    is told to retry (ZID-0004) instead of being told the engine is broken (ZID-0001). A
    wrong statement or a schema problem is not one of them.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sa.exc.TimeoutError):  # no pooled connection came free
            return True
        if isinstance(seen, sa.exc.DBAPIError) and seen.connection_invalidated:
            return True
        # The driver's own (PEP 249) error, wrapped by SQLAlchemy or, from a raw
        # connection's checkout, not: sqlite3's and psycopg's carry the same class names.
        raw = seen.orig if isinstance(seen, sa.exc.DBAPIError) else seen
        if {c.__name__ for c in type(raw).__mro__} & {"OperationalError", "InterfaceError"}:
            name = getattr(raw, "sqlite_errorname", None)
            return name is None or str(name).startswith(_SQLITE_TRANSIENT)
        seen = seen.__cause__
    return False
