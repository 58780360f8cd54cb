"""Flows 4 and 6: organisations, their administrators, PIN forgotten.

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
  :func:`administered` is the one reader that grants administrator powers.
- PIN forgotten (flow 6): an administrator, logged in with their mobile ID,
  lists their organisation's members and resets one: the member's
  certificates are revoked, open registration QRs cancelled (an old QR can
  no longer be redeemed), and a new registration QR is made for the same,
  already verified person (kind ``reset``) with the member's current verified
  attributes of the administrator's URA and the UZI proof behind them.
  Members of another organisation are untouchable (ZID-1821).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from issuer.enrolment.create import Enrolment, attrs_from_json, create_enrolment
from issuer.errors import Code, ZorgIdError
from issuer.flows.birthdate import parse_birth_date
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
from issuer.flows.login import LoginSession, login_session
from issuer.flows.registration import attach_evidence, check_terms, load_draft
from issuer.issuance.cycle import Actor, IssuedCertificate
from issuer.issuance.runtime import Issuance
from issuer.qr import RenderedQr, enrolment_qr
from issuer.store.repo import new_id, revoke_certificate
from issuer.store.schema import (
    certificates,
    flow_drafts,
    organisation_admins,
    organisation_designations,
    organisations,
    persons,
    registrations,
    uzi_attributes,
)
from issuer.uzi.card import UziIdentity
from issuer.uzi.store import identity_from_json, identity_to_json
from issuer.uzi_vocabulary import URA_RE, UZI_NUMBER_RE

PURPOSE = "organisation_validation"
RESET_REASON: Final = "superseded"
"""RFC 5280 §5.3.1 reason for a PIN-forgotten reset: the key is not compromised, only
unusable, and a new certificate replaces it for the same person (superseded)."""


PENDING: Final = "pending"
APPROVED: Final = "approved"


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


@dataclass(frozen=True, kw_only=True)
class Member:
    person_id: str
    uzi_number: str
    given_names: str
    surname: str
    ura: str
    good_certificates: tuple[str, ...]
    """Ids of the member's certificates that are not revoked."""
    administrator_state: str | None = None
    """``pending`` or ``approved`` if the member validated this URA, else None."""


@dataclass(frozen=True, kw_only=True)
class Reset:
    """A PIN-forgotten reset: what was revoked and the new registration QR (a secret)."""

    person_id: str
    revoked: tuple[IssuedCertificate, ...]
    cancelled_registrations: int
    enrolment: Enrolment
    qr: RenderedQr = field(repr=False)


def _org(row: Any) -> Organisation:
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
        if conn.execute(sa.select(organisations.c.id).where(organisations.c.ura == ura)).first():
            raise ZorgIdError(Code.ZID_1801, f"URA {ura}")
        org_id = new_id()
        try:
            with conn.begin_nested():
                conn.execute(
                    organisations.insert().values(
                        id=org_id,
                        ura=ura,
                        name=clean,
                        registered_at=now,
                        registered_by=actor.identity[:256],
                    )
                )
        except sa.exc.IntegrityError:
            raise ZorgIdError(Code.ZID_1801, f"URA {ura} (registered concurrently)") from None
        for number in designated:
            conn.execute(
                organisation_designations.insert().values(
                    organisation_id=org_id,
                    uzi_number=number,
                    designated_at=now,
                    designated_by=actor.identity[:256],
                )
            )
        audit(
            conn,
            built,
            actor,
            "organisation.register",
            f"organisation:{ura}",
            {"name": clean, "administrator_uzi_numbers": list(designated)},
        )
        row = conn.execute(sa.select(organisations).where(organisations.c.id == org_id)).one()
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
        conn.execute(
            flow_drafts.insert().values(
                id=draft_id,
                kind="validation",
                state="started",
                portal_identity=portal.identity,
                terms_version=terms_version,
                uzi_session_sha256=session_sha,
                identity=json.loads(identity_to_json(identity)),
                organisation_id=org.id,
                created_at=now,
                updated_at=now,
                expires_at=expires,
            )
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


def current_mobile_id(conn: sa.Connection, person_id: str) -> Any:
    """The person's newest good certificate (its mobile ID), or None."""
    return conn.execute(
        sa.select(certificates)
        .where(certificates.c.person_id == person_id, certificates.c.status == "good")
        .order_by(certificates.c.issued_at.desc())
    ).first()


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
        person = conn.execute(
            sa.select(persons.c.id).where(persons.c.uzi_number == identity.uzi_number)
        ).first()
        cert = None if person is None else current_mobile_id(conn, person.id)
        if person is None or cert is None:
            raise ZorgIdError(
                Code.ZID_1804, f"UZI number {identity.uzi_number} has no active mobile ID"
            )
        proof = evidence_of(conn, row.uzi_session_sha256)
        org = conn.execute(
            sa.select(organisations).where(organisations.c.id == row.organisation_id)
        ).one()
        values = {
            "mobile_id_id": cert.mobile_id_id,
            "terms_version": row.terms_version,
            "card_certificate_sha256": sha256_hex(bytes(proof.card_certificate)),
            "validated_at": now,
        }
        claimed = conn.execute(
            flow_drafts.update()
            .where(flow_drafts.c.id == row.id, flow_drafts.c.state == "started")
            .values(state="confirmed", updated_at=now)
        )
        if claimed.rowcount != 1:
            raise ZorgIdError(Code.ZID_1607, "confirmed concurrently")
        existing = _request(conn, org.id, person.id)
        if existing is None:
            conn.execute(
                organisation_admins.insert().values(
                    organisation_id=org.id, person_id=person.id, state=PENDING, **values
                )
            )
        else:
            if existing.revoked_at is not None:
                values.update(state=PENDING, approved_at=None, approved_by=None, revoked_at=None)
            conn.execute(
                organisation_admins.update()
                .where(
                    organisation_admins.c.organisation_id == org.id,
                    organisation_admins.c.person_id == person.id,
                )
                .values(**values)
            )
        state = _request(conn, org.id, person.id).state
        audit(
            conn,
            built,
            portal.actor,
            "organisation.validate",
            f"organisation:{org.ura}",
            {"person_id": person.id, "mobile_id": cert.mobile_id_id, "state": state},
        )
        designated = conn.execute(
            sa.select(organisation_designations.c.uzi_number).where(
                organisation_designations.c.organisation_id == org.id,
                organisation_designations.c.uzi_number == identity.uzi_number,
            )
        ).first()
        if state == PENDING and designated is not None:
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
            organisation=_org(org), person_id=person.id, mobile_id=cert.mobile_id_id, state=state
        )


