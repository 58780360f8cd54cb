"""The enrolments repository: persons, verified UZI attributes, registrations and their tokens.

Why here: making an enrolment (issuer/enrolment/create.py) and redeeming its
token exactly once (issuer/enrolment/redeem.py) are rules over these rows; the
SQL that enforces them lives next to the tables. Every function runs in the
caller's transaction and never commits. The redemption's statements are
prepared (compiled once, run on the DB-API cursor): they run in every
redemption's steps 2 and 4, inside the writer lock, and through
``conn.execute`` each cost ~0.1 ms more (cProfile of the in-process bench).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from issuer.store.prepared import Prepared
from issuer.store.reads import ReadConnections
from issuer.store.schema import registrations
from issuer.store.types import UtcDateTime

# -- making an enrolment ------------------------------------------------------------------


def insert_registration(conn: sa.Connection, **values: Any) -> None:
    """One ``registrations`` row (columns by name, ``id`` included)."""
    conn.execute(registrations.insert().values(**values))


# -- redeeming its token ------------------------------------------------------------------

TOKEN_READ = sa.select(
    registrations.c.id,
    registrations.c.state,
    registrations.c.person_id,
    registrations.c.frozen_data,
    registrations.c.token_expires_at,
    registrations.c.token_used_at,
    registrations.c.failed_attempts,
    registrations.c.csr_sha256,
    registrations.c.certificate_id,
    registrations.c.card_not_after,
).where(registrations.c.token_sha256 == sa.bindparam("digest"))
"""The registration of a token digest: the first statement of every redemption."""

_CLAIM = Prepared(
    registrations.update()
    .where(
        registrations.c.id == sa.bindparam("b_id"),
        registrations.c.token_used_at.is_(None),
        registrations.c.state == "confirmed",
        registrations.c.token_expires_at > sa.bindparam("b_now", type_=UtcDateTime),
        registrations.c.failed_attempts < sa.bindparam("b_max"),
    )
    .values(
        token_used_at=sa.bindparam("b_now", type_=UtcDateTime),
        csr_sha256=sa.bindparam("b_csr"),
        updated_at=sa.bindparam("b_now", type_=UtcDateTime),
    )
)
_PG_ATTEMPT_LOCK = Prepared(sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("b_key"))))
_COUNT_FAILED = (
    registrations.update()
    .where(
        registrations.c.id == sa.bindparam("b_id"),
        registrations.c.failed_attempts < sa.bindparam("b_max"),
    )
    .values(
        failed_attempts=registrations.c.failed_attempts + 1,
        updated_at=sa.bindparam("b_now", type_=UtcDateTime),
    )
    .returning(registrations.c.failed_attempts)
)
"""One failed attempt more, never beyond the limit (no row: the count is at the limit)."""
_FINISH = Prepared(
    registrations.update()
    .where(
        registrations.c.id == sa.bindparam("b_id"),
        registrations.c.token_used_at == sa.bindparam("b_claim", type_=UtcDateTime),
        registrations.c.certificate_id.is_(None),
    )
    .values(
        state="redeemed",
        certificate_id=sa.bindparam("b_cert"),
        updated_at=sa.bindparam("b_at", type_=UtcDateTime),
    )
)


class TokenRegistration(NamedTuple):
    """A row of :data:`TOKEN_READ` (same names as its columns)."""

    id: str
    state: str
    person_id: str | None
    frozen_data: Any
    token_expires_at: datetime
    token_used_at: datetime | None
    failed_attempts: int
    csr_sha256: str | None
    certificate_id: str | None
    card_not_after: datetime | None
    """The UZI-pas certificate's notAfter the registration recorded (caps the certificate)."""


