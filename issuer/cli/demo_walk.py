"""The ``zorgid demo`` walk: the portal manual's steps, played against a running engine.

Each step calls the engine as the portal, the mobile gateway or the operator would, through
the :class:`~issuer.cli.demo.Demo`'s clients and test doubles, and checks the outcome the
manual describes; the first other outcome stops the walk with :class:`DemoFailed`.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from issuer.cli.demo import Demo, DemoFailed
from issuer.cli.demo_card import make_smartcard
from issuer.errors import Code


def uzi_session(demo: Demo, app: Any, purpose: Any) -> str:
    from issuer.api.zorgid.v1 import uzi_pb2

    challenge = demo.call(
        "CreateUziChallenge",
        demo.portal.uzi.CreateUziChallenge,
        uzi_pb2.CreateUziChallengeRequest(),
    )
    proof = demo.call(
        "VerifyUziCard",
        demo.portal.uzi.VerifyUziCard,
        uzi_pb2.VerifyUziCardRequest(
            challenge_id=challenge.challenge_id,
            certificate_chain=app.chain(),
            signature=app.sign(challenge.to_be_signed),
            signature_scheme=uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256,
            purpose=purpose,
        ),
    )
    demo.ok(
        f"UZI-pas proven: {proof.identity.common_name}, UZI {proof.identity.uzi_number}, "
        f"URA {proof.identity.subscriber_number}, role {proof.identity.role}"
    )
    return str(proof.session_handle)


def register_user(demo: Demo, app: Any, who: str, birth: str) -> tuple[Any, bytes]:
    """Register ``app``'s holder and install their mobile ID on a new phone: (phone, DER)."""
    from issuer.api.zorgid.v1 import registration_pb2
    from issuer.enrolment.tokens import parse_enrolment_uri

    done = confirm_registration(demo, app, who, birth)
    demo.say(f"{who}: the phone scans the registration QR and installs the mobile ID")
    phone, certificate = redeem(demo, done.qr.payload)
    polled = demo.call(
        "GetRegistration",
        demo.portal.reg.GetRegistration,
        registration_pb2.GetRegistrationRequest(registration_id=done.registration.id),
    ).registration
    state = registration_pb2.RegistrationState.Name(polled.state)
    if polled.state != registration_pb2.REGISTRATION_STATE_REDEEMED:
        raise DemoFailed(f"step {demo.step}: the portal's poll says {state}; expected REDEEMED")
    _, host = parse_enrolment_uri(done.qr.payload)
    demo.ok(
        f"certificate serial {certificate.serial} issued (QR host {host}); portal poll: {state}"
    )
    return phone, bytes(certificate.der)


def confirm_registration(demo: Demo, app: Any, who: str, birth: str) -> Any:
    """The portal's part of a registration, up to the registration QR: ConfirmRegistration's
    answer (a phone may redeem its QR here, or in another app)."""
    from issuer.api.zorgid.v1 import registration_pb2, uzi_pb2

    demo.say(f"{who}: register as user -- terms, UZI-pas, card data, date of birth, confirm")
    terms = demo.call("GetTerms", demo.portal.reg.GetTerms, registration_pb2.GetTermsRequest())
    demo.ok(f"terms version {terms.version} shown and accepted")
    handle = uzi_session(demo, app, uzi_pb2.UZI_PURPOSE_REGISTRATION)
    started = demo.call(
        "StartRegistration",
        demo.portal.reg.StartRegistration,
        registration_pb2.StartRegistrationRequest(
            terms_version=terms.version, uzi_session_handle=handle
        ),
    ).registration
    demo.ok(f"card data shown: {started.identity.common_name} at {started.organization_name}")
    shown = demo.call(
        "SetBirthDate",
        demo.portal.reg.SetBirthDate,
        registration_pb2.SetBirthDateRequest(registration_id=started.id, birth_date=birth),
    ).registration
    demo.ok(f"date of birth {birth} -> {shown.birth_date}; summary shown")
    done = demo.call(
        "ConfirmRegistration",
        demo.portal.reg.ConfirmRegistration,
        registration_pb2.ConfirmRegistrationRequest(
            registration_id=started.id, summary_digest=shown.summary_digest
        ),
    )
    path = demo.save_qr(f"registration-{who.split()[0].lower()}", done.qr.png)
    until = done.registration.qr_expires_at.ToDatetime(tzinfo=UTC)
    demo.ok(
        f"confirmed, data frozen; registration QR valid until {until:%Y-%m-%d %H:%M} UTC ({path})"
    )
    return done


