"""The public school report cards in a real browser, as a parent reads them.

On a phone and a desktop, in English and in Spanish: finding a school by name, its
headline figures, tables that scroll inside their box (never the page), charts and hidden
values ("n<10", "*") explained to screen readers, the district, methodology and state
pages, and the CSV download. axe-core fails any serious or critical violation;
screenshots land in var/screenshots/.

The data is synthetic (``publish_release``), published once per test: no seeded students.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from records.models import District, School
from reports import published
from reports import state as state_releases
from tests.browser.conftest import screenshot
from tests.browser.test_family_portal import assert_accessible
from tests.factories import DistrictFactory, SchoolFactory
from tests.reports.test_public_pages import built_in_parts, publish_release

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Cards:
    district: District
    maple: School
    cedar: School


@pytest.fixture
def lakeview() -> Cards:
    """A district's published report card: Lakeview Unified, two schools, 600 students."""
    district = DistrictFactory(name="Lakeview Unified", state="OR")
    maple = SchoolFactory(district=district, name="Maple Elementary")
    cedar = SchoolFactory(district=district, name="Cedar Elementary")
    publish_release(district, [maple, cedar], 600, seed=5)
    # Pages compare with the state's latest release, remembered for a while by this
    # process: never one an earlier test published.
    published.forget_latest("OR")
    return Cards(district, maple, cedar)


@pytest.fixture
def oregon(lakeview) -> Cards:
    """Lakeview and a second Oregon district, and Oregon's state report card: the school
    page then compares with the district and the state (its widest comparison table)."""
    pine_ridge = DistrictFactory(name="Pine Ridge", state="OR")
    pine_schools = [SchoolFactory(district=pine_ridge, name=name) for name in ("Fir", "Oak")]
    publish_release(pine_ridge, pine_schools, 260, seed=1)
    state_releases.publish_state_release("OR", 2027)
    return lakeview


def assert_no_sideways_page_scroll(page) -> None:
    """The page itself never scrolls sideways; names what sticks out when it does."""
    overflow = page.evaluate(
        """() => {
            const width = window.innerWidth;
            const wide = [...document.querySelectorAll("body *")]
                .filter((el) => el.getBoundingClientRect().right > width + 1)
                .filter((el) => !el.closest(".table-scroll"))
                .slice(0, 5)
                .map((el) => el.tagName.toLowerCase() + (el.className ? "." + el.className : ""));
            return {scroll: document.documentElement.scrollWidth, width, wide};
        }"""
    )
    assert overflow["scroll"] <= overflow["width"], (page.url, overflow)


def assert_charts_are_described(page) -> int:
    """Every chart names itself by a <title> and describes its bars by a <desc>, both
    inside the chart and both referenced by aria-labelledby. Returns the chart count."""
    charts = page.evaluate(
        """() => [...document.querySelectorAll("svg[role=img]")].map((svg) => {
            const ids = (svg.getAttribute("aria-labelledby") || "").split(/\\s+/);
            const parts = ids.filter(Boolean).map((id) => {
                const el = document.getElementById(id);
                return el && svg.contains(el)
                    ? [el.tagName.toLowerCase(), el.textContent.trim()] : [id, null];
            });
            return {id: svg.id || ids[0], parts};
        })"""
    )
    for chart in charts:
        tags = dict(chart["parts"])
        assert [tag for tag, _text in chart["parts"]] == ["title", "desc"], chart
        assert all(tags.values()), chart
        assert ":" in tags["desc"], chart  # "Level 1: 23%; Level 2: n<10 (...)"
    return len(charts)


def assert_marks_are_explained(page) -> int:
    """Every hidden or coded value (abbr.code) carries a title that explains it, not
    merely repeats it. Returns how many marks the page shows."""
    marks = page.locator("abbr.code").evaluate_all(
        "marks => marks.map(m => [m.textContent.trim(), (m.getAttribute('title') || '').trim()])"
    )
    for text, title in marks:
        assert len(title) > 15 and title != text, (text, title)
    return len(marks)


def test_a_parent_on_a_phone_finds_a_school_and_reads_its_report_card(oregon, live_server, phone):
    phone.goto(f"{live_server.url}/reports/")
    phone.wait_for_selector("h1:has-text('School report cards')")
    phone.get_by_label("Find a school").fill("mapl")
    phone.get_by_role("button", name="Search").click()
    phone.wait_for_selector("#results:has-text('1 school matches')")
    phone.locator("section[aria-labelledby=results]").get_by_role(
        "link", name="Maple Elementary"
    ).click()
    phone.wait_for_url(f"**/reports/schools/{oregon.maple.pk}/")
    phone.wait_for_selector("h1:has-text('Maple Elementary')")

    # The headline figures, each visible with a value.
    figures = phone.locator("dl.headline .figure")
    assert figures.count() >= 3
    for at in range(figures.count()):
        assert figures.nth(at).is_visible()
        assert figures.nth(at).locator("dd").inner_text().strip()
    assert "Students enrolled" in figures.first.inner_text()

    # Wide tables scroll inside their own box; the page does not scroll sideways.
    boxes = phone.locator(".table-scroll").evaluate_all(
        """boxes => boxes.map(box => {
            const wide = box.scrollWidth > box.clientWidth;
            box.scrollLeft = 80;
            return {wide, moved: box.scrollLeft > 0,
                    overflow: getComputedStyle(box).overflowX};
        })"""
    )
    assert any(box["wide"] for box in boxes), boxes
    assert all(box["moved"] for box in boxes if box["wide"]), boxes
    assert all(box["overflow"] in ("auto", "scroll") for box in boxes), boxes
    assert phone.evaluate("window.scrollX") == 0
    assert_no_sideways_page_scroll(phone)
    phone.locator(".table-scroll").evaluate_all("boxes => boxes.forEach(b => b.scrollLeft = 0)")

    assert assert_charts_are_described(phone) == 2  # Mathematics and Reading
    assert assert_marks_are_explained(phone) > 0
    assert phone.locator("abbr.code", has_text="n<10").count() > 0
    screenshot(phone, "report-school-phone")
    assert_accessible(phone)


