"""Every storage and audit test runs on SQLite AND PostgreSQL.

PostgreSQL gets fresh schemas ``zid_<random>`` (search_path set through the
connection options), dropped at the end, so runs never see each other:

- ``database`` / ``engine``: an empty database per test (migration tests);
- ``migrated_db`` / ``migrated``: one migrated database per run and back end,
  emptied before each test (migrating costs ~0.3 s a time on PostgreSQL).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from issuer.audit import GENESIS_HASH
from issuer.store import create_engine_for, upgrade
from issuer.store.schema import audit_head, metadata

PG_URL = os.environ.get("ZORGID_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Database:
    """Where one test's database lives."""

    backend: str
    url: str
    pg_schema: str | None = None

    def engine(self) -> sa.Engine:
        return create_engine_for(self.url, pg_schema=self.pg_schema)

    @property
    def cli_url(self) -> str:
        """The URL alone, schema included (``options=-csearch_path=...``), for CLI tests."""
        if self.pg_schema is None:
            return self.url
        return f"{self.url}?options={quote(f'-csearch_path={self.pg_schema}')}"


def _fresh(backend: str, tmp_path: Path) -> Iterator[Database]:
    if backend == "sqlite":
        yield Database("sqlite", f"sqlite:///{tmp_path / 'zorgid.sqlite3'}")
        return
    schema = f"zid_{secrets.token_hex(6)}"
    admin = create_engine_for(PG_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        yield Database("postgresql", PG_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database on each back end."""
    yield from _fresh(request.param, tmp_path)


@pytest.fixture
def engine(database: Database) -> Iterator[sa.Engine]:
    """An engine on the empty database."""
    made = database.engine()
    yield made
    made.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def migrated_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """This run's migrated database on each back end."""
    for made in _fresh(request.param, tmp_path_factory.mktemp("db")):
        engine = made.engine()
        upgrade(engine)
        engine.dispose()
        yield made


@pytest.fixture
def migrated(migrated_db: Database) -> Iterator[sa.Engine]:
    """An engine on the migrated database, emptied (audit head back at genesis) first."""
    made = migrated_db.engine()
    with made.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        conn.execute(audit_head.insert().values(id=1, seq=0, hash=GENESIS_HASH))
    yield made
    made.dispose()
