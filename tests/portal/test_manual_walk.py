"""The portal manual §2-§7 walked end to end by people in one browser, through pages only.

Everything a person does happens in a tab: the portal, the ZORG-ID Desktop App (UZI-passes,
a blank smartcard) and the ZORG-ID Mobile App (phones, QR codes). The designated
administrator of the first development organisation registers (§3), logs in (§2),
validates the organisation (§4), registers the card's attributes (§5) and makes a
smartcard (§6); a colleague registers too, forgets their PIN and is reset by the
administrator (§7), and the troubleshooting page explains a refusal met on the way.
The test makes no gRPC call: every fact it asserts is read from a page.
"""

from __future__ import annotations

import re
import secrets

from playwright.sync_api import Page, expect

from devapps.world import DEV_ORGANISATIONS
from tests.portal.conftest import Stack, Window, shot
from tests.portal.mobile_app import new_phone
from tests.portal.people import DesktopCard, prove_in_desktop_app

URA, ORGANISATION, (ADMIN,) = DEV_ORGANISATIONS[0]
ADMIN_NAME = "Jan de Vries"
ADMIN_BIRTH = "01-02-1975"
"""The birth date other tests register UZI 900001011 with (people.py), so none clashes."""


def make_card(
    desktop: Page, stack: Stack, given: str, surname: str, *, administrator: bool = False
) -> DesktopCard:
    """In the Desktop App tab: a new UZI-pas of the first development organisation."""
    desktop.goto(stack.desktop_app)
    desktop.locator("#organisation").select_option(URA)
    if administrator:
        desktop.get_by_label(re.compile("^Aangewezen beheerder")).check()
    desktop.get_by_label("Voornaam").fill(given)
    desktop.get_by_label("Achternaam").fill(surname)
    desktop.get_by_role("button", name="Nieuwe UZI-pas maken").click()
    expect(desktop.locator("#new-card-name")).to_have_text(f"{given} {surname}")
    return DesktopCard(
        desktop.locator("#new-card-uzi").inner_text(), desktop.locator("#new-card-pin").inner_text()
    )


def register(page: Page, desktop: Page, stack: Stack, card: DesktopCard) -> str:
    """§3 in the portal tab: "Registreren", the terms, the UZI-pas step answered in the
    Desktop App tab, the card's data; the name the portal shows."""
    page.goto(stack.portal)
    page.get_by_role("link", name="Registreren").click()
    expect(page.locator("h1")).to_have_text("Registreren")
    page.locator("#terms-agree").check()
    page.locator("#terms-next").click()
    prove_in_desktop_app(page, desktop, card)

    expect(page.locator("h1")).to_have_text("Gegevens van uw UZI-pas")
    expect(page.locator('[data-field="ura"]')).to_have_text(URA)
    expect(page.locator('[data-field="organization"]')).to_have_text(ORGANISATION)
    name = page.locator('[data-field="common_name"]').inner_text()
    page.locator("#card-next").click()
    return name


def birth_date_to_qr(page: Page, birth: str) -> str:
    """The birth date, the summary and Bevestigen; the registration QR's payload."""
    expect(page.locator("h1")).to_have_text("Geboortedatum")
    page.locator("#birth-date").fill(birth)
    page.locator("#birth-next").click()
    expect(page.locator("h1")).to_have_text("Samenvatting")
    expect(page.locator('[data-field="birth_date"]')).to_have_text(birth)
    page.locator("#confirm").click()
    expect(page.locator("h1")).to_have_text("Uw registratie-QR-code")
    payload = page.locator("#reg-qr").get_attribute("data-payload") or ""
    assert payload.startswith("zorgid://enroll?")
    return payload


