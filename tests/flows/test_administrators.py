"""Issue 16 items 1 and 5: who may become administrator, what a reset re-issues, attributes.

The attack (over mTLS gRPC, as it was found): an ordinary member of URA X
proves their own UZI-pas for ORGANISATION_VALIDATION and confirms; if that
made them administrator, ``ListMembers`` shows a colleague, ``ResetMember``
revokes the colleague's mobile ID and hands the new registration QR to the
caller, who redeems it with a key of their own and logs in as the colleague.
A validation is a *request*: it makes an administrator only when the operator
designated that UZI number at ``RegisterOrganization``, or the operator or an
existing administrator of the URA approves it (``ApproveAdministrator``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from cryptography import x509

from issuer.api.zorgid.v1 import attribute_pb2, login_pb2, organization_pb2, uzi_pb2
from issuer.flows.administrators import administered
from issuer.profile import read_uzi_san
from issuer.store import upgrade
from issuer.store.schema import (
    audit_events,
    mobile_ids,
    organisation_admins,
    organisations,
    persons,
)
from tests.flows.conftest import (
    OTHER_URA,
    SECOND_PORTAL,
    URA,
    Engine,
    current_certificate,
    rpc_code,
)

TAKEOVER_REFUSAL = (grpc.StatusCode.PERMISSION_DENIED, "ZID-1830")
"""What a validated but not approved card holder gets from the administrator's RPCs."""
PENDING = organization_pb2.ADMINISTRATOR_STATE_PENDING
APPROVED = organization_pb2.ADMINISTRATOR_STATE_APPROVED


@dataclass(frozen=True, kw_only=True)
class Admin:
    """A logged-in administrator: their login session handle and who they are."""

    handle: str
    person_id: str
    uzi_number: str


def _person_id(conn: sa.Connection, uzi_number: str) -> str:
    return str(
        conn.execute(sa.select(persons.c.id).where(persons.c.uzi_number == uzi_number)).scalar_one()
    )


def _approved_admin(eng: Engine, ura: str) -> Admin:
    """A card holder of *ura* who validated and whom the operator approved, logged in."""
    handle, app = eng.administrator(ura)
    with eng.db.connect() as conn:
        person_id = _person_id(conn, app.card.uzi_number)
    return Admin(handle=handle, person_id=person_id, uzi_number=app.card.uzi_number)


def _list(eng: Engine, handle: str) -> Any:
    return eng.portal.org.ListMembers(
        organization_pb2.ListMembersRequest(login_session_handle=handle), timeout=30
    ).members


def _reset(eng: Engine, handle: str, person_id: str, ura: str = "") -> Any:
    return eng.portal.org.ResetMember(
        organization_pb2.ResetMemberRequest(
            login_session_handle=handle, person_id=person_id, ura=ura
        ),
        timeout=30,
    )


def _events(eng: Engine, action: str) -> list[dict[str, Any]]:
    with eng.db.connect() as conn:
        rows = conn.execute(
            sa.select(audit_events.c.details)
            .where(audit_events.c.action == action)
            .order_by(audit_events.c.seq)
        ).scalars()
        return [json.loads(d) for d in rows]


def _add_attributes(eng: Engine, handle: str, app: Any) -> Any:
    """Flow 5: the logged-in person proves a further card of theirs."""
    uzi = eng.uzi_session(app, uzi_pb2.UZI_PURPOSE_ATTRIBUTE_REGISTRATION)
    return eng.portal.attrs.RegisterAttributes(
        attribute_pb2.RegisterAttributesRequest(
            login_session_handle=handle, uzi_session_handle=uzi
        ),
        timeout=60,
    )


def _san(der: bytes) -> Any:
    return read_uzi_san(x509.load_der_x509_certificate(der))


# -- item 1: the takeover ---------------------------------------------------------------


