"""import_oneroster: real bundles from public projects, and generated ones."""

from __future__ import annotations

import hashlib
import shutil
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from access.scoping import visible_students
from access.viewer import viewer_for
from accounts.models import RoleMembership, User
from records import models as m
from records.importers import oneroster as oneroster_import
from records.importers.oneroster import apply, import_oneroster
from records.importers.oneroster.bundle import read_bundle
from records.importers.oneroster.parse import REFERENCE_COLUMNS
from records.importers.report import ImportReport
from tests.records.oneroster_bundles import shared_bundle, small_district, write_bundle

pytestmark = pytest.mark.django_db


def run(path, slug="maple", **kwargs):
    return import_oneroster(path, district_slug=slug, **kwargs)


def where(issues) -> set[tuple[str, int | None, str | None]]:
    return {(i.file, i.line, i.column_name) for i in issues}


def database_fingerprint() -> str:
    """Row counts and a checksum of every table's contents."""
    digest = hashlib.sha256()
    with connection.cursor() as cursor:
        for model in sorted(apps.get_models(), key=lambda m: m._meta.db_table):
            table = model._meta.db_table
            query = (
                "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')), count(*) "
                f'FROM "{table}" t'
            )
            cursor.execute(query)  # table names come from Django's own models
            digest.update(f"{table}:{cursor.fetchone()}".encode())
    return digest.hexdigest()


def names(user) -> set[str]:
    return {s.sourced_id for s in visible_students(viewer_for(user))}


# -- the public bundles --------------------------------------------------------------------


def test_lepo_roster_hub_imports_and_a_second_run_changes_nothing():
    report, district = run(shared_bundle("lepo-roster-hub-1.1"), slug="lepo")
    assert report.ok and report.applied
    assert m.Student.unscoped.filter(district=district).count() == 20
    assert m.Section.unscoped.filter(district=district).count() == 5
    assert m.Enrollment.unscoped.filter(district=district).count() == 25
    assert m.School.unscoped.get(district=district).name == "Sample School"
    assert ("manifest.csv", 10, "propertyName") in where(report.warnings)  # fiel.demographics
    # Users listed as students but enrolled as teachers: reported, those rows skipped.
    assert {("enrollments.csv", line, "role") for line in range(2, 7)} <= where(report.warnings)
    again, _ = run(shared_bundle("lepo-roster-hub-1.1"), slug="lepo")
    assert again.ok and again.changes == 0


def test_catalyst_1_1_reports_each_defect_at_its_place():
    report, district = run(shared_bundle("catalyst-moodle-1.1"), slug="catalyst")
    assert report.ok
    messages = {(i.file, i.line, i.column_name): i.message for i in report.warnings}
    # Dangling references: the parent org, the course of a class, the classes of enrollments.
    assert "org-sch-222-3456" in messages[("orgs.csv", 2, "parentSourcedId")]
    assert "row skipped" in messages[("classes.csv", 2, "courseSourcedId")]
    assert {("enrollments.csv", n, "classSourcedId") for n in range(2, 8)} <= set(messages)
    # Rows marked tobedeleted (or 1.0's inactive) inside bulk files.
    for place in [("academicSessions.csv", 2, "status"), ("academicSessions.csv", 4, "status"),
                  ("classes.csv", 3, "status")]:  # fmt: skip
        assert "bulk file" in messages[place]
    # Teachers given as students' agents are refused.
    for line in (3, 6, 7):
        assert "refused" in messages[("users.csv", line, "agentSourcedIds")]
    assert "case differs" in messages[("classes.csv", 2, "classType")]
    # The one real parent link (Thomas → Mary) is made; no teacher became a guardian.
    [link] = m.GuardianLink.unscoped.filter(district=district)
    assert (link.guardian.username, link.student.sourced_id) == (
        "thomas.joness",
        "usr-222-66778899",
    )


