"""A district admin uploads a roster file in a real browser and follows it to its report.

The OneRoster importer is a fake that takes a few seconds and reports progress, and
the Celery task runs in a thread, as a worker would, so the run's page is seen while
the import runs (its script polls the progress URL and reloads when the phase changes).
"""

from __future__ import annotations

import importlib
import io
import threading
import time
import zipfile
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from records import tasks
from records.importers.report import ImportReport
from records.models import ImportRun
from tests.browser.conftest import screenshot
from tests.browser.test_sign_in import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def report(*, rejected: bool) -> ImportReport:
    result = ImportReport()
    if rejected:
        result.error("users.csv", 12, 5, "birthDate", message="Not a date: write it as YYYY-MM-DD.")
        result.error(
            "enrollments.csv",
            3,
            2,
            "classSourcedId",
            message="No class in classes.csv or already imported has this sourcedId.",
        )
        result.error(
            "manifest.csv", message="The manifest names demographics.csv, which is missing."
        )
        result.rows_total = 5000
        return result
    for entity, created, updated, unchanged in [
        ("schools", 0, 1, 11),
        ("academic_sessions", 2, 0, 4),
        ("courses", 14, 3, 120),
        ("sections", 40, 12, 380),
        ("users", 312, 25, 4100),
        ("students", 280, 20, 3600),
        ("enrollments", 1450, 0, 21000),
    ]:
        result.count(entity, "created", created)
        result.count(entity, "updated", updated)
        result.count(entity, "unchanged", unchanged)
    result.count("enrollments", "ended", 96)
    result.warning(
        "users.csv", 418, 9, "email", message="Not an email address; this person was skipped."
    )
    result.warning("demographics.csv", 77, 1, "sourcedId", message="No such student; row skipped.")
    result.rows_total = 5000
    result.applied = True
    return result


@pytest.fixture
def slow_importer(monkeypatch, settings, tmp_path):
    """The importer takes about four seconds; the task runs in a thread like a worker."""
    settings.IMPORT_UPLOAD_ROOT = tmp_path / "imports"
    state = {"rejected": False}

    def fake(path, *, district_slug, progress, **options):
        progress("reading", 0, 0)
        time.sleep(1.0)
        progress("applying", 1800, 5000)
        time.sleep(3.0)
        progress("applying", 5000, 5000)
        return report(rejected=state["rejected"]), None

    module = importlib.import_module("records.importers.oneroster")
    monkeypatch.setattr(module, "import_oneroster", fake)

    threads = []

    def worker(run_id):
        try:
            tasks.run_import(run_id)
        finally:
            connection.close()

    def delay(run_id):
        thread = threading.Thread(target=worker, args=(run_id,), daemon=True)
        thread.start()
        threads.append(thread)

    monkeypatch.setattr(tasks.run_import, "delay", delay)
    yield state
    for thread in threads:
        thread.join(timeout=30)


@pytest.fixture
def roster_zip(tmp_path):
    path = tmp_path / "oneroster-2026-08-15.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.csv", "propertyName,value\nmanifest.version,1.0\n")
    path.write_bytes(buffer.getvalue())
    return path


def past_runs(world):
    admin = world.a.users["district_admin"]
    now = timezone.now()
    rows = [
        ("oneroster-2026-08-01.zip", ImportRun.Status.SUCCEEDED, {"users": {"created": 40}}),
        ("oneroster-2026-07-28.zip", ImportRun.Status.REJECTED, {}),
        (
            "oneroster-2026-07-15-full-export.zip",
            ImportRun.Status.SUCCEEDED,
            {"users": {"updated": 7}},
        ),
    ]
    for days, (name, status, counts) in enumerate(rows, start=1):
        run = ImportRun.unscoped.create(
            district=world.a.district,
            kind=ImportRun.Kind.ONEROSTER,
            status=status,
            started_by=admin,
            file_name=name,
            file_sha256="ab" * 32,
            counts=counts,
        )
        ImportRun.unscoped.filter(pk=run.pk).update(created_at=now - timedelta(days=days))


