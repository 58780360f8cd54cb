"""SQLite transactions begin on the driver as ``exec_driver_sql`` began them.

Same locks, same errors, same rollback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from issuer.store import READ_ONLY, create_engine_for


def _engine(tmp_path: Path) -> sa.Engine:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'begin.sqlite3'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    return engine


def _no_wait(conn: sa.Connection) -> None:
    """Fail at once instead of waiting out the 30 s busy timeout."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    dbapi.execute("PRAGMA busy_timeout = 0")


def test_a_write_transaction_holds_the_write_lock_from_its_begin(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    other = create_engine_for(f"sqlite:///{tmp_path / 'begin.sqlite3'}")
    # nothing written yet: BEGIN IMMEDIATE alone takes the lock
    with engine.begin(), other.connect() as conn:
        _no_wait(conn)
        with pytest.raises(sa.exc.OperationalError, match="locked"):
            conn.begin()
        assert not conn.in_transaction()
    # the failed BEGIN left the other engine usable once the lock is free
    with other.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    other.dispose()
    engine.dispose()


def test_a_read_only_transaction_takes_no_write_lock(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with engine.connect() as reader:
        reader = reader.execution_options(**{READ_ONLY: True})
        with reader.begin():
            assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
            with engine.connect() as writer:
                _no_wait(writer)
                with writer.begin():
                    writer.exec_driver_sql("INSERT INTO t VALUES (1)")
            # the reader's snapshot still sees the table as it began
            assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    engine.dispose()


def test_rollback_ends_the_driver_begun_transaction(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with engine.connect() as conn:
        with conn.begin() as trans:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            trans.rollback()
        with conn.begin():
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    engine.dispose()


def test_statement_and_savepoint_journals_stay_in_memory(tmp_path: Path) -> None:
    """``temp_store = MEMORY`` on every connection: no temporary file per write statement.

    A savepoint that is rolled back still restores the rows (the journal in
    memory does the same job as the file did).
    """
    engine = _engine(tmp_path)
    with engine.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA temp_store").scalar() == 2  # MEMORY
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        conn.exec_driver_sql("SAVEPOINT s")
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        conn.exec_driver_sql("UPDATE t SET x = x + 10")
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT s")
        conn.exec_driver_sql("RELEASE SAVEPOINT s")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA temp_store").scalar() == 2
        assert [r[0] for r in conn.exec_driver_sql("SELECT x FROM t")] == [1]
