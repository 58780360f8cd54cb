"""The whole development stack as ``make run`` starts it (``python -m devapps``), in a
directory of this run's own, on free loopback ports; and Chromium pages that fail a test
on any console error.

One stack serves every test of this folder (its first start makes the CA, the tokens and
the test UZI-register: about 20 s). Tests that walk the manual share its engine, so each
makes its own cards and phones (the Desktop App and Mobile App pages make new ones).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "portal"
CHROMIUM = "/usr/bin/chromium"
READY = "ZORG-ID development stack ready"


@dataclass(frozen=True)
class Stack:
    """The running stack: its data folder, its log, and where each part answers."""

    root: Path
    log: Path
    portal: str
    mobile_app: str
    desktop_app: str
    proc: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("devstack")
    log = folder / "stack.log"
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devapps",
            "--data-dir",
            str(folder / "var"),
            "--engine-listen",
            "127.0.0.1:0",
            "--ocsp-listen",
            "127.0.0.1:0",
            "--portal-listen",
            "127.0.0.1:0",
            "--apps-listen",
            "127.0.0.1:0",
        ],
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 180
        while READY not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the development stack did not start:\n{log.read_text()}")
            time.sleep(0.2)
        text = log.read_text()

        def url(name: str) -> str:
            found = re.search(rf"^  {name}\s+(http://\S+)$", text, re.MULTILINE)
            assert found, f"no {name} URL in:\n{text}"
            return found.group(1)

        yield Stack(
            root=folder / "var",
            log=log,
            portal=url("Portal"),
            mobile_app=url("Mobile App"),
            desktop_app=url("Desktop App"),
            proc=proc,
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Window:
    """One browser context (one person's browser): its tabs and every console error in them."""

    context: BrowserContext
    problems: list[str]

    def tab(self) -> Page:
        """A new tab whose console errors and uncaught exceptions are recorded."""
        page = self.context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not _error_page_status(message, page):
                self.problems.append(f"console ({page.url}): {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda err: self.problems.append(f"pageerror ({page.url}): {err}"))
        return page


def _error_page_status(message: ConsoleMessage, page: Page) -> bool:
    """Chromium logs the 4xx status of a page it shows (the portal's error page answers 400
    on purpose); a failing script, fetch or image of the page is still a problem."""
    return message.location.get("url") == page.url and message.text.startswith(
        "Failed to load resource: the server responded with a status of 4"
    )


@pytest.fixture
def window(chromium: Browser) -> Iterator[Window]:
    """A fresh browser context; the test fails on any console error it saw."""
    context = chromium.new_context(viewport={"width": 900, "height": 800})
    made = Window(context, [])
    try:
        yield made
    finally:
        context.close()
    assert made.problems == [], made.problems


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot under ``var/test-artifacts/portal/`` (docs/portal.md)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
