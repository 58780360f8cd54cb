"""The audit log's tables: head, events and checkpoints (issuer/audit/ holds the rules).

Why the statements are built once: per-call ``.values(...)`` construction and
cache-key generation cost more than the SQL itself on SQLite (measured: ~2x
per append); they run on the DB-API cursor (:mod:`issuer.store.prepared`:
~0.1 ms less per statement). Every function runs in the caller's transaction
and never commits. The head row is the lock every appender takes first: on
PostgreSQL :func:`lock_head` reads it ``FOR UPDATE``; on SQLite the write
transaction's ``BEGIN IMMEDIATE`` already holds the database's write lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from issuer.store.engine import READ_ONLY
from issuer.store.prepared import Prepared
from issuer.store.schema import audit_checkpoints, audit_events, audit_head
from issuer.store.transactions import read_transaction
from issuer.store.types import UtcDateTime

Row = sa.Row[Any]
"""A row of ``audit_events``, ``audit_checkpoints`` or ``audit_head``, read by column name."""

FIELD_LIMITS: Mapping[str, int] = {
    name: int(getattr(audit_events.c[name].type, "length", 0) or 0)
    for name in ("actor_role", "actor_identity", "action", "subject")
}
"""Column widths of the event's named fields (PostgreSQL enforces them, SQLite does not)."""

_SELECT_HEAD = Prepared(
    sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
)
_INSERT_EVENT = Prepared(audit_events.insert(), keys=tuple(c.key for c in audit_events.columns))
_UPDATE_HEAD = Prepared(
    audit_head.update()
    .where(audit_head.c.id == 1)
    .values(
        seq=sa.bindparam("new_seq", type_=sa.BigInteger),
        hash=sa.bindparam("new_hash", type_=sa.String),
        updated_at=sa.bindparam("new_at", type_=UtcDateTime),
    )
)
_ADVANCE_HEAD = Prepared(
    audit_head.update()
    .where(
        audit_head.c.id == 1,
        audit_head.c.seq == sa.bindparam("old_seq", type_=sa.BigInteger),
        audit_head.c.hash == sa.bindparam("old_hash", type_=sa.String),
    )
    .values(
        seq=sa.bindparam("new_seq", type_=sa.BigInteger),
        hash=sa.bindparam("new_hash", type_=sa.String),
        updated_at=sa.bindparam("new_at", type_=UtcDateTime),
    )
)
"""Move the head on only if it is still where this process last left it (row count 1)."""

_BEHIND = sa.select(
    audit_head.c.seq,
    sa.select(sa.func.max(audit_checkpoints.c.seq)).scalar_subquery(),
).where(audit_head.c.id == 1)


def advance_head(
    conn: sa.Connection, *, old: tuple[int, str], new: tuple[int, str], at: datetime
) -> bool:
    """Move the head from *old* to *new* (seq, hash); ``False`` (nothing written) when the
    head is not at *old*: another appender, a rollback, or a tampered head."""
    moved = _ADVANCE_HEAD.execute(
        conn,
        {
            "old_seq": old[0],
            "old_hash": old[1],
            "new_seq": new[0],
            "new_hash": new[1],
            "new_at": at,
        },
    )
    return bool(moved.rowcount == 1)


def lock_head(conn: sa.Connection) -> tuple[int, str] | None:
    """The head (seq, hash), row-locked to the end of the transaction; ``None``: no head row."""
    row = _SELECT_HEAD.execute(conn).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def set_head(conn: sa.Connection, *, seq: int, hash: str, at: datetime) -> None:
    """Move the head to (seq, hash) (after :func:`lock_head`)."""
    _UPDATE_HEAD.execute(conn, {"new_seq": seq, "new_hash": hash, "new_at": at})


def insert_event(conn: sa.Connection, params: Mapping[str, Any]) -> None:
    """One ``audit_events`` row (every column by key)."""
    _INSERT_EVENT.execute(conn, params)


