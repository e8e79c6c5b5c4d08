"""The family portal in a real browser: a parent signs in and reads their child's record.

On a desktop and a phone, in English and in Spanish; axe-core checks every page and
fails on any serious or critical violation. Screenshots land in var/screenshots/.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe

from access.audit import Disclosure, record_access
from access.viewer import viewer_for
from tests.browser.conftest import give_second_factor, screenshot
from tests.records.test_family_pages import add_records

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Axe()


def assert_accessible(page) -> None:
    violations = AXE.run(page).response["violations"]
    serious = [
        (v["id"], v["impact"], [node["target"] for node in v["nodes"]][:3])
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], page.url


def sign_in(page, base_url: str, username: str, password: str = "correct horse battery") -> None:
    page.goto(f"{base_url}/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()
    give_second_factor(page, username)


def family_world(world):
    own = world.a.students["own"]
    add_records(world, own, attendance_days=40)
    teacher = viewer_for(world.a.users["teacher"])
    record_access(teacher, student_ids=[own.pk], categories=["grades", "attendance"], purpose="")
    record_access(
        viewer_for(world.a.users["district_admin"]),
        student_ids=[own.pk],
        categories=["directory", "transportation"],
        purpose="Planning bus routes",
        disclosure=Disclosure(party="Acme Bus Co.", legal_basis="99.31(a)(1)(i)(B)"),
    )
    return own


def no_sideways_scroll(page) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


@pytest.mark.parametrize("device", ["page", "phone"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_a_parent_reads_their_childs_record(world, live_server, request, device, language):
    browser_page = request.getfixturevalue(device)
    own = family_world(world)
    suffix = ("desktop" if device == "page" else "phone") + ("-es" if language == "es" else "")
    if language == "es":
        browser_page.context.add_cookies(
            [{"name": "django_language", "value": "es", "url": live_server.url}]
        )
    words = {
        "en": ("Your family", "See the whole record", "Attendance", "Who has seen"),
        "es": ("Su familia", "Ver el expediente completo", "Asistencia", "Quién ha visto"),
    }[language]
    sign_in(browser_page, live_server.url, "a-parent")

    browser_page.goto(f"{live_server.url}/family/")
    browser_page.wait_for_selector(f"h1:has-text('{words[0]}')")
    assert own.family_name in browser_page.content()
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"family-home-{suffix}")

    browser_page.get_by_role("link", name=words[1]).click()
    browser_page.wait_for_selector(f"h2:has-text('{words[2]}')")
    assert browser_page.url.endswith(f"/family/{own.pk}/")
    assert browser_page.locator("svg[role=img]").count() == 1
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"family-child-{suffix}")

    browser_page.locator("p.lead a").click()
    browser_page.wait_for_selector(f"h1:has-text('{words[3]}')")
    assert "Acme Bus Co." in browser_page.content()
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"family-access-{suffix}")

    # The filter works without JavaScript: a plain GET form.
    browser_page.locator("select[name=category]").select_option("transportation")
    browser_page.locator("form.log-filter button[type=submit]").click()
    browser_page.wait_for_url("**category=transportation**")
    assert browser_page.locator("li.access-entry").count() == 1


@pytest.mark.parametrize("device", ["page", "phone"])
def test_a_parent_pages_through_who_has_seen_the_record(world, live_server, request, device):
    """A line per reader and day, under the day's heading; "Older" and "Newer" by key."""
    from tests.access.test_family_access_pages import at, read

    browser_page = request.getfixturevalue(device)
    own, district = world.a.students["own"], world.a.district
    teacher = viewer_for(world.a.users["teacher"])
    principal = viewer_for(world.a.users["principal"])
    today = district.today()
    for n in range(1, 31):
        read(teacher, [own], ["attendance"], when=at(district, today - timedelta(days=n), 8, 5))
        read(teacher, [own], ["grades"], when=at(district, today - timedelta(days=n), 14, 10))
    read(
        principal,
        [own],
        ["attendance", "discipline"],
        when=at(district, today - timedelta(days=1), 9, 30),
    )
    sign_in(browser_page, live_server.url, "a-parent")
    browser_page.goto(f"{live_server.url}/family/{own.pk}/access/")
    entries = browser_page.locator("section[aria-labelledby=entries-heading]")
    assert entries.locator("h3 time").count() == 24  # 25 lines: yesterday has two
    lines = entries.locator("li.access-entry").all_inner_texts()
    assert len(lines) == 25
    assert "A principal at A Middle" in lines[0] and "Once, at 9:30" in lines[0]
    assert "A teacher at A Middle" in lines[1] and "2 times, between 8:05" in lines[1]
    assert "Attendance, Grades" in lines[1]
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    suffix = "desktop" if device == "page" else "phone"
    screenshot(browser_page, f"family-access-lines-{suffix}")

    browser_page.locator("nav.pagination a[rel=next]").click()
    browser_page.wait_for_url("**older=**")
    assert entries.locator("li.access-entry").count() == 6
    assert browser_page.locator("nav.pagination a[rel=next]").count() == 0
    assert_accessible(browser_page)
    no_sideways_scroll(browser_page)
    screenshot(browser_page, f"family-access-lines-older-{suffix}")
    browser_page.locator("nav.pagination a[rel=prev]").click()
    browser_page.wait_for_url("**newer=**")
    assert entries.locator("li.access-entry").all_inner_texts() == lines


def test_a_parent_whose_child_is_now_an_adult_sees_the_explanation(world, live_server, phone):
    sign_in(phone, live_server.url, "a-adult_parent")
    phone.goto(f"{live_server.url}/family/")
    phone.wait_for_selector("text=now holds the rights")
    assert_accessible(phone)
    no_sideways_scroll(phone)
    screenshot(phone, "family-home-rights-passed-phone")
    assert world.a.students["adult"].family_name not in phone.content()
