"""Storage of the engine: SQLAlchemy 2 Core tables, Alembic migrations, small repositories.

The engine keeps no state of its own between requests (ARCHITECTURE.md §7):
everything lives in this database, SQLite by default, PostgreSQL when several
engine processes share one. Start-up calls :func:`check_schema`; the operator
runs ``zorgid db upgrade``.
"""

from __future__ import annotations

import sqlalchemy as sa

from issuer.store import schema
from issuer.store.engine import READ_ONLY, create_engine_for, is_sqlite, shared_engine
from issuer.store.errors import (
    CrlNumberError,
    DuplicateKeyError,
    ReservationStateError,
    SchemaOutOfDateError,
    SerialInUseError,
    StoreError,
)
from issuer.store.migrate import check_schema, current_revision, head_revision, upgrade
from issuer.store.types import UtcDateTime

# The types callers outside ``store/`` hold without importing SQLAlchemy (the storage
# boundary, tests/test_architecture.py): a database to hand on, a connection inside a
# transaction the store opened.
Engine = sa.Engine
Connection = sa.Connection
# The database's own failures, for callers that retry or report them: a unique key met
# (``IntegrityError``), and any error of the database or its driver (``DatabaseError``).
IntegrityError = sa.exc.IntegrityError
DatabaseError = sa.exc.SQLAlchemyError

__all__ = [
    "READ_ONLY",
    "Connection",
    "CrlNumberError",
    "DatabaseError",
    "DuplicateKeyError",
    "Engine",
    "IntegrityError",
    "ReservationStateError",
    "SchemaOutOfDateError",
    "SerialInUseError",
    "StoreError",
    "UtcDateTime",
    "check_schema",
    "create_engine_for",
    "current_revision",
    "head_revision",
    "is_sqlite",
    "schema",
    "shared_engine",
    "upgrade",
]
