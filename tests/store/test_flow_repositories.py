"""The portal flows' repositories: records match their tables, and the rules they keep.

Each record dataclass is built from ``SELECT table`` by column name
(:func:`issuer.store.records.record`), so a column added by a migration
without its field must fail here rather than at a user's request.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from issuer.store import (
    drafts,
    logins,
    mobile_ids,
    organisations,
    persons,
    registrations,
    smartcards,
)
from issuer.store.evidence import UziEvidence, find_evidence, keep_evidence, use_uzi_session
from issuer.store.schema import (
    certificates,
    flow_drafts,
    login_challenges,
    login_sessions,
    organisation_admins,
    smartcard_certificates,
    smartcard_tickets,
    uzi_challenges,
    uzi_evidence,
    uzi_sessions,
)
from issuer.store.schema import mobile_ids as mobile_ids_table
from issuer.store.schema import organisations as organisations_table
from issuer.store.schema import persons as persons_table
from issuer.store.schema import registrations as registrations_table
from issuer.store.schema import smartcards as smartcards_table

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("record", "table"),
    [
        (drafts.Draft, flow_drafts),
        (registrations.Registration, registrations_table),
        (logins.LoginChallengeRecord, login_challenges),
        (logins.LoginSessionRecord, login_sessions),
        (mobile_ids.MobileIdRecord, mobile_ids_table),
        (mobile_ids.StoredCertificate, certificates),
        (persons.Person, persons_table),
        (organisations.OrganisationRecord, organisations_table),
        (organisations.AdminRequest, organisation_admins),
        (UziEvidence, uzi_evidence),
        (smartcards.CardTicket, smartcard_tickets),
        (smartcards.Card, smartcards_table),
        (smartcards.CardCertificate, smartcard_certificates),
    ],
)
def test_each_record_has_exactly_its_tables_columns(record: type, table: sa.Table) -> None:
    assert {f.name for f in dataclasses.fields(record)} == {c.name for c in table.columns}


def _person(conn: sa.Connection, person_id: str, uzi_number: str, surname: str) -> None:
    conn.execute(
        persons_table.insert().values(
            id=person_id,
            uzi_number=uzi_number,
            given_names="Jan",
            surname=surname,
            created_at=NOW,
            updated_at=NOW,
        )
    )


def test_a_uzi_session_is_used_once_and_its_evidence_reads_back(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        conn.execute(
            uzi_challenges.insert().values(
                id="c1", nonce=b"n" * 32, portal_identity="p", created_at=NOW, expires_at=NOW
            )
        )
        conn.execute(
            uzi_sessions.insert().values(
                handle_sha256="a" * 64,
                purpose="registration",
                portal_identity="p",
                identity={},
                created_at=NOW,
                expires_at=NOW,
            )
        )
        kept = UziEvidence(
            handle_sha256="a" * 64,
            challenge_id="c1",
            nonce=b"n" * 32,
            card_certificate=b"der",
            card_chain=["ZGVy"],
            signature=b"sig",
            signature_scheme="rsa",
            portal_identity="p",
            proven_at=NOW,
        )
        keep_evidence(conn, kept)
    with migrated.begin() as conn:
        assert use_uzi_session(conn, handle_sha256="a" * 64, at=NOW)
        assert not use_uzi_session(conn, handle_sha256="a" * 64, at=NOW)
        assert not use_uzi_session(conn, handle_sha256="b" * 64, at=NOW)
        assert find_evidence(conn, "a" * 64) == kept
        assert find_evidence(conn, "b" * 64) is None


def test_a_draft_is_the_portals_own_and_is_claimed_once(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        drafts.insert_draft(
            conn,
            draft_id="d1",
            kind="registration",
            portal_identity="portal-1",
            terms_version="2026-1",
            uzi_session_sha256="a" * 64,
            identity={"uzi_number": "123456789"},
            at=NOW,
            expires_at=NOW + timedelta(days=1),
        )
        find = drafts.find_draft
        assert find(conn, draft_id="d1", kind="registration", portal_identity="portal-2") is None
        assert find(conn, draft_id="d1", kind="validation", portal_identity="portal-1") is None
        drafts.enter_birth_date(conn, draft_id="d1", date_of_birth="1980-01-02", at=NOW)
        assert drafts.claim_draft(conn, draft_id="d1", from_state="data_entered", at=NOW)
        assert not drafts.claim_draft(conn, draft_id="d1", from_state="data_entered", at=NOW)
        drafts.enter_birth_date(conn, draft_id="d1", date_of_birth="1990-01-02", at=NOW)
        row = find(conn, draft_id="d1", kind="registration", portal_identity="portal-1")
    assert row is not None
    assert (row.state, row.date_of_birth, row.identity) == (
        "confirmed",
        "1980-01-02",
        {"uzi_number": "123456789"},
    )


def test_a_request_is_approved_once_and_only_then_administers(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        _person(conn, "p1", "123456789", "Jansen")
        conn.execute(
            mobile_ids_table.insert().values(
                id="m1", person_id="p1", spki_sha256="e" * 64, public_key=b"k", created_at=NOW
            )
        )
        assert organisations.insert_organisation(
            conn, organisation_id="o1", ura="90000382", name="Zorg", at=NOW, by="op"
        )
        assert not organisations.insert_organisation(
            conn, organisation_id="o2", ura="90000382", name="Zorg 2", at=NOW, by="op"
        )
        assert organisations.ura_registered(conn, "90000382")
        organisations.insert_request(
            conn,
            organisations.AdminValidation(
                organisation_id="o1",
                person_id="p1",
                mobile_id_id="m1",
                terms_version="2026-1",
                card_certificate_sha256="1" * 64,
                validated_at=NOW,
            ),
        )
        assert organisations.administered_by(conn, "p1") == []
        assert organisations.has_pending_request(conn, "p1")
        assert organisations.request_states(conn, {"90000382"}) == {("p1", "90000382"): "pending"}
        found = organisations.open_request_of(conn, organisation_id="o1", uzi_number="123456789")
        assert found is not None and found.state == organisations.PENDING
        assert organisations.approve_request(
            conn, organisation_id="o1", person_id="p1", at=NOW, by="operator op"
        )
        assert not organisations.approve_request(
            conn, organisation_id="o1", person_id="p1", at=NOW, by="operator op"
        )
        assert [o.ura for o in organisations.administered_by(conn, "p1")] == ["90000382"]
        assert not organisations.has_pending_request(conn, "p1")


def test_members_are_listed_by_surname_with_current_attributes_only(migrated: sa.Engine) -> None:
    with migrated.begin() as conn:
        _person(conn, "p1", "111111111", "Visser")
        _person(conn, "p2", "222222222", "Bakker")
        for attribute_id, person_id, ura in (
            ("a1", "p1", "90000382"),
            ("a2", "p2", "90000382"),
            ("a3", "p2", "90000999"),
        ):
            persons.insert_attribute(
                conn,
                attribute_id=attribute_id,
                person_id=person_id,
                card_type="Z",
                ura=ura,
                role_code="01.015",
                agb_code="00000000",
                card_certificate_sha256="1" * 64,
                registration_id="r-" + attribute_id,
                at=NOW,
            )
        conn.execute(
            sa.text("UPDATE uzi_attributes SET retired_at = :at WHERE id = 'a3'"),
            {"at": "2026-12-06T12:00:00.000000Z"},
        )
        members = persons.members_of(conn, {"90000382", "90000999"})
        assert [(m.person.surname, m.ura) for m in members] == [
            ("Bakker", "90000382"),
            ("Visser", "90000382"),
        ]
        assert persons.uras_of(conn, "p2") == {"90000382", "90000999"}
        assert persons.current_uras_of(conn, "p2") == {"90000382"}
        assert persons.has_attribute(
            conn, person_id="p2", card_type="Z", ura="90000999", role_code="01.015"
        )
        with pytest.raises(ValueError, match="not correctable"):
            persons.correct_person(
                conn, person_id="p1", changes={"uzi_number": "x"}, at=NOW, by="op"
            )
