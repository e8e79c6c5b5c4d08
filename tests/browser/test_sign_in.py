"""Signing in at ``/`` in a real browser, on a desktop and on a phone."""

from __future__ import annotations

import pytest

from tests.browser.conftest import give_second_factor, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    give_second_factor(page, username)


def test_a_principal_signs_in_and_sees_their_reach(world, live_server, page):
    page.goto(f"{live_server.url}/")
    screenshot(page, "sign-in-desktop")
    sign_in(page, live_server.url, "a-principal")
    page.wait_for_selector("text=Students you may see today")
    assert "Principal" in page.content()
    assert page.locator("strong", has_text="3").count() == 1
    screenshot(page, "home-principal-desktop")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector("text=Sign in")


def test_a_wrong_password_is_refused_on_a_phone(world, live_server, phone):
    phone.goto(f"{live_server.url}/")
    phone.get_by_label("Username").fill("a-parent")
    phone.get_by_label("Password").fill("not the password")
    phone.get_by_role("button", name="Sign in").click()
    phone.wait_for_selector("[role=alert]")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375  # no sideways scrolling on a phone
    screenshot(phone, "sign-in-error-phone")
