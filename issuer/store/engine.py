"""Engine creation: one place that knows how each back end must be set up.

Both back ends sync every commit before it returns (``synchronous = FULL`` on
SQLite, ``synchronous_commit = on`` on PostgreSQL, neither overridable from
outside): a reply never depends on a commit a power failure can undo.

SQLite (the embedded default) needs three more things the driver does not do
by itself: foreign keys on (off by default in SQLite), WAL (readers do not
block the writer) and a busy timeout (a second process waits for the write lock
instead of failing at once). Every SQLite transaction also starts with
``BEGIN IMMEDIATE``: the write lock is taken at the start, so a transaction that
reads the audit chain head and then writes can never fail half-way with
"database is locked" because another writer committed in between (SQLite
cannot upgrade a read snapshot that has become stale). This serialises
writers, which is SQLite's model anyway. Long read-only work opts out with
the :data:`READ_ONLY` execution option (a deferred ``BEGIN``: a WAL snapshot).

PostgreSQL (several engine processes on several machines) gets a bounded pool
with ``pool_pre_ping`` so a restarted server or a dropped connection does not
surface as an error on the next request. The issuance group committers keep
one connection each between batches and so skip that ping (a round trip per
transaction); they handle a connection dropped while idle themselves
(:mod:`issuer.store.group_commit`).
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from issuer.files import create_private_file

SQLITE_BUSY_TIMEOUT_S = 30.0
"""How long a SQLite writer waits for the lock: long enough for a burst of issuance."""

SQLITE_SYNCHRONOUS = "FULL"
"""WAL with ``FULL``: every commit syncs the WAL before it returns, so a certificate, a
token claim, a revocation or an audit event a reply was given for survives a power
failure (issue 16 item 3; ARCHITECTURE §5 step 4). Not a knob: ``NORMAL`` lost the
last commits on power loss, a CA-signed certificate the engine would no longer know.
A group-commit batch (issuer/store/group_commit.py) is one commit: one sync."""
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 4000
"""WAL pages (4 KiB) after which a commit copies the WAL into the database (SQLite: 1000).

Why more than SQLite's default: the checkpoint runs inside the commit that
crosses the mark and writes every page changed since the last one; an
issuance changes the same index and head pages again and again, so fewer,
larger checkpoints write far fewer pages. Measured, 2,000 in-process
redemptions (4,000 commits) on SQLite: mean commit 0.143-0.172 ms -> 0.117 ms,
p99 5.4 ms -> 0.24 ms (measured with ``synchronous = NORMAL``); the WAL file grows
to ~16 MB instead of ~4 MB and the rare checkpoint commit takes ~20 ms instead of
~8. Durability does not depend on it: every commit syncs the WAL
(:data:`SQLITE_SYNCHRONOUS`)."""

READ_ONLY = "zorgid_read_only"
"""Execution option for read-only work: ``conn.execution_options(zorgid_read_only=True)``
before the first statement makes a SQLite transaction a plain (deferred) ``BEGIN``:
in WAL mode it reads one consistent snapshot without taking the write lock, so
a long read (``zorgid audit verify``, OCSP lookups) does not stall writers.
Writing in such a transaction may fail with "database is locked"; don't."""

PG_SYNCHRONOUS_COMMIT = "on"
"""Every PostgreSQL commit waits for its WAL flush to the local disk (issue 16 item 3).

Sent as a connection option, after any the URL or ``PGOPTIONS`` carry: a
startup option overrides ``ALTER ROLE``/``ALTER DATABASE`` settings too, so
nothing outside the engine can make its commits asynchronous. With synchronous
standbys configured (``synchronous_standby_names``), ``on`` also waits for their
flush; ``remote_apply`` (waiting for the standby to replay) is not needed for
durability and is not kept."""

PG_POOL_SIZE = 10
PG_MAX_OVERFLOW = 10
PG_POOL_RECYCLE_S = 1800


def _is_valid_schema_name(name: str) -> bool:
    return name.isidentifier() and name.isascii()


