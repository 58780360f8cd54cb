"""Storage test fixtures (see :mod:`tests.store.dbfixtures`)."""

from tests.store.dbfixtures import database, engine, migrated, migrated_db

__all__ = ["database", "engine", "migrated", "migrated_db"]
