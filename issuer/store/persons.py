"""Persons and their verified UZI attributes (``persons``, ``uzi_attributes``).

A person is known by UZI number; their data is frozen once a registration is
confirmed and only the operator corrects it. Each ``uzi_attributes`` row is a
card (type, URA, role) a UZI-pas proved; retired rows are kept, not deleted.
A person's membership of an organisation is a current (not retired)
attribute of its URA.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from issuer.store.records import record, record_or_none
from issuer.store.repo import new_id
from issuer.store.schema import persons, uzi_attributes


@dataclass(frozen=True, kw_only=True)
class Person:
    """A ``persons`` row."""

    id: str
    uzi_number: str
    given_names: str
    surname: str
    title: str | None
    date_of_birth: str | None
    """ISO 8601 date, as entered."""
    created_at: datetime
    frozen_at: datetime | None
    updated_at: datetime
    updated_by: str | None


@dataclass(frozen=True, kw_only=True)
class Membership:
    """A person with a current verified attribute of *ura*."""

    person: Person
    ura: str


CORRECTABLE = frozenset({"date_of_birth", "given_names", "surname"})
"""The fields the operator may correct (:func:`correct_person`)."""


def get_person(conn: sa.Connection, person_id: str) -> Person:
    """The person of this id (it exists: a session or registration names it)."""
    return record(Person, conn.execute(sa.select(persons).where(persons.c.id == person_id)).one())


def person_exists(conn: sa.Connection, person_id: str) -> bool:
    """Whether a person of this id is known."""
    found = conn.execute(sa.select(persons.c.id).where(persons.c.id == person_id)).first()
    return found is not None


def person_by_uzi_number(conn: sa.Connection, uzi_number: str) -> Person | None:
    """The person known by this UZI number, or None."""
    row = conn.execute(sa.select(persons).where(persons.c.uzi_number == uzi_number)).first()
    return record_or_none(Person, row)


def insert_person(
    conn: sa.Connection,
    *,
    uzi_number: str,
    given_names: str,
    surname: str,
    title: str | None,
    now: datetime,
) -> str:
    """A new person, frozen now; returns its id."""
    person_id = new_id()
    conn.execute(
        persons.insert().values(
            id=person_id,
            uzi_number=uzi_number,
            given_names=given_names,
            surname=surname,
            title=title,
            created_at=now,
            frozen_at=now,
            updated_at=now,
        )
    )
    return person_id


def birth_date_of(conn: sa.Connection, person_id: str) -> str | None:
    """The person's date of birth (ISO), or None (unknown person, or none entered)."""
    born: str | None = conn.execute(
        sa.select(persons.c.date_of_birth).where(persons.c.id == person_id)
    ).scalar_one_or_none()
    return born


def set_birth_date_if_unknown(
    conn: sa.Connection, *, person_id: str, date_of_birth: str | None, at: datetime
) -> None:
    """Record the date of birth of a person who has none yet (a known one is kept)."""
    conn.execute(
        persons.update()
        .where(persons.c.id == person_id, persons.c.date_of_birth.is_(None))
        .values(date_of_birth=date_of_birth, updated_at=at)
    )


def correct_person(
    conn: sa.Connection, *, person_id: str, changes: Mapping[str, str], at: datetime, by: str
) -> None:
    """The operator's correction of frozen data: only the :data:`CORRECTABLE` fields."""
    unknown = set(changes) - CORRECTABLE
    if unknown:
        raise ValueError(f"not correctable: {sorted(unknown)}")
    conn.execute(
        persons.update()
        .where(persons.c.id == person_id)
        .values(**changes, updated_at=at, updated_by=by)
    )


def uras_of(conn: sa.Connection, person_id: str) -> set[str]:
    """Every URA the person ever held verified attributes of, retired ones included."""
    return set(
        conn.execute(
            sa.select(uzi_attributes.c.ura).where(uzi_attributes.c.person_id == person_id)
        ).scalars()
    )


def current_uras_of(conn: sa.Connection, person_id: str) -> set[str]:
    """The URAs the person holds current (not retired) verified attributes of."""
    return set(
        conn.execute(
            sa.select(uzi_attributes.c.ura).where(
                uzi_attributes.c.person_id == person_id, uzi_attributes.c.retired_at.is_(None)
            )
        ).scalars()
    )


def current_cards_of(conn: sa.Connection, person_id: str, ura: str) -> set[tuple[str, str]]:
    """(card type, role code) of the person's current verified attributes of *ura*."""
    return {
        (row.card_type, row.role_code)
        for row in conn.execute(
            sa.select(uzi_attributes.c.card_type, uzi_attributes.c.role_code).where(
                uzi_attributes.c.person_id == person_id,
                uzi_attributes.c.ura == ura,
                uzi_attributes.c.retired_at.is_(None),
            )
        )
    }


def has_attribute(
    conn: sa.Connection, *, person_id: str, card_type: str, ura: str, role_code: str
) -> bool:
    """Whether the person holds this attribute already (retired or not: the row is unique)."""
    found = conn.execute(
        sa.select(uzi_attributes.c.id).where(
            uzi_attributes.c.person_id == person_id,
            uzi_attributes.c.card_type == card_type,
            uzi_attributes.c.ura == ura,
            uzi_attributes.c.role_code == role_code,
        )
    ).first()
    return found is not None


def insert_attribute(
    conn: sa.Connection,
    *,
    attribute_id: str,
    person_id: str,
    card_type: str,
    ura: str,
    role_code: str,
    agb_code: str,
    card_certificate_sha256: str,
    registration_id: str,
    at: datetime,
) -> None:
    """A verified attribute, linked to the registration that carries its proof."""
    conn.execute(
        uzi_attributes.insert().values(
            id=attribute_id,
            person_id=person_id,
            card_type=card_type,
            ura=ura,
            role_code=role_code,
            agb_code=agb_code,
            verified_at=at,
            card_certificate_sha256=card_certificate_sha256,
            registration_id=registration_id,
        )
    )


def members_of(conn: sa.Connection, uras: Collection[str]) -> list[Membership]:
    """Persons with current attributes of these URAs, by surname then UZI number.

    One entry per attribute row: a person with two roles at one URA appears twice.
    """
    rows = conn.execute(
        sa.select(persons, uzi_attributes.c.ura)
        .join(uzi_attributes, uzi_attributes.c.person_id == persons.c.id)
        .where(uzi_attributes.c.ura.in_(sorted(uras)), uzi_attributes.c.retired_at.is_(None))
        .order_by(persons.c.surname, persons.c.uzi_number)
    ).all()
    return [
        Membership(person=Person(**{c.name: row._mapping[c] for c in persons.columns}), ura=row.ura)
        for row in rows
    ]