def test_catalyst_1_2_zip_with_a_nested_folder_imports_its_roles():
    report, district = run(
        shared_bundle("catalyst-moodle-1.2", "v1p2_full_dataset.zip"), slug="c12"
    )
    assert report.ok
    memberships = set(
        RoleMembership.unscoped.filter(district=district).values_list("user__username", "role")
    )
    assert memberships == {
        ("john.doe", "teacher"),
        ("jim.smith", "teacher"),
        ("thomas.joness", "school_admin"),
    }
    students = set(
        m.Student.unscoped.filter(district=district).values_list("sourced_id", flat=True)
    )
    assert students == {"usr-222-66778899", "usr-222-1234561232", "usr-222-567891"}
    assert m.SchoolMembership.unscoped.filter(district=district).count() == 3
    assert ("roles.csv", 1, "dataLastModified") in where(report.warnings)  # header typo read


def test_oat_sa_nonstandard_is_rejected_naming_the_wrong_columns():
    before = database_fingerprint()
    report, district = run(shared_bundle("oat-sa-1.1-nonstandard"), slug="oat")
    assert not report.ok and district is None
    errors = {(i.file, i.column_name): i.message for i in report.errors}
    assert "missing" in errors[("academicSessions.csv", "schoolYear")]
    assert "userSourcedId" in errors[("demographics.csv", "sourcedId")]
    warned = {(i.file, i.column_name) for i in report.warnings}
    assert {
        ("users.csv", "agents"),
        ("users.csv", "userId"),
        ("courses.csv", "schoolYearId"),
    } <= warned
    assert database_fingerprint() == before


# -- generated bundles ----------------------------------------------------------------------


def test_a_small_district_imports_every_relationship(tmp_path):
    report, district = run(write_bundle(tmp_path / "b", small_district()))
    assert report.ok, report.errors
    assert district.name == "Maple Valley SD" and district.sourced_id == "dist-1"
    counts = report.as_dict()["counts"]
    assert counts["students"]["created"] == 3
    assert counts["guardian_links"]["created"] == 3  # p-1 ↔ s-1 (both ways, once), s-2, s-3
    assert counts["section_teachers"]["created"] == 2
    school = m.School.unscoped.get(district=district)
    assert school.nces_id == "530123401234"
    admin = User.objects.get(username="a.one")
    assert not admin.has_usable_password()
    assert RoleMembership.unscoped.get(user=admin).role == "school_admin"
    sam = m.Student.unscoped.get(district=district, sourced_id="s-1")
    assert (sam.birth_date.isoformat(), sam.sex, sam.asian, sam.grade_level) == (
        "2013-04-02", "F", True, "07"
    )  # fmt: skip
    assert names(User.objects.get(username="t.one")) == {"s-1", "s-2"}
    assert names(User.objects.get(username="p.one")) == {"s-1", "s-2"}
    assert names(admin) == {"s-1", "s-2", "s-3"}
    # A class's "location" is its room.
    rooms = dict(m.Section.unscoped.filter(district=district).values_list("sourced_id", "room"))
    assert rooms == {"cls-math": "Room 12", "cls-sci": ""}


def test_a_second_bulk_moves_a_teacher_and_withdraws_a_student(tmp_path):
    tables = small_district()
    run(write_bundle(tmp_path / "first", tables))
    # Theo now teaches math instead of Tess; Sky (s-2) has left the district.
    for row in tables["enrollments"]:
        if row["sourcedId"] == "e-t1-math":
            row["userSourcedId"] = "t-2"
    tables["enrollments"] = [r for r in tables["enrollments"] if r["userSourcedId"] != "s-2"]
    tables["users"] = [u for u in tables["users"] if u["sourcedId"] != "s-2"]
    for user in tables["users"]:
        if user["sourcedId"] == "p-1":
            user["agentSourcedIds"] = "s-1"
    report, district = run(write_bundle(tmp_path / "second", tables))
    assert report.ok, report.errors
    tess, theo = User.objects.get(username="t.one"), User.objects.get(username="t.two")
    assert names(tess) == set()
    assert names(theo) == {"s-1", "s-3"}
    # The withdrawn student: ended for the school, still the parent's child.
    sky = m.Student.unscoped.get(district=district, sourced_id="s-2")
    assert sky.enrollment_status == "inactive"
    assert names(User.objects.get(username="a.one")) == {"s-1", "s-3"}
    assert names(User.objects.get(username="p.one")) == {"s-1", "s-2"}
    ended = m.Enrollment.unscoped.get(district=district, sourced_id="e-s2-math")
    assert ended.end_date == timezone.localdate() - timedelta(days=1)
    assert User.objects.get(username="s.two").is_active is False
    # Nothing was deleted: history stays.
    assert m.Enrollment.unscoped.filter(district=district).count() == 3
    again, _ = run(write_bundle(tmp_path / "second-again", tables))
    assert again.changes == 0