class TokenRead:
    """:data:`TOKEN_READ` on a kept autocommit connection: the first statement of every
    redemption.

    Why not ``engine.connect()``: a SQLAlchemy connection round (checkout,
    pre-ping, autobegin, execute, commit, return) costs several times the query
    itself, and the token read is one indexed SELECT
    (:class:`~issuer.store.reads.ReadConnections`: one round trip). The
    statement is the same one, compiled once for the engine's dialect, and each
    column goes through its type's own result processor (UTC text -> aware
    datetime, JSON text -> dict), so a row reads exactly as SQLAlchemy would
    read it. One SELECT needs no transaction of its own: it reads one snapshot
    and, on SQLite, takes no lock.
    """

    def __init__(self, engine: sa.Engine) -> None:
        dialect = engine.dialect
        compiled = TOKEN_READ.compile(dialect=dialect)
        self._reads = ReadConnections.for_engine(engine)
        self._sql = str(compiled)
        self._positional = bool(dialect.positional)
        columns = tuple(c.key for c in TOKEN_READ.selected_columns)
        assert columns == TokenRegistration._fields, columns  # the row type names them in order
        self._processors: tuple[Callable[[Any], Any] | None, ...] = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None)
            for c in TOKEN_READ.selected_columns
        )

    def __call__(self, digest: str) -> TokenRegistration | None:
        found = self._reads.fetch(
            self._sql, (digest,) if self._positional else {"digest": digest}, one=True
        )
        if found is None:
            return None
        values: list[Any] = [
            v if p is None else p(v) for p, v in zip(self._processors, found, strict=True)
        ]
        return TokenRegistration(*values)


def claim_token(
    conn: sa.Connection, *, registration_id: str, now: datetime, max_failed: int, csr_sha256: str
) -> bool:
    """Claim a confirmed, unexpired, unblocked token for one CSR; ``True`` for the one winner
    (a conditional ``UPDATE``: of any number of concurrent callers exactly one sees row 1)."""
    result = _CLAIM.execute(
        conn, {"b_id": registration_id, "b_now": now, "b_max": max_failed, "b_csr": csr_sha256}
    )
    return bool(result.rowcount == 1)


def lock_attempts_pg(conn: sa.Connection, key: int) -> None:
    """PostgreSQL: take the transaction-scoped advisory lock *key* (held to the end)."""
    _PG_ATTEMPT_LOCK.execute(conn, {"b_key": key}).fetchone()


def take_over_claim(
    conn: sa.Connection, *, registration_id: str, old: datetime, csr_sha256: str, now: datetime
) -> bool:
    """Move a claim of *old* (same CSR, no certificate yet) to *now*; ``True`` if ours now."""
    result = conn.execute(
        registrations.update()
        .where(
            registrations.c.id == registration_id,
            registrations.c.token_used_at == old,
            registrations.c.csr_sha256 == csr_sha256,
            registrations.c.certificate_id.is_(None),
        )
        .values(token_used_at=now, updated_at=now)
    )
    return bool(result.rowcount == 1)


def release_claim(
    conn: sa.Connection, *, registration_id: str, claimed_at: datetime, now: datetime
) -> None:
    """Give a claim of *claimed_at* back (no certificate was stored for it)."""
    conn.execute(
        registrations.update()
        .where(
            registrations.c.id == registration_id,
            registrations.c.token_used_at == claimed_at,
            registrations.c.certificate_id.is_(None),
        )
        .values(token_used_at=None, csr_sha256=None, updated_at=now)
    )


def count_refusal(
    conn: sa.Connection, *, registration_id: str, max_failed: int, now: datetime
) -> int | None:
    """One failed attempt more; the new count, or ``None`` when it was at the limit already."""
    counted = conn.execute(
        _COUNT_FAILED, {"b_id": registration_id, "b_max": max_failed, "b_now": now}
    ).first()
    return None if counted is None else int(counted[0])


def finish_redemption(
    conn: sa.Connection,
    *,
    registration_id: str,
    claimed_at: datetime,
    certificate_id: str,
    at: datetime,
) -> bool:
    """Step 4: the registration ``redeemed`` for *certificate_id*, only while the claim of
    *claimed_at* is still ours; ``False`` when it was taken over."""
    result = _FINISH.execute(
        conn,
        {"b_id": registration_id, "b_claim": claimed_at, "b_cert": certificate_id, "b_at": at},
    )
    return bool(result.rowcount == 1)
