"""SQLite writers of several processes queue on one lock file instead of SQLite's busy sleeps.

`issuer.store.transactions.SqliteWriterLock`: threads queue on a Python lock,
processes on an ``flock`` beside the database. With SQLite's busy wait off
(``PRAGMA busy_timeout = 0``) a writer that found the database locked would
fail at once with "database is locked"; through the queue none does.
"""

from __future__ import annotations

import fcntl
import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from issuer.store import create_engine_for
from issuer.store.transactions import sqlite_writer_lock, write_transaction

WRITE_SECONDS = 0.8


def _engine(path: Path) -> sa.Engine:
    engine = create_engine_for(f"sqlite:///{path}")

    @sa.event.listens_for(engine, "connect")
    def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout = 0")

    return engine


def _writer(path: str, n: int, start: Any, out: Any) -> None:
    engine = _engine(Path(path))
    # Connected (pragmas set) before the race, without a transaction: every
    # transaction of this engine is BEGIN IMMEDIATE, which would itself race.
    engine.raw_connection().close()
    errors: list[str] = []
    written = 0
    try:
        start.wait(60)  # all processes write during the same window
    except Exception as exc:  # another worker failed to start: report, never hang
        out.put((0, [repr(exc)], 1))
        return
    until = time.monotonic() + WRITE_SECONDS
    while time.monotonic() < until:
        try:
            with write_transaction(engine) as conn:
                conn.exec_driver_sql("INSERT INTO t (n, i) VALUES (?, ?)", (n, written))
            written += 1
        except sa.exc.OperationalError as exc:
            errors.append(str(exc.orig))
    engine.dispose()
    out.put((written, errors[:3], len(errors)))


def test_writers_of_three_processes_never_meet_a_locked_database(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    engine = _engine(path)
    with write_transaction(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER, i INTEGER)")
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(3), ctx.Queue()
    workers = [ctx.Process(target=_writer, args=(str(path), n, start, out)) for n in range(3)]
    for w in workers:
        w.start()
    results = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(30)
    assert [(count, first) for _, first, count in results] == [(0, [])] * 3
    assert all(written > 0 for written, _, _ in results)
    with engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
    assert stored == sum(written for written, _, _ in results)
    engine.dispose()
    assert (tmp_path / "queue.sqlite3.writer-lock").exists()


def test_a_forked_child_queues_against_its_parent(tmp_path: Path) -> None:
    """The child opens its own lock file description: parent and child exclude each other.

    (An inherited descriptor would share the parent's flock, so both would
    think they hold the queue.)
    """
    engine = _engine(tmp_path / "fork.sqlite3")
    lock = sqlite_writer_lock(engine)
    with lock:  # the parent opens its descriptor
        pass
    held, done = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:  # child: take the queue, say so, hold it until told
        try:
            with lock:
                os.write(held[1], b"1")
                os.read(done[0], 1)
        finally:
            os._exit(0)
    try:
        assert os.read(held[0], 1) == b"1"
        assert lock._fd is not None
        with pytest.raises(BlockingIOError):
            fcntl.flock(lock._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.write(done[1], b"1")
        os.waitpid(pid, 0)
    fcntl.flock(lock._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again once the child let go
    fcntl.flock(lock._fd, fcntl.LOCK_UN)
    engine.dispose()


def test_an_in_memory_database_has_no_lock_file(tmp_path: Path) -> None:
    engine = create_engine_for("sqlite://")
    with write_transaction(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    assert sqlite_writer_lock(engine)._path is None
    engine.dispose()
