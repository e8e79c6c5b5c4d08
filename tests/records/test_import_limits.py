"""Import size is bounded: files too large, too many rows, too many errors (issue 10, fault 6).

A 607 KB zip holding a 200 MB users.csv once drove the worker to 4.8 GB. Now every
file's size is checked before it is read, reads stop one byte past the limit, rows per
file are capped, and at most 1,000 errors and warnings are kept, the rest counted.
"""

from __future__ import annotations

import csv
import io
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from records import models as m
from records import tasks
from records.importers.limits import MIB, ImportLimits, ReadBudget
from records.importers.oneroster import import_oneroster, spec
from records.importers.records_csv import import_records
from records.importers.report import MAX_ISSUES, ImportReport, split_stored_issues
from tests.records.oneroster_bundles import small_district, write_bundle
from tests.records.test_import_oneroster import database_fingerprint

pytestmark = pytest.mark.django_db

USERS_HEADER = ",".join(next(f for f in spec.FILES if f.name == "users").columns)


# -- building bundles ------------------------------------------------------------------


def bundle_folder(tmp_path: Path) -> Path:
    return write_bundle(tmp_path / "bundle", small_district())


def zip_folder(folder: Path, path: Path, *, replace: dict[str, bytes] | None = None) -> Path:
    """The folder's files at the zip's root; ``replace`` gives some members other bytes."""
    replace = replace or {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            archive.writestr(file.name, replace.get(file.name, file.read_bytes()))
    return path


def padded_users(size: int) -> bytes:
    """A users.csv of at least ``size`` bytes: the header, then one row over and over
    (never parsed: the size refuses it first)."""
    row = b"u-x,true,sch-1,student,u.x,Una,X\r\n"
    return (USERS_HEADER + "\r\n").encode() + row * (size // len(row) + 1)


def zeros_bomb(path: Path, member: str, size: int, folder: Path) -> Path:
    """The bundle with ``member`` replaced by ``size`` zero bytes, streamed: a few hundred
    KB on disk, never ``size`` in memory."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            if file.name != member:
                archive.write(file, file.name)
        with archive.open(member, "w", force_zip64=True) as out:
            chunk = bytes(MIB)
            for _ in range(size // MIB):
                out.write(chunk)
    return path


def understate(path: Path, member: str, declared: int) -> Path:
    """Make the zip's directory (and local header) say ``member`` holds ``declared`` bytes."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    central = data.find(b"PK\x01\x02")  # the first directory entry
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + name_length]) == name:
            struct.pack_into("<I", data, central + 24, declared)
            local = struct.unpack_from("<I", data, central + 42)[0]
            struct.pack_into("<I", data, local + 22, declared)
            path.write_bytes(bytes(data))
            return path
        central = data.find(b"PK\x01\x02", central + 4)
    raise AssertionError(f"{member} not in the zip")


@pytest.fixture
def maple(db) -> m.District:
    """The district the bundles import into, its limit 1 MB per file."""
    return m.District.objects.create(slug="maple", name="Maple Valley SD", import_max_file_mb=1)


def opened_members(monkeypatch) -> list[str]:
    """Names of the zip members anything opens from now on."""
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    return opened


# -- a file over the limit -------------------------------------------------------------


def test_a_zip_member_over_the_districts_limit_is_refused_unread(maple, tmp_path, monkeypatch):
    path = zip_folder(
        bundle_folder(tmp_path), tmp_path / "big.zip", replace={"users.csv": padded_users(2 * MIB)}
    )
    opened = opened_members(monkeypatch)
    before = database_fingerprint()

    report, _ = import_oneroster(path, district_slug="maple")

    assert not report.ok and not report.applied
    [error] = report.errors
    assert error.file == "users.csv" and error.line is None
    assert "over the limit of 1 MB per file" in error.message
    assert opened == []  # not even the manifest: every size is checked first
    assert database_fingerprint() == before


