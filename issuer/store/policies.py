"""SQL of the policy versions: the signed ``policy_versions`` rows and the dry run's evidence.

The rules (``policies.versions``), the signatures and the audit events live in
:mod:`issuer.policy_store`; this module only reads and writes rows. Rows are
handed out as they come (attribute access: ``row.version``, ``row.signature``
...) so the verifier sees exactly what the database holds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from issuer.store.engine import READ_ONLY
from issuer.store.errors import StoreError
from issuer.store.reads import ReadConnections
from issuer.store.schema import certificates, policy_versions, registrations
from issuer.store.transactions import write_transaction
from issuer.store.types import UtcDateTime, to_utc_text

__all__ = [
    "ActiveKeyRead",
    "Row",
    "VersionTaken",
    "active_row",
    "all_versions",
    "due_rows",
    "ever_active",
    "highest_version",
    "in_force_rows",
    "insert_version",
    "last_due",
    "numbering_transaction",
    "recorded_request_rows",
    "select_version",
    "signature_of",
    "update_version",
    "version_row",
]

Row = Any
"""A ``policy_versions`` row: its columns as attributes."""


class VersionTaken(StoreError):
    """A concurrent writer took the version number (or the one active row) first: run again."""


@contextlib.contextmanager
def numbering_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction that numbers a new version: a unique-key clash is :class:`VersionTaken`.

    Two processes may draw the same next number (or bootstrap the same empty
    table) at once; the loser's insert or commit fails on the key and it reads again.
    """
    try:
        with write_transaction(engine) as conn:
            yield conn
    except sa.exc.IntegrityError as exc:
        raise VersionTaken(f"policy version numbering clashed: {exc.orig}") from exc


