"""Manual §2 through the ZORG-ID Mobile App companion, in Chromium against ``make run``'s stack.

A person is registered by API, as ``issuer/cli/demo_walk.py`` does (terms, UZI-pas proof
with a card whose key is made on this run's own token, card data, date of birth, confirm);
the registration QR is then opened in the Mobile App, which installs the mobile ID. The
login itself is walked as a person: the portal's QR, its link into the Mobile App,
"Inloggen bij ...?", Accepteren, and the portal moving on by itself.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import quote

from playwright.sync_api import expect

from tests.portal.conftest import Stack, Window, shot
from tests.portal.mobile_app import NAME, install, new_phone, open_login_in_app
from tests.portal.people import People


def test_a_person_installs_a_mobile_id_and_logs_in_with_it(
    stack: Stack, window: Window, people: People
) -> None:
    payload, uzi = people.registration_qr()
    app = window.tab()
    phone = f"Telefoon {secrets.token_hex(2)}"
    new_phone(app, stack, phone)
    install(app, stack, payload, uzi)
    shot(app, "mobile-installed.png")
    app.locator("#back").click()
    row = app.locator("#mobile-ids li")
    expect(row).to_have_count(1)
    expect(row.locator(".name")).to_have_text(NAME)
    expect(row.locator(".uzi")).to_have_text(uzi)
    expect(row.locator(".state")).to_contain_text("geldig")
    expect(app.get_by_label(re.compile(f"^{phone} — met mobiel ID"))).to_be_checked()
    shot(app, "figure-01-mobile-app.png")

    portal = window.tab()
    portal.goto(stack.portal)
    login = open_login_in_app(window, portal)
    question = login.locator("#login-question")
    expect(question).to_have_text(re.compile(r"^Inloggen bij .+\?$"))
    expect(login.get_by_label(f"{phone} — {NAME} (UZI {uzi})")).to_be_checked()
    shot(login, "mobile-inloggen-bij.png")
    login.get_by_role("button", name=re.compile("^Accepteren")).click()
    expect(login.locator("#outcome-heading")).to_contain_text("Ingelogd bij")
    expect(portal.locator("h1")).to_have_text("Overzicht")
    expect(portal.locator("#person-name")).to_have_text(NAME)
    expect(portal.locator('[data-attribute="uzi_number"]')).to_have_text(uzi)

    # The operator revokes the certificate: the app's refresh shows it is no longer good.
    from issuer.api.zorgid.v1 import certificate_pb2

    serial = row.get_attribute("data-serial") or ""
    held = people.operator.certs.GetCertificate(
        certificate_pb2.GetCertificateRequest(serial=serial), timeout=30
    )
    people.operator.certs.RevokeCertificate(
        certificate_pb2.RevokeCertificateRequest(
            id=held.certificate.id, reason=certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE
        ),
        timeout=30,
    )
    app.reload()
    expect(row.locator(".state")).to_have_text("ingetrokken of verlopen · revoked or expired")
    expect(app.get_by_label(re.compile(f"^{phone} — geen mobiel ID"))).to_be_visible()


def test_declining_leaves_the_portal_waiting(stack: Stack, window: Window, people: People) -> None:
    # First use: the registration QR's link opens the app before it has a phone; the phone
    # made there keeps the payload in the scan field.
    payload, uzi = people.registration_qr()
    app = window.tab()
    app.goto(f"{stack.mobile_app}?scan={quote(payload, safe='')}")
    expect(app.locator("#active-phone")).to_have_count(0)
    phone = f"Telefoon {secrets.token_hex(2)}"
    app.get_by_label("Naam van de nieuwe telefoon").fill(phone)
    app.get_by_role("button", name=re.compile("^Nieuwe telefoon")).click()
    expect(app.locator("#active-heading")).to_have_text(phone)
    expect(app.get_by_label("Inhoud van de QR-code")).to_have_value(payload)
    app.get_by_role("button", name=re.compile("^Scannen")).click()
    expect(app.locator("#outcome")).to_contain_text(f"(UZI {uzi}) staat op {phone}")

    portal = window.tab()
    portal.goto(stack.portal)
    login = open_login_in_app(window, portal)
    login.get_by_role("button", name=re.compile("^Weigeren")).click()
    expect(login.locator("#outcome-heading")).to_contain_text("Inloggen geweigerd")
    expect(login.locator("#outcome")).to_contain_text("de portal blijft wachten")
    shot(login, "mobile-geweigerd.png")
    expect(portal.locator("#login-status")).to_have_text("Wachten op uw telefoon…")
    expect(portal.locator("h1")).to_have_text("Inloggen")


def test_a_second_phone_keeps_its_own_mobile_id(
    stack: Stack, window: Window, people: People
) -> None:
    first_qr, first = people.registration_qr()
    second_qr, second = people.registration_qr()
    app = window.tab()
    one, two = (f"Telefoon {n} {secrets.token_hex(2)}" for n in ("een", "twee"))
    new_phone(app, stack, one)
    install(app, stack, first_qr, first)
    new_phone(app, stack, two)
    install(app, stack, second_qr, second)
    app.locator("#back").click()
    expect(app.locator("#active-heading")).to_have_text(two)
    expect(app.locator("#mobile-ids .uzi")).to_have_text(second)

    # The first phone is still there with its own mobile ID; pick it as the active one.
    app.get_by_label(re.compile(f"^{one} — met mobiel ID")).check()
    app.locator("#choose-phone").click()
    expect(app.locator("#active-heading")).to_have_text(one)
    expect(app.locator("#mobile-ids .uzi")).to_have_text(first)
    shot(app, "mobile-twee-telefoons.png")

    # A login offers both phones with the active one picked; the other one logs in.
    portal = window.tab()
    portal.goto(stack.portal)
    login = open_login_in_app(window, portal)
    expect(login.get_by_label(f"{one} — {NAME} (UZI {first})")).to_be_checked()
    login.get_by_label(f"{two} — {NAME} (UZI {second})").check()
    login.get_by_role("button", name=re.compile("^Accepteren")).click()
    expect(portal.locator('[data-attribute="uzi_number"]')).to_have_text(second)

    # A registration QR on a phone that has a mobile ID: the app offers the phones without.
    third_qr, third = people.registration_qr()
    app.goto(f"{stack.mobile_app}?scan={quote(third_qr, safe='')}")
    app.locator("#scan").click()
    expect(app.locator("#enrol-notice")).to_contain_text(f"{one} heeft al een mobiel ID")
    app.get_by_label("Of op een nieuwe telefoon, met de naam").fill("Telefoon drie")
    app.locator("#install-new").click()
    expect(app.locator("#outcome-heading")).to_contain_text("ID geïnstalleerd")
    expect(app.locator("#outcome")).to_contain_text(f"(UZI {third}) staat op Telefoon drie")


def test_a_payload_that_is_no_zorg_id_qr_is_refused_clearly(stack: Stack, window: Window) -> None:
    app = window.tab()
    app.goto(stack.mobile_app)
    damaged = "zorgid://enroll?v=1&t=kapot&h=localhost"
    app.get_by_label("Inhoud van de QR-code").fill(damaged)
    app.get_by_role("button", name=re.compile("^Scannen")).click()
    expect(app.locator("#notice")).to_have_text(re.compile("^Kies eerst een telefoon"))
    expect(app.get_by_label("Inhoud van de QR-code")).to_have_value(damaged)

    new_phone(app, stack, f"Telefoon {secrets.token_hex(2)}")
    app.get_by_label("Inhoud van de QR-code").fill(damaged)
    app.get_by_role("button", name=re.compile("^Scannen")).click()
    expect(app.locator("#outcome-heading")).to_contain_text("Installeren lukt niet")
    expect(app.locator("#refusal-code")).to_have_text("ZID-1306")

    app.goto(stack.mobile_app)
    app.get_by_label("Inhoud van de QR-code").fill("https://example.org/menu")
    app.get_by_role("button", name=re.compile("^Scannen")).click()
    expect(app.locator("#outcome-heading")).to_contain_text("Geen ZORG-ID QR-code")
    shot(app, "mobile-geen-zorg-id-qr.png")

    # A login QR that is damaged: the phone reads it and names the catalogue code.
    app.goto(stack.mobile_app)
    app.get_by_label("Inhoud van de QR-code").fill("zorgid://login?v=1&c=kapot")
    app.get_by_role("button", name=re.compile("^Scannen")).click()
    expect(app.locator("#outcome")).to_have_attribute("role", "alert")
    expect(app.locator("#refusal-code")).to_have_text("ZID-0005")
    expect(app.locator("#refusal-nl")).not_to_be_empty()


def test_a_phone_without_a_mobile_id_cannot_log_in(stack: Stack, window: Window) -> None:
    app = window.tab()
    phone = f"Telefoon {secrets.token_hex(2)}"
    new_phone(app, stack, phone)
    portal = window.tab()
    portal.goto(stack.portal)
    payload = portal.locator("#login").get_attribute("data-payload") or ""
    app.get_by_label("Inhoud van de QR-code").fill(payload)
    app.get_by_role("button", name=re.compile("^Scannen")).click()
    expect(app.locator("#login-question")).to_contain_text("Inloggen bij")
    expect(app.locator("#no-mobile-id-notice")).to_contain_text(
        f"{phone} heeft geen mobiel ID en kan niet inloggen"
    )
    expect(app.get_by_label(re.compile(f"^{phone} — "))).to_have_count(0)
    # Another phone's mobile ID is never picked for the person: they would choose it.
    expect(app.locator("#login-form input[type=radio]:checked")).to_have_count(0)
    shot(app, "mobile-geen-mobiel-id.png")
    expect(portal.locator("#login-status")).to_have_text("Wachten op uw telefoon…")
