"""The serving lookup's kept autocommit connection never goes back to the engine's pool:
there its autocommit made a later ``engine.begin()`` commit statement by statement on
PostgreSQL (found when a responder thread ended before a CRL was stored: "SAVEPOINT can
only be used in transaction blocks")."""

from __future__ import annotations

import gc
import threading

import sqlalchemy as sa

from issuer.store.ocsp import StoreResponses
from issuer.store.transactions import write_transaction
from tests.store.dbfixtures import migrated, migrated_db  # noqa: F401 -- fixtures


def test_a_serving_thread_that_ends_leaves_no_autocommit_connection_in_the_pool(
    migrated: sa.Engine,  # noqa: F811
) -> None:
    store = StoreResponses(migrated)

    def serve() -> None:
        assert store.get("00" * 32, 1) is None

    for _ in range(4):
        thread = threading.Thread(target=serve)
        thread.start()
        thread.join()
    gc.collect()
    held = [migrated.connect() for _ in range(6)]  # every pooled connection, and more
    try:
        for conn in held:
            with conn.begin(), conn.begin_nested():
                conn.execute(sa.text("SELECT 1"))
            if migrated.dialect.name == "postgresql":
                assert conn.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
    finally:
        for conn in held:
            conn.close()
    with write_transaction(migrated) as conn, conn.begin_nested():
        conn.execute(sa.text("SELECT 1"))
