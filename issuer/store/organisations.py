"""Organisations and who administers them (flows 4 and 6).

``organisations`` are pre-registered by the operator (URA and name), with
``organisation_designations``: UZI numbers the operator named as
administrators. ``organisation_admins`` holds each card holder's validation
of an organisation: a request (``pending``) until approved. Approval is one
conditional ``UPDATE`` (:func:`approve_request`), so a request is approved
once; :func:`administered_by` is the one read that grants administrator
powers.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa

from issuer.store.records import record, record_or_none
from issuer.store.schema import (
    organisation_admins,
    organisation_designations,
    organisations,
    persons,
)

PENDING: Final = "pending"
APPROVED: Final = "approved"


@dataclass(frozen=True, kw_only=True)
class OrganisationRecord:
    """An ``organisations`` row."""

    id: str
    ura: str
    name: str
    registered_at: datetime
    registered_by: str


@dataclass(frozen=True, kw_only=True)
class AdminRequest:
    """An ``organisation_admins`` row: a card holder's validation of an organisation."""

    organisation_id: str
    person_id: str
    mobile_id_id: str
    terms_version: str
    card_certificate_sha256: str
    validated_at: datetime
    revoked_at: datetime | None
    state: str
    """pending | approved."""
    approved_at: datetime | None
    approved_by: str | None


@dataclass(frozen=True, kw_only=True)
class AdminValidation:
    """A card holder's validation of an organisation, as a request records it."""

    organisation_id: str
    person_id: str
    mobile_id_id: str
    terms_version: str
    card_certificate_sha256: str
    validated_at: datetime


def find_by_ura(conn: sa.Connection, ura: str) -> OrganisationRecord | None:
    """The organisation registered with this URA, or None."""
    row = conn.execute(sa.select(organisations).where(organisations.c.ura == ura)).first()
    return record_or_none(OrganisationRecord, row)


def ura_registered(conn: sa.Connection, ura: str) -> bool:
    """Whether an organisation is registered with this URA."""
    found = conn.execute(sa.select(organisations.c.id).where(organisations.c.ura == ura)).first()
    return found is not None


def get_organisation(conn: sa.Connection, organisation_id: str) -> OrganisationRecord:
    """The organisation of this id (it exists: a draft or request names it)."""
    row = conn.execute(sa.select(organisations).where(organisations.c.id == organisation_id)).one()
    return record(OrganisationRecord, row)


def insert_organisation(
    conn: sa.Connection, *, organisation_id: str, ura: str, name: str, at: datetime, by: str
) -> bool:
    """Register an organisation; False when its URA was registered concurrently.

    In a savepoint, so the caller's transaction survives the clash.
    """
    try:
        with conn.begin_nested():
            conn.execute(
                organisations.insert().values(
                    id=organisation_id, ura=ura, name=name, registered_at=at, registered_by=by
                )
            )
    except sa.exc.IntegrityError:
        return False
    return True


def designate(
    conn: sa.Connection, *, organisation_id: str, uzi_number: str, at: datetime, by: str
) -> None:
    """Name *uzi_number* as an administrator of the organisation (the operator's say)."""
    conn.execute(
        organisation_designations.insert().values(
            organisation_id=organisation_id,
            uzi_number=uzi_number,
            designated_at=at,
            designated_by=by,
        )
    )


def is_designated(conn: sa.Connection, *, organisation_id: str, uzi_number: str) -> bool:
    """Whether the operator designated *uzi_number* for the organisation."""
    found = conn.execute(
        sa.select(organisation_designations.c.uzi_number).where(
            organisation_designations.c.organisation_id == organisation_id,
            organisation_designations.c.uzi_number == uzi_number,
        )
    ).first()
    return found is not None


def find_request(
    conn: sa.Connection, *, organisation_id: str, person_id: str
) -> AdminRequest | None:
    """The person's validation of the organisation (revoked or not), or None."""
    row = conn.execute(
        sa.select(organisation_admins).where(
            organisation_admins.c.organisation_id == organisation_id,
            organisation_admins.c.person_id == person_id,
        )
    ).first()
    return record_or_none(AdminRequest, row)


