"""Manual §4 "Organisatie valideren" in Chromium against ``make run``'s stack: the
designated administrator becomes administrator at once (the result names their mobile ID);
another card holder of the URA waits for approval, which an administrator gives in the
portal; a card of another URA is refused with the engine's code and text.

The card holder's UZI-pas is made in the Desktop App tab; their registration as user
(manual §3, not this section) is set up by API with the same UZI number.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from devapps.world import DEV_ORGANISATIONS
from issuer.api.zorgid.v1 import organization_pb2
from tests.portal.conftest import Stack, Window, shot
from tests.portal.people import (
    DesktopCard,
    People,
    make_desktop_card,
    prove_in_desktop_app,
)

URA, NAME, (ADMIN,) = DEV_ORGANISATIONS[0]
OTHER_URA = DEV_ORGANISATIONS[1][0]


@pytest.fixture
def second_window(chromium: Browser) -> Iterator[Window]:
    """Another person's browser beside ``window``; it too fails the test on console errors."""
    context = chromium.new_context(viewport={"width": 900, "height": 800})
    made = Window(context, [])
    try:
        yield made
    finally:
        context.close()
    assert made.problems == [], made.problems


def validate(page: Page, desktop: Page, card: DesktopCard, ura: str = "") -> None:
    """From the overview: terms accepted, URA (if given), the UZI-pas proven."""
    page.get_by_role("link", name="Organisatie valideren").click()
    expect(page.locator("h1")).to_have_text("Organisatie valideren")
    if ura:
        page.get_by_label("URA-nummer van de organisatie (8 cijfers)").fill(ura)
    page.get_by_label("Ik ga akkoord met de voorwaarden").check()
    page.get_by_role("button", name="Verder met UZI-pas").click()
    prove_in_desktop_app(page, desktop, card)


def test_the_designated_administrator_validates_the_organisation(
    stack: Stack, window: Window, people: People
) -> None:
    page, desktop = window.tab(), window.tab()
    card = make_desktop_card(desktop, stack.desktop_app, URA, administrator=True)
    assert card.uzi_number == ADMIN
    admin = people.register(people.card(ura=URA, uzi_number=ADMIN))
    people.log_in(page, stack.portal, admin)

    page.get_by_role("link", name="Organisatie valideren").click()
    expect(page.locator("h1")).to_have_text("Organisatie valideren")
    expect(page.locator("#org-terms")).not_to_be_empty()
    expect(page.get_by_label("URA-nummer van de organisatie (8 cijfers)")).to_have_value(URA)
    shot(page, "figure-18-organisatie-voorwaarden.png")
    page.get_by_role("button", name="Verder met UZI-pas").click()  # terms not accepted
    expect(page.get_by_label("Ik ga akkoord met de voorwaarden")).not_to_be_checked()
    expect(page.locator("h1")).to_have_text("Organisatie valideren")
    page.get_by_label("Ik ga akkoord met de voorwaarden").check()
    page.get_by_role("button", name="Verder met UZI-pas").click()
    expect(page.locator("h1")).to_have_text("UZI-pas")
    shot(page, "figure-19-organisatie-uzi-pas.png")
    prove_in_desktop_app(page, desktop, card)

    expect(page).to_have_url(f"{stack.portal}organisatie/gegevens")
    expect(page.locator("h1")).to_have_text("Gegevens van de organisatie")
    expect(page.locator("#org-name")).to_have_text(NAME)
    expect(page.locator("#org-ura")).to_have_text(URA)
    expect(page.locator("#org-uzi-number")).to_have_text(ADMIN)
    shot(page, "figure-20-organisatie-gegevens.png")
    page.get_by_role("button", name="Bevestigen").click()

    expect(page.locator("h1")).to_have_text("Organisatie gevalideerd")
    expect(page.get_by_role("status")).to_have_text("U bent beheerder van deze organisatie.")
    expect(page.locator("#org-mobile-id")).to_have_text(people.certificate(admin).mobile_id)
    expect(page.locator("#org-outcome")).to_contain_text("waarmee u nu bent ingelogd")
    shot(page, "figure-21-organisatie-beheerder.png")

    page.get_by_role("link", name="Naar het overzicht").click()
    page.get_by_role("link", name="Medewerkers (PIN vergeten)").click()
    expect(page.locator(f'#members tr[data-uzi-number="{ADMIN}"]')).to_contain_text("beheerder")


def test_another_card_holder_waits_until_an_administrator_approves(
    stack: Stack, window: Window, second_window: Window, people: People
) -> None:
    admin = people.register(
        people.card(ura=URA, uzi_number=ADMIN)
    )  # their own §4 is the test above
    assert people.validate(admin, URA).state == organization_pb2.ADMINISTRATOR_STATE_APPROVED
    page, desktop = window.tab(), window.tab()
    card = make_desktop_card(desktop, stack.desktop_app, URA)
    requester = people.register(people.card(ura=URA, uzi_number=card.uzi_number))
    people.log_in(page, stack.portal, requester)

    validate(page, desktop, card, ura=OTHER_URA)  # the card is not of this URA
    expect(page.locator("#error-code")).to_have_text("ZID-1803")
    expect(page.locator("#error-text")).to_contain_text("andere organisatie (URA)")
    shot(page, "figure-22-organisatie-andere-ura.png")
    page.get_by_role("link", name="Terug").click()
    expect(page.locator("h1")).to_have_text("Organisatie valideren")
    page.goto(stack.portal + "overzicht")

    validate(page, desktop, card, ura=URA)
    expect(page.locator("#org-name")).to_have_text(NAME)
    page.get_by_role("button", name="Bevestigen").click()
    expect(page.locator("h1")).to_have_text("Wachten op goedkeuring")
    expect(page.get_by_role("status")).to_contain_text("wacht op goedkeuring")
    expect(page.locator("#org-mobile-id")).to_have_count(0)
    page.get_by_role("link", name="Status opnieuw controleren").click()
    expect(page.locator("h1")).to_have_text("Wachten op goedkeuring")
    shot(page, "figure-23-organisatie-wachten.png")
    page.goto(stack.portal + "organisatie/resultaat?lang=en")
    expect(page.locator("h1")).to_have_text("Waiting for approval")
    expect(page.get_by_role("status")).to_contain_text("waiting for approval")
    page.goto(stack.portal + "medewerkers?lang=nl")  # a requester is no administrator yet
    expect(page.locator("#error-code")).to_have_text("ZID-1830")
    expect(page.locator("#error-text")).to_contain_text("wacht op goedkeuring")
    page.goto(stack.portal + "organisatie/resultaat")

    other = second_window.tab()
    people.log_in(other, stack.portal, admin)
    other.get_by_role("link", name="Verzoeken om beheerder te worden").click()
    row = other.locator(f'#org-requests tr[data-uzi-number="{card.uzi_number}"]')
    expect(row).to_contain_text("Jan de Vries")
    expect(row).to_contain_text(URA)
    shot(other, "figure-24-organisatie-verzoeken.png")
    row.get_by_role("button", name="Goedkeuren").click()
    expect(other.get_by_role("status")).to_have_text(f"Jan de Vries is nu beheerder van {NAME}.")
    expect(row).to_have_count(0)

    page.get_by_role("link", name="Status opnieuw controleren").click()
    expect(page.locator("h1")).to_have_text("Organisatie gevalideerd")
    expect(page.locator("#org-mobile-id")).to_have_text(people.certificate(requester).mobile_id)
    shot(page, "figure-25-organisatie-goedgekeurd.png")
