"""The second factor in a real browser: a principal sets up an authenticator app at first
sign-in, keeps the recovery codes, and gives a code at the next sign-in; on a phone, in
English and Spanish, each page axe-clean. Steps use the forms' field names, so they run
alike in either language."""

from __future__ import annotations

import re

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.accounts.two_factor_helpers import app_code
from tests.browser.conftest import screenshot
from tests.browser.test_family_portal import assert_accessible, no_sideways_scroll

pytestmark = pytest.mark.django_db(transaction=True)

HEADINGS = {
    "en": ("Set up a second factor", "Your recovery codes", "Your second factor", "Hello"),
    "es": (
        "Configurar un segundo factor",
        "Sus códigos de recuperación",
        "Su segundo factor",
        "Hola",
    ),
}


def password_step(page, base: str) -> None:
    page.goto(f"{base}/")
    page.locator("input[name=username]").fill("a-principal")
    page.locator("input[name=password]").fill("correct horse battery")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_principal_sets_up_and_then_gives_the_second_factor(world, live_server, phone, language):
    base = live_server.url
    setup, codes, verify, home = HEADINGS[language]
    if language == "es":
        phone.context.add_cookies([{"name": "django_language", "value": "es", "url": base}])
    password_step(phone, base)
    phone.get_by_role("heading", name=setup).wait_for()
    assert phone.locator("img.qr-code").get_attribute("src").startswith("data:image/svg+xml")
    assert_accessible(phone)
    no_sideways_scroll(phone)
    screenshot(phone, f"two-factor-setup-phone-{language}")

    device = TOTPDevice.objects.get(user=world.a.users["principal"], confirmed=False)
    phone.locator("input[name=code]").fill(app_code(device))
    phone.locator("main form button[type=submit]").click()
    phone.get_by_role("heading", name=codes).wait_for()
    shown = re.findall(r"\b[a-z2-7]{8}\b", phone.locator("ol.recovery-codes").inner_text())
    assert len(shown) == 10
    assert_accessible(phone)
    screenshot(phone, f"two-factor-codes-phone-{language}")
    phone.locator("main a.button").click()
    phone.get_by_role("heading", name=re.compile(home)).wait_for()

    phone.locator("header form button[type=submit]").last.click()  # sign out
    password_step(phone, base)
    phone.get_by_role("heading", name=verify).wait_for()
    assert_accessible(phone)
    screenshot(phone, f"two-factor-verify-phone-{language}")
    phone.locator("input[name=code]").fill(app_code(device))
    phone.locator("main form button[type=submit]").first.click()
    phone.get_by_role("heading", name=re.compile(home)).wait_for()
