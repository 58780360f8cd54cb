"""Step 4 of the issuance cycle and its writers: the certificate stored with its audit event.

Why apart from :mod:`issuer.issuance.cycle`: the cycle says what happens in
which order (steps 1-4); this module says what step 4's one transaction holds
(mobile ID, reservation done, certificate row, the caller's change, the hooks'
write, the audit event) and how steps 2 and 4 reach the database (the group
committers). The SQL is :mod:`issuer.store.issuance`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from issuer.audit import AuditEvent, AuditLog
from issuer.errors import Code, ZorgIdError
from issuer.issuance.records import (
    Actor,
    CheckedRequest,
    Finish,
    IssuedCertificate,
    Reservation,
)
from issuer.store import Connection, Engine, ReservationStateError, is_sqlite
from issuer.store import issuance as sql
from issuer.store.group_commit import GroupCommitter
from issuer.store.repo import finish_reservation, new_id
from issuer.store.transactions import lock_audit_head, write_transaction


@dataclass(frozen=True, kw_only=True)
class Committers:
    """The two group-commit writers of one engine; share them between cycles of one
    process (one cycle per policy version) so concurrent requests of two versions
    still share batches."""

    reserve: GroupCommitter
    store: GroupCommitter

    @classmethod
    def for_engine(cls, engine: Engine) -> Committers:
        """Two writers on PostgreSQL; one, shared by steps 2 and 4, on SQLite.

        PostgreSQL: a step-2 batch locks registrations, a step-4 batch the
        audit head first, so the two run concurrently and never wait on each
        other in a cycle. SQLite has one writer per database anyway, so two
        committers only took turns at its lock, each paying its own
        ``BEGIN IMMEDIATE``/``COMMIT`` and WAL append; one committer puts the
        step-2 and step-4 units in flight into the same transaction.
        """
        if is_sqlite(engine):
            shared = GroupCommitter(engine)
            return cls(reserve=shared, store=shared)
        return cls(
            reserve=GroupCommitter(engine),
            store=GroupCommitter(engine, prologue=lock_audit_head),
        )


def refuse_barred(spki_sha256: str, serial: str) -> NoReturn:
    """ZID-1850: a certificate of this key was revoked for keyCompromise (issue 16 item 6)."""
    raise ZorgIdError(
        Code.ZID_1850,
        f"key spki_sha256={spki_sha256} was revoked for keyCompromise (serial {serial}); "
        "expected a key never revoked as compromised",
    )


def store_issued(
    conn: Connection,
    *,
    issuer: str,
    policy_version: int,
    audit: AuditLog,
    checked: CheckedRequest,
    reservation: Reservation,
    signed: x509.Certificate,
    der: bytes,
    finish: Finish | None,
    extra: Finish | None,
    now: datetime,
) -> IssuedCertificate:
    """Step 4's unit of work, in *conn*'s (group) transaction: nothing is committed here.

    Raising anywhere rolls the whole of it back (the certificate is not stored;
    the cycle marks the reservation failed).
    """
    request = checked.request
    # A card's key is the card's, not a phone's: it makes no mobile ID.
    usage = request.usage
    mobile_id = None if usage.is_card else _mobile_id(conn, checked, now)
    if not sql.mark_issued(conn, issuer=issuer, serial=reservation.serial_hex, at=now):
        raise ReservationStateError(
            issuer=issuer,
            serial=reservation.serial_hex,
            found=None,
            expected="reserved",
        )
    issued = IssuedCertificate(
        id=new_id(),
        issuer=issuer,
        serial=reservation.serial_hex,
        der=der,
        not_before=signed.not_valid_before_utc,
        not_after=signed.not_valid_after_utc,
        status="good",
        policy_version=policy_version,
        spki_sha256=checked.spki_sha256,
        person_id=request.person_id,
        mobile_id_id=mobile_id,
        registration_id=request.registration_id,
        issued_at=now,
        usage=usage,
    )
    sql.insert_certificate(
        conn,
        id=issued.id,
        issuer=issued.issuer,
        serial=issued.serial,
        der=der,
        not_before=issued.not_before,
        not_after=issued.not_after,
        policy_version=issued.policy_version,
        spki_sha256=issued.spki_sha256,
        mobile_id_id=mobile_id,
        person_id=issued.person_id,
        registration_id=issued.registration_id,
        issued_at=now,
        usage=usage.value,
    )
    if finish is not None:
        finish(conn, issued)
    if extra is not None:
        extra(conn, issued)
    audit.append(
        conn,
        AuditEvent(
            actor_role=request.actor.role,
            actor_identity=request.actor.identity,
            action="certificate.issue",
            subject=f"certificate:{issuer[:16]}:{reservation.serial_hex}",
            details={
                "certificate_id": issued.id,
                "issuer": issuer,
                "serial": reservation.serial_hex,
                "person_id": request.person_id,
                "mobile_id_id": mobile_id,
                "registration_id": request.registration_id,
                "spki_sha256": checked.spki_sha256,
                "policy_version": policy_version,
                "not_after": issued.not_after.isoformat(),
                **({"usage": usage.value} if usage.is_card else {}),
            },
        ),
    )
    return issued


def _mobile_id(conn: Connection, checked: CheckedRequest, now: datetime) -> str:
    """The person's mobile ID for this key, made on first issuance.

    Inserted first (``ON CONFLICT (spki_sha256) DO NOTHING``, a statement
    fewer for a new key, the common case); only when the key has one
    already is it read, and it must be this person's and not barred (a new
    key has no certificate, so none revoked for keyCompromise).
    """
    person = checked.request.person_id
    made = new_id()
    der = checked.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    inserted = sql.insert_mobile_id_if_new(
        conn,
        id=made,
        person_id=person,
        spki_sha256=checked.spki_sha256,
        public_key=der,
        created_at=now,
    )
    if inserted:
        return made
    row = sql.mobile_id_of_key(conn, checked.spki_sha256)
    if row is None:  # pragma: no cover - the conflict was on this key's row
        raise ZorgIdError(Code.ZID_0001, "a mobile ID clashed on its key but cannot be read")
    found_id, found_person = row
    if found_person != person:
        raise ZorgIdError(
            Code.ZID_1203,
            f"key spki_sha256={checked.spki_sha256} became certified for another "
            "person while this request was signed",
        )
    # A known key may have been revoked for keyCompromise while this request was
    # signed. Read under the audit head lock, which a revocation holds before it
    # sweeps the key's certificates (issuance.certificates.revoke): either it
    # committed before this read, or it sees this certificate and revokes it.
    lock_audit_head(conn)
    barred = sql.key_barred(conn, checked.spki_sha256)
    if barred is not None:
        refuse_barred(checked.spki_sha256, barred)
    return found_id


def abandon(
    engine: Engine,
    audit: AuditLog,
    reservation: Reservation,
    *,
    issuer: str,
    reason: str,
    actor: Actor,
    clock: Callable[[], datetime],
) -> None:
    """Mark a reservation ``failed`` (one transaction); for ZID-1250 audit why, with it.

    Raises what the database raised: the cycle logs it (best effort).
    """
    with write_transaction(engine) as conn:
        if reason == Code.ZID_1250:
            lock_audit_head(conn)  # step 4's lock order: the audit head first
        finish_reservation(
            conn,
            issuer=reservation.issuer,
            serial=reservation.serial_hex,
            state="failed",
            now=clock(),
            failure=f"abandoned: {reason}"[:512],
        )
        if reason == Code.ZID_1250:
            _audit_bad_signature(conn, audit, issuer, reservation, actor)


def _audit_bad_signature(
    conn: Connection, audit: AuditLog, issuer: str, reservation: Reservation, actor: Actor
) -> None:
    """Record, with the reservation's failure, that the HSM signed with a key that is
    not the issuing CA's: an operator must see it, not only a log line."""
    audit.append(
        conn,
        AuditEvent(
            actor_role=actor.role,
            actor_identity=actor.identity,
            action="certificate.signature_invalid",
            subject=f"certificate:{issuer[:16]}:{reservation.serial_hex}",
            outcome="failure",
            details={
                "issuer": issuer,
                "serial": reservation.serial_hex,
                "code": Code.ZID_1250,
                "stored": False,
            },
        ),
    )
