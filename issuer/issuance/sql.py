"""The statements of the issuance hot path, built once.

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

import contextlib
import threading
import weakref
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from issuer.store import is_sqlite
from issuer.store.prepared import Prepared
from issuer.store.schema import audit_head, certificates, mobile_ids, serial_reservations
from issuer.store.types import UtcDateTime

KEY_OWNERS = Prepared(
    sa.select(mobile_ids.c.person_id)
    .where(mobile_ids.c.spki_sha256 == sa.bindparam("spki"))
    .union(
        sa.select(certificates.c.person_id).where(
            certificates.c.spki_sha256 == sa.bindparam("spki")
        )
    )
)
"""Persons a public key (by SPKI SHA-256) is already certified for."""

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


_LOCKS: weakref.WeakKeyDictionary[sa.Engine, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """``engine.begin()``, queued on a process-wide lock first when the engine is SQLite.

    SQLite has one writer per database; threads of one process that race for
    it wait in SQLite's busy handler, which sleeps in growing steps (1, 2, 5,
    10 ... ms) and so turns contention into idle time (measured: p99 above a
    second at 32 concurrent gRPC calls). Queueing on a Python lock hands the
    write lock over without sleeping; other processes still wait in the busy
    handler. PostgreSQL needs no such lock (row locks, concurrent commits).
    """
    if not is_sqlite(engine):
        with engine.begin() as conn:
            yield conn
        return
    with sqlite_writer_lock(engine), engine.begin() as conn:
        yield conn


def sqlite_writer_lock(engine: sa.Engine) -> threading.Lock:
    """The process-wide lock SQLite writers of *engine* queue on (see :func:`write_transaction`)."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(engine, threading.Lock())


_LOCK_AUDIT_HEAD = Prepared(
    sa.select(audit_head.c.seq).where(audit_head.c.id == 1).with_for_update()
)


def lock_audit_head(conn: sa.Connection) -> None:
    """Take the audit head row lock first (PostgreSQL), before any registration row.

    Every transaction that locks both must take them in one order, or two
    processes can deadlock; the step-4 group transaction and the refusal
    counter (``issuer.enrolment.redeem``) take the head first. SQLite: nothing
    to do, and no statement is sent: every write transaction there starts with
    ``BEGIN IMMEDIATE`` (issuer/store/engine.py), which already holds the one
    database write lock, so there is no row lock to order.
    """
    if conn.dialect.name == "sqlite":
        return
    _LOCK_AUDIT_HEAD.execute(conn).fetchone()
