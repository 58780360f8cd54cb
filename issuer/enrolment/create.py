"""Making an enrolment: a confirmed registration with verified attributes and a token.

Issue 5's ConfirmRegistration (flow 2; flows 5 and 6 alike) calls
:func:`create_enrolment` once the user confirmed the data shown from the
verified UZI-pas: the person and attributes are frozen, a fresh token is
drawn, only its hash is stored, and the token is returned once -- to be
shown as the registration QR, never logged or stored in clear.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from issuer.audit import AuditEvent, AuditLog
from issuer.enrolment.tokens import enrolment_uri, new_token, token_sha256
from issuer.issuance.records import Actor
from issuer.profile import VerifiedAttributes
from issuer.store import Connection, persons
from issuer.store import enrolments as store
from issuer.store.repo import new_id
from issuer.uzi_vocabulary import AgbCode, RoleCode, Ura, UziNumber
from policies import Policy

FROZEN_FORMAT = 1
"""``registrations.frozen_data["format"]``: how the verified attributes are kept."""


@dataclass(frozen=True, kw_only=True)
class Enrolment:
    """A redeemable registration QR. ``token`` is the secret: show it, never log it."""

    registration_id: str
    person_id: str
    token: str = field(repr=False)
    expires_at: datetime

    def uri(self, host: str) -> str:
        return enrolment_uri(self.token, host)


def attrs_to_json(attrs: VerifiedAttributes) -> dict[str, Any]:
    """The verified attributes as frozen in ``registrations.frozen_data``."""
    return {
        "format": FROZEN_FORMAT,
        "uzi_number": attrs.uzi_number,
        "card_type": attrs.card_type,
        "subscriber_number": attrs.subscriber_number,
        "role": attrs.role,
        "agb_code": attrs.agb_code,
        "given_name": attrs.given_name,
        "surname": attrs.surname,
        "common_name": attrs.common_name,
        "title": attrs.title,
        "organization": attrs.organization,
    }


def attrs_from_json(data: dict[str, Any]) -> VerifiedAttributes:
    """Back from ``frozen_data``; re-validated by :class:`VerifiedAttributes` itself."""
    if data.get("format") != FROZEN_FORMAT:
        raise ValueError(f"got frozen_data format {data.get('format')!r}; expected {FROZEN_FORMAT}")
    card_type = data["card_type"]
    if card_type not in ("Z", "N"):
        raise ValueError(f"got card type {card_type!r} in frozen_data; expected Z or N")
    return VerifiedAttributes(
        uzi_number=UziNumber(data["uzi_number"]),
        card_type=card_type,
        subscriber_number=Ura(data["subscriber_number"]),
        role=RoleCode(data["role"]),
        agb_code=AgbCode(data["agb_code"]),
        given_name=data["given_name"],
        surname=data["surname"],
        common_name=data["common_name"],
        title=data["title"],
        organization=data["organization"],
    )


def _person(conn: Connection, attrs: VerifiedAttributes, now: datetime) -> str:
    found = persons.person_by_uzi_number(conn, attrs.uzi_number)
    if found is not None:
        return found.id
    return persons.insert_person(
        conn,
        uzi_number=attrs.uzi_number,
        given_names=attrs.given_name,
        surname=attrs.surname,
        title=attrs.title,
        now=now,
    )


def create_enrolment(
    conn: Connection,
    *,
    attrs: VerifiedAttributes,
    card_certificate_sha256: str,
    portal_identity: str,
    policy: Policy,
    policy_version: int,
    audit: AuditLog,
    actor: Actor,
    now: datetime,
    kind: str = "registration",
    terms_version: str | None = None,
) -> Enrolment:
    """Freeze *attrs* for their person and return a fresh enrolment token (caller commits).

    The token is valid ``policy.qr.registration_seconds`` (10 days by
    default, portal manual) and redeemable once
    (:class:`issuer.enrolment.redeem.Redeemer`). ``card_certificate_sha256``
    names the UZI-pas certificate whose proof verified the attributes.
    """
    person_id = _person(conn, attrs, now)
    existing = persons.has_attribute(
        conn,
        person_id=person_id,
        card_type=attrs.card_type,
        ura=attrs.subscriber_number,
        role_code=attrs.role,
    )
    registration_id = new_id()
    if not existing:
        persons.insert_attribute(
            conn,
            attribute_id=new_id(),
            person_id=person_id,
            card_type=attrs.card_type,
            ura=attrs.subscriber_number,
            role_code=attrs.role,
            agb_code=attrs.agb_code,
            card_certificate_sha256=card_certificate_sha256,
            registration_id=registration_id,
            at=now,
        )
    token = new_token()
    expires_at = now + timedelta(seconds=policy.qr.registration_seconds)
    store.insert_registration(
        conn,
        id=registration_id,
        kind=kind,
        state="confirmed",
        portal_identity=portal_identity,
        person_id=person_id,
        terms_version=terms_version,
        frozen_data=attrs_to_json(attrs),
        token_sha256=token_sha256(token),
        token_expires_at=expires_at,
        failed_attempts=0,
        created_at=now,
        updated_at=now,
        confirmed_at=now,
        policy_version=policy_version,
    )
    audit.append(
        conn,
        AuditEvent(
            actor_role=actor.role,
            actor_identity=actor.identity,
            action="enrolment.create",
            subject=f"registration:{registration_id}",
            details={
                "person_id": person_id,
                "kind": kind,
                "expires_at": expires_at.isoformat(),
                "policy_version": policy_version,
            },
        ),
    )
    return Enrolment(
        registration_id=registration_id, person_id=person_id, token=token, expires_at=expires_at
    )