def scan_in_app(page: Page, link: str, name: str) -> str:
    """Follow the portal's link beside a registration QR into the Mobile App (a popup) and
    scan it on the active phone; the serial of the mobile ID installed."""
    with page.expect_popup() as popup:
        page.locator(link).click()
    scanner = popup.value
    scanner.locator("#scan").click()
    expect(scanner.locator("#outcome-heading")).to_contain_text("ID geïnstalleerd")
    expect(scanner.locator("#outcome")).to_contain_text(f"Mobiel ID van {name}")
    scanner.get_by_role("link", name=re.compile("^Terug naar de app")).click()
    serial = scanner.locator("#mobile-ids li").first.get_attribute("data-serial") or ""
    assert serial
    scanner.close()  # the portal's links reuse one named window for the app
    return serial


def log_in(page: Page, phone: str) -> None:
    """§2: the login QR, opened in the Mobile App by the portal's link, accepted with the
    mobile ID of ``phone``; the portal moves on to the overview by itself."""
    expect(page.locator("h1")).to_have_text("Inloggen")
    with page.expect_popup() as popup:
        page.locator("#open-mobile-app").click()
    app = popup.value
    app.locator("#scan").click()
    expect(app.locator("#login-question")).to_contain_text("Inloggen bij")
    app.get_by_label(re.compile(f"^{re.escape(phone)} —")).check()
    app.get_by_role("button", name=re.compile("^Accepteren")).click()
    expect(page.locator("h1")).to_have_text("Overzicht")
    app.close()


def choose_phone(app: Page, stack: Stack, phone: str) -> None:
    """The Mobile App tab with ``phone`` chosen as the active one (its IDs asked anew)."""
    app.goto(stack.mobile_app)
    app.get_by_label(re.compile(f"^{re.escape(phone)} —")).check()
    app.locator("#choose-phone").click()
    expect(app.locator("#active-heading")).to_have_text(phone)


