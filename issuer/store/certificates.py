"""The certificates repository: reading issued certificates and open reservations.

Why here: the rules of who may read which certificate (a portal only those of
persons it acts for) are written once, as SQL, next to the tables; callers in
``issuer/issuance/`` get rows and never build a query. Reads run in a read-only
transaction (a WAL snapshot on SQLite, no write lock).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from issuer.store.repo import open_reservations
from issuer.store.schema import certificates, login_sessions, registrations, serial_reservations
from issuer.store.transactions import read_transaction

Row = sa.Row[Any]
"""A row of ``certificates`` (or ``serial_reservations``), read by column name."""


def _rows(engine: sa.Engine, query: sa.Select[Any]) -> list[Row]:
    with read_transaction(engine) as conn:
        return list(conn.execute(query))


def acted_for_by(portal_identity: str) -> sa.ColumnElement[bool]:
    """The certificate's person is one the portal acts for (issue 16 item 11).

    A portal acts for a person when it made a registration of theirs (flow 2,
    a reset of flow 6, attributes of flow 5) or opened a login session of
    theirs (flow 3): the rows it is named on by its TLS identity. Nothing else
    a portal did reaches a person, so nothing else lets it read their
    certificates; a certificate with no person is the operator's only.
    """
    return sa.or_(
        sa.exists().where(
            registrations.c.person_id == certificates.c.person_id,
            registrations.c.portal_identity == portal_identity,
        ),
        sa.exists().where(
            login_sessions.c.person_id == certificates.c.person_id,
            login_sessions.c.portal_identity == portal_identity,
        ),
    )


def certificate_by_id(engine: sa.Engine, certificate_id: str) -> Row | None:
    """One certificate by id, or ``None``."""
    found = _rows(engine, sa.select(certificates).where(certificates.c.id == certificate_id))
    return found[0] if found else None


def find_certificate(
    engine: sa.Engine,
    *,
    certificate_id: str | None = None,
    serial: str | None = None,
    acting_portal: str | None = None,
) -> Row | None:
    """One certificate by id or by serial (lowercase hex, no leading zeros), or ``None``;
    with ``acting_portal`` only one of a person that portal acts for (:func:`acted_for_by`)."""
    if serial is not None:
        query = sa.select(certificates).where(certificates.c.serial == serial)
    else:
        query = sa.select(certificates).where(certificates.c.id == certificate_id)
    if acting_portal is not None:
        query = query.where(acted_for_by(acting_portal))
    found = _rows(engine, query)
    return found[0] if found else None


def certificates_of(
    engine: sa.Engine,
    *,
    person_id: str | None = None,
    mobile_id_id: str | None = None,
    acting_portal: str | None = None,
) -> list[Row]:
    """Certificates of one person (or, without ``person_id``, one mobile ID), newest first."""
    if person_id is not None:
        query = sa.select(certificates).where(certificates.c.person_id == person_id)
    else:
        query = sa.select(certificates).where(certificates.c.mobile_id_id == mobile_id_id)
    if acting_portal is not None:
        query = query.where(acted_for_by(acting_portal))
    return _rows(engine, query.order_by(certificates.c.issued_at.desc()))


def certificates_in_pages(engine: sa.Engine, *, page: int = 500) -> Iterator[Row]:
    """Every certificate, *page* rows per read.

    Why pages: ``zorgid certs list --all`` on a million certificates must not
    hold them, or one long transaction, at once. Each page is its own short
    read, continued after the last id seen (keyset on the primary key, so a
    page costs the same at the end of the table as at its start); the order is
    therefore by id, stable but not by date. A certificate issued meanwhile
    shows up or not; none is listed twice.
    """
    query = sa.select(certificates).order_by(certificates.c.id).limit(page)
    after: str | None = None
    while True:
        rows = _rows(engine, query if after is None else query.where(certificates.c.id > after))
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1].id


def certificates_issued_after(engine: sa.Engine, issued_after: datetime | None) -> list[Row]:
    """Every certificate (issued after *issued_after*, when given), oldest first."""
    query = sa.select(certificates).order_by(certificates.c.issued_at)
    if issued_after is not None:
        query = query.where(certificates.c.issued_at > issued_after)
    return _rows(engine, query)


def good_certificates_of_key(conn: sa.Connection, spki_sha256: str) -> list[Row]:
    """The ``good`` certificates of a key, in the caller's transaction (the keyCompromise sweep)."""
    return list(
        conn.execute(
            sa.select(certificates).where(
                certificates.c.spki_sha256 == spki_sha256,
                certificates.c.status == "good",
            )
        ).all()
    )


def stale_reservations(engine: sa.Engine, *, older_than: datetime) -> list[Row]:
    """Reservations still ``reserved`` before *older_than*, oldest first (read-only)."""
    with read_transaction(engine) as conn:
        return open_reservations(conn, older_than=older_than)


def stale_reservation_count(
    engine: sa.Engine, *, older_than: datetime
) -> tuple[int, datetime | None]:
    """How many reservations are still ``reserved`` from before *older_than*, and when the
    oldest was made (``None``: none): the metrics' gauges, without reading the rows."""
    query = sa.select(sa.func.count(), sa.func.min(serial_reservations.c.created_at)).where(
        serial_reservations.c.state == "reserved",
        serial_reservations.c.created_at < older_than,
    )
    with read_transaction(engine) as conn:
        count, oldest = conn.execute(query).one()
    return int(count), oldest
