"""``zorgid demo``: walk the portal manual against a running ``make run``, step by step.

Plays every outside party with the project's test doubles, each key in its own
SoftHSM token under ``<data-dir>/demo/softhsm`` (this process's own token
directory, never the engine's): the UZI-pas desktop app (``demo-uzi-pas``),
the phones (``demo-phone``), and the portal, mobile gateway and operator back
ends through their development client certificates (``<data-dir>/tls/clients``).
Cards come from the test UZI-register the development environment made
(:func:`ensure_demo_world`), which the development policy trusts.

The walk: register organisations (operator) -> register a user (terms, UZI-pas,
card data, date of birth, summary, confirm, registration QR) -> the phone
redeems it -> validate the organisation -> log in by QR -> a second user ->
UZI attributes on an existing mobile ID -> an expired login QR -> PIN
forgotten and re-enrolment -> revocation by the holder. Every step prints what
it did and the outcome; secrets (QR tokens, session handles) are never
printed, QR images are written to ``<data-dir>/demo/qr/``. Exit 0 when the
walk reached its end, 1 with the step and catalogue code otherwise.

The test UZI-register (:func:`ensure_demo_world`, called by ``zorgid dev``):

The engine only accepts UZI-pas proofs that chain to its policy's trust set;
``make run`` must work without a real card, and the packaged trust sets
(``prod``, ``acc``) are never weakened. So the first ``zorgid dev`` start
makes a test register (:class:`testkit.uzi_world.UziWorld`) under
``<root>/uzi/``: its CA certificates as a trust-set folder (``trust/``) and --
because ``zorgid demo`` runs later, in another process, and must issue cards
for keys it makes on its own token -- the register's CA keys in ``private/``
(mode 0600; simulated outside world, development only). The development
policy written beside it (``<root>/policy/dev.toml``) is the packaged one with
that folder as its trust set and a 30-second login QR (the schema's minimum),
so the demo shows an expired QR in half a minute instead of five; the
packaged, acceptance and production policies keep the manual's 5 minutes.

Revocation stays ``soft`` (as in the packaged development policy): the test
register's CRL URLs are not served in development.

This is the one engine module that imports ``testkit`` (tests/test_architecture.py).
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from issuer.errors import Code
from issuer.files import make_private_dir, write_file
from testkit.uzi_world import TestCa, UziWorld

__all__ = ["ensure_demo_world", "load_demo_world", "register"]

CRL_BASE_URL: Final = "http://127.0.0.1:8089/uzi-test/"
LOGIN_SECONDS: Final = 30


def uzi_dir(root: Path) -> Path:
    return root / "uzi"


def policy_file(root: Path) -> Path:
    return root / "policy" / "dev.toml"


def _cas(world: UziWorld) -> dict[str, TestCa]:
    return {
        "root": world.root,
        "level2": world.level2,
        **{f"issuing-{t}": c for t, c in world.cas.items()},
    }


def ensure_demo_world(root: Path) -> tuple[Path, bool]:
    """Make ``<root>/uzi`` and ``<root>/policy/dev.toml`` if missing; ``(policy, made)``."""
    folder = uzi_dir(root)
    policy = policy_file(root)
    if (folder / "world.json").exists() and policy.exists():
        return policy, False
    world = UziWorld(now=datetime.now(UTC), base_url=CRL_BASE_URL)
    trust = world.write_trust_set(folder / "trust")
    private = folder / "private"
    private.mkdir(parents=True, exist_ok=True)
    private.chmod(0o700)
    index = {}
    for name, ca in _cas(world).items():
        key_path = private / f"{name}.key"
        key_path.write_bytes(
            ca.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        (private / f"{name}.pem").write_bytes(ca.pem)
        index[name] = ca.crl_path
    (folder / "world.json").write_text(
        json.dumps({"base_url": CRL_BASE_URL, "prefix": world.prefix, "cas": index}, indent=2)
    )
    text = resources.files("policies").joinpath("default.toml").read_text(encoding="utf-8")
    text = text.replace('trust_set = "acc"', f'trust_set = "{trust}"', 1)
    text = text.replace("login_seconds = 300 ", f"login_seconds = {LOGIN_SECONDS}  ", 1)
    text = text.replace('version = "dev-1"', 'version = "dev-1-uzitest"', 1)
    if f'trust_set = "{trust}"' not in text or f"login_seconds = {LOGIN_SECONDS}" not in text:
        raise RuntimeError("policies/default.toml changed shape; update issuer/cli/demo.py")
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(
        "# Written by `zorgid dev` (issuer/cli/demo.py): the packaged development policy\n"
        f"# with the test UZI-register in {trust} as trust set and a {LOGIN_SECONDS}-second\n"
        "# login QR so `zorgid demo` shows an expired QR quickly. Development only.\n" + text
    )
    return policy, True


def load_demo_world(root: Path) -> UziWorld:
    """The register made by :func:`ensure_demo_world`, able to issue new cards.

    Rebuilt without ``UziWorld.__init__`` (which would make new CAs): the CA
    keys and certificates come from ``private/``; serials and UZI numbers
    start at random points so cards of several demo runs never collide.
    """
    folder = uzi_dir(root)
    index = json.loads((folder / "world.json").read_text())
    private = folder / "private"

    def ca(name: str) -> TestCa:
        key = serialization.load_pem_private_key((private / f"{name}.key").read_bytes(), None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError(f"{name}.key: expected an RSA key")
        cert = x509.load_pem_x509_certificate((private / f"{name}.pem").read_bytes())
        return TestCa(cert.subject, key, cert, index["cas"][name])

    world = UziWorld.__new__(UziWorld)
    world.now = datetime.now(UTC)
    world.base_url = str(index["base_url"]).rstrip("/")
    world.prefix = str(index["prefix"])
    world._serial = secrets.randbits(40) | (1 << 40)
    world._uzi = 900000000 + secrets.randbelow(90000000)
    world.root = ca("root")
    world.level2 = ca("level2")
    world.cas = {
        name.removeprefix("issuing-"): ca(name)
        for name in index["cas"]
        if name.startswith("issuing-")
    }
    world._shared_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    world.broken_keys = {}
    return world


class DemoFailed(Exception):
    """A step did not have the outcome the manual describes."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="walk the portal manual (register, login, organisation, attributes, PIN reset, "
        "revoke) against a running `make run`",
    )
    parser.add_argument(
        "--data-dir", default="var", help="the development environment folder (default: var)"
    )
    parser.add_argument(
        "--target", default=None, help="host:port of the engine (default: [server] listen)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    root = Path(args.data_dir).resolve()
    if not (root / "zorgid.toml").exists():
        print(f"no development environment in {root}: start it first with `make run`")
        return 2
    try:
        Demo(root, args.target, out=print).walk()
    except DemoFailed as exc:
        print(f"FAILED: {exc}")
        return 1
    return 0


def _reason(err: Any) -> str:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(err)
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return str(info.reason)
    return str(err.code().name)


class Demo:
    """The walk; one method per part of the manual."""

    def __init__(self, root: Path, target: str | None, *, out: Callable[[str], None]) -> None:
        from issuer.config import load_config
        from issuer.dev.pki import DevPki
        from issuer.dev.softhsm import SoftHsmDir

        self.root = root
        self.out = out
        self.step = 0
        config = load_config(root / "zorgid.toml")
        port = config.server.listen.rpartition(":")[2]
        self.target = target or f"localhost:{port}"
        self.pki = DevPki(root=root / "tls")
        folder = root / "demo" / "softhsm"
        hsm_dir = SoftHsmDir(folder) if folder.exists() else SoftHsmDir.create(folder)
        hsm_dir.activate()  # this process's tokens only, before PKCS#11 is loaded
        self.cards_hsm = self._token(hsm_dir, "demo-uzi-pas")
        self.phones_hsm = self._token(hsm_dir, "demo-phone")
        self.world = load_demo_world(root)
        self.qr_dir = root / "demo" / "qr"
        make_private_dir(self.qr_dir)  # the registration QR holds a redeemable token
        self.run = secrets.token_hex(3)
        self.portal = self._stubs("portal")
        self.mobile = self._stubs("mobile")
        self.operator = self._stubs("operator")

    # -- plumbing ------------------------------------------------------------------------

    @staticmethod
    def _token(hsm_dir: Any, label: str) -> Any:
        from issuer.dev.softhsm import SOFTHSM_MODULE
        from issuer.wiring import open_token

        if not hsm_dir.has_token(label):
            hsm_dir.init_token(label)
        pin = hsm_dir.root / f"{label}.pin"
        uri = f"pkcs11:token={label}?module-path={SOFTHSM_MODULE}&pin-source=file:{pin}"
        return open_token(uri)

    def _stubs(self, role: str) -> Any:
        import grpc

        from issuer.api.zorgid.v1 import (
            attribute_pb2_grpc,
            certificate_pb2_grpc,
            enrollment_pb2_grpc,
            login_pb2_grpc,
            organization_pb2_grpc,
            registration_pb2_grpc,
            uzi_pb2_grpc,
        )

        creds = grpc.ssl_channel_credentials(
            root_certificates=self.pki.client_ca_cert.read_bytes(),
            private_key=self.pki.client_key(role).read_bytes(),
            certificate_chain=self.pki.client_cert(role).read_bytes(),
        )
        channel = grpc.secure_channel(self.target, creds)

        class Stubs:
            uzi = uzi_pb2_grpc.UziServiceStub(channel)  # type: ignore[no-untyped-call]
            reg = registration_pb2_grpc.RegistrationServiceStub(channel)  # type: ignore[no-untyped-call]
            login = login_pb2_grpc.LoginServiceStub(channel)  # type: ignore[no-untyped-call]
            org = organization_pb2_grpc.OrganizationServiceStub(channel)  # type: ignore[no-untyped-call]
            attrs = attribute_pb2_grpc.AttributeServiceStub(channel)  # type: ignore[no-untyped-call]
            enrol = enrollment_pb2_grpc.EnrollmentServiceStub(channel)  # type: ignore[no-untyped-call]
            certs = certificate_pb2_grpc.CertificateServiceStub(channel)  # type: ignore[no-untyped-call]

        return Stubs()

    def say(self, title: str) -> None:
        self.step += 1
        self.out(f"[{self.step:2d}] {title}")

    def ok(self, outcome: str) -> None:
        self.out(f"     -> {outcome}")

    def call(self, what: str, fn: Callable[..., Any], request: Any) -> Any:
        import grpc

        try:
            return fn(request, timeout=60)
        except grpc.RpcError as err:
            raise DemoFailed(f"step {self.step}: {what}: {_reason(err)} {err.details()}") from None

    def refused(self, what: str, fn: Callable[..., Any], request: Any, code: Code) -> None:
        import grpc

        try:
            fn(request, timeout=60)
        except grpc.RpcError as err:
            got = _reason(err)
            if got != code:
                raise DemoFailed(f"step {self.step}: {what}: got {got}; expected {code}") from None
            self.ok(f"refused as expected: {got} ({err.details()})")
            return
        raise DemoFailed(f"step {self.step}: {what} was accepted; expected refusal {code}")

    def card(self, *, ura: str, uzi_number: str | None = None) -> Any:
        """A UZI-pas: key made on the desktop app's token, certified by the test register."""
        from cryptography.hazmat.primitives.asymmetric import rsa

        from hsm import KeySpec
        from testkit.desktop_app import DesktopApp

        key = self.cards_hsm.generate_key(
            f"card-{self.run}-{self.step}-{secrets.token_hex(2)}", KeySpec.RSA_2048
        )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise DemoFailed("the desktop app's token gave no RSA key")
        return DesktopApp(
            card=self.world.issue_card("Z", uzi_number=uzi_number, ura=ura, auth_key=key), key=key
        )

    def phone(self) -> Any:
        from testkit.phone import Phone

        return Phone.create(self.phones_hsm, f"phone-{self.run}-{secrets.token_hex(3)}", "ec-p256")

    def save_qr(self, name: str, png: bytes) -> Path:
        path = self.qr_dir / f"{self.run}-{name}.png"
        write_file(path, png, exclusive=False)  # 0600: a QR is a bearer token
        return path

    # -- the manual's steps ---------------------------------------------------------------

    def uzi_session(self, app: Any, purpose: Any) -> str:
        from issuer.api.zorgid.v1 import uzi_pb2

        challenge = self.call(
            "CreateUziChallenge",
            self.portal.uzi.CreateUziChallenge,
            uzi_pb2.CreateUziChallengeRequest(),
        )
        proof = self.call(
            "VerifyUziCard",
            self.portal.uzi.VerifyUziCard,
            uzi_pb2.VerifyUziCardRequest(
                challenge_id=challenge.challenge_id,
                certificate_chain=app.chain(),
                signature=app.sign(challenge.to_be_signed),
                signature_scheme=uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256,
                purpose=purpose,
            ),
        )
        self.ok(
            f"UZI-pas proven: {proof.identity.common_name}, UZI {proof.identity.uzi_number}, "
            f"URA {proof.identity.subscriber_number}, role {proof.identity.role}"
        )
        return str(proof.session_handle)

    def register_user(self, app: Any, who: str, birth: str) -> tuple[Any, bytes]:
        from issuer.api.zorgid.v1 import enrollment_pb2, registration_pb2, uzi_pb2
        from issuer.enrolment.tokens import parse_enrolment_uri

        self.say(f"{who}: register as user -- terms, UZI-pas, card data, date of birth, confirm")
        terms = self.call("GetTerms", self.portal.reg.GetTerms, registration_pb2.GetTermsRequest())
        self.ok(f"terms version {terms.version} shown and accepted")
        handle = self.uzi_session(app, uzi_pb2.UZI_PURPOSE_REGISTRATION)
        started = self.call(
            "StartRegistration",
            self.portal.reg.StartRegistration,
            registration_pb2.StartRegistrationRequest(
                terms_version=terms.version, uzi_session_handle=handle
            ),
        ).registration
        self.ok(f"card data shown: {started.identity.common_name} at {started.organization_name}")
        shown = self.call(
            "SetBirthDate",
            self.portal.reg.SetBirthDate,
            registration_pb2.SetBirthDateRequest(registration_id=started.id, birth_date=birth),
        ).registration
        self.ok(f"date of birth {birth} -> {shown.birth_date}; summary shown")
        done = self.call(
            "ConfirmRegistration",
            self.portal.reg.ConfirmRegistration,
            registration_pb2.ConfirmRegistrationRequest(
                registration_id=started.id, summary_digest=shown.summary_digest
            ),
        )
        path = self.save_qr(f"registration-{who.split()[0].lower()}", done.qr.png)
        until = done.registration.qr_expires_at.ToDatetime(tzinfo=UTC)
        self.ok(
            f"confirmed, data frozen; registration QR valid until {until:%Y-%m-%d %H:%M} UTC "
            f"({path})"
        )

        self.say(f"{who}: the phone scans the registration QR and installs the mobile ID")
        phone = self.phone()
        token, host = parse_enrolment_uri(done.qr.payload)
        redeemed = self.call(
            "RedeemEnrollment",
            self.mobile.enrol.RedeemEnrollment,
            enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=phone.csr()),
        )
        polled = self.call(
            "GetRegistration",
            self.portal.reg.GetRegistration,
            registration_pb2.GetRegistrationRequest(registration_id=started.id),
        ).registration
        state = registration_pb2.RegistrationState.Name(polled.state)
        if polled.state != registration_pb2.REGISTRATION_STATE_REDEEMED:
            raise DemoFailed(f"step {self.step}: the portal's poll says {state}; expected REDEEMED")
        self.ok(
            f"certificate serial {redeemed.certificate.serial} issued (QR host {host}); "
            f"portal poll: {state}"
        )
        return phone, bytes(redeemed.certificate.der)

    def login(self, phone: Any, der: bytes, who: str) -> Any:
        from issuer.api.zorgid.v1 import login_pb2

        self.say(f"{who}: log in by QR")
        made = self.call(
            "CreateLoginChallenge",
            self.portal.login.CreateLoginChallenge,
            login_pb2.CreateLoginChallengeRequest(),
        )
        self.ok(f"login QR shown ({self.save_qr('login', made.qr.png)})")
        self.answer(made.qr.payload, phone, der)
        polled = self.call(
            "GetLoginChallenge",
            self.portal.login.GetLoginChallenge,
            login_pb2.GetLoginChallengeRequest(challenge_id=made.challenge_id),
        )
        state = login_pb2.LoginState.Name(polled.state)
        if polled.state != login_pb2.LOGIN_STATE_AUTHENTICATED:
            raise DemoFailed(f"step {self.step}: login poll says {state}; expected AUTHENTICATED")
        self.ok(
            f"{state}: {polled.attributes.common_name}, UZI {polled.attributes.uzi_number}, "
            f"URA {polled.attributes.ura}; login session opened"
        )
        return polled

    def current_certificate_request(self, phone: Any) -> Any:
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

    def answer(self, payload: str, phone: Any, der: bytes, *, expect: Code | None = None) -> None:
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
            asked = self.call(
                "DescribeLoginChallenge", self.mobile.login.DescribeLoginChallenge, describe
            )
            self.ok(f"phone shows: log in to {asked.portal_name!r}? -- the user accepts")
        else:
            # The phone signs what it can: an answer that does not verify changes nothing.
            try:
                asked = self.mobile.login.DescribeLoginChallenge(describe, timeout=30)
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
            self.call("AnswerLoginChallenge", self.mobile.login.AnswerLoginChallenge, request)
        else:
            self.refused(
                "AnswerLoginChallenge", self.mobile.login.AnswerLoginChallenge, request, expect
            )

    def walk(self) -> None:
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
        self.out(f"ZORG-ID demo against {self.target} (run {self.run})")

        admin_card = self.card(ura=ura)
        self.say(
            "operator pre-registers two organisations (URA + name), designating the first's "
            "administrator by UZI number"
        )
        for number, name, admins in (
            (ura, "Huisartsenpraktijk De Eik (demo)", [admin_card.card.uzi_number]),
            (other_ura, "Ziekenhuis Oost (demo)", []),
        ):
            registered = self.call(
                "RegisterOrganization",
                self.operator.org.RegisterOrganization,
                organization_pb2.RegisterOrganizationRequest(
                    ura=number, name=name, administrator_uzi_numbers=admins
                ),
            )
            org = registered.organization
            named = ", ".join(registered.administrator_uzi_numbers) or "none"
            self.ok(f"{org.name}, URA {org.ura}; administrators designated: {named}")

        self.say("a card of an unknown organisation: registration refused, contact the operator")
        stranger = self.card(ura="7" + format(secrets.randbelow(10**7), "07d"))
        handle = self.uzi_session(stranger, uzi_pb2.UZI_PURPOSE_REGISTRATION)
        terms = self.call("GetTerms", self.portal.reg.GetTerms, registration_pb2.GetTermsRequest())
        self.refused(
            "StartRegistration",
            self.portal.reg.StartRegistration,
            registration_pb2.StartRegistrationRequest(
                terms_version=terms.version, uzi_session_handle=handle
            ),
            Code.ZID_1602,
        )

        admin_phone, admin_der = self.register_user(admin_card, "Administrator", "01-02-1975")

        self.say(
            "Administrator: validate the organisation -- terms, UZI-pas, name and URA, confirm"
        )
        handle = self.uzi_session(admin_card, uzi_pb2.UZI_PURPOSE_ORGANISATION_VALIDATION)
        started = self.call(
            "StartValidation",
            self.portal.org.StartValidation,
            organization_pb2.StartValidationRequest(
                terms_version=terms.version, uzi_session_handle=handle, ura=ura
            ),
        )
        self.ok(f"shown: {started.organization.name}, URA {started.organization.ura}")
        bound = self.call(
            "ConfirmValidation",
            self.portal.org.ConfirmValidation,
            organization_pb2.ConfirmValidationRequest(validation_id=started.validation_id),
        )
        if bound.state != organization_pb2.ADMINISTRATOR_STATE_APPROVED:
            raise DemoFailed(f"step {self.step}: the designated administrator was not approved")
        self.ok(
            f"administrator of URA {bound.organization.ura} (designated by the operator), "
            f"bound to mobile ID {bound.mobile_id}"
        )

        self.login(admin_phone, admin_der, "Administrator")

        member_card = self.card(ura=ura)
        member_phone, member_der = self.register_user(member_card, "Member", "1988-11-30")
        member = self.login(member_phone, member_der, "Member")

        self.say("Member: validates the organisation too -- only a request, never self-service")
        handle = self.uzi_session(member_card, uzi_pb2.UZI_PURPOSE_ORGANISATION_VALIDATION)
        started = self.call(
            "StartValidation",
            self.portal.org.StartValidation,
            organization_pb2.StartValidationRequest(
                terms_version=terms.version, uzi_session_handle=handle, ura=ura
            ),
        )
        asked = self.call(
            "ConfirmValidation",
            self.portal.org.ConfirmValidation,
            organization_pb2.ConfirmValidationRequest(validation_id=started.validation_id),
        )
        if asked.state != organization_pb2.ADMINISTRATOR_STATE_PENDING:
            raise DemoFailed(f"step {self.step}: a member's validation must wait for approval")
        self.ok("waiting for approval by the operator or an administrator of the URA")
        self.refused(
            "ListMembers",
            self.portal.org.ListMembers,
            organization_pb2.ListMembersRequest(login_session_handle=member.session_handle),
            Code.ZID_1830,
        )

        self.say("Member: register UZI attributes of a second card on the existing mobile ID")
        second = self.card(ura=other_ura, uzi_number=member_card.card.uzi_number)
        uzi = self.uzi_session(second, uzi_pb2.UZI_PURPOSE_ATTRIBUTE_REGISTRATION)
        done = self.call(
            "RegisterAttributes",
            self.portal.attrs.RegisterAttributes,
            attribute_pb2.RegisterAttributesRequest(
                login_session_handle=member.session_handle, uzi_session_handle=uzi
            ),
        )
        reason = certificate_pb2.RevocationReason.Name(done.superseded.revocation_reason)
        self.ok(
            f"new certificate {done.certificate.serial} for the same phone key; "
            f"old {done.superseded.serial} revoked ({reason})"
        )
        current = self.call(
            "GetCurrentCertificate",
            self.mobile.attrs.GetCurrentCertificate,
            self.current_certificate_request(member_phone),
        )
        self.ok(f"the phone fetched its current certificate: serial {current.certificate.serial}")
        member_der = bytes(current.certificate.der)

        self.say("an expired login QR: the phone scans it too late")
        made = self.call(
            "CreateLoginChallenge",
            self.portal.login.CreateLoginChallenge,
            login_pb2.CreateLoginChallengeRequest(),
        )
        expires = made.expires_at.ToDatetime(tzinfo=UTC)
        wait = max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 1.0
        self.ok(f"login QR valid until {expires:%H:%M:%S} UTC (policy); waiting {wait:.0f} s")
        time.sleep(wait)
        polled = self.call(
            "GetLoginChallenge",
            self.portal.login.GetLoginChallenge,
            login_pb2.GetLoginChallengeRequest(challenge_id=made.challenge_id),
        )
        self.ok(f"portal poll: {login_pb2.LoginState.Name(polled.state)}")
        if polled.state != login_pb2.LOGIN_STATE_EXPIRED:
            raise DemoFailed(f"step {self.step}: expected EXPIRED")
        self.answer(made.qr.payload, member_phone, member_der, expect=Code.ZID_1702)
        self.login(member_phone, member_der, "Member (a click makes a new QR)")

        self.say("PIN forgotten: the administrator lists the members and resets the member")
        admin = self.login(admin_phone, admin_der, "Administrator")
        members = self.call(
            "ListMembers",
            self.portal.org.ListMembers,
            organization_pb2.ListMembersRequest(login_session_handle=admin.session_handle),
        ).members
        states = {
            organization_pb2.ADMINISTRATOR_STATE_PENDING: ", asks to be administrator",
            organization_pb2.ADMINISTRATOR_STATE_APPROVED: ", administrator",
        }
        self.ok(
            "members: "
            + ", ".join(
                f"{m.given_names} {m.surname} (UZI {m.uzi_number}"
                f"{states.get(m.administrator_state, '')})"
                for m in members
            )
        )
        target = next(m for m in members if m.uzi_number == member_card.card.uzi_number)
        reset = self.call(
            "ResetMember",
            self.portal.org.ResetMember,
            organization_pb2.ResetMemberRequest(
                login_session_handle=admin.session_handle, person_id=target.person_id
            ),
        )
        self.ok(
            f"revoked {', '.join(c.serial for c in reset.revoked)}; new registration QR "
            f"({self.save_qr('reset', reset.qr.png)})"
        )
        self.say("the member's old phone can no longer log in")
        made = self.call(
            "CreateLoginChallenge",
            self.portal.login.CreateLoginChallenge,
            login_pb2.CreateLoginChallengeRequest(),
        )
        self.answer(made.qr.payload, member_phone, member_der, expect=Code.ZID_1704)

        self.say("Member: re-enrolment -- the reinstalled app scans the new registration QR")
        from issuer.api.zorgid.v1 import enrollment_pb2
        from issuer.enrolment.tokens import parse_enrolment_uri

        new_phone = self.phone()
        token, _ = parse_enrolment_uri(reset.qr.payload)
        redeemed = self.call(
            "RedeemEnrollment",
            self.mobile.enrol.RedeemEnrollment,
            enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=new_phone.csr()),
        )
        self.ok(f"certificate serial {redeemed.certificate.serial} for the same verified person")
        member = self.login(new_phone, bytes(redeemed.certificate.der), "Member (new phone)")

        self.say("Member: revokes their own mobile ID (RFC 5280 cessationOfOperation)")
        revoked = self.call(
            "RevokeCertificateWithSession",
            self.portal.login.RevokeCertificateWithSession,
            login_pb2.RevokeCertificateWithSessionRequest(
                login_session_handle=member.session_handle,
                certificate_id=redeemed.certificate.id,
                reason=certificate_pb2.REVOCATION_REASON_CESSATION_OF_OPERATION,
            ),
        )
        self.ok(
            f"serial {revoked.certificate.serial} "
            f"{certificate_pb2.CertificateStatus.Name(revoked.certificate.status)} "
            f"({certificate_pb2.RevocationReason.Name(revoked.certificate.revocation_reason)})"
        )
        made = self.call(
            "CreateLoginChallenge",
            self.portal.login.CreateLoginChallenge,
            login_pb2.CreateLoginChallengeRequest(),
        )
        self.answer(
            made.qr.payload, new_phone, bytes(redeemed.certificate.der), expect=Code.ZID_1704
        )
        self.out(f"demo complete: {self.step} steps, every outcome as the manual describes")