def checkpoint_at(conn: sa.Connection, seq: int) -> Row | None:
    """The signed checkpoint at *seq*, or ``None``."""
    found: Row | None = conn.execute(
        sa.select(audit_checkpoints).where(audit_checkpoints.c.seq == seq)
    ).one_or_none()
    return found


def insert_checkpoint(
    conn: sa.Connection,
    *,
    seq: int,
    hash: str,
    signed_at: datetime,
    key_sha256: str,
    signature: bytes,
) -> None:
    """One ``audit_checkpoints`` row."""
    conn.execute(
        audit_checkpoints.insert().values(
            seq=seq, hash=hash, signed_at=signed_at, key_sha256=key_sha256, signature=signature
        )
    )


def events_after_checkpoint(conn: sa.Connection) -> int:
    """How many events the head lies beyond the last signed checkpoint (0: none, or empty)."""
    row = conn.execute(_BEHIND).first()
    if row is None:
        return 0
    head, last = int(row[0]), int(row[1] or 0)
    return max(head - last, 0)


# -- reading the whole log (verification) -------------------------------------------------


@contextlib.contextmanager
def snapshot(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One consistent snapshot of head, checkpoints and events, blocking no writer.

    Appends that commit while a reader streams must not look like a head/chain
    mismatch: REPEATABLE READ on PostgreSQL; on SQLite (WAL) a deferred read
    transaction (:data:`~issuer.store.READ_ONLY`) gives that.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            conn = conn.execution_options(**{READ_ONLY: True})
        yield conn


def checkpoints(conn: sa.Connection) -> dict[int, Row]:
    """Every signed checkpoint by seq, in seq order."""
    rows = conn.execute(sa.select(audit_checkpoints).order_by(audit_checkpoints.c.seq))
    return {row.seq: row for row in rows}


def head(conn: sa.Connection) -> Row | None:
    """The head row (without a lock), or ``None`` when it is missing."""
    found: Row | None = conn.execute(
        sa.select(audit_head).where(audit_head.c.id == 1)
    ).one_or_none()
    return found


@contextlib.contextmanager
def events(conn: sa.Connection, chunk: int) -> Iterator[Iterator[Row]]:
    """Every event in seq order, streamed *chunk* rows at a time (memory stays flat)."""
    rows = conn.execution_options(yield_per=chunk).execute(
        sa.select(audit_events).order_by(audit_events.c.seq)
    )
    try:
        yield iter(rows)
    finally:
        rows.close()


# -- reading events for people (zorgid audit list|export) ---------------------------------


def events_in_pages(
    engine: sa.Engine,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    actors: Sequence[str] = (),
    kinds: Sequence[str] = (),
    page: int = 500,
) -> Iterator[Row]:
    """The events that match, in seq order, *page* rows per short read.

    ``since`` inclusive, ``until`` exclusive (``occurred_at``); ``actors``: an
    event whose role or identity is one of them; ``kinds``: an event whose
    action is one of them, or starts with one ending in ``*`` (``certificate.*``).
    Each page is its own read continued after the last seq (the primary key),
    so a log of millions is listed with flat memory and no long transaction.
    """
    query = sa.select(audit_events).order_by(audit_events.c.seq).limit(page)
    if since is not None:
        query = query.where(audit_events.c.occurred_at >= since)
    if until is not None:
        query = query.where(audit_events.c.occurred_at < until)
    if actors:
        query = query.where(
            sa.or_(audit_events.c.actor_role.in_(actors), audit_events.c.actor_identity.in_(actors))
        )
    if kinds:
        query = query.where(sa.or_(*(_kind(kind) for kind in kinds)))
    after = 0
    while True:
        with read_transaction(engine) as conn:
            rows = list(conn.execute(query.where(audit_events.c.seq > after)))
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1].seq


def _kind(kind: str) -> sa.ColumnElement[bool]:
    if not kind.endswith("*"):
        return audit_events.c.action == kind
    prefix = kind[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return audit_events.c.action.like(f"{prefix}%", escape="\\")
