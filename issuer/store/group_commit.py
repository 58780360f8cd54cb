"""Group commit: the write transactions of concurrent issuances share one commit.

Why: every certificate needs two commits (step 2: claim + reservation; step 4:
certificate + audit event), and step 4 holds the audit head row lock
(``SELECT ... FOR UPDATE``, issuer/store/audit.py) until its commit. On
PostgreSQL a commit waits for the WAL flush (measured here: 10-17 ms on a busy
disk), so one lock holder at a time caps the whole cluster near 1/flush
≈ 60-100 certificates/s, and more concurrency only adds lock waits. Sharing
one transaction among the requests in flight pays the flush and the head lock
once per batch instead of once per certificate.

How: callers hand a unit of work (a function of the connection) to
:meth:`GroupCommitter.run`, which queues it; the first caller to find no batch
running becomes the leader and, on its own thread, takes the oldest queued
units up to a batch (it never waits to fill one: at low load a batch is one
unit and latency is unchanged), runs them in one transaction and commits once.
A unit that raises sends the batch round again with a SAVEPOINT per unit, so
that the failure is its alone and the others commit
(:meth:`GroupCommitter._commit_without_savepoints`). Callers that arrive
meanwhile wait, and the oldest of those still queued is woken to lead the next
batch: every waiting caller is woken exactly once, by its result or to lead.
Why not one condition variable that all waiters share: each batch's end then
woke every waiter to look (a thundering herd), measured as the top Python
frame (``Condition.notify``) of a server process at 32 concurrent calls, and
each wake-up is a context switch and a GIL hand-over. Why a leader and not a
writer thread: with a thread every unit costs two thread wake-ups (hand over,
hand back), measured ~0.1 ms per step at low load on this machine; the leader
runs its own unit without any hand-over, and batches form the same way under
load. Nothing is acknowledged before the commit, and every commit is synced to
disk before it returns (issuer/store/engine.py: SQLite ``synchronous = FULL``,
PostgreSQL ``synchronous_commit = on``), so a crash or a power failure loses
only unacknowledged work, exactly as with one transaction per unit (the
reservation rows committed before signing say what was intended); a batch
pays one sync for all its units.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa

from issuer.store import is_sqlite
from issuer.store.engine import PG_POOL_RECYCLE_S
from issuer.store.prepared import driver_execute
from issuer.store.transactions import sqlite_writer_lock, write_transaction

_LOG = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BATCH = 64
"""Units per transaction at most: bounds the lock hold time and a failed commit's blast radius."""


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False)
class _Unit:
    """One caller's work, its outcome, and the lock its caller sleeps on until woken.

    ``wake`` is created held; the caller blocks acquiring it, and whoever
    settles the unit (or makes its caller the next leader) releases it once.
    A bare lock, not an Event or a Future: those wait on a Condition, which
    allocates a lock per wait and takes two more locks per wake-up.
    """

    work: Callable[[sa.Connection], Any]
    wake: threading.Lock = field(default_factory=_held_lock)
    done: bool = False
    ok: bool = False
    value: Any = None

    def settle(self, ok: bool, value: Any) -> None:
        self.ok, self.value, self.done = ok, value, True

    def result(self) -> Any:
        if not self.ok:
            raise self.value
        return self.value


class GroupCommitAborted(RuntimeError):
    """A unit's batch was cut short by an interrupt of its leader (not by the unit's work).

    Nothing of the batch committed; the caller sees an error and may retry,
    as after any failed transaction.
    """


