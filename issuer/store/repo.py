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
from typing import Any

import sqlalchemy as sa

from issuer.store.errors import CrlNumberError, ReservationStateError, SerialInUseError
from issuer.store.schema import (
    certificates,
    crls,
    login_challenges,
    login_sessions,
    ocsp_responses,
    registrations,
    serial_reservations,
)


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


REVOCATION_REASONS = frozenset(
    {
        "unspecified",
        "keyCompromise",
        "affiliationChanged",
        "superseded",
        "cessationOfOperation",
        "privilegeWithdrawn",
    }
)
"""RFC 5280 §5.3.1 reason names a revocation may give; ``certificateHold`` is refused (a
revocation is final; only the UZI-pas watch holds, ``issuer.store.uzi_watch``), and the
CA/AA reasons do not apply to end-entity certificates."""


def revoke_certificate(
    conn: sa.Connection, *, issuer: str, serial: str, at: datetime, reason: str
) -> bool:
    """Revoke once: ``True`` when this call revoked it, ``False`` if unknown or already revoked.

    The first revocation's time and reason stay (RFC 5280 §5.3.1/§5.3.2: the
    revocation date must not move), even when two operators act at once.

    Every revocation also ends, in the same transaction and for good, the
    login sessions of the certificate's mobile ID (issue 16 item 6): a
    session must not come back when the key is certified again. Every
    revocation path (operator, holder, administrator, reset, flow 5's
    supersession, the ``zorgid`` revoke commands) goes through here.
    """
    if reason not in REVOCATION_REASONS:
        raise ValueError(
            f"got revocation reason {reason!r}; expected one of {sorted(REVOCATION_REASONS)}"
        )
    result = conn.execute(
        certificates.update()
        .where(
            certificates.c.issuer == issuer,
            certificates.c.serial == serial,
            certificates.c.status == "good",
        )
        .values(status="revoked", revoked_at=at, revocation_reason=reason)
    )
    if result.rowcount != 1:
        return False
    end_login_sessions(conn, issuer=issuer, serial=serial, at=at)
    return True


