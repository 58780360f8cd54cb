"""Set-up by API for the browser tests of the stack: cards, phones, registered persons, and
a phone answering the portal tab's login QR.

What a test walks in Chromium is its own section; what comes before it (a registered
person with a phone, an approved administrator) is made here the way ``zorgid demo``
does (issuer/cli/demo_walk.py), as the portal, the phone's gateway and the operator, with
keys on a token of this test run's own.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from playwright.sync_api import Page, expect

from hsm import Hsm, KeySpec
from issuer.api.zorgid.v1 import (
    enrollment_pb2,
    login_pb2,
    organization_pb2,
    registration_pb2,
    uzi_pb2,
)
from issuer.cli.demo import dev_stubs, load_demo_world
from issuer.dev.pki import DevPki
from issuer.enrolment.tokens import parse_enrolment_uri
from issuer.flows.login import login_message
from issuer.qr import parse_login_uri
from testkit.desktop_app import DesktopApp
from testkit.phone import Phone
from tests.portal.conftest import Stack
from tests.softhsm import SoftHsmDir

ENGINE_LINE = re.compile(r"serving gRPC over mutual TLS on [\d.]+:(\d+)")


@dataclass
class Person:
    """A registered card holder: their card, their phone and its certificate."""

    card: DesktopApp
    phone: Phone
    der: bytes = field(repr=False)

    @property
    def uzi_number(self) -> str:
        return str(self.card.card.uzi_number)


@dataclass
class People:
    """The stack's engine as portal, phone gateway and operator, and a register of cards."""

    portal: Any
    mobile: Any
    operator: Any
    world: Any
    hsm: Hsm
    _made: int = 0

    @classmethod
    def of(cls, stack: Stack, softhsm_dir: SoftHsmDir) -> People:
        """One per stack (a token of one label is made once per token directory)."""
        known = _PEOPLE.get(stack.root)
        if known is not None:
            return known
        port = ENGINE_LINE.search(stack.output())
        assert port, "no engine port in the stack's output"
        target = f"localhost:{port.group(1)}"
        pki = DevPki(root=stack.root / "tls")
        token = softhsm_dir.init_token(f"portal-people-{secrets.token_hex(3)}")
        made = cls(
            portal=dev_stubs(pki, target, "portal"),
            mobile=dev_stubs(pki, target, "mobile"),
            operator=dev_stubs(pki, target, "operator"),
            world=load_demo_world(stack.root),
            hsm=Hsm.open(token.uri),
        )
        _PEOPLE[stack.root] = made
        return made

    def _label(self, kind: str) -> str:
        self._made += 1
        return f"{kind}-{self._made}-{secrets.token_hex(2)}"

    def organisation(self, admins: tuple[str, ...] = ()) -> str:
        """A new organisation (as the operator) of a fresh URA; its URA."""
        ura = "7" + format(secrets.randbelow(10**7), "07d")
        self.operator.org.RegisterOrganization(
            organization_pb2.RegisterOrganizationRequest(
                ura=ura, name=f"Praktijk {ura} (test)", administrator_uzi_numbers=list(admins)
            ),
            timeout=30,
        )
        return ura

    def card(self, ura: str, uzi_number: str | None = None) -> DesktopApp:
        key = self.hsm.generate_key(self._label("card"), KeySpec.RSA_2048)
        assert isinstance(key, rsa.RSAPrivateKey)
        made = self.world.issue_card("Z", uzi_number=uzi_number, ura=ura, auth_key=key)
        return DesktopApp(card=made, key=key)

    def uzi_session(self, card: DesktopApp, purpose: Any) -> str:
        challenge = self.portal.uzi.CreateUziChallenge(
            uzi_pb2.CreateUziChallengeRequest(), timeout=30
        )
        proof = self.portal.uzi.VerifyUziCard(
            uzi_pb2.VerifyUziCardRequest(
                challenge_id=challenge.challenge_id,
                certificate_chain=card.chain(),
                signature=card.sign(challenge.to_be_signed),
                signature_scheme=uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256,
                purpose=purpose,
            ),
            timeout=30,
        )
        return str(proof.session_handle)

    def register(self, card: DesktopApp, birth: str = "01-02-1975") -> Person:
        """Registered as user (terms, UZI-pas, birth date, confirm) with a phone enrolled."""
        reg = self.portal.reg
        terms = reg.GetTerms(registration_pb2.GetTermsRequest(), timeout=30)
        handle = self.uzi_session(card, uzi_pb2.UZI_PURPOSE_REGISTRATION)
        started = reg.StartRegistration(
            registration_pb2.StartRegistrationRequest(
                terms_version=terms.version, uzi_session_handle=handle
            ),
            timeout=30,
        ).registration
        shown = reg.SetBirthDate(
            registration_pb2.SetBirthDateRequest(registration_id=started.id, birth_date=birth),
            timeout=30,
        ).registration
        done = reg.ConfirmRegistration(
            registration_pb2.ConfirmRegistrationRequest(
                registration_id=started.id, summary_digest=shown.summary_digest
            ),
            timeout=30,
        )
        return self.enrol(card, done.qr.payload)

    def enrol(self, card: DesktopApp, payload: str) -> Person:
        """A new phone redeems a registration QR's payload."""
        phone = Phone.create(self.hsm, self._label("phone"), "ec-p256")
        token, _ = parse_enrolment_uri(payload)
        redeemed = self.mobile.enrol.RedeemEnrollment(
            enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=phone.csr()), timeout=30
        )
        return Person(card=card, phone=phone, der=bytes(redeemed.certificate.der))

    def validate(self, person: Person, ura: str) -> Any:
        """The person validates the organisation by API: ConfirmValidation's answer."""
        terms = self.portal.reg.GetTerms(registration_pb2.GetTermsRequest(), timeout=30)
        handle = self.uzi_session(person.card, uzi_pb2.UZI_PURPOSE_ORGANISATION_VALIDATION)
        started = self.portal.org.StartValidation(
            organization_pb2.StartValidationRequest(
                terms_version=terms.version, uzi_session_handle=handle, ura=ura
            ),
            timeout=30,
        )
        return self.portal.org.ConfirmValidation(
            organization_pb2.ConfirmValidationRequest(validation_id=started.validation_id),
            timeout=30,
        )

    def answer(self, payload: str, person: Person) -> None:
        """The person's phone accepts a login QR (as demo_walk.answer does)."""
        qr = parse_login_uri(payload)
        asked = self.mobile.login.DescribeLoginChallenge(
            login_pb2.DescribeLoginChallengeRequest(challenge_id=qr.challenge_id), timeout=30
        )
        at = datetime.now(UTC).replace(microsecond=0)
        key = person.phone.key
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        signature = key.sign(
            login_message(qr.challenge_id, qr.nonce, asked.portal_identity, at),
            ec.ECDSA(hashes.SHA256()),
        )
        request = login_pb2.AnswerLoginChallengeRequest(
            challenge_id=qr.challenge_id, certificate=person.der, signature=signature
        )
        request.signed_at.FromDatetime(at)
        self.mobile.login.AnswerLoginChallenge(request, timeout=30)

    def log_in(self, page: Page, portal: str, person: Person) -> None:
        """In the portal tab: the login QR, answered by the person's phone; the overview."""
        page.goto(portal)
        expect(page.locator("h1")).to_have_text("Inloggen")
        payload = page.locator("#login").get_attribute("data-payload")
        assert payload
        self.answer(payload, person)
        expect(page.locator("h1")).to_have_text("Overzicht")
        expect(page.locator('[data-attribute="uzi_number"]')).to_have_text(person.uzi_number)


