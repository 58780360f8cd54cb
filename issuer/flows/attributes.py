"""Flow 5: UZI attributes on an existing mobile ID, and the phone fetching its new certificate.

A logged-in person (login session: their mobile ID) proves a UZI-pas of the
*same* person (UZI number and name agree, else ZID-1810) of an organisation the
operator registered (ZID-1602, registration's own rule: issue 16), and the engine
issues a new certificate carrying the card's attributes for the same phone
key, then revokes the old one as ``superseded`` (RFC 5280 §5.3.1) and points
it at its successor, in the issuance cycle's step-4 transaction: there is
never a moment with two good certificates for one key from this flow, nor
none.

No CSR is needed: the phone proved possession of the key at its first
enrolment (PKCS#10) and again just now by signing the login challenge with
it. The cycle gets the stored public key with an empty CSR, so step 1's CSR
checks are skipped deliberately; the key-owner check (step 2) and the lint
(step 3) still run. A ``registrations`` row of kind ``attributes`` carries
the UZI evidence and frozen attributes and is named by the new certificate.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from cryptography.hazmat.primitives.serialization import load_der_public_key

from issuer.enrolment.create import attrs_to_json
from issuer.errors import Code, ZorgIdError
from issuer.flows.common import (
    FlowDeps,
    Portal,
    audit,
    evidence_of,
    notify_revoked,
    organisation_by_ura,
    sha256_hex,
    to_attributes,
    use_uzi_session,
    uzi_identity,
)
from issuer.flows.evidence import card_not_after
from issuer.flows.login import login_session
from issuer.issuance.records import CheckedRequest, IssuanceRequest, IssuedCertificate
from issuer.keys import PublicKey, WeakKeyError, check_public_key
from issuer.store import Connection
from issuer.store import mobile_ids as mobile_id_store
from issuer.store import persons as person_store
from issuer.store import registrations as registration_store
from issuer.store.persons import Person
from issuer.store.registrations import attach_evidence
from issuer.store.repo import new_id, revoke_certificate
from policies import Policy

PURPOSE = "attribute_registration"


@dataclass(frozen=True, kw_only=True)
class AttributesRegistered:
    certificate: IssuedCertificate
    superseded: IssuedCertificate


def _same_person(person: Person, uzi_number: str, given: str | None, surname: str | None) -> bool:
    def norm(text: str | None) -> str:
        return " ".join((text or "").split()).casefold()

    return (
        person.uzi_number == uzi_number
        and norm(person.surname) == norm(surname)
        and norm(person.given_names) == norm(given)
    )


def _key_still_allowed(der: bytes, spki_sha256: str, policy: Policy) -> PublicKey:
    """The mobile ID's key, checked against the policy in force now (ZID-1202 if refused).

    Why here: the reissue carries no CSR, so step 1 never sees the key; a
    policy version activated since the phone registered may refuse its key
    type or size. Refusing before anything is written keeps the card's UZI
    session and the registration untouched, instead of a confirmed
    registration whose certificate the lint then refuses.
    """
    try:
        return check_public_key(load_der_public_key(der), policy.keys)
    except WeakKeyError as exc:
        raise ZorgIdError(
            Code.ZID_1202,
            f"the mobile ID's key (sha256 {spki_sha256[:16]}...) is refused by the policy in "
            f"force: {exc}; register the phone again with a new key, then add the attributes",
            metadata={"reason": exc.reason},
        ) from None


def register_attributes(
    deps: FlowDeps, *, portal: Portal, login_session_handle: str, uzi_session: str
) -> AttributesRegistered:
    """Link the card's attributes and reissue the mobile ID for the same key (module doc)."""
    built = deps.issuance()
    cycle = built.cycle
    now = deps.clock()
    identity = uzi_identity(deps, handle=uzi_session, portal=portal, purpose=PURPOSE)
    with built.engine.begin() as conn:
        session = login_session(conn, deps, portal=portal, handle=login_session_handle)
        person = person_store.get_person(conn, session.person_id)
        session_sha = use_uzi_session(conn, deps, handle=uzi_session)
        if not _same_person(person, identity.uzi_number, identity.given_name, identity.surname):
            raise ZorgIdError(
                Code.ZID_1810,
                f"the card is of UZI number {identity.uzi_number}; the logged-in person has "
                f"{person.uzi_number}",
            )
        attrs = to_attributes(identity)
        organisation_by_ura(conn, attrs.subscriber_number)
        old_row = mobile_id_store.newest_good_of_mobile_id(conn, session.mobile_id)
        if old_row is None:
            raise ZorgIdError(
                Code.ZID_1811, f"mobile ID {session.mobile_id} has no good certificate"
            )
        old = IssuedCertificate.from_row(old_row)
        key = mobile_id_store.get_mobile_id(conn, session.mobile_id)
        public_key = _key_still_allowed(bytes(key.public_key), key.spki_sha256, cycle.policy)
        proof = evidence_of(conn, session_sha)
        registration_id = new_id()
        registration_store.insert_attributes_registration(
            conn,
            registration_id=registration_id,
            portal_identity=portal.identity,
            person_id=person.id,
            frozen_data=attrs_to_json(attrs),
            policy_version=cycle.policy_version,
            at=now,
        )
        card_end = card_not_after(proof)
        attach_evidence(conn, registration_id, proof, card_not_after=card_end)
        if not person_store.has_attribute(
            conn,
            person_id=person.id,
            card_type=attrs.card_type,
            ura=attrs.subscriber_number,
            role_code=attrs.role,
        ):
            person_store.insert_attribute(
                conn,
                attribute_id=new_id(),
                person_id=person.id,
                card_type=attrs.card_type,
                ura=attrs.subscriber_number,
                role_code=attrs.role,
                agb_code=attrs.agb_code,
                card_certificate_sha256=sha256_hex(bytes(proof.card_certificate)),
                registration_id=registration_id,
                at=now,
            )
        audit(
            conn,
            built,
            portal.actor,
            "attributes.register",
            f"registration:{registration_id}",
            {"person_id": person.id, "ura": attrs.subscriber_number, "role": attrs.role},
        )
    request = IssuanceRequest(
        attrs=attrs,
        csr=b"",
        person_id=person.id,
        actor=portal.actor,
        registration_id=registration_id,
        card_not_after=card_end,
    )
    intent = json.dumps(
        {
            "attrs": attrs_to_json(attrs),
            "spki_sha256": key.spki_sha256,
            "policy_version": cycle.policy_version,
            "person_id": person.id,
            "registration_id": registration_id,
            "supersedes": old.id,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    checked = CheckedRequest(
        request=request,
        public_key=public_key,
        spki_sha256=key.spki_sha256,
        csr_sha256=hashlib.sha256(b"").hexdigest(),
        request_sha256=hashlib.sha256(intent.encode()).hexdigest(),
    )

    def finish(conn: Connection, cert: IssuedCertificate) -> None:
        registration_store.mark_redeemed(
            conn, registration_id=registration_id, certificate_id=cert.id, at=cert.issued_at
        )
        if not revoke_certificate(
            conn, issuer=old.issuer, serial=old.serial, at=cert.issued_at, reason="superseded"
        ):
            raise ZorgIdError(Code.ZID_1811, f"certificate {old.serial} was revoked meanwhile")
        mobile_id_store.mark_superseded(conn, certificate_id=old.id, by=cert.id)

    new = cycle.issue_checked(checked, finish=finish)
    with built.engine.connect() as conn:
        superseded = IssuedCertificate.from_row(mobile_id_store.certificate_by_id(conn, old.id))
    notify_revoked(deps, superseded)
    return AttributesRegistered(certificate=new, superseded=superseded)


def current_certificate(deps: FlowDeps, *, spki_sha256: str) -> IssuedCertificate:
    """For the phone: the newest good certificate for its key (after attributes or renewal)."""
    with deps.engine.connect() as conn:
        row = mobile_id_store.newest_good_of_key(conn, spki_sha256)
    if row is None:
        raise ZorgIdError(
            Code.ZID_1811, f"no good certificate for key sha256 {spki_sha256[:16]}..."
        )
    return IssuedCertificate.from_row(row)