def test_the_school_report_card_reads_the_same_in_english_and_spanish(lakeview, live_server, page):
    page.goto(f"{live_server.url}/reports/schools/{lakeview.maple.pk}/")
    page.wait_for_selector("h1:has-text('Maple Elementary')")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Attendance", exact=True).is_visible()
    assert page.locator(".brand").inner_text() == "School report cards"
    enrolled = page.locator("dl.headline dd").first.inner_text()
    assert_charts_are_described(page)
    assert_marks_are_explained(page)
    screenshot(page, "report-school-desktop")
    assert_accessible(page)
    assert_no_sideways_page_scroll(page)

    page.get_by_role("link", name="Español").click()
    page.wait_for_url("**?lang=es")
    page.wait_for_selector("html[lang=es]")
    assert page.locator("h1").inner_text() == "Maple Elementary"
    assert page.locator(".brand").inner_text() == "Informes de las escuelas"
    assert page.get_by_role("heading", name="Asistencia", exact=True).is_visible()
    assert page.locator("dl.headline dd").first.inner_text() == enrolled
    # The links keep the language: back to the index, and to the CSV.
    assert page.locator(".brand").get_attribute("href").endswith("?lang=es")
    assert page.locator("a.button[href*='report.csv']").get_attribute("href").endswith("?lang=es")
    assert page.get_by_role("link", name="English").is_visible()
    assert_charts_are_described(page)
    assert_marks_are_explained(page)
    screenshot(page, "report-school-desktop-es")
    assert_accessible(page)
    assert_no_sideways_page_scroll(page)


def test_the_district_methodology_and_state_pages_fit_a_phone(oregon, live_server, phone):
    phone.goto(f"{live_server.url}/reports/schools/{oregon.maple.pk}/")
    phone.locator("p.back").get_by_role("link", name="Lakeview Unified").click()
    phone.wait_for_url(f"**/reports/districts/{oregon.district.pk}/")
    phone.wait_for_selector("h1:has-text('Lakeview Unified')")
    assert phone.get_by_role("link", name="Cedar Elementary").is_visible()
    assert_charts_are_described(phone)
    assert_marks_are_explained(phone)
    screenshot(phone, "report-district-phone")
    assert_accessible(phone)
    assert_no_sideways_page_scroll(phone)

    phone.get_by_role("link", name="How these figures are protected").click()
    phone.wait_for_url(f"**/reports/districts/{oregon.district.pk}/methodology/")
    phone.wait_for_selector("h1:has-text('How the figures are protected')")
    assert "n<10" in phone.locator("main").inner_text()
    screenshot(phone, "report-methodology-phone")
    assert_accessible(phone)
    assert_no_sideways_page_scroll(phone)

    phone.goto(f"{live_server.url}/reports/")
    phone.get_by_role("link", name="Oregon: state report card").click()
    phone.wait_for_url("**/reports/states/OR/")
    phone.wait_for_selector("h1:has-text('Oregon')")
    assert phone.get_by_role("link", name="Pine Ridge").is_visible()
    assert_charts_are_described(phone)
    assert_marks_are_explained(phone)
    screenshot(phone, "report-state-phone")
    assert_accessible(phone)
    assert_no_sideways_page_scroll(phone)


def test_a_large_districts_methodology_says_what_its_check_proves(live_server, phone, monkeypatch):
    # Protected a few schools at a time, as a district of more than 10,000 cells is.
    district = DistrictFactory(name="Bigtown Unified", state="WA")
    release = built_in_parts(district, monkeypatch, publish=True)
    phone.goto(f"{live_server.url}/reports/districts/{district.pk}/methodology/")
    phone.wait_for_selector("h1:has-text('How the figures are protected')")
    text = phone.locator("main").inner_text()
    assert "a few schools at a time" in text
    assert f"at least {release.summary['narrowest_primary_interval']:.0f}" in text
    screenshot(phone, "report-methodology-in-parts-phone")
    assert_accessible(phone)
    assert_no_sideways_page_scroll(phone)


def test_the_csv_download_carries_the_school_report_card(lakeview, live_server, page):
    page.goto(f"{live_server.url}/reports/schools/{lakeview.maple.pk}/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download this report card (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == f"school-{lakeview.maple.pk}-report-2027.csv"
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("school_year,")
    assert lines[0].split(",")[-2:] == ["code", "code_meaning"]
    assert len(lines) > 20 and all(line.startswith("2027,") for line in lines[1:])
    assert any("Maple Elementary" in line and "n<10" in line for line in lines[1:])
