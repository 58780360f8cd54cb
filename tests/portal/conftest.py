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

from tests.portal.people import People
from tests.softhsm import SoftHsmDir

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
def people(stack: Stack, softhsm_dir: SoftHsmDir) -> People:
    """The stack engine's clients and this run's own tokens, for what a test sets up by API."""
    return People(stack, softhsm_dir)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    # Per module, not per session: a running sync Playwright owns an event loop in the main
    # thread, which other folders' tests (their own Playwright, asyncio.run) must not meet.
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Window:
    """One browser context (one person's browser): its tabs, and every console error and
    uncaught exception in any of them (tabs a page opens, too)."""

    context: BrowserContext
    problems: list[str]

    def watch(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.problems.append(f"console ({page.url}): {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda err: self.problems.append(f"pageerror ({page.url}): {err}"))

    def tab(self) -> Page:
        """A new tab (watched like every page of the context)."""
        return self.context.new_page()


@pytest.fixture
def window(chromium: Browser) -> Iterator[Window]:
    """A fresh browser context; the test fails on any console error it saw."""
    context = chromium.new_context(viewport={"width": 900, "height": 800})
    made = Window(context, [])
    context.on("page", made.watch)
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
