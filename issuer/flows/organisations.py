"""Flow 4: organisations and their administrators (flow 6 is :mod:`issuer.flows.members`).

- The operator pre-registers an organisation (URA + name) and may designate
  its administrators by UZI number.
- Validation (flow 4): terms -> UZI-pas proof -> the organisation's name and
  URA shown -> confirm: a *request* by the card holder to administer that URA,
  bound to their current mobile ID, which the answer names. A card of another
  URA cannot validate it (ZID-1803).
- Who becomes administrator (issue 16: an administrator can re-issue a
  colleague's mobile ID, so it must never be self-service): a request is
  ``approved`` only through :func:`_approve` -- at confirmation for a UZI
  number the operator designated, or later by the operator or an approved
  administrator of the same URA (:func:`approve_by_operator`,
  :func:`approve_by_administrator`); until then it is ``pending``.
  :func:`issuer.flows.administrators.administered` is the one reader that
  grants administrator powers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from issuer.errors import Code, ZorgIdError
from issuer.flows.administrators import administered
from issuer.flows.common import (
    FlowDeps,
    Portal,
    audit,
    draft_lifetime,
    evidence_of,
    organisation_by_ura,
    sha256_hex,
    use_uzi_session,
    uzi_identity,
)
from issuer.flows.login import login_session
from issuer.flows.registration import check_terms, load_draft
from issuer.issuance.records import Actor
from issuer.issuance.runtime import Issuance
from issuer.store import Connection
from issuer.store import drafts as draft_store
from issuer.store import mobile_ids as mobile_id_store
from issuer.store import organisations as organisation_store
from issuer.store import persons as person_store
from issuer.store.mobile_ids import StoredCertificate
from issuer.store.organisations import (
    APPROVED,
    PENDING,
    AdminRequest,
    AdminValidation,
    OrganisationRecord,
)
from issuer.store.repo import new_id
from issuer.uzi.card import UziIdentity
from issuer.uzi.store import identity_from_json, identity_to_json
from issuer.uzi_vocabulary import URA_RE, UZI_NUMBER_RE

PURPOSE = "organisation_validation"


@dataclass(frozen=True, kw_only=True)
class Organisation:
    id: str
    ura: str
    name: str
    registered_at: datetime
    designated: tuple[str, ...] = ()
    """UZI numbers the operator designated as administrators (filled by registration only)."""


@dataclass(frozen=True, kw_only=True)
class Validation:
    """A validation shown to the user before confirming (name and URA of the organisation)."""

    id: str
    state: str
    organisation: Organisation
    identity: UziIdentity
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class Administrator:
    """A confirmed validation: who asked to administer which URA, bound to which mobile ID.

    ``state`` is ``approved`` (an administrator) or ``pending`` (a request the
    portal shows as waiting for approval).
    """

    organisation: Organisation
    person_id: str
    mobile_id: str
    state: str


def _org(row: OrganisationRecord) -> Organisation:
    return Organisation(id=row.id, ura=row.ura, name=row.name, registered_at=row.registered_at)


def _designations(numbers: Sequence[str]) -> tuple[str, ...]:
    """The designated administrators' UZI numbers, sorted (ZID-1833 malformed or repeated)."""
    for number in numbers:
        if not UZI_NUMBER_RE.match(number):
            raise ZorgIdError(Code.ZID_1833, f"got UZI number {number[:16]!r}; expected 9 digits")
    if len(set(numbers)) != len(numbers):
        raise ZorgIdError(Code.ZID_1833, "a UZI number is named more than once")
    return tuple(sorted(numbers))


def register_organisation(
    deps: FlowDeps,
    *,
    actor: Actor,
    ura: str,
    name: str,
    administrator_uzi_numbers: Sequence[str] = (),
) -> Organisation:
    """Operator: pre-register an organisation and designate its administrators by UZI number.

    ZID-1802 malformed, ZID-1833 a malformed or repeated UZI number, ZID-1801
    known already. A designated card holder's validation is approved at once.
    """
    clean = name.strip()
    if not URA_RE.match(ura) or not 0 < len(clean) <= 256:
        raise ZorgIdError(
            Code.ZID_1802, f"got URA {ura[:16]!r} and a name of {len(clean)} characters"
        )
    designated = _designations(administrator_uzi_numbers)
    now = deps.clock()
    built = deps.issuance()
    with built.engine.begin() as conn:
        if organisation_store.ura_registered(conn, ura):
            raise ZorgIdError(Code.ZID_1801, f"URA {ura}")
        org_id = new_id()
        if not organisation_store.insert_organisation(
            conn, organisation_id=org_id, ura=ura, name=clean, at=now, by=actor.identity[:256]
        ):
            raise ZorgIdError(Code.ZID_1801, f"URA {ura} (registered concurrently)")
        for number in designated:
            organisation_store.designate(
                conn, organisation_id=org_id, uzi_number=number, at=now, by=actor.identity[:256]
            )
        audit(
            conn,
            built,
            actor,
            "organisation.register",
            f"organisation:{ura}",
            {"name": clean, "administrator_uzi_numbers": list(designated)},
        )
        row = organisation_store.get_organisation(conn, org_id)
        return Organisation(
            id=row.id,
            ura=row.ura,
            name=row.name,
            registered_at=row.registered_at,
            designated=designated,
        )


