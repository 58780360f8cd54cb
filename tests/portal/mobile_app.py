"""Helpers for walking the ZORG-ID Mobile App tab as a person: a new phone, a registration
QR installed, a login QR opened from the portal's link beside it."""

from __future__ import annotations

from urllib.parse import quote

from playwright.sync_api import Page, expect

from tests.portal.conftest import Stack, Window

NAME = "Jan de Vries"
"""Every card holder of the test UZI-register (testkit.uzi_world) unless named otherwise."""


def new_phone(app: Page, stack: Stack, name: str) -> None:
    """In the Mobile App: make a phone; it becomes the active one, without a mobile ID."""
    app.goto(stack.mobile_app)
    app.get_by_label("Naam van de nieuwe telefoon").fill(name)
    app.locator("#new-phone").click()
    expect(app.locator("#active-heading")).to_have_text(name)
    expect(app.locator("#no-mobile-id")).to_contain_text("Nog geen mobiel ID")


def install(app: Page, stack: Stack, payload: str, uzi: str) -> None:
    """Open a registration QR in the Mobile App (the portal's link does the same) and scan it."""
    app.goto(f"{stack.mobile_app}?scan={quote(payload, safe='')}")
    expect(app.locator("#payload")).to_have_value(payload)
    app.locator("#scan").click()
    expect(app.locator("#outcome-heading")).to_contain_text("ID geïnstalleerd")
    expect(app.locator("#outcome")).to_contain_text(f"Mobiel ID van {NAME} (UZI {uzi})")


def open_login_in_app(window: Window, portal: Page) -> Page:
    """Follow the portal's "open in the Mobile App" link beside the QR, and scan."""
    expect(portal.locator("h1")).to_have_text("Inloggen")
    with portal.expect_popup() as popup:
        portal.locator("#open-mobile-app").click()
    app = popup.value
    expect(app.locator("#payload")).to_have_value(
        portal.locator("#login").get_attribute("data-payload") or "?"
    )
    app.locator("#scan").click()
    return app
