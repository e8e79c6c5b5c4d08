"""A research study end to end, in a real browser, as its real users: a researcher
proposes it (field errors first, then every part of the agreement, the IRB letter
uploaded), a district admin approves it, the researcher asks for a de-identified extract
and downloads its zip through the expiring link. axe-core checks every page (no
violation at all), the Content-Security-Policy refuses nothing; screenshots land in
/tmp/research-shots/. Celery runs inline in tests (no broker: CELERY_TASK_ALWAYS_EAGER),
so ``reports.build_extract`` runs when the request's transaction commits, before the
redirect: the extract's page shows its release report at once, never its progress bar."""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from access.models import Study, StudyVersion
from reports.models import StudyExtract
from tests.browser.conftest import give_second_factor, refused_by_csp
from tests.reports.test_research_studies import PDF, Setting

pytestmark = pytest.mark.django_db(transaction=True)

# Outside the repository: /tmp/research-shots/.
SHOTS = Path(tempfile.gettempdir()) / "research-shots"
AXE = Axe()
ELEMENTS = {
    "school": 2,
    "grade": 2,
    "sex": 1,
    "birth_year": 1,
    "iep": 1,
    "attendance_rate": 1,
    "assessment_levels": 1,
}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def assert_accessible(page) -> None:
    violations = AXE.run(page).response["violations"]
    found = [
        (v["id"], v["impact"], [node["target"] for node in v["nodes"]][:3]) for v in violations
    ]
    assert found == [], page.url


