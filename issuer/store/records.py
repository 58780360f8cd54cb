"""Rows handed out as frozen dataclasses: the flows never see a SQLAlchemy ``Row``.

Why a helper: each repository of the portal flows declares one dataclass per
table with exactly the table's columns, and builds it from ``SELECT table``
by name, so a column added without its field fails loudly (TypeError, and
tests/store/test_flow_repositories.py) instead of being silently dropped.
"""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa

T = TypeVar("T")


def record(cls: type[T], row: sa.Row[Any]) -> T:
    """*row* (all of a table's columns) as an instance of *cls*."""
    return cls(**row._mapping)


def record_or_none(cls: type[T], row: sa.Row[Any] | None) -> T | None:
    """:func:`record`, or None when no row was found."""
    return None if row is None else cls(**row._mapping)
