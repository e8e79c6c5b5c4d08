"""Playwright driving Debian's chromium against the live test server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"chromium not found at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; Django must allow ORM use beside it.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    refused = refused_by_csp(page)
    yield page
    context.close()
    assert not refused, f"the Content-Security-Policy refused: {refused}"


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    refused = refused_by_csp(page)
    yield page
    context.close()
    assert not refused, f"the Content-Security-Policy refused: {refused}"


def refused_by_csp(page) -> list[str]:
    """What the page's Content-Security-Policy refused (an inline script or style, a
    foreign source), as chromium reports it on the console: every browser test thereby
    checks that its pages work under the policy."""
    refused: list[str] = []

    def on_console(message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", on_console)
    return refused


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def give_second_factor(page, username: str) -> None:
    """After the password: the second factor, if the product asks for it — set up the
    authenticator app (the code computed from the device the page just made) and go on
    past the recovery codes, or give the app's code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.accounts.two_factor_helpers import app_code

    page.wait_for_load_state()
    # By the forms' field names: the same in every language.
    if "/two-factor/setup/" in page.url:
        device = TOTPDevice.objects.get(user__username=username, confirmed=False)
        page.locator("input[name=code]").fill(app_code(device))
        page.locator("main form button[type=submit]").click()
        page.locator("ol.recovery-codes").wait_for()
        page.locator("main a.button").click()
        page.wait_for_load_state()
    elif "/two-factor/verify/" in page.url:
        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        page.locator("input[name=code]").fill(app_code(device))
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_load_state()
