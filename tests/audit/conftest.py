"""Audit test fixtures: the same databases as the storage tests (tests.store.dbfixtures)."""

from tests.store.dbfixtures import database, engine, migrated

__all__ = ["database", "engine", "migrated"]
