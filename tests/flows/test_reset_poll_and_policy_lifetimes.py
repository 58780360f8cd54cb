"""Issue 5 gaps over gRPC with mTLS: a reset's registration is pollable, lifetimes are policy.

- After ``ResetMember`` the administrator's portal polls the new registration
  with ``GetRegistration(registration_record_id)`` -- confirmed, redeemed,
  cancelled by a later reset, expired -- and no other portal can.
- The login session and the unconfirmed-draft lifetimes come from the active
  policy (``qr.login_session_seconds``, ``qr.draft_seconds``), not constants.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from issuer.api.zorgid.v1 import (
    attribute_pb2,
    organization_pb2,
    registration_pb2,
    uzi_pb2,
)
from issuer.issuance.policy_record import policy_store
from issuer.policy_store import Officer
from policies import DEFAULT_POLICY_PATH, load_policy
from tests.flows.conftest import (
    OTHER_URA,
    SECOND_PORTAL,
    URA,
    Engine,
    EngineParts,
    current_certificate,
    rpc_code,
    running_engine,
)
from tests.issuance.conftest import CaSetup


def _at(stamp: Any) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)  # type: ignore[no-any-return]


def _admin(eng: Engine, ura: str = URA) -> str:
    """An administrator of *ura* (validated, approved by the operator), logged in: the handle."""
    return eng.administrator(ura)[0]


def _poll(stubs: Any, registration_id: str) -> Any:
    return stubs.reg.GetRegistration(
        registration_pb2.GetRegistrationRequest(registration_id=registration_id), timeout=30
    ).registration


def test_the_administrator_polls_a_reset_registration(eng: Engine) -> None:
    eng.register_org()
    admin = _admin(eng)
    member_app = eng.cards.app()
    _phone, _der, done = eng.registered(member_app)
    person_id = next(
        m.person_id
        for m in eng.portal.org.ListMembers(
            organization_pb2.ListMembersRequest(login_session_handle=admin)
        ).members
        if m.uzi_number == member_app.card.uzi_number
    )

    def reset() -> Any:
        return eng.portal.org.ResetMember(
            organization_pb2.ResetMemberRequest(login_session_handle=admin, person_id=person_id),
            timeout=30,
        )

    first = reset()
    record = first.registration_record_id
    polled = _poll(eng.portal, record)
    assert polled.state == registration_pb2.REGISTRATION_STATE_CONFIRMED
    assert polled.id == polled.registration_record_id == record
    assert polled.identity.uzi_number == member_app.card.uzi_number
    assert polled.organization_name == "Huisartsenpraktijk De Eik"
    assert polled.birth_date == "1980-03-15"
    assert _at(polled.qr_expires_at) == _at(first.qr_expires_at)
    assert polled.certificate_id == ""

    # Only the portal that made the reset: another portal is told "not found", as for a draft.
    with pytest.raises(grpc.RpcError) as err:
        _poll(eng.stubs(SECOND_PORTAL), record)
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "ZID-1605")
    # A normal registration's record id is not a poll handle (its draft id is).
    with pytest.raises(grpc.RpcError) as err:
        _poll(eng.portal, done.registration.registration_record_id)
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "ZID-1605")

    # A second reset cancels the first QR; the portal sees it.
    second = reset()
    assert _poll(eng.portal, record).state == registration_pb2.REGISTRATION_STATE_CANCELLED
    redeemed = eng.redeem(second.qr.payload, eng.new_phone())
    after = _poll(eng.portal, second.registration_record_id)
    assert after.state == registration_pb2.REGISTRATION_STATE_REDEEMED
    assert after.certificate_id == redeemed.certificate.id

    # An unredeemed reset QR expires with the policy's qr.registration_seconds (10 days).
    third = reset()
    eng.clock.advance(timedelta(seconds=864000))
    lapsed = _poll(eng.portal, third.registration_record_id)
    assert lapsed.state == registration_pb2.REGISTRATION_STATE_EXPIRED


def test_reset_of_another_organisation_is_not_pollable_by_its_portal(eng: Engine) -> None:
    """The reset's portal identity binds the poll, whoever administers which URA."""
    eng.register_org()
    eng.register_org(ura=OTHER_URA, name="Ziekenhuis Oost")
    admin = _admin(eng)
    member_app = eng.cards.app()
    eng.registered(member_app)
    person_id = next(
        m.person_id
        for m in eng.portal.org.ListMembers(
            organization_pb2.ListMembersRequest(login_session_handle=admin)
        ).members
        if m.uzi_number == member_app.card.uzi_number
    )
    made = eng.portal.org.ResetMember(
        organization_pb2.ResetMemberRequest(login_session_handle=admin, person_id=person_id)
    )
    with pytest.raises(grpc.RpcError) as err:
        _poll(eng.stubs(SECOND_PORTAL), made.registration_record_id)
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "ZID-1605")
    with pytest.raises(grpc.RpcError) as err:
        _poll(eng.portal, "no-such-registration")
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "ZID-1605")


