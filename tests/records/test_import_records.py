"""import_records: all or nothing, every problem placed, idempotent, inside one district."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from records import models as m
from records.importers.records_csv import import_records
from tests import factories as f

RECORD_MODELS = (
    m.AttendanceRecord,
    m.AssessmentResult,
    m.ProgramParticipation,
    m.HealthRecord,
    m.DisciplineIncident,
    m.TransportationAssignment,
)


def checksum() -> str:
    """Every row of every record table, in both districts."""
    digest = hashlib.sha256()
    for model in RECORD_MODELS:
        names = [f.attname for f in model._meta.concrete_fields]
        for row in model.unscoped.order_by("id").values_list(*names):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def table_counts() -> dict[str, int]:
    return {model.__name__: model.unscoped.count() for model in RECORD_MODELS}


@pytest.fixture
def ids(world) -> dict[str, str]:
    """The sourcedIds the CSVs below name, as ``{own}`` and the like."""
    a, b = world.a, world.b
    return {
        **{name: student.sourced_id for name, student in a.students.items()},
        "b_own": b.students["own"].sourced_id,
        "section": a.section.sourced_id,
        "b_section": b.section.sourced_id,
        "school1": a.school1.sourced_id,
        "school2": a.school2.sourced_id,
        "b_school1": b.school1.sourced_id,
    }


GOOD = {
    "attendance.csv": """studentSourcedId,date,status,classSourcedId,reason
{own},2026-09-01,present,,
{own},2026-09-01,absent,{section},Sick
{schoolmate},2026-09-02,tardy,,"Bus late, again"
""",
    "assessments.csv": """\
studentSourcedId,assessment,subject,score,performanceLevel,performanceLabel,administeredOn
{own},State Test,Math,412.5,3,Proficient,2026-04-15
{own},State Test,ELA,,,,2026-04-16
""",
    "programs.csv": """studentSourcedId,program,beginDate,endDate,accommodations
{own},iep,2025-09-01,,Extended time on tests
{adult},english_learner,,,
""",
    "health.csv": """studentSourcedId,conditions,allergies,medications,immunizationStatus
{own},Asthma,Peanuts,Inhaler,complete
{schoolmate},,,,
""",
    "discipline.csv": """\
