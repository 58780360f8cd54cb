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
import fcntl
import os
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


class SqliteWriterLock:
    """The queue every SQLite writer of one database joins: threads, then processes.

    Why: SQLite has one writer per database, and a writer that finds it taken
    waits in SQLite's busy handler, which sleeps in growing steps (1, 2, 5,
    10 ... ms) and so turns contention into idle time (measured: p99 above a
    second at 32 concurrent gRPC calls). Threads of a process queue on a
    Python lock; processes on the same file (``[server] processes``, the OCSP
    responders, an operator's CLI) queue on an ``flock`` of a lock file beside
    the database, which the kernel hands over at once and releases when a
    process dies. SQLite's own lock stays the truth: a writer that does not
    take this queue is still serialised by SQLite, only less efficiently.
    """

    def __init__(self, database: str | None) -> None:
        self._thread_lock = threading.Lock()
        self._path = f"{database}.writer-lock" if database and database != ":memory:" else None
        self._fd: int | None = None
        self._fd_pid = 0

    def _file(self) -> int | None:
        if self._path is None:
            return None
        if self._fd is None or self._fd_pid != os.getpid():
            # A forked child must not share the parent's open file description:
            # flock locks belong to it, so parent and child would not exclude each other.
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._fd_pid = os.getpid()
        return self._fd

    def __enter__(self) -> SqliteWriterLock:
        self._thread_lock.acquire()
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fd is not None and self._fd_pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


_LOCKS: weakref.WeakKeyDictionary[sa.Engine, SqliteWriterLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """``engine.begin()``, queued on the database's writer queue first when it is SQLite.

    See :class:`SqliteWriterLock`. PostgreSQL needs no such queue (row locks,
    concurrent commits).
    """
    if not is_sqlite(engine):
        with engine.begin() as conn:
            yield conn
        return
    with sqlite_writer_lock(engine), engine.begin() as conn:
        yield conn


def sqlite_writer_lock(engine: sa.Engine) -> SqliteWriterLock:
    """The writer queue of *engine*'s SQLite database (see :class:`SqliteWriterLock`)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(engine)
        if lock is None:
            lock = _LOCKS[engine] = SqliteWriterLock(engine.url.database)
        return lock


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