_PEOPLE: dict[Any, People] = {}


@dataclass(frozen=True)
class DesktopCard:
    """A UZI-pas made in the Desktop App tab: its UZI number and security code."""

    uzi_number: str
    pin: str = field(repr=False)


def make_desktop_card(
    desktop: Page, desktop_url: str, ura: str, *, administrator: bool = False
) -> DesktopCard:
    """In the Desktop App tab: a new UZI-pas of one development organisation."""
    desktop.goto(desktop_url)
    desktop.locator("#organisation").select_option(ura)
    if administrator:
        desktop.locator("#administrator").check()
    desktop.locator("#make-card").click()
    expect(desktop.locator("#new-card-name")).to_have_text("Jan de Vries")
    return DesktopCard(
        desktop.locator("#new-card-uzi").inner_text(), desktop.locator("#new-card-pin").inner_text()
    )


def prove_in_desktop_app(page: Page, desktop: Page, card: DesktopCard) -> None:
    """The portal tab's UZI-pas step, answered in the Desktop App tab with ``card``."""
    expect(page.locator("h1")).to_have_text("UZI-pas")
    desktop.goto(page.locator("#open-desktop-app").get_attribute("href") or "")
    option = desktop.locator("#card option", has_text=f"UZI {card.uzi_number},").first
    desktop.locator("#card").select_option(option.get_attribute("value") or "")
    desktop.locator("#security-code").fill(card.pin)
    desktop.locator("#accept").click()
    expect(desktop.locator("#result-state")).to_contain_text("Verbonden")
