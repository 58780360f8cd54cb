"""Kept autocommit connections for the one-statement reads every issuance request makes.

Each ``RedeemEnrollment`` first reads the active policy's key
(:meth:`issuer.policy_store.ActivePolicy.current`) and the token's
registration row (``issuer.enrolment.redeem``): one indexed SELECT each. From
the engine's pool such a read costs a checkout with ``pool_pre_ping`` (a
``SELECT 1`` round trip on PostgreSQL), the driver's implicit ``BEGIN`` and the
pool's ``ROLLBACK`` on return: three round trips for one row. On a kept
connection in autocommit mode it is one: on this machine, PostgreSQL, 440 ->
80 us wall and 230 -> 45 us client CPU a read (``/proc`` thread time, one run).

Why this is safe: a single SELECT in autocommit mode reads one consistent
snapshot, exactly what it read inside its own short transaction before, and
holds no lock afterwards (on SQLite it never takes the write lock). The
connections come from the engine's pool (so its connect-time set-up ran:
SQLite PRAGMAs, PostgreSQL ``search_path``) and are then detached from it.

Bounded: at most ``keep`` connections per engine; when all are busy a read
uses the pool as before. A kept connection that died while idle (server
restart) is discarded and the read retried once on a fresh one -- the job
pre-ping does for the pool; one older than the pool's recycle time is
replaced before use. After a fork the child forgets the parent's
connections (never closing them: that would end the parent's sessions).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from issuer.store.engine import PG_POOL_RECYCLE_S

__all__ = ["DEFAULT_KEEP", "RECYCLE_SECONDS", "ReadConnections"]

RECYCLE_SECONDS = PG_POOL_RECYCLE_S
"""A kept connection is replaced after this long, as the engine's pool recycles its own."""
DEFAULT_KEEP = 8
"""Kept connections per engine: above the gRPC workers that read at the same moment."""

_BY_ENGINE: weakref.WeakKeyDictionary[sa.Engine, ReadConnections] = weakref.WeakKeyDictionary()
_BY_ENGINE_LOCK = threading.Lock()


