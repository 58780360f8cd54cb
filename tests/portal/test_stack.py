"""``make run``'s stack answers: the portal's login page links the QR to the Mobile App."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from tests.portal.conftest import Stack, Window


def test_the_portal_links_its_qr_to_the_mobile_app(stack: Stack, window: Window) -> None:
    page = window.tab()
    page.goto(stack.portal)
    expect(page.locator("h1")).to_have_text("Inloggen")
    payload = page.locator("#login").get_attribute("data-payload")
    href = page.locator("#open-mobile-app").get_attribute("href") or ""
    assert href.startswith(stack.mobile_app + "?")
    assert parse_qs(urlsplit(href).query) == {"scan": [payload]}
