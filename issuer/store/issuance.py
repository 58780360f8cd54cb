"""The statements of the issuance hot path (ARCHITECTURE §5), built once.

Why: per-call statement construction (``.values(...)``, ``.where(...)``) and
its cache-key generation cost more than the SQL itself (measured with
cProfile on the cycle: SQLAlchemy coercion and cache keys were the top of
the profile; a bare SQLite write transaction costs ~0.14 ms). The same
finding made the audit log prebuild its statements (docs/audit.md).

Same rules as :mod:`issuer.store.repo` (reservation ``reserved -> issued``
once; a certificate only for a reserved serial), without savepoints: a clash
(a serial drawn twice, probability 2^-159; a mobile ID inserted concurrently)
fails the whole transaction, and the cycle retries it.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from issuer.store.prepared import Prepared
from issuer.store.schema import certificates, mobile_ids, serial_reservations
from issuer.store.types import UtcDateTime

KEY_OWNERS = Prepared(
    sa.select(mobile_ids.c.person_id, sa.null().label("barred"))
    .where(mobile_ids.c.spki_sha256 == sa.bindparam("spki"))
    .union(
        sa.select(
            certificates.c.person_id,
            sa.case(
                (certificates.c.revocation_reason == "keyCompromise", certificates.c.serial),
                else_=sa.null(),
            ).label("barred"),
        ).where(certificates.c.spki_sha256 == sa.bindparam("spki"))
    )
)
"""Persons a public key (by SPKI SHA-256) is already certified for, each with the serial of
a certificate of the key revoked for keyCompromise (or NULL): step 1's key checks in one
round trip (issue 16 item 6)."""

KEY_BARRED = Prepared(
    sa.select(certificates.c.serial)
    .where(
        certificates.c.spki_sha256 == sa.bindparam("spki"),
        certificates.c.revocation_reason == "keyCompromise",
    )
    .limit(1)
)
"""A certificate of this key revoked for keyCompromise: step 4's re-check of a known key,
under the audit head lock (issue 16 item 6; step 1 reads it with :data:`KEY_OWNERS`)."""

INSERT_RESERVATION = Prepared(
    serial_reservations.insert(),
    keys=(
        "issuer",
        "serial",
        "request_sha256",
        "policy_version",
        "state",
        "registration_id",
        "created_at",
    ),
)
"""Params: issuer, serial, request_sha256, policy_version, state, registration_id, created_at."""

FINISH_RESERVATION = Prepared(
    serial_reservations.update()
    .where(
        serial_reservations.c.issuer == sa.bindparam("b_issuer"),
        serial_reservations.c.serial == sa.bindparam("b_serial"),
        serial_reservations.c.state == "reserved",
    )
    .values(
        state="issued",
        finished_at=sa.bindparam("b_at", type_=UtcDateTime),
    )
)
"""``reserved -> issued``; row count 1 or the certificate must not be stored."""

MOBILE_ID_OF_KEY = Prepared(
    sa.select(mobile_ids.c.id, mobile_ids.c.person_id).where(
        mobile_ids.c.spki_sha256 == sa.bindparam("spki")
    )
)
_MOBILE_ID_KEYS = ("id", "person_id", "spki_sha256", "public_key", "created_at", "retired_at")
INSERT_MOBILE_ID = Prepared(mobile_ids.insert(), keys=_MOBILE_ID_KEYS)
INSERT_MOBILE_ID_IF_NEW = {
    "sqlite": Prepared(
        sqlite_insert(mobile_ids).on_conflict_do_nothing(index_elements=["spki_sha256"]),
        keys=_MOBILE_ID_KEYS,
    ),
    "postgresql": Prepared(
        pg_insert(mobile_ids).on_conflict_do_nothing(index_elements=["spki_sha256"]),
        keys=_MOBILE_ID_KEYS,
    ),
}
"""By dialect: insert a mobile ID unless one exists for the key (row count 0), no error.

Why: most issuances are of a new phone key, so inserting first and reading
only when nothing was inserted saves the lookup of the common case. Only
the key's unique index is a conflict target: any other clash still raises."""
INSERT_CERTIFICATE = Prepared(
    certificates.insert(),
    keys=tuple(c.key for c in certificates.columns),
)


