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
    assert list(reads._born) == [id(reads._idle[0])]