class GroupCommitter:
    """Units of one engine (per process) run in shared transactions, one batch at a time."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        max_batch: int = MAX_BATCH,
        prologue: Callable[[sa.Connection], None] | None = None,
    ) -> None:
        self._engine = engine
        self._sqlite = is_sqlite(engine)
        # Kept only from a QueuePool (file SQLite, PostgreSQL): an in-memory SQLite
        # lives in its pool's one shared or per-thread connection; left as it was.
        self._keep = isinstance(engine.pool, sa.pool.QueuePool)
        self._max = max_batch
        self._prologue = prologue
        self._pending: deque[_Unit] = deque()
        self._mutex = threading.Lock()
        self._leading = False
        self.batches = 0
        self.units = 0
        # The leader's connection, kept between batches (see _transaction): (pid, born, conn).
        self._kept: list[tuple[int, float, sa.Connection]] = []
        self._disposed = False  # engine.dispose() came while a batch held the kept connection
        self._lost_before_commit = False
        weakref.finalize(self, _close_kept, self._kept)
        if self._keep:
            sa.event.listen(engine, "engine_disposed", _on_engine_disposed(weakref.ref(self)))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        """A write transaction for one batch (only the leader calls this: one at a time).

        On a connection this committer keeps between batches (SQLite: after
        the process writer lock, ``BEGIN IMMEDIATE``). Why: checking a
        connection out of the pool and back in costs ~25-35 us a transaction
        on SQLite (same-run micro-benchmark: 40-55 us -> 16-20 us for a
        one-insert transaction), and on PostgreSQL the checkout also pings the
        server (``pool_pre_ping``: a round trip); two transactions per
        certificate. What the ping guarded against, a connection the server
        dropped while it sat idle, is handled instead when it shows: the
        statement that meets it invalidates the connection, the transaction is
        known not to have committed (it failed before COMMIT, and a server
        drops a dead client's open transaction), so :meth:`_commit` runs the
        batch once more on a fresh, pre-pinged pool connection. A connection
        older than the pool's recycle time, closed, invalidated or the parent's
        before a fork is replaced before use.
        """
        self._lost_before_commit = False
        if not self._keep:
            with write_transaction(self._engine) as conn:
                yield conn
            return
        lock = sqlite_writer_lock(self._engine) if self._sqlite else contextlib.nullcontext()
        with lock:
            conn = self._writer_connection()
            with conn.begin():
                try:
                    yield conn
                except BaseException:
                    # Failed in a statement (not at COMMIT): a lost connection here
                    # means nothing of this transaction can have been committed.
                    self._lost_before_commit = conn.invalidated
                    raise

    def _release_kept(self) -> None:
        """``engine.dispose()``: close the kept connection, as the pool closes its idle ones.

        Why: the kept connection is checked out, so the pool's dispose leaves it
        open, and closing it only hands it back to the disposed pool, which
        keeps it open too: a disposed-of engine (a stopped server, a finished
        test) held a database connection until the garbage collector found the
        committer. It is invalidated, which closes it. If a batch is using it
        right now, its leader drops it before the next batch instead
        (:meth:`_writer_connection`). A parent's connection (forked) is not
        ours to close.
        """
        with self._mutex:
            if self._leading:
                self._disposed = True
                return
            kept = list(self._kept)
            self._kept.clear()
        _close_kept(kept, invalidate=True)

    def _writer_connection(self) -> sa.Connection:
        pid = os.getpid()
        now = time.monotonic()
        if self._disposed:
            with self._mutex:
                self._disposed = False
            _close_kept(self._kept, invalidate=True)
        if self._kept:
            owner, born, conn = self._kept[0]
            fresh = now - born < PG_POOL_RECYCLE_S
            if owner == pid and fresh and not conn.closed and not conn.invalidated:
                return conn
            self._kept.clear()
            if owner == pid:
                _close_quietly(conn)
            # else: the parent's connection (forked): not ours to use or close
        conn = self._engine.connect()
        self._kept.append((pid, now, conn))
        return conn

    @property
    def queued(self) -> int:
        """Units waiting for a batch (not counting the one being committed)."""
        return len(self._pending)

    def run(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work(conn)`` in a shared transaction; return once it is committed.

        Invariant (under ``_mutex``): while units are pending, exactly one
        caller leads or has been woken to lead. A caller that finds no leader
        has the only pending unit (the queue was empty, or a leader would
        exist); a woken leader's unit is the oldest pending one. So every
        leader's batch (the oldest units, up to ``max_batch``) holds its own
        unit, and it leads exactly one batch before handing the lead on.
        """
        unit = _Unit(work)
        with self._mutex:
            self._pending.append(unit)
            lead = not self._leading
            self._leading = True
        if not lead:
            unit.wake.acquire()  # woken once: settled, or made the next leader
            if unit.done:
                result: T = unit.result()
                return result
        batch: list[_Unit] = []
        try:
            with self._mutex:
                for _ in range(min(self._max, len(self._pending))):
                    batch.append(self._pending.popleft())
            self._commit(batch)
        finally:
            for other in batch:
                if not other.done:  # only a BaseException in _commit leaves one so
                    other.settle(False, GroupCommitAborted("the batch's leader was interrupted"))
                if other is not unit:
                    other.wake.release()
            with self._mutex:
                if self._pending:
                    self._pending[0].wake.release()  # the oldest waiter leads next
                else:
                    self._leading = False
        result = unit.result()
        return result

    def _commit(self, batch: list[_Unit], *, again: bool = False) -> None:
        known: tuple[int, Exception] | None = None
        if len(batch) > 1 and not again:
            committed, known = self._commit_without_savepoints(batch)
            if committed:
                return
        results: list[tuple[_Unit, bool, Any]] = []
        try:
            with self._transaction() as conn:
                if self._prologue is not None:
                    self._prologue(conn)
                if len(batch) == 1:
                    # No savepoint needed: the unit's failure is the transaction's.
                    unit = batch[0]
                    try:
                        results.append((unit, True, unit.work(conn)))
                    except BaseException as exc:  # the unit's own failure
                        results.append((unit, False, exc))
                        raise
                else:
                    for index, unit in enumerate(batch):
                        if known is not None and known[0] == index:
                            # Failed on its own in the first attempt, on this same
                            # state (the units before it redone): not run twice.
                            results.append((unit, False, known[1]))
                            continue
                        try:
                            value = self._in_savepoint(conn, unit)
                            results.append((unit, True, value))
                        except Exception as exc:
                            results.append((unit, False, exc))
        except sa.exc.DBAPIError as exc:
            if len(batch) > 1:
                # A batch-wide failure (a deadlock with another process's batch, a
                # dropped connection): give every unit its own transaction instead.
                _LOG.warning(
                    "group commit of %d units failed (%s): one by one",
                    len(batch),
                    type(exc.orig).__name__ if exc.orig else type(exc).__name__,
                )
                for unit in batch:
                    self._commit([unit])
                return
            if self._lost_before_commit and not again:
                # The kept connection was dropped (server restart, idle timeout,
                # pg_terminate_backend) and the unit's transaction rolled back with it.
                _LOG.warning(
                    "group commit lost its connection before COMMIT (%s): once more",
                    type(exc.orig).__name__ if exc.orig else type(exc).__name__,
                )
                self._commit(batch, again=True)
                return
            self._fail(batch, results, exc)
            return
        except BaseException as exc:
            self._fail(batch, results, exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.batches += 1
        self.units += len(batch)
        for unit, ok, value in results:
            unit.settle(ok, value)

    def _commit_without_savepoints(
        self, batch: list[_Unit]
    ) -> tuple[bool, tuple[int, Exception] | None]:
        """First attempt at a batch: every unit in one transaction, no savepoints.

        Why: a savepoint costs two statements a unit (``SAVEPOINT``,
        ``RELEASE``) inside the writer lock, and units almost never fail. If
        one does, the whole transaction is rolled back here and the batch runs
        again with a savepoint per unit (:meth:`_commit`). A unit refused in
        Python (a claim already taken, a key of another person) is not run
        again: its failure, on the same state, is its result; one that met a
        database error is (the error may have been the transaction's, e.g. a
        PostgreSQL transaction aborted by an earlier statement). The units
        before it run again. Units are functions of the connection only (the
        one-by-one fallback already runs them again), and the audit log's head
        guess corrects itself after a rollback (issuer/audit/log.py, ``AuditLog._head``).

        Returns ``(True, None)`` when committed (units settled); otherwise
        ``(False, (index, exception))`` for a unit refused in Python, or
        ``(False, None)`` for anything else (the savepoint
        path then meets it and handles it as before).
        """
        values: list[Any] = []
        failure: tuple[int, Exception] | None = None
        try:
            with self._transaction() as conn:
                if self._prologue is not None:
                    self._prologue(conn)
                for index, unit in enumerate(batch):
                    try:
                        values.append(unit.work(conn))
                    except Exception as exc:
                        if not isinstance(exc, sa.exc.DBAPIError):
                            failure = (index, exc)
                        raise
        except Exception:
            return False, failure
        self.batches += 1
        self.units += len(batch)
        for unit, value in zip(batch, values, strict=True):
            unit.settle(True, value)
        return True, None

    @staticmethod
    def _in_savepoint(conn: sa.Connection, unit: _Unit) -> Any:
        """``unit.work(conn)`` inside its own SAVEPOINT, rolled back to it if it raises.

        The savepoint statements go to the driver directly: through
        ``conn.begin_nested()`` each costs a SQLAlchemy execution (~0.1 ms, two
        per unit, inside the writer lock). SQL savepoints nest, so a unit may
        still use ``begin_nested`` inside its own.
        """
        driver_execute(conn, "SAVEPOINT zorgid_unit")
        try:
            value = unit.work(conn)
        except BaseException:
            driver_execute(conn, "ROLLBACK TO SAVEPOINT zorgid_unit")
            driver_execute(conn, "RELEASE SAVEPOINT zorgid_unit")
            raise
        driver_execute(conn, "RELEASE SAVEPOINT zorgid_unit")
        return value

    @staticmethod
    def _fail(
        batch: list[_Unit], results: list[tuple[_Unit, bool, Any]], exc: BaseException
    ) -> None:
        done = {id(u) for u, _ok, _v in results}
        for unit, ok, value in results:
            # A unit that succeeded in its savepoint is lost with the commit too.
            unit.settle(False, exc if ok else value)
        for unit in batch:
            if id(unit) not in done:
                unit.settle(False, exc)


def _close_quietly(conn: sa.Connection, *, invalidate: bool = False) -> None:
    """Close ``conn``; ``invalidate``: close its DB-API connection too, not return it to
    its pool (a disposed pool keeps what it is given back)."""
    try:
        if invalidate and not conn.closed:
            conn.invalidate()
        conn.close()
    except Exception:  # a connection that cannot even close is dropped anyway
        _LOG.debug("closing a kept writer connection failed", exc_info=True)


def _close_kept(kept: list[tuple[int, float, sa.Connection]], *, invalidate: bool = False) -> None:
    """Close a committer's kept connection (own process only) and forget it: at
    ``engine.dispose()``, and as the finalizer of a garbage-collected committer."""
    for owner, _born, conn in kept:
        if owner == os.getpid():
            _close_quietly(conn, invalidate=invalidate)
    kept.clear()


def _on_engine_disposed(
    committer: weakref.ref[GroupCommitter],
) -> Callable[[sa.Engine], None]:
    """The engine's ``engine_disposed`` listener for one committer, holding it weakly (the
    engine outlives the committers made on it; a collected one has closed its connection)."""

    def on_disposed(_engine: sa.Engine) -> None:
        found = committer()
        if found is not None:
            found._release_kept()

    return on_disposed