def test_a_folder_file_over_the_limit_is_refused(maple, tmp_path):
    folder = bundle_folder(tmp_path)
    (folder / "users.csv").write_bytes(padded_users(2 * MIB))

    report, _ = import_oneroster(folder, district_slug="maple")

    assert [(e.file, "over the limit of 1 MB per file" in e.message) for e in report.errors] == [
        ("users.csv", True)
    ]
    assert not User.objects.exists()


def test_without_a_district_the_settings_limit_applies(tmp_path, settings):
    settings.IMPORT_MAX_FILE_MB = 1
    path = zip_folder(
        bundle_folder(tmp_path), tmp_path / "big.zip", replace={"users.csv": padded_users(2 * MIB)}
    )

    report, district = import_oneroster(path, district_slug="new")

    assert district is None and not m.District.objects.exists()
    assert [e.file for e in report.errors] == ["users.csv"]


def test_within_the_limit_the_bundle_imports(maple, tmp_path):
    path = zip_folder(bundle_folder(tmp_path), tmp_path / "ok.zip")

    report, _ = import_oneroster(path, district_slug="maple")

    assert report.ok and report.applied
    assert m.Student.unscoped.filter(district=maple).count() == 3


def test_the_command_refuses_it_exits_non_zero_and_stores_the_run(maple, tmp_path, capsys):
    path = zip_folder(
        bundle_folder(tmp_path), tmp_path / "big.zip", replace={"users.csv": padded_users(2 * MIB)}
    )

    with pytest.raises(CommandError, match="Rejected: 1 error"):
        call_command("import_oneroster", str(path), "--district", "maple")

    assert (
        "error: users.csv: 2.0 MB uncompressed, over the limit of 1 MB" in capsys.readouterr().err
    )
    [run] = m.ImportRun.unscoped.all()
    assert run.status == m.ImportRun.Status.REJECTED
    assert [e["file"] for e in run.errors] == ["users.csv"]
    assert not User.objects.exists()


def test_a_worker_run_of_it_ends_rejected_with_the_file_named(world, tmp_path, settings):
    """The web's path: the task reads the stored upload and the run ends, never "Importing"."""
    settings.IMPORT_UPLOAD_ROOT = tmp_path / "imports"
    world.a.district.import_max_file_mb = 1
    world.a.district.save()
    path = zip_folder(
        bundle_folder(tmp_path), tmp_path / "big.zip", replace={"users.csv": padded_users(2 * MIB)}
    )
    run = m.ImportRun.unscoped.create(
        district=world.a.district,
        kind=m.ImportRun.Kind.ONEROSTER,
        started_by=world.a.users["district_admin"],
        file_name="big.zip",
        file_sha256="0" * 64,
        stored_path=str(path),
    )
    users_before = User.objects.count()

    tasks.run_import(run.pk)

    run.refresh_from_db()
    assert run.status == m.ImportRun.Status.REJECTED and run.finished_at is not None
    assert [(e["file"], "over the limit of 1 MB" in e["message"]) for e in run.errors] == [
        ("users.csv", True)
    ]
    assert User.objects.count() == users_before
    assert not path.exists()  # the stored upload is deleted as for any finished run


def test_the_upload_page_refuses_such_a_zip_at_once(world, client, tmp_path, settings):
    settings.IMPORT_UPLOAD_ROOT = tmp_path / "imports"
    world.a.district.import_max_file_mb = 1
    world.a.district.save()
    path = zip_folder(
        bundle_folder(tmp_path), tmp_path / "big.zip", replace={"users.csv": padded_users(2 * MIB)}
    )
    client.force_login(world.a.users["district_admin"])

    with path.open("rb") as upload:
        response = client.post("/district/imports/", {"file": upload})

    assert response.status_code == 400
    assert "users.csv: 2.0 MB uncompressed, over the limit of 1 MB per file" in (
        response.content.decode()
    )
    assert not m.ImportRun.unscoped.exists()
    assert not any(Path(settings.IMPORT_UPLOAD_ROOT).rglob("*.zip"))


