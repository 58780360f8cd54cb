"""Which database failures are the database's passing ones (ZID-0004, retry) and which not.

Real failures of real databases: a PostgreSQL port nobody listens on (through SQLAlchemy
and through a raw connection's checkout, which SQLAlchemy does not wrap), SQLite locked by
another writer, and SQLite asked for a table it does not have (a programming error: no).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.load import free_port
from issuer.store import create_engine_for
from issuer.store.errors import is_unavailable


def _raised(call: object) -> BaseException:
    with pytest.raises(Exception) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_postgresql_not_listening_is_unavailable() -> None:
    engine = create_engine_for(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test")
    try:
        wrapped = _raised(lambda: engine.connect().close())
        raw = _raised(lambda: engine.raw_connection().close())
    finally:
        engine.dispose()
    assert isinstance(wrapped, sa.exc.OperationalError)
    assert not isinstance(raw, sa.exc.SQLAlchemyError)  # the driver's own error
    assert is_unavailable(wrapped) and is_unavailable(raw)
    assert is_unavailable(RuntimeError("while issuing")) is False
    chained = RuntimeError("while issuing")
    chained.__cause__ = raw
    assert is_unavailable(chained)


def test_sqlite_locked_is_unavailable_a_missing_table_is_not(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with engine.connect() as conn:
            locked = _raised(lambda: conn.exec_driver_sql("INSERT INTO t VALUES (1)"))
        with engine.connect() as conn:
            missing = _raised(lambda: conn.exec_driver_sql("SELECT * FROM nowhere"))
    finally:
        engine.dispose()
        holder.close()
    assert isinstance(locked, sa.exc.OperationalError) and "locked" in str(locked)
    assert isinstance(missing, sa.exc.OperationalError) and "no such table" in str(missing)
    assert is_unavailable(locked)
    assert not is_unavailable(missing)