def test_a_delta_ends_what_it_marks_tobedeleted(tmp_path):
    run(write_bundle(tmp_path / "bulk", small_district()))
    delta = {
        "enrollments": [
            {"sourcedId": "e-s1-math", "status": "tobedeleted", "classSourcedId": "cls-math",
             "schoolSourcedId": "sch-1", "userSourcedId": "s-1", "role": "student"},
            {"sourcedId": "e-s3-math", "status": "active", "classSourcedId": "cls-math",
             "schoolSourcedId": "sch-1", "userSourcedId": "s-3", "role": "student"},
        ]
    }  # fmt: skip
    report, _ = run(write_bundle(tmp_path / "delta", delta, modes={"enrollments": "delta"}))
    assert report.ok, report.errors
    assert report.as_dict()["counts"]["enrollments"] == {
        "created": 1, "updated": 0, "ended": 1, "unchanged": 0
    }  # fmt: skip
    assert names(User.objects.get(username="t.one")) == {"s-2", "s-3"}
    # Records the delta does not mention are left alone.
    assert names(User.objects.get(username="t.two")) == {"s-3"}


def test_inactive_from_oneroster_1_0_reads_as_tobedeleted(tmp_path):
    run(write_bundle(tmp_path / "bulk", small_district()))
    delta = {"enrollments": [{"sourcedId": "e-s2-math", "status": "inactive",
                              "classSourcedId": "cls-math", "schoolSourcedId": "sch-1",
                              "userSourcedId": "s-2", "role": "student"}]}  # fmt: skip
    report, _ = run(write_bundle(tmp_path / "delta", delta, modes={"enrollments": "delta"}))
    assert report.as_dict()["counts"]["enrollments"]["ended"] == 1


@pytest.mark.parametrize(
    "break_it, place, words",
    [
        (lambda t: t["users"][3].update(role="pupil"), ("users.csv", 5, "role"), "unknown value"),
        (lambda t: t["classes"].append(dict(t["classes"][0])), ("classes.csv", 4, "sourcedId"),
         "duplicate sourcedId"),
        (lambda t: t["academicSessions"][0].update(startDate="next monday"),
         ("academicSessions.csv", 2, "startDate"), "not a date"),
        (lambda t: t["users"][4].update(grades="7th"), ("users.csv", 6, "grades"), "unknown grade"),
        (lambda t: t["users"][0].update(givenName=""), ("users.csv", 2, "givenName"), "required"),
        # One person in one class twice, under two sourcedIds: which row is meant?
        (lambda t: t["enrollments"].append({**t["enrollments"][0], "sourcedId": "e-again"}),
         ("enrollments.csv", 7, "userSourcedId"), "twice (first on line 2)"),
    ],
)  # fmt: skip
def test_a_malformed_bundle_changes_nothing_and_names_the_place(tmp_path, break_it, place, words):
    run(write_bundle(tmp_path / "good", small_district()))
    before = database_fingerprint()
    tables = small_district()
    tables["users"][1]["givenName"] = "Changed"  # a change that must not be applied
    break_it(tables)
    report, _ = run(write_bundle(tmp_path / "bad", tables))
    assert not report.ok
    assert place in where(report.errors)
    assert any(words in i.message for i in report.errors)
    assert database_fingerprint() == before


def test_missing_files_columns_and_bad_encoding_are_errors(tmp_path):
    folder = write_bundle(tmp_path / "b", small_district())
    (folder / "classes.csv").unlink()
    text = (folder / "courses.csv").read_text().replace("orgSourcedId", "organisation")
    (folder / "courses.csv").write_text(text)
    (folder / "orgs.csv").write_bytes(
        "sourcedId,name,type\r\nx,Caf\xe9,school\r\n".encode("latin-1")
    )
    report, _ = run(folder)
    assert {("classes.csv", None, None), ("courses.csv", 1, "orgSourcedId"),
            ("orgs.csv", 2, None)} <= where(report.errors)  # fmt: skip
    assert not m.District.objects.filter(slug="maple").exists()