def test_the_district_limit_has_a_sane_range(db):
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    district = m.District(slug="x", name="X", import_max_file_mb=0)
    with pytest.raises(ValidationError):
        district.full_clean()
    for bad in (0, 1025):
        with pytest.raises(IntegrityError), transaction.atomic():
            m.District.objects.create(slug=f"x{bad}", name="X", import_max_file_mb=bad)
    assert m.District.objects.create(slug="y", name="Y").import_max_file_mb == 100


# -- a zip that lies, and the bounded read ---------------------------------------------


def test_a_zip_that_understates_a_size_is_refused_without_reading_past_it(maple, tmp_path):
    path = zip_folder(
        bundle_folder(tmp_path), tmp_path / "liar.zip", replace={"users.csv": padded_users(2 * MIB)}
    )
    understate(path, "users.csv", 1000)
    assert zipfile.ZipFile(path).getinfo("users.csv").file_size == 1000
    before = database_fingerprint()

    report, _ = import_oneroster(path, district_slug="maple")

    assert [(e.file, e.message) for e in report.errors] == [
        ("users.csv", "cannot be read from the zip (damaged or encrypted)")
    ]
    assert database_fingerprint() == before


class Endless:
    """A file that never ends and says nothing of its size, counting what it gave."""

    def __init__(self):
        self.given = 0

    def read(self, size: int = -1) -> bytes:
        assert size >= 0, "read to the end of an endless file"
        self.given += size
        return bytes(size)


def test_the_bounded_read_stops_one_byte_past_the_limit():
    budget = ReadBudget(ImportLimits(file_bytes=MIB, total_bytes=10 * MIB, rows=10))
    report = ImportReport()
    endless = Endless()

    assert budget.read("users.csv", endless, report) is None

    assert endless.given == MIB + 1
    assert budget.refused and budget.used == 0
    assert [e.file for e in report.errors] == ["users.csv"]
    assert "larger than it said" in report.errors[0].message


def test_the_bounded_read_counts_against_the_total(tmp_path):
    budget = ReadBudget(ImportLimits(file_bytes=MIB, total_bytes=MIB + 10, rows=10))
    report = ImportReport()
    assert budget.read("a.csv", io.BytesIO(bytes(MIB)), report) == bytes(MIB)
    assert budget.read("b.csv", io.BytesIO(bytes(11)), report) is None
    assert [e.file for e in report.errors] == ["b.csv"]


def test_a_link_to_a_device_is_not_read_as_a_bundle_file(maple, tmp_path):
    folder = bundle_folder(tmp_path)
    (folder / "users.csv").unlink()
    (folder / "users.csv").symlink_to("/dev/zero")

    report, _ = import_oneroster(folder, district_slug="maple")

    assert ("users.csv", "missing: the manifest lists it as bulk") in {
        (e.file, e.message) for e in report.errors
    }


# -- the bomb --------------------------------------------------------------------------


def test_a_200_mb_bomb_is_refused_from_its_directory_in_bounded_memory(tmp_path, monkeypatch):
    """The issue's zip, at its size: refused by the declared size, users.csv never opened."""
    path = zeros_bomb(tmp_path / "bomb.zip", "users.csv", 200 * MIB, bundle_folder(tmp_path))
    assert path.stat().st_size < 2 * MIB
    opened = opened_members(monkeypatch)

    tracemalloc.start()
    try:
        report, district = import_oneroster(path, district_slug="bomb")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert opened == []
    assert peak < 5 * MIB
    assert [(e.file, e.message.split(",")[0]) for e in report.errors] == [
        ("users.csv", "200 MB uncompressed")
    ]
    assert district is None and not m.District.objects.exists() and not User.objects.exists()


