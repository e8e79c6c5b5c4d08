"""A principal in a real browser: the school's sections, one section's roster, the staff.

On a desktop and a phone; axe-core checks each page (no serious or critical
violation) and no page scrolls sideways. Screenshots land in
var/screenshots/school-sections-*.png, school-section-*.png and school-staff-*.png.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from access.viewer import viewer_for
from accounts.models import Role
from tests import factories as f
from tests.browser.conftest import screenshot
from tests.browser.test_family_portal import assert_accessible, no_sideways_scroll, sign_in
from tests.records.test_family_pages import add_records

pytestmark = pytest.mark.django_db(transaction=True)


def second_section(world):
    """Another current section at school 1, taught by a second teacher, one student."""
    d = world.a.district
    course = f.CourseFactory(district=d, title="Earth Science")
    section = f.SectionFactory(
        district=d, school=world.a.school1, term=world.a.term, course=course,
        title="Earth Science — Section B", period="3",
    )  # fmt: skip
    teacher = f.UserFactory(
        district=d, first_name="Imogen", last_name="Featherstonehaugh-Vandermeulen"
    )
    f.RoleMembershipFactory(user=teacher, role=Role.TEACHER, school=world.a.school1)
    f.SectionTeacherFactory(section=section, teacher=teacher)
    f.EnrollmentFactory(section=section, student=world.a.students["schoolmate"])
    return section


@pytest.mark.parametrize("device", ["page", "phone"])
def test_a_principal_opens_sections_a_section_and_staff(world, live_server, request, device):
    browser_page = request.getfixturevalue(device)
    suffix = "desktop" if device == "page" else "phone"
    own, adult = world.a.students["own"], world.a.students["adult"]
    add_records(world, own, attendance_days=12)
    second_section(world)
    sign_in(browser_page, live_server.url, "a-principal")

    browser_page.goto(f"{live_server.url}/school/")
    browser_page.wait_for_selector('h1:has-text("Your school\'s students")')
    nav = browser_page.get_by_role("navigation", name="School pages")
    nav.get_by_role("link", name="Sections", exact=True).click()
    browser_page.wait_for_selector('h1:has-text("Your school\'s sections")')
    assert "2 sections" in browser_page.inner_text("#results-heading")
    current = browser_page.locator('nav.subnav a[aria-current="page"]').all_inner_texts()
    assert current == ["Sections"]
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"school-sections-{suffix}")

    browser_page.get_by_role("link", name=world.a.section.course.title).click()
    browser_page.wait_for_selector(f"h1:has-text('{world.a.section.course.title}')")
    assert "2 students" in browser_page.inner_text("#roster-heading")
    names = browser_page.locator("table.school-list tbody th a").all_inner_texts()
    assert names == [
        f"{adult.family_name}, {adult.given_name}",
        f"{own.family_name}, {own.given_name}",
    ]
    assert "No substitute is assigned" in browser_page.inner_text("#substitutes")
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"school-section-{suffix}")

    # The principal assigns a substitute from the pool for today and tomorrow.
    substitute = f.UserFactory(
        district=world.a.district, username="a-sub", first_name="Sam", last_name="Cover"
    )
    f.RoleMembershipFactory(user=substitute, role=Role.TEACHER, school=world.a.school2)
    today = viewer_for(world.a.users["principal"]).today
    panel = browser_page.locator("#substitutes")
    panel.get_by_label("Substitute's username or email").fill("a-sub")
    panel.get_by_label("First day").fill(today.isoformat())
    panel.get_by_label("Last day").fill((today - timedelta(days=1)).isoformat())
    panel.get_by_role("button", name="Assign").click()
    browser_page.wait_for_selector("text=The last day can't be before the first.")
    assert_accessible(browser_page)
    panel = browser_page.locator("#substitutes")
    panel.get_by_label("Last day").fill((today + timedelta(days=1)).isoformat())
    panel.get_by_role("button", name="Assign").click()
    browser_page.wait_for_selector("text=Sam Cover covers this class from")
    assert "Covering today" in browser_page.inner_text("#substitutes")
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"school-section-substitute-{suffix}")

    nav = browser_page.get_by_role("navigation", name="School pages")
    nav.get_by_role("link", name="Staff", exact=True).click()
    browser_page.wait_for_selector('h1:has-text("Your school\'s staff")')
    assert "7 people" in browser_page.inner_text("#results-heading")  # not the substitute
    assert "Earth Science" in browser_page.inner_text("table.staff-list")
    assert world.b.users["principal"].email not in browser_page.content()
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"school-staff-{suffix}")

    # Keyboard: the sub-navigation is reachable and opens a page with Enter.
    browser_page.get_by_role("link", name="Sections", exact=True).focus()
    browser_page.keyboard.press("Enter")
    browser_page.wait_for_selector('h1:has-text("Your school\'s sections")')


@pytest.mark.parametrize("device", ["page", "phone"])
def test_a_district_admin_filters_sections_by_school(world, live_server, request, device):
    browser_page = request.getfixturevalue(device)
    suffix = "desktop" if device == "page" else "phone"
    f.SectionFactory(district=world.a.district, school=world.a.school2, term=world.a.term)
    sign_in(browser_page, live_server.url, "a-district_admin")

    browser_page.goto(f"{live_server.url}/school/sections/")
    assert "2 sections" in browser_page.inner_text("#results-heading")
    browser_page.get_by_label("School", exact=True).select_option(label="A High")
    browser_page.get_by_role("button", name="Show").click()
    browser_page.wait_for_load_state()
    assert "1 section" in browser_page.inner_text("#results-heading")
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"school-sections-filtered-{suffix}")