def test_one_person_walks_the_manual_through_the_pages(stack: Stack, window: Window) -> None:
    tag = secrets.token_hex(3)
    admin_phone, eva_phone, eva_new_phone = (
        f"Telefoon van Jan {tag}",
        f"Telefoon van Eva {tag}",
        f"Nieuwe telefoon van Eva {tag}",
    )
    page, desktop, app = window.tab(), window.tab(), window.tab()

    # 1. A new phone in the Mobile App; the administrator's UZI-pas in the Desktop App.
    new_phone(app, stack, admin_phone)
    card = make_card(desktop, stack, "Jan", "de Vries", administrator=True)
    assert card.uzi_number == ADMIN

    # 2. §3 Registreren: a birth date that does not exist is refused with its code, and
    # the refusal links to its entry under Probleemoplossing (§7).
    assert register(page, desktop, stack, card) == ADMIN_NAME
    expect(page.locator("h1")).to_have_text("Geboortedatum")
    page.locator("#birth-date").fill("31-02-1975")  # no such day
    page.locator("#birth-next").click()
    expect(page.locator("#reg-error-code")).to_have_text("ZID-1603")
    expect(page.locator("#reg-error-text")).to_contain_text("dd-mm-jjjj")
    help_link = page.get_by_role("link", name="Zie Probleemoplossing voor deze code")
    help_link.click()
    expect(page).to_have_url(f"{stack.portal}problemen#ZID-1603")
    expect(page.locator("#ZID-1603 .cause")).to_be_in_viewport()
    cause = page.locator("#ZID-1603 .cause").inner_text()
    page.goto(f"{stack.portal}registreren/geboortedatum")  # back to the step, kept
    birth_date_to_qr(page, ADMIN_BIRTH)
    expect(page.locator("#qr-screenshot")).to_contain_text("maak een screenshot")
    first_serial = scan_in_app(page, "#open-mobile-app", ADMIN_NAME)
    expect(page.locator("h1")).to_have_text("ID geïnstalleerd")
    expect(page.locator("#reg-done-name")).to_have_text(ADMIN_NAME)
    page.locator("#reg-login").click()

    # 3. §2 Inloggen: the overview names the person, their attributes and the phone's
    # certificate as valid.
    log_in(page, admin_phone)
    expect(page.locator("#person-name")).to_have_text(ADMIN_NAME)
    expect(page.locator('#attributes [data-attribute="uzi_number"]')).to_have_text(ADMIN)
    expect(page.locator('#attributes [data-attribute="ura"]')).to_have_text(URA)
    first_row = page.locator(f'#certificates tr[data-serial="{first_serial}"]')
    expect(first_row).to_contain_text("deze telefoon")
    expect(first_row.locator("td").nth(1)).to_have_text("geldig")
    shot(page, "walk-overzicht.png")

    # 4. §4 Organisatie valideren: the designated administrator is administrator at once.
    page.get_by_role("link", name="Organisatie valideren").click()
    expect(page.locator("h1")).to_have_text("Organisatie valideren")
    expect(page.get_by_label("URA-nummer van de organisatie (8 cijfers)")).to_have_value(URA)
    page.get_by_label("Ik ga akkoord met de voorwaarden").check()
    page.get_by_role("button", name="Verder met UZI-pas").click()
    prove_in_desktop_app(page, desktop, card)
    expect(page.locator("h1")).to_have_text("Gegevens van de organisatie")
    expect(page.locator("#org-name")).to_have_text(ORGANISATION)
    expect(page.locator("#org-uzi-number")).to_have_text(ADMIN)
    page.get_by_role("button", name="Bevestigen").click()
    expect(page.locator("h1")).to_have_text("Organisatie gevalideerd")
    expect(page.get_by_role("status")).to_have_text("U bent beheerder van deze organisatie.")
    expect(page.locator("#org-mobile-id")).not_to_be_empty()
    expect(page.locator("#org-outcome")).to_contain_text("waarmee u nu bent ingelogd")
    page.get_by_role("link", name="Naar het overzicht").click()

    # 5. §5 Attributen registreren with the same card: a new certificate for the same
    # phone; the old one is revoked as replaced, in the portal and in the Mobile App.
    page.get_by_role("link", name="Attributen registreren").click()
    prove_in_desktop_app(page, desktop, card)
    expect(page.locator("h1")).to_have_text("Attributen registreren")
    expect(page.locator('#attr-card [data-attribute="uzi_number"]')).to_have_text(ADMIN)
    page.get_by_role("button", name="Attributen registreren").click()
    expect(page.locator("h1")).to_have_text("Attributen geregistreerd")
    expect(page.locator("#attr-superseded")).to_have_text(first_serial)
    second_serial = page.locator("#attr-serial").inner_text()
    assert second_serial and second_serial != first_serial
    # The supersession ended the login session: log in again, with the new certificate.
    expect(page.locator("#attr-login-again")).to_contain_text("Log opnieuw in")
    page.get_by_role("link", name="Opnieuw inloggen").click()
    log_in(page, admin_phone)
    expect(page.locator(f'#certificates tr[data-serial="{first_serial}"] td').nth(1)).to_have_text(
        "ingetrokken (vervangen)"
    )
    second_row = page.locator(f'#certificates tr[data-serial="{second_serial}"]')
    expect(second_row.locator("td").nth(1)).to_have_text("geldig")
    expect(second_row).to_contain_text("deze telefoon")
    app.goto(stack.mobile_app)
    expect(app.locator("#active-heading")).to_have_text(admin_phone)
    expect(app.locator(f'#mobile-ids li[data-serial="{second_serial}"] .state')).to_have_text(
        "geldig · valid"
    )
    expect(app.locator(f'#mobile-ids li[data-serial="{first_serial}"] .state')).to_have_text(
        "vervangen · superseded"
    )

    # 6. §6 Smartcard aanmaken: the Desktop App's card side; the card active on the overview.
    expect(page.locator("#smartcard-none")).to_have_text("U heeft nog geen smartcard.")
    page.get_by_role("button", name="Smartcard aanmaken").click()
    expect(page.locator("h1")).to_have_text("Smartcard aanmaken")
    desktop.goto(page.get_by_role("link", name="Open de Desktop App").get_attribute("href") or "")
    desktop.get_by_role("button", name="Lege smartcard plaatsen").click()
    expect(desktop.locator("#reader-status")).to_contain_text("zit in de lezer")
    desktop.get_by_role("button", name="Aanvraag accepteren").click()
    expect(desktop.locator("#card-done")).to_contain_text("De certificaten staan op de kaart")
    expect(page.locator("h1")).to_have_text("Uw smartcard is klaar")
    expect(page.locator("#card-state")).to_have_text("Actief")
    card_id = page.locator("#card-id").inner_text()
    page.get_by_role("link", name="Terug naar het overzicht").click()
    expect(page.locator(f'#smartcard-list li[data-card="{card_id}"]')).to_contain_text("Actief")

    # 7. §7 PIN vergeten: a colleague registers at this computer with a phone of their own.
    page.get_by_role("button", name="Uitloggen").click()
    expect(page.locator("h1")).to_have_text("Inloggen")
    new_phone(app, stack, eva_phone)
    eva_card = make_card(desktop, stack, "Eva", "Bakker")
    assert register(page, desktop, stack, eva_card) == "Eva Bakker"
    birth_date_to_qr(page, "15-06-1988")
    eva_serial = scan_in_app(page, "#open-mobile-app", "Eva Bakker")
    expect(page.locator("#reg-done-name")).to_have_text("Eva Bakker")

    # The administrator logs in again and resets the colleague, whose new phone installs
    # the new registration QR; the old phone shows its mobile ID revoked.
    page.locator("#reg-login").click()
    log_in(page, admin_phone)
    page.get_by_role("link", name="Medewerkers (PIN vergeten)").click()
    expect(page.locator("h1")).to_have_text("Medewerkers")
    row = page.locator(f'#members tr[data-uzi-number="{eva_card.uzi_number}"]')
    expect(row).to_contain_text("Eva Bakker")
    expect(row.locator("td").nth(3)).to_have_text("1")
    row.get_by_role("link", name="PIN vergeten: herstellen").click()
    expect(page.locator("h1")).to_have_text("PIN vergeten: mobiele ID herstellen")
    page.get_by_role("button", name="Herstellen").click()
    expect(page.locator("h1")).to_have_text("Nieuwe registratie-QR-code")
    expect(page.get_by_role("status")).to_contain_text("De oude mobiele ID is ingetrokken")
    expect(page.locator("#reset-revoked")).to_contain_text(eva_serial)
    new_phone(app, stack, eva_new_phone)
    new_serial = scan_in_app(
        page,
        'a:has-text("Ontwikkeling: open deze QR-code in de ZORG-ID Mobile App")',
        "Eva Bakker",
    )
    assert new_serial != eva_serial
    choose_phone(app, stack, eva_phone)
    expect(app.locator(f'#mobile-ids li[data-serial="{eva_serial}"] .state')).to_have_text(
        "ingetrokken of verlopen · revoked or expired"
    )
    page.get_by_role("link", name="Terug naar de medewerkers").click()
    expect(row.locator("td").nth(3)).to_have_text("1")  # the new phone's certificate

    # 8. §7 Probleemoplossing from the footer; the entry the refusal above linked to.
    page.get_by_role("link", name="Probleemoplossing").click()
    expect(page.locator("h1")).to_have_text("Probleemoplossing")
    expect(page.locator("#ZID-1603 .cause")).to_have_text(cause)

    # 9. Log out: back at the login QR.
    page.goto(f"{stack.portal}overzicht")
    page.get_by_role("button", name="Uitloggen").click()
    expect(page.locator("h1")).to_have_text("Inloggen")
    expect(page.locator("#login")).to_be_visible()