def _request(conn: sa.Connection, organisation_id: str, person_id: str) -> Any:
    """The person's validation of the organisation (``organisation_admins`` row), or None."""
    return conn.execute(
        sa.select(organisation_admins).where(
            organisation_admins.c.organisation_id == organisation_id,
            organisation_admins.c.person_id == person_id,
        )
    ).first()


def _approve(
    conn: sa.Connection,
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
    approved = conn.execute(
        organisation_admins.update()
        .where(
            organisation_admins.c.organisation_id == org.id,
            organisation_admins.c.person_id == person_id,
            organisation_admins.c.state == PENDING,
            organisation_admins.c.revoked_at.is_(None),
        )
        .values(state=APPROVED, approved_at=now, approved_by=f"{by} {actor.identity}"[:512])
    )
    if approved.rowcount != 1:
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
    conn: sa.Connection,
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
    row = conn.execute(
        sa.select(organisation_admins)
        .join(persons, persons.c.id == organisation_admins.c.person_id)
        .where(
            organisation_admins.c.organisation_id == org.id,
            persons.c.uzi_number == uzi_number,
            organisation_admins.c.revoked_at.is_(None),
        )
    ).first()
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


def administered(conn: sa.Connection, person_id: str) -> list[Any]:
    """Organisations the person administers: approved, not revoked. The one test of admin power."""
    return list(
        conn.execute(
            sa.select(organisations)
            .join(organisation_admins, organisation_admins.c.organisation_id == organisations.c.id)
            .where(
                organisation_admins.c.person_id == person_id,
                organisation_admins.c.state == APPROVED,
                organisation_admins.c.revoked_at.is_(None),
            )
        )
    )


def _admin_session(
    conn: sa.Connection, deps: FlowDeps, portal: Portal, handle: str
) -> tuple[LoginSession, set[str]]:
    """The logged-in administrator and the URAs they administer (ZID-1830/1820 if none)."""
    session = login_session(conn, deps, portal=portal, handle=handle)
    uras = {row.ura for row in administered(conn, session.person_id)}
    if not uras:
        pending = conn.execute(
            sa.select(organisation_admins.c.organisation_id).where(
                organisation_admins.c.person_id == session.person_id,
                organisation_admins.c.state == PENDING,
                organisation_admins.c.revoked_at.is_(None),
            )
        ).first()
        if pending is not None:
            raise ZorgIdError(Code.ZID_1830, "the logged-in person's request is not approved yet")
        raise ZorgIdError(Code.ZID_1820, "the logged-in person administers no organisation")
    return session, uras


def list_members(deps: FlowDeps, *, portal: Portal, login_session_handle: str) -> list[Member]:
    """The members (persons with verified attributes of the URA) of the admin's organisations."""
    with deps.engine.connect() as conn:
        _session, uras = _admin_session(conn, deps, portal, login_session_handle)
        states = {
            (r.person_id, r.ura): r.state
            for r in conn.execute(
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
        rows = conn.execute(
            sa.select(persons, uzi_attributes.c.ura)
            .join(uzi_attributes, uzi_attributes.c.person_id == persons.c.id)
            .where(uzi_attributes.c.ura.in_(sorted(uras)), uzi_attributes.c.retired_at.is_(None))
            .order_by(persons.c.surname, persons.c.uzi_number)
        ).all()
        members: dict[tuple[str, str], Member] = {}
        for row in rows:
            good = conn.execute(
                sa.select(certificates.c.id)
                .where(certificates.c.person_id == row.id, certificates.c.status == "good")
                .order_by(certificates.c.issued_at)
            ).scalars()
            members[(row.id, row.ura)] = Member(
                person_id=row.id,
                uzi_number=row.uzi_number,
                given_names=row.given_names,
                surname=row.surname,
                ura=row.ura,
                good_certificates=tuple(good),
                administrator_state=states.get((row.id, row.ura)),
            )
        return list(members.values())


def _member_ura(conn: sa.Connection, person_id: str, uras: set[str], ura: str) -> str:
    """The administered URA the reset is for: *ura*, or the member's only one (ZID-1821/1834)."""
    member_of: set[str] = set(
        conn.execute(
            sa.select(uzi_attributes.c.ura).where(
                uzi_attributes.c.person_id == person_id, uzi_attributes.c.retired_at.is_(None)
            )
        ).scalars()
    )
    candidates = member_of & uras if not ura else member_of & uras & {ura}
    if not candidates:
        wanted = ura or ", ".join(sorted(uras))
        raise ZorgIdError(Code.ZID_1821, f"person {person_id} is not a member of URA {wanted}")
    if len(candidates) > 1:
        raise ZorgIdError(
            Code.ZID_1834, f"person {person_id} is a member of URA {', '.join(sorted(candidates))}"
        )
    return candidates.pop()


def current_verification(conn: sa.Connection, person_id: str, ura: str) -> Any:
    """The newest UZI-pas proof of the person's current (not retired) attributes of *ura*.

    A ``registrations`` row of kind ``registration`` or ``attributes`` (a reset
    only copies one, it proves nothing): its frozen data is what that card
    verified, its evidence the proof. ZID-1821 if there is none.
    """
    current = {
        (a.card_type, a.role_code)
        for a in conn.execute(
            sa.select(uzi_attributes.c.card_type, uzi_attributes.c.role_code).where(
                uzi_attributes.c.person_id == person_id,
                uzi_attributes.c.ura == ura,
                uzi_attributes.c.retired_at.is_(None),
            )
        )
    }
    proofs = conn.execute(
        sa.select(registrations)
        .where(
            registrations.c.person_id == person_id,
            registrations.c.kind.in_(("registration", "attributes")),
            registrations.c.frozen_data.is_not(None),
            registrations.c.card_certificate.is_not(None),
            registrations.c.confirmed_at.is_not(None),
        )
        .order_by(registrations.c.confirmed_at.desc())
    ).all()
    for row in proofs:
        data = row.frozen_data
        if data.get("subscriber_number") == ura and (data.get("card_type"), data.get("role")) in (
            current
        ):
            return row
    raise ZorgIdError(Code.ZID_1821, f"person {person_id} has no verified attributes of URA {ura}")


def reset_member(
    deps: FlowDeps, *, portal: Portal, login_session_handle: str, person_id: str, ura: str = ""
) -> Reset:
    """PIN forgotten: revoke the member's certificates and return a new registration QR.

    The QR carries the member's current verified attributes of the
    administrator's URA (*ura*, needed only when the member belongs to more
    than one URA the administrator administers), never another URA's.
    """
    built = deps.issuance()
    now = deps.clock()
    with built.engine.begin() as conn:
        session, uras = _admin_session(conn, deps, portal, login_session_handle)
        if conn.execute(sa.select(persons.c.id).where(persons.c.id == person_id)).first() is None:
            raise ZorgIdError(Code.ZID_1822, f"no person {person_id[:40]!r}")
        chosen = _member_ura(conn, person_id, uras, ura)
        latest = current_verification(conn, person_id, chosen)
        good = conn.execute(
            sa.select(certificates).where(
                certificates.c.person_id == person_id, certificates.c.status == "good"
            )
        ).all()
        for cert in good:
            revoke_certificate(
                conn, issuer=cert.issuer, serial=cert.serial, at=now, reason=RESET_REASON
            )
        cancelled = conn.execute(
            registrations.update()
            .where(
                registrations.c.person_id == person_id,
                registrations.c.state == "confirmed",
                registrations.c.certificate_id.is_(None),
            )
            .values(state="cancelled", updated_at=now)
        ).rowcount
        enrolment = create_enrolment(
            conn,
            attrs=attrs_from_json(dict(latest.frozen_data)),
            card_certificate_sha256=sha256_hex(bytes(latest.card_certificate or b"")),
            portal_identity=portal.identity,
            policy=built.cycle.policy,
            policy_version=built.cycle.policy_version,
            audit=built.audit,
            actor=portal.actor,
            now=now,
            kind="reset",
            terms_version=latest.terms_version,
        )
        conn.execute(
            registrations.update()
            .where(registrations.c.id == enrolment.registration_id)
            .values(
                card_certificate=latest.card_certificate,
                card_chain=latest.card_chain,
                challenge_nonce=latest.challenge_nonce,
                card_signature=latest.card_signature,
                proven_at=latest.proven_at,
            )
        )
        audit(
            conn,
            built,
            portal.actor,
            "member.reset",
            f"person:{person_id}",
            {
                "administrator_person_id": session.person_id,
                "member_person_id": person_id,
                "ura": chosen,
                "source_registration_id": latest.id,
                "revoked": [c.serial for c in good],
                "reason": RESET_REASON,
                "cancelled_registrations": cancelled,
                "registration_id": enrolment.registration_id,
            },
        )
        revoked = tuple(
            IssuedCertificate.from_row(r)
            for r in conn.execute(
                sa.select(certificates).where(certificates.c.id.in_([c.id for c in good]))
            )
        )
    for done in revoked:
        notify_revoked(deps, done)
    return Reset(
        person_id=person_id,
        revoked=revoked,
        cancelled_registrations=cancelled,
        enrolment=enrolment,
        qr=enrolment_qr(enrolment.token, deps.host),
    )


@dataclass(frozen=True, kw_only=True)
class PersonRecord:
    """A person's stored data (frozen after confirmation; the operator corrects it)."""

    id: str
    uzi_number: str
    given_names: str
    surname: str
    date_of_birth: str | None


def correct_person(
    deps: FlowDeps,
    *,
    actor: Actor,
    person_id: str,
    birth_date: str | None = None,
    given_names: str | None = None,
    surname: str | None = None,
) -> PersonRecord:
    """Operator: correct frozen data (the portal cannot: ZID-1607). Empty means unchanged."""
    now = deps.clock()
    values: dict[str, Any] = {}
    if birth_date:
        values["date_of_birth"] = parse_birth_date(birth_date, today=now.date()).isoformat()
    for name, value in (("given_names", given_names), ("surname", surname)):
        if value is not None and value.strip():
            if len(value.strip()) > 128:
                raise ZorgIdError(
                    Code.ZID_0005, f"{name}: got {len(value)} characters; at most 128"
                )
            values[name] = value.strip()
    built = deps.issuance()
    with built.engine.begin() as conn:
        if conn.execute(sa.select(persons.c.id).where(persons.c.id == person_id)).first() is None:
            raise ZorgIdError(Code.ZID_1822, f"no person {person_id[:40]!r}")
        if values:
            conn.execute(
                persons.update()
                .where(persons.c.id == person_id)
                .values(**values, updated_at=now, updated_by=actor.identity[:256])
            )
            audit(
                conn,
                built,
                actor,
                "person.correct",
                f"person:{person_id}",
                {"fields": sorted(values)},
            )
        row = conn.execute(sa.select(persons).where(persons.c.id == person_id)).one()
    return PersonRecord(
        id=row.id,
        uzi_number=row.uzi_number,
        given_names=row.given_names,
        surname=row.surname,
        date_of_birth=row.date_of_birth,
    )


def notify_revoked(deps: FlowDeps, cert: IssuedCertificate) -> None:
    """Tell OCSP/CRL after the commit (the revocation stays if the hook fails)."""
    try:
        deps.issuance().cycle.hooks.on_revoked(cert)
    except Exception:
        import logging

        logging.getLogger(__name__).exception("on_revoked hook failed for %s", cert.serial)


__all__ = [
    "Administrator",
    "Member",
    "Organisation",
    "Reset",
    "Validation",
    "approve_by_administrator",
    "approve_by_operator",
    "attach_evidence",
    "confirm_validation",
    "evidence_of",
    "list_members",
    "register_organisation",
    "reset_member",
    "start_validation",
]