def test_a_row_with_too_many_values_is_an_error(tmp_path):
    folder = write_bundle(tmp_path / "b", small_district())
    with (folder / "courses.csv").open("a") as handle:
        handle.write("crs-x,,,,Extra,,,sch-1,,,surplus\r\n")
    report, _ = run(folder)
    assert ("courses.csv", 4, None) in where(report.errors)


@pytest.mark.parametrize("line_ending", ["\r\n", "\n", "\r"])
def test_line_endings_bom_and_unquoted_values_are_accepted(tmp_path, line_ending):
    report, district = run(write_bundle(tmp_path / "b", small_district(), line_ending=line_ending,
                                        bom=True))  # fmt: skip
    assert report.ok, report.errors
    assert m.Student.unscoped.filter(district=district).count() == 3


def test_a_zip_with_files_inside_one_folder(tmp_path):
    folder = write_bundle(tmp_path / "export" / "oneroster", small_district())
    archive = shutil.make_archive(str(tmp_path / "bundle"), "zip", tmp_path / "export")
    report, _ = run(archive)
    assert report.ok, report.errors
    assert folder.exists()


def test_dangling_references_skip_rows_and_strict_rejects_them(tmp_path):
    tables = small_district()
    tables["enrollments"].append(
        {"sourcedId": "e-ghost", "classSourcedId": "cls-math", "schoolSourcedId": "sch-1",
         "userSourcedId": "nobody", "role": "student"}
    )  # fmt: skip
    folder = write_bundle(tmp_path / "b", tables)
    strict, _ = run(folder, strict=True)
    assert not strict.ok and ("enrollments.csv", 7, "userSourcedId") in where(strict.errors)
    assert not m.District.objects.filter(slug="maple").exists()
    report, district = run(folder)
    assert report.ok and ("enrollments.csv", 7, "userSourcedId") in where(report.warnings)
    assert m.Enrollment.unscoped.filter(district=district).count() == 3


def test_a_teacher_given_as_a_students_agent_is_refused(tmp_path):
    tables = small_district()
    tables["users"][3]["agentSourcedIds"] = "p-1,t-1"
    report, district = run(write_bundle(tmp_path / "b", tables))
    assert any("refused" in i.message and i.line == 5 for i in report.warnings)
    guardians = m.GuardianLink.unscoped.filter(district=district, student__sourced_id="s-1")
    assert set(guardians.values_list("guardian__username", flat=True)) == {"p.one"}


def test_a_dry_run_counts_and_changes_nothing(tmp_path):
    before = database_fingerprint()
    report, _ = run(write_bundle(tmp_path / "b", small_district()), dry_run=True)
    assert report.ok and not report.applied
    assert report.as_dict()["counts"]["students"]["created"] == 3
    assert database_fingerprint() == before


def test_a_username_held_in_another_district_is_an_error(tmp_path, world):
    tables = small_district()
    tables["users"][0]["username"] = world.b.users["teacher"].username
    report, _ = run(write_bundle(tmp_path / "b", tables))
    assert ("users.csv", 2, "username") in where(report.errors)


def test_gradebook_results_become_grades(tmp_path):
    tables = small_district()
    start, end = (
        tables["academicSessions"][0]["startDate"],
        tables["academicSessions"][0]["endDate"],
    )
    tables["academicSessions"].append(
        {"sourcedId": "gp-1", "title": "Q1", "type": "gradingPeriod", "startDate": start,
         "endDate": end, "schoolYear": end[:4], "parentSourcedId": "term-1"}
    )  # fmt: skip
    tables["lineItems"] = [
        {"sourcedId": f"li-{n}", "title": f"Quiz {n}", "classSourcedId": "cls-math",
         "gradingPeriodSourcedId": "gp-1", "resultValueMax": "50"} for n in (1, 2)
    ]  # fmt: skip
    tables["results"] = [
        {"sourcedId": "r-1", "lineItemSourcedId": "li-1", "studentSourcedId": "s-1", "score": "40"},
        {"sourcedId": "r-2", "lineItemSourcedId": "li-2", "studentSourcedId": "s-1", "score": "45"},
    ]  # fmt: skip
    report, district = run(write_bundle(tmp_path / "b", tables))
    assert report.ok, report.errors
    [grade] = m.Grade.unscoped.filter(district=district)
    assert (grade.student.sourced_id, str(grade.percent)) == ("s-1", "85.00")


