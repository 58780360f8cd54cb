"""Drafts of the portal flows (``flow_drafts``): a registration or validation being walked.

A draft belongs to the portal that started it (every read names the portal
identity) and moves ``started -> data_entered -> confirmed``; the move to
``confirmed`` is one conditional ``UPDATE`` (:func:`claim_draft`), so of two
concurrent confirmations exactly one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from issuer.store.records import record_or_none
from issuer.store.schema import flow_drafts


@dataclass(frozen=True, kw_only=True)
class Draft:
    """A ``flow_drafts`` row."""

    id: str
    kind: str
    """registration | validation."""
    state: str
    """started | data_entered | confirmed | cancelled."""
    portal_identity: str
    terms_version: str
    uzi_session_sha256: str
    identity: dict[str, Any]
    """The card's data as shown (:func:`issuer.uzi.store.identity_to_json`)."""
    date_of_birth: str | None
    organisation_id: str | None
    registration_id: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime


def insert_draft(
    conn: sa.Connection,
    *,
    draft_id: str,
    kind: str,
    portal_identity: str,
    terms_version: str,
    uzi_session_sha256: str,
    identity: dict[str, Any],
    at: datetime,
    expires_at: datetime,
    organisation_id: str | None = None,
) -> None:
    """Open a draft in state ``started`` (a validation names its *organisation_id*)."""
    conn.execute(
        flow_drafts.insert().values(
            id=draft_id,
            kind=kind,
            state="started",
            portal_identity=portal_identity,
            terms_version=terms_version,
            uzi_session_sha256=uzi_session_sha256,
            identity=identity,
            organisation_id=organisation_id,
            created_at=at,
            updated_at=at,
            expires_at=expires_at,
        )
    )


def find_draft(
    conn: sa.Connection, *, draft_id: str, kind: str, portal_identity: str
) -> Draft | None:
    """The draft of this id and kind started by *portal_identity*, or None."""
    row = conn.execute(
        sa.select(flow_drafts).where(
            flow_drafts.c.id == draft_id,
            flow_drafts.c.kind == kind,
            flow_drafts.c.portal_identity == portal_identity,
        )
    ).first()
    return record_or_none(Draft, row)


def enter_birth_date(
    conn: sa.Connection, *, draft_id: str, date_of_birth: str, at: datetime
) -> None:
    """Record the date of birth (ISO) of a draft not yet confirmed: ``data_entered``."""
    conn.execute(
        flow_drafts.update()
        .where(flow_drafts.c.id == draft_id, flow_drafts.c.state.in_(("started", "data_entered")))
        .values(state="data_entered", date_of_birth=date_of_birth, updated_at=at)
    )


def claim_draft(conn: sa.Connection, *, draft_id: str, from_state: str, at: datetime) -> bool:
    """Move the draft from *from_state* to ``confirmed``; False when another call did first."""
    claimed = conn.execute(
        flow_drafts.update()
        .where(flow_drafts.c.id == draft_id, flow_drafts.c.state == from_state)
        .values(state="confirmed", updated_at=at)
    )
    return claimed.rowcount == 1


def link_registration(conn: sa.Connection, *, draft_id: str, registration_id: str) -> None:
    """Name the registration a confirmed draft froze into."""
    conn.execute(
        flow_drafts.update()
        .where(flow_drafts.c.id == draft_id)
        .values(registration_id=registration_id)
    )
