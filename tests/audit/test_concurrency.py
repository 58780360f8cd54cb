"""Concurrent appends from threads and from two processes keep one valid chain."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.audit import AuditLog, verify_chain
from issuer.store import READ_ONLY
from issuer.store.schema import audit_checkpoints, audit_events
from tests.audit import workers
from tests.audit.helpers import append_many, event
from tests.store.dbfixtures import Database


def _actors(engine: sa.Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(conn.execute(sa.select(audit_events.c.actor_identity)).scalars())


def test_threads_appending_at_once(migrated: sa.Engine) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    log = AuditLog(signer=key, checkpoint_every=10)
    threads_n, per_thread = 6, 30
    start = threading.Barrier(threads_n)
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            append_many(migrated, log, per_thread, actor=f"thread-{i}")
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    result = verify_chain(migrated, key.public_key())
    assert result.ok, result.problem
    assert result.events_checked == threads_n * per_thread
    assert result.checkpoints_checked == threads_n * per_thread // 10
    assert set(_actors(migrated).values()) == {per_thread}


def test_two_processes_appending_at_once(migrated: sa.Engine, migrated_db: Database) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    per_process = 60
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [
        ctx.Process(
            target=workers.run,
            args=(
                migrated_db.url,
                migrated_db.pg_schema,
                key_pem,
                per_process,
                f"proc-{i}",
                barrier,
            ),
        )
        for i in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    result = verify_chain(migrated, key.public_key())
    assert result.ok, result.problem
    assert result.events_checked == 2 * per_process
    assert _actors(migrated) == Counter({"CN=proc-0,O=Test": 60, "CN=proc-1,O=Test": 60})
    with migrated.connect() as conn:
        checkpoints = conn.execute(sa.select(audit_checkpoints.c.seq)).scalars().all()
    assert sorted(checkpoints) == list(range(7, 2 * per_process + 1, 7))
    assert result.checkpoints_checked == len(checkpoints)


def test_verify_while_appending(migrated: sa.Engine) -> None:
    """Verification reads one snapshot: concurrent appends never look like tampering,
    and on SQLite it does not hold the write lock (appends keep going meanwhile)."""
    key = ec.generate_private_key(ec.SECP256R1())
    log = AuditLog(signer=key, checkpoint_every=5)
    append_many(migrated, log, 50, batch=10)
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            n = 0
            while not stop.is_set():
                append_many(migrated, log, 1, actor=f"writer-{n}")
                n += 1
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        results = [verify_chain(migrated, key.public_key()) for _ in range(10)]
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert all(r.ok for r in results), [r.problem for r in results if not r.ok]
    final = verify_chain(migrated, key.public_key())
    assert final.ok and final.events_checked >= 50


def test_a_read_only_sqlite_transaction_leaves_the_write_lock_free(migrated: sa.Engine) -> None:
    """The READ_ONLY option: a reader holding a transaction open does not block a writer."""
    with migrated.connect().execution_options(**{READ_ONLY: True}) as reader:
        assert reader.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar() == 0
        with migrated.begin() as conn:  # would wait 30 s for the lock on SQLite otherwise
            AuditLog().append(conn, event(1))
        # the reader's snapshot is stable within its transaction
        assert reader.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar() == (
            0 if migrated.dialect.name == "sqlite" else 1
        )