def test_oneroster_1_2_users_take_their_kind_from_roles(tmp_path):
    tables = small_district()
    start, end = (
        tables["academicSessions"][0]["startDate"],
        tables["academicSessions"][0]["endDate"],
    )
    tables["roles"] = [
        {"sourcedId": f"r-{u['sourcedId']}", "userSourcedId": u["sourcedId"], "roleType": "primary",
         "role": {"administrator": "principal"}.get(u["role"], u["role"]),
         "orgSourcedId": "sch-1", "beginDate": start, "endDate": end}
        for u in tables["users"]
    ]  # fmt: skip
    for user in tables["users"]:
        user.pop("role"), user.pop("orgSourcedIds")
    modes = {**dict.fromkeys(tables, "bulk")}
    report, district = run(write_bundle(tmp_path / "b", tables, version="1.2", modes=modes))
    assert report.ok, report.errors
    assert RoleMembership.unscoped.get(user__username="a.one").role == "principal"
    assert m.Student.unscoped.filter(district=district).count() == 3
    assert names(User.objects.get(username="p.one")) == {"s-1", "s-2"}


def test_a_roles_delta_deleting_a_role_ends_it(tmp_path):
    """A deleted roles row ends the role it named: a teacher's at the school (by the row's
    sourcedId, or by user, role and school when the role kept none), a student's school
    membership (which keeps no roles sourcedId); nobody else's."""
    tables = small_district()
    start, end = (
        tables["academicSessions"][0]["startDate"],
        tables["academicSessions"][0]["endDate"],
    )
    roles = [
        {"sourcedId": f"r-{u['sourcedId']}", "userSourcedId": u["sourcedId"], "roleType": "primary",
         "role": {"administrator": "principal"}.get(u["role"], u["role"]),
         "orgSourcedId": "sch-1", "beginDate": start, "endDate": end, "status": "active"}
        for u in tables["users"]
    ]  # fmt: skip
    tables["roles"] = roles
    for user in tables["users"]:
        user.pop("role"), user.pop("orgSourcedIds")
    modes = dict.fromkeys(tables, "bulk")
    report, district = run(write_bundle(tmp_path / "b", tables, version="1.2", modes=modes))
    assert report.ok, report.errors
    # The principal's role as a 1.1 users.csv leaves it: no roles sourcedId.
    RoleMembership.unscoped.filter(user__username="a.one").update(sourced_id=None)
    deleted = [{**role, "status": "tobedeleted"} for role in roles
               if role["userSourcedId"] in ("t-1", "a-1", "s-1")]  # fmt: skip
    report, _ = run(write_bundle(tmp_path / "d", {"roles": deleted}, version="1.2",
                                 modes={"roles": "delta"}))  # fmt: skip
    assert report.ok, report.errors
    today = timezone.localdate()

    def open_roles(username):
        return [r.role for r in RoleMembership.unscoped.filter(user__username=username)
                if r.end_date is None or r.end_date >= today]  # fmt: skip

    assert open_roles("t.one") == [] and open_roles("a.one") == []
    assert open_roles("t.two") == ["teacher"]
    memberships = {
        membership.student.sourced_id: membership.end_date
        for membership in m.SchoolMembership.unscoped.filter(district=district)
    }
    assert memberships["s-1"] is not None and memberships["s-1"] < today
    assert memberships["s-2"] is None or memberships["s-2"] >= today


