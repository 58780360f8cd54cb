"""``ocsp``'s ports over the store: certificate status, pre-signed responses, CRLs.

``ocsp`` knows nothing of the engine (ARCHITECTURE.md §3); these classes
implement its :class:`~ocsp.model.StatusSource`, :class:`~ocsp.model.ResponseStore`
and :class:`~ocsp.model.CrlStore` over our tables, so the OCSP side's SQL is
written here and :mod:`issuer.ocsp_service` only wires them.

Serials cross this line as the store keeps them (lowercase hex, no leading
zeros, :mod:`issuer.store.schema`) and are ``int`` on the ``ocsp`` side.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from issuer.store import repo
from issuer.store.engine import READ_ONLY
from issuer.store.errors import CrlNumberError
from issuer.store.prepared import Prepared
from issuer.store.reads import ReadConnections
from issuer.store.schema import certificates, crls, ocsp_responses
from issuer.store.transactions import write_transaction
from issuer.store.types import from_utc_text, to_utc_text
from ocsp.codec import response_cert_state
from ocsp.model import CertStatus, DueItem, RevokedEntry, StoredCrl, StoredResponse

_LOG = logging.getLogger(__name__)


def serial_hex(serial: int) -> str:
    """The store's serial form (``issuer.store.schema``: lowercase hex, no leading zeros)."""
    return format(serial, "x")


def _status_of(row: Any) -> CertStatus:
    if row.status == "revoked":
        return CertStatus.revoked(row.revoked_at, row.revocation_reason)
    return CertStatus.good()


_STATUS_QMARK = (
    "SELECT status, revoked_at, revocation_reason FROM certificates WHERE issuer = ? AND serial = ?"
)
_STATUS_FORMAT = (
    "SELECT status, revoked_at, revocation_reason FROM certificates "
    "WHERE issuer = %s AND serial = %s"
)
_STATUS_SQL = {"qmark": _STATUS_QMARK, "format": _STATUS_FORMAT, "pyformat": _STATUS_FORMAT}
"""The status read in the DB-API's parameter style (sqlite3: qmark; psycopg: format)."""


class StoreStatusSource:
    """Certificate status from ``certificates`` (RFC 6960 §2.2 good / revoked / unknown)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._sql = _STATUS_SQL.get(engine.dialect.paramstyle)
        self._reads = ReadConnections.for_engine(engine)

    def lookup(self, issuer_id: str, serial: int) -> CertStatus:
        """One indexed SELECT on a kept autocommit connection (issuer.store.reads).

        Every OCSP request that is not a pre-signed hit makes one -- a never-issued
        serial is refused on it -- so it must cost what a request from a stranger
        may cost: ~20 us, not SQLAlchemy's ~300 us.
        """
        if self._sql is None:
            return self._lookup_core(issuer_id, serial)
        row = self._reads.fetch(self._sql, (issuer_id, serial_hex(serial)), one=True)
        if row is None:
            return CertStatus.unknown()
        if row[0] == "revoked":
            return CertStatus.revoked(from_utc_text(str(row[1])), row[2])
        return CertStatus.good()

    def _lookup_core(self, issuer_id: str, serial: int) -> CertStatus:
        with self._engine.connect() as conn:
            row = (
                conn.execution_options(**{READ_ONLY: True})
                .execute(
                    sa.select(
                        certificates.c.status,
                        certificates.c.revoked_at,
                        certificates.c.revocation_reason,
                    ).where(
                        certificates.c.issuer == issuer_id,
                        certificates.c.serial == serial_hex(serial),
                    )
                )
                .first()
            )
        return CertStatus.unknown() if row is None else _status_of(row)

    def revoked(self, issuer_id: str, *, now: datetime) -> Sequence[RevokedEntry]:
        with self._engine.connect() as conn:
            rows = conn.execution_options(**{READ_ONLY: True}).execute(
                sa.select(
                    certificates.c.serial,
                    certificates.c.revoked_at,
                    certificates.c.revocation_reason,
                )
                .where(
                    certificates.c.issuer == issuer_id,
                    certificates.c.status == "revoked",
                    certificates.c.not_after > now,
                )
                .order_by(certificates.c.revoked_at, certificates.c.serial)
            )
            return [
                RevokedEntry(
                    serial=int(r.serial, 16), revoked_at=r.revoked_at, reason=r.revocation_reason
                )
                for r in rows
            ]


_SELECT_QMARK = (
    "SELECT der, this_update, next_update, produced_at FROM ocsp_responses "
    "WHERE issuer = ? AND serial = ?"
)
_SELECT_FORMAT = (
    "SELECT der, this_update, next_update, produced_at FROM ocsp_responses "
    "WHERE issuer = %s AND serial = %s"
)
"""The serving lookup in the DB-API's parameter style (sqlite3: qmark; psycopg: format)."""