def start_validation(
    deps: FlowDeps, *, portal: Portal, terms_version: str, uzi_session: str, ura: str
) -> Validation:
    """Terms and UZI proof: show the organisation's name and URA for the user to confirm."""
    built = deps.issuance()
    check_terms(built.cycle.policy, terms_version)
    now = deps.clock()
    expires = now + draft_lifetime(built.cycle.policy)
    identity = uzi_identity(deps, handle=uzi_session, portal=portal, purpose=PURPOSE)
    with built.engine.begin() as conn:
        org = organisation_by_ura(conn, ura)
        session_sha = use_uzi_session(conn, deps, handle=uzi_session)
        if identity.subscriber_number != org.ura:
            raise ZorgIdError(
                Code.ZID_1803,
                f"the card is of URA {identity.subscriber_number}; expected {org.ura}",
            )
        draft_id = new_id()
        draft_store.insert_draft(
            conn,
            draft_id=draft_id,
            kind="validation",
            portal_identity=portal.identity,
            terms_version=terms_version,
            uzi_session_sha256=session_sha,
            identity=json.loads(identity_to_json(identity)),
            organisation_id=org.id,
            at=now,
            expires_at=expires,
        )
        audit(
            conn,
            built,
            portal.actor,
            "organisation.validation_start",
            f"draft:{draft_id}",
            {"ura": ura},
        )
        return Validation(
            id=draft_id,
            state="started",
            organisation=_org(org),
            identity=identity,
            expires_at=expires,
        )


def current_mobile_id(conn: Connection, person_id: str) -> StoredCertificate | None:
    """The person's newest good certificate (its mobile ID), or None."""
    return mobile_id_store.newest_good_of_person(conn, person_id)


def confirm_validation(deps: FlowDeps, *, portal: Portal, validation_id: str) -> Administrator:
    """Record the card holder's request to administer the URA, bound to their mobile ID.

    Approved at once only for a UZI number the operator designated; a request
    approved before stays approved (the same person, their card proven again,
    rebinds to their current mobile ID); anything else is ``pending``.
    """
    now = deps.clock()
    built = deps.issuance()
    with built.engine.begin() as conn:
        row = load_draft(conn, draft_id=validation_id, portal=portal, kind="validation")
        if row.state == "confirmed":
            raise ZorgIdError(Code.ZID_1607, f"confirmed at {row.updated_at.isoformat()}")
        if row.state == "cancelled" or row.expires_at <= now:
            raise ZorgIdError(Code.ZID_1610, f"open until {row.expires_at.isoformat()}")
        identity = identity_from_json(json.dumps(row.identity))
        person = person_store.person_by_uzi_number(conn, identity.uzi_number)
        cert = None if person is None else current_mobile_id(conn, person.id)
        if person is None or cert is None:
            raise ZorgIdError(
                Code.ZID_1804, f"UZI number {identity.uzi_number} has no active mobile ID"
            )
        proof = evidence_of(conn, row.uzi_session_sha256)
        assert row.organisation_id is not None  # a validation names its organisation
        org = organisation_store.get_organisation(conn, row.organisation_id)
        if not draft_store.claim_draft(conn, draft_id=row.id, from_state="started", at=now):
            raise ZorgIdError(Code.ZID_1607, "confirmed concurrently")
        mobile_id = cert.mobile_id_id
        assert mobile_id is not None  # the cycle stores each certificate with its mobile ID
        validation = AdminValidation(
            organisation_id=org.id,
            person_id=person.id,
            mobile_id_id=mobile_id,
            terms_version=row.terms_version,
            card_certificate_sha256=sha256_hex(bytes(proof.card_certificate)),
            validated_at=now,
        )
        existing = _request(conn, org.id, person.id)
        if existing is None:
            organisation_store.insert_request(conn, validation)
        else:
            organisation_store.renew_request(
                conn, validation, reopen=existing.revoked_at is not None
            )
        request = _request(conn, org.id, person.id)
        assert request is not None  # inserted or updated just now
        state = request.state
        audit(
            conn,
            built,
            portal.actor,
            "organisation.validate",
            f"organisation:{org.ura}",
            {"person_id": person.id, "mobile_id": mobile_id, "state": state},
        )
        designated = organisation_store.is_designated(
            conn, organisation_id=org.id, uzi_number=identity.uzi_number
        )
        if state == PENDING and designated:
            approved = _approve(
                conn,
                built,
                portal.actor,
                org=org,
                person_id=person.id,
                by="designation",
                details={"uzi_number": identity.uzi_number},
                now=now,
            )
            state = APPROVED if approved else state
        return Administrator(
            organisation=_org(org), person_id=person.id, mobile_id=mobile_id, state=state
        )