def _validation_values(validation: AdminValidation) -> dict[str, object]:
    return {
        "mobile_id_id": validation.mobile_id_id,
        "terms_version": validation.terms_version,
        "card_certificate_sha256": validation.card_certificate_sha256,
        "validated_at": validation.validated_at,
    }


def insert_request(conn: sa.Connection, validation: AdminValidation) -> None:
    """A new, ``pending`` request of the person to administer the organisation."""
    conn.execute(
        organisation_admins.insert().values(
            organisation_id=validation.organisation_id,
            person_id=validation.person_id,
            state=PENDING,
            **_validation_values(validation),
        )
    )


def renew_request(conn: sa.Connection, validation: AdminValidation, *, reopen: bool) -> None:
    """Rebind the person's existing request to a new validation (their current mobile ID).

    Its state is kept (an administrator stays one) unless *reopen*: a revoked
    request starts again as ``pending``, its approval forgotten.
    """
    values = _validation_values(validation)
    if reopen:
        values.update(state=PENDING, approved_at=None, approved_by=None, revoked_at=None)
    conn.execute(
        organisation_admins.update()
        .where(
            organisation_admins.c.organisation_id == validation.organisation_id,
            organisation_admins.c.person_id == validation.person_id,
        )
        .values(**values)
    )


def approve_request(
    conn: sa.Connection, *, organisation_id: str, person_id: str, at: datetime, by: str
) -> bool:
    """Make a pending, unrevoked request ``approved``; False when it is not (any more) pending."""
    approved = conn.execute(
        organisation_admins.update()
        .where(
            organisation_admins.c.organisation_id == organisation_id,
            organisation_admins.c.person_id == person_id,
            organisation_admins.c.state == PENDING,
            organisation_admins.c.revoked_at.is_(None),
        )
        .values(state=APPROVED, approved_at=at, approved_by=by)
    )
    return approved.rowcount == 1


def open_request_of(
    conn: sa.Connection, *, organisation_id: str, uzi_number: str
) -> AdminRequest | None:
    """The unrevoked request of the person with *uzi_number* for the organisation, or None."""
    row = conn.execute(
        sa.select(organisation_admins)
        .join(persons, persons.c.id == organisation_admins.c.person_id)
        .where(
            organisation_admins.c.organisation_id == organisation_id,
            persons.c.uzi_number == uzi_number,
            organisation_admins.c.revoked_at.is_(None),
        )
    ).first()
    return record_or_none(AdminRequest, row)


def administered_by(conn: sa.Connection, person_id: str) -> list[OrganisationRecord]:
    """Organisations the person administers: approved, not revoked."""
    rows = conn.execute(
        sa.select(organisations)
        .join(organisation_admins, organisation_admins.c.organisation_id == organisations.c.id)
        .where(
            organisation_admins.c.person_id == person_id,
            organisation_admins.c.state == APPROVED,
            organisation_admins.c.revoked_at.is_(None),
        )
    )
    return [record(OrganisationRecord, row) for row in rows]


def has_pending_request(conn: sa.Connection, person_id: str) -> bool:
    """Whether the person has an unrevoked request still waiting for approval."""
    pending = conn.execute(
        sa.select(organisation_admins.c.organisation_id).where(
            organisation_admins.c.person_id == person_id,
            organisation_admins.c.state == PENDING,
            organisation_admins.c.revoked_at.is_(None),
        )
    ).first()
    return pending is not None


def request_states(conn: sa.Connection, uras: Collection[str]) -> dict[tuple[str, str], str]:
    """``(person id, URA) -> state`` of the unrevoked requests for these URAs."""
    return {
        (row.person_id, row.ura): row.state
        for row in conn.execute(
            sa.select(
                organisation_admins.c.person_id,
                organisation_admins.c.state,
                organisations.c.ura,
            )
            .join(organisations, organisations.c.id == organisation_admins.c.organisation_id)
            .where(
                organisations.c.ura.in_(sorted(uras)),
                organisation_admins.c.revoked_at.is_(None),
            )
        )
    }
