"""Set-up by API for the browser tests of the stack: organisations, cards, registered
persons, a phone answering the portal tab's login QR; and the Desktop App tab's UZI-pas.

What a test walks in Chromium is its own section; what comes before it (a registered
person with a phone, an approved administrator) is made the way ``zorgid demo`` makes it:
:class:`People` is a :class:`~issuer.cli.demo.Demo` on the stack's engine whose keys live
on this run's own token directory, driven by :mod:`issuer.cli.demo_walk`'s steps. Its
steps print to the captured output, so a failing test shows the walk that led to it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509
from playwright.sync_api import Page, expect

from devapps.world import DEV_ORGANISATIONS
from issuer.api.zorgid.v1 import certificate_pb2, organization_pb2, registration_pb2
from issuer.cli.demo import Demo
from issuer.cli.demo_walk import (
    answer,
    confirm_registration,
    redeem,
    register_user,
    validate_organisation,
)

if TYPE_CHECKING:
    from tests.portal.conftest import Stack
    from tests.softhsm import SoftHsmDir

ZUID = DEV_ORGANISATIONS[1][0]
"""Ziekenhuis Zuid (ontwikkeling): registered by the stack at start, no designated administrator."""


def engine_target(stack: Stack) -> str:
    """The stack engine's gRPC address, as its log names it."""
    found = re.search(r"serving gRPC over mutual TLS on [\d.]+:(\d+)", stack.output())
    assert found, f"no engine port in:\n{stack.output()}"
    return f"localhost:{found.group(1)}"


@dataclass
class Person:
    """A registered card holder: their card, their phone and its certificate."""

    card: Any
    phone: Any
    der: bytes = field(repr=False)

    @property
    def uzi_number(self) -> str:
        return str(self.card.card.uzi_number)

    @property
    def serial(self) -> str:
        return format(x509.load_der_x509_certificate(self.der).serial_number, "x")


class People(Demo):
    """The stack's engine as portal, phone gateway and operator (``zorgid demo``'s clients),
    with the cards' and phones' keys on this run's own tokens."""

    def __init__(self, stack: Stack, softhsm: SoftHsmDir) -> None:
        super().__init__(stack.root, engine_target(stack), out=print, softhsm=softhsm)

    def organisation(self, admins: tuple[str, ...] = ()) -> str:
        """A new organisation (as the operator) of a fresh URA; its URA."""
        ura = "7" + format(secrets.randbelow(10**7), "07d")
        self.call(
            "RegisterOrganization",
            self.operator.org.RegisterOrganization,
            organization_pb2.RegisterOrganizationRequest(
                ura=ura, name=f"Praktijk {ura} (test)", administrator_uzi_numbers=list(admins)
            ),
        )
        return ura

    def register(self, card: Any, birth: str = "01-02-1975") -> Person:
        """Registered as user (terms, UZI-pas, birth date, confirm) with a phone enrolled."""
        phone, der = register_user(self, card, "Tester", birth)
        return Person(card=card, phone=phone, der=der)

    def registration_qr(self, ura: str = ZUID, birth: str = "1980-03-15") -> tuple[str, str]:
        """A new card holder of ``ura`` registered up to the registration QR, for a phone of
        the Mobile App tab: (its payload, their UZI number, which tells holders apart)."""
        card = self.card(ura=ura)
        done = confirm_registration(self, card, "Tester", birth)
        return str(done.qr.payload), str(card.card.uzi_number)

    def enrol(self, card: Any, payload: str) -> Person:
        """A new phone redeems a registration QR's payload (a reset's, say)."""
        phone, certificate = redeem(self, payload)
        return Person(card=card, phone=phone, der=bytes(certificate.der))

    def validate(self, person: Person, ura: str) -> Any:
        """The person validates the organisation by API: ConfirmValidation's answer."""
        terms = self.call("GetTerms", self.portal.reg.GetTerms, registration_pb2.GetTermsRequest())
        return validate_organisation(self, person.card, ura, terms.version)

    def certificate(self, person: Person) -> Any:
        """The engine's record of the person's certificate (its id, mobile ID, status)."""
        return self.call(
            "GetCertificate",
            self.operator.certs.GetCertificate,
            certificate_pb2.GetCertificateRequest(serial=person.serial),
        ).certificate

    def log_in(self, page: Page, portal: str, person: Person) -> None:
        """In the portal tab: the login QR, answered by the person's phone; the overview."""
        page.goto(portal)
        expect(page.locator("h1")).to_have_text("Inloggen")
        payload = page.locator("#login").get_attribute("data-payload")
        assert payload
        answer(self, payload, person.phone, person.der)
        expect(page.locator("h1")).to_have_text("Overzicht")
        expect(page.locator('[data-attribute="uzi_number"]')).to_have_text(person.uzi_number)


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