# -- the repository: what the cycle calls (issuer/issuance/cycle.py, storing.py) -------------
# Thin functions over the statements above, so the cycle names what it does and never
# holds SQL; each runs in the caller's transaction and never commits.


def key_owners(conn: sa.Connection, spki: str) -> list[tuple[str | None, str | None]]:
    """Step 1 in step 2's transaction: ``(person_id, barred serial or None)`` per holder of
    the key (see :data:`KEY_OWNERS`)."""
    rows: list[tuple[str | None, str | None]] = KEY_OWNERS.execute(conn, {"spki": spki}).fetchall()
    return rows


def key_barred(conn: sa.Connection, spki: str) -> str | None:
    """The serial of a certificate of the key revoked for keyCompromise, or ``None``."""
    row = KEY_BARRED.execute(conn, {"spki": spki}).fetchone()
    return None if row is None else str(row[0])


class Intent(NamedTuple):
    """Step 2's reservation: what is about to be signed (state ``reserved``)."""

    issuer: str
    serial: str
    request_sha256: str
    policy_version: int
    registration_id: str | None
    created_at: datetime


def insert_reservation(conn: sa.Connection, intent: Intent) -> None:
    """Step 2: the reservation row, ``reserved``; a serial drawn twice raises
    :class:`sqlalchemy.exc.IntegrityError` (``issuer.store.IntegrityError``)."""
    INSERT_RESERVATION.execute(
        conn,
        {
            "issuer": intent.issuer,
            "serial": intent.serial,
            "request_sha256": intent.request_sha256,
            "policy_version": intent.policy_version,
            "state": "reserved",
            "registration_id": intent.registration_id,
            "created_at": intent.created_at,
        },
    )


def mark_issued(conn: sa.Connection, *, issuer: str, serial: str, at: datetime) -> bool:
    """Step 4: ``reserved -> issued``; ``False`` when the row was not ``reserved``."""
    done = FINISH_RESERVATION.execute(conn, {"b_issuer": issuer, "b_serial": serial, "b_at": at})
    return bool(done.rowcount == 1)


def insert_mobile_id_if_new(
    conn: sa.Connection,
    *,
    id: str,
    person_id: str,
    spki_sha256: str,
    public_key: bytes,
    created_at: datetime,
) -> bool:
    """Step 4: a mobile ID for the key; ``False`` when the key has one already (PostgreSQL,
    SQLite: no error; another dialect raises ``IntegrityError`` instead)."""
    insert = INSERT_MOBILE_ID_IF_NEW.get(conn.dialect.name, INSERT_MOBILE_ID)
    params = {
        "id": id,
        "person_id": person_id,
        "spki_sha256": spki_sha256,
        "public_key": public_key,
        "created_at": created_at,
        "retired_at": None,
    }
    return bool(insert.execute(conn, params).rowcount == 1)


def mobile_id_of_key(conn: sa.Connection, spki: str) -> tuple[str, str] | None:
    """The ``(id, person_id)`` of the key's mobile ID, or ``None``."""
    row = MOBILE_ID_OF_KEY.execute(conn, {"spki": spki}).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def insert_certificate(
    conn: sa.Connection,
    *,
    id: str,
    issuer: str,
    serial: str,
    der: bytes,
    not_before: datetime,
    not_after: datetime,
    policy_version: int,
    spki_sha256: str,
    mobile_id_id: str | None,
    person_id: str | None,
    registration_id: str | None,
    issued_at: datetime,
    usage: str = "mobile-id",
) -> None:
    """Step 4: the certificate row, ``good``, not revoked, superseded by none."""
    INSERT_CERTIFICATE.execute(
        conn,
        {
            "id": id,
            "issuer": issuer,
            "serial": serial,
            "der": der,
            "not_before": not_before,
            "not_after": not_after,
            "status": "good",
            "revoked_at": None,
            "revocation_reason": None,
            "policy_version": policy_version,
            "spki_sha256": spki_sha256,
            "mobile_id_id": mobile_id_id,
            "person_id": person_id,
            "registration_id": registration_id,
            "superseded_by": None,
            "issued_at": issued_at,
            "held_by": None,
            "usage": usage,
        },
    )
