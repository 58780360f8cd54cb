"""Group commit: units share transactions, a failing unit fails alone, results after commit."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa

from issuer.store.group_commit import GroupCommitter
from issuer.store.issuance import INSERT_RESERVATION
from issuer.store.schema import serial_reservations
from testkit.phone import Phone
from tests.issuance.conftest import MOBILE, World, attributes

ON_POSTGRESQL = pytest.mark.parametrize("migrated_db", ["postgresql"], indirect=True)
"""Backend killing (pg_terminate_backend) exists on PostgreSQL only: these tests run there alone."""


def _row(n: int) -> dict[str, object]:
    return {
        "issuer": "ab" * 32,
        "serial": format(n + 1, "x"),
        "request_sha256": "cd" * 32,
        "policy_version": 1,
        "state": "reserved",
        "registration_id": None,
        "created_at": datetime.now(UTC),
    }


def test_units_commit_together_and_a_failing_unit_fails_alone(migrated: sa.Engine) -> None:
    committer = GroupCommitter(migrated)
    gate, started = threading.Event(), threading.Event()

    def slow_first(conn: sa.Connection) -> str:
        started.set()
        gate.wait(10)  # hold the writer so the others queue up into one batch
        INSERT_RESERVATION.execute(conn, _row(0))
        return "first"

    def unit(n: int) -> object:
        def work(conn: sa.Connection) -> int:
            INSERT_RESERVATION.execute(conn, _row(n))
            if n % 10 == 0:
                raise ValueError(f"unit {n} refuses")
            if n % 10 == 5:
                INSERT_RESERVATION.execute(conn, _row(n))  # a unique-key clash: IntegrityError
            return n

        try:
            return committer.run(work)
        except (ValueError, sa.exc.IntegrityError) as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=41) as pool:
        first = pool.submit(committer.run, slow_first)
        assert started.wait(10)
        pending = [pool.submit(unit, n) for n in range(1, 41)]
        for _ in range(1000):
            if committer.queued == 40:
                break
            time.sleep(0.005)
        gate.set()
        results = [f.result(timeout=30) for f in pending]
    assert first.result() == "first"
    for n, got in zip(range(1, 41), results, strict=True):
        if n % 10 == 0:
            assert got == "ValueError"
        elif n % 10 == 5:
            assert got == "IntegrityError"
        else:
            assert got == n
    with migrated.connect() as conn:
        serials = set(conn.execute(sa.select(serial_reservations.c.serial)).scalars())
    expected = {format(n + 1, "x") for n in range(41) if n % 5 != 0 or n == 0}
    assert serials == expected
    assert committer.units == 41 and committer.batches <= 3  # first, then the queued 40


@pytest.mark.parametrize("size", [1])
def test_a_single_failing_unit_rolls_back(migrated: sa.Engine, size: int) -> None:
    committer = GroupCommitter(migrated)

    def work(conn: sa.Connection) -> None:
        INSERT_RESERVATION.execute(conn, _row(7))
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        committer.run(work)
    with migrated.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(serial_reservations)).scalar() == 0
        )


def test_a_lone_unit_runs_on_the_callers_thread_without_a_writer_thread(
    migrated: sa.Engine,
) -> None:
    """At low load the caller leads its own batch: no hand-over to another thread."""
    committer = GroupCommitter(migrated)
    before = threading.active_count()
    ran_on: list[int] = []

    def work(conn: sa.Connection) -> str:
        ran_on.append(threading.get_ident())
        INSERT_RESERVATION.execute(conn, _row(50))
        return "done"

    assert committer.run(work) == "done"
    assert ran_on == [threading.get_ident()]
    assert threading.active_count() == before
    assert committer.batches == 1 and committer.units == 1


def _recording_unit(seen: list[sa.Connection]) -> Callable[[int], Callable[[sa.Connection], int]]:
    """``unit(n)``: work that inserts reservation *n*, noting the connection it ran on."""

    def unit(n: int) -> Callable[[sa.Connection], int]:
        def work(conn: sa.Connection) -> int:
            seen.append(conn)
            INSERT_RESERVATION.execute(conn, _row(n))
            return n

        return work

    return unit


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(serial_reservations)).scalar_one()
        )


def test_a_dropped_writer_connection_is_replaced_before_the_next_batch(
    migrated: sa.Engine,
) -> None:
    """SQLite keeps the leader's connection between batches; an invalidated or closed one
    (or, PostgreSQL, any pooled one) must not fail the next unit."""
    committer = GroupCommitter(migrated)
    seen: list[sa.Connection] = []
    unit = _recording_unit(seen)

    assert committer.run(unit(1)) == 1
    if not seen[-1].closed:  # PostgreSQL: back in the pool already
        seen[-1].invalidate()
    assert committer.run(unit(2)) == 2
    seen[-1].close()
    assert committer.run(unit(3)) == 3

    def fails(conn: sa.Connection) -> None:
        INSERT_RESERVATION.execute(conn, _row(4))
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        committer.run(fails)
    assert committer.run(unit(5)) == 5  # the failed unit's rollback left the writer usable
    assert _count(migrated) == 4
    if migrated.dialect.name == "sqlite":
        assert seen[2] is seen[3]  # kept between batches
        assert len({id(c) for c in seen}) == 3


def _dbapi_recording_unit(seen: list[object]) -> Callable[[int], Callable[[sa.Connection], int]]:
    """``unit(n)``: work that inserts reservation *n*, noting its DB-API connection."""

    def unit(n: int) -> Callable[[sa.Connection], int]:
        def work(conn: sa.Connection) -> int:
            seen.append(conn.connection.dbapi_connection)
            INSERT_RESERVATION.execute(conn, _row(n))
            return n

        return work

    return unit


def _is_closed(dbapi_connection: object) -> bool:
    """Whether a DB-API connection (sqlite3 or psycopg) refuses work because it is closed."""
    try:
        dbapi_connection.cursor().close()  # type: ignore[attr-defined]
    except (sqlite3.ProgrammingError, psycopg.OperationalError, psycopg.InterfaceError):
        return True
    return False


def test_engine_dispose_closes_the_kept_writer_connection(migrated: sa.Engine) -> None:
    """``engine.dispose()`` closes the committer's kept connection too, as the pool closes
    its idle ones: it is checked out, so the pool's dispose would leave it open, and a
    stopped server or a finished test then held a database connection until the garbage
    collector ran. The next unit connects anew."""
    committer = GroupCommitter(migrated)
    seen: list[object] = []
    unit = _dbapi_recording_unit(seen)

    assert committer.run(unit(1)) == 1
    assert not _is_closed(seen[0])  # kept between batches
    migrated.dispose()
    assert _is_closed(seen[0])
    assert committer.run(unit(2)) == 2
    assert seen[1] is not seen[0]
    assert not _is_closed(seen[1])
    assert _count(migrated) == 2


def test_engine_dispose_during_a_batch_closes_its_connection_before_the_next(
    migrated: sa.Engine,
) -> None:
    """A dispose while a batch holds the kept connection does not pull it from under the
    batch: the batch commits on it, and the next batch closes it and connects anew."""
    committer = GroupCommitter(migrated)
    seen: list[object] = []
    unit = _dbapi_recording_unit(seen)
    inside, release = threading.Event(), threading.Event()

    def held(conn: sa.Connection) -> int:
        seen.append(conn.connection.dbapi_connection)
        inside.set()
        assert release.wait(10)
        INSERT_RESERVATION.execute(conn, _row(1))
        return 1

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(committer.run, held)
        assert inside.wait(10)
        migrated.dispose()
        assert not _is_closed(seen[0])  # still the running batch's
        release.set()
        assert first.result(timeout=10) == 1
    assert committer.run(unit(2)) == 2
    assert _is_closed(seen[0])
    assert seen[1] is not seen[0]
    assert _count(migrated) == 2


def test_a_forked_child_does_not_use_the_parents_writer_connection(
    migrated: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    committer = GroupCommitter(migrated)
    seen: list[sa.Connection] = []
    unit = _recording_unit(seen)

    assert committer.run(unit(1)) == 1
    parent = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent + 1)  # as seen in a forked child
    assert committer.run(unit(2)) == 2
    monkeypatch.undo()
    assert seen[0] is not seen[1]
    if migrated.dialect.name == "sqlite":
        assert not seen[0].closed  # the parent's, left alone
    seen[0].close()
    assert _count(migrated) == 2


def _terminate(engine: sa.Engine, pid: int) -> None:
    """pg_terminate_backend, then wait until the backend is gone."""
    with engine.connect() as admin:
        assert admin.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        for _ in range(500):
            gone = not admin.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
            ).scalar()
            admin.rollback()
            if gone:
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} still there")


@ON_POSTGRESQL
def test_a_backend_killed_between_units_costs_no_unit(migrated: sa.Engine) -> None:
    """PostgreSQL: the kept connection is not pinged before a batch; a dropped one is
    met by the batch's first statement, before COMMIT, and the batch runs once more."""
    assert migrated.dialect.name == "postgresql"
    committer = GroupCommitter(migrated)
    pids: list[int] = []

    def unit(n: int) -> Callable[[sa.Connection], int]:
        def work(conn: sa.Connection) -> int:
            INSERT_RESERVATION.execute(conn, _row(n))  # first statement: the driver path
            pids.append(int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()))
            return n

        return work

    assert committer.run(unit(1)) == 1
    _terminate(migrated, pids[-1])
    assert committer.run(unit(2)) == 2
    assert pids[-1] != pids[0]
    _terminate(migrated, pids[-1])

    def sqlalchemy_first(conn: sa.Connection) -> int:
        pids.append(int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()))
        INSERT_RESERVATION.execute(conn, _row(3))
        return 3

    assert committer.run(sqlalchemy_first) == 3
    assert _count(migrated) == 3