def sign_in(page, base_url: str, username: str) -> None:
    """As tests/browser/test_family_portal.py's, but waiting for the password's answer
    (a redirect to the second factor, or to the person's home) before looking at it."""
    page.goto(f"{base_url}/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill("correct horse battery")
    with page.expect_navigation():
        page.locator("form button[type=submit]").last.click()
    give_second_factor(page, username)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def check(page, name: str) -> None:
    assert_accessible(page)
    shot(page, name)


def on_a_phone(page, name: str) -> None:
    """The same page 375 px wide: nothing scrolls sideways."""
    page.set_viewport_size({"width": 375, "height": 740})
    try:
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, page.url
        shot(page, name)
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


def test_a_study_is_proposed_approved_and_its_extract_downloaded(live_server, page, browser):
    setting = Setting()
    base = live_server.url
    today = setting.district.today()

    # 1. The researcher proposes the study.
    sign_in(page, base, setting.researcher.username)
    page.wait_for_url(f"{base}/research/")
    page.wait_for_selector("h1:has-text('Your studies')")
    check(page, "01-research-home")
    page.locator("#id_title").fill("Attendance and achievement")
    page.get_by_role("button", name="Start the proposal").click()
    page.wait_for_selector("h1:has-text('Study proposal')")
    study = Study.unscoped.get(title="Attendance and achievement")
    assert page.url == f"{base}/research/{study.pk}/edit/"

    page.get_by_role("button", name="Submit for review").click()
    page.wait_for_selector("[aria-invalid=true]")
    assert page.get_by_text("Needed before the proposal can be submitted.").count() >= 10
    assert StudyVersion.unscoped.get(study=study).state == StudyVersion.State.DRAFT
    check(page, "02-proposal-errors")
    on_a_phone(page, "02-proposal-errors-phone")

    page.locator("[name=principal_investigator]").fill("Dr. Ada Lovelace")
    page.locator("[name=institution]").fill("State U")
    page.locator("[name=purpose]").fill("Whether attendance predicts mathematics levels.")
    page.locator("[name=research_questions]").fill(
        "Does attendance predict achievement?\nDoes it differ by grade?"
    )
    page.locator("[name=legal_basis][value=studies]").check()
    for code, question in ELEMENTS.items():
        page.locator(f"[name=element_{code}]").fill(str(question))
    for school in (setting.elementary, setting.middle):
        page.locator(f"[name=school_ids][value='{school.pk}']").check()
    for grade in ("03", "04", "05", "06", "07"):
        page.locator(f"[name=grade_levels][value='{grade}']").check()
    page.locator(f"[name=school_years][value='{setting.year.school_year}']").check()
    page.locator("[name=birth_dates_as][value=birth_year]").check()
    page.locator("[name=irb_number]").fill("IRB-2026-001")
    page.locator("[name=irb_expires_on]").fill((today + timedelta(days=400)).isoformat())
    page.locator("[name=irb_file]").set_input_files(
        files=[{"name": "irb-approval.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.locator(f"[name=researcher_ids][value='{setting.researcher.pk}']").check()
    page.locator("[name=starts_on]").fill(today.isoformat())
    page.locator("[name=ends_on]").fill((today + timedelta(days=200)).isoformat())
    page.locator("[name=destroy_by]").fill((today + timedelta(days=260)).isoformat())
    page.locator("[name=min_cell_size]").fill("10")
    shot(page, "03-proposal-filled")
    page.get_by_role("button", name="Submit for review").click()
    page.wait_for_url(f"{base}/research/{study.pk}/")
    page.wait_for_selector("text=The proposal was sent to the district for review.")
    version = StudyVersion.unscoped.get(study=study)
    assert version.state == StudyVersion.State.SUBMITTED
    assert version.research_questions == [
        "Does attendance predict achievement?",
        "Does it differ by grade?",
    ]
    assert {item["element"]: item["question"] for item in version.data_elements} == ELEMENTS
    assert version.school_ids == sorted([setting.elementary.pk, setting.middle.pk])
    assert version.researcher_ids == [setting.researcher.pk]
    assert version.irb_file.read().startswith(b"%PDF-")
    check(page, "04-study-submitted")

    # 2. A district admin approves it, in a browser of their own.
    admin_context = browser.new_context(viewport={"width": 1280, "height": 800})
    admin = admin_context.new_page()
    admin_refused = refused_by_csp(admin)
    try:
        sign_in(admin, base, setting.admin.username)
        admin.goto(f"{base}/district/studies/")
        admin.wait_for_selector("h1:has-text('Research studies')")
        waiting = admin.locator("section[aria-labelledby=waiting-heading]")
        assert waiting.get_by_role("link", name="Attendance and achievement").count() == 1
        check(admin, "05-district-list")
        waiting.get_by_role("link", name="Attendance and achievement").click()
        admin.wait_for_url(f"{base}/district/studies/{study.pk}/")
        assert "Dr. Ada Lovelace" in admin.content()
        assert "IRB-2026-001" in admin.content()
        check(admin, "06-review")
        admin.locator("[name=decision][value=approve]").check()
        admin.locator("[name=reason]").fill("Complete, and it asks only for what it needs.")
        admin.get_by_role("button", name="Record the decision").click()
        admin.wait_for_selector("text=The decision was recorded")
        study.refresh_from_db()
        assert study.status == Study.Status.APPROVED
        check(admin, "07-review-approved")
    finally:
        admin_context.close()
    assert not admin_refused, f"the Content-Security-Policy refused: {admin_refused}"

    # 3. The researcher asks for an extract; it is built on commit (Celery inline).
    page.goto(f"{base}/research/{study.pk}/")
    page.wait_for_selector("h2:has-text('Extracts')")
    check(page, "08-study-approved")
    # Tasks run inline here: the answer comes once the extract is built, which on a busy
    # machine (the suite's other worker) takes longer than a click's usual wait.
    page.get_by_role("button", name="Ask for an extract").click(no_wait_after=True)
    page.wait_for_url(f"{base}/research/extracts/*/", timeout=120_000)
    page.wait_for_selector("h2:has-text('Release report')")
    extract = StudyExtract.unscoped.get(study=study)
    assert extract.status == StudyExtract.Status.READY
    assert extract.report["k_achieved"] >= 10  # the 480 students: k = 10 is reachable
    report = page.locator("dl.facts").first.inner_text()
    assert f"10 / {extract.report['k_achieved']}" in report
    assert f"Records released\n{extract.report['released']}" in report
    check(page, "09-extract")
    on_a_phone(page, "09-extract-phone")

    # 4. The zip, through the expiring link.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the zip").click()
    download = download_info.value
    assert download.suggested_filename == f"study-{study.pk}-extract-{extract.pk}.zip"
    bundle = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
    assert {"extract.csv", "data_dictionary.csv", "release_report.txt"} <= set(bundle.namelist())
    rows = bundle.read("extract.csv").decode("utf-8").splitlines()
    assert rows[0].split(",")[0] == "pseudonym"
    assert len(rows) - 1 == extract.report["released"] > 0
    assert not any(word in "\n".join(rows) for word in ("Given", "Family", "stu-", "LOC"))
    k_achieved = extract.report["k_achieved"]
    assert f"k required: 10; k achieved: {k_achieved}" in bundle.read("release_report.txt").decode()
    extract.refresh_from_db()
    assert extract.download_count == 1
    page.reload()
    page.wait_for_selector("h2:has-text('Release report')")
    check(page, "10-extract-downloaded")

    # The study page lists the extract, with what it released.
    page.get_by_role("link", name=f"← {study.title}").click()
    page.wait_for_url(f"{base}/research/{study.pk}/")
    extracts = page.locator("section[aria-labelledby=extracts-heading] table")
    assert "Ready" in extracts.inner_text()
    check(page, "11-study-with-extract")
