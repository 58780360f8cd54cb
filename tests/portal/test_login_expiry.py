"""Figure 3 against ``make run``'s engine itself: its login QR lapses (30 seconds in the
development policy), the page turns grey by the engine's clock, the phone is refused the
lapsed QR by the engine, and a click on the image shows a new QR that works."""

from __future__ import annotations

import re
import secrets
import time

from playwright.sync_api import expect

from tests.portal.conftest import Stack, Window
from tests.portal.mobile_app import new_phone


def test_the_login_qr_lapses_in_the_engine_and_a_click_makes_a_new_one(
    stack: Stack, window: Window
) -> None:
    portal = window.tab()
    portal.goto(stack.portal)
    login = portal.locator("#login")
    expect(login).to_have_attribute("data-state", "pending")
    lapsed = login.get_attribute("data-payload") or ""
    seconds = sum(
        int(part) * unit
        for part, unit in zip(
            portal.locator("#countdown").inner_text().split(":"), (60, 1), strict=True
        )
    )
    assert 0 < seconds <= 30, "the development policy's login QR lives 30 seconds"

    # No clock of the test's: the real seconds pass and the page says what the engine says.
    expect(login).to_have_attribute("data-state", "expired", timeout=(seconds + 15) * 1000)
    expect(portal.locator("#login-status")).to_contain_text("verlopen")
    # The page's countdown may reach zero a moment before the engine's clock passes the
    # expiry: wait until the engine itself, through the portal's poll, says so.
    deadline = time.monotonic() + 15
    while portal.request.get(f"{stack.portal}login/status").json()["state"] != "expired":
        assert time.monotonic() < deadline, "the engine never reported the QR expired"
        time.sleep(0.2)

    # The phone scanning the lapsed QR is refused by the engine, with the catalogue's code.
    app = window.tab()
    new_phone(app, stack, f"Telefoon {secrets.token_hex(2)}")
    app.get_by_label("Inhoud van de QR-code").fill(lapsed)
    app.get_by_role("button", name=re.compile("^Scannen")).click()
    expect(app.locator("#refusal-code")).to_have_text("ZID-1702")

    # A click on the greyed image: a new QR, pending again, which the engine describes.
    portal.locator("#qr-button").click()
    expect(login).to_have_attribute("data-state", "pending")
    fresh = login.get_attribute("data-payload") or ""
    assert fresh.startswith("zorgid://login?") and fresh != lapsed
    app.goto(stack.mobile_app)
    app.get_by_label("Inhoud van de QR-code").fill(fresh)
    app.get_by_role("button", name=re.compile("^Scannen")).click()
    expect(app.locator("#login-question")).to_have_text(re.compile(r"^Inloggen bij .+\?$"))
