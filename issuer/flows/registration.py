"""Flow 2, "register as user": terms -> UZI-pas -> card data -> date of birth -> summary -> confirm.

A registration is a row of ``flow_drafts`` (kind ``registration``) bound to
the portal that started it, moving ``started -> data_entered -> confirmed``.
Confirming freezes the data: :func:`issuer.enrolment.create.create_enrolment`
(issue 4) writes the person, the verified attributes and the single-use
enrolment token, and this module copies the UZI proof (card certificate and
chain, challenge nonce, signature, time) onto that ``registrations`` row -- the
row every certificate redeemed from the token names (``certificates.
registration_id``), so the evidence is linked to what it justified.

The portal must confirm exactly what it showed: the summary carries a digest
of the data (terms version, card data, date of birth) and confirmation quotes
it back (ZID-1608 otherwise). After confirmation the portal can change nothing
(ZID-1607); the operator corrects data (``OrganizationService.CorrectPerson``).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from issuer.enrolment.create import Enrolment, create_enrolment
from issuer.errors import Code, ZorgIdError
from issuer.flows.birthdate import parse_birth_date
from issuer.flows.common import (
    FlowDeps,
    Portal,
    audit,
    canonical_digest,
    draft_lifetime,
    evidence_of,
    organisation_by_ura,
    sha256_hex,
    to_attributes,
    use_uzi_session,
    uzi_identity,
)
from issuer.flows.evidence import card_not_after
from issuer.qr import RenderedQr, enrolment_qr
from issuer.store import Connection
from issuer.store import drafts as draft_store
from issuer.store import persons as person_store
from issuer.store import registrations as registration_store
from issuer.store.drafts import Draft
from issuer.store.registrations import Registration, attach_evidence
from issuer.store.repo import new_id
from issuer.uzi.card import UziIdentity
from issuer.uzi.store import identity_from_json, identity_to_json
from policies import Policy

PURPOSE = "registration"


@dataclass(frozen=True, kw_only=True)
class Terms:
    """The terms of use to show, by version (policy ``[terms]``)."""

    version: str
    text: str


@dataclass(frozen=True, kw_only=True)
class RegistrationView:
    """What the portal shows at each step; ``summary_digest`` is what confirm quotes back."""

    id: str
    state: str
    """started | data_entered | confirmed | redeemed | cancelled | expired."""
    terms_version: str
    identity: UziIdentity
    organisation_name: str
    date_of_birth: date | None
    summary_digest: str
    expires_at: datetime
    registration_id: str | None = None
    token_expires_at: datetime | None = None
    certificate_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Confirmed:
    """The confirmation: the frozen registration and its QR (shown once, never logged)."""

    view: RegistrationView
    enrolment: Enrolment
    qr: RenderedQr = field(repr=False)


def get_terms(policy: Policy, version: str | None = None) -> Terms:
    """The current terms, or an older *version* still in the policy (ZID-1601 if unknown)."""
    wanted = version or policy.terms.current
    try:
        return Terms(version=wanted, text=policy.terms.text_of(wanted))
    except KeyError:
        raise ZorgIdError(
            Code.ZID_1601, f"got terms version {wanted!r}; current is {policy.terms.current!r}"
        ) from None


def check_terms(policy: Policy, accepted: str) -> None:
    """The user must accept the *current* terms; the accepted version is recorded."""
    if accepted != policy.terms.current:
        raise ZorgIdError(
            Code.ZID_1601,
            f"got accepted terms version {accepted!r}; expected the current "
            f"{policy.terms.current!r}",
        )


def _summary(terms_version: str, identity_json: dict[str, Any], born: str | None) -> str:
    return canonical_digest({"terms": terms_version, "identity": identity_json, "born": born})


def load_draft(conn: Connection, *, draft_id: str, portal: Portal, kind: str) -> Draft:
    """The portal's own draft; another portal's (or an unknown id) is not found."""
    row = draft_store.find_draft(
        conn, draft_id=draft_id, kind=kind, portal_identity=portal.identity
    )
    if row is None:
        code = Code.ZID_1605 if kind == "registration" else Code.ZID_1805
        raise ZorgIdError(code, f"no {kind} {draft_id[:40]!r} for this portal")
    return row


def _view(conn: Connection, row: Draft, now: datetime) -> RegistrationView:
    identity = identity_from_json(json.dumps(row.identity))
    org = organisation_by_ura(conn, identity.subscriber_number)
    state = row.state
    token_expires = certificate_id = None
    if row.registration_id is not None:
        reg = registration_store.get_registration(conn, row.registration_id)
        state = reg.state
        token_expires = reg.token_expires_at
        certificate_id = reg.certificate_id
        if (
            state == "confirmed"
            and reg.token_expires_at is not None
            and reg.token_expires_at <= now
        ):
            state = "expired"
    elif state != "cancelled" and row.expires_at <= now:
        state = "expired"
    return RegistrationView(
        id=row.id,
        state=state,
        terms_version=row.terms_version,
        identity=identity,
        organisation_name=org.name,
        date_of_birth=date.fromisoformat(row.date_of_birth) if row.date_of_birth else None,
        summary_digest=_summary(row.terms_version, row.identity, row.date_of_birth),
        expires_at=row.expires_at,
        registration_id=row.registration_id,
        token_expires_at=token_expires,
        certificate_id=certificate_id,
    )


def _open(row: Draft, now: datetime) -> None:
    """Refuse changes to a confirmed (ZID-1607), cancelled or expired (ZID-1610) draft."""
    if row.state == "confirmed":
        raise ZorgIdError(Code.ZID_1607, f"confirmed at {row.updated_at.isoformat()}")
    if row.state == "cancelled" or row.expires_at <= now:
        raise ZorgIdError(Code.ZID_1610, f"open until {row.expires_at.isoformat()}")


def start_registration(
    deps: FlowDeps, *, portal: Portal, terms_version: str, uzi_session: str
) -> RegistrationView:
    """Terms accepted and UZI-pas proven: open a registration showing the card's data.

    The organisation (URA on the card) must be pre-registered (ZID-1602, the
    user is told to contact the operator); a card that cannot be issued for
    (no name, card type S or M) is refused now rather than after the QR.
    """
    built = deps.issuance()
    check_terms(built.cycle.policy, terms_version)
    now = deps.clock()
    identity = uzi_identity(deps, handle=uzi_session, portal=portal, purpose=PURPOSE)
    with built.engine.begin() as conn:
        session_sha = use_uzi_session(conn, deps, handle=uzi_session)
        to_attributes(identity)
        organisation_by_ura(conn, identity.subscriber_number)
        draft_id = new_id()
        draft_store.insert_draft(
            conn,
            draft_id=draft_id,
            kind="registration",
            portal_identity=portal.identity,
            terms_version=terms_version,
            uzi_session_sha256=session_sha,
            identity=json.loads(identity_to_json(identity)),
            at=now,
            expires_at=now + draft_lifetime(built.cycle.policy),
        )
        audit(
            conn,
            built,
            portal.actor,
            "registration.start",
            f"draft:{draft_id}",
            {"terms_version": terms_version, "ura": identity.subscriber_number},
        )
        row = load_draft(conn, draft_id=draft_id, portal=portal, kind="registration")
        return _view(conn, row, now)


def set_birth_date(
    deps: FlowDeps, *, portal: Portal, registration_id: str, birth_date: str
) -> RegistrationView:
    """Record the date of birth (dd-mm-jjjj or ISO); the summary follows from it."""
    now = deps.clock()
    born = parse_birth_date(birth_date, today=now.date())
    built = deps.issuance()
    with built.engine.begin() as conn:
        row = load_draft(conn, draft_id=registration_id, portal=portal, kind="registration")
        _open(row, now)
        draft_store.enter_birth_date(conn, draft_id=row.id, date_of_birth=born.isoformat(), at=now)
        audit(conn, built, portal.actor, "registration.birth_date", f"draft:{row.id}", {})
        return _view(
            conn, load_draft(conn, draft_id=row.id, portal=portal, kind="registration"), now
        )


def get_registration(deps: FlowDeps, *, portal: Portal, registration_id: str) -> RegistrationView:
    """The registration as the portal polls it: state ``redeemed`` once the phone has its ID.

    *registration_id* is a draft id (flow 2) or the ``registration_record_id``
    of a PIN-forgotten reset (flow 6, ``ResetMember``): a reset makes no draft,
    so its record is polled directly -- by the portal that made it only, like
    a draft (ZID-1605 for any other portal, as for an unknown id).
    """
    with deps.engine.connect() as conn:
        try:
            row = load_draft(conn, draft_id=registration_id, portal=portal, kind="registration")
        except ZorgIdError:
            reset = registration_store.find_reset(
                conn, registration_id=registration_id, portal_identity=portal.identity
            )
            if reset is None:
                raise
            return _reset_view(conn, reset, deps.clock())
        return _view(conn, row, deps.clock())


def _reset_view(conn: Connection, reg: Registration, now: datetime) -> RegistrationView:
    """A reset's record as the portal polls it (states as :func:`_view` gives a draft's).

    The identity is the frozen, already verified data the reset copied from the
    member's last registration; ``expires_at`` is the registration QR's expiry,
    as a reset has no unconfirmed phase.
    """
    identity = identity_from_json(json.dumps(dict(reg.frozen_data or {})))
    org = organisation_by_ura(conn, identity.subscriber_number)
    born = None if reg.person_id is None else person_store.birth_date_of(conn, reg.person_id)
    state = reg.state
    assert reg.token_expires_at is not None  # a reset is confirmed with its QR
    if state == "confirmed" and reg.token_expires_at <= now:
        state = "expired"
    terms_version = reg.terms_version or ""
    return RegistrationView(
        id=reg.id,
        state=state,
        terms_version=terms_version,
        identity=identity,
        organisation_name=org.name,
        date_of_birth=date.fromisoformat(born) if born else None,
        summary_digest=_summary(terms_version, json.loads(identity_to_json(identity)), born),
        expires_at=reg.token_expires_at,
        registration_id=reg.id,
        token_expires_at=reg.token_expires_at,
        certificate_id=reg.certificate_id,
    )


def confirm_registration(
    deps: FlowDeps, *, portal: Portal, registration_id: str, summary_digest: str
) -> Confirmed:
    """Freeze the data and return the registration QR (policy ``qr.registration_seconds``).

    A person already known by UZI number is matched, not duplicated -- if the
    date of birth agrees (ZID-1609 otherwise: only the operator can resolve it).
    """
    built = deps.issuance()
    now = deps.clock()
    with built.engine.begin() as conn:
        row = load_draft(conn, draft_id=registration_id, portal=portal, kind="registration")
        _open(row, now)
        if row.state != "data_entered":
            raise ZorgIdError(Code.ZID_1606, "the date of birth was not entered yet")
        shown = _summary(row.terms_version, row.identity, row.date_of_birth)
        if not secrets.compare_digest(shown, summary_digest):
            raise ZorgIdError(
                Code.ZID_1608,
                f"got summary digest {summary_digest[:16]!r}...; the data now gives another",
            )
        identity = identity_from_json(json.dumps(row.identity))
        attrs = to_attributes(identity)
        known = person_store.person_by_uzi_number(conn, attrs.uzi_number)
        if known is not None and known.date_of_birth not in (None, row.date_of_birth):
            raise ZorgIdError(
                Code.ZID_1609,
                f"UZI number {attrs.uzi_number} is registered with another date of birth",
            )
        proof = evidence_of(conn, row.uzi_session_sha256)
        if not draft_store.claim_draft(conn, draft_id=row.id, from_state="data_entered", at=now):
            raise ZorgIdError(Code.ZID_1607, "confirmed concurrently")
        enrolment = create_enrolment(
            conn,
            attrs=attrs,
            card_certificate_sha256=sha256_hex(bytes(proof.card_certificate)),
            portal_identity=portal.identity,
            policy=built.cycle.policy,
            policy_version=built.cycle.policy_version,
            audit=built.audit,
            actor=portal.actor,
            now=now,
            kind="registration",
            terms_version=row.terms_version,
        )
        attach_evidence(
            conn, enrolment.registration_id, proof, card_not_after=card_not_after(proof)
        )
        person_store.set_birth_date_if_unknown(
            conn, person_id=enrolment.person_id, date_of_birth=row.date_of_birth, at=now
        )
        draft_store.link_registration(
            conn, draft_id=row.id, registration_id=enrolment.registration_id
        )
        audit(
            conn,
            built,
            portal.actor,
            "registration.confirm",
            f"registration:{enrolment.registration_id}",
            {"draft": row.id, "person_id": enrolment.person_id, "matched": known is not None},
        )
        view = _view(
            conn, load_draft(conn, draft_id=row.id, portal=portal, kind="registration"), now
        )
    return Confirmed(view=view, enrolment=enrolment, qr=enrolment_qr(enrolment.token, deps.host))
