"""Manual §2 "Inloggen" in real Chromium: the portal (``python -m portal``, a child
process with the portal's client certificate) in front of a real engine; a registered
professional's phone answers the QR the page shows.

Screenshots per figure go to ``var/test-artifacts/portal/`` (docs/portal.md shows copies).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.x509.oid import NameOID
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

from issuer.api.zorgid.v1 import certificate_pb2, login_pb2
from issuer.store.schema import audit_events
from portal.engine import EngineClient, Refusal
from tests.flows.conftest import Engine, localized, rpc_code

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "portal"
CHROMIUM = "/usr/bin/chromium"


def _portal(eng: Engine) -> Iterator[str]:
    cert, key = eng.pki.client("portal")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "portal",
            "--engine",
            f"127.0.0.1:{eng.built.port}",
            "--cert",
            str(cert),
            "--key",
            str(key),
            "--ca",
            str(eng.pki.root / "server-ca.pem"),
            "--listen",
            "127.0.0.1:0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()  # blocks until the portal listens (or exits)
        found = re.search(r"http://[^/\s]+/", banner)
        assert found, f"the portal did not start: {banner}{proc.stdout.read()}"
        yield found.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def portal_url(eng: Engine) -> Iterator[str]:
    yield from _portal(eng)


@pytest.fixture
def page() -> Iterator[tuple[Page, list[str]]]:
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        made = browser.new_page(viewport={"width": 900, "height": 800})

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                problems.append(f"console: {message.text}")

        made.on("console", on_console)
        made.on("pageerror", lambda err: problems.append(f"pageerror: {err}"))
        try:
            yield made, problems
        finally:
            browser.close()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _in_step(eng: Engine) -> None:
    """Bring the engine's clock (fixed at the session's start) to the real time the page
    counts down in, however long the fixtures took."""
    eng.clock.advance(max(timedelta(0), datetime.now(UTC) - eng.clock()))


def der_serial(der: bytes) -> str:
    """The serial as the engine writes it: lowercase hexadecimal, no leading zeros."""
    return format(x509.load_der_x509_certificate(der).serial_number, "x")


def _seconds(text: str) -> int:
    minutes, seconds = text.split(":")
    return int(minutes) * 60 + int(seconds)


@pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
def test_login_by_qr_in_the_browser(
    eng: Engine, portal_url: str, page: tuple[Page, list[str]]
) -> None:
    browser_page, problems = page
    eng.register_org()
    app = eng.cards.app()
    phone, der, _ = eng.registered(app)
    name = app.card.auth.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value

    # Figure 2: the login QR with a countdown from the engine's expiry (5 minutes).
    _in_step(eng)
    browser_page.goto(portal_url)
    expect(browser_page.locator("h1")).to_have_text("Inloggen")
    login = browser_page.locator("#login")
    expect(login).to_have_attribute("data-state", "pending")
    expect(browser_page.locator("#qr")).to_be_visible()
    first = login.get_attribute("data-payload") or ""
    assert first.startswith("zorgid://login?v=1&c=")
    countdown = browser_page.locator("#countdown")
    expect(countdown).to_be_visible()
    shown = countdown.inner_text()
    assert 240 < _seconds(shown) <= 300
    expect(countdown).not_to_have_text(shown)
    later = countdown.inner_text()
    assert 240 < _seconds(later) < _seconds(shown)
    # The page keeps polling and the engine still waits for the phone.
    with browser_page.expect_response(lambda r: "/login/status" in r.url) as polled:
        pass
    assert polled.value.json() == {"state": "pending"}
    expect(browser_page.locator("#login-status")).to_have_text("Wachten op uw telefoon…")
    expect(login).to_have_attribute("data-state", "pending")
    _shot(browser_page, "figure-02-inloggen.png")

    # Figure 3: the engine's clock passes the QR's expiry; the poll turns the page grey
    # with a text, and the image becomes a button that makes a new QR.
    eng.clock.advance(timedelta(minutes=5, seconds=1))
    expect(login).to_have_attribute("data-state", "expired")
    expect(browser_page.locator("#login-status")).to_contain_text("verlopen")
    button = browser_page.locator("#qr-button")
    expect(button).to_be_enabled()
    expect(button).to_be_focused()
    expect(button).to_have_accessible_name("Nieuwe QR-code maken")
    _shot(browser_page, "figure-03-verlopen.png")
    browser_page.keyboard.press("Enter")
    expect(login).to_have_attribute("data-state", "pending")
    expect(login).not_to_have_attribute("data-payload", first)
    second = login.get_attribute("data-payload") or ""

    # The phone answers the new QR; the page moves on by itself to the overview (figure 17).
    eng.answer(second, phone, der)
    expect(browser_page).to_have_url(re.compile(r"/overzicht$"))
    expect(browser_page.locator("#person-name")).to_have_text(str(name))
    expect(browser_page.locator("[data-attribute=uzi_number]")).to_have_text(app.card.uzi_number)
    expect(browser_page.locator("[data-attribute=ura]")).to_have_text(app.card.ura)
    expect(browser_page.locator("[data-attribute=role]")).to_have_text(app.card.role)
    # The person's certificates: the one this phone logged in with, valid.
    mine = browser_page.locator(f"#certificates tr[data-serial='{der_serial(der)}']")
    expect(mine).to_contain_text("deze telefoon")
    expect(mine.locator("[data-state]")).to_have_text("geldig")
    _shot(browser_page, "figure-17-overzicht.png")

    # The English switch, kept by a cookie.
    browser_page.goto(portal_url + "overzicht?lang=en")
    expect(browser_page.locator("h1")).to_have_text("Overview")
    browser_page.goto(portal_url + "overzicht")
    expect(browser_page.locator("h1")).to_have_text("Overview")

    # Log out: the browser is back at a login QR and the engine's session has ended.
    browser_page.get_by_role("button", name="Log out").click()
    expect(browser_page.locator("h1")).to_have_text("Log in")
    with eng.db.connect() as conn:
        ended = conn.execute(
            sa.select(audit_events.c.details).where(audit_events.c.action == "login.session.end")
        ).all()
    assert len(ended) == 1

    assert problems == []


@pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
def test_a_refused_login_shows_the_engine_code(
    eng: Engine, portal_url: str, page: tuple[Page, list[str]]
) -> None:
    browser_page, problems = page
    eng.register_org()
    phone, der, _ = eng.registered(eng.cards.app())
    cert_id = eng.login(phone, der).certificate_id
    eng.operator.certs.RevokeCertificate(
        certificate_pb2.RevokeCertificateRequest(
            id=cert_id, reason=certificate_pb2.REVOCATION_REASON_KEY_COMPROMISE
        ),
        timeout=30,
    )
    browser_page.goto(portal_url + "?lang=en")
    login = browser_page.locator("#login")
    payload = login.get_attribute("data-payload") or ""
    with pytest.raises(grpc.RpcError) as err:
        eng.answer(payload, phone, der)
    assert rpc_code(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "ZID-1704")
    expect(login).to_have_attribute("data-state", "refused")
    expect(browser_page.locator("#login-error")).to_have_text("ZID-1704: Login was refused.")
    expect(browser_page.locator("#qr-button")).to_be_enabled()
    _shot(browser_page, "login-refused.png")
    assert problems == []


@pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
def test_an_engine_refusal_carries_its_code_and_texts(eng: Engine) -> None:
    cert, key = eng.pki.client("portal")
    ca = eng.pki.root / "server-ca.pem"

    async def poll_unknown() -> Refusal:
        client = EngineClient(f"127.0.0.1:{eng.built.port}", cert=cert, key=key, ca=ca)
        try:
            await client.poll_login("no-such-challenge")
        except Refusal as refusal:
            return refusal
        finally:
            await client.close()
        raise AssertionError("the engine answered a poll for an unknown challenge")

    refusal = asyncio.run(poll_unknown())
    code, expected = engine_refusal(eng, "no-such-challenge")
    assert refusal.code == code and code.startswith("ZID-")
    assert refusal.text("nl") == expected["nl"] and refusal.text("en") == expected["en"]


def engine_refusal(eng: Engine, challenge_id: str) -> tuple[str, dict[str, str]]:
    """The same refusal as the flows' own client reads it (locale's language part)."""
    with pytest.raises(grpc.RpcError) as err:
        eng.portal.login.GetLoginChallenge(
            login_pb2.GetLoginChallengeRequest(challenge_id=challenge_id), timeout=30
        )
    texts = {locale.split("-")[0]: text for locale, text in localized(err.value).items()}
    return rpc_code(err.value)[1], texts


@pytest.mark.parametrize("migrated_db", ["sqlite"], indirect=True)
def test_the_countdown_alone_lapses_the_qr(
    eng: Engine, portal_url: str, page: tuple[Page, list[str]]
) -> None:
    # The browser's own clock runs past the expiry while the engine still waits: the page
    # does not offer a QR the engine is about to refuse.
    browser_page, problems = page
    _in_step(eng)
    browser_page.clock.install()
    browser_page.goto(portal_url)
    login = browser_page.locator("#login")
    expect(login).to_have_attribute("data-state", "pending")
    browser_page.clock.fast_forward("05:01")
    expect(login).to_have_attribute("data-state", "expired")
    expect(browser_page.locator("#countdown")).to_have_text("0:00")
    expect(browser_page.locator("#qr-button")).to_be_enabled()
    assert problems == []


def test_the_console_watch_sees_errors(page: tuple[Page, list[str]]) -> None:
    # The browser tests' "no console error" holds only if the watch hears one.
    browser_page, problems = page
    browser_page.set_content("<p>x</p>")
    with browser_page.expect_event("console"):
        browser_page.evaluate("console.error('broken')")
    with browser_page.expect_event("pageerror"):
        browser_page.evaluate("setTimeout(() => { throw new Error('thrown'); }, 0)")
    assert problems == ["console: broken", "pageerror: thrown"]