LOGIN_SESSION = 120
DRAFT = 600


@pytest.fixture
def short_eng(engine_parts: EngineParts, tmp_path: Path) -> Iterator[Engine]:
    """An engine whose policy shortens the login session and the draft lifetimes."""
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    for old, new in (
        ("login_session_seconds = 900 ", f"login_session_seconds = {LOGIN_SESSION} "),
        ("draft_seconds = 1800 ", f"draft_seconds = {DRAFT} "),
    ):
        assert old in text
        text = text.replace(old, new, 1)
    policy = tmp_path / "short.toml"
    policy.write_text(text, encoding="utf-8")
    loaded = load_policy(policy)
    assert (loaded.qr.login_session_seconds, loaded.qr.draft_seconds) == (LOGIN_SESSION, DRAFT)
    with running_engine(engine_parts, tmp_path, policy_file=policy) as made:
        yield made


def test_draft_lifetime_is_the_policys(short_eng: Engine) -> None:
    eng = short_eng
    eng.register_org()
    started = eng.start(eng.cards.app())
    assert _at(started.expires_at) == eng.clock() + timedelta(seconds=DRAFT)
    eng.clock.advance(timedelta(seconds=DRAFT - 1))
    shown = eng.portal.reg.SetBirthDate(
        registration_pb2.SetBirthDateRequest(registration_id=started.id, birth_date="15-03-1980")
    ).registration
    assert shown.state == registration_pb2.REGISTRATION_STATE_DATA_ENTERED
    eng.clock.advance(timedelta(seconds=1))
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.reg.ConfirmRegistration(
            registration_pb2.ConfirmRegistrationRequest(
                registration_id=started.id, summary_digest=shown.summary_digest
            )
        )
    assert rpc_code(err.value) == (grpc.StatusCode.DEADLINE_EXCEEDED, "ZID-1610")
    assert _poll(eng.portal, started.id).state == registration_pb2.REGISTRATION_STATE_EXPIRED


def test_validation_draft_lifetime_is_the_policys(short_eng: Engine) -> None:
    eng = short_eng
    eng.register_org()
    app = eng.cards.app()
    eng.registered(app)
    terms = eng.portal.reg.GetTerms(registration_pb2.GetTermsRequest()).version
    handle = eng.uzi_session(app, uzi_pb2.UZI_PURPOSE_ORGANISATION_VALIDATION)
    started = eng.portal.org.StartValidation(
        organization_pb2.StartValidationRequest(
            terms_version=terms, uzi_session_handle=handle, ura=URA
        )
    )
    eng.clock.advance(timedelta(seconds=DRAFT))
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.org.ConfirmValidation(
            organization_pb2.ConfirmValidationRequest(validation_id=started.validation_id)
        )
    assert rpc_code(err.value)[1] == "ZID-1610"


def test_login_session_lifetime_is_the_policys(short_eng: Engine) -> None:
    eng = short_eng
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    logged_in = eng.login(phone, der)
    assert _at(logged_in.session_expires_at) == eng.clock() + timedelta(seconds=LOGIN_SESSION)
    eng.clock.advance(timedelta(seconds=LOGIN_SESSION))
    uzi = eng.uzi_session(eng.cards.app(), uzi_pb2.UZI_PURPOSE_ATTRIBUTE_REGISTRATION)
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.attrs.RegisterAttributes(
            attribute_pb2.RegisterAttributesRequest(
                login_session_handle=logged_in.session_handle, uzi_session_handle=uzi
            )
        )
    assert rpc_code(err.value) == (grpc.StatusCode.UNAUTHENTICATED, "ZID-1709")


