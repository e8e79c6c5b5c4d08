"""A parent reads, in a real browser, what service providers received of their child.

Desktop and phone, English and Spanish; axe-core finds no serious or critical
violation. Screenshots land in var/screenshots/family-providers-*.png.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from access.models import Grant
from tests.browser.conftest import screenshot
from tests.browser.test_family_portal import assert_accessible, no_sideways_scroll, sign_in
from tests.records.test_family_disclosures import at, deliver, provider_client

pytestmark = pytest.mark.django_db(transaction=True)


def deliveries(world):
    """A bus company syncing nightly for three days, and a reading app once."""
    own = world.a.students["own"]
    district = world.a.district
    today = district.today()
    bus = provider_client(
        district,
        "Blue Bird Bus Co.",
        categories=["contact", "transportation"],
        purpose="student transportation",
    )
    app = provider_client(
        district,
        "Reading Owl",
        categories=["directory", "grades"],
        purpose="reading practice",
        legal_basis=Grant.LegalBasis.CONSENT,
    )
    for days in (1, 2, 3):
        deliver(bus, [own], at=at(district, today - timedelta(days=days), 2), times=5)
    deliver(app, [own], at=at(district, today - timedelta(days=2), 9), times=3)
    return own


@pytest.mark.parametrize("device", ["page", "phone"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_a_parent_reads_what_providers_received(world, live_server, request, device, language):
    browser_page = request.getfixturevalue(device)
    own = deliveries(world)
    if language == "es":
        browser_page.context.add_cookies(
            [{"name": "django_language", "value": "es", "url": live_server.url}]
        )
    heading, bus_line, app_line = {
        "en": (
            "What service providers received",
            "Blue Bird Bus Co. received Ysolde's address, phone and email; and bus route and "
            "stop on",
            "Reading Owl received Ysolde's name, grade and school; and grades on",
        ),
        "es": (
            "Lo que recibieron los proveedores de servicios",
            "Blue Bird Bus Co. recibió la dirección, el teléfono y el correo electrónico; y "
            "la ruta y la parada del autobús de Ysolde el",
            "Reading Owl recibió el nombre, el grado y la escuela; y las calificaciones de "
            "Ysolde el",
        ),
    }[language]
    sign_in(browser_page, live_server.url, "a-parent")
    browser_page.goto(f"{live_server.url}/family/{own.pk}/access/")
    browser_page.wait_for_selector(f"h2:has-text('{heading}')")

    lines = browser_page.locator("section.provider-disclosures li").all_inner_texts()
    assert len(lines) == 4  # three days of the bus, one of the app
    assert sum(bus_line in line for line in lines) == 3
    assert sum(app_line in line for line in lines) == 1
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    suffix = ("desktop" if device == "page" else "phone") + ("-es" if language == "es" else "")
    screenshot(browser_page, f"family-providers-{suffix}")

    # The link at the top leads down to the list.
    browser_page.locator("a[href='#providers-heading']").click()
    assert browser_page.url.endswith("#providers-heading")
