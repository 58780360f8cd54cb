"""Kept autocommit read connections (issuer.store.reads): bounded, transaction-free, self-healing.

On both back ends: a read leaves no transaction open (SQLite writers and
PostgreSQL DDL never wait for it), at most ``keep`` connections are made and
reused, reads beyond them use the pool, a connection killed while idle is
replaced within the same read, and ``engine.dispose()`` closes the idle ones.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from issuer.store import is_sqlite
from issuer.store.reads import ReadConnections


def _sql(engine: sa.Engine) -> str:
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    return f"SELECT seq FROM audit_head WHERE id = {mark}"


def _in_transaction(engine: sa.Engine, conn: Any) -> bool:
    if is_sqlite(engine):
        return bool(conn.in_transaction)
    import psycopg

    return bool(conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)


def test_reads_reuse_few_connections_and_leave_no_transaction(migrated: sa.Engine) -> None:
    reads = ReadConnections(migrated, keep=2)
    for _ in range(5):
        assert reads.fetch(_sql(migrated), (1,), one=True) == (0,)
    assert reads._made == 1 and len(reads._idle) == 1
    assert not _in_transaction(migrated, reads._idle[0])
    with migrated.begin() as conn:  # a writer is not kept waiting by the idle reader
        conn.exec_driver_sql("UPDATE audit_head SET seq = 7 WHERE id = 1")
    assert reads.fetch(_sql(migrated), (1,), one=True) == (7,)  # each read: a new snapshot
    assert reads.fetch(_sql(migrated), (2,), one=False) == []


def test_reads_beyond_keep_use_the_pool(migrated: sa.Engine) -> None:
    reads = ReadConnections(migrated, keep=2)
    gate = threading.Barrier(6)

    def read(_: int) -> Any:
        gate.wait(10)
        return reads.fetch(_sql(migrated), (1,), one=True)

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(read, range(6))) == [(0,)] * 6
    assert reads._made <= 2 and len(reads._idle) == reads._made


def test_a_connection_killed_while_idle_is_replaced(migrated: sa.Engine) -> None:
    reads = ReadConnections(migrated, keep=2)
    assert reads.fetch(_sql(migrated), (1,), one=True) == (0,)
    (kept,) = reads._idle
    if is_sqlite(migrated):
        kept.close()  # "Cannot operate on a closed database": a disconnect to SQLAlchemy
    else:
        with migrated.begin() as conn:
            conn.exec_driver_sql("SELECT pg_terminate_backend(%s)", (kept.info.backend_pid,))
    assert reads.fetch(_sql(migrated), (1,), one=True) == (0,)
    assert reads._made == 1 and reads._idle and reads._idle[0] is not kept


def test_dispose_closes_the_idle_connections(migrated_db: Any) -> None:
    engine = migrated_db.engine()
    reads = ReadConnections.for_engine(engine)
    assert ReadConnections.for_engine(engine) is reads
    assert reads.fetch(_sql(engine), (1,), one=True) is not None
    (kept,) = reads._idle
    engine.dispose()
    assert reads._idle == [] and reads._made == 0
    assert kept.closed if not is_sqlite(engine) else True
    assert reads.fetch(_sql(engine), (1,), one=True) is not None  # still usable
    engine.dispose()


def test_an_in_memory_sqlite_keeps_its_one_connection_in_the_pool() -> None:
    from issuer.store import create_engine_for

    engine = create_engine_for("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq INTEGER)")
        conn.exec_driver_sql("INSERT INTO audit_head VALUES (1, 3)")
    reads = ReadConnections(engine)
    for _ in range(3):
        assert reads.fetch(_sql(engine), (1,), one=True) == (3,)
    assert reads._made == 0
    with engine.connect() as conn:  # still the same database
        assert conn.exec_driver_sql("SELECT seq FROM audit_head").scalar() == 3
    engine.dispose()


def test_a_connection_older_than_the_recycle_time_is_replaced(
    migrated: sa.Engine, monkeypatch: Any
) -> None:
    from issuer.store import reads as reads_module

    reads = ReadConnections(migrated, keep=2)
    assert reads.fetch(_sql(migrated), (1,), one=True) == (0,)
    (first,) = reads._idle
    assert reads.fetch(_sql(migrated), (1,), one=True) == (0,)
    assert reads._idle == [first]  # young: kept
    monkeypatch.setattr(reads_module, "RECYCLE_SECONDS", 0.0)
    assert reads.fetch(_sql(migrated), (1,), one=True) == (0,)
    assert reads._made == 1 and len(reads._idle) == 1 and reads._idle[0] is not first
    assert list(reads._born) == [reads._idle[0]]


def test_a_kept_connection_reuses_its_cursor_and_holds_no_snapshot(migrated: sa.Engine) -> None:
    """One cursor per kept connection; a first-row read still runs its statement to the end.

    Two rows, ``one=True``: the first row comes back. On SQLite a statement left
    on its first row would keep its read snapshot, so a full WAL checkpoint
    after a later commit would report busy; on PostgreSQL no transaction stays.
    """
    reads = ReadConnections(migrated, keep=2)
    two_rows = "SELECT seq FROM audit_head UNION ALL SELECT seq + 1 FROM audit_head"
    assert reads.fetch(two_rows, (), one=True) == (0,)
    (kept,) = reads._idle
    cursor = reads._cursors[kept]
    assert reads.fetch(_sql(migrated), (1,), one=True) == (0,)
    assert reads.fetch(two_rows, (), one=False) == [(0,), (1,)]
    assert reads.fetch(two_rows, (), one=True) == (0,)  # the last read before the write
    assert reads._idle == [kept] and reads._cursors == {kept: cursor}
    with migrated.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_head SET seq = 5 WHERE id = 1")
    assert not _in_transaction(migrated, kept)
    if is_sqlite(migrated):  # on a plain connection: the engine's would BEGIN IMMEDIATE
        import sqlite3

        plain = sqlite3.connect(str(migrated.url.database), isolation_level=None)
        try:
            busy, _log, _done = plain.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            plain.close()
        assert busy == 0
    assert reads.fetch(two_rows, (), one=True) == (5,)  # a new snapshot


def test_a_discarded_connection_takes_its_cursor_along(migrated: sa.Engine) -> None:
    reads = ReadConnections(migrated, keep=2)
    assert reads.fetch(_sql(migrated), (1,), one=True) == (0,)
    with pytest.raises(sa.exc.DBAPIError):
        reads.fetch("SELECT no_such_column FROM audit_head", (), one=True)
    assert reads._made == 0 and reads._idle == [] and reads._cursors == {}
    assert reads.fetch(_sql(migrated), (1,), one=True) == (0,)
    assert len(reads._cursors) == 1