def redeem(demo: Demo, payload: str) -> tuple[Any, Any]:
    """A new phone redeems a registration QR (a first one or a reset's): (phone, certificate)."""
    from issuer.api.zorgid.v1 import enrollment_pb2
    from issuer.enrolment.tokens import parse_enrolment_uri

    phone = demo.phone()
    token, _ = parse_enrolment_uri(payload)
    redeemed = demo.call(
        "RedeemEnrollment",
        demo.mobile.enrol.RedeemEnrollment,
        enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=phone.csr()),
    )
    return phone, redeemed.certificate


def validate_organisation(demo: Demo, app: Any, ura: str, terms_version: str) -> Any:
    """Validate organisation ``ura`` with ``app``'s UZI-pas: ConfirmValidation's answer (an
    administrator at once if designated, else a request waiting for approval)."""
    from issuer.api.zorgid.v1 import organization_pb2, uzi_pb2

    handle = uzi_session(demo, app, uzi_pb2.UZI_PURPOSE_ORGANISATION_VALIDATION)
    started = demo.call(
        "StartValidation",
        demo.portal.org.StartValidation,
        organization_pb2.StartValidationRequest(
            terms_version=terms_version, uzi_session_handle=handle, ura=ura
        ),
    )
    demo.ok(f"shown: {started.organization.name}, URA {started.organization.ura}")
    return demo.call(
        "ConfirmValidation",
        demo.portal.org.ConfirmValidation,
        organization_pb2.ConfirmValidationRequest(validation_id=started.validation_id),
    )


def login(demo: Demo, phone: Any, der: bytes, who: str) -> Any:
    from issuer.api.zorgid.v1 import login_pb2

    demo.say(f"{who}: log in by QR")
    made = demo.call(
        "CreateLoginChallenge",
        demo.portal.login.CreateLoginChallenge,
        login_pb2.CreateLoginChallengeRequest(),
    )
    demo.ok(f"login QR shown ({demo.save_qr('login', made.qr.png)})")
    answer(demo, made.qr.payload, phone, der)
    polled = demo.call(
        "GetLoginChallenge",
        demo.portal.login.GetLoginChallenge,
        login_pb2.GetLoginChallengeRequest(challenge_id=made.challenge_id),
    )
    state = login_pb2.LoginState.Name(polled.state)
    if polled.state != login_pb2.LOGIN_STATE_AUTHENTICATED:
        raise DemoFailed(f"step {demo.step}: login poll says {state}; expected AUTHENTICATED")
    demo.ok(
        f"{state}: {polled.attributes.common_name}, UZI {polled.attributes.uzi_number}, "
        f"URA {polled.attributes.ura}; login session opened"
    )
    return polled