def test_files_over_the_total_limit_are_refused_before_any_is_read(
    maple, tmp_path, settings, monkeypatch
):
    settings.IMPORT_MAX_TOTAL_MB = 1
    maple.import_max_file_mb = 10
    maple.save()
    # users.csv comes before demographics.csv: with it, the import holds more than 1 MB.
    replace = {
        "users.csv": padded_users(MIB // 2),
        "demographics.csv": b"sourcedId\r\n" + b"s-1\r\n" * (MIB // 10),
    }
    path = zip_folder(bundle_folder(tmp_path), tmp_path / "two.zip", replace=replace)
    opened = opened_members(monkeypatch)

    report, _ = import_oneroster(path, district_slug="maple")

    assert [e.file for e in report.errors] == ["demographics.csv"]
    assert "over the limit of 1 MB for one import" in report.errors[0].message
    assert opened == []


def test_a_zip_of_more_than_a_thousand_files_is_refused(maple, tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for n in range(1001):
            archive.writestr(f"f{n}.csv", b"")

    report, _ = import_oneroster(path, district_slug="maple")

    assert [(e.file, e.message.split(";")[0]) for e in report.errors] == [
        ("many.zip", "the zip lists 1,001 files")
    ]


# -- rows ------------------------------------------------------------------------------


def test_a_file_of_more_rows_than_the_limit_is_refused(maple, tmp_path, settings):
    settings.IMPORT_MAX_ROWS = 3
    before = database_fingerprint()

    report, _ = import_oneroster(bundle_folder(tmp_path), district_slug="maple")

    # orgs, sessions, courses and classes hold at most 3 rows; users.csv's 4th is line 5.
    assert [(e.file, e.line) for e in report.errors] == [("users.csv", 5)]
    assert report.errors[0].message.startswith("more than 3 rows, the most one file may hold")
    assert database_fingerprint() == before


def test_rows_up_to_the_limit_import(maple, tmp_path, settings):
    settings.IMPORT_MAX_ROWS = 8  # users.csv holds 8
    report, _ = import_oneroster(bundle_folder(tmp_path), district_slug="maple")
    assert report.ok


# -- errors past 1,000 -----------------------------------------------------------------


def users_with_bad_rows(folder: Path, bad: int) -> Path:
    """users.csv whose every row has one value more than its header: one error a row."""
    width = len(USERS_HEADER.split(","))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(USERS_HEADER.split(","))
    for n in range(bad):
        writer.writerow([f"u-{n}"] + [""] * (width - 1) + ["extra"])
    (folder / "users.csv").write_text(buffer.getvalue())
    return folder


def test_past_1000_errors_the_rest_are_counted_printed_and_stored(maple, tmp_path, capsys):
    folder = users_with_bad_rows(bundle_folder(tmp_path), 1200)

    with pytest.raises(CommandError, match="Rejected: 1200 error"):
        call_command("import_oneroster", str(folder), "--district", "maple")

    err = capsys.readouterr().err.splitlines()
    assert sum(line.startswith("error: users.csv:") for line in err) == MAX_ISSUES
    assert "... and 200 more errors" in err
    [run] = m.ImportRun.unscoped.all()
    assert run.status == m.ImportRun.Status.REJECTED
    listed, omitted = split_stored_issues(run.errors)
    assert len(listed) == MAX_ISSUES and omitted == 200
    assert run.errors[-1] == {
        "file": "",
        "line": None,
        "column": None,
        "column_name": None,
        "message": "... and 200 more errors",
        "omitted": 200,
    }
    assert listed[0]["line"] == 2 and listed[-1]["line"] == MAX_ISSUES + 1  # the first ones


def test_the_records_importer_keeps_1000_errors_and_counts_the_rest(world, tmp_path):
    own = world.a.students["own"].sourced_id
    folder = tmp_path / "records"
    folder.mkdir()
    rows = "".join(f"{own},2026-13-{n:02d},present,,\n" for n in range(1100))
    (folder / "attendance.csv").write_text(
        "studentSourcedId,date,status,classSourcedId,reason\n" + rows
    )
    out = io.StringIO()

    with pytest.raises(CommandError, match="Rejected: 1100 error"):
        call_command("import_records", str(folder), "--district", "a", stdout=out)

    assert "Errors (1,100):" in out.getvalue()
    assert "  ... and 100 more errors" in out.getvalue()
    [run] = m.ImportRun.unscoped.all()
    listed, omitted = split_stored_issues(run.errors)
    assert (run.status, len(listed), omitted) == (m.ImportRun.Status.REJECTED, MAX_ISSUES, 100)
    assert not m.AttendanceRecord.unscoped.exists()


def test_strict_keeps_the_cap_and_counts_every_warning():
    report = ImportReport()
    for n in range(800):
        report.error("a.csv", n, message="bad")
    for n in range(1100):
        report.warning("a.csv", n, message="odd")
    assert (len(report.warnings), report.warnings_omitted) == (MAX_ISSUES, 100)

    report.warnings_become_errors()

    assert (len(report.errors), report.errors_omitted, report.error_count) == (1000, 900, 1900)
    assert (report.warnings, report.warnings_omitted, report.ok) == ([], 0, False)


# -- the records importer's limits -----------------------------------------------------


def test_the_records_importer_refuses_a_file_over_the_districts_limit(world, tmp_path):
    world.a.district.import_max_file_mb = 1
    world.a.district.save()
    own = world.a.students["own"].sourced_id
    big = f"studentSourcedId,date,status,classSourcedId,reason\n{own},2026-09-01,present,,\n"
    big += "\n" * (2 * MIB)  # blank lines: nothing to parse, only bytes
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "attendance.csv").write_text(big)
    path = tmp_path / "records.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(folder / "attendance.csv", "attendance.csv")

    for source in (folder, path):
        report, run = import_records(source, district=world.a.district)
        assert [
            (e.file, "over the limit of 1 MB per file" in e.message) for e in report.errors
        ] == [("attendance.csv", True)]
        assert run.status == m.ImportRun.Status.REJECTED
    assert not m.AttendanceRecord.unscoped.exists()


def test_the_records_importer_refuses_too_many_rows(world, tmp_path, settings):
    settings.IMPORT_MAX_ROWS = 2
    own = world.a.students["own"].sourced_id
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "attendance.csv").write_text(
        "studentSourcedId,date,status,classSourcedId,reason\n"
        + "".join(f"{own},2026-09-0{n},present,,\n" for n in (1, 2, 3))
    )

    report, run = import_records(folder, district=world.a.district)

    assert [(e.file, e.line) for e in report.errors] == [("attendance.csv", 4)]
    assert report.errors[0].message.startswith("more than 2 rows")
    assert run.status == m.ImportRun.Status.REJECTED
    assert not m.AttendanceRecord.unscoped.exists()


# -- the settings ------------------------------------------------------------------------


def test_the_limit_settings_default_and_refuse_a_value_out_of_range():
    import os

    from tests.test_settings import settings_in_subprocess, start_up_error

    limits = "settings.IMPORT_MAX_FILE_MB, settings.IMPORT_MAX_TOTAL_MB, settings.IMPORT_MAX_ROWS"
    assert settings_in_subprocess(
        limits, IMPORT_MAX_FILE_MB="", IMPORT_MAX_TOTAL_MB="", IMPORT_MAX_ROWS=""
    ) == ("(100, 1024, 2000000)")
    for name, bad, words in [
        ("IMPORT_MAX_FILE_MB", "1025", "at most 1024"),
        ("IMPORT_MAX_FILE_MB", "0", "at least 1"),
        ("IMPORT_MAX_ROWS", "0", "at least 1"),
        ("IMPORT_MAX_TOTAL_MB", "lots", "integer"),
    ]:
        error = start_up_error({**os.environ, name: bad})
        assert f"{name} must be" in error and words in error
