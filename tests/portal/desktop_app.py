"""Helpers for walking the UZI-pas step as a person: the Desktop App tab, its new
UZI-pas, and the desktop-link API called as the Desktop App calls it (server to server)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from playwright.sync_api import Page, expect

from tests.portal.conftest import Stack, Window, shot


def http(url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """GET (or POST JSON to) a URL as the Desktop App does, server to server."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def uzi_page(page: Page, stack: Stack, purpose: str = "registratie") -> tuple[str, str]:
    """Open the UZI-pas step; its (shown code, connect URL)."""
    page.goto(f"{stack.portal}uzi/{purpose}")
    expect(page.locator("h1")).to_have_text("UZI-pas")
    expect(page.locator("#uzi-status")).to_have_text("Wachten op de Desktop App…")
    return page.locator("#uzi-code").inner_text(), page.locator("#uzi-connect-url").inner_text()


def new_card(
    desktop: Page, organisation: str, *, given: str = "Jan", surname: str = "de Vries"
) -> str:
    """Make a UZI-pas in the Desktop App tab; its security code (shown once)."""
    desktop.locator("#organisation").select_option(organisation)
    desktop.locator("#given-name").fill(given)
    desktop.locator("#surname").fill(surname)
    desktop.locator("#make-card").click()
    expect(desktop.locator("#new-card-name")).to_have_text(f"{given} {surname}")
    pin = desktop.locator("#new-card-pin").inner_text()
    assert len(pin) == 5 and pin.isdigit()
    return pin


def prove_card(
    window: Window,
    page: Page,
    organisation: str,
    given: str,
    surname: str,
    figure: str = "",
    purpose: str = "registreren als gebruiker",
) -> Page:
    """In the Desktop App tab the portal opens: a new UZI-pas, its security code, accept."""
    with window.context.expect_page() as opened:
        page.locator("#open-desktop-app").click()
    desktop = opened.value
    expect(desktop.locator("#link-request")).to_contain_text(
        "Verbindingsverzoek van ZORG-ID portaal"
    )
    expect(desktop.locator("#link-request")).to_contain_text(purpose)
    pin = new_card(desktop, organisation, given=given, surname=surname)
    desktop.locator("#security-code").fill(pin)
    if figure:
        shot(desktop, figure)
    desktop.locator("#accept").click()
    expect(desktop.locator("#result-state")).to_have_text(
        f"Verbonden: het portaal heeft de UZI-pas van {given} {surname} geaccepteerd."
    )
    return desktop
