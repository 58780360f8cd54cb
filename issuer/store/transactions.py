"""Write transactions: the SQLite writer queue and the audit head lock.

Every write of the engine goes through :func:`write_transaction`; a
transaction that also appends to the audit log and locks a registration takes
:func:`lock_audit_head` first, so two processes always lock in one order.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import weakref
from collections.abc import Iterator

import sqlalchemy as sa

from issuer.store.engine import READ_ONLY, is_sqlite
from issuer.store.prepared import Prepared
from issuer.store.schema import audit_head


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


@contextlib.contextmanager
def read_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A read-only transaction: one snapshot, and on SQLite no write lock (plain ``BEGIN``,
    see :data:`issuer.store.READ_ONLY`) so it never waits for or blocks a writer."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
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
