"""Manual §7 "PIN vergeten" in Chromium, the administrator's side: the members of their
organisation, a reset, the member's new registration QR; the old mobile ID is revoked.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from cryptography import x509
from playwright.sync_api import expect

from issuer.api.zorgid.v1 import certificate_pb2
from tests.portal.conftest import Stack, Window, shot
from tests.portal.people import People


def test_an_administrator_resets_a_member_who_forgot_their_pin(
    stack: Stack, window: Window, people: People
) -> None:
    admin_number = people.world.next_uzi_number()
    ura = people.organisation(admins=(admin_number,))
    admin = people.register(people.card(ura=ura, uzi_number=admin_number))
    assert people.validate(admin, ura).mobile_id
    member = people.register(people.card(ura=ura))
    old_serial = format(x509.load_der_x509_certificate(member.der).serial_number, "x")

    page = window.tab()
    people.log_in(page, stack.portal, admin)
    page.get_by_role("link", name="Medewerkers (PIN vergeten)").click()
    expect(page.locator("h1")).to_have_text("Medewerkers")
    row = page.locator(f'#members tr[data-uzi-number="{member.uzi_number}"]')
    expect(row).to_contain_text("Jan de Vries")
    expect(row).to_contain_text(ura)
    expect(row.locator("td").nth(3)).to_have_text("1")  # one valid certificate
    expect(page.locator(f'#members tr[data-uzi-number="{admin.uzi_number}"]')).to_contain_text(
        "beheerder"
    )
    shot(page, "figure-pin-vergeten-leden.png")

    row.get_by_role("link", name="PIN vergeten: herstellen").click()
    expect(page.locator("h1")).to_have_text("PIN vergeten: mobiele ID herstellen")
    expect(page.locator("#reset-member")).to_contain_text(member.uzi_number)
    page.get_by_role("button", name="Herstellen").click()

    expect(page.locator("h1")).to_have_text("Nieuwe registratie-QR-code")
    expect(page.get_by_role("status")).to_contain_text("De oude mobiele ID is ingetrokken")
    expect(page.get_by_alt_text("Registratie-QR-code voor de medewerker")).to_be_visible()
    until = page.locator("#reset-valid-until")
    expect(until).to_have_text(re.compile(r"^\d\d-\d\d-\d{4} \d\d:\d\d \w+$"))
    assert datetime.fromisoformat(until.get_attribute("datetime") or "") > datetime.now(UTC)
    expect(page.locator("#reset-revoked")).to_contain_text(old_serial)
    payload = page.locator("#reset-qr").get_attribute("data-payload") or ""
    assert payload.startswith("zorgid://enroll?")
    link = page.get_by_role("link", name="Ontwikkeling: open deze QR-code in de ZORG-ID Mobile App")
    assert (link.get_attribute("href") or "").startswith(stack.mobile_app + "?scan=")
    shot(page, "figure-pin-vergeten-qr.png")

    old = people.portal.certs.GetCertificate(
        certificate_pb2.GetCertificateRequest(serial=old_serial), timeout=30
    ).certificate
    assert old.status == certificate_pb2.CERTIFICATE_STATUS_REVOKED
    again = people.enrol(member.card, payload)  # the reinstalled app scans the new QR
    assert again.der != member.der

    page.get_by_role("link", name="Terug naar de medewerkers").click()
    expect(row.locator("td").nth(3)).to_have_text("1")  # the new phone's certificate


def test_a_member_who_is_no_administrator_sees_the_engines_refusal(
    stack: Stack, window: Window, people: People
) -> None:
    ura = people.organisation()
    member = people.register(people.card(ura=ura))

    page = window.tab()
    people.log_in(page, stack.portal, member)
    page.get_by_role("link", name="Medewerkers (PIN vergeten)").click()
    expect(page.locator("#error-code")).to_have_text("ZID-1820")
    expect(page.locator("#error-text")).to_contain_text("geen beheerder van een organisatie")

    page.goto(stack.portal + "medewerkers?lang=en")
    expect(page.locator("#error-code")).to_have_text("ZID-1820")
    expect(page.locator("#error-text")).to_contain_text("not an administrator of an organisation")
    page.get_by_role("link", name="Back").click()
    expect(page.locator("h1")).to_have_text("Overview")
