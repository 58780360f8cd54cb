"""The UZI-pas watch's reads and writes (issue 18 item 2): cards watched, CRL state.

A card is watched while a good, unexpired mobile-ID certificate was issued
on a registration whose proof it is; the registration names the card as a
CRL does (``card_issuer_sha256``, ``card_serial``, migration 0008). Each
function takes the caller's connection and never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from issuer.store.records import record
from issuer.store.schema import certificates, registrations, uzi_watch_crls


@dataclass(frozen=True, kw_only=True)
class WatchedCard:
    """One card with good mobile IDs: as a CRL names it, and its certificate (DER)."""

    issuer_sha256: str
    serial: str
    der: bytes


@dataclass(frozen=True, kw_only=True)
class WatchedCrl:
    """A ``uzi_watch_crls`` row."""

    url: str
    issuer_sha256: str | None
    crl_number: int | None
    crl_sha256: str | None
    this_update: datetime | None
    next_update: datetime | None
    first_watched_at: datetime
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    next_fetch_at: datetime | None
    last_error: str | None
    reported_at: datetime | None
    revocations: int


def _good_on_card(at: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        certificates.c.registration_id == registrations.c.id,
        certificates.c.status == "good",
        certificates.c.not_after > at,
        registrations.c.card_serial.is_not(None),
        registrations.c.card_issuer_sha256.is_not(None),
    )


def watched_cards(conn: sa.Connection, *, at: datetime) -> list[WatchedCard]:
    """Every card that a good mobile-ID certificate unexpired at *at* was issued on, once."""
    rows = conn.execute(
        sa.select(
            registrations.c.card_issuer_sha256,
            registrations.c.card_serial,
            registrations.c.card_certificate,
        )
        .select_from(registrations.join(certificates, _good_on_card(at)))
        .order_by(registrations.c.card_issuer_sha256, registrations.c.card_serial)
    ).all()
    seen: dict[tuple[str, str], WatchedCard] = {}
    for row in rows:
        key = (row.card_issuer_sha256, row.card_serial)
        if key not in seen:
            seen[key] = WatchedCard(
                issuer_sha256=row.card_issuer_sha256,
                serial=row.card_serial,
                der=bytes(row.card_certificate),
            )
    return list(seen.values())


def good_certificates_on_card(
    conn: sa.Connection, *, issuer_sha256: str, serial: str, at: datetime
) -> list[sa.Row[Any]]:
    """The good certificates issued on the card (issuer, serial): whole ``certificates`` rows."""
    return list(
        conn.execute(
            sa.select(certificates)
            .select_from(certificates.join(registrations, _good_on_card(at)))
            .where(
                registrations.c.card_issuer_sha256 == issuer_sha256,
                registrations.c.card_serial == serial,
            )
            .order_by(certificates.c.issued_at)
        ).all()
    )


def crl_states(conn: sa.Connection) -> list[WatchedCrl]:
    """Every CRL the watch has met, by URL."""
    rows = conn.execute(sa.select(uzi_watch_crls).order_by(uzi_watch_crls.c.url)).all()
    return [record(WatchedCrl, row) for row in rows]


def watch_url(conn: sa.Connection, *, url: str, at: datetime) -> None:
    """Start keeping state for *url* (no change when it is known)."""
    known = conn.execute(sa.select(uzi_watch_crls.c.url).where(uzi_watch_crls.c.url == url)).first()
    if known is None:
        try:  # another process may add it at the same moment: then it is known
            with conn.begin_nested():
                conn.execute(
                    uzi_watch_crls.insert().values(url=url, first_watched_at=at, revocations=0)
                )
        except sa.exc.IntegrityError:
            pass


def record_success(
    conn: sa.Connection,
    *,
    url: str,
    issuer_sha256: str,
    crl_number: int | None,
    crl_sha256: str,
    this_update: datetime,
    next_update: datetime | None,
    at: datetime,
    next_fetch_at: datetime,
    revoked: int,
) -> None:
    """A CRL that verified was applied; the unavailable report (if any) is over."""
    conn.execute(
        uzi_watch_crls.update()
        .where(uzi_watch_crls.c.url == url)
        .values(
            issuer_sha256=issuer_sha256,
            crl_number=crl_number,
            crl_sha256=crl_sha256,
            this_update=this_update,
            next_update=next_update,
            last_fetch_at=at,
            last_success_at=at,
            next_fetch_at=next_fetch_at,
            last_error=None,
            reported_at=None,
            revocations=uzi_watch_crls.c.revocations + revoked,
        )
    )


def record_failure(
    conn: sa.Connection, *, url: str, at: datetime, next_fetch_at: datetime, error: str
) -> None:
    """A fetch failed or its CRL did not verify: nothing else of the row changes."""
    conn.execute(
        uzi_watch_crls.update()
        .where(uzi_watch_crls.c.url == url)
        .values(last_fetch_at=at, next_fetch_at=next_fetch_at, last_error=error[:512])
    )


def mark_reported(conn: sa.Connection, *, url: str, at: datetime) -> bool:
    """Note that *url* was reported unavailable too long; False if it was already."""
    done = conn.execute(
        uzi_watch_crls.update()
        .where(uzi_watch_crls.c.url == url, uzi_watch_crls.c.reported_at.is_(None))
        .values(reported_at=at)
    )
    return done.rowcount == 1
