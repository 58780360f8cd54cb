"""The UZI-pas step (figures 6-8) against ``make run``'s stack: the connection code, the
Desktop App's side, the desktop-link API the app calls, refusals and "Verversen"."""

from __future__ import annotations

import base64

from playwright.sync_api import expect

from tests.portal.conftest import Stack, Window, shot
from tests.portal.desktop_app import http, new_card, uzi_page


def test_the_desktop_link_api_answers_a_code_once(stack: Stack, window: Window) -> None:
    page = window.tab()
    code, url = uzi_page(page, stack)
    assert len(code.replace("-", "")) == 10
    assert url == f"{stack.portal}desktop-link/{code}"

    status, asked = http(url)
    assert status == 200
    assert asked["purpose"] == "registratie"
    assert asked["portal"].startswith("ZORG-ID portaal (127.0.0.1:")
    assert base64.b64decode(asked["to_be_signed"]).startswith(b"ZORG-ID UZI-pas proof v1\n")

    unknown = f"{stack.portal}desktop-link/AAAAA-AAAAA"
    assert http(unknown) == (404, {"state": "unknown"})
    assert http(unknown, {"certificate_chain": [], "signature": ""}) == (404, {"state": "unknown"})

    # A chain that is no certificate: the engine refuses, and the code is used up.
    junk = base64.b64encode(b"not a certificate").decode()
    answer = {"certificate_chain": [junk], "signature": junk, "scheme": "RSA_PKCS1V15_SHA256"}
    status, refused = http(url, answer)
    assert status == 200 and refused["state"] == "refused"
    assert refused["code"].startswith("ZID-11")
    assert refused["texts"]["nl"] and refused["texts"]["en"]
    assert http(url) == (404, {"state": "unknown"})
    assert http(url, answer) == (404, {"state": "unknown"})

    # Figure 8: the portal page shows the engine's code and Dutch text; Verversen: a new code.
    expect(page.locator("#uzi-error-code")).to_have_text(refused["code"])
    expect(page.locator("#uzi-error-text")).to_have_text(refused["texts"]["nl"])
    shot(page, "figure-08-uzi-pas-geweigerd.png")
    page.locator("#uzi-refresh").click()
    expect(page.locator("#uzi-status")).to_have_text("Wachten op de Desktop App…")
    fresh = page.locator("#uzi-code").inner_text()
    assert fresh != code
    assert http(f"{stack.portal}desktop-link/{fresh}")[0] == 200


def test_verversen_kills_the_old_code(stack: Stack, window: Window) -> None:
    page = window.tab()
    code, url = uzi_page(page, stack)
    page.locator("#uzi-refresh").click()
    expect(page.locator("#uzi-code")).not_to_have_text(code)
    assert http(url) == (404, {"state": "unknown"})


def test_a_wrong_security_code_sends_nothing(stack: Stack, window: Window) -> None:
    page = window.tab()
    _, url = uzi_page(page, stack)
    desktop = window.tab()
    desktop.goto(page.locator("#open-desktop-app").get_attribute("href") or "")
    expect(desktop.locator("#connect-url")).to_have_value(url)
    pin = new_card(desktop, "90000202")
    expect(desktop.locator("#link-request")).to_contain_text(
        "Verbindingsverzoek van ZORG-ID portaal"
    )
    wrong = format((int(pin) + 1) % 100000, "05d")
    desktop.locator("#security-code").fill(wrong)
    desktop.locator("#accept").click()
    expect(desktop.locator("#local-error")).to_have_text(
        "Onjuiste beveiligingscode: er is niets verstuurd."
    )
    # Nothing reached the portal: the code still answers and the page still waits.
    assert http(url)[0] == 200
    expect(page.locator("#uzi-status")).to_have_text("Wachten op de Desktop App…")


def test_english_uzi_page(stack: Stack, window: Window) -> None:
    page = window.tab()
    page.goto(f"{stack.portal}uzi/registratie?lang=en")
    expect(page.locator("h1")).to_have_text("UZI card")
    expect(page.locator("#uzi-refresh")).to_have_text("Refresh")
    expect(page.locator("#uzi-status")).to_have_text("Waiting for the Desktop App…")


def test_a_malformed_answer_uses_the_code_up(stack: Stack, window: Window) -> None:
    page = window.tab()
    _, url = uzi_page(page, stack)
    status, body = http(url, {"certificate_chain": "not a list", "signature": 5})
    assert (status, body) == (400, {"state": "invalid"})
    assert http(url) == (404, {"state": "unknown"})
    expect(page.locator("#uzi-error-text")).to_contain_text("onleesbaar antwoord")


def test_weigeren_sends_nothing(stack: Stack, window: Window) -> None:
    page = window.tab()
    _, url = uzi_page(page, stack)
    desktop = window.tab()
    desktop.goto(stack.desktop_app)
    desktop.locator("#connect-url").fill(url)  # typed by hand, without the portal's link
    desktop.locator("#connect-fetch").click()
    expect(desktop.locator("#link-request")).to_contain_text("registreren als gebruiker")
    desktop.locator("#decline").click()
    expect(desktop.locator("#result-state")).to_have_text(
        "U heeft het verbindingsverzoek geweigerd; er is niets verstuurd."
    )
    assert http(url)[0] == 200
    expect(page.locator("#uzi-status")).to_have_text("Wachten op de Desktop App…")