def create_engine_for(url: str, *, pg_schema: str | None = None, echo: bool = False) -> sa.Engine:
    """Create an engine for *url* with the settings its back end needs (see module doc).

    ``pg_schema`` puts every table in that PostgreSQL schema (``search_path``
    set through the connection's ``options``); tests use it for a fresh schema
    per run. It is refused for SQLite, where it would mean nothing.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if pg_schema is not None:
            raise ValueError(
                f"got pg_schema={pg_schema!r} for SQLite URL {parsed!r}; "
                "expected pg_schema only with a postgresql URL: drop the argument"
            )
        engine = sa.create_engine(
            parsed,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        )
        _setup_sqlite(engine)
        return engine
    if backend == "postgresql":
        in_url = parsed.query.get("options", ())
        options = [
            os.environ.get("PGOPTIONS", ""),
            *([in_url] if isinstance(in_url, str) else in_url),
        ]
        if pg_schema is not None:
            if not _is_valid_schema_name(pg_schema):
                raise ValueError(
                    f"got PostgreSQL schema name {pg_schema!r}; expected an ASCII identifier "
                    "(letters, digits, underscore)"
                )
            options.append(f"-c search_path={pg_schema}")
        options.append(f"-c synchronous_commit={PG_SYNCHRONOUS_COMMIT}")
        connect_args: dict[str, Any] = {"options": " ".join(o for o in options if o)}
        return sa.create_engine(
            parsed.difference_update_query(["options"]),
            echo=echo,
            pool_size=PG_POOL_SIZE,
            max_overflow=PG_MAX_OVERFLOW,
            pool_pre_ping=True,
            pool_recycle=PG_POOL_RECYCLE_S,
            connect_args=connect_args,
        )
    raise ValueError(
        f"got database URL for back end {backend!r}; expected sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST:PORT/DB"
    )


_SHARED: weakref.WeakValueDictionary[tuple[int, str], sa.Engine] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def shared_engine(url: str) -> sa.Engine:
    """This process's one engine for ``url``, made on first use (:func:`create_engine_for`).

    Why: a server process's services (issuance, UZI proofs, policies,
    registrations) each made an engine of their own, and each PostgreSQL
    engine holds up to :data:`PG_POOL_SIZE` + :data:`PG_MAX_OVERFLOW` pooled
    connections plus the read path's kept ones, so one process could hold
    three times the connections it needs, and ``[server] processes`` times
    that, against the server's ``max_connections``. One engine a process gives
    one budget. Held weakly: the engine lives as long as a service uses it. A
    forked child gets its own (a parent's pooled connections are not the
    child's to use).
    """
    key = (os.getpid(), url)
    with _SHARED_LOCK:
        found = _SHARED.get(key)
        if found is None:
            found = create_engine_for(url)
            _SHARED[key] = found
        return found


def _setup_sqlite(engine: sa.Engine) -> None:
    database = engine.url.database

    @event.listens_for(engine, "do_connect")
    def _before_connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> None:
        # The database file 0600 before SQLite opens it (SQLite makes it 0644 less the
        # umask); its -wal and -shm files take the database file's mode from SQLite.
        if database not in (None, "", ":memory:") and not str(database).startswith("file:"):
            create_private_file(str(database))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            # Statement and savepoint journals in memory, not in temporary files:
            # each write statement of a multi-statement transaction (and each group
            # commit unit's SAVEPOINT) otherwise opened, wrote and closed one.
            cursor.execute("PRAGMA temp_store = MEMORY")
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute(f"PRAGMA synchronous = {SQLITE_SYNCHRONOUS}")
                cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        _sqlite_begin(conn, "BEGIN" if conn.get_execution_options().get(READ_ONLY) else _IMMEDIATE)


_IMMEDIATE = "BEGIN IMMEDIATE"


def _sqlite_begin(conn: sa.Connection, sql: str) -> None:
    """Send the transaction's ``BEGIN`` to the driver, errors as SQLAlchemy's.

    Why not ``conn.exec_driver_sql``: a SQLAlchemy execution (execution context,
    events, result set-up) costs ~0.1 ms here, twice SQLite's own ``BEGIN``,
    and every write transaction (two per certificate) pays it. The statement,
    the connection and the failure (``database is locked`` after the busy
    timeout raises :class:`sqlalchemy.exc.OperationalError`, a disconnect
    invalidates the connection) are the same as through ``exec_driver_sql``.
    """
    dbapi_conn = conn.connection.dbapi_connection
    assert dbapi_conn is not None
    dialect = conn.dialect
    error: type[Exception] = dialect.loaded_dbapi.Error
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(sql)
    except error as exc:
        if dialect.is_disconnect(exc, dbapi_conn, cursor):  # type: ignore[arg-type]
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(sql, (), exc, error, dialect=dialect) from exc
    finally:
        cursor.close()


SQLITE_MIN_FREE_BYTES = 1 << 20
"""Free space on an SQLite database's file system under which it counts as unable to take
writes (health NOT_SERVING): a commit appends WAL frames, and on a full disk every write
fails while every read still works (docs/robustness.md)."""


def sqlite_free_bytes(engine: sa.Engine) -> int | None:
    """Bytes an unprivileged writer may still use on the SQLite file's file system; None
    for PostgreSQL (its server watches its own disk) or an in-memory database."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        return None
    found = os.statvfs(os.path.dirname(os.path.abspath(database)))
    return found.f_bavail * found.f_frsize


def is_sqlite(bind: sa.Engine | sa.Connection) -> bool:
    """Whether *bind* talks to SQLite (locking differs, see :mod:`issuer.audit.log`)."""
    return bind.dialect.name == "sqlite"