def test_a_members_own_validation_does_not_let_them_take_over_a_colleague(eng: Engine) -> None:
    """The takeover of the issue, end to end: every step after the validation is refused."""
    eng.register_org()
    colleague_app = eng.cards.app()
    colleague_phone, colleague_der, _ = eng.registered(colleague_app)
    attacker_app = eng.cards.app()
    attacker_phone, attacker_der, _ = eng.registered(attacker_app)

    asked = eng.validate(attacker_app)
    assert asked.state == PENDING
    attacker = eng.login(attacker_phone, attacker_der).session_handle
    with pytest.raises(grpc.RpcError) as err:
        _list(eng, attacker)
    assert rpc_code(err.value) == TAKEOVER_REFUSAL
    with eng.db.connect() as conn:
        colleague_id = _person_id(conn, colleague_app.card.uzi_number)
    with pytest.raises(grpc.RpcError) as err:
        _reset(eng, attacker, colleague_id)
    assert rpc_code(err.value) == TAKEOVER_REFUSAL
    # Nor can the request approve itself.
    with pytest.raises(grpc.RpcError) as err:
        eng.approve(URA, attacker_app.card.uzi_number, login_session_handle=attacker)
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1832")
    # The colleague keeps their identity: their own phone still logs in as them.
    still = eng.login(colleague_phone, colleague_der)
    assert still.state == login_pb2.LOGIN_STATE_AUTHENTICATED
    assert still.attributes.uzi_number == colleague_app.card.uzi_number
    assert [v["state"] for v in _events(eng, "organisation.validate")] == ["pending"]
    assert _events(eng, "organisation.admin_approve") == []


@pytest.mark.parametrize("route", ["designation", "operator", "administrator"])
def test_a_request_makes_an_administrator_only_when_designated_or_approved(
    eng: Engine, route: str
) -> None:
    """The three ways in, each end to end: refused before, ListMembers and ResetMember after."""
    requester_app = eng.cards.app()
    eng.register_org(admins=(requester_app.card.uzi_number,) if route == "designation" else ())
    colleague_app = eng.cards.app()
    colleague_phone, colleague_der, _ = eng.registered(colleague_app)
    phone, der, _ = eng.registered(requester_app)
    asked = eng.validate(requester_app)
    handle = eng.login(phone, der).session_handle
    if route == "designation":
        assert asked.state == APPROVED
    else:
        assert asked.state == PENDING
        with pytest.raises(grpc.RpcError) as err:
            _list(eng, handle)
        assert rpc_code(err.value) == TAKEOVER_REFUSAL
    if route == "operator":
        done = eng.approve(URA, requester_app.card.uzi_number)
        assert (done.state, done.mobile_id) == (APPROVED, asked.mobile_id)
    elif route == "administrator":
        admin = _approved_admin(eng, URA)
        shown = {m.uzi_number: m for m in _list(eng, admin.handle)}
        assert shown[requester_app.card.uzi_number].administrator_state == PENDING
        assert shown[admin.uzi_number].administrator_state == APPROVED
        done = eng.approve(URA, requester_app.card.uzi_number, login_session_handle=admin.handle)
        assert done.state == APPROVED

    members = {m.uzi_number: m for m in _list(eng, handle)}
    assert members[requester_app.card.uzi_number].administrator_state == APPROVED
    colleague = members[colleague_app.card.uzi_number]
    assert len(_reset(eng, handle, colleague.person_id).revoked) == 1
    with pytest.raises(grpc.RpcError) as err:
        eng.login(colleague_phone, colleague_der)
    assert rpc_code(err.value)[1] == "ZID-1704"
    mine = members[requester_app.card.uzi_number].person_id
    approval = next(a for a in _events(eng, "organisation.admin_approve") if a["person_id"] == mine)
    assert (approval["by"], approval["uzi_number"]) == (route, requester_app.card.uzi_number)
    if route == "administrator":
        assert approval["approver_person_id"] == admin.person_id


