"""Flow 6 and the operator's corrections: an organisation's members, PIN forgotten.

- An administrator (:mod:`issuer.flows.administrators`), logged in with their
  mobile ID, lists their organisation's members: persons holding current
  verified attributes of a URA they administer.
- PIN forgotten: the administrator resets a member: the member's
  certificates are revoked, open registration QRs cancelled (an old QR can
  no longer be redeemed), and a new registration QR is made for the same,
  already verified person (kind ``reset``) with the member's current verified
  attributes of the administrator's URA and the UZI proof behind them.
  Members of another organisation are untouchable (ZID-1821).
- The operator corrects a person's frozen data (the portal cannot, ZID-1607).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from issuer.enrolment.create import Enrolment, attrs_from_json, create_enrolment
from issuer.errors import Code, ZorgIdError
from issuer.flows.administrators import admin_session
from issuer.flows.birthdate import parse_birth_date
from issuer.flows.common import FlowDeps, Portal, audit, notify_revoked, sha256_hex
from issuer.issuance.records import Actor, IssuedCertificate
from issuer.qr import RenderedQr, enrolment_qr
from issuer.store import Connection
from issuer.store import mobile_ids as mobile_id_store
from issuer.store import organisations as organisation_store
from issuer.store import persons as person_store
from issuer.store import registrations as registration_store
from issuer.store.registrations import Registration
from issuer.store.repo import revoke_certificate

RESET_REASON: Final = "superseded"
"""RFC 5280 §5.3.1 reason for a PIN-forgotten reset: the key is not compromised, only
unusable, and a new certificate replaces it for the same person (superseded)."""


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


def list_members(deps: FlowDeps, *, portal: Portal, login_session_handle: str) -> list[Member]:
    """The members (persons with verified attributes of the URA) of the admin's organisations."""
    with deps.engine.connect() as conn:
        _session, uras = admin_session(conn, deps, portal, login_session_handle)
        states = organisation_store.request_states(conn, uras)
        members: dict[tuple[str, str], Member] = {}
        for membership in person_store.members_of(conn, uras):
            person = membership.person
            good = mobile_id_store.good_ids_of_person(conn, person.id)
            members[(person.id, membership.ura)] = Member(
                person_id=person.id,
                uzi_number=person.uzi_number,
                given_names=person.given_names,
                surname=person.surname,
                ura=membership.ura,
                good_certificates=tuple(good),
                administrator_state=states.get((person.id, membership.ura)),
            )
        return list(members.values())


def _member_ura(conn: Connection, person_id: str, uras: set[str], ura: str) -> str:
    """The administered URA the reset is for: *ura*, or the member's only one (ZID-1821/1834)."""
    member_of = person_store.current_uras_of(conn, person_id)
    candidates = member_of & uras if not ura else member_of & uras & {ura}
    if not candidates:
        wanted = ura or ", ".join(sorted(uras))
        raise ZorgIdError(Code.ZID_1821, f"person {person_id} is not a member of URA {wanted}")
    if len(candidates) > 1:
        raise ZorgIdError(
            Code.ZID_1834, f"person {person_id} is a member of URA {', '.join(sorted(candidates))}"
        )
    return candidates.pop()


def current_verification(conn: Connection, person_id: str, ura: str) -> Registration:
    """The newest UZI-pas proof of the person's current (not retired) attributes of *ura*.

    A ``registrations`` row of kind ``registration`` or ``attributes`` (a reset
    only copies one, it proves nothing): its frozen data is what that card
    verified, its evidence the proof. ZID-1821 if there is none.
    """
    current = person_store.current_cards_of(conn, person_id, ura)
    for row in registration_store.proofs_of(conn, person_id):
        data = row.frozen_data or {}
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
        session, uras = admin_session(conn, deps, portal, login_session_handle)
        if not person_store.person_exists(conn, person_id):
            raise ZorgIdError(Code.ZID_1822, f"no person {person_id[:40]!r}")
        chosen = _member_ura(conn, person_id, uras, ura)
        latest = current_verification(conn, person_id, chosen)
        good = mobile_id_store.good_of_person(conn, person_id)
        for cert in good:
            revoke_certificate(
                conn, issuer=cert.issuer, serial=cert.serial, at=now, reason=RESET_REASON
            )
        cancelled = registration_store.cancel_unredeemed(conn, person_id=person_id, at=now)
        enrolment = create_enrolment(
            conn,
            attrs=attrs_from_json(dict(latest.frozen_data or {})),
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
        registration_store.copy_evidence(
            conn, registration_id=enrolment.registration_id, source=latest
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
            for r in mobile_id_store.certificates_by_ids(conn, [c.id for c in good])
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
        if not person_store.person_exists(conn, person_id):
            raise ZorgIdError(Code.ZID_1822, f"no person {person_id[:40]!r}")
        if values:
            person_store.correct_person(
                conn, person_id=person_id, changes=values, at=now, by=actor.identity[:256]
            )
            audit(
                conn,
                built,
                actor,
                "person.correct",
                f"person:{person_id}",
                {"fields": sorted(values)},
            )
        row = person_store.get_person(conn, person_id)
    return PersonRecord(
        id=row.id,
        uzi_number=row.uzi_number,
        given_names=row.given_names,
        surname=row.surname,
        date_of_birth=row.date_of_birth,
    )