def test_the_command_prints_the_report_stores_the_run_and_fails_on_errors(tmp_path, capsys):
    folder = write_bundle(tmp_path / "b", small_district())
    call_command("import_oneroster", str(folder), "--district", "maple", "--district-name", "Maple")
    out = capsys.readouterr().out
    assert "students" in out and "Changed" in out
    run_row = m.ImportRun.unscoped.get()
    assert (run_row.status, run_row.kind, run_row.district.name) == (
        "succeeded",
        "oneroster",
        "Maple",
    )
    assert len(run_row.file_sha256) == 64
    (folder / "users.csv").write_text("sourcedId\r\nbroken\r\n")
    with pytest.raises(CommandError, match="Rejected"):
        call_command("import_oneroster", str(folder), "--district", "maple")
    assert m.ImportRun.unscoped.filter(status="rejected").count() == 1
    assert "required column is missing" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_a_second_import_of_the_same_district_waits_for_the_first(tmp_path):
    import threading

    from django.db import connections

    folder = write_bundle(tmp_path / "b", small_district())
    phases, finished = [], threading.Event()
    holder = connections.create_connection("default")  # an import in progress elsewhere
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", ["import:maple"])

    def second_import():
        try:
            run(folder, progress=lambda phase, done, total: phases.append(phase))
        finally:
            connections.close_all()
            finished.set()

    thread = threading.Thread(target=second_import)
    thread.start()
    try:
        assert not finished.wait(timeout=2)
        assert phases[-1] == "waiting"
        assert not m.District.objects.filter(slug="maple").exists()
    finally:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", ["import:maple"])
        holder.close()
    assert finished.wait(timeout=30)
    thread.join()
    assert m.Student.unscoped.filter(district__slug="maple").count() == 3
    assert phases[-1] == "applying"


@pytest.mark.parametrize(
    "lookalike, place, words",
    [
        (lambda t, world: t["users"][0].update(username=world.b.users["teacher"].username.upper()),
         ("users.csv", 2, "username"), "'B-TEACHER' differs only in case from another account"),
        (lambda t, world: t["users"][1].update(username=t["users"][0]["username"].upper()),
         ("users.csv", 3, "username"), "'T.ONE' differs only in case from 't.one' on line 2"),
    ],
)  # fmt: skip
def test_a_username_differing_only_in_case_is_an_error(tmp_path, world, lookalike, place, words):
    """Usernames are unique whatever their case: another account's, or another row's."""
    run(write_bundle(tmp_path / "good", small_district()))
    before = database_fingerprint()
    tables = small_district()
    tables["users"][2]["givenName"] = "Changed"  # a change that must not be applied
    lookalike(tables, world)
    report, _ = run(write_bundle(tmp_path / "bad", tables))
    assert where(report.errors) == {place}
    assert [words in i.message for i in report.errors] == [True]
    assert database_fingerprint() == before


def test_a_delta_reads_only_the_rows_it_can_change(tmp_path, monkeypatch):
    """A delta of a few users and enrollments (one school's roster at a state's scale)
    reads the rows it names, ends or re-issues, not the district's every roster."""
    run(write_bundle(tmp_path / "bulk", small_district()))
    users = {row["sourcedId"]: row for row in small_district()["users"]}
    delta = {
        "users": [{**users["s-3"], "grades": "08"}, {**users["s-2"], "status": "tobedeleted"}],
        "enrollments": [
            {"sourcedId": "e-s3-sci-new", "classSourcedId": "cls-sci", "schoolSourcedId": "sch-1",
             "userSourcedId": "s-3", "role": "student"},
        ],
    }  # fmt: skip
    loaded: dict[type, list] = {}
    original = apply.load_rows

    def spy(queryset, key, names):
        rows = original(queryset, key, names)
        loaded.setdefault(queryset.model, []).extend(pk for pk, _ in rows.values())
        return rows

    monkeypatch.setattr(apply, "load_rows", spy)
    modes = {"users": "delta", "enrollments": "delta"}
    report, district = run(write_bundle(tmp_path / "delta", delta, modes=modes))
    assert report.ok, report.errors
    student = m.Student.unscoped.get(district=district, sourced_id="s-3")
    assert student.grade_level == "08"
    # Re-issued under a new sourcedId: the same row, found among its section's.
    renamed = m.Enrollment.unscoped.get(district=district, sourced_id="e-s3-sci-new")
    assert not m.Enrollment.unscoped.filter(sourced_id="e-s3-sci").exists()
    assert renamed.student == student
    gone = m.Student.unscoped.get(district=district, sourced_id="s-2")
    assert gone.enrollment_status == m.Student.Status.INACTIVE
    assert m.SchoolMembership.unscoped.get(student=gone).end_date is not None

    def sourced_ids(model, field="sourced_id"):
        rows = model.unscoped.filter(pk__in=loaded.get(model, []))
        return set(rows.values_list(field, flat=True))

    assert sourced_ids(m.Enrollment) == {"e-s3-sci-new"}  # the renamed; not the math roster
    assert sourced_ids(m.SchoolMembership, "student__sourced_id") == {"s-2", "s-3"}
    assert sourced_ids(m.GuardianLink, "guardian__sourced_id") <= {"p-2", "s-2"}
    assert sourced_ids(RoleMembership, "user__sourced_id") == set()  # no staff named