_FEED_QMARK = "SELECT issuer, serial, produced_at FROM ocsp_responses WHERE produced_at > ?"
_FEED_FORMAT = "SELECT issuer, serial, produced_at FROM ocsp_responses WHERE produced_at > %s"
_FEED_SQL = {"qmark": _FEED_QMARK, "format": _FEED_FORMAT, "pyformat": _FEED_FORMAT}
"""The change feed's read in the DB-API's parameter style."""


class StoreResponses:
    """Pre-signed responses in ``ocsp_responses`` (one row per certificate)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._sql = _SELECT_QMARK if engine.dialect.paramstyle == "qmark" else _SELECT_FORMAT
        self._reads = ReadConnections.for_engine(engine)

    def get(self, issuer_id: str, serial: int) -> StoredResponse | None:
        """One indexed SELECT on a DB-API connection kept per thread (the serving hot path).

        SQLAlchemy's statement machinery costs ~300 µs a call, ten times the
        query; this path is read-only and autocommit (no snapshot held open
        between requests), and falls back to the SQLAlchemy path on any error.
        """
        try:
            return self._get_raw(issuer_id, serial_hex(serial))
        except Exception:
            self._drop_raw()
            _LOG.warning("raw OCSP lookup failed; using the SQLAlchemy path", exc_info=True)
            return self._get_core(issuer_id, serial)

    def _get_raw(self, issuer_id: str, serial: str) -> StoredResponse | None:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._engine.raw_connection()
            # Out of the pool for good: a thread's kept connection is dropped when the
            # thread ends, and back in the pool its autocommit would turn the next
            # engine.begin() into statements committed one by one (PostgreSQL).
            driver = conn.driver_connection
            conn.detach()
            if self._engine.dialect.name == "sqlite":
                driver.isolation_level = None  # type: ignore[union-attr]
            else:
                driver.autocommit = True  # type: ignore[union-attr]
            self._local.conn = conn
        cursor = conn.cursor()
        try:
            cursor.execute(self._sql, (issuer_id, serial))
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        return StoredResponse(
            der=bytes(row[0]),
            this_update=datetime.fromisoformat(row[1]),
            next_update=datetime.fromisoformat(row[2]),
            produced_at=datetime.fromisoformat(row[3]),
        )

    def _drop_raw(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.invalidate()
            except Exception:
                _LOG.debug("closing a broken raw connection failed", exc_info=True)

    def _get_core(self, issuer_id: str, serial: int) -> StoredResponse | None:
        with self._engine.connect() as conn:
            row = (
                conn.execution_options(**{READ_ONLY: True})
                .execute(
                    sa.select(
                        ocsp_responses.c.der,
                        ocsp_responses.c.this_update,
                        ocsp_responses.c.next_update,
                        ocsp_responses.c.produced_at,
                    ).where(
                        ocsp_responses.c.issuer == issuer_id,
                        ocsp_responses.c.serial == serial_hex(serial),
                    )
                )
                .first()
            )
        if row is None:
            return None
        return StoredResponse(
            der=bytes(row.der),
            this_update=row.this_update,
            next_update=row.next_update,
            produced_at=row.produced_at,
        )

    def put(self, issuer_id: str, serial: int, response: StoredResponse) -> bool:
        """Keep *response* if newer. On SQLite it queues on the process's writer lock with
        issuance (:func:`~issuer.store.transactions.write_transaction`) instead of sleeping in
        SQLite's busy handler while a batch commits."""
        with write_transaction(self._engine) as conn:
            return repo.save_ocsp_response(
                conn,
                issuer=issuer_id,
                serial=serial_hex(serial),
                der=response.der,
                this_update=response.this_update,
                next_update=response.next_update,
                produced_at=response.produced_at,
                wins_ties=response_cert_state(response.der) == "revoked",
            )

    def changed_since(self, after: datetime) -> Sequence[tuple[tuple[str, int], datetime]]:
        """((issuer, serial), producedAt) of each response produced after *after*: the
        responders' change feed (:class:`ocsp.kept.ResponseChanges`), one range read on
        the 0012 index, on a kept connection (issuer.store.reads) without SQLAlchemy's
        row processing: after a mass re-signing it is thousands of rows a second."""
        sql = _FEED_SQL.get(self._engine.dialect.paramstyle)
        if sql is None:
            return self._changed_core(after)
        rows = self._reads.fetch(sql, (to_utc_text(after),), one=False)
        return [((row[0], int(row[1], 16)), from_utc_text(str(row[2]))) for row in rows]

    def _changed_core(self, after: datetime) -> Sequence[tuple[tuple[str, int], datetime]]:
        with self._engine.connect() as conn:
            rows = conn.execution_options(**{READ_ONLY: True}).execute(
                sa.select(
                    ocsp_responses.c.issuer,
                    ocsp_responses.c.serial,
                    ocsp_responses.c.produced_at,
                ).where(ocsp_responses.c.produced_at > after)
            )
            return [((row.issuer, int(row.serial, 16)), row.produced_at) for row in rows]

    def due(self, *, now: datetime, next_update_before: datetime, limit: int) -> Sequence[DueItem]:
        """Missing or near-``nextUpdate`` responses, then revoked certificates whose stored
        response does not say ``revoked`` (their ``on_revoked`` hook failed or ran on a node
        that died): those are re-signed at the next refresh, not at their refresh point.

        The second check reads the DER of each unexpired revoked certificate's
        response (~30 µs each); a ``status`` column on ``ocsp_responses`` would make
        it one SQL condition -- see docs/decisions/ocsp.md.
        """
        c, r = certificates, ocsp_responses
        joined = c.outerjoin(r, sa.and_(r.c.issuer == c.c.issuer, r.c.serial == c.c.serial))
        query = (
            sa.select(c.c.issuer, c.c.serial, c.c.status, c.c.revoked_at, c.c.revocation_reason)
            .select_from(joined)
            .where(
                c.c.not_after > now,
                sa.or_(r.c.serial.is_(None), r.c.next_update < next_update_before),
            )
            .order_by(r.c.next_update)
            .limit(limit)
        )
        stale_revoked = (
            sa.select(c.c.issuer, c.c.serial, c.c.revoked_at, c.c.revocation_reason, r.c.der)
            .select_from(c.join(r, sa.and_(r.c.issuer == c.c.issuer, r.c.serial == c.c.serial)))
            .where(
                c.c.status == "revoked",
                c.c.not_after > now,
                r.c.next_update >= next_update_before,
            )
        )
        with self._engine.connect() as conn:
            conn = conn.execution_options(**{READ_ONLY: True})
            items = [
                DueItem(issuer_id=row.issuer, serial=int(row.serial, 16), status=_status_of(row))
                for row in conn.execute(query)
            ]
            for row in conn.execute(stale_revoked):
                if len(items) >= limit:
                    break
                if response_cert_state(bytes(row.der)) != "revoked":
                    status = CertStatus.revoked(row.revoked_at, row.revocation_reason)
                    items.append(
                        DueItem(issuer_id=row.issuer, serial=int(row.serial, 16), status=status)
                    )
        return items

    def count_due(self, *, now: datetime, next_update_before: datetime) -> int:
        """How many responses :meth:`due` would return without a limit (first query only)."""
        c, r = certificates, ocsp_responses
        joined = c.outerjoin(r, sa.and_(r.c.issuer == c.c.issuer, r.c.serial == c.c.serial))
        query = (
            sa.select(sa.func.count())
            .select_from(joined)
            .where(
                c.c.not_after > now,
                sa.or_(r.c.serial.is_(None), r.c.next_update < next_update_before),
            )
        )
        with self._engine.connect() as conn:
            return int(conn.execution_options(**{READ_ONLY: True}).execute(query).scalar() or 0)