def current_certificate_request(demo: Demo, phone: Any) -> Any:
    """GetCurrentCertificate with the phone key's proof (docs/flows.md)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from issuer.api.zorgid.v1 import attribute_pb2
    from issuer.flows.login import current_certificate_message

    at = datetime.now(UTC).replace(microsecond=0)
    request = attribute_pb2.GetCurrentCertificateRequest(
        spki_sha256=phone.spki_sha256,
        signature=phone.key.sign(
            current_certificate_message(phone.spki_sha256, at), ec.ECDSA(hashes.SHA256())
        ),
    )
    request.signed_at.FromDatetime(at)
    return request


def answer(demo: Demo, payload: str, phone: Any, der: bytes, *, expect: Code | None = None) -> None:
    import grpc
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from issuer.api.zorgid.v1 import login_pb2
    from issuer.flows.login import login_message
    from issuer.qr import parse_login_uri

    qr = parse_login_uri(payload)
    describe = login_pb2.DescribeLoginChallengeRequest(challenge_id=qr.challenge_id)
    asked: Any = None
    if expect is None:
        asked = demo.call(
            "DescribeLoginChallenge", demo.mobile.login.DescribeLoginChallenge, describe
        )
        demo.ok(f"phone shows: log in to {asked.portal_name!r}? -- the user accepts")
    else:
        # The phone signs what it can: an answer that does not verify changes nothing.
        try:
            asked = demo.mobile.login.DescribeLoginChallenge(describe, timeout=30)
        except grpc.RpcError:
            asked = None
    portal_identity = asked.portal_identity if asked is not None else ""
    at = datetime.now(UTC).replace(microsecond=0)
    signature = phone.key.sign(
        login_message(qr.challenge_id, qr.nonce, portal_identity, at), ec.ECDSA(hashes.SHA256())
    )
    request = login_pb2.AnswerLoginChallengeRequest(
        challenge_id=qr.challenge_id, certificate=der, signature=signature
    )
    request.signed_at.FromDatetime(at)
    if expect is None:
        demo.call("AnswerLoginChallenge", demo.mobile.login.AnswerLoginChallenge, request)
    else:
        demo.refused(
            "AnswerLoginChallenge", demo.mobile.login.AnswerLoginChallenge, request, expect
        )


def walk(demo: Demo) -> None:
    from issuer.api.zorgid.v1 import (
        attribute_pb2,
        certificate_pb2,
        login_pb2,
        organization_pb2,
        registration_pb2,
        uzi_pb2,
    )

    ura = "9" + format(secrets.randbelow(10**7), "07d")
    other_ura = "8" + format(secrets.randbelow(10**7), "07d")
    demo.out(f"ZORG-ID demo against {demo.target} (run {demo.run})")

    admin_card = demo.card(ura=ura)
    demo.say(
        "operator pre-registers two organisations (URA + name), designating the first's "
        "administrator by UZI number"
    )
    for number, name, admins in (
        (ura, "Huisartsenpraktijk De Eik (demo)", [admin_card.card.uzi_number]),
        (other_ura, "Ziekenhuis Oost (demo)", []),
    ):
        registered = demo.call(
            "RegisterOrganization",
            demo.operator.org.RegisterOrganization,
            organization_pb2.RegisterOrganizationRequest(
                ura=number, name=name, administrator_uzi_numbers=admins
            ),
        )
        org = registered.organization
        named = ", ".join(registered.administrator_uzi_numbers) or "none"
        demo.ok(f"{org.name}, URA {org.ura}; administrators designated: {named}")

    demo.say("a card of an unknown organisation: registration refused, contact the operator")
    stranger = demo.card(ura="7" + format(secrets.randbelow(10**7), "07d"))
    handle = uzi_session(demo, stranger, uzi_pb2.UZI_PURPOSE_REGISTRATION)
    terms = demo.call("GetTerms", demo.portal.reg.GetTerms, registration_pb2.GetTermsRequest())
    demo.refused(
        "StartRegistration",
        demo.portal.reg.StartRegistration,
        registration_pb2.StartRegistrationRequest(
            terms_version=terms.version, uzi_session_handle=handle
        ),
        Code.ZID_1602,
    )

    admin_phone, admin_der = register_user(demo, admin_card, "Administrator", "01-02-1975")

    demo.say("Administrator: validate the organisation -- terms, UZI-pas, name and URA, confirm")
    bound = validate_organisation(demo, admin_card, ura, terms.version)
    if bound.state != organization_pb2.ADMINISTRATOR_STATE_APPROVED:
        raise DemoFailed(f"step {demo.step}: the designated administrator was not approved")
    demo.ok(
        f"administrator of URA {bound.organization.ura} (designated by the operator), "
        f"bound to mobile ID {bound.mobile_id}"
    )

    admin = login(demo, admin_phone, admin_der, "Administrator")
    make_smartcard(demo, admin.session_handle, "Administrator")

    member_card = demo.card(ura=ura)
    member_phone, member_der = register_user(demo, member_card, "Member", "1988-11-30")
    member = login(demo, member_phone, member_der, "Member")

    demo.say("Member: validates the organisation too -- only a request, never demo-service")
    asked = validate_organisation(demo, member_card, ura, terms.version)
    if asked.state != organization_pb2.ADMINISTRATOR_STATE_PENDING:
        raise DemoFailed(f"step {demo.step}: a member's validation must wait for approval")
    demo.ok("waiting for approval by the operator or an administrator of the URA")
    demo.refused(
        "ListMembers",
        demo.portal.org.ListMembers,
        organization_pb2.ListMembersRequest(login_session_handle=member.session_handle),
        Code.ZID_1830,
    )

    demo.say("Member: register UZI attributes of a second card on the existing mobile ID")
    second = demo.card(ura=other_ura, uzi_number=member_card.card.uzi_number)
    uzi = uzi_session(demo, second, uzi_pb2.UZI_PURPOSE_ATTRIBUTE_REGISTRATION)
    done = demo.call(
        "RegisterAttributes",
        demo.portal.attrs.RegisterAttributes,
        attribute_pb2.RegisterAttributesRequest(
            login_session_handle=member.session_handle, uzi_session_handle=uzi
        ),
    )
    reason = certificate_pb2.RevocationReason.Name(done.superseded.revocation_reason)
    demo.ok(
        f"new certificate {done.certificate.serial} for the same phone key; "
        f"old {done.superseded.serial} revoked ({reason})"
    )
    current = demo.call(
        "GetCurrentCertificate",
        demo.mobile.attrs.GetCurrentCertificate,
        current_certificate_request(demo, member_phone),
    )
    demo.ok(f"the phone fetched its current certificate: serial {current.certificate.serial}")
    member_der = bytes(current.certificate.der)

    demo.say("an expired login QR: the phone scans it too late")
    made = demo.call(
        "CreateLoginChallenge",
        demo.portal.login.CreateLoginChallenge,
        login_pb2.CreateLoginChallengeRequest(),
    )
    expires = made.expires_at.ToDatetime(tzinfo=UTC)
    wait = max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 1.0
    demo.ok(f"login QR valid until {expires:%H:%M:%S} UTC (policy); waiting {wait:.0f} s")
    time.sleep(wait)
    polled = demo.call(
        "GetLoginChallenge",
        demo.portal.login.GetLoginChallenge,
        login_pb2.GetLoginChallengeRequest(challenge_id=made.challenge_id),
    )
    demo.ok(f"portal poll: {login_pb2.LoginState.Name(polled.state)}")
    if polled.state != login_pb2.LOGIN_STATE_EXPIRED:
        raise DemoFailed(f"step {demo.step}: expected EXPIRED")
    answer(demo, made.qr.payload, member_phone, member_der, expect=Code.ZID_1702)
    login(demo, member_phone, member_der, "Member (a click makes a new QR)")

    demo.say("PIN forgotten: the administrator lists the members and resets the member")
    admin = login(demo, admin_phone, admin_der, "Administrator")
    members = demo.call(
        "ListMembers",
        demo.portal.org.ListMembers,
        organization_pb2.ListMembersRequest(login_session_handle=admin.session_handle),
    ).members
    states = {
        organization_pb2.ADMINISTRATOR_STATE_PENDING: ", asks to be administrator",
        organization_pb2.ADMINISTRATOR_STATE_APPROVED: ", administrator",
    }
    demo.ok(
        "members: "
        + ", ".join(
            f"{m.given_names} {m.surname} (UZI {m.uzi_number}"
            f"{states.get(m.administrator_state, '')})"
            for m in members
        )
    )
    target = next(m for m in members if m.uzi_number == member_card.card.uzi_number)
    reset = demo.call(
        "ResetMember",
        demo.portal.org.ResetMember,
        organization_pb2.ResetMemberRequest(
            login_session_handle=admin.session_handle, person_id=target.person_id
        ),
    )
    demo.ok(
        f"revoked {', '.join(c.serial for c in reset.revoked)}; new registration QR "
        f"({demo.save_qr('reset', reset.qr.png)})"
    )
    demo.say("the member's old phone can no longer log in")
    made = demo.call(
        "CreateLoginChallenge",
        demo.portal.login.CreateLoginChallenge,
        login_pb2.CreateLoginChallengeRequest(),
    )
    answer(demo, made.qr.payload, member_phone, member_der, expect=Code.ZID_1704)

    demo.say("Member: re-enrolment -- the reinstalled app scans the new registration QR")
    new_phone, renewed = redeem(demo, reset.qr.payload)
    demo.ok(f"certificate serial {renewed.serial} for the same verified person")
    member = login(demo, new_phone, bytes(renewed.der), "Member (new phone)")

    demo.say("Member: revokes their own mobile ID (RFC 5280 cessationOfOperation)")
    revoked = demo.call(
        "RevokeCertificateWithSession",
        demo.portal.login.RevokeCertificateWithSession,
        login_pb2.RevokeCertificateWithSessionRequest(
            login_session_handle=member.session_handle,
            certificate_id=renewed.id,
            reason=certificate_pb2.REVOCATION_REASON_CESSATION_OF_OPERATION,
        ),
    )
    demo.ok(
        f"serial {revoked.certificate.serial} "
        f"{certificate_pb2.CertificateStatus.Name(revoked.certificate.status)} "
        f"({certificate_pb2.RevocationReason.Name(revoked.certificate.revocation_reason)})"
    )
    made = demo.call(
        "CreateLoginChallenge",
        demo.portal.login.CreateLoginChallenge,
        login_pb2.CreateLoginChallengeRequest(),
    )
    answer(demo, made.qr.payload, new_phone, bytes(renewed.der), expect=Code.ZID_1704)
    demo.out(f"demo complete: {demo.step} steps, every outcome as the manual describes")
