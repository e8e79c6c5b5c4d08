"""Directory opt-outs and requests to inspect, in a real browser.

A parent opts their child out of one directory field and then of all of them, asks
to inspect records; a district admin marks the request fulfilled; the parent sees
the outcome. axe-core checks each new page (no serious or critical violation);
screenshots land in var/screenshots/ as directory-* and inspection-*.
"""

from __future__ import annotations

import pytest

from access.projection import project_students
from access.scoping import Allowed
from access.viewer import viewer_for
from records.models import InspectionRequest
from tests.browser.conftest import screenshot
from tests.browser.test_family_portal import assert_accessible, no_sideways_scroll, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def released(world, student) -> set[str]:
    """The directory fields a party outside the school would receive now."""
    viewer = viewer_for(world.a.users["district_admin"])
    allowed = Allowed(frozenset({"directory"}), None, True, frozenset({"provider"}))
    (projected,) = project_students(viewer, [student], {student.pk: allowed})
    return set(projected["directory"])


def test_a_parent_opts_out_and_asks_to_inspect_and_staff_answer(world, live_server, browser, page):
    own = world.a.students["own"]
    base = live_server.url
    sign_in(page, base, "a-parent")
    page.goto(f"{base}/family/{own.pk}/")
    page.get_by_role("link", name="Directory information: opt out").click()
    page.wait_for_selector("h1:has-text('Directory information about')")
    assert_accessible(page)
    screenshot(page, "directory-desktop")

    page.get_by_label("Last name").check()
    page.get_by_role("button", name="Save my choices").click()
    page.wait_for_selector("text=Your choices are saved")
    row = page.locator("tr", has=page.locator("th", has_text="Last name"))
    assert "No: you opted out" in row.inner_text()
    assert page.get_by_label("Last name").is_checked()
    assert released(world, own) == {"given_name", "grade_level", "schools"}
    assert_accessible(page)
    screenshot(page, "directory-one-field-desktop")

    page.get_by_label("Opt out of all directory information").check()
    page.get_by_role("button", name="Save my choices").click()
    page.wait_for_selector("text=You opted out of all directory information.")
    assert page.locator("text=No: you opted out").count() == 4
    assert released(world, own) == set()
    screenshot(page, "directory-all-desktop")

    page.goto(f"{base}/family/{own.pk}/")
    page.get_by_role("link", name="Ask to see other records").click()
    page.wait_for_selector("text=No requests yet.")
    assert_accessible(page)
    screenshot(page, "inspection-empty-desktop")
    page.get_by_role("button", name="Send the request").click()  # nothing filled in
    page.wait_for_selector("[aria-invalid=true]")
    assert_accessible(page)
    page.get_by_label("Which records would you like to see?").fill(
        "The reading specialist's notes from this year"
    )
    page.get_by_label("Receive copies").check()
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_selector("text=Your request is sent.")
    (item,) = InspectionRequest.unscoped.all()
    entry = page.locator("li.request-entry")
    assert "Open" in entry.inner_text() and "Receive copies" in entry.inner_text()
    assert entry.locator(f"time[datetime='{item.due_on:%Y-%m-%d}']").count() == 1
    assert_accessible(page)
    screenshot(page, "inspection-requested-desktop")

    staff = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(staff, base, "a-district_admin")
    staff.goto(f"{base}/district/inspections/")
    staff.wait_for_selector("h1:has-text('Requests to inspect records')")
    assert own.family_name in staff.locator("table").inner_text()
    assert_accessible(staff)
    screenshot(staff, "inspection-queue-desktop")
    staff.get_by_role("link", name=own.display_name).click()
    staff.wait_for_selector("text=The reading specialist's notes")
    assert_accessible(staff)
    screenshot(staff, "inspection-review-desktop")
    staff.get_by_label("Fulfilled: the family has reviewed the records").check()
    staff.get_by_label("Note to the family").fill("Copies mailed on Monday.")
    staff.get_by_role("button", name="Close the request").click()
    staff.wait_for_selector("text=The request is closed.")
    assert staff.locator("form").filter(has_text="Close the request").count() == 0
    screenshot(staff, "inspection-closed-desktop")
    staff.context.close()

    page.reload()
    entry = page.locator("li.request-entry")
    assert "Fulfilled" in entry.inner_text() and "Copies mailed on Monday." in entry.inner_text()
    screenshot(page, "inspection-fulfilled-desktop")


def test_the_pages_on_a_phone_in_spanish(world, live_server, phone):
    own = world.a.students["own"]
    base = live_server.url
    phone.context.add_cookies([{"name": "django_language", "value": "es", "url": base}])
    sign_in(phone, base, "a-parent")
    phone.goto(f"{base}/family/{own.pk}/directory/")
    phone.wait_for_selector("h1:has-text('Información de directorio')")
    assert_accessible(phone)
    no_sideways_scroll(phone)
    screenshot(phone, "directory-phone-es")
    phone.goto(f"{base}/family/{own.pk}/inspection/")
    phone.get_by_label("¿Qué expedientes desea ver?").fill("Todo el expediente de salud")
    phone.get_by_label("Revisarlos en persona en la escuela").check()
    phone.get_by_role("button", name="Enviar la solicitud").click()
    phone.wait_for_selector("text=Su solicitud fue enviada.")
    assert "Abierta" in phone.locator("li.request-entry").inner_text()
    assert_accessible(phone)
    no_sideways_scroll(phone)
    screenshot(phone, "inspection-phone-es")
