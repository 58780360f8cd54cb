"""Small repository functions: only where a rule must hold across processes.

Each function takes the caller's :class:`sqlalchemy.Connection` and never
commits, so it composes with the state change and the audit event of the same
request in one transaction. Single use is enforced by one conditional
``UPDATE ... WHERE used_at IS NULL`` and its row count, which both PostgreSQL
(row lock, re-check after the competing commit) and SQLite (one writer) make
atomic: of any number of concurrent callers exactly one wins.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from issuer.store.errors import ReservationStateError, SerialInUseError
from issuer.store.schema import certificates, registrations, serial_reservations


def new_id() -> str:
    """A fresh random row id (UUID4 text): unguessable and needs no shared sequence."""
    return str(uuid.uuid4())


def _serial_in_use(conn: sa.Connection, issuer: str, serial: str) -> bool:
    found = conn.execute(
        sa.select(sa.literal(1))
        .select_from(serial_reservations)
        .where(serial_reservations.c.issuer == issuer, serial_reservations.c.serial == serial)
        .union_all(
            sa.select(sa.literal(1))
            .select_from(certificates)
            .where(certificates.c.issuer == issuer, certificates.c.serial == serial)
        )
    ).first()
    return found is not None


def reserve_serial(
    conn: sa.Connection,
    *,
    issuer: str,
    serial: str,
    request_sha256: str,
    policy_version: int,
    now: datetime,
    registration_id: str | None = None,
) -> None:
    """Record the intent to issue *serial* before the HSM signs (ARCHITECTURE.md §5 step 2).

    Raises :class:`SerialInUseError` when the issuer already reserved or used
    the serial (RFC 5280 §4.1.2.2). The insert runs in a savepoint so a clash
    leaves the caller's transaction usable (PostgreSQL aborts a transaction on
    a failed statement otherwise). ``serial`` is lowercase hex, no leading zeros.
    """
    if serial != serial.lower() or not serial or serial.startswith("0") or len(serial) > 40:
        raise ValueError(
            f"got serial {serial!r}; expected lowercase hex without leading zeros, at most "
            "40 digits (20 octets, RFC 5280 §4.1.2.2): use format(serial_int, 'x')"
        )
    int(serial, 16)
    try:
        with conn.begin_nested():
            conn.execute(
                serial_reservations.insert().values(
                    issuer=issuer,
                    serial=serial,
                    request_sha256=request_sha256,
                    policy_version=policy_version,
                    state="reserved",
                    registration_id=registration_id,
                    created_at=now,
                )
            )
    except sa.exc.IntegrityError as exc:
        if _serial_in_use(conn, issuer, serial):
            raise SerialInUseError(issuer=issuer, serial=serial) from exc
        raise


def finish_reservation(
    conn: sa.Connection,
    *,
    issuer: str,
    serial: str,
    state: str,
    now: datetime,
    failure: str | None = None,
) -> None:
    """Move a reservation from ``reserved`` to ``issued`` or ``failed`` (once)."""
    if state not in ("issued", "failed"):
        raise ValueError(f"got reservation state {state!r}; expected 'issued' or 'failed'")
    result = conn.execute(
        serial_reservations.update()
        .where(
            serial_reservations.c.issuer == issuer,
            serial_reservations.c.serial == serial,
            serial_reservations.c.state == "reserved",
        )
        .values(state=state, finished_at=now, failure=failure)
    )
    if result.rowcount != 1:
        found = conn.execute(
            sa.select(serial_reservations.c.state).where(
                serial_reservations.c.issuer == issuer, serial_reservations.c.serial == serial
            )
        ).scalar_one_or_none()
        raise ReservationStateError(issuer=issuer, serial=serial, found=found, expected="reserved")


@dataclass(frozen=True, kw_only=True)
class CertificateRecord:
    """A signed certificate to store; ``issuer``/``serial`` must have been reserved."""

    issuer: str
    serial: str
    der: bytes
    not_before: datetime
    not_after: datetime
    policy_version: int
    spki_sha256: str
    mobile_id_id: str | None = None
    person_id: str | None = None
    registration_id: str | None = None


def store_certificate(conn: sa.Connection, record: CertificateRecord, *, now: datetime) -> str:
    """Store a freshly signed certificate and mark its reservation ``issued``; return its id.

    Refuses (``ReservationStateError``) a serial that is not in state
    ``reserved``: this is what makes "no serial is ever used twice" hold even
    when two processes try to finish the same reservation.
    """
    finish_reservation(conn, issuer=record.issuer, serial=record.serial, state="issued", now=now)
    cert_id = new_id()
    conn.execute(
        certificates.insert().values(
            id=cert_id,
            issuer=record.issuer,
            serial=record.serial,
            der=record.der,
            not_before=record.not_before,
            not_after=record.not_after,
            status="good",
            policy_version=record.policy_version,
            spki_sha256=record.spki_sha256,
            mobile_id_id=record.mobile_id_id,
            person_id=record.person_id,
            registration_id=record.registration_id,
            issued_at=now,
        )
    )
    return cert_id


def consume_enrolment_token(conn: sa.Connection, *, token_sha256: str, now: datetime) -> str | None:
    """Use up a registration QR token once; return the registration id, or ``None``.

    ``None`` means unknown, expired, not confirmed, or already used -- the
    caller distinguishes these (for its error code) by reading the row after.
    Exactly one of any number of concurrent callers gets the id.
    """
    result = conn.execute(
        registrations.update()
        .where(
            registrations.c.token_sha256 == token_sha256,
            registrations.c.token_used_at.is_(None),
            registrations.c.token_expires_at > now,
            registrations.c.state == "confirmed",
        )
        .values(token_used_at=now, state="redeemed", updated_at=now)
        .returning(registrations.c.id)
    )
    row = result.first()
    return None if row is None else str(row.id)


def count_failed_attempt(conn: sa.Connection, *, token_sha256: str, now: datetime) -> int:
    """Count one failed redemption attempt of a token; return the new count (0 if unknown)."""
    result = conn.execute(
        registrations.update()
        .where(registrations.c.token_sha256 == token_sha256)
        .values(failed_attempts=registrations.c.failed_attempts + 1, updated_at=now)
        .returning(registrations.c.failed_attempts)
    )
    row = result.first()
    return 0 if row is None else int(row.failed_attempts)