class ReadConnections:
    """One-statement reads on kept autocommit DB-API connections of one engine (thread-safe)."""

    def __init__(self, engine: sa.Engine, *, keep: int = DEFAULT_KEEP) -> None:
        # Weakly: the per-engine registry must not keep a disposed-of engine alive.
        self._engine_ref = weakref.ref(engine)
        self._dialect = engine.dialect
        # Only from a QueuePool (files, servers): detaching the one connection of a
        # Static/SingletonThreadPool (SQLite :memory:) would leave the engine a new,
        # empty database. Other back ends: untested here, so the pool.
        keeps = engine.dialect.name in ("sqlite", "postgresql")
        self._keep = keep if keeps and isinstance(engine.pool, sa.pool.QueuePool) else 0
        self._error: type[Exception] = engine.dialect.loaded_dbapi.Error
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._made = 0
        # Keyed by the kept DB-API connection itself (hashed by identity; the entry holds
        # it until it is discarded), so a key never names another connection.
        self._born: dict[Any, float] = {}  # connection -> time.monotonic() made
        self._cursors: dict[Any, Any] = {}  # kept connection -> its reused cursor
        self._pid = os.getpid()
        sa.event.listen(engine, "engine_disposed", self._on_dispose)

    @property
    def _engine(self) -> sa.Engine:
        engine = self._engine_ref()
        if engine is None:  # pragma: no cover - readers hold their engine
            raise RuntimeError("the engine of these read connections is gone")
        return engine

    def _on_dispose(self, engine: sa.Engine) -> None:
        self.close()

    def close(self) -> None:
        """Close the idle kept connections (``engine.dispose()`` calls this).

        Busy ones are kept when their read returns; the engine stays usable.
        """
        with self._lock:
            if self._pid != os.getpid():
                self._pid, self._idle, self._made, self._born = os.getpid(), [], 0, {}
                self._cursors = {}
                return
            idle, self._idle = self._idle, []
            self._made -= len(idle)
            for conn in idle:
                self._born.pop(conn, None)
                self._cursors.pop(conn, None)
        for conn in idle:
            with contextlib.suppress(self._error):
                conn.close()

    @classmethod
    def for_engine(cls, engine: sa.Engine) -> ReadConnections:
        """The engine's shared instance (its kept connections serve every reader)."""
        with _BY_ENGINE_LOCK:
            found = _BY_ENGINE.get(engine)
            if found is None:
                found = _BY_ENGINE[engine] = cls(engine)
            return found

    def fetch(self, sql: str, params: Sequence[Any] | dict[str, Any], *, one: bool) -> Any:
        """Run one SELECT (driver SQL and parameters); the first row (or None), or all rows.

        A kept connection keeps one cursor for its reads (PostgreSQL: 31 -> 19 us
        of CPU a read, a new cursor per read was a third of it). Every read
        fetches its whole result, so the statement always runs to its end: on
        SQLite a statement stepped only to its first row would stay active and
        keep its read snapshot (and block WAL checkpoints) until the next read;
        run to the end it is reset at once. The reads are of one row or a few.
        """
        for attempt in (1, 2):
            conn = self._take()
            if conn is None:
                return self._pooled(sql, params, one=one)
            cursor = None
            try:
                cursor = self._cursors.get(conn)
                if cursor is None:
                    cursor = self._cursors[conn] = conn.cursor()
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            except self._error as exc:
                dead = self._dialect.is_disconnect(exc, conn, cursor)  # type: ignore[arg-type]
                self._discard(conn)
                if dead and attempt == 1:
                    continue  # died while idle: once more, on a new connection
                raise sa.exc.DBAPIError.instance(
                    sql, params, exc, self._error, dialect=self._dialect
                ) from exc
            except BaseException:
                self._discard(conn)
                raise
            self._give(conn)
            if one:
                return rows[0] if rows else None
            return rows
        raise AssertionError("unreachable")  # pragma: no cover

    def _pooled(self, sql: str, params: Sequence[Any] | dict[str, Any], *, one: bool) -> Any:
        """The read on a pooled connection (all kept ones busy, or an unknown back end).

        On the DB-API connection itself: no SQLAlchemy autobegin, so no SQLite
        ``BEGIN IMMEDIATE``; the pool's rollback on return ends PostgreSQL's
        implicit transaction.
        """
        pooled = self._engine.raw_connection()
        try:
            cursor = pooled.cursor()
            try:
                cursor.execute(sql, params)
                return cursor.fetchone() if one else cursor.fetchall()
            finally:
                cursor.close()
        finally:
            pooled.close()

    def _take(self) -> Any:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's sessions are not ours
                self._pid, self._idle, self._made, self._born = os.getpid(), [], 0, {}
                self._cursors = {}
            if self._idle:
                conn = self._idle.pop()
                if time.monotonic() - self._born.get(conn, 0.0) < RECYCLE_SECONDS:
                    return conn
                stale = conn  # replaced below, as the pool recycles its connections
            elif self._made >= self._keep:
                return None
            else:
                stale = None
                self._made += 1
        if stale is not None:
            self._born.pop(stale, None)
            self._cursors.pop(stale, None)
            with contextlib.suppress(self._error):
                stale.close()
        try:
            conn = self._new()
        except BaseException:
            with self._lock:
                self._made -= 1
            raise
        with self._lock:
            self._born[conn] = time.monotonic()
        return conn

    def _new(self) -> Any:
        pooled = self._engine.raw_connection()  # the pool's connect set-up runs here
        try:
            dbapi = pooled.dbapi_connection
            assert dbapi is not None  # a fresh checkout is connected
            dbapi.rollback()  # pre-ping may have opened a transaction
            self._dialect.set_isolation_level(dbapi, "AUTOCOMMIT")
        except BaseException:
            pooled.invalidate()
            pooled.close()
            raise
        pooled.detach()  # ours now; the pool's size limits no longer count it
        return dbapi

    def _give(self, conn: Any) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._idle.append(conn)
                return
        # created before a fork by the parent: not ours to close or keep

    def _discard(self, conn: Any) -> None:
        with self._lock:
            if self._pid != os.getpid():
                return
            self._made -= 1
            self._born.pop(conn, None)
            self._cursors.pop(conn, None)
        with contextlib.suppress(self._error):  # already broken: nothing more to do with it
            conn.close()
