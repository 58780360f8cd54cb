"""Storage test fixtures (see :mod:`tests.store.dbfixtures`)."""

from tests.store.dbfixtures import database, engine, migrated

__all__ = ["database", "engine", "migrated"]