def test_a_newly_activated_policy_applies_from_the_next_request(
    eng: Engine, flows_ca: CaSetup
) -> None:
    """Two officers activate shorter lifetimes; the next requests follow them, no restart."""
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    before_draft = eng.start(eng.cards.app())
    before_login = eng.login(phone, der)
    assert _at(before_draft.expires_at) == eng.clock() + timedelta(seconds=1800)
    assert _at(before_login.session_expires_at) == eng.clock() + timedelta(seconds=900)

    store = policy_store(
        eng.db,
        audit_key=flows_ca.hsm.get_key(flows_ca.material.audit_key_label),
        material=flows_ca.material,
        clock=eng.clock,
    )
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    text = text.replace("login_session_seconds = 900 ", f"login_session_seconds = {LOGIN_SESSION} ")
    text = text.replace("draft_seconds = 1800 ", f"draft_seconds = {DRAFT} ")
    text = text.replace('version = "dev-1"', 'version = "dev-2-short"', 1)
    proposed = store.propose(
        text, officer=Officer(role="policy_officer", identity="CN=officer one")
    )
    done, changed = store.approve(
        proposed.record.version, officer=Officer(role="policy_officer", identity="CN=officer two")
    )
    assert changed and done.record.state == "active"

    after_draft = eng.start(eng.cards.app())
    after_login = eng.login(phone, der)
    assert _at(after_draft.expires_at) == eng.clock() + timedelta(seconds=DRAFT)
    assert _at(after_login.session_expires_at) == eng.clock() + timedelta(seconds=LOGIN_SESSION)
    # What was handed out under the former version keeps its lifetime.
    eng.clock.advance(timedelta(seconds=DRAFT))
    assert _poll(eng.portal, before_draft.id).state != registration_pb2.REGISTRATION_STATE_EXPIRED
    assert _poll(eng.portal, after_draft.id).state == registration_pb2.REGISTRATION_STATE_EXPIRED


def test_attributes_refuse_a_key_the_policy_in_force_no_longer_allows(
    eng: Engine, flows_ca: CaSetup
) -> None:
    """The reissue has no CSR: the phone's key is checked against the version in force.

    A version allowing only P-384 phone keys is activated after the phone
    registered with P-256: adding attributes is refused with ZID-1202 before
    anything is written, so the old certificate stays good and the card's UZI
    session can still be used (the same refusal again, not "session used").
    """
    eng.register_org()
    eng.register_org(ura=OTHER_URA, name="Ziekenhuis Oost")
    app = eng.cards.app()
    phone, der, _ = eng.registered(app)
    handle = eng.login(phone, der).session_handle
    store = policy_store(
        eng.db,
        audit_key=flows_ca.hsm.get_key(flows_ca.material.audit_key_label),
        material=flows_ca.material,
        clock=eng.clock,
    )
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    assert 'allowed = ["ec-p256", "ec-p384"]' in text
    text = text.replace('allowed = ["ec-p256", "ec-p384"]', 'allowed = ["ec-p384"]', 1)
    text = text.replace('version = "dev-1"', 'version = "dev-2-p384-only"', 1)
    proposed = store.propose(text, officer=Officer(role="policy_officer", identity="CN=one"))
    done, changed = store.approve(
        proposed.record.version, officer=Officer(role="policy_officer", identity="CN=two")
    )
    assert changed and done.record.state == "active"

    second_card = eng.cards.app(ura=OTHER_URA, uzi_number=app.card.uzi_number)
    uzi = eng.uzi_session(second_card, uzi_pb2.UZI_PURPOSE_ATTRIBUTE_REGISTRATION)
    request = attribute_pb2.RegisterAttributesRequest(
        login_session_handle=handle, uzi_session_handle=uzi
    )
    for _ in range(2):
        with pytest.raises(grpc.RpcError) as err:
            eng.portal.attrs.RegisterAttributes(request)
        assert rpc_code(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "ZID-1202")
        assert "register the phone again" in str(err.value.details())
    current = current_certificate(eng, phone)
    assert current.certificate.der == der
