"""The UZI-pas watch's reads and writes (issue 18 item 2): cards watched, CRL state.

A card is watched while a good, unexpired mobile-ID certificate was issued
on a registration whose proof it is, or one the watch put on hold; the
registration names the card as a CRL does (``card_issuer_sha256``,
``card_serial``, migration 0008). A hold is ``status = 'revoked'``,
``revocation_reason = 'certificateHold'`` and ``held_by`` naming who placed it
(migration 0009): the watch releases only its own. Each function takes the
caller's connection and never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from issuer.store.records import record
from issuer.store.repo import REVOCATION_REASONS, end_login_sessions
from issuer.store.schema import (
    certificates,
    ocsp_responses,
    registrations,
    smartcard_tickets,
    smartcards,
    uzi_watch_crls,
)

HOLD = "certificateHold"
"""RFC 5280 §5.3.1 reason (6) of a suspension: the one revocation that can be undone."""
HELD_BY = "uzi-watch"
"""``certificates.held_by`` of the holds the watch placed (and alone may release)."""


@dataclass(frozen=True, kw_only=True)
class WatchedCard:
    """One card with good mobile IDs: as a CRL names it, and its certificate (DER)."""

    issuer_sha256: str
    serial: str
    der: bytes
    held: bool = False
    """Some of its certificates are on hold placed by the watch."""
    good: bool = True
    """Some of its certificates are good."""


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


def _on_card(at: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        certificates.c.registration_id == registrations.c.id,
        certificates.c.not_after > at,
        registrations.c.card_serial.is_not(None),
        registrations.c.card_issuer_sha256.is_not(None),
    )


def _held_by_watch() -> sa.ColumnElement[bool]:
    return sa.and_(
        certificates.c.status == "revoked",
        certificates.c.revocation_reason == HOLD,
        certificates.c.held_by == HELD_BY,
    )


def _good_on_card(at: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(_on_card(at), certificates.c.status == "good")


def watched_cards(conn: sa.Connection, *, at: datetime) -> list[WatchedCard]:
    """Every card with a certificate unexpired at *at* that is good or held by the watch, once."""
    held = _held_by_watch()
    rows = conn.execute(
        sa.select(
            registrations.c.card_issuer_sha256,
            registrations.c.card_serial,
            registrations.c.card_certificate,
            held.label("held"),
        )
        .select_from(
            registrations.join(
                certificates, sa.and_(_on_card(at), sa.or_(certificates.c.status == "good", held))
            )
        )
        .order_by(registrations.c.card_issuer_sha256, registrations.c.card_serial)
    ).all()
    seen: dict[tuple[str, str], WatchedCard] = {}
    for row in rows:
        key = (row.card_issuer_sha256, row.card_serial)
        known = seen.get(key)
        on_hold = bool(row.held)
        seen[key] = WatchedCard(
            issuer_sha256=row.card_issuer_sha256,
            serial=row.card_serial,
            der=bytes(row.card_certificate),
            held=on_hold or (known is not None and known.held),
            good=not on_hold or (known is not None and known.good),
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


def held_certificates_on_card(
    conn: sa.Connection, *, issuer_sha256: str, serial: str, at: datetime, watch_only: bool
) -> list[sa.Row[Any]]:
    """The certificates on hold issued on the card: by anyone, or (``watch_only``) by the watch."""
    held = (
        _held_by_watch()
        if watch_only
        else sa.and_(certificates.c.status == "revoked", certificates.c.revocation_reason == HOLD)
    )
    return list(
        conn.execute(
            sa.select(certificates)
            .select_from(certificates.join(registrations, sa.and_(_on_card(at), held)))
            .where(
                registrations.c.card_issuer_sha256 == issuer_sha256,
                registrations.c.card_serial == serial,
            )
            .order_by(certificates.c.issued_at)
        ).all()
    )


def hold_certificate(conn: sa.Connection, *, issuer: str, serial: str, at: datetime) -> bool:
    """Put a good certificate on hold for the watch; ``False`` if it was not good.

    Its login sessions end, as at a revocation (``issuer.store.repo.revoke_certificate``):
    a session must not outlive the trust it was opened on, and a release does not
    bring one back.
    """
    done = conn.execute(
        certificates.update()
        .where(
            certificates.c.issuer == issuer,
            certificates.c.serial == serial,
            certificates.c.status == "good",
        )
        .values(status="revoked", revoked_at=at, revocation_reason=HOLD, held_by=HELD_BY)
    )
    if done.rowcount != 1:
        return False
    end_login_sessions(conn, issuer=issuer, serial=serial, at=at)
    return True


def release_hold(conn: sa.Connection, *, issuer: str, serial: str) -> bool:
    """Make good again a certificate the watch put on hold; ``False`` for any other state.

    Only ``certificateHold`` placed by the watch qualifies: a revocation for another
    reason, or a hold placed by someone else, is never undone here.

    The stored OCSP response (revoked, certificateHold) goes in the same transaction:
    a response that no longer matches the certificate must never be served, even if
    re-signing after the commit fails. Until the watch's re-signing (or the refresher,
    which signs missing responses first) stores a new one, the responder signs on demand.
    """
    done = conn.execute(
        certificates.update()
        .where(certificates.c.issuer == issuer, certificates.c.serial == serial, _held_by_watch())
        .values(status="good", revoked_at=None, revocation_reason=None, held_by=None)
    )
    if done.rowcount != 1:
        return False
    conn.execute(
        ocsp_responses.delete().where(
            ocsp_responses.c.issuer == issuer, ocsp_responses.c.serial == serial
        )
    )
    return True


def revoke_held(
    conn: sa.Connection, *, issuer: str, serial: str, at: datetime, reason: str
) -> bool:
    """Turn a hold into a final revocation for *reason* at *at* (RFC 5280 §5.3.1 allows
    certificateHold -> revoked); ``False`` if the certificate is not on hold."""
    if reason not in REVOCATION_REASONS:
        raise ValueError(
            f"got revocation reason {reason!r}; expected one of {sorted(REVOCATION_REASONS)}"
        )
    done = conn.execute(
        certificates.update()
        .where(
            certificates.c.issuer == issuer,
            certificates.c.serial == serial,
            certificates.c.status == "revoked",
            certificates.c.revocation_reason == HOLD,
        )
        .values(revoked_at=at, revocation_reason=reason, held_by=None)
    )
    return done.rowcount == 1


def count_held(conn: sa.Connection, *, at: datetime) -> int:
    """Unexpired certificates on hold placed by the watch."""
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(certificates)
            .where(_held_by_watch(), certificates.c.not_after > at)
        ).scalar_one()
    )


def release_blocker(conn: sa.Connection, cert: sa.Row[Any]) -> tuple[str, str] | None:
    """Why a certificate the watch held must not become good again: (reason, why), or None.

    While it was on hold its holder's certificates may have been re-arranged,
    and those acts only touched *good* certificates: a PIN reset of the person,
    or a newer certificate of the person, supersedes it; a certificate of the
    same key revoked for ``keyCompromise`` bars the key for good. The held one
    then takes that revocation instead of coming back.
    """
    held_at = cert.revoked_at
    compromised = conn.execute(
        sa.select(certificates.c.serial)
        .where(
            certificates.c.spki_sha256 == cert.spki_sha256,
            certificates.c.revocation_reason == "keyCompromise",
        )
        .limit(1)
    ).first()
    if compromised is not None:
        return "keyCompromise", f"certificate {compromised.serial} of the same key"
    if cert.person_id is None:
        return None
    newer = conn.execute(
        sa.select(certificates.c.serial)
        .where(certificates.c.person_id == cert.person_id, certificates.c.issued_at > held_at)
        .limit(1)
    ).first()
    if newer is not None:
        return "superseded", f"certificate {newer.serial} of the person issued since"
    reset = conn.execute(
        sa.select(registrations.c.id)
        .where(
            registrations.c.person_id == cert.person_id,
            registrations.c.kind == "reset",
            registrations.c.created_at > held_at,
        )
        .limit(1)
    ).first()
    if reset is not None:
        return "superseded", f"PIN reset {reset.id} of the person since"
    return None


def revoke_smartcards_on_card(
    conn: sa.Connection, *, issuer_sha256: str, serial: str, at: datetime, reason: str
) -> list[str]:
    """Revoke the active ZORG-ID smartcards issued on the card (issuer, serial): their ids.

    A smartcard is issued on a registration as its mobile ID is
    (``smartcards.registration_id``); its certificates are revoked with the
    mobile ID's, and the card's state says so.
    """
    ids = conn.execute(
        sa.select(smartcards.c.id)
        .select_from(
            smartcards.join(registrations, smartcards.c.registration_id == registrations.c.id)
        )
        .where(
            registrations.c.card_issuer_sha256 == issuer_sha256,
            registrations.c.card_serial == serial,
            smartcards.c.state == "active",
        )
        .order_by(smartcards.c.created_at, smartcards.c.id)
    ).scalars()
    done = []
    for card_id in list(ids):
        changed = conn.execute(
            smartcards.update()
            .where(smartcards.c.id == card_id, smartcards.c.state == "active")
            .values(state="revoked", revoked_at=at, revocation_reason=reason)
        )
        if changed.rowcount == 1:
            done.append(str(card_id))
    return done


def end_smartcard_tickets_on_card(
    conn: sa.Connection, *, issuer_sha256: str, serial: str, at: datetime
) -> list[str]:
    """End (expire at *at*) the unredeemed card tickets issued on the card: their ids.

    A ticket started before the UZI-pas was found revoked must not issue a
    card on it afterwards: redeemed, it is refused as expired.
    """
    on_card = (
        sa.select(registrations.c.id)
        .where(
            registrations.c.card_issuer_sha256 == issuer_sha256,
            registrations.c.card_serial == serial,
        )
        .scalar_subquery()
    )
    open_ticket = sa.and_(
        smartcard_tickets.c.registration_id.in_(on_card),
        smartcard_tickets.c.used_at.is_(None),
        smartcard_tickets.c.expires_at > at,
    )
    ids = [
        str(i)
        for i in conn.execute(
            sa.select(smartcard_tickets.c.id).where(open_ticket).order_by(smartcard_tickets.c.id)
        ).scalars()
    ]
    if ids:
        conn.execute(
            smartcard_tickets.update()
            .where(smartcard_tickets.c.id.in_(ids), open_ticket)
            .values(expires_at=at)
        )
    return ids