def test_a_unit_that_fails_on_its_own_is_not_run_again(migrated: sa.Engine) -> None:
    committer = GroupCommitter(migrated)
    runs: list[int] = []

    def clash(conn: sa.Connection) -> None:
        runs.append(1)
        INSERT_RESERVATION.execute(conn, _row(7))
        INSERT_RESERVATION.execute(conn, _row(7))  # IntegrityError, the connection is fine

    with pytest.raises(sa.exc.IntegrityError):
        committer.run(clash)
    assert runs == [1]
    assert _count(migrated) == 0


@ON_POSTGRESQL
def test_an_issuance_after_its_writers_backends_were_killed_succeeds(
    world: World, new_phone: Callable[..., Phone]
) -> None:
    """Both writers (step 2, step 4) lose their PostgreSQL backends between two issuances."""
    assert world.engine.dialect.name == "postgresql"
    first = world.redeemer.redeem(world.enrol().token, new_phone().csr(), actor=MOBILE)
    committers = [world.cycle._reserve_writer.__self__, world.cycle._store_writer.__self__]  # type: ignore[attr-defined]
    for committer in committers:
        (_pid, _born, conn) = committer._kept[0]
        backend = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        conn.rollback()
        _terminate(world.engine, backend)
    second = world.redeemer.redeem(
        world.enrol(attributes("900016529")).token, new_phone().csr(), actor=MOBILE
    )
    assert second.certificate.serial != first.certificate.serial
    assert world.cycle.load(second.certificate.id) == second.certificate


