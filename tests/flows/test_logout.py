"""The portal's logout ends the engine's login session at once (LoginService.EndLoginSession)."""

from __future__ import annotations

import grpc
import pytest
import sqlalchemy as sa

from issuer.api.zorgid.v1 import certificate_pb2, login_pb2
from issuer.store.schema import audit_events
from tests.flows.conftest import SECOND_PORTAL, Engine, rpc_code


def _revoke_own(eng: Engine, handle: str, certificate_id: str) -> object:
    return eng.portal.login.RevokeCertificateWithSession(
        login_pb2.RevokeCertificateWithSessionRequest(
            login_session_handle=handle,
            certificate_id=certificate_id,
            reason=certificate_pb2.REVOCATION_REASON_CESSATION_OF_OPERATION,
        ),
        timeout=30,
    )


def _end(stubs: object, handle: str) -> bool:
    reply = stubs.login.EndLoginSession(  # type: ignore[attr-defined]
        login_pb2.EndLoginSessionRequest(login_session_handle=handle), timeout=30
    )
    return bool(reply.ended)


def test_a_logout_ends_the_session_for_good_and_once(eng: Engine) -> None:
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    logged_in = eng.login(phone, der)
    handle = logged_in.session_handle

    # Another portal cannot end it (and learns nothing: the same answer as an unknown one).
    assert _end(eng.stubs(SECOND_PORTAL), handle) is False
    assert _end(eng.portal, "no-such-handle") is False

    assert _end(eng.portal, handle) is True
    with pytest.raises(grpc.RpcError) as err:
        _revoke_own(eng, handle, logged_in.certificate_id)
    assert rpc_code(err.value) == (grpc.StatusCode.UNAUTHENTICATED, "ZID-1709")
    # Again: nothing left to end; the certificate was never touched.
    assert _end(eng.portal, handle) is False
    got = eng.portal.certs.GetCertificate(
        certificate_pb2.GetCertificateRequest(id=logged_in.certificate_id), timeout=30
    )
    assert got.certificate.status == certificate_pb2.CERTIFICATE_STATUS_GOOD

    with eng.db.connect() as conn:
        ends = conn.execute(
            sa.select(audit_events.c.subject).where(audit_events.c.action == "login.session.end")
        ).all()
    assert len(ends) == 1


def test_a_second_session_of_the_same_phone_lives_on(eng: Engine) -> None:
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    first, second = eng.login(phone, der), eng.login(phone, der)
    assert _end(eng.portal, first.session_handle) is True
    # The other browser's session is its own: it still acts.
    revoked = _revoke_own(eng, second.session_handle, second.certificate_id)
    assert revoked.certificate.status == certificate_pb2.CERTIFICATE_STATUS_REVOKED  # type: ignore[attr-defined]
