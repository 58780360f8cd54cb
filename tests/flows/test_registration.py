"""Flow 2 over gRPC with mTLS: register as user, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
import sqlalchemy as sa
from cryptography import x509

from issuer.api.zorgid.v1 import registration_pb2 as reg
from issuer.profile import read_uzi_san
from issuer.store.schema import certificates, persons, registrations
from tests.flows.conftest import OTHER_URA, Engine, localized, rpc_code


def test_register_confirm_redeem_and_poll(eng: Engine) -> None:
    eng.register_org()
    app = eng.cards.app()
    started = eng.start(app)
    assert started.state == reg.REGISTRATION_STATE_STARTED
    assert started.identity.uzi_number == app.card.uzi_number
    assert started.organization_name == "Huisartsenpraktijk De Eik"
    assert started.terms_version == "2026-1"

    shown = eng.portal.reg.SetBirthDate(
        reg.SetBirthDateRequest(registration_id=started.id, birth_date="15-03-1980")
    ).registration
    assert shown.state == reg.REGISTRATION_STATE_DATA_ENTERED
    assert shown.birth_date == "1980-03-15"
    # ISO form accepted too, and gives the same summary.
    iso = eng.portal.reg.SetBirthDate(
        reg.SetBirthDateRequest(registration_id=started.id, birth_date="1980-03-15")
    ).registration
    assert iso.summary_digest == shown.summary_digest

    done = eng.portal.reg.ConfirmRegistration(
        reg.ConfirmRegistrationRequest(
            registration_id=started.id, summary_digest=shown.summary_digest
        )
    )
    assert done.registration.state == reg.REGISTRATION_STATE_CONFIRMED
    assert done.qr.payload.startswith("zorgid://enroll?v=1&t=")
    assert done.qr.payload.endswith("&h=zorgid.test%3A443")
    assert done.qr.png.startswith(b"\x89PNG\r\n\x1a\n")
    assert "<svg" in done.qr.svg
    ttl = done.registration.qr_expires_at.ToDatetime() - eng.clock().replace(tzinfo=None)
    assert ttl == timedelta(days=10)

    phone = eng.new_phone()
    redeemed = eng.redeem(done.qr.payload, phone)
    cert = x509.load_der_x509_certificate(redeemed.certificate.der)
    assert read_uzi_san(cert).uzi_number == app.card.uzi_number

    polled = eng.portal.reg.GetRegistration(reg.GetRegistrationRequest(registration_id=started.id))
    assert polled.registration.state == reg.REGISTRATION_STATE_REDEEMED
    assert polled.registration.certificate_id == redeemed.certificate.id

    # The evidence of the UZI-pas proof is kept on the registration the certificate names.
    with eng.db.connect() as conn:
        row = conn.execute(
            sa.select(registrations, certificates.c.id.label("cert_id"))
            .join(certificates, certificates.c.registration_id == registrations.c.id)
            .where(certificates.c.id == redeemed.certificate.id)
        ).one()
        person = conn.execute(sa.select(persons).where(persons.c.id == row.person_id)).one()
    assert bytes(row.card_certificate) == app.chain()[0]
    assert len(row.challenge_nonce) >= 16 and len(row.card_signature) == 256
    assert row.proven_at is not None and row.terms_version == "2026-1"
    assert person.date_of_birth == "1980-03-15"
    assert row.frozen_data["uzi_number"] == app.card.uzi_number


def test_unknown_organisation_says_contact_the_operator(eng: Engine) -> None:
    app = eng.cards.app(ura=OTHER_URA)
    with pytest.raises(grpc.RpcError) as err:
        eng.start(app)
    assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-1602")
    texts = localized(err.value)
    assert "operator" in texts["en"] and "beheerder" in texts["nl-NL"]


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("31-02-1980", "ZID-1603"),
        ("1980/03/15", "ZID-1603"),
        ("15-3-1980", "ZID-1603"),
        ("01-01-1900", "ZID-1604"),
        ("tomorrow", "ZID-1603"),
    ],
)
def test_birth_date_refusals(eng: Engine, typed: str, code: str) -> None:
    eng.register_org()
    started = eng.start(eng.cards.app())
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.reg.SetBirthDate(
            reg.SetBirthDateRequest(registration_id=started.id, birth_date=typed)
        )
    assert rpc_code(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, code)


def test_too_young_today(eng: Engine) -> None:
    eng.register_org()
    started = eng.start(eng.cards.app())
    ten = eng.clock().date().replace(year=eng.clock().year - 10).strftime("%d-%m-%Y")
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.reg.SetBirthDate(
            reg.SetBirthDateRequest(registration_id=started.id, birth_date=ten)
        )
    assert rpc_code(err.value)[1] == "ZID-1604"


def test_steps_in_order_and_frozen_after_confirm(eng: Engine) -> None:
    eng.register_org()
    started = eng.start(eng.cards.app())
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.reg.ConfirmRegistration(
            reg.ConfirmRegistrationRequest(
                registration_id=started.id, summary_digest=started.summary_digest
            )
        )
    assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-1606")
    shown = eng.portal.reg.SetBirthDate(
        reg.SetBirthDateRequest(registration_id=started.id, birth_date="15-03-1980")
    ).registration
    # The portal changes the date after showing the summary: the old summary no longer confirms.
    eng.portal.reg.SetBirthDate(
        reg.SetBirthDateRequest(registration_id=started.id, birth_date="16-03-1980")
    )
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.reg.ConfirmRegistration(
            reg.ConfirmRegistrationRequest(
                registration_id=started.id, summary_digest=shown.summary_digest
            )
        )
    assert rpc_code(err.value) == (grpc.StatusCode.ABORTED, "ZID-1608")
    now = eng.portal.reg.GetRegistration(reg.GetRegistrationRequest(registration_id=started.id))
    eng.portal.reg.ConfirmRegistration(
        reg.ConfirmRegistrationRequest(
            registration_id=started.id, summary_digest=now.registration.summary_digest
        )
    )
    # Confirmed data changed afterwards by the portal: refused, only the operator corrects.
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.reg.SetBirthDate(
            reg.SetBirthDateRequest(registration_id=started.id, birth_date="15-03-1980")
        )
    assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-1607")


def test_terms_must_be_current_and_uzi_session_used_once(eng: Engine) -> None:
    eng.register_org()
    app = eng.cards.app()
    from issuer.api.zorgid.v1 import uzi_pb2

    handle = eng.uzi_session(app, uzi_pb2.UZI_PURPOSE_REGISTRATION)
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.reg.StartRegistration(
            reg.StartRegistrationRequest(terms_version="2025-9", uzi_session_handle=handle)
        )
    assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-1601")
    eng.portal.reg.StartRegistration(
        reg.StartRegistrationRequest(terms_version="2026-1", uzi_session_handle=handle)
    )
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.reg.StartRegistration(
            reg.StartRegistrationRequest(terms_version="2026-1", uzi_session_handle=handle)
        )
    assert rpc_code(err.value)[1] == "ZID-1122"


def test_another_portal_cannot_see_it(eng: Engine) -> None:
    from tests.flows.conftest import SECOND_PORTAL

    eng.register_org()
    started = eng.start(eng.cards.app())
    other = eng.stubs(SECOND_PORTAL)
    with pytest.raises(grpc.RpcError) as err:
        other.reg.GetRegistration(reg.GetRegistrationRequest(registration_id=started.id))
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "ZID-1605")


def test_registration_qr_valid_ten_days(eng: Engine) -> None:
    eng.register_org()
    done = eng.confirmed(eng.cards.app())
    eng.clock.advance(timedelta(days=10))
    with pytest.raises(grpc.RpcError) as err:
        eng.redeem(done.qr.payload, eng.new_phone())
    assert rpc_code(err.value)[1] == "ZID-1302"
    polled = eng.portal.reg.GetRegistration(
        reg.GetRegistrationRequest(registration_id=done.registration.id)
    )
    assert polled.registration.state == reg.REGISTRATION_STATE_EXPIRED


def test_existing_person_matched_not_duplicated(eng: Engine) -> None:
    eng.register_org()
    app = eng.cards.app()
    first = eng.confirmed(app, "15-03-1980")
    again = eng.confirmed(eng.cards.app(uzi_number=app.card.uzi_number), "1980-03-15")
    with eng.db.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count())
            .select_from(persons)
            .where(persons.c.uzi_number == app.card.uzi_number)
        ).scalar_one()
        ids = {
            r.person_id
            for r in conn.execute(
                sa.select(registrations.c.person_id).where(
                    registrations.c.id.in_(
                        [
                            first.registration.registration_record_id,
                            again.registration.registration_record_id,
                        ]
                    )
                )
            )
        }
    assert count == 1 and len(ids) == 1
    with pytest.raises(grpc.RpcError) as err:
        eng.confirmed(eng.cards.app(uzi_number=app.card.uzi_number), "16-03-1980")
    assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-1609")


def test_roles(eng: Engine) -> None:
    for name in ("mobile", "operator", "auditor"):
        with pytest.raises(grpc.RpcError) as err:
            eng.stubs(name).reg.GetTerms(reg.GetTermsRequest())
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_only_the_operator_corrects_frozen_data(eng: Engine) -> None:
    from issuer.api.zorgid.v1 import organization_pb2 as org

    eng.register_org()
    app = eng.cards.app()
    done = eng.confirmed(app, "15-03-1980")
    with eng.db.connect() as conn:
        person_id = conn.execute(
            sa.select(persons.c.id).where(persons.c.uzi_number == app.card.uzi_number)
        ).scalar_one()
    request = org.CorrectPersonRequest(person_id=person_id, birth_date="16-03-1980")
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.org.CorrectPerson(request)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    corrected = eng.operator.org.CorrectPerson(request)
    assert (corrected.birth_date, corrected.uzi_number) == ("1980-03-16", app.card.uzi_number)
    # A new registration of the same person now matches on the corrected date.
    again = eng.confirmed(eng.cards.app(uzi_number=app.card.uzi_number), "16-03-1980")
    assert again.registration.state == reg.REGISTRATION_STATE_CONFIRMED
    assert done.registration.registration_record_id != again.registration.registration_record_id
    with pytest.raises(grpc.RpcError) as err:
        eng.operator.org.CorrectPerson(org.CorrectPersonRequest(person_id="nobody"))
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "ZID-1822")
