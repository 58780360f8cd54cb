"""Flows 4, 5, 6 and revocation over gRPC with mTLS: organisations, attributes, PIN reset."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from cryptography import x509

from issuer.api.zorgid.v1 import (
    attribute_pb2,
    certificate_pb2,
    login_pb2,
    organization_pb2,
    uzi_pb2,
)
from issuer.profile import read_uzi_san
from issuer.store.schema import certificates, organisation_admins
from tests.flows.conftest import OTHER_URA, URA, Engine, current_certificate, rpc_code


def test_operator_registers_organisations(eng: Engine) -> None:
    org = eng.register_org().organization
    assert (org.ura, org.name) == (URA, "Huisartsenpraktijk De Eik")
    with pytest.raises(grpc.RpcError) as err:
        eng.register_org()
    assert rpc_code(err.value) == (grpc.StatusCode.ALREADY_EXISTS, "ZID-1801")
    with pytest.raises(grpc.RpcError) as err:
        eng.register_org(ura="123", name="x")
    assert rpc_code(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "ZID-1802")
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.org.RegisterOrganization(
            organization_pb2.RegisterOrganizationRequest(ura="12345678", name="x")
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_validation_binds_the_administrator_to_their_mobile_id(eng: Engine) -> None:
    eng.register_org()
    eng.register_org(ura=OTHER_URA, name="Ziekenhuis Oost")
    app = eng.cards.app()
    _phone, der, _ = eng.registered(app)
    done = eng.validate(app)
    assert done.organization.ura == URA and done.organization.name == "Huisartsenpraktijk De Eik"
    with eng.db.connect() as conn:
        cert = conn.execute(sa.select(certificates).where(certificates.c.der == der)).one()
        admin = conn.execute(sa.select(organisation_admins)).one()
    assert done.mobile_id == cert.mobile_id_id == admin.mobile_id_id
    assert admin.terms_version == "2026-1"
    # A card of another URA cannot validate this organisation.
    with pytest.raises(grpc.RpcError) as err:
        eng.validate(eng.cards.app(ura=OTHER_URA), ura=URA)
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1803")


def test_validation_needs_a_mobile_id(eng: Engine) -> None:
    eng.register_org()
    with pytest.raises(grpc.RpcError) as err:
        eng.validate(eng.cards.app())
    assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-1804")


def test_attributes_on_an_existing_mobile_id(eng: Engine) -> None:
    eng.register_org()
    eng.register_org(ura=OTHER_URA, name="Ziekenhuis Oost")
    app = eng.cards.app()
    phone, der, _ = eng.registered(app)
    handle = eng.login(phone, der).session_handle
    second_card = eng.cards.app(ura=OTHER_URA, uzi_number=app.card.uzi_number)
    uzi = eng.uzi_session(second_card, uzi_pb2.UZI_PURPOSE_ATTRIBUTE_REGISTRATION)
    done = eng.portal.attrs.RegisterAttributes(
        attribute_pb2.RegisterAttributesRequest(login_session_handle=handle, uzi_session_handle=uzi)
    )
    new = x509.load_der_x509_certificate(done.certificate.der)
    old = x509.load_der_x509_certificate(der)
    assert read_uzi_san(new).subscriber_number == OTHER_URA
    assert _spki(new) == _spki(old)
    assert done.superseded.status == certificate_pb2.CERTIFICATE_STATUS_REVOKED
    assert done.superseded.revocation_reason == certificate_pb2.REVOCATION_REASON_SUPERSEDED
    # The phone fetches its new certificate, and logs in with it.
    current = current_certificate(eng, phone)
    assert current.certificate.id == done.certificate.id and len(current.chain) >= 1
    again = eng.login(phone, bytes(current.certificate.der))
    assert again.state == login_pb2.LOGIN_STATE_AUTHENTICATED
    assert again.attributes.ura == OTHER_URA
    with eng.db.connect() as conn:
        superseded_by = conn.execute(
            sa.select(certificates.c.superseded_by).where(certificates.c.der == der)
        ).scalar_one()
    assert superseded_by == done.certificate.id


def test_attributes_of_another_person_refused(eng: Engine) -> None:
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    handle = eng.login(phone, der).session_handle
    uzi = eng.uzi_session(eng.cards.app(), uzi_pb2.UZI_PURPOSE_ATTRIBUTE_REGISTRATION)
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.attrs.RegisterAttributes(
            attribute_pb2.RegisterAttributesRequest(
                login_session_handle=handle, uzi_session_handle=uzi
            )
        )
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1810")


def _spki(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _admin(eng: Engine, ura: str = URA) -> str:
    """An administrator of *ura* (validated, approved by the operator), logged in: the handle."""
    return eng.administrator(ura)[0]


def test_pin_forgotten_reset_by_the_administrator(eng: Engine) -> None:
    eng.register_org()
    eng.register_org(ura=OTHER_URA, name="Ziekenhuis Oost")
    admin = _admin(eng)
    member_app = eng.cards.app()
    member_phone, member_der, _ = eng.registered(member_app)
    members = eng.portal.org.ListMembers(
        organization_pb2.ListMembersRequest(login_session_handle=admin)
    ).members
    member = next(m for m in members if m.uzi_number == member_app.card.uzi_number)
    assert len(member.good_certificate_ids) == 1

    first = eng.portal.org.ResetMember(
        organization_pb2.ResetMemberRequest(login_session_handle=admin, person_id=member.person_id)
    )
    assert [c.status for c in first.revoked] == [certificate_pb2.CERTIFICATE_STATUS_REVOKED]
    assert first.qr.payload.startswith("zorgid://enroll?v=1&t=")
    # The old phone no longer logs in.
    with pytest.raises(grpc.RpcError) as err:
        eng.login(member_phone, member_der)
    assert rpc_code(err.value)[1] == "ZID-1704"
    # A second reset cancels the first QR: redeeming it after the reset is refused.
    second = eng.portal.org.ResetMember(
        organization_pb2.ResetMemberRequest(login_session_handle=admin, person_id=member.person_id)
    )
    assert list(second.revoked) == []
    with pytest.raises(grpc.RpcError) as err:
        eng.redeem(first.qr.payload, eng.new_phone())
    assert rpc_code(err.value)[1] == "ZID-1301"
    new_phone = eng.new_phone()
    redeemed = eng.redeem(second.qr.payload, new_phone)
    assert read_uzi_san(x509.load_der_x509_certificate(redeemed.certificate.der)).uzi_number == (
        member_app.card.uzi_number
    )
    assert eng.login(new_phone, bytes(redeemed.certificate.der)).state == (
        login_pb2.LOGIN_STATE_AUTHENTICATED
    )

    # Another organisation's administrator cannot touch this member.
    other_admin = _admin(eng, OTHER_URA)
    theirs = eng.portal.org.ListMembers(
        organization_pb2.ListMembersRequest(login_session_handle=other_admin)
    ).members
    assert member.person_id not in {m.person_id for m in theirs}
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.org.ResetMember(
            organization_pb2.ResetMemberRequest(
                login_session_handle=other_admin, person_id=member.person_id
            )
        )
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1821")


def test_non_administrator_cannot_list_members(eng: Engine) -> None:
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    handle = eng.login(phone, der).session_handle
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.org.ListMembers(organization_pb2.ListMembersRequest(login_session_handle=handle))
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1820")
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.org.ListMembers(
            organization_pb2.ListMembersRequest(login_session_handle="x" * 43)
        )
    assert rpc_code(err.value) == (grpc.StatusCode.UNAUTHENTICATED, "ZID-1709")


def test_revocation_by_holder_administrator_and_nobody_else(eng: Engine) -> None:
    eng.register_org()
    eng.register_org(ura=OTHER_URA, name="Ziekenhuis Oost")
    admin = _admin(eng)
    holder_phone, holder_der, _ = eng.registered(eng.cards.app())
    holder = eng.login(holder_phone, holder_der)
    stranger_phone, stranger_der, _ = eng.registered(eng.cards.app(ura=OTHER_URA))
    stranger = eng.login(stranger_phone, stranger_der)

    def revoke(
        handle: str, cert_id: str, reason: Any
    ) -> login_pb2.RevokeCertificateWithSessionResponse:
        reply: login_pb2.RevokeCertificateWithSessionResponse = (
            eng.portal.login.RevokeCertificateWithSession(
                login_pb2.RevokeCertificateWithSessionRequest(
                    login_session_handle=handle, certificate_id=cert_id, reason=reason
                )
            )
        )
        return reply

    with pytest.raises(grpc.RpcError) as err:
        revoke(
            stranger.session_handle,
            holder.certificate_id,
            certificate_pb2.REVOCATION_REASON_UNSPECIFIED,
        )
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1901")
    done = revoke(
        holder.session_handle,
        holder.certificate_id,
        certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE,
    )
    assert done.certificate.revocation_reason == certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE

    # The administrator revokes a member of their URA (a fresh member).
    member_phone, member_der, _ = eng.registered(eng.cards.app())
    member_cert = eng.login(member_phone, member_der).certificate_id
    done = revoke(admin, member_cert, certificate_pb2.REVOCATION_REASON_AFFILIATION_CHANGED)
    assert done.certificate.status == certificate_pb2.CERTIFICATE_STATUS_REVOKED