@contextlib.contextmanager
def _reading(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.connect() as conn:
        yield conn.execution_options(**{READ_ONLY: True})  # no SQLite write lock for a read


def _in_force(now: datetime) -> sa.ColumnElement[bool]:
    """The active row and any approved row now due, in *one* statement (one snapshot).

    Two separate reads could see the old active row and then, after a
    concurrent activation, no due row, and so return a version that is no
    longer active.
    """
    return sa.or_(
        policy_versions.c.state == "active",
        sa.and_(policy_versions.c.state == "approved", policy_versions.c.activate_at <= now),
    )


# -- reads on their own connection --------------------------------------------------------


def version_row(engine: sa.Engine, version: int) -> Row | None:
    """One version's row."""
    with _reading(engine) as conn:
        return select_version(conn, version)


def all_versions(engine: sa.Engine) -> list[Row]:
    """Every row, newest first."""
    with _reading(engine) as conn:
        return list(
            conn.execute(
                sa.select(policy_versions).order_by(policy_versions.c.version.desc())
            ).all()
        )


def in_force_rows(engine: sa.Engine, now: datetime) -> list[Row]:
    """The active row and every approved row due by ``now`` (one statement)."""
    with _reading(engine) as conn:
        return list(conn.execute(sa.select(policy_versions).where(_in_force(now))).all())


def last_due(engine: sa.Engine, now: datetime) -> Row | None:
    """The approved row due by ``now`` that settling would leave active: last by (activate_at,
    version), the order :func:`due_rows` activates them in."""
    with _reading(engine) as conn:
        return conn.execute(
            sa.select(policy_versions)
            .where(policy_versions.c.state == "approved", policy_versions.c.activate_at <= now)
            .order_by(policy_versions.c.activate_at.desc(), policy_versions.c.version.desc())
            .limit(1)
        ).first()


def signature_of(engine: sa.Engine, version: int) -> bytes:
    """The stored signature of one version (the cache key of the active reader)."""
    with _reading(engine) as conn:
        signature = conn.execute(
            sa.select(policy_versions.c.signature).where(policy_versions.c.version == version)
        ).scalar_one()
    return bytes(signature or b"")


# -- inside the caller's transaction ------------------------------------------------------


def select_version(conn: sa.Connection, version: int, *, lock: bool = False) -> Row | None:
    """One version's row, ``FOR UPDATE`` when ``lock``."""
    query = sa.select(policy_versions).where(policy_versions.c.version == version)
    return conn.execute(query.with_for_update() if lock else query).first()


def active_row(conn: sa.Connection, *, lock: bool = False) -> Row | None:
    """The active row, ``FOR UPDATE`` when ``lock``.

    On PostgreSQL (READ COMMITTED) a locking read that waited for another
    activation re-checks the row it found, now ``superseded``, and returns
    nothing; a new statement sees the new active row.
    """
    query = sa.select(policy_versions).where(policy_versions.c.state == "active")
    return conn.execute(query.with_for_update() if lock else query).first()


def due_rows(conn: sa.Connection, now: datetime) -> list[Row]:
    """Approved rows due by ``now``, locked, in activation order (activate_at, version)."""
    return list(
        conn.execute(
            sa.select(policy_versions)
            .where(policy_versions.c.state == "approved", policy_versions.c.activate_at <= now)
            .order_by(policy_versions.c.activate_at, policy_versions.c.version)
            .with_for_update()
        ).all()
    )


def highest_version(conn: sa.Connection) -> int | None:
    """The highest version number stored, None for an empty table."""
    highest = conn.execute(sa.select(sa.func.max(policy_versions.c.version))).scalar()
    return None if highest is None else int(highest)


def ever_active(conn: sa.Connection) -> bool:
    """Whether any version was ever active (a fresh statement: sees concurrent commits)."""
    found = conn.execute(
        sa.select(policy_versions.c.version)
        .where(policy_versions.c.state.in_(("active", "superseded")))
        .limit(1)
    ).first()
    return found is not None


def insert_version(conn: sa.Connection, values: dict[str, Any]) -> None:
    conn.execute(policy_versions.insert().values(**values))


def update_version(conn: sa.Connection, version: int, values: dict[str, Any]) -> None:
    conn.execute(
        policy_versions.update().where(policy_versions.c.version == version).values(**values)
    )


# -- the per-request key read --------------------------------------------------------------

_KEY_STATEMENT = sa.select(
    policy_versions.c.version, policy_versions.c.state, policy_versions.c.signature
).where(
    sa.or_(
        policy_versions.c.state == "active",
        sa.and_(
            policy_versions.c.state == "approved",
            policy_versions.c.activate_at <= sa.bindparam("now", type_=UtcDateTime),
        ),
    )
)
""":func:`_in_force` for :class:`ActiveKeyRead`, built once (per-call statement
construction costs more than the query on SQLite)."""

_KEY_SQL_QMARK = (
    "SELECT version, state, signature FROM policy_versions "
    "WHERE state = 'active' OR (state = 'approved' AND activate_at <= ?)"
)
_KEY_SQL_FORMAT = (
    "SELECT version, state, signature FROM policy_versions "
    "WHERE state = 'active' OR (state = 'approved' AND activate_at <= %s)"
)
_KEY_SQL = {"qmark": _KEY_SQL_QMARK, "format": _KEY_SQL_FORMAT, "pyformat": _KEY_SQL_FORMAT}
""":data:`_KEY_STATEMENT` as driver SQL, per DB-API paramstyle.

Written out by hand: one parameter (the UTC text of now, the stored form of
``activate_at``) and literal states, so a call needs no SQLAlchemy compilation
or type processing. A paramstyle not listed uses the SQLAlchemy statement.
"""


class ActiveKeyRead:
    """(version, state, signature) of the active row and any approved row due: one round trip.

    Run on every request, so it runs pre-written SQL (:data:`_KEY_SQL`) on a
    kept autocommit DB-API connection (:class:`~issuer.store.reads.ReadConnections`):
    several times cheaper than a SQLAlchemy ``Connection`` round (SQLite 95 ->
    ~10 us, PostgreSQL ~440 -> ~80 us), and on SQLite it takes no write lock
    (an autobegun SQLAlchemy connection would run ``BEGIN IMMEDIATE``,
    issuer/store/engine.py, and queue behind the issuance writers). ``sql`` is
    None for a paramstyle not listed: the SQLAlchemy statement then.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.sql = _KEY_SQL.get(engine.dialect.paramstyle)
        self._reads = ReadConnections.for_engine(engine)

    def __call__(self, now: datetime) -> list[tuple[int, str, bytes]]:
        if self.sql is None:
            with _reading(self.engine) as conn:
                rows = conn.execute(_KEY_STATEMENT, {"now": now}).all()
            return [(int(r.version), str(r.state), bytes(r.signature or b"")) for r in rows]
        fetched = self._reads.fetch(self.sql, (to_utc_text(now),), one=False)
        return [(int(v), str(s), bytes(g or b"")) for v, s, g in fetched]


# -- the dry run's evidence ----------------------------------------------------------------


def recorded_request_rows(conn: sa.Connection, *, since: datetime, limit: int) -> Iterator[Row]:
    """Confirmed/redeemed registrations since ``since``, newest first, with the DER of the
    certificate issued for each (if any): ``id``, ``frozen_data``, ``created_at``,
    ``confirmed_at``, ``policy_version``, ``der``, ``cert_policy_version``."""
    query = (
        sa.select(
            registrations.c.id,
            registrations.c.frozen_data,
            registrations.c.created_at,
            registrations.c.confirmed_at,
            registrations.c.policy_version,
            certificates.c.der,
            certificates.c.policy_version.label("cert_policy_version"),
        )
        .select_from(
            registrations.outerjoin(
                certificates, certificates.c.registration_id == registrations.c.id
            )
        )
        .where(
            registrations.c.state.in_(("confirmed", "redeemed")),
            registrations.c.created_at >= since,
        )
        .order_by(registrations.c.created_at.desc(), registrations.c.id)
        .limit(limit)
    )
    yield from conn.execute(query)
