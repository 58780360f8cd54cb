"""Issue 18 item 1: a mobile ID never outlives the UZI-pas it was issued on.

Through the real paths over gRPC (registration QR redeemed by the phone,
attribute registration, a PIN reset): the certificate's notAfter is the
earlier of the policy's validity and the card certificate's notAfter; a card
that expired before the QR was redeemed is refused (ZID-1207) and nothing is
signed. The phone sends only a CSR: the date comes from the proof the
registration recorded.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from cryptography import x509

from issuer.api.zorgid.v1 import attribute_pb2, organization_pb2, uzi_pb2
from issuer.cli import main
from issuer.store.schema import certificates, registrations, serial_reservations
from tests.flows.conftest import OTHER_URA, URA, Engine, rpc_code
from tests.store.dbfixtures import Database

POLICY_DAYS = 365
"""The packaged policy's profile.validity_days."""


def _cert(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def _shown(db: Database, certificate_id: str, capsys: pytest.CaptureFixture[str]) -> Any:
    """``zorgid certs show --id`` as the operator runs it."""
    assert main(["certs", "show", "--database", db.cli_url, "--id", certificate_id]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_card_expiring_sooner_caps_the_certificate(
    eng: Engine, migrated_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    eng.register_org()
    card_end = eng.clock() + timedelta(days=30)
    app = eng.cards.app(not_after=card_end)
    _phone, der, _done = eng.registered(app)
    cert = _cert(der)
    # Issued (the pre-signing lint accepted it) with the card's date, not the policy's year.
    assert cert.not_valid_after_utc == card_end == app.card.auth.not_valid_after_utc
    assert cert.not_valid_before_utc == eng.clock() - timedelta(seconds=60)
    with eng.db.connect() as conn:
        certificate_id = conn.execute(
            sa.select(certificates.c.id).where(certificates.c.der == der)
        ).scalar_one()
    shown = _shown(migrated_db, certificate_id, capsys)
    assert shown["not_after"] == card_end.isoformat()
    assert (
        shown["not_after_reason"] == f"capped by UZI-pas {app.card.auth.serial_number:x} notAfter"
    )


def test_a_card_expiring_later_leaves_the_policy_validity(
    eng: Engine, migrated_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    eng.register_org()
    app = eng.cards.app(not_after=eng.clock() + timedelta(days=POLICY_DAYS + 30))
    _phone, der, _done = eng.registered(app)
    assert _cert(der).not_valid_after_utc == eng.clock() + timedelta(days=POLICY_DAYS)
    with eng.db.connect() as conn:
        certificate_id = conn.execute(
            sa.select(certificates.c.id).where(certificates.c.der == der)
        ).scalar_one()
    assert _shown(migrated_db, certificate_id, capsys)["not_after_reason"] == (
        f"policy {POLICY_DAYS} days"
    )


def test_a_card_expired_before_redemption_is_refused_and_nothing_signed(eng: Engine) -> None:
    eng.register_org()
    app = eng.cards.app(not_after=eng.clock() + timedelta(days=3))
    done = eng.confirmed(app)
    eng.clock.advance(timedelta(days=4))  # the QR (10 days) is still open, the card is not
    with pytest.raises(grpc.RpcError) as err:
        eng.redeem(done.qr.payload, eng.new_phone())
    assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-1207")
    registration_id = done.registration.registration_record_id
    with eng.db.connect() as conn:
        signed = conn.execute(
            sa.select(sa.func.count())
            .select_from(certificates)
            .where(certificates.c.registration_id == registration_id)
        ).scalar_one()
        reservations = conn.execute(
            sa.select(serial_reservations.c.state).where(
                serial_reservations.c.registration_id == registration_id
            )
        ).all()
        state = conn.execute(
            sa.select(registrations.c.state, registrations.c.certificate_id).where(
                registrations.c.id == registration_id
            )
        ).one()
    assert signed == 0
    assert [r.state for r in reservations] == ["failed"]
    assert (state.state, state.certificate_id) == ("confirmed", None)


def test_a_reset_carries_the_original_cards_date(eng: Engine) -> None:
    eng.register_org()
    card_end = eng.clock() + timedelta(days=30)
    member = eng.cards.app(not_after=card_end)
    eng.registered(member)
    admin = eng.administrator(URA)[0]
    person_id = next(
        m.person_id
        for m in eng.portal.org.ListMembers(
            organization_pb2.ListMembersRequest(login_session_handle=admin)
        ).members
        if m.uzi_number == member.card.uzi_number
    )
    reset = eng.portal.org.ResetMember(
        organization_pb2.ResetMemberRequest(login_session_handle=admin, person_id=person_id),
        timeout=30,
    )
    redeemed = eng.redeem(reset.qr.payload, eng.new_phone())
    # The reset proves nothing itself: its certificate has the original card's date.
    assert _cert(bytes(redeemed.certificate.der)).not_valid_after_utc == card_end


def test_an_attribute_registration_is_capped_by_its_own_card(eng: Engine) -> None:
    eng.register_org()
    eng.register_org(ura=OTHER_URA, name="Ziekenhuis Oost")
    app = eng.cards.app()
    phone, der, _ = eng.registered(app)
    handle = eng.login(phone, der).session_handle
    card_end = eng.clock() + timedelta(days=20)
    second = eng.cards.app(ura=OTHER_URA, uzi_number=app.card.uzi_number, not_after=card_end)
    uzi = eng.uzi_session(second, uzi_pb2.UZI_PURPOSE_ATTRIBUTE_REGISTRATION)
    done = eng.portal.attrs.RegisterAttributes(
        attribute_pb2.RegisterAttributesRequest(login_session_handle=handle, uzi_session_handle=uzi)
    )
    assert _cert(bytes(done.certificate.der)).not_valid_after_utc == card_end
    assert _cert(der).not_valid_after_utc == eng.clock() + timedelta(days=POLICY_DAYS)