def _queued_batch(
    committer: GroupCommitter, works: list[Callable[[sa.Connection], object]]
) -> list[object]:
    """Run *works* as one batch: a first unit holds the lead until all are queued."""
    gate, started = threading.Event(), threading.Event()

    def first(conn: sa.Connection) -> str:
        started.set()
        gate.wait(10)
        return "first"

    def call(work: Callable[[sa.Connection], object]) -> object:
        try:
            return committer.run(work)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(works) + 1) as pool:
        head = pool.submit(committer.run, first)
        assert started.wait(10)
        pending = [pool.submit(call, work) for work in works]
        for _ in range(1000):
            if committer.queued == len(works):
                break
            time.sleep(0.005)
        assert committer.queued == len(works)
        gate.set()
        assert head.result(timeout=30) == "first"
        return [f.result(timeout=30) for f in pending]


def test_a_full_queue_is_led_on_in_batches_by_its_own_callers(migrated: sa.Engine) -> None:
    """More units than a batch holds: each leader takes the oldest, then wakes the next.

    Every caller gets its own result, every unit commits once, no batch is
    larger than ``max_batch``, and the batches are led by the callers
    themselves (no other thread runs a unit).
    """
    committer = GroupCommitter(migrated, max_batch=4)
    callers: set[int] = set()
    leaders: set[int] = set()
    sizes: list[int] = []
    lock = threading.Lock()

    def unit(n: int) -> Callable[[sa.Connection], int]:
        def work(conn: sa.Connection) -> int:
            with lock:
                leaders.add(threading.get_ident())
            INSERT_RESERVATION.execute(conn, _row(n))
            return n

        return work

    original_run, original_commit = committer.run, committer._commit

    def run(work: Callable[[sa.Connection], object]) -> object:
        with lock:
            callers.add(threading.get_ident())
        return original_run(work)

    def counting(batch: list[object], **kwargs: object) -> None:
        sizes.append(len(batch))
        original_commit(batch, **kwargs)  # type: ignore[arg-type]

    committer.run = run  # type: ignore[method-assign,assignment]
    committer._commit = counting  # type: ignore[method-assign]
    assert _queued_batch(committer, [unit(n) for n in range(1, 30)]) == list(range(1, 30))
    assert _count(migrated) == 29
    assert sizes[0] == 1 and all(size <= 4 for size in sizes) and sum(sizes) == 30
    assert len(sizes) >= 1 + 29 // 4
    assert committer.queued == 0
    assert committer.units == 30
    assert leaders <= callers
    # A lone unit afterwards leads at once: the lead was handed back, not lost.
    assert committer.run(lambda conn: "alone") == "alone"


