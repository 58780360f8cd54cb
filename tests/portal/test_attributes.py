"""Manual §5 "Attributen registreren" in Chromium: a second UZI-pas (another organisation,
the same UZI number) onto an existing mobile ID; a new certificate for the same phone key,
the old one revoked as superseded, the overview showing the new attributes.
"""

from __future__ import annotations

from dataclasses import replace

from cryptography import x509
from playwright.sync_api import expect

from devapps.world import DEV_ORGANISATIONS
from issuer.api.zorgid.v1 import certificate_pb2
from tests.portal.conftest import Stack, Window, shot
from tests.portal.people import People, make_desktop_card, prove_in_desktop_app

URA = DEV_ORGANISATIONS[1][0]


def test_a_second_cards_attributes_reissue_the_mobile_id(
    stack: Stack, window: Window, people: People
) -> None:
    page, desktop = window.tab(), window.tab()
    card = make_desktop_card(desktop, stack.desktop_app, URA)
    first_ura = people.organisation()
    person = people.register(people.card(ura=first_ura, uzi_number=card.uzi_number))  # §3, by API
    old_serial = format(x509.load_der_x509_certificate(person.der).serial_number, "x")
    people.log_in(page, stack.portal, person)
    expect(page.locator('#attributes [data-attribute="ura"]')).to_have_text(first_ura)

    page.get_by_role("link", name="Attributen registreren").click()
    prove_in_desktop_app(page, desktop, card)
    expect(page).to_have_url(f"{stack.portal}attributen/bevestigen")
    expect(page.locator("h1")).to_have_text("Attributen registreren")
    expect(page.locator('#attr-card [data-attribute="ura"]')).to_have_text(URA)
    expect(page.locator('#attr-card [data-attribute="uzi_number"]')).to_have_text(card.uzi_number)
    expect(page.locator('#attr-card [data-attribute="common_name"]')).to_have_text("Jan de Vries")
    shot(page, "figure-26-attributen.png")
    page.get_by_role("button", name="Attributen registreren").click()

    expect(page.locator("h1")).to_have_text("Attributen geregistreerd")
    expect(page.locator("#attr-superseded")).to_have_text(old_serial)
    expect(page.locator('#attr-result [data-attribute="ura"]')).to_have_text(URA)
    new_serial = page.locator("#attr-serial").inner_text()
    assert new_serial and new_serial != old_serial
    shot(page, "figure-26-attributen-resultaat.png")

    certs = people.portal.certs
    old = certs.GetCertificate(
        certificate_pb2.GetCertificateRequest(serial=old_serial), timeout=30
    ).certificate
    new = certs.GetCertificate(
        certificate_pb2.GetCertificateRequest(serial=new_serial), timeout=30
    ).certificate
    assert old.status == certificate_pb2.CERTIFICATE_STATUS_REVOKED
    assert old.revocation_reason == certificate_pb2.REVOCATION_REASON_SUPERSEDED
    assert new.status == certificate_pb2.CERTIFICATE_STATUS_GOOD
    assert new.mobile_id == old.mobile_id  # the same phone key

    # The supersession ended the login session (docs/flows.md): log in again, now with
    # the new certificate, which the phone fetched.
    expect(page.locator("#attr-login-again")).to_contain_text("Log opnieuw in")
    page.get_by_role("link", name="Opnieuw inloggen").click()
    people.log_in(page, stack.portal, replace(person, der=bytes(new.der)))
    expect(page.locator('#attributes [data-attribute="ura"]')).to_have_text(URA)
    expect(page.locator(f'#certificates tr[data-serial="{new_serial}"]')).to_contain_text(
        "deze telefoon"
    )


def test_a_card_of_another_person_is_refused(stack: Stack, window: Window, people: People) -> None:
    page, desktop = window.tab(), window.tab()
    card = make_desktop_card(desktop, stack.desktop_app, URA)  # not the logged-in person's
    person = people.register(people.card(ura=people.organisation()))
    people.log_in(page, stack.portal, person)

    page.get_by_role("link", name="Attributen registreren").click()
    prove_in_desktop_app(page, desktop, card)
    page.get_by_role("button", name="Attributen registreren").click()
    expect(page.locator("#error-code")).to_have_text("ZID-1810")
    expect(page.locator("#error-text")).to_contain_text("niet van de ingelogde persoon")
    page.get_by_role("link", name="Terug").click()
    expect(page.locator('#attributes [data-attribute="ura"]')).not_to_have_text(URA)
