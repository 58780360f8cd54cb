"""Every commit is durable before it is acknowledged (issue 16 item 3).

A commit a reply depends on must survive a power failure, not only a process
crash: SQLite in WAL mode syncs the WAL at each commit only with
``synchronous = FULL``; PostgreSQL waits for the WAL flush only with
``synchronous_commit = on``, which a URL, ``PGOPTIONS``, a role or a database
setting could otherwise turn off for the engine's sessions.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from issuer.store import READ_ONLY, create_engine_for, shared_engine
from issuer.store.reads import ReadConnections
from tests.store.dbfixtures import PG_URL, Database

SQLITE_FULL = 2
"""``PRAGMA synchronous`` answers FULL as 2 (OFF 0, NORMAL 1, EXTRA 3)."""


def _durability(conn: sa.Connection) -> object:
    """The setting that decides whether this connection's commits are synced."""
    if conn.dialect.name == "sqlite":
        return conn.exec_driver_sql("PRAGMA synchronous").scalar()
    return conn.exec_driver_sql("SHOW synchronous_commit").scalar()


def _expected(database: Database) -> object:
    return SQLITE_FULL if database.backend == "sqlite" else "on"


def _every_kind_of_connection(engine: sa.Engine) -> Iterator[object]:
    """The setting on each kind of connection the engine hands out."""
    with engine.connect() as conn:  # a write transaction's connection
        yield _durability(conn)
    with engine.connect() as conn:  # a read-only snapshot's (deferred BEGIN on SQLite)
        conn = conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
            yield _durability(conn)
    # More than one pooled connection at once: each set up on connect, not just the first
    # (read-only: two SQLite write transactions at once would wait for each other).
    with engine.connect() as first, engine.connect() as second:
        for conn in (first, second):
            with conn.execution_options(**{READ_ONLY: True}).begin():
                yield _durability(conn)
    raw = engine.raw_connection()  # what the read path (issuer/store/reads.py) detaches
    try:
        cursor = raw.cursor()
        statement = (
            "PRAGMA synchronous" if engine.dialect.name == "sqlite" else "SHOW synchronous_commit"
        )
        cursor.execute(statement)
        yield cursor.fetchone()[0]
        cursor.close()
    finally:
        raw.close()


def test_every_connection_of_the_engine_syncs_its_commits(database: Database) -> None:
    engine = database.engine()
    try:
        assert set(_every_kind_of_connection(engine)) == {_expected(database)}
        if database.backend == "sqlite":
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


def test_the_shared_engine_syncs_its_commits(database: Database) -> None:
    """``shared_engine`` (the server's) makes its engine the same way."""
    engine = shared_engine(database.cli_url)
    try:
        assert set(_every_kind_of_connection(engine)) == {_expected(database)}
    finally:
        engine.dispose()


def test_the_read_path_connections_sync_too(database: Database) -> None:
    """The kept autocommit connections of the read path come from the same set-up."""
    engine = database.engine()
    try:
        reads = ReadConnections(engine, keep=2)
        statement = (
            "PRAGMA synchronous" if database.backend == "sqlite" else "SHOW synchronous_commit"
        )
        assert tuple(reads.fetch(statement, (), one=True)) == (_expected(database),)
        reads.close()
    finally:
        engine.dispose()


# -- PostgreSQL: nothing outside the engine turns synchronous_commit off -----------------


def _off_in_url(schema: str | None = None) -> str:
    options = "-csynchronous_commit=off"
    if schema is not None:
        options = f"-csearch_path={schema} {options}"
    return f"{PG_URL}?options={quote(options)}"


def test_a_url_cannot_turn_synchronous_commit_off() -> None:
    for engine in (
        create_engine_for(_off_in_url()),
        create_engine_for(_off_in_url(), pg_schema="public"),
    ):
        try:
            with engine.connect() as conn:
                assert _durability(conn) == "on"
        finally:
            engine.dispose()


def test_the_url_s_other_options_are_kept() -> None:
    """Merging our setting into the connection options keeps what the URL asks for."""
    engine = create_engine_for(_off_in_url(schema="pg_catalog"))
    try:
        with engine.connect() as conn:
            assert _durability(conn) == "on"
            assert conn.exec_driver_sql("SHOW search_path").scalar() == "pg_catalog"
    finally:
        engine.dispose()


def test_pgoptions_cannot_turn_synchronous_commit_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGOPTIONS", "-c synchronous_commit=off -c search_path=pg_catalog")
    engine = create_engine_for(PG_URL)
    try:
        with engine.connect() as conn:
            assert _durability(conn) == "on"
            assert conn.exec_driver_sql("SHOW search_path").scalar() == "pg_catalog"
    finally:
        engine.dispose()


def test_a_role_setting_cannot_turn_synchronous_commit_off() -> None:
    """``ALTER ROLE ... SET synchronous_commit = off`` applies at login; the engine's own
    connection option comes after it."""
    role = f"zid_role_{secrets.token_hex(4)}"
    admin = create_engine_for(PG_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
            conn.exec_driver_sql(f"ALTER ROLE {role} SET synchronous_commit = off")
        url = sa.engine.make_url(PG_URL).set(username=role)
        plain = sa.create_engine(url)  # a session as the role's settings make it
        try:
            with plain.connect() as conn:
                assert _durability(conn) == "off"  # the setting does take effect...
        finally:
            plain.dispose()
        engine = create_engine_for(url.render_as_string(hide_password=False))
        try:
            with engine.connect() as conn:
                assert _durability(conn) == "on"  # ...but not on the engine's sessions
        finally:
            engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()