def test_sqlite_shares_one_committer_between_steps_postgresql_keeps_two(
    migrated: sa.Engine,
) -> None:
    from issuer.issuance.storing import Committers

    made = Committers.for_engine(migrated)
    if migrated.dialect.name == "sqlite":
        assert made.reserve is made.store
    else:
        assert made.reserve is not made.store


def test_a_batch_without_failures_runs_no_savepoint(
    migrated: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Units rarely fail, so a batch first runs without a SAVEPOINT per unit."""
    from issuer.store import group_commit

    sent: list[str] = []
    real = group_commit.driver_execute

    def recording(conn: sa.Connection, sql: str, *args: object) -> object:
        sent.append(sql)
        return real(conn, sql, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(group_commit, "driver_execute", recording)
    committer = GroupCommitter(migrated)

    def unit(n: int) -> Callable[[sa.Connection], int]:
        def work(conn: sa.Connection) -> int:
            INSERT_RESERVATION.execute(conn, _row(n))
            return n

        return work

    assert _queued_batch(committer, [unit(n) for n in range(1, 11)]) == list(range(1, 11))
    assert _count(migrated) == 10
    assert not [sql for sql in sent if "SAVEPOINT" in sql]
    assert committer.batches == 2  # the first unit's, then the ten together


def test_a_unit_refused_in_a_batch_runs_once_and_the_others_commit(migrated: sa.Engine) -> None:
    """The batch is rolled back and run again with savepoints: the refused unit is not
    run again (its refusal is its result), the others commit exactly once."""
    committer = GroupCommitter(migrated)
    runs: dict[int, int] = {}

    def unit(n: int) -> Callable[[sa.Connection], int]:
        def work(conn: sa.Connection) -> int:
            runs[n] = runs.get(n, 0) + 1
            INSERT_RESERVATION.execute(conn, _row(n))
            if n == 5:
                raise ValueError("refused")
            return n

        return work

    got = _queued_batch(committer, [unit(n) for n in range(1, 11)])
    assert isinstance(got[4], ValueError)
    assert got[:4] + got[5:] == [1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert runs[5] == 1
    assert all(runs[n] == 2 for n in (1, 2, 3, 4))  # before the refusal: run again
    assert all(runs[n] == 1 for n in (6, 7, 8, 9, 10))  # after it: only with savepoints
    with migrated.connect() as conn:
        serials = set(conn.execute(sa.select(serial_reservations.c.serial)).scalars())
    assert serials == {format(n + 1, "x") for n in range(1, 11) if n != 5}
