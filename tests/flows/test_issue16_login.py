"""Issue 16 items 6 and 11, as the attacker did them: over mTLS gRPC, on SQLite and PostgreSQL.

Item 6: a key revoked for keyCompromise is never certified again (for anyone),
and a revocation ends the login sessions of the mobile ID for good. Item 11:
a portal reads only certificates of persons it acts for; another portal
cannot burn a UZI challenge; only an answer that verifies ends a pending
login; the mobile role gets a key's current certificate only with a proof by
that key.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from issuer.api.zorgid.v1 import attribute_pb2, certificate_pb2, login_pb2, uzi_pb2
from issuer.flows.login import current_certificate_message
from issuer.qr import parse_login_uri
from issuer.store.schema import certificates, login_sessions
from tests.flows.conftest import SECOND_PORTAL, Engine, rpc_code, sign_as_phone

KEY_COMPROMISE = certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE


def _poll(eng: Engine, challenge_id: str) -> Any:
    return eng.portal.login.GetLoginChallenge(
        login_pb2.GetLoginChallengeRequest(challenge_id=challenge_id), timeout=30
    )


def _revoke_with_session(eng: Engine, handle: str, cert_id: str) -> Any:
    return eng.portal.login.RevokeCertificateWithSession(
        login_pb2.RevokeCertificateWithSessionRequest(
            login_session_handle=handle,
            certificate_id=cert_id,
            reason=certificate_pb2.REVOCATION_REASON_CESSATION_OF_OPERATION,
        ),
        timeout=30,
    )


# -- item 6 ------------------------------------------------------------------------------


def test_a_key_revoked_for_key_compromise_is_never_certified_again(eng: Engine) -> None:
    eng.register_org()
    app = eng.cards.app()
    phone, der, _ = eng.registered(app)
    logged_in = eng.login(phone, der)
    eng.operator.certs.RevokeCertificate(
        certificate_pb2.RevokeCertificateRequest(
            id=logged_in.certificate_id, reason=KEY_COMPROMISE
        ),
        timeout=30,
    )
    # The same person registers again and the phone redeems with the compromised key.
    again = eng.confirmed(app)
    with pytest.raises(grpc.RpcError) as err:
        eng.redeem(again.qr.payload, phone)
    assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-1850")
    # Anyone else with that key: barred too (not "certified for another person").
    stranger = eng.confirmed(eng.cards.app())
    with pytest.raises(grpc.RpcError) as err:
        eng.redeem(stranger.qr.payload, phone)
    assert rpc_code(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "ZID-1850")
    with eng.db.connect() as conn:
        good = conn.execute(
            sa.select(sa.func.count())
            .select_from(certificates)
            .where(certificates.c.spki_sha256 == phone.spki_sha256, certificates.c.status == "good")
        ).scalar_one()
    assert good == 0
    # A new key on the same QR works, and the session of the compromised key stays dead.
    new_phone = eng.new_phone()
    fresh = eng.redeem(again.qr.payload, new_phone)
    with pytest.raises(grpc.RpcError) as err:
        _revoke_with_session(eng, logged_in.session_handle, fresh.certificate.id)
    assert rpc_code(err.value) == (grpc.StatusCode.UNAUTHENTICATED, "ZID-1709")


def test_a_revocation_ends_the_login_sessions_of_the_mobile_id_for_good(eng: Engine) -> None:
    eng.register_org()
    app = eng.cards.app()
    phone, der, _ = eng.registered(app)
    logged_in = eng.login(phone, der)
    eng.operator.certs.RevokeCertificate(
        certificate_pb2.RevokeCertificateRequest(
            id=logged_in.certificate_id,
            reason=certificate_pb2.REVOCATION_REASON_AFFILIATION_CHANGED,
        ),
        timeout=30,
    )
    # Not keyCompromise: the same key may be certified again, for the same mobile ID ...
    again = eng.confirmed(app)
    renewed = eng.redeem(again.qr.payload, phone)
    assert renewed.certificate.mobile_id == logged_in.mobile_id
    # ... but the session opened before the revocation does not come back.
    with pytest.raises(grpc.RpcError) as err:
        _revoke_with_session(eng, logged_in.session_handle, renewed.certificate.id)
    assert rpc_code(err.value) == (grpc.StatusCode.UNAUTHENTICATED, "ZID-1709")
    with eng.db.connect() as conn:
        ended = conn.execute(
            sa.select(login_sessions.c.revoked_at).where(
                login_sessions.c.mobile_id_id == logged_in.mobile_id
            )
        ).scalar_one()
    assert ended is not None
    # A new login with the new certificate opens a new session.
    fresh = eng.login(phone, bytes(renewed.certificate.der))
    assert fresh.state == login_pb2.LOGIN_STATE_AUTHENTICATED
    assert _revoke_with_session(eng, fresh.session_handle, renewed.certificate.id)


def test_an_answer_collected_after_the_revocation_opens_no_session(eng: Engine) -> None:
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    made = eng.portal.login.CreateLoginChallenge(login_pb2.CreateLoginChallengeRequest())
    eng.answer(made.qr.payload, phone, der)
    cert = x509.load_der_x509_certificate(der)
    with eng.db.connect() as conn:
        cert_id = conn.execute(
            sa.select(certificates.c.id).where(
                certificates.c.serial == format(cert.serial_number, "x")
            )
        ).scalar_one()
    eng.operator.certs.RevokeCertificate(
        certificate_pb2.RevokeCertificateRequest(id=cert_id, reason=KEY_COMPROMISE), timeout=30
    )
    polled = _poll(eng, made.challenge_id)
    assert polled.state == login_pb2.LOGIN_STATE_REFUSED
    assert polled.refusal_code == "ZID-1704" and polled.session_handle == ""


# -- item 11 -----------------------------------------------------------------------------


def test_a_portal_reads_only_certificates_of_persons_it_acts_for(eng: Engine) -> None:
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    mine = eng.login(phone, der)
    other = eng.stubs(SECOND_PORTAL)
    with pytest.raises(grpc.RpcError) as err:
        other.certs.GetCertificate(
            certificate_pb2.GetCertificateRequest(id=mine.certificate_id), timeout=30
        )
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "ZID-1210")
    serial = format(x509.load_der_x509_certificate(der).serial_number, "x")
    with pytest.raises(grpc.RpcError) as err:
        other.certs.GetCertificate(certificate_pb2.GetCertificateRequest(serial=serial))
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "ZID-1210")
    for request in (
        certificate_pb2.ListCertificatesRequest(person_id=mine.person_id),
        certificate_pb2.ListCertificatesRequest(mobile_id=mine.mobile_id),
    ):
        assert list(other.certs.ListCertificates(request, timeout=30).certificates) == []
        # The portal that registered and logged the person in reads them; so does the operator.
        assert [c.id for c in eng.portal.certs.ListCertificates(request).certificates] == [
            mine.certificate_id
        ]
        assert [c.id for c in eng.operator.certs.ListCertificates(request).certificates] == [
            mine.certificate_id
        ]
    got = eng.portal.certs.GetCertificate(certificate_pb2.GetCertificateRequest(serial=serial))
    assert got.certificate.id == mine.certificate_id
    # Logging the person in at the second portal makes it act for them too.
    eng.login(phone, der, portal=other)
    got = other.certs.GetCertificate(certificate_pb2.GetCertificateRequest(id=mine.certificate_id))
    assert got.certificate.id == mine.certificate_id


def test_another_portal_cannot_burn_a_uzi_challenge(eng: Engine) -> None:
    app = eng.cards.app()
    challenge = eng.portal.uzi.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest())
    thief = eng.stubs(SECOND_PORTAL)
    with pytest.raises(grpc.RpcError) as err:
        thief.uzi.VerifyUziCard(
            uzi_pb2.VerifyUziCardRequest(
                challenge_id=challenge.challenge_id,
                certificate_chain=app.chain(),
                signature=b"\x00" * 256,
                signature_scheme=uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256,
                purpose=uzi_pb2.UZI_PURPOSE_REGISTRATION,
            ),
            timeout=30,
        )
    assert rpc_code(err.value) == (grpc.StatusCode.NOT_FOUND, "ZID-1117")
    # The portal the challenge was made for still uses it.
    proof = eng.portal.uzi.VerifyUziCard(
        uzi_pb2.VerifyUziCardRequest(
            challenge_id=challenge.challenge_id,
            certificate_chain=app.chain(),
            signature=app.sign(challenge.to_be_signed),
            signature_scheme=uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256,
            purpose=uzi_pb2.UZI_PURPOSE_REGISTRATION,
        ),
        timeout=30,
    )
    assert proof.identity.uzi_number == app.card.uzi_number


def test_only_an_answer_that_verifies_ends_a_pending_login(eng: Engine) -> None:
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    made = eng.portal.login.CreateLoginChallenge(login_pb2.CreateLoginChallengeRequest())
    qr = parse_login_uri(made.qr.payload)

    def answer(certificate: bytes, signature: bytes) -> grpc.RpcError:
        request = login_pb2.AnswerLoginChallengeRequest(
            challenge_id=qr.challenge_id, certificate=certificate, signature=signature
        )
        request.signed_at.FromDatetime(eng.clock())
        with pytest.raises(grpc.RpcError) as err:
            eng.mobile.login.AnswerLoginChallenge(request, timeout=30)
        return err.value

    # Garbage: not a certificate.
    assert rpc_code(answer(b"garbage", b"garbage")) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "ZID-1703",
    )
    assert _poll(eng, made.challenge_id).state == login_pb2.LOGIN_STATE_PENDING
    # A certificate this engine never issued, signed correctly by its own key.
    intruder = eng.new_phone()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not ours")])
    foreign = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(intruder.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(eng.clock() - timedelta(days=1))
        .not_valid_after(eng.clock() + timedelta(days=1))
        .sign(intruder.key, hashes.SHA256())
    ).public_bytes(Encoding.DER)
    assert rpc_code(answer(foreign, b"\x30\x00")) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1703")
    # The victim's certificate with a signature that does not verify.
    assert rpc_code(answer(der, b"\x30\x00")) == (grpc.StatusCode.INVALID_ARGUMENT, "ZID-1706")
    assert _poll(eng, made.challenge_id).state == login_pb2.LOGIN_STATE_PENDING
    # The right phone still answers.
    eng.answer(made.qr.payload, phone, der)
    assert _poll(eng, made.challenge_id).state == login_pb2.LOGIN_STATE_AUTHENTICATED


def _current(eng: Engine, spki_sha256: str, signature: bytes | None, at: Any = None) -> Any:
    request = attribute_pb2.GetCurrentCertificateRequest(spki_sha256=spki_sha256)
    if signature is not None:
        request.signature = signature
        request.signed_at.FromDatetime(at or eng.clock())
    return eng.mobile.attrs.GetCurrentCertificate(request, timeout=30)


def test_the_current_certificate_only_with_a_proof_by_its_key(eng: Engine) -> None:
    eng.register_org()
    victim, der, _ = eng.registered(eng.cards.app())
    attacker = eng.new_phone()
    at = eng.clock()
    with pytest.raises(grpc.RpcError) as err:
        _current(eng, victim.spki_sha256, None)
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1851")
    forged = sign_as_phone(attacker, current_certificate_message(victim.spki_sha256, at))
    with pytest.raises(grpc.RpcError) as err:
        _current(eng, victim.spki_sha256, forged, at)
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1851")
    # A proof by the key, but made long ago (a replay): refused.
    old = at - timedelta(minutes=10)
    stale = sign_as_phone(victim, current_certificate_message(victim.spki_sha256, old))
    with pytest.raises(grpc.RpcError) as err:
        _current(eng, victim.spki_sha256, stale, old)
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1851")
    proof = sign_as_phone(victim, current_certificate_message(victim.spki_sha256, at))
    assert _current(eng, victim.spki_sha256, proof, at).certificate.der == der


def test_key_compromise_revokes_every_certificate_of_the_key(eng: Engine) -> None:
    eng.register_org()
    app = eng.cards.app()
    phone, first_der, _ = eng.registered(app)
    # The same person registers again and the phone redeems with the same key: two good ones.
    second = eng.redeem(eng.confirmed(app).qr.payload, phone)
    eng.operator.certs.RevokeCertificate(
        certificate_pb2.RevokeCertificateRequest(id=second.certificate.id, reason=KEY_COMPROMISE),
        timeout=30,
    )
    with eng.db.connect() as conn:
        rows = conn.execute(
            sa.select(certificates.c.status, certificates.c.revocation_reason).where(
                certificates.c.spki_sha256 == phone.spki_sha256
            )
        ).all()
    assert sorted(rows) == [("revoked", "keyCompromise")] * 2
    made = eng.portal.login.CreateLoginChallenge(login_pb2.CreateLoginChallengeRequest())
    with pytest.raises(grpc.RpcError) as err:
        eng.answer(made.qr.payload, phone, first_der)
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1704")


def test_a_signing_time_out_of_range_is_a_clear_refusal(eng: Engine) -> None:
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    made = eng.portal.login.CreateLoginChallenge(login_pb2.CreateLoginChallengeRequest())
    answer = login_pb2.AnswerLoginChallengeRequest(
        challenge_id=parse_login_uri(made.qr.payload).challenge_id, certificate=der
    )
    answer.signed_at.seconds = 2**62
    with pytest.raises(grpc.RpcError) as err:
        eng.mobile.login.AnswerLoginChallenge(answer, timeout=30)
    assert rpc_code(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "ZID-0005")
    current = attribute_pb2.GetCurrentCertificateRequest(
        spki_sha256=phone.spki_sha256, signature=b"\x30\x00"
    )
    current.signed_at.seconds = 2**62
    with pytest.raises(grpc.RpcError) as err:
        eng.mobile.attrs.GetCurrentCertificate(current, timeout=30)
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1851")