studentSourcedId,schoolSourcedId,occurredOn,incidentType,actionTaken,daysRemoved,description
{elsewhere},{school2},2026-10-03,Fighting,Suspension,2.5,"Two students, recess
(second line of the description)"
""",
    "transportation.csv": """studentSourcedId,route,stop,pickupTime,dropoffTime
{own},12,Elm & 5th,7:05,15:40:30
{elsewhere},7,Oak St,,
""",
}


def write_folder(folder, files: dict[str, str], ids: dict[str, str]):
    folder.mkdir(exist_ok=True)
    for name, content in files.items():
        data = content.format(**ids).encode() if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


def run(path, world, **kwargs):
    return import_records(path, district=world.a.district, **kwargs)


def rows(model, *fields):
    return sorted(model.unscoped.values_list(*fields), key=repr)


def issues(report_issues):
    return [str(issue) for issue in report_issues]


@pytest.mark.django_db
def test_a_good_import_creates_exactly_the_rows_of_every_file(world, ids, tmp_path):
    a = world.a
    own, schoolmate, elsewhere, adult = (
        a.students[name].pk for name in ("own", "schoolmate", "elsewhere", "adult")
    )
    path = write_folder(tmp_path / "records", GOOD, ids)
    out = io.StringIO()

    call_command("import_records", str(path), "--district", "a", stdout=out)

    district = a.district.pk
    assert rows(
        m.AttendanceRecord, "district", "student", "date", "section", "status", "reason"
    ) == sorted(
        [
            (district, own, date(2026, 9, 1), None, "present", ""),
            (district, own, date(2026, 9, 1), a.section.pk, "absent", "Sick"),
            (district, schoolmate, date(2026, 9, 2), None, "tardy", "Bus late, again"),
        ],
        key=repr,
    )
    assert rows(
        m.AssessmentResult,
        "student", "assessment", "subject", "score", "performance_level", "performance_label",
        "administered_on",
    ) == sorted(
        [
            (own, "State Test", "Math", Decimal("412.50"), 3, "Proficient", date(2026, 4, 15)),
            (own, "State Test", "ELA", None, None, "", date(2026, 4, 16)),
        ],
        key=repr,
    )  # fmt: skip
    assert rows(
        m.ProgramParticipation, "student", "program", "begin_date", "end_date", "accommodations"
    ) == sorted(
        [
            (own, "iep", date(2025, 9, 1), None, "Extended time on tests"),
            (adult, "english_learner", None, None, ""),
        ],
        key=repr,
    )
    assert rows(
        m.HealthRecord, "student", "conditions", "allergies", "medications", "immunization_status"
    ) == sorted(
        [(own, "Asthma", "Peanuts", "Inhaler", "complete"), (schoolmate, "", "", "", "unknown")],
        key=repr,
    )
    assert rows(
        m.DisciplineIncident,
        "student", "school", "occurred_on", "incident_type", "action_taken", "days_removed",
        "description",
    ) == [
        (
            elsewhere, a.school2.pk, date(2026, 10, 3), "Fighting", "Suspension", Decimal("2.5"),
            "Two students, recess\n(second line of the description)",
        )
    ]  # fmt: skip
    assert rows(
        m.TransportationAssignment, "student", "route", "stop", "pickup_time", "dropoff_time"
    ) == sorted(
        [
            (own, "12", "Elm & 5th", time(7, 5), time(15, 40, 30)),
            (elsewhere, "7", "Oak St", None, None),
        ],
        key=repr,
    )
    for model in RECORD_MODELS:
        assert not model.unscoped.filter(district=world.b.district).exists()

    [stored] = m.ImportRun.unscoped.all()
    assert stored.counts == {
        "assessments": {"created": 2, "updated": 0, "ended": 0, "unchanged": 0},
        "attendance": {"created": 3, "updated": 0, "ended": 0, "unchanged": 0},
        "discipline": {"created": 1, "updated": 0, "ended": 0, "unchanged": 0},
        "health": {"created": 2, "updated": 0, "ended": 0, "unchanged": 0},
        "programs": {"created": 2, "updated": 0, "ended": 0, "unchanged": 0},
        "transportation": {"created": 2, "updated": 0, "ended": 0, "unchanged": 0},
    }
    output = out.getvalue()
    assert "imported" in output
    table = [line.split() for line in output.splitlines()]
    assert ["entity", "created", "updated", "unchanged"] in table
    assert ["attendance", "3", "0", "0"] in table


@pytest.mark.django_db
def test_the_same_files_twice_change_nothing_the_second_time(world, ids, tmp_path):
    path = write_folder(tmp_path / "records", GOOD, ids)
    first, _ = run(path, world)
    assert first.changes == 12
    before = checksum()

    second, stored = run(path, world)

    assert second.ok and second.changes == 0
    changed = {entity: (c["created"], c["updated"]) for entity, c in second.counts.items()}
    assert changed == dict.fromkeys(first.counts, (0, 0))
    assert {entity: c["unchanged"] for entity, c in second.counts.items()} == {
        entity: c["created"] for entity, c in first.counts.items()
    }
    assert checksum() == before
    assert stored.status == m.ImportRun.Status.SUCCEEDED


@pytest.mark.django_db
def test_a_changed_row_is_updated_in_place_and_a_column_left_out_keeps_its_field(
    world, ids, tmp_path
):
    run(write_folder(tmp_path / "one", GOOD, ids), world)
    health_ids = set(m.HealthRecord.unscoped.values_list("id", flat=True))
    changed = {
        "attendance.csv": GOOD["attendance.csv"].replace("present,,", "excused,,Doctor"),
        # No medications column: the inhaler stays; allergies change.
        "health.csv": "studentSourcedId,allergies\n{own},Peanuts; latex\n",
    }

    report, _ = run(write_folder(tmp_path / "two", changed, ids), world)

    assert report.counts["attendance"]["updated"] == 1
    assert report.counts["attendance"]["unchanged"] == 2
    assert report.counts["health"]["updated"] == 1
    own = world.a.students["own"]
    assert m.AttendanceRecord.unscoped.get(student=own, section=None).status == "excused"
    health = m.HealthRecord.unscoped.get(student=own)
    assert (health.allergies, health.medications) == ("Peanuts; latex", "Inhaler")
    assert set(m.HealthRecord.unscoped.values_list("id", flat=True)) == health_ids
    assert m.AttendanceRecord.unscoped.count() == 3


@pytest.mark.django_db
def test_one_malformed_file_rejects_the_whole_run_and_changes_nothing(world, ids, tmp_path):
    run(write_folder(tmp_path / "earlier", {"health.csv": GOOD["health.csv"]}, ids), world)
    counts, before = table_counts(), checksum()
    files = {
        **GOOD,
        "health.csv": GOOD["health.csv"].replace("Asthma", "Severe asthma"),  # would update
        "discipline.csv": GOOD["discipline.csv"].replace("2026-10-03", "03/10/2026"),
    }
    path = write_folder(tmp_path / "records", files, ids)
    out = io.StringIO()

    with pytest.raises(CommandError, match="Rejected: 1 error"):
        call_command("import_records", str(path), "--district", "a", stdout=out)

    assert table_counts() == counts
    assert checksum() == before
    assert "discipline.csv:2:3 (occurredOn): not a date: expected YYYY-MM-DD" in out.getvalue()
    stored = m.ImportRun.unscoped.order_by("id").last()
    assert stored.status == m.ImportRun.Status.REJECTED
    assert stored.errors == [
        {
            "file": "discipline.csv",
            "line": 2,
            "column": 3,
            "column_name": "occurredOn",
            "message": "not a date: expected YYYY-MM-DD",
        }
    ]


LONG = "x" * 101

# (file, content, the errors it must give, exactly)
ERROR_CASES = {
    "missing required column": (
        "attendance.csv",
        "studentSourcedId,status\n{own},present\n",
        ["attendance.csv:1 (date): required column is missing"],
    ),
    "column twice": (
        "attendance.csv",
        "studentSourcedId,date,status,date\n{own},2026-09-01,present,2026-09-01\n",
        ["attendance.csv:1:4 (date): column appears twice"],
    ),
    "empty file": ("health.csv", "", ["health.csv:1: empty file: the header row is missing"]),
    "unparseable date": (
        "attendance.csv",
        "studentSourcedId,date,status\n{own},2026-09-01,present\n{own},Sept 2,present\n",
        ["attendance.csv:3:2 (date): not a date: expected YYYY-MM-DD"],
    ),
    "impossible date": (
        "programs.csv",
        "studentSourcedId,program,beginDate\n{own},iep,2026-02-30\n",
        ["programs.csv:2:3 (beginDate): not a calendar date (YYYY-MM-DD)"],
    ),
    "end before begin": (
        "programs.csv",
        "studentSourcedId,program,beginDate,endDate\n{own},iep,2026-02-03,2026-02-01\n",
        ["programs.csv:2:4 (endDate): before beginDate"],
    ),
    "unparseable time": (
        "transportation.csv",
        "studentSourcedId,route,stop,pickupTime,dropoffTime\n{own},1,Elm,7.30,25:00\n",
        [
            "transportation.csv:2:4 (pickupTime): not a time: expected HH:MM or HH:MM:SS, 24-hour",
            "transportation.csv:2:5 (dropoffTime): not a time of day (00:00 to 23:59:59)",
        ],
    ),
    "unparseable numbers": (
        "assessments.csv",
        "studentSourcedId,assessment,subject,score,performanceLevel,administeredOn\n"
        "{own},MAP,Math,high,2.5,2026-01-10\n"
        "{own},MAP,Reading,12.345,4,2026-01-10\n",
        [
            "assessments.csv:2:4 (score): not a number: digits with an optional decimal point, "
            "e.g. 12.5",
            "assessments.csv:2:5 (performanceLevel): not a whole number",
            "assessments.csv:3:4 (score): more than 2 decimal places",
        ],
    ),
    "number out of range": (
        "discipline.csv",
        "studentSourcedId,schoolSourcedId,occurredOn,incidentType,daysRemoved\n"
        "{own},{school1},2026-10-01,Tardy,-1\n"
        "{own},{school1},2026-10-02,Tardy,1000\n",
        [
            "discipline.csv:2:5 (daysRemoved): out of range: must be at least 0",
            "discipline.csv:3:5 (daysRemoved): out of range: must be less than 1000",
        ],
    ),
    "unknown enum value": (
        "attendance.csv",
        "studentSourcedId,date,status\n{own},2026-09-01,late\n",
        ["attendance.csv:2:3 (status): not one of present, absent, tardy, excused"],
    ),
    "unknown program": (
        "programs.csv",
        "studentSourcedId,program\n{own},gifted\n",
        [
            "programs.csv:2:2 (program): not one of iep, section_504, english_learner, "
            "free_reduced_lunch, homeless, foster"
        ],
    ),
    "required value empty": (
        "transportation.csv",
        "studentSourcedId,route,stop\n{own},,Elm\n",
        ["transportation.csv:2:2 (route): required; empty"],
    ),
    "too long": (
        "attendance.csv",
        "studentSourcedId,date,status,reason\n{own},2026-09-01,absent," + LONG + "\n",
        ["attendance.csv:2:4 (reason): too long: 101 characters, at most 100"],
    ),
    "duplicate key row": (
        "attendance.csv",
        "studentSourcedId,date,status,classSourcedId\n"
        "{own},2026-09-01,present,\n"
        "{own},2026-09-01,absent,{section}\n"
        "{own},2026-09-01,absent,\n",
        [
            "attendance.csv:4: same studentSourcedId, date, classSourcedId as line 2; "
            "keep one of them"
        ],
    ),
    "duplicate one-per-student row": (
        "health.csv",
        "studentSourcedId,allergies\n{own},Peanuts\n{schoolmate},\n{own},Latex\n",
        ["health.csv:4: same studentSourcedId as line 2; keep one of them"],
    ),
    "wrong number of fields": (
        "attendance.csv",
        "studentSourcedId,date,status\n{own},2026-09-01\n",
        ["attendance.csv:2: has 2 fields; the header has 3"],
    ),
    "bad quoting": (
        "attendance.csv",
        'studentSourcedId,date,status\n{own},2026-09-01,"present"x\n',
        ["attendance.csv:2: not readable as CSV: ',' expected after '\"'"],
    ),
    "unterminated quote": (
        "attendance.csv",
        'studentSourcedId,date,status,reason\n{own},2026-09-01,absent,"sick\n',
        ["attendance.csv:2: not readable as CSV: unexpected end of data"],
    ),
    "not utf-8": (
        "attendance.csv",
        "studentSourcedId,date,status,reason\r\n{own},2026-09-01,absent,\r\n"
        "{own},2026-09-02,absent,caf\xe9\r\n".encode("latin-1"),
        ["attendance.csv:3: not UTF-8 text; save the file as UTF-8"],
    ),
    "utf-16": (
        "health.csv",
        "studentSourcedId\n".encode("utf-16"),
        ["health.csv: is UTF-16; save it as UTF-8"],
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_each_error_is_placed_by_file_line_and_column(world, ids, tmp_path, case):
    name, content, expected = case
    if isinstance(content, bytes):
        content = content.replace(b"{own}", ids["own"].encode())
    # A good file beside the bad one: it must not be applied either.
    files = {"transportation.csv": GOOD["transportation.csv"], name: content}
    before = checksum()

    report, stored = run(write_folder(tmp_path / "records", files, ids), world)

    assert issues(report.errors) == expected
    assert not report.applied
    assert checksum() == before
    assert stored.status == m.ImportRun.Status.REJECTED
    assert [issue["message"] for issue in stored.errors] == [e.message for e in report.errors]


@pytest.mark.django_db
def test_cell_values_never_appear_in_messages(world, ids, tmp_path):
    files = {
        "attendance.csv": "studentSourcedId,date,status,reason\n"
        "{own},Peanut allergy,Peanut allergy,\n"
        "{own},2026-09-01,absent,Peanut allergy " + "x" * 100 + "\n",
        "assessments.csv": "studentSourcedId,assessment,subject,score,administeredOn\n"
        "{own},Test,Math,Peanut allergy,2026-01-01\n",
    }
    report, stored = run(write_folder(tmp_path / "records", files, ids), world)

    assert len(report.errors) == 4
    assert not any("Peanut" in str(issue) for issue in report.errors + report.warnings)
    assert "Peanut" not in repr(stored.errors)


@pytest.mark.django_db
def test_a_dangling_student_is_skipped_with_a_warning_and_the_rest_applied(world, ids, tmp_path):
    files = {
        "attendance.csv": "studentSourcedId,date,status\n"
        "{own},2026-09-01,present\n"
        "nobody-42,2026-09-01,present\n"
        "{schoolmate},2026-09-01,absent\n",
        "attendance-notes.txt": "not a records file",
    }
    report, stored = run(write_folder(tmp_path / "records", files, ids), world)

    assert report.ok and report.applied
    assert issues(report.warnings) == [
        "attendance-notes.txt: not a records file; this file is ignored",
        "attendance.csv:3:1 (studentSourcedId): student 'nobody-42' is not in district 'a'; "
        "row skipped",
    ]
    assert rows(m.AttendanceRecord, "student", "status") == sorted(
        [(world.a.students["own"].pk, "present"), (world.a.students["schoolmate"].pk, "absent")],
        key=repr,
    )
    assert report.counts["attendance"]["created"] == 2
    assert stored.status == m.ImportRun.Status.SUCCEEDED
    assert [w["line"] for w in stored.warnings] == [None, 3]


@pytest.mark.django_db
def test_strict_turns_the_dangling_warning_into_a_rejection(world, ids, tmp_path):
    files = {
        "attendance.csv": "studentSourcedId,date,status\n"
        "{own},2026-09-01,present\n"
        "nobody-42,2026-09-01,present\n",
    }
    path = write_folder(tmp_path / "records", files, ids)
    out = io.StringIO()

    with pytest.raises(CommandError, match="Rejected"):
        call_command("import_records", str(path), "--district", "a", "--strict", stdout=out)

    assert not m.AttendanceRecord.unscoped.exists()
    assert (
        "attendance.csv:3:1 (studentSourcedId): student 'nobody-42' is not in district 'a'; "
        "row skipped" in out.getvalue()
    )
    stored = m.ImportRun.unscoped.get()
    assert (stored.status, stored.strict, len(stored.errors), stored.warnings) == (
        "rejected",
        True,
        1,
        [],
    )


@pytest.mark.django_db
def test_another_districts_student_school_and_class_are_dangling(world, ids, tmp_path):
    files = {
        "attendance.csv": "studentSourcedId,date,status,classSourcedId\n"
        "{b_own},2026-09-01,present,\n"
        "{own},2026-09-01,present,{b_section}\n"
        "{own},2026-09-02,present,{section}\n",
        "discipline.csv": "studentSourcedId,schoolSourcedId,occurredOn,incidentType\n"
        "{own},{b_school1},2026-10-01,Tardy\n",
        "health.csv": "studentSourcedId,allergies\n{b_own},Peanuts\n",
    }
    b_before = [model.unscoped.filter(district=world.b.district).count() for model in RECORD_MODELS]

    report, _ = run(write_folder(tmp_path / "records", files, ids), world)

    assert issues(report.warnings) == [
        f"attendance.csv:2:1 (studentSourcedId): student {ids['b_own']!r} is not in district "
        "'a'; row skipped",
        f"attendance.csv:3:4 (classSourcedId): class {ids['b_section']!r} is not in district "
        "'a'; row skipped",
        f"health.csv:2:1 (studentSourcedId): student {ids['b_own']!r} is not in district 'a'; "
        "row skipped",
        f"discipline.csv:2:2 (schoolSourcedId): school {ids['b_school1']!r} is not in "
        "district 'a'; row skipped",
    ]
    assert rows(m.AttendanceRecord, "district", "student", "date", "section") == [
        (world.a.district.pk, world.a.students["own"].pk, date(2026, 9, 2), world.a.section.pk)
    ]
    assert not m.HealthRecord.unscoped.exists()
    assert not m.DisciplineIncident.unscoped.exists()
    assert [
        model.unscoped.filter(district=world.b.district).count() for model in RECORD_MODELS
    ] == b_before


@pytest.mark.django_db
def test_bom_crlf_cr_and_unquoted_or_quoted_values_are_read_alike(world, ids, tmp_path):
    own = ids["own"]
    files = {
        "attendance.csv": b"\xef\xbb\xbfstudentSourcedId,date,status,reason\r\n"
        + f"{own},2026-09-01,present,\r\n".encode()
        + f'"{own}","2026-09-02","absent"," Caf\u00e9, closed "\r\n'.encode(),
        "health.csv": f"studentSourcedId,allergies\r{own},Pollen\r".encode(),
        "transportation.csv": f"studentSourcedId , route,stop\n {own} ,  4 ,Main\n\n".encode(),
    }
    report, _ = run(write_folder(tmp_path / "records", files, ids), world)

    assert report.ok, issues(report.errors)
    assert report.warnings == []
    assert rows(m.AttendanceRecord, "date", "status", "reason") == [
        (date(2026, 9, 1), "present", ""),
        (date(2026, 9, 2), "absent", "Café, closed"),
    ]
    assert rows(m.HealthRecord, "allergies") == [("Pollen",)]
    assert rows(m.TransportationAssignment, "route", "stop") == [("4", "Main")]


@pytest.mark.django_db
def test_enum_values_in_another_case_are_read_with_one_warning(world, ids, tmp_path):
    files = {
        "attendance.csv": "studentSourcedId,date,status\n"
        "{own},2026-09-01,Present\n"
        "{own},2026-09-02,Present\n"
        "{own},2026-09-03,ABSENT\n",
    }
    report, _ = run(write_folder(tmp_path / "records", files, ids), world)

    assert issues(report.warnings) == [
        "attendance.csv:2:3 (status): 'Present' read as 'present': values are lower case; "
        "2 rows in this file",
        "attendance.csv:4:3 (status): 'ABSENT' read as 'absent': values are lower case",
    ]
    assert rows(m.AttendanceRecord, "status") == [("absent",), ("present",), ("present",)]


@pytest.mark.django_db
def test_an_unknown_column_is_a_warning_with_a_hint(world, ids, tmp_path):
    files = {"health.csv": "studentSourcedId,Allergies,notes\n{own},x,y\n"}
    report, _ = run(write_folder(tmp_path / "records", files, ids), world)

    assert issues(report.warnings) == [
        "health.csv:1:2 (Allergies): unknown column; ignored; did you mean 'allergies'?",
        "health.csv:1:3 (notes): unknown column; ignored",
    ]
    assert rows(m.HealthRecord, "allergies") == [("",)]


def make_zip(path, members: dict[str, str], ids) -> bytes:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content.format(**ids))
    return path.read_bytes()


@pytest.mark.django_db
def test_a_zip_with_the_files_inside_one_folder(world, ids, tmp_path):
    members = {
        "export/attendance.csv": GOOD["attendance.csv"],
        "export/health.csv": GOOD["health.csv"],
        "export/README.txt": "hello",
        "__MACOSX/export/._health.csv": "resource fork",
    }
    data = make_zip(tmp_path / "records.zip", members, ids)

    report, stored = run(tmp_path / "records.zip", world)

    assert report.ok and report.applied
    assert issues(report.warnings) == ["export/README.txt: not a records file; ignored"]
    assert m.AttendanceRecord.unscoped.count() == 3
    assert m.HealthRecord.unscoped.count() == 2
    assert (stored.file_name, stored.file_sha256) == (
        "records.zip",
        hashlib.sha256(data).hexdigest(),
    )


@pytest.mark.django_db
def test_a_zip_with_files_in_two_folders_is_rejected(world, ids, tmp_path):
    members = {"one/attendance.csv": GOOD["attendance.csv"], "two/health.csv": GOOD["health.csv"]}
    make_zip(tmp_path / "records.zip", members, ids)

    report, _ = run(tmp_path / "records.zip", world)

    assert issues(report.errors) == [
        "records.zip: files are in more than one folder; put them at the root of the zip or "
        "inside one folder"
    ]
    assert not m.AttendanceRecord.unscoped.exists()


@pytest.mark.django_db
def test_not_a_zip_and_no_records_files_are_rejected(world, ids, tmp_path):
    (tmp_path / "records.zip").write_bytes(b"not a zip")
    (tmp_path / "empty").mkdir()

    not_zip, _ = run(tmp_path / "records.zip", world)
    empty, _ = run(tmp_path / "empty", world)

    assert issues(not_zip.errors) == ["records.zip: not a folder or a readable .zip file"]
    assert issues(empty.errors) == [
        "empty: no records files found; expected any of attendance.csv, assessments.csv, "
        "programs.csv, health.csv, discipline.csv, transportation.csv"
    ]


@pytest.mark.django_db
def test_dry_run_counts_and_changes_nothing(world, ids, tmp_path):
    run(write_folder(tmp_path / "earlier", {"health.csv": GOOD["health.csv"]}, ids), world)
    before = checksum()
    files = {**GOOD, "health.csv": GOOD["health.csv"].replace("Asthma", "Severe asthma")}
    path = write_folder(tmp_path / "records", files, ids)
    out = io.StringIO()

    call_command("import_records", str(path), "--district", "a", "--dry-run", stdout=out)

    assert checksum() == before
    stored = m.ImportRun.unscoped.order_by("id").last()
    assert (stored.status, stored.dry_run) == ("succeeded", True)
    assert stored.counts["health"] == {"created": 0, "updated": 1, "ended": 0, "unchanged": 1}
    assert stored.counts["attendance"]["created"] == 3
    assert "dry run, nothing changed" in out.getvalue()


@pytest.mark.django_db
def test_the_import_run_is_stored_for_success_and_rejection(world, ids, tmp_path):
    path = write_folder(tmp_path / "records", GOOD, ids)
    concatenated = b"".join(
        (path / name).read_bytes() for name in sorted(GOOD)
    )  # name order, as documented

    report, stored = run(path, world)

    stored.refresh_from_db()
    assert stored.district == world.a.district
    assert (stored.kind, stored.status, stored.started_by) == ("records", "succeeded", None)
    assert (stored.file_name, stored.file_sha256) == (
        "records",
        hashlib.sha256(concatenated).hexdigest(),
    )
    assert (stored.rows_total, stored.rows_done) == (12, 12)
    assert stored.started_at <= stored.finished_at
    assert (stored.errors, stored.warnings) == ([], [])
    assert stored.counts == {entity: dict(c) for entity, c in report.counts.items()}

    (path / "attendance.csv").write_text("studentSourcedId,date,status\nnobody,x,present\n")
    rejected, stored = run(path, world, actor=world.a.users["district_admin"])

    stored.refresh_from_db()
    assert (stored.status, stored.started_by, stored.counts) == (
        "rejected",
        world.a.users["district_admin"],
        {},
    )
    assert stored.errors == [issue.as_dict() for issue in rejected.errors]
    assert stored.errors[0]["line"] == 2
    assert stored.warnings == [issue.as_dict() for issue in rejected.warnings]
    assert stored.finished_at is not None
    assert m.ImportRun.unscoped.filter(district=world.b.district).count() == 0


@pytest.mark.django_db
def test_an_unknown_district_is_refused(world, ids, tmp_path):
    path = write_folder(tmp_path / "records", GOOD, ids)

    with pytest.raises(CommandError, match="No district with slug 'nowhere'"):
        call_command("import_records", str(path), "--district", "nowhere", stdout=io.StringIO())

    assert not m.ImportRun.unscoped.exists()
    assert not m.AttendanceRecord.unscoped.exists()


def attendance(students: list[str], days: int) -> str:
    """``days`` school days of attendance for each of ``students`` (sourcedIds)."""
    start = date(2026, 9, 1)
    lines = ["studentSourcedId,date,status,classSourcedId"] + [
        f"{student},{start + timedelta(days=day)},present,"
        for student in students
        for day in range(days)
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.django_db
@pytest.mark.parametrize("rerun", [False, True], ids=["create", "update"])
def test_queries_do_not_grow_with_rows_or_students(world, ids, tmp_path, rerun):
    few = [ids["own"], ids["schoolmate"]]
    many = [f.StudentFactory(district=world.a.district).sourced_id for _ in range(40)]

    def queries(students: list[str], days: int) -> int:
        files = {
            "attendance.csv": attendance(students, days),
            "health.csv": "studentSourcedId,allergies\n"
            + "".join(f"{student},Pollen\n" for student in students),
            "discipline.csv": "studentSourcedId,schoolSourcedId,occurredOn,incidentType,"
            "actionTaken\n"
            + "".join(
                f"{student},{ids['school1']},2026-10-{day:02d},Tardy,Warning\n"
                for student in students
                for day in range(1, 1 + days)
            ),
        }
        path = write_folder(tmp_path / f"run{len(students)}", files, ids)
        if rerun:
            run(path, world)
            for name, content in files.items():
                (path / name).write_text(
                    content.replace("present", "tardy")
                    .replace("Pollen", "Dust")
                    .replace("Warning", "Detention")
                )
        with CaptureQueriesContext(connection) as captured:
            report, _ = run(path, world)
        assert report.ok
        assert report.changes == len(students) * (2 * days + 1)
        return len(captured)

    assert queries(few, 2) == queries(many, 10)


@pytest.mark.django_db
def test_progress_is_reported_every_thousand_rows(world, ids, tmp_path):
    students = [ids["own"], ids["schoolmate"], ids["adult"]]
    path = write_folder(tmp_path / "records", {"attendance.csv": attendance(students, 800)}, ids)
    calls = []

    run(path, world, progress=lambda done, total: calls.append((done, total)))

    assert calls == [(1000, 2400), (2000, 2400), (2400, 2400)]


@pytest.mark.django_db
def test_a_failure_while_writing_rolls_back_and_is_stored_without_the_row(
    world, ids, tmp_path, monkeypatch, caplog
):
    from records.importers import records_csv

    real_apply = records_csv.apply_file
    applied = []
    database_message = "Failing row contains (Peanut allergy)"  # what PostgreSQL might say

    def apply_then_fail(parsed, *args, **kwargs):
        if applied:  # the first file is written, then the second fails
            raise RuntimeError(database_message)
        applied.append(parsed.spec.name)
        return real_apply(parsed, *args, **kwargs)

    monkeypatch.setattr(records_csv, "apply_file", apply_then_fail)
    before = checksum()
    path = write_folder(tmp_path / "records", GOOD, ids)

    with pytest.raises(CommandError, match=r"The import failed \(RuntimeError\); nothing changed"):
        call_command("import_records", str(path), "--district", "a", stdout=io.StringIO())

    assert applied == ["attendance.csv"]
    assert checksum() == before
    stored = m.ImportRun.unscoped.get()
    assert stored.status == m.ImportRun.Status.FAILED
    assert [error["message"] for error in stored.errors] == ["internal error; nothing changed"]
    assert "Peanut" not in caplog.text
    assert "RuntimeError" in caplog.text


@pytest.mark.django_db
def test_a_run_made_earlier_is_filled_in_not_duplicated(world, ids, tmp_path):
    admin = world.a.users["district_admin"]
    queued = m.ImportRun.unscoped.create(
        district=world.a.district,
        kind=m.ImportRun.Kind.RECORDS,
        started_by=admin,
        file_name="upload.zip",
        file_sha256="0" * 64,
    )
    path = write_folder(tmp_path / "records", {"health.csv": GOOD["health.csv"]}, ids)

    report, stored = run(path, world, run=queued)

    assert report.ok
    assert stored.pk == queued.pk
    assert m.ImportRun.unscoped.count() == 1
    stored.refresh_from_db()
    assert (stored.status, stored.started_by, stored.file_name) == (
        "succeeded",
        admin,
        "upload.zip",
    )
    assert stored.counts["health"]["created"] == 2
