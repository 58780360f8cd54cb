"""Manual §3 "Registreren" walked as a person in Chromium against ``make run``'s stack: the
portal tab, the Desktop App tab with a new UZI-pas, and the Mobile App that redeems the QR and logs
in (figures 5-16); refusals of the engine shown with their code and text."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, Route, expect

from tests.portal.conftest import Stack, Window, shot
from tests.portal.desktop_app import prove_card
from tests.portal.mobile_app import new_phone, open_login_in_app

ZUID = "90000202"
"""DEV_ORGANISATIONS[1]: Ziekenhuis Zuid (ontwikkeling)."""


def to_uzi_step(page: Page, stack: Stack) -> None:
    """From the login page: "Registreren", accept the terms, on to the UZI-pas step."""
    page.goto(stack.portal)
    page.locator("#register").click()
    expect(page.locator("h1")).to_have_text("Registreren")
    expect(page.locator("#terms-version")).to_have_text("2026-1")
    expect(page.locator("#terms-text")).to_contain_text("Development terms of use")
    page.locator("#terms-agree").check()
    page.locator("#terms-next").click()
    expect(page.locator("h1")).to_have_text("UZI-pas")


def test_registreren_from_terms_to_login(stack: Stack, window: Window) -> None:
    page = window.tab()
    page.goto(stack.portal)
    page.locator("#register").click()
    shot(page, "figure-05-voorwaarden.png")
    to_uzi_step(page, stack)
    shot(page, "figure-06-uzi-pas.png")
    prove_card(window, page, ZUID, "Anna", "Jansen", "figure-07-desktop-app-verzoek.png")

    # Figure 9: the card's data.
    expect(page).to_have_url(f"{stack.portal}registreren/gegevens")
    expect(page.locator("h1")).to_have_text("Gegevens van uw UZI-pas")
    expect(page.locator('[data-field="common_name"]')).to_have_text("Anna Jansen")
    expect(page.locator('[data-field="organization"]')).to_have_text(
        "Ziekenhuis Zuid (ontwikkeling)"
    )
    expect(page.locator('[data-field="ura"]')).to_have_text(ZUID)
    expect(page.locator('[data-field="card_type"]')).to_have_text("Z")
    shot(page, "figure-09-gegevens.png")
    page.locator("#card-next").click()

    # Figures 10-11: a date that does not exist is refused by the engine; the calendar fills in.
    expect(page.locator("h1")).to_have_text("Geboortedatum")
    page.locator("#birth-date").fill("31-02-1980")
    shot(page, "figure-10-geboortedatum.png")
    page.locator("#birth-next").click()
    expect(page.locator("#reg-error-code")).to_have_text("ZID-1603")
    expect(page.locator("#reg-error-text")).to_contain_text("dd-mm-jjjj")
    page.locator("#birth-date-picker").fill("1980-04-23")
    expect(page.locator("#birth-date")).to_have_value("23-04-1980")
    shot(page, "figure-11-kalender.png")
    page.locator("#birth-next").click()

    # Figure 12: the summary; figure 13: processing while the engine confirms.
    expect(page.locator("h1")).to_have_text("Samenvatting")
    expect(page.locator('[data-field="birth_date"]')).to_have_text("23-04-1980")
    shot(page, "figure-12-samenvatting.png")
    held: list[Route] = []  # the confirmation is held at the network until figure 13 is taken
    page.route("**/registreren/bevestigen", lambda route: held.append(route))
    with page.expect_request("**/registreren/bevestigen"):
        page.locator("#confirm").click()
    expect(page.locator("#reg-processing")).to_be_visible()
    expect(page.locator("#reg-processing")).to_have_text("Uw registratie wordt verwerkt…")
    expect(page.locator("#confirm")).to_be_disabled()
    shot(page, "figure-13-verwerken.png")
    assert len(held) == 1
    held[0].continue_()

    # Figure 14: the registration QR, valid 10 days, with the screenshot advice.
    expect(page.locator("h1")).to_have_text("Uw registratie-QR-code")
    local = ZoneInfo("Europe/Amsterdam")
    in_ten_days = {
        (datetime.now(local) + timedelta(days=10, minutes=m)).strftime("%d-%m-%Y") for m in (0, 5)
    }
    valid_until = page.locator("#qr-valid-until").inner_text()
    assert valid_until.split()[0] in in_ten_days
    expect(page.locator("#qr-screenshot")).to_contain_text("maak een screenshot")
    expect(page.locator("#reg-status")).to_have_text(
        "Wachten tot uw telefoon de QR-code heeft gescand…"
    )
    payload = page.locator("#reg-qr").get_attribute("data-payload") or ""
    assert payload.startswith("zorgid://enroll?")
    mobile_link = page.locator("#open-mobile-app").get_attribute("href") or ""
    assert mobile_link.startswith(stack.mobile_app + "?scan=zorgid")
    shot(page, "figure-14-registratie-qr.png")

    # Figure 15: the person's phone (the Mobile App) scans the QR; the page says the ID is
    # installed.
    app = window.tab()
    new_phone(app, stack, "Telefoon van Anna")
    with page.expect_popup() as popup:
        page.locator("#open-mobile-app").click()
    scanner = popup.value
    expect(scanner.locator("#payload")).to_have_value(payload)
    scanner.locator("#scan").click()
    expect(scanner.locator("#outcome-heading")).to_contain_text("ID geïnstalleerd")
    expect(page.locator("h1")).to_have_text("ID geïnstalleerd")
    expect(page.locator("#reg-done-name")).to_have_text("Anna Jansen")
    shot(page, "figure-15-geinstalleerd.png")
    scanner.close()  # the portal's links reuse one named window for the app

    # Figures 16-17: "Inloggen"; the Mobile App answers the login QR.
    page.locator("#reg-login").click()
    expect(page.locator("h1")).to_have_text("Inloggen")
    shot(page, "figure-16-inloggen.png")
    login = open_login_in_app(window, page)
    login.get_by_role("button", name=re.compile("^Accepteren")).click()
    expect(page.locator("h1")).to_have_text("Overzicht")
    expect(page.locator("#person-name")).to_have_text("Anna Jansen")


def test_a_card_of_an_unknown_organisation_is_refused(stack: Stack, window: Window) -> None:
    page = window.tab()
    to_uzi_step(page, stack)
    prove_card(window, page, "onbekend", "Piet", "Pieters")
    expect(page.locator("h1")).to_have_text("Registreren lukt niet")
    expect(page.locator("#reg-error-code")).to_have_text("ZID-1602")
    expect(page.locator('[data-field="common_name"]')).to_have_text("Piet Pieters")
    dutch = page.locator("#reg-error-text").inner_text()
    assert "URA" in dutch
    shot(page, "figure-09-onbekende-organisatie.png")
    # The same refusal in English: the engine's own English text.
    page.locator(".lang").click()
    expect(page.locator("h1")).to_have_text("Registration is not possible")
    expect(page.locator("#reg-error-code")).to_have_text("ZID-1602")
    expect(page.locator("#reg-error-text")).not_to_have_text(dutch)
    expect(page.locator("#reg-error-text")).to_contain_text("URA")


def test_the_terms_in_english_and_unticked(stack: Stack, window: Window) -> None:
    page = window.tab()
    page.goto(f"{stack.portal}registreren")
    page.locator(".lang").click()
    expect(page.locator("h1")).to_have_text("Register")
    expect(page.locator('label[for="terms-agree"]')).to_have_text("I accept the terms of use")
    expect(page.locator("#terms-next")).to_have_text("Next")
    page.locator("#terms-next").click()  # unticked: the browser keeps the person on the terms
    expect(page).to_have_url(f"{stack.portal}registreren?lang=en")