def test_a_delta_checks_its_references_against_only_the_sourcedids_it_names(tmp_path, monkeypatch):
    """What the district already holds is read for the sourcedIds the bundle refers to
    (whole, and a list's items), not the district's every one; a bulk's many, whole."""
    _, district = run(write_bundle(tmp_path / "bulk", small_district()))
    users = {row["sourcedId"]: row for row in small_district()["users"]}
    delta = {"users": [{**users["p-1"], "agentSourcedIds": " s-1 , s-2"}]}
    folder = write_bundle(tmp_path / "delta", delta, modes={"users": "delta"})
    bundle = read_bundle(folder, ImportReport())
    named = bundle.named_ids(REFERENCE_COLUMNS, oneroster_import.KNOWN_LOOKUP_LIMIT)
    assert named == {"s-1 , s-2", "s-1", "s-2"}
    assert bundle.named_ids(REFERENCE_COLUMNS, 2) is None  # too many: none are listed
    known = oneroster_import._known(district, named)
    assert known.users == {"s-1", "s-2"} == known.students
    assert not known.schools and not known.sections and not known.staff
    report, _ = run(folder)
    assert report.ok, report.errors  # its students are found, though not in the file
    every = oneroster_import._known(district, None)
    assert every.users == {u["sourcedId"] for u in small_district()["users"]}


def test_a_reference_holding_a_comma_or_a_nul_is_looked_up_as_written(tmp_path):
    tables = small_district()
    tables["classes"][0]["sourcedId"] = "2026,MATH,7"
    for row in tables["enrollments"]:
        if row["classSourcedId"] == "cls-math":
            row["classSourcedId"] = "2026,MATH,7"
    run(write_bundle(tmp_path / "bulk", tables))
    delta = {
        "enrollments": [
            {"sourcedId": "e-s3-math", "classSourcedId": "2026,MATH,7", "schoolSourcedId":
             "sch-1", "userSourcedId": "s-3", "role": "student"},
            {"sourcedId": "e-nul", "classSourcedId": "cls\x00sci", "schoolSourcedId": "sch-1",
             "userSourcedId": "s-3", "role": "student"},
        ]
    }  # fmt: skip
    report, _ = run(write_bundle(tmp_path / "delta", delta, modes={"enrollments": "delta"}))
    assert report.as_dict()["counts"]["enrollments"]["created"] == 1  # the class is found
    assert any("cls" in issue.message for issue in report.warnings)  # the other is not


def test_a_delta_of_only_deletions_ends_its_users(tmp_path):
    """A users delta whose one row deletes a teacher deactivates the account and ends the
    teacher's roles: nothing of the roster is left to reach students through."""
    _, district = run(write_bundle(tmp_path / "bulk", small_district()))
    teacher = next(u for u in small_district()["users"] if u["sourcedId"] == "t-1")
    assert names(User.objects.get(username="t.one"))
    delta = {"users": [{**teacher, "status": "tobedeleted"}]}
    report, _ = run(write_bundle(tmp_path / "delta", delta, modes={"users": "delta"}))
    assert report.ok, report.errors
    account = User.objects.get(district=district, sourced_id="t-1")
    assert not account.is_active
    today = timezone.localdate()
    roles = RoleMembership.unscoped.filter(user=account)
    assert all(role.end_date is not None and role.end_date < today for role in roles)
