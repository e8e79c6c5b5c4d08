"""A teacher in a real browser: their classes, a roster, today's attendance.

On a desktop and a phone; axe-core checks every page and fails on any serious or
critical violation. Screenshots land in var/screenshots/classes-*.png.
"""

from __future__ import annotations

import pytest

from access.viewer import viewer_for
from records import models as m
from tests.browser.conftest import screenshot
from tests.browser.test_family_portal import assert_accessible, no_sideways_scroll, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("device", ["page", "phone"])
def test_a_teacher_takes_attendance(world, live_server, request, device):
    browser_page = request.getfixturevalue(device)
    suffix = "desktop" if device == "page" else "phone"
    own, adult = world.a.students["own"], world.a.students["adult"]
    m.ProgramParticipation.unscoped.create(
        district=world.a.district, student=own, program="section_504",
        accommodations="Extended time on tests",
    )  # fmt: skip
    sign_in(browser_page, live_server.url, "a-teacher")

    browser_page.goto(f"{live_server.url}/classes/")
    browser_page.wait_for_selector("h1:has-text('Your classes')")
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"classes-list-{suffix}")

    browser_page.get_by_role("link", name=world.a.section.course.title).click()
    browser_page.wait_for_selector("text=Extended time on tests")
    assert own.family_name in browser_page.content()
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"classes-roster-{suffix}")

    browser_page.get_by_role("link", name="Take today's attendance").click()
    browser_page.wait_for_selector("h1:has-text('Attendance')")
    assert_accessible(browser_page)
    name = f"{own.given_name} {own.family_name}"
    row = browser_page.get_by_role("group", name=name)
    row.get_by_label("Absent").check()
    row.get_by_label("Reason (optional)").fill("Dentist")
    browser_page.get_by_role("group", name=f"{adult.given_name} {adult.family_name}").get_by_label(
        "Present"
    ).check()
    browser_page.get_by_role("button", name="Save attendance").click()
    browser_page.wait_for_selector("text=Attendance saved")
    assert browser_page.get_by_role("group", name=name).get_by_label("Absent").is_checked()
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"classes-attendance-{suffix}")
    today = viewer_for(world.a.users["teacher"]).today
    saved = m.AttendanceRecord.unscoped.filter(section=world.a.section, date=today)
    assert sorted(saved.values_list("student_id", "status", "reason")) == sorted(
        [(own.pk, "absent", "Dentist"), (adult.pk, "present", "")]
    )

    browser_page.get_by_role("link", name=world.a.section.course.title).click()
    browser_page.wait_for_selector("text=Extended time on tests")
    assert "Absent" in browser_page.content()
    screenshot(browser_page, f"classes-roster-after-{suffix}")
