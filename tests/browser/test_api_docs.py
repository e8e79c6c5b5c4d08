"""The API explorer (Swagger UI) works under the Content-Security-Policy: its start-up
script is a file, its styles are stylesheets (the page fixture fails on any refusal)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_explorer_renders_the_schema(live_server, page):
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector("text=studentdata API")
    page.wait_for_selector("text=/api/v1/students/")
    assert page.locator(".opblock").count() > 0
    screenshot(page, "api-docs-desktop")