def test_approval_is_refused_to_all_but_the_operator_and_the_uras_administrators(
    eng: Engine,
) -> None:
    eng.register_org()
    eng.register_org(ura=OTHER_URA, name="Ziekenhuis Oost")
    other_admin = _approved_admin(eng, OTHER_URA)
    requester = eng.cards.app()
    eng.registered(requester)
    eng.validate(requester)
    number = requester.card.uzi_number

    def refused(handle: str, stubs: Any = None) -> tuple[grpc.StatusCode, str]:
        with pytest.raises(grpc.RpcError) as err:
            (stubs or eng.portal).org.ApproveAdministrator(
                organization_pb2.ApproveAdministratorRequest(
                    ura=URA, uzi_number=number, login_session_handle=handle
                ),
                timeout=30,
            )
        return rpc_code(err.value)

    # A portal without a login session is no operator.
    assert refused("") == (grpc.StatusCode.UNAUTHENTICATED, "ZID-1709")
    # An administrator of another URA.
    assert refused(other_admin.handle) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1832")
    # Another portal presenting the administrator's handle.
    assert refused(other_admin.handle, eng.stubs(SECOND_PORTAL)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "ZID-1709",
    )
    # The mobile gateway is not in the method's allowlist.
    with pytest.raises(grpc.RpcError) as err:
        eng.mobile.org.ApproveAdministrator(
            organization_pb2.ApproveAdministratorRequest(ura=URA, uzi_number=number), timeout=30
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # No request of that UZI number.
    with pytest.raises(grpc.RpcError) as err:
        eng.approve(URA, "999999999")
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "ZID-1831")
    with eng.db.connect() as conn:
        state = conn.execute(
            sa.select(organisation_admins.c.state).where(
                organisation_admins.c.person_id == _person_id(conn, number)
            )
        ).scalar_one()
    assert state == "pending"
    # The operator approves, twice: the second changes nothing and logs nothing.
    for _ in range(2):
        assert eng.approve(URA, number).state == APPROVED
    assert [a["by"] for a in _events(eng, "organisation.admin_approve")] == [
        "operator",  # the other URA's administrator
        "operator",
    ]


def test_designations_are_checked_recorded_and_per_ura(eng: Engine) -> None:
    for bad in (("12345",), ("900000001", "900000001"), ("90000000x",)):
        with pytest.raises(grpc.RpcError) as err:
            eng.register_org(admins=bad)
        assert rpc_code(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "ZID-1833")
    app = eng.cards.app()
    done = eng.register_org(ura=OTHER_URA, admins=(app.card.uzi_number, "900000001"))
    assert list(done.administrator_uzi_numbers) == sorted((app.card.uzi_number, "900000001"))
    assert _events(eng, "organisation.register")[0]["administrator_uzi_numbers"] == sorted(
        (app.card.uzi_number, "900000001")
    )
    # Designated for OTHER_URA only: a validation of URA by the same person stays pending.
    eng.register_org()
    eng.registered(app)
    assert eng.validate(app).state == PENDING


def test_an_administrator_validating_again_stays_one(eng: Engine) -> None:
    eng.register_org()
    handle, app = eng.administrator(URA)
    assert eng.validate(app).state == APPROVED
    assert _list(eng, handle)