def _request(conn: Connection, organisation_id: str, person_id: str) -> AdminRequest | None:
    """The person's validation of the organisation (``organisation_admins`` row), or None."""
    return organisation_store.find_request(
        conn, organisation_id=organisation_id, person_id=person_id
    )


def _approve(
    conn: Connection,
    built: Issuance,
    actor: Actor,
    *,
    org: Any,
    person_id: str,
    by: str,
    details: dict[str, Any],
    now: datetime,
) -> bool:
    """Make a pending request an administrator: the only place a request becomes ``approved``.

    *by* says on what authority (``designation``, ``operator``, ``administrator``);
    the audit event names it with *details* (who approved). False (and no
    event) when the request is no longer pending: approved concurrently.
    """
    if not organisation_store.approve_request(
        conn,
        organisation_id=org.id,
        person_id=person_id,
        at=now,
        by=f"{by} {actor.identity}"[:512],
    ):
        return False
    audit(
        conn,
        built,
        actor,
        "organisation.admin_approve",
        f"organisation:{org.ura}",
        {"person_id": person_id, "by": by, **details},
    )
    return True


def _approve_request(
    conn: Connection,
    built: Issuance,
    actor: Actor,
    *,
    org: Any,
    uzi_number: str,
    by: str,
    details: dict[str, Any],
    now: datetime,
) -> Administrator:
    """Approve the request of *uzi_number* for *org* (ZID-1831 if there is none).

    Approving an administrator again changes nothing and appends no event.
    """
    row = organisation_store.open_request_of(conn, organisation_id=org.id, uzi_number=uzi_number)
    if row is None:
        raise ZorgIdError(
            Code.ZID_1831, f"no request of UZI number {uzi_number[:16]!r} for URA {org.ura}"
        )
    if row.state == PENDING:
        _approve(
            conn,
            built,
            actor,
            org=org,
            person_id=row.person_id,
            by=by,
            details={"uzi_number": uzi_number, **details},
            now=now,
        )
    return Administrator(
        organisation=_org(org), person_id=row.person_id, mobile_id=row.mobile_id_id, state=APPROVED
    )


def approve_by_operator(
    deps: FlowDeps, *, actor: Actor, ura: str, uzi_number: str
) -> Administrator:
    """Operator: approve the pending request of *uzi_number* to administer *ura*."""
    built = deps.issuance()
    now = deps.clock()
    with built.engine.begin() as conn:
        org = organisation_by_ura(conn, ura)
        return _approve_request(
            conn, built, actor, org=org, uzi_number=uzi_number, by="operator", details={}, now=now
        )


def approve_by_administrator(
    deps: FlowDeps, *, portal: Portal, login_session_handle: str, ura: str, uzi_number: str
) -> Administrator:
    """An approved administrator of *ura*, logged in, approves a colleague's request.

    ZID-1832 if the logged-in person does not administer *ura* (a pending
    request cannot approve itself or anyone else).
    """
    built = deps.issuance()
    now = deps.clock()
    with built.engine.begin() as conn:
        session = login_session(conn, deps, portal=portal, handle=login_session_handle)
        org = organisation_by_ura(conn, ura)
        if org.ura not in {o.ura for o in administered(conn, session.person_id)}:
            raise ZorgIdError(
                Code.ZID_1832, f"person {session.person_id} does not administer URA {org.ura}"
            )
        return _approve_request(
            conn,
            built,
            portal.actor,
            org=org,
            uzi_number=uzi_number,
            by="administrator",
            details={"approver_person_id": session.person_id},
            now=now,
        )


__all__ = [
    "Administrator",
    "Organisation",
    "Validation",
    "approve_by_administrator",
    "approve_by_operator",
    "confirm_validation",
    "register_organisation",
    "start_validation",
]
