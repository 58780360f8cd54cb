"""Audit test fixtures: the same databases as the storage tests (tests.store.dbfixtures)."""

from tests.store.dbfixtures import database, engine, migrated, migrated_db

__all__ = ["database", "engine", "migrated", "migrated_db"]