def no_sideways_scrolling(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_district_admin_uploads_and_follows_the_run_to_its_report(
    world, live_server, page, slow_importer, roster_zip
):
    past_runs(world)
    sign_in(page, live_server.url, "a-district_admin")
    page.get_by_role("link", name="Import rosters").click()
    page.wait_for_selector("h1:has-text('Roster imports')")
    screenshot(page, "imports-form-desktop")

    page.get_by_label("OneRoster file (.zip)").set_input_files(str(roster_zip))
    page.get_by_role("button", name="Upload and import").click()

    page.wait_for_selector("text=Applying the changes.", timeout=10_000)
    assert page.locator("progress").count() == 1
    page.wait_for_function("document.querySelector('progress').value >= 1800", timeout=5_000)
    assert "1,800 of 5,000 rows" in page.content()
    screenshot(page, "imports-progress-desktop")

    # The page's script notices the end and reloads into the report.
    page.wait_for_selector("text=Imported: 2,255 changes", timeout=15_000)
    run = ImportRun.unscoped.get(file_name=roster_zip.name)
    assert run.status == ImportRun.Status.SUCCEEDED
    assert run.stored_path == ""
    content = page.content()
    assert "users.csv, line 418, column 9 (email)" in content
    assert run.file_sha256 in content
    screenshot(page, "imports-report-desktop")

    page.get_by_role("link", name="← All imports").click()
    page.wait_for_selector(f"text={roster_zip.name}")
    assert page.locator("table.runs tbody tr").count() == 4
    screenshot(page, "imports-list-desktop")


def test_a_rejected_upload_on_a_phone(world, live_server, phone, slow_importer, roster_zip):
    slow_importer["rejected"] = True
    past_runs(world)
    sign_in(phone, live_server.url, "a-district_admin")
    phone.goto(f"{live_server.url}/district/imports/")

    phone.get_by_role("button", name="Upload and import").click()  # no file chosen
    phone.wait_for_selector("[role=alert]")
    assert "Choose the OneRoster .zip file to upload." in phone.content()
    no_sideways_scrolling(phone, 375)
    screenshot(phone, "imports-form-error-phone")

    phone.get_by_label("OneRoster file (.zip)").set_input_files(str(roster_zip))
    phone.get_by_role("button", name="Upload and import").click()
    phone.wait_for_selector("progress", timeout=10_000)
    no_sideways_scrolling(phone, 375)
    screenshot(phone, "imports-progress-phone")

    phone.wait_for_selector("text=Nothing was changed: 3 problems must be fixed", timeout=15_000)
    assert "users.csv, line 12, column 5 (birthDate)" in phone.content()
    no_sideways_scrolling(phone, 375)
    screenshot(phone, "imports-rejected-phone")

    phone.get_by_role("link", name="← All imports").click()
    phone.wait_for_selector("h2:has-text('Past imports')")
    no_sideways_scrolling(phone, 375)
    screenshot(phone, "imports-list-phone")


def test_a_second_import_waits_for_the_first(world, live_server, page):
    admin = world.a.users["district_admin"]

    def run(name, status, **fields):
        return ImportRun.unscoped.create(
            district=world.a.district,
            kind=ImportRun.Kind.ONEROSTER,
            status=status,
            started_by=admin,
            file_name=name,
            file_sha256="cd" * 32,
            **fields,
        )

    first = run("first.zip", ImportRun.Status.RUNNING, started_at=timezone.now())
    second = run("second.zip", ImportRun.Status.QUEUED)
    sign_in(page, live_server.url, "a-district_admin")
    page.goto(f"{live_server.url}/district/imports/{second.pk}/")
    page.wait_for_selector("text=Waiting for an earlier import of this district to finish.")
    screenshot(page, "imports-waiting-desktop")

    # Both finish; the waiting page's script sees the status change and reloads.
    ImportRun.unscoped.filter(pk=first.pk).update(status=ImportRun.Status.SUCCEEDED)
    ImportRun.unscoped.filter(pk=second.pk).update(
        status=ImportRun.Status.SUCCEEDED,
        counts={"users": {"created": 0, "updated": 0, "ended": 0, "unchanged": 4}},
        finished_at=timezone.now(),
    )
    page.wait_for_selector("text=Imported: 0 changes", timeout=10_000)


def test_a_real_bundle_imports_through_the_page(world, live_server, page, settings, tmp_path):
    """No fake: the lepo-roster-hub sample, zipped, through the real task and importer."""
    import shutil

    from records import models as m
    from tests.records.oneroster_bundles import shared_bundle

    settings.IMPORT_UPLOAD_ROOT = tmp_path / "imports"
    archive = shutil.make_archive(
        str(tmp_path / "lepo-roster-hub"), "zip", shared_bundle("lepo-roster-hub-1.1")
    )
    sign_in(page, live_server.url, "a-district_admin")
    page.goto(f"{live_server.url}/district/imports/")
    page.get_by_label("OneRoster file (.zip)").set_input_files(archive)
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_selector("text=Imported:", timeout=30_000)
    content = page.content()
    assert "Students" in content and "enrollments.csv, line 2, column 7 (role)" in content
    assert m.Student.unscoped.filter(district=world.a.district, sourced_id="us0003").exists()
    screenshot(page, "imports-real-lepo-desktop")
