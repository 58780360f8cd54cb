"""Statements compiled once and run on the DB-API cursor of the caller's connection.

For the hot write paths (issuance steps 2 and 4, the audit append, the first
OCSP response): see :class:`Prepared` for why.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]
    """Bind names in the order the SQL takes them (positional) or the keys to pass (named)."""
    literals: Mapping[str, Any]
    """Values the statement carries itself (``state == "reserved"``); the rest are required."""
    dbapi_error: type[Exception]
    plan: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    """Per name, in order: the caller's parameter key (a literal's name when it has
    none) and the bind processor or None. What :meth:`Prepared.execute` walks (one
    tuple, not three lookups a parameter)."""


class Prepared:
    """A SQLAlchemy Core statement compiled once per dialect, run on the DB-API cursor.

    Why: ``Connection.execute`` costs ~80-130 µs a statement on this machine
    even with a prebuilt statement (cache key, execution context, result
    set-up: cProfile on the issuance cycle), several times SQLite's own time
    for these one-row statements; step 4 runs ten of them per certificate.
    Running the statement compiled from the same table definitions on the
    connection's own DB-API cursor keeps the SQL, the bind types (e.g.
    :class:`~issuer.store.types.UtcDateTime`) and the transaction (the cursor
    belongs to the caller's connection, inside its BEGIN / SAVEPOINT) and drops
    the rest. DB-API errors are raised as SQLAlchemy's (``IntegrityError`` etc.),
    which the cycle and the group committer catch; a disconnect invalidates the
    connection as SQLAlchemy would. Results are plain tuples (no result types:
    use it for statements whose columns need no conversion).
    """

    def __init__(self, statement: sa.Executable, *, keys: Sequence[str] | None = None) -> None:
        self._statement = statement
        self._keys = list(keys) if keys is not None else None
        self._by_dialect: dict[tuple[str, str], _Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.paramstyle)
        found = self._by_dialect.get(key)
        if found is not None:
            return found
        compiled = self._statement.compile(dialect=dialect, column_keys=self._keys)  # type: ignore[attr-defined]
        binds: dict[str, sa.BindParameter[Any]] = {
            name: bind for bind, name in compiled.bind_names.items()
        }
        names = tuple(compiled.positiontup) if compiled.positional else tuple(binds)
        literals: dict[str, Any] = {}
        keys: list[str] = []
        processors: dict[str, Callable[[Any], Any]] = {}
        for name in names:
            bind = binds[name]
            keys.append(bind.key)
            if not bind.required:
                literals[bind.key] = bind.value  # a value written into the statement
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        made = _Compiled(
            sql=str(compiled),
            positional=bool(compiled.positional),
            names=names,
            literals=literals,
            dbapi_error=dialect.loaded_dbapi.Error,
            plan=tuple((key, processors.get(name)) for name, key in zip(names, keys, strict=True)),
        )
        with self._lock:
            self._by_dialect[key] = made
        return made

    def execute(self, conn: sa.Connection, params: Mapping[str, Any] | None = None) -> Any:
        """Run with *params* (keyed like ``conn.execute`` would take them); the DB-API cursor.

        The cursor is returned open for ``rowcount`` / ``fetchone()``; CPython
        closes it as soon as the caller drops it.
        """
        c = self._compile(conn.dialect)
        given = params or {}
        literals = c.literals
        values: list[Any] = []
        for key, processor in c.plan:
            value = given[key] if key in given else literals[key]  # KeyError: missing
            values.append(value if processor is None or value is None else processor(value))
        bound: Sequence[Any] | dict[str, Any] = (
            values if c.positional else dict(zip(c.names, values, strict=True))
        )
        return driver_execute(conn, c.sql, bound, c.dbapi_error)


def driver_execute(
    conn: sa.Connection,
    sql: str,
    params: Sequence[Any] | Mapping[str, Any] = (),
    dbapi_error: type[Exception] | None = None,
) -> Any:
    """Run *sql* (the driver's parameter style) on *conn*'s DB-API cursor, in its transaction.

    DB-API errors come out as SQLAlchemy's (``IntegrityError``, ``OperationalError``
    ...); a disconnect invalidates *conn* as ``conn.execute`` would.
    """
    if not conn.in_transaction():
        # What conn.execute would do (autobegin): the engine's BEGIN (IMMEDIATE on
        # SQLite), so the statement never runs outside the caller's transaction.
        conn.begin()
    dbapi_conn = conn.connection.dbapi_connection
    assert dbapi_conn is not None
    error = dbapi_error or conn.dialect.loaded_dbapi.Error
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(sql, params)
    except error as exc:
        cursor.close()
        dialect = conn.dialect
        if dialect.is_disconnect(exc, dbapi_conn, cursor):  # type: ignore[arg-type]
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(sql, params, exc, error, dialect=dialect) from exc
    return cursor