def test_migration_makes_the_self_made_administrators_of_before_pending(
    engine: sa.Engine,
) -> None:
    """Rows from before 0005 came from self-service validation: they wait for the operator."""
    upgrade(engine, "0004")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            persons.insert().values(
                id="p1",
                uzi_number="900000001",
                given_names="Jan",
                surname="Jansen",
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            mobile_ids.insert().values(
                id="m1", person_id="p1", spki_sha256="0" * 64, public_key=b"k", created_at=now
            )
        )
        conn.execute(
            organisations.insert().values(
                id="o1", ura=URA, name="De Eik", registered_at=now, registered_by="operator"
            )
        )
        conn.execute(
            organisation_admins.insert().values(
                organisation_id="o1",
                person_id="p1",
                mobile_id_id="m1",
                terms_version="2026-1",
                card_certificate_sha256="1" * 64,
                validated_at=now,
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(organisation_admins.c.state)).scalar_one() == "pending"
        assert administered(conn, "p1") == []


# -- item 1: what a reset re-issues -----------------------------------------------------


def test_reset_reissues_the_members_current_attributes_of_the_administrators_ura(
    eng: Engine,
) -> None:
    """Member registered with a URA-B card, later proved a URA-A card: A's reset gives A's data."""
    eng.register_org()
    eng.register_org(ura=OTHER_URA, name="Ziekenhuis Oost")
    admin_a = _approved_admin(eng, URA)
    member_b = eng.cards.app(ura=OTHER_URA, role="01.015")
    phone, der, _ = eng.registered(member_b)
    member_a = eng.cards.app(ura=URA, uzi_number=member_b.card.uzi_number, role="30.000")
    added = _add_attributes(eng, eng.login(phone, der).session_handle, member_a)
    assert _san(added.certificate.der).subscriber_number == URA
    with eng.db.connect() as conn:
        member_id = _person_id(conn, member_b.card.uzi_number)
    listed = [m for m in _list(eng, admin_a.handle) if m.person_id == member_id]
    assert [m.ura for m in listed] == [URA]

    reset = _reset(eng, admin_a.handle, member_id)
    new_phone = eng.new_phone()
    redeemed = eng.redeem(reset.qr.payload, new_phone)
    san = _san(redeemed.certificate.der)
    assert (san.uzi_number, san.subscriber_number, san.role) == (
        member_b.card.uzi_number,
        URA,
        "30.000",
    )
    logged_in = eng.login(new_phone, bytes(redeemed.certificate.der))
    assert (logged_in.attributes.ura, logged_in.attributes.role) == (URA, "30.000")
    # The reset names both persons in the audit log.
    (logged,) = _events(eng, "member.reset")
    assert logged["administrator_person_id"] == admin_a.person_id
    assert logged["member_person_id"] == member_id
    assert logged["ura"] == URA


def test_reset_by_an_administrator_of_two_uras_names_the_ura(eng: Engine) -> None:
    """The member belongs to both URAs the administrator administers: the reset names one."""
    admin_app = eng.cards.app()
    eng.register_org(admins=(admin_app.card.uzi_number,))
    eng.register_org(ura=OTHER_URA, name="Ziekenhuis Oost", admins=(admin_app.card.uzi_number,))
    admin_phone, admin_der, _ = eng.registered(admin_app)
    assert eng.validate(admin_app).state == APPROVED
    second = eng.cards.app(ura=OTHER_URA, uzi_number=admin_app.card.uzi_number)
    assert eng.validate(second, ura=OTHER_URA).state == APPROVED
    admin = eng.login(admin_phone, admin_der).session_handle

    member_a = eng.cards.app(role="30.000")
    phone, der, _ = eng.registered(member_a)
    member_b = eng.cards.app(ura=OTHER_URA, uzi_number=member_a.card.uzi_number, role="01.015")
    _add_attributes(eng, eng.login(phone, der).session_handle, member_b)
    with eng.db.connect() as conn:
        member_id = _person_id(conn, member_a.card.uzi_number)
    with pytest.raises(grpc.RpcError) as err:
        _reset(eng, admin, member_id)
    assert rpc_code(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "ZID-1834")
    for ura, role in ((URA, "30.000"), (OTHER_URA, "01.015")):
        reset = _reset(eng, admin, member_id, ura=ura)
        san = _san(eng.redeem(reset.qr.payload, eng.new_phone()).certificate.der)
        assert (san.subscriber_number, san.role) == (ura, role)
    with pytest.raises(grpc.RpcError) as err:
        _reset(eng, admin, member_id, ura="90000555")
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1821")


# -- item 5 -----------------------------------------------------------------------------


def test_attributes_of_an_unregistered_organisation_are_refused(eng: Engine) -> None:
    """RegisterAttributes applies StartRegistration's rule (ZID-1602) and changes nothing."""
    eng.register_org()
    app = eng.cards.app()
    phone, der, _ = eng.registered(app)
    handle = eng.login(phone, der).session_handle
    unknown = eng.cards.app(ura="90000555", uzi_number=app.card.uzi_number)
    uzi = eng.uzi_session(unknown, uzi_pb2.UZI_PURPOSE_ATTRIBUTE_REGISTRATION)
    request = attribute_pb2.RegisterAttributesRequest(
        login_session_handle=handle, uzi_session_handle=uzi
    )
    for _ in range(2):  # the refusal wrote nothing: the same UZI session is refused alike
        with pytest.raises(grpc.RpcError) as err:
            eng.portal.attrs.RegisterAttributes(request, timeout=60)
        assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-1602")
    current = current_certificate(eng, phone)
    assert current.certificate.der == der
    with eng.db.connect() as conn:
        uras = conn.execute(sa.text("SELECT ura FROM uzi_attributes")).scalars().all()
    assert uras == [URA]