_INSERT_RESPONSE = Prepared(
    ocsp_responses.insert(), keys=tuple(c.key for c in ocsp_responses.columns)
)
"""Compiled once, run on the DB-API cursor: SQLAlchemy's execute costs more than the SQL."""


class StoreCrls:
    """Signed CRLs in ``crls`` (numbers strictly increasing per issuer)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def latest(self, issuer_id: str) -> StoredCrl | None:
        with self._engine.connect() as conn:
            row = (
                conn.execution_options(**{READ_ONLY: True})
                .execute(
                    sa.select(crls)
                    .where(crls.c.issuer == issuer_id)
                    .order_by(crls.c.number.desc())
                    .limit(1)
                )
                .first()
            )
        if row is None:
            return None
        return StoredCrl(
            number=int(row.number),
            der=bytes(row.der),
            this_update=row.this_update,
            next_update=row.next_update,
        )

    def next_number(self, issuer_id: str) -> int:
        with self._engine.connect() as conn:
            return repo.next_crl_number(conn, issuer=issuer_id)

    def put(self, issuer_id: str, crl: StoredCrl) -> bool:
        try:
            with write_transaction(self._engine) as conn:
                repo.store_crl(
                    conn,
                    issuer=issuer_id,
                    number=crl.number,
                    der=crl.der,
                    this_update=crl.this_update,
                    next_update=crl.next_update,
                )
            return True
        except CrlNumberError:
            return False


def insert_first_response(
    conn: sa.Connection, *, issuer: str, serial: str, response: StoredResponse
) -> None:
    """INSERT a certificate's first response inside the transaction that stores it.

    A plain INSERT (no row can exist yet: the foreign key needs the
    certificate, which is new), run on the cursor of the issuance cycle's
    step 4 connection (:class:`~issuer.store.prepared.Prepared`).
    """
    _INSERT_RESPONSE.execute(
        conn,
        {
            "issuer": issuer,
            "serial": serial,
            "der": response.der,
            "this_update": response.this_update,
            "next_update": response.next_update,
            "produced_at": response.produced_at,
        },
    )
