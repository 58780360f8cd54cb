"""Schema migrations (Alembic, configured in code) and the start-up schema check.

Alembic is configured here rather than through an ``alembic.ini`` so the
installed package carries everything it needs and no working directory or
extra file decides which database gets migrated.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from issuer.files import make_private_dir
from issuer.store.engine import READ_ONLY, create_engine_for
from issuer.store.errors import SchemaOutOfDateError, StoreError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """The Alembic configuration of this package (script location only)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The revision this code expects the database to be at."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found under {MIGRATIONS_DIR}; the package is broken")
    return head


VERSION_TABLE = sa.Table(
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), primary_key=True),
)
"""Alembic's version table, defined once: a ``MigrationContext`` makes a table object of its
own each time, and each became a new entry of the engine's compiled-statement cache, so
the once-a-second health read grew a server by about a megabyte a minute."""

_READ_REVISION = sa.select(VERSION_TABLE.c.version_num)


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at, or ``None`` when it was never migrated."""
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE.name):
            return None
        found = conn.execute(_READ_REVISION).scalars().all()
    if len(found) > 1:  # what Alembic refuses too: these migrations have no branches
        raise StoreError(f"the database records {len(found)} schema revisions: {found}")
    return found[0] if found else None


def upgrade(engine_or_url: sa.Engine | str, revision: str = "head") -> str:
    """Apply every pending migration in one transaction; return the revision reached.

    Safe to run again: an up-to-date database is left unchanged. On PostgreSQL
    and SQLite DDL is transactional, so a failed migration leaves the old schema.
    """
    owned = isinstance(engine_or_url, str)
    engine = create_engine_for(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        make_sqlite_folder(engine)
        run_migrations(engine, lambda cfg: command.upgrade(cfg, revision))
        reached = current_revision(engine)
        return reached if reached is not None else ""
    finally:
        if owned:
            engine.dispose()


def run_migrations(engine: sa.Engine, step: Callable[[Config], None]) -> None:
    """Run an Alembic command in one transaction, with SQLite's table-rebuild procedure.

    SQLite cannot ALTER most constraints, so Alembic's batch mode rebuilds the
    table (copy, drop, rename). With foreign keys on, dropping a referenced
    table fails or cascades; SQLite's documented procedure
    (https://www.sqlite.org/lang_altertable.html, "other kinds of table schema
    changes") is: foreign keys off outside the transaction, migrate,
    ``PRAGMA foreign_key_check``, commit, foreign keys on again.
    """
    cfg = alembic_config()
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection if conn.dialect.name == "sqlite" else None
        if raw is not None:
            # Directly on the driver: no BEGIN has been sent yet, and the pragma
            # is ignored inside a transaction.
            raw.cursor().execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                step(cfg)
                if raw is not None:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise StoreError(
                            f"migration left {len(broken)} rows whose foreign keys point "
                            f"nowhere (first: {tuple(broken[0])}); expected none: the "
                            "migration was rolled back, report this as a bug"
                        )
        finally:
            if raw is not None:
                raw.cursor().execute("PRAGMA foreign_keys = ON")


def make_sqlite_folder(engine: sa.Engine) -> None:
    """Create the folder of a SQLite file (owner-only): a fresh data_dir must just work."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
        make_private_dir(Path(str(database)).parent)


def check_schema(engine: sa.Engine) -> None:
    """Refuse to run against a schema this code was not built for.

    Raises :class:`SchemaOutOfDateError` (whose message says to run
    ``zorgid db upgrade --config FILE``) when the database is empty, behind, or
    at a revision this code does not know (a newer engine migrated it).
    """
    expected = head_revision()
    found = current_revision(engine)
    if found != expected:
        raise SchemaOutOfDateError(
            found=found, expected=expected, url=engine.url.render_as_string(hide_password=True)
        )