def end_login_sessions(conn: sa.Connection, *, issuer: str, serial: str, at: datetime) -> None:
    """End the open login sessions of the certificate's mobile ID at *at*: a session must
    not outlive the certificate it was opened with (revocation, the UZI-pas watch's hold)."""
    mobile_id = (
        sa.select(certificates.c.mobile_id_id)
        .where(certificates.c.issuer == issuer, certificates.c.serial == serial)
        .scalar_subquery()
    )
    conn.execute(
        login_sessions.update()
        .where(login_sessions.c.mobile_id_id == mobile_id, login_sessions.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )


def save_ocsp_response(
    conn: sa.Connection,
    *,
    issuer: str,
    serial: str,
    der: bytes,
    this_update: datetime,
    next_update: datetime,
    produced_at: datetime,
    wins_ties: bool = False,
) -> bool:
    """Keep the newest pre-signed OCSP response of a certificate; ``True`` if *der* was kept.

    Refreshers on several nodes may race, and a slow one must not replace a
    newer response (e.g. a ``revoked`` one) with an older ``good`` one: the
    row is replaced only by a response produced later. *wins_ties*: also by one
    produced in the same second (producedAt has whole seconds, RFC 5019 §2.2.4) --
    a ``revoked`` response, so a revocation in the second of the issuance is not
    answered ``good`` until the refresher's next pass; a revocation is final, so
    a tie can only be a ``good`` signed before it.
    """
    values = {
        "der": der,
        "this_update": this_update,
        "next_update": next_update,
        "produced_at": produced_at,
    }
    for _ in range(2):
        updated = conn.execute(
            ocsp_responses.update()
            .where(
                ocsp_responses.c.issuer == issuer,
                ocsp_responses.c.serial == serial,
                (ocsp_responses.c.produced_at <= produced_at)
                if wins_ties
                else (ocsp_responses.c.produced_at < produced_at),
            )
            .values(**values)
        )
        if updated.rowcount == 1:
            return True
        exists = conn.execute(
            sa.select(ocsp_responses.c.produced_at).where(
                ocsp_responses.c.issuer == issuer, ocsp_responses.c.serial == serial
            )
        ).first()
        if exists is not None:
            return False
        try:
            with conn.begin_nested():
                conn.execute(ocsp_responses.insert().values(issuer=issuer, serial=serial, **values))
            return True
        except sa.exc.IntegrityError:
            continue  # another node inserted first: compare with theirs
    return False


def next_crl_number(conn: sa.Connection, *, issuer: str) -> int:
    """The CRL number to sign next for *issuer* (1 for the first CRL)."""
    highest = conn.execute(
        sa.select(sa.func.max(crls.c.number)).where(crls.c.issuer == issuer)
    ).scalar()
    return 1 if highest is None else int(highest) + 1


def store_crl(
    conn: sa.Connection,
    *,
    issuer: str,
    number: int,
    der: bytes,
    this_update: datetime,
    next_update: datetime,
) -> None:
    """Store a signed CRL; its number must be above every stored one (RFC 5280 §5.2.3).

    Two nodes that signed the same number: the second gets :class:`CrlNumberError`
    (the primary key refuses it) and signs again with :func:`next_crl_number`.
    """
    highest = next_crl_number(conn, issuer=issuer) - 1
    if number <= highest:
        raise CrlNumberError(issuer=issuer, number=number, highest=highest)
    try:
        with conn.begin_nested():
            conn.execute(
                crls.insert().values(
                    issuer=issuer,
                    number=number,
                    der=der,
                    this_update=this_update,
                    next_update=next_update,
                )
            )
    except sa.exc.IntegrityError as exc:
        raise CrlNumberError(
            issuer=issuer, number=number, highest=next_crl_number(conn, issuer=issuer) - 1
        ) from exc


def answer_login_challenge(
    conn: sa.Connection,
    *,
    challenge_id: str,
    certificate_id: str,
    signature: bytes,
    at: datetime,
) -> bool:
    """Record the phone's answer once, before expiry; ``False`` if expired, unknown or answered."""
    result = conn.execute(
        login_challenges.update()
        .where(
            login_challenges.c.id == challenge_id,
            login_challenges.c.answered_at.is_(None),
            login_challenges.c.expires_at > at,
        )
        .values(answered_at=at, certificate_id=certificate_id, signature=signature)
    )
    return result.rowcount == 1


def collect_login_challenge(
    conn: sa.Connection, *, challenge_id: str, portal_identity: str, at: datetime
) -> str | None:
    """Hand an answered login to the portal that asked for it, once; return the certificate id.

    ``None`` when not (yet) answered, already collected, or asked by another
    portal identity (a handle shown by another portal is refused, api-sketch).
    """
    row = conn.execute(
        login_challenges.update()
        .where(
            login_challenges.c.id == challenge_id,
            login_challenges.c.portal_identity == portal_identity,
            login_challenges.c.answered_at.is_not(None),
            login_challenges.c.collected_at.is_(None),
        )
        .values(collected_at=at)
        .returning(login_challenges.c.certificate_id)
    ).first()
    return None if row is None else str(row.certificate_id)


def open_reservations(conn: sa.Connection, *, older_than: datetime) -> list[sa.Row[Any]]:
    """Reservations still ``reserved`` since before *older_than*: issuances a crash interrupted.

    The operator (or a recovery job) decides per row: if a certificate with
    that serial shows up (e.g. in a log of the HSM), store it; otherwise mark
    the reservation ``failed``. The serial is never drawn again either way.
    """
    return list(
        conn.execute(
            sa.select(serial_reservations)
            .where(
                serial_reservations.c.state == "reserved",
                serial_reservations.c.created_at < older_than,
            )
            .order_by(serial_reservations.c.created_at)
        )
    )
