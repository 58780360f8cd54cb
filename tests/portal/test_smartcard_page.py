"""Manual §6 "Smartcard aanmaken" as a person walks it: the portal tab and the Desktop App tab.

A professional registered by API logs in (their phone answers the portal's QR), starts a
smartcard in the portal, and in the Desktop App puts in a blank card and accepts; the
keys are made on the card, the portal redeems the ticket, the Desktop App writes the
certificates to the card, and the portal shows the card active. The card's token is
then read in a process of its own: its certificates are the ones the portal shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from tests.portal.conftest import ROOT, Stack, Window, shot
from tests.portal.people import ZUID, People

READ_CARD = """
import json, sys
from hsm import Hsm
from hsm.certificates import read_certificates
from cryptography import x509
label, pin = sys.argv[1], sys.argv[2]
hsm = Hsm.open(token_label=label, pin_source="file:" + pin)
print(json.dumps({
    o.label: format(x509.load_der_x509_certificate(o.value).serial_number, "x")
    for o in read_certificates(hsm)
}))
"""


def certificates_on_card(stack: Stack, label: str) -> dict[str, str]:
    """Serial by slot label of the certificates on the card's token, read by another process."""
    softhsm = stack.root / "devapps" / "softhsm"
    env = dict(os.environ, SOFTHSM2_CONF=str(softhsm / "softhsm2.conf"), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", READ_CARD, label, str(softhsm / f"{label}.pin")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    read: dict[str, str] = json.loads(done.stdout)
    return read


def test_a_professional_makes_a_smartcard_with_the_desktop_app(
    stack: Stack, window: Window, people: People
) -> None:
    person = people.register(people.card(ura=ZUID))
    portal = window.tab()
    people.log_in(portal, stack.portal, person)
    expect(portal.locator("#smartcard-none")).to_have_text("U heeft nog geen smartcard.")

    portal.get_by_role("button", name="Smartcard aanmaken").click()
    expect(portal.locator("h1")).to_have_text("Smartcard aanmaken")
    expect(portal.locator("#card-status")).to_have_text("Wachten op de Desktop App…")
    code = portal.locator("#card-code").inner_text()
    connect = portal.locator("#card-connect").inner_text()
    assert connect == f"{stack.portal}card-link/{code}"
    shot(portal, "figure-smartcard-start.png")
    href = portal.get_by_role("link", name="Open de Desktop App").get_attribute("href") or ""
    assert href.startswith(f"{stack.desktop_app}/smartcard?")
    assert parse_qs(urlsplit(href).query) == {"connect": [connect]}

    desktop = window.tab()
    desktop.goto(href)
    expect(desktop.locator("#request-portal")).to_have_text(stack.portal)
    expect(desktop.locator("#reader-status")).to_have_text("Er zit geen kaart in de lezer.")
    expect(portal.locator("#card-status")).to_have_text(
        "De Desktop App is verbonden; de sleutels worden op de kaart gemaakt."
    )
    desktop.get_by_role("button", name="Lege smartcard plaatsen").click()
    expect(desktop.locator("#reader-status")).to_contain_text("zit in de lezer")
    label = desktop.locator("#card-label").inner_text()
    expect(desktop.get_by_label("Handtekening")).to_be_checked()
    expect(desktop.get_by_label("Versleuteling")).to_be_checked()
    desktop.get_by_role("button", name="Aanvraag accepteren").click()
    expect(desktop.locator("#card-done")).to_contain_text("De certificaten staan op de kaart")
    on_desktop = desktop.locator("#card-certificates tbody tr")
    expect(on_desktop).to_have_count(3)
    shot(desktop, "figure-smartcard-desktop-app.png")

    expect(portal.locator("h1")).to_have_text("Uw smartcard is klaar")
    expect(portal.locator("#card-state")).to_have_text("Actief")
    card_id = portal.locator("#card-id").inner_text()
    expect(desktop.locator("#card-id")).to_have_text(card_id)
    in_portal = {
        row.get_attribute("data-slot"): row.locator(".serial").inner_text()
        for row in portal.locator("#card-certificates tbody tr").all()
    }
    assert set(in_portal) == {"authentication", "non-repudiation", "encryption"}
    shown = {
        row.get_attribute("data-slot"): row.locator(".serial").inner_text()
        for row in on_desktop.all()
    }
    assert shown == in_portal
    shot(portal, "figure-smartcard-klaar.png")
    assert certificates_on_card(stack, label) == in_portal

    portal.get_by_role("link", name="Terug naar het overzicht").click()
    listed = portal.locator(f'#smartcard-list li[data-card="{card_id}"]')
    expect(listed).to_contain_text("Actief")
    expect(listed).to_contain_text("3 certificaten")
