"""A principal in a real browser: searches the school, opens a student, asks why they see them.

On a desktop and a phone; axe-core checks each page (no serious or critical
violation). Screenshots land in var/screenshots/school-*.png.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_family_portal import assert_accessible, no_sideways_scroll, sign_in
from tests.records.test_family_pages import add_records

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("device", ["page", "phone"])
def test_a_principal_searches_the_school_and_opens_a_student(world, live_server, request, device):
    browser_page = request.getfixturevalue(device)
    suffix = "desktop" if device == "page" else "phone"
    own, schoolmate = world.a.students["own"], world.a.students["schoolmate"]
    add_records(world, own, attendance_days=12)
    sign_in(browser_page, live_server.url, "a-principal")

    browser_page.goto(f"{live_server.url}/school/")
    browser_page.wait_for_selector('h1:has-text("Your school\'s students")')
    assert "3 students" in browser_page.inner_text("#results-heading")
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"school-list-{suffix}")

    browser_page.get_by_label("Search").fill("quillfeather")
    browser_page.get_by_label("Grade").select_option("07")
    browser_page.get_by_role("button", name="Search").click()
    browser_page.wait_for_load_state()
    assert "1 student" in browser_page.inner_text("#results-heading")
    names = browser_page.locator("table.school-list tbody th a").all_inner_texts()
    assert names == [f"{own.family_name}, {own.given_name}"]
    assert schoolmate.family_name not in browser_page.content()
    assert_accessible(browser_page)
    screenshot(browser_page, f"school-search-{suffix}")

    browser_page.get_by_role("link", name=f"{own.family_name}, {own.given_name}").click()
    browser_page.wait_for_selector(f"h1:has-text('{own.given_name} {own.family_name}')")
    why = browser_page.locator("section.why-visible")
    assert why.locator("h2").inner_text() == "Why can I see this?"
    assert why.locator("li").all_inner_texts() == ["Principal at A Middle"]
    assert browser_page.locator("#health").count() == 0  # a principal never sees health
    assert browser_page.locator("#attendance").count() == 1
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"school-student-{suffix}")

    # "Who can see this student?", from the same access code as the page itself.
    browser_page.get_by_role("link", name="Who can see this student?").click()
    browser_page.wait_for_load_state()
    content = browser_page.content()
    for name in ("teacher", "parent", "nurse", "district_admin"):
        assert world.a.users[name].username in content
    assert world.a.users["adult_parent"].username not in content  # lost access at 18
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"school-readers-{suffix}")
