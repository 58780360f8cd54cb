"""Migrations apply on both back ends; check_schema refuses anything but head."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from issuer.store import (
    SchemaOutOfDateError,
    check_schema,
    current_revision,
    head_revision,
    upgrade,
)
from issuer.store.migrate import alembic_config
from issuer.store.schema import metadata
from tests.store.dbfixtures import Database


def test_upgrade_reaches_head_and_check_passes(engine: sa.Engine) -> None:
    assert current_revision(engine) is None
    assert upgrade(engine) == head_revision()
    check_schema(engine)
    with engine.connect() as conn:
        head = conn.execute(sa.text("SELECT id, seq, hash FROM audit_head")).all()
    assert head == [(1, 0, "0" * 64)]


def test_upgrade_twice_changes_nothing(migrated: sa.Engine) -> None:
    assert upgrade(migrated) == head_revision()
    check_schema(migrated)


def test_migrations_match_the_table_definitions(migrated: sa.Engine) -> None:
    """schema.py and the migrations must describe the same tables (no drift)."""
    with migrated.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, metadata) == []


def test_check_schema_refuses_an_empty_database(engine: sa.Engine) -> None:
    with pytest.raises(SchemaOutOfDateError) as info:
        check_schema(engine)
    message = str(info.value)
    assert "run `zorgid db upgrade --config FILE`" in message
    assert "none (empty database)" in message
    assert head_revision() in message


def test_check_schema_refuses_an_older_schema(engine: sa.Engine) -> None:
    migrated = engine
    upgrade(migrated)
    cfg = alembic_config()
    with migrated.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    with pytest.raises(SchemaOutOfDateError, match="zorgid db upgrade --config FILE"):
        check_schema(migrated)
    upgrade(migrated)
    check_schema(migrated)


def test_check_schema_refuses_an_unknown_newer_revision(engine: sa.Engine) -> None:
    migrated = engine
    upgrade(migrated)
    with migrated.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    with pytest.raises(SchemaOutOfDateError) as info:
        check_schema(migrated)
    assert info.value.found == "ffff_from_the_future"
    assert info.value.expected == head_revision()


def test_backend_settings(migrated: sa.Engine, migrated_db: Database) -> None:
    """SQLite: foreign keys, WAL, busy timeout. PostgreSQL: the per-run schema is used."""
    if migrated_db.pg_schema is not None:
        with migrated.connect() as conn:
            assert conn.exec_driver_sql("SHOW search_path").scalar() == migrated_db.pg_schema
            tables = conn.execute(
                sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"),
                {"s": migrated_db.pg_schema},
            ).scalar()
        assert tables == len(metadata.tables) + 1  # + alembic_version
        return
    with migrated.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_foreign_keys_are_enforced(migrated: sa.Engine) -> None:
    from datetime import UTC, datetime

    from issuer.store.schema import mobile_ids

    now = datetime.now(UTC)
    with pytest.raises(sa.exc.IntegrityError), migrated.begin() as conn:
        conn.execute(
            mobile_ids.insert().values(
                id="m1", person_id="nobody", spki_sha256="a" * 64, public_key=b"x", created_at=now
            )
        )
