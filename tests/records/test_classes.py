"""A teacher's classes: /classes/, a roster (page and CSV), attendance taking.

Access is a matrix: the teacher's own section against another teacher's section at
the same school, a section at another school and one in the other district (404
alike); the roster's exact set of students by enrollment dates; every other role
(404) and anonymous (sign in first).
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from access.classes import (
    attendance_students,
    may_take_attendance,
    section_for_teacher,
    teacher_sections,
)
from access.models import AccessEvent, AccessEventStudent
from access.viewer import viewer_for
from records import models as m
from records.services import attendance_take
from tests import factories as f

pytestmark = pytest.mark.django_db


def roster_url(section) -> str:
    return f"/classes/{section.pk}/"


def attendance_url(section, day=None) -> str:
    return f"/classes/{section.pk}/attendance/" + (f"?date={day.isoformat()}" if day else "")


def today_of(world):
    return viewer_for(world.a.users["teacher"]).today


def teacher_client(client, world):
    client.force_login(world.a.users["teacher"])
    return client


# -- /classes/ -------------------------------------------------------------------------


def test_the_teacher_sees_their_sections_this_term_with_counts(client, world):
    other_teacher = f.UserFactory(district=world.a.district)
    f.SectionTeacherFactory(
        section=f.SectionFactory(district=world.a.district, school=world.a.school1),
        teacher=other_teacher,
    )
    response = teacher_client(client, world).get("/classes/")
    assert response.status_code == 200
    assert response["Cache-Control"].count("no-store") == 1
    sections = list(response.context["sections"])
    assert [(s.pk, s.student_count) for s in sections] == [(world.a.section.pk, 2)]
    assert world.a.section.course.title in response.content.decode()


@pytest.mark.parametrize("who", ["principal", "parent", "district_admin", "eligible", "superuser"])
def test_anyone_but_a_teacher_is_told_there_is_no_such_page(client, world, who):
    client.force_login(world.a.users[who])
    for url in ("/classes/", roster_url(world.a.section), attendance_url(world.a.section)):
        assert client.get(url).status_code == 404, url


def test_an_outsider_gets_404_and_an_anonymous_visitor_signs_in_first(client, world):
    for url in ("/classes/", roster_url(world.a.section), attendance_url(world.a.section)):
        response = client.get(url)
        assert response.status_code == 302 and "next=" in response["Location"], url
    client.force_login(world.outsider)
    assert client.get("/classes/").status_code == 404


def test_a_past_term_is_listed_read_only_and_its_roster_shows_nobody_gone(client, world):
    d, today = world.a.district, today_of(world)
    past = f.AcademicSessionFactory(
        district=d,
        title="Last spring",
        start_date=today - timedelta(days=300),
        end_date=today - timedelta(days=160),
    )
    section = f.SectionFactory(district=d, school=world.a.school1, term=past)
    f.SectionTeacherFactory(section=section, teacher=world.a.users["teacher"])
    f.EnrollmentFactory(section=section, student=world.a.students["schoolmate"],
                        end_date=past.end_date)  # fmt: skip
    teacher_client(client, world)
    current = client.get("/classes/")
    assert [s.pk for s in current.context["sections"]] == [world.a.section.pk]
    assert [t.pk for t in current.context["terms"]] == [world.a.term.pk, past.pk]
    response = client.get(f"/classes/?term={past.pk}")
    assert response.status_code == 200 and response.context["read_only"]
    assert [(s.pk, s.student_count) for s in response.context["sections"]] == [(section.pk, 0)]
    roster = client.get(roster_url(section))
    assert roster.status_code == 200 and roster.context["lines"] == []
    assert world.a.students["schoolmate"].family_name not in roster.content.decode()
    assert "Take today" not in roster.content.decode()
    # Read-only: no attendance in a past term, even on a day inside it.
    day = past.start_date + timedelta(days=3)
    assert client.get(attendance_url(section, day)).status_code == 400
    assert client.get("/classes/?term=999999999").status_code == 404
    assert client.get(f"/classes/?term={world.b.term.pk}").status_code == 404


# -- the roster --------------------------------------------------------------------------


def test_the_roster_is_404_alike_for_every_section_that_is_not_theirs(client, world):
    d = world.a.district
    same_school = f.SectionFactory(district=d, school=world.a.school1, term=world.a.term)
    f.SectionTeacherFactory(section=same_school, teacher=f.UserFactory(district=d))
    f.EnrollmentFactory(section=same_school, student=world.a.students["schoolmate"])
    other_school = f.SectionFactory(district=d, school=world.a.school2, term=world.a.term)
    f.EnrollmentFactory(section=other_school, student=world.a.students["elsewhere"])
    teacher_client(client, world)
    own = client.get(roster_url(world.a.section))
    assert own.status_code == 200
    assert {line["id"] for line in own.context["lines"]} == {
        world.a.students["own"].pk,
        world.a.students["adult"].pk,
    }
    for section in (same_school, other_school, world.b.section):
        for url in (roster_url(section), roster_url(section) + "?format=csv",
                    attendance_url(section)):  # fmt: skip
            assert client.get(url).status_code == 404, url
    assert client.get("/classes/999999999/").status_code == 404


def test_a_teacher_at_another_school_of_the_section_reaches_nothing(client, world):
    # Teaching rows count only where the teacher holds the role: here, school 2 only.
    d = world.a.district
    teacher = f.UserFactory(district=d)
    f.RoleMembershipFactory(user=teacher, role="teacher", school=world.a.school2)
    f.SectionTeacherFactory(section=world.a.section, teacher=teacher)
    client.force_login(teacher)
    assert client.get(roster_url(world.a.section)).status_code == 404
    assert list(client.get("/classes/").context["sections"]) == []


def test_the_roster_follows_enrollment_dates(client, world):
    today = today_of(world)
    own, adult = world.a.students["own"], world.a.students["adult"]
    teacher_client(client, world)
    ended = world.a.enrollments["own"]
    ended.end_date = today - timedelta(days=1)
    ended.save()
    not_yet = world.a.enrollments["adult"]
    not_yet.begin_date = today + timedelta(days=1)
    not_yet.save()
    response = client.get(roster_url(world.a.section))
    assert response.context["lines"] == []
    assert own.family_name not in response.content.decode()
    ended.end_date = today  # the last day still counts
    ended.save()
    not_yet.begin_date = today
    not_yet.save()
    response = client.get(roster_url(world.a.section))
    assert {line["id"] for line in response.context["lines"]} == {own.pk, adult.pk}


def accommodations(world):
    own = world.a.students["own"]
    d = world.a.district
    m.ProgramParticipation.unscoped.create(
        district=d, student=own, program="section_504", accommodations="Extended time on tests"
    )
    m.ProgramParticipation.unscoped.create(
        district=d, student=own, program="free_reduced_lunch", accommodations="Meal card 44"
    )
    m.ProgramParticipation.unscoped.create(
        district=d, student=own, program="iep", accommodations="Old plan",
        end_date=today_of(world) - timedelta(days=30),
    )  # fmt: skip
    m.HealthRecord.unscoped.create(district=d, student=own, conditions="Type 1 diabetes")
    return own


def test_the_roster_shows_name_grade_today_and_only_classroom_accommodations(client, world):
    own = accommodations(world)
    own.preferred_name = "Sol"
    own.grade_level = "08"
    own.save()
    m.AttendanceRecord.unscoped.create(
        district=world.a.district, student=own, section=world.a.section,
        date=today_of(world), status="tardy", reason="Bus late",
    )  # fmt: skip
    response = teacher_client(client, world).get(roster_url(world.a.section))
    content = response.content.decode()
    line = next(line for line in response.context["lines"] if line["id"] == own.pk)
    assert line["name"] == f"Sol {own.family_name}"
    assert str(line["grade"]) == "Grade 8"
    assert (line["status"], line["reason"]) == ("tardy", "Bus late")
    assert [(str(flag["label"]), flag["text"]) for flag in line["flags"]] == [
        ("504 plan", "Extended time on tests")
    ]
    assert f'href="/students/{own.pk}/"' in content
    for hidden in ("Meal card 44", "Old plan", "diabetes", "Free or reduced"):
        assert hidden not in content
    assert 'media="print"' in content


def test_the_roster_sorts_by_name_or_grade(client, world):
    own, adult = world.a.students["own"], world.a.students["adult"]  # Ysolde 07, Tiberius 12
    teacher_client(client, world)
    by_name = client.get(roster_url(world.a.section))
    assert [line["id"] for line in by_name.context["lines"]] == [adult.pk, own.pk]
    by_grade = client.get(roster_url(world.a.section) + "?sort=grade")
    assert [line["id"] for line in by_grade.context["lines"]] == [own.pk, adult.pk]
    assert client.get(roster_url(world.a.section) + "?sort=birth_date").context["sort"] == "name"


def events_of(user):
    return list(AccessEvent.unscoped.filter(actor=user).order_by("sequence"))


def students_of(event) -> set[int]:
    return set(AccessEventStudent.unscoped.filter(event=event).values_list("student_id", flat=True))


def test_the_roster_read_is_logged(client, world):
    teacher = world.a.users["teacher"]
    teacher_client(client, world).get(roster_url(world.a.section))
    (event,) = events_of(teacher)
    assert students_of(event) == {world.a.students["own"].pk, world.a.students["adult"].pk}
    assert set(event.categories) == {"directory", "enrollment", "attendance", "programs"}
    assert event.purpose == "teacher with a current class roster"
    assert not event.is_disclosure


def test_the_csv_export_has_the_pages_columns_and_is_logged(client, world):
    own = accommodations(world)
    own.family_name = "=HYPERLINK(1)"
    own.save()
    teacher = world.a.users["teacher"]
    response = teacher_client(client, world).get(roster_url(world.a.section) + "?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        f'attachment; filename="roster-{world.a.section.pk}.csv"'
    )
    assert "no-store" in response["Cache-Control"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    adult = world.a.students["adult"]
    assert rows == [
        ["Name", "Grade", "Today's attendance", "Accommodations"],
        [f"{adult.given_name} {adult.family_name}", "Grade 12", "Not taken", ""],
        [f"{own.given_name} =HYPERLINK(1)", "Grade 7", "Not taken",
         "504 plan: Extended time on tests"],
    ]  # fmt: skip
    (event,) = events_of(teacher)
    assert students_of(event) == {own.pk, adult.pk}


@pytest.mark.parametrize("size", [5, 40])
def test_the_roster_costs_the_same_queries_whatever_its_size(
    client, world, django_assert_num_queries, size
):
    d, today = world.a.district, today_of(world)
    for n in range(size - 2):
        student = f.StudentFactory(district=d, grade_level=f"{n % 12 + 1:02d}")
        f.SchoolMembershipFactory(student=student, school=world.a.school1)
        f.EnrollmentFactory(section=world.a.section, student=student)
        m.ProgramParticipation.unscoped.create(
            district=d, student=student, program="iep", accommodations="Seat near the front"
        )
        m.AttendanceRecord.unscoped.create(
            district=d, student=student, section=world.a.section, date=today, status="present"
        )
    teacher_client(client, world)
    client.get(roster_url(world.a.section))  # the session, chain head and routes are there
    # The session, the user, the cache epoch, the section, the students, today's marks,
    # the accommodations, the log's one statement; the page asks whether attendance is open.
    with django_assert_num_queries(9):
        response = client.get(roster_url(world.a.section) + "?sort=grade")
    assert len(response.context["lines"]) == size
    with django_assert_num_queries(8):
        client.get(roster_url(world.a.section) + "?format=csv")


# -- attendance -------------------------------------------------------------------------


def test_attendance_is_taken_for_the_roster_of_the_day(client, world):
    own, adult = world.a.students["own"], world.a.students["adult"]
    today = today_of(world)
    teacher_client(client, world)
    page = client.get(attendance_url(world.a.section))
    assert page.status_code == 200
    assert [row["id"] for row in page.context["rows"]] == [adult.pk, own.pk]
    response = client.post(
        attendance_url(world.a.section),
        {f"status-{own.pk}": "absent", f"reason-{own.pk}": "Dentist", f"status-{adult.pk}": ""},
    )
    assert response.status_code == 302
    assert response["Location"] == attendance_url(world.a.section, today)
    saved = m.AttendanceRecord.unscoped.filter(district=world.a.district)
    assert list(saved.values_list("student_id", "section_id", "date", "status", "reason")) == [
        (own.pk, world.a.section.pk, today, "absent", "Dentist")
    ]
    assert "Attendance saved" in client.get(response["Location"]).content.decode()
    assert m.AttendanceChange.unscoped.count() == 0


def test_a_correction_keeps_the_history(client, world):
    own = world.a.students["own"]
    day = today_of(world) - timedelta(days=1)
    teacher = world.a.users["teacher"]
    teacher_client(client, world)
    client.post(attendance_url(world.a.section, day), {f"status-{own.pk}": "absent"})
    client.post(
        attendance_url(world.a.section, day),
        {f"status-{own.pk}": "tardy", f"reason-{own.pk}": "Arrived 9:10"},
    )
    (record,) = m.AttendanceRecord.unscoped.filter(student=own)
    assert (record.date, record.status, record.reason) == (day, "tardy", "Arrived 9:10")
    (change,) = m.AttendanceChange.unscoped.all()
    assert (change.district_id, change.record_id, change.changed_by_id) == (
        world.a.district.pk, record.pk, teacher.pk,
    )  # fmt: skip
    assert (change.old_status, change.new_status, change.old_reason, change.new_reason) == (
        "absent", "tardy", "", "Arrived 9:10",
    )  # fmt: skip
    # Saving the same marks again changes nothing and adds no history.
    client.post(
        attendance_url(world.a.section, day),
        {f"status-{own.pk}": "tardy", f"reason-{own.pk}": "Arrived 9:10"},
    )
    assert m.AttendanceChange.unscoped.count() == 1


def bad_requests(world):
    own, term = world.a.students["own"], world.a.term
    today = today_of(world)
    return {
        "before the term": (term.start_date - timedelta(days=1), {f"status-{own.pk}": "present"}),
        "in the future": (today + timedelta(days=1), {f"status-{own.pk}": "present"}),
        "not a date": ("yesterday", {f"status-{own.pk}": "present"}),
        "unknown status": (today, {f"status-{own.pk}": "asleep"}),
        "not on the roster": (today, {f"status-{world.a.students['schoolmate'].pk}": "present"}),
        "reason too long": (today, {f"status-{own.pk}": "absent", f"reason-{own.pk}": "x" * 101}),
    }


@pytest.mark.parametrize(
    "case",
    ["before the term", "in the future", "not a date", "unknown status", "not on the roster",
     "reason too long"],
)  # fmt: skip
def test_bad_attendance_input_is_refused_with_a_message_and_nothing_saved(client, world, case):
    day, data = bad_requests(world)[case]
    day = day if isinstance(day, str) else day.isoformat()
    url = f"/classes/{world.a.section.pk}/attendance/?date={day}"
    response = teacher_client(client, world).post(url, data)
    assert response.status_code == 400
    assert "Nothing was saved" in response.content.decode()
    assert response.context["error"]
    assert not m.AttendanceRecord.unscoped.exists()


def test_a_day_the_teacher_did_not_teach_the_section_is_refused(client, world):
    today = today_of(world)
    row = m.SectionTeacher.unscoped.get(section=world.a.section, teacher=world.a.users["teacher"])
    row.begin_date = today - timedelta(days=2)
    row.save()
    own = world.a.students["own"]
    teacher_client(client, world)
    assert client.get(attendance_url(world.a.section)).status_code == 200
    before = attendance_url(world.a.section, today - timedelta(days=5))
    response = client.post(before, {f"status-{own.pk}": "present"})
    assert response.status_code == 400
    assert response.context["error"] == "You don't teach this class on that date."
    assert not m.AttendanceRecord.unscoped.exists()
    # Once the teaching row has ended the section is no longer theirs at all.
    row.end_date = today - timedelta(days=1)
    row.save()
    assert (
        client.post(attendance_url(world.a.section), {f"status-{own.pk}": "present"}).status_code
        == 404
    )
    assert not m.AttendanceRecord.unscoped.exists()


def take_attendance(viewer, section, day, marks):
    """As the attendance page does: access decides the lines, the service writes them."""
    writable = frozenset()
    if may_take_attendance(viewer, section, day):
        students, _shown = attendance_students(viewer, section, day)
        writable = frozenset(student.pk for student in students)
    return attendance_take(
        actor=viewer.user, section=section, day=day, marks=marks, writable=writable
    )


def test_the_service_rechecks_who_teaches_and_what_is_valid(world):
    teacher = viewer_for(world.a.users["teacher"])
    own = world.a.students["own"]
    day = teacher.today
    other = f.SectionFactory(district=world.a.district, school=world.a.school1, term=world.a.term)
    f.EnrollmentFactory(section=other, student=own)
    refusals = [
        {"section": other, "day": day, "marks": {own.pk: ("present", "")}},
        {"section": world.b.section, "day": day, "marks": {own.pk: ("present", "")}},
        {"section": world.a.section, "day": day, "marks": {own.pk: ("gone", "")}},
        {"section": world.a.section, "day": day + timedelta(days=1),
         "marks": {own.pk: ("present", "")}},
        {"section": world.a.section, "day": day,
             "marks": {world.a.students["schoolmate"].pk: ("present", "")}},
    ]  # fmt: skip
    for kwargs in refusals:
        with pytest.raises(ValidationError):
            take_attendance(teacher, **kwargs)
    assert not m.AttendanceRecord.unscoped.exists()
    principal = viewer_for(world.a.users["principal"])
    with pytest.raises(ValidationError):
        take_attendance(principal, world.a.section, day, {own.pk: ("present", "")})
    saved = take_attendance(teacher, world.a.section, day, {own.pk: ("present", "")})
    assert (saved.created, saved.changed, saved.unchanged) == (1, 0, 0)


def test_the_service_writes_only_the_roster_access_allowed_not_any_enrolled_student(world):
    """Fault 9: the service took any student enrolled that day; it now writes only the
    lines access allowed: the roster the teacher sees today, enrolled that day."""
    teacher = viewer_for(world.a.users["teacher"])
    own, day = world.a.students["own"], teacher.today - timedelta(days=3)
    moved = f.StudentFactory(district=world.a.district)
    f.SchoolMembershipFactory(student=moved, school=world.a.school1)
    f.EnrollmentFactory(
        section=world.a.section,
        student=moved,
        begin_date=day - timedelta(days=10),
        end_date=teacher.today - timedelta(days=1),  # left the class yesterday
    )
    students, _shown = attendance_students(teacher, world.a.section, day)
    assert moved.pk not in {student.pk for student in students}
    with pytest.raises(ValidationError):
        take_attendance(teacher, world.a.section, day, {moved.pk: ("absent", "")})
    with pytest.raises(ValidationError):
        attendance_take(
            actor=teacher.user,
            section=world.a.section,
            day=day,
            marks={own.pk: ("present", "")},
            writable=frozenset(),
        )
    assert not m.AttendanceRecord.unscoped.exists()
    take_attendance(teacher, world.a.section, day, {own.pk: ("present", "")})
    assert m.AttendanceRecord.unscoped.get().student_id == own.pk


def test_may_take_attendance_and_the_section_lookups(world):
    teacher = viewer_for(world.a.users["teacher"])
    section, term, today = world.a.section, world.a.term, teacher.today
    assert may_take_attendance(teacher, section, today)
    assert may_take_attendance(teacher, section, term.start_date)
    assert not may_take_attendance(teacher, section, term.start_date - timedelta(days=1))
    assert not may_take_attendance(teacher, section, today + timedelta(days=1))
    assert not may_take_attendance(viewer_for(world.a.users["principal"]), section, today)
    assert not may_take_attendance(teacher, world.b.section, today)
    assert list(teacher_sections(viewer_for(world.a.users["principal"]))) == []
    assert section_for_teacher(teacher, str(section.pk)) == section
    for bad in ("x", None, -1, 2**63, world.b.section.pk):
        with pytest.raises(Exception) as raised:
            section_for_teacher(teacher, bad)
        assert raised.type.__name__ == "SectionNotFound"


def test_a_restriction_on_the_teacher_as_parent_also_hides_the_child_in_class_counts(world):
    """The review's case: the teacher is a restricted parent of a student on the roster."""
    teacher, own = world.a.users["teacher"], world.a.students["own"]
    link = f.GuardianLinkFactory(student=own, guardian=teacher, relationship="father")
    f.CustodyRestrictionFactory(guardian_link=link, scope="categories", categories=["enrollment"])
    [section] = teacher_sections(viewer_for(teacher))
    assert section.student_count == 1  # only "adult": the roster shows the same


def test_a_roster_shows_no_attendance_state_for_a_child_whose_attendance_is_hidden(client, world):
    teacher, own = world.a.users["teacher"], world.a.students["own"]
    link = f.GuardianLinkFactory(student=own, guardian=teacher, relationship="father")
    f.CustodyRestrictionFactory(guardian_link=link, scope="categories", categories=["attendance"])
    response = teacher_client(client, world).get(roster_url(world.a.section))
    lines = {line["id"]: line for line in response.context["lines"]}
    assert not lines[own.pk]["shows_attendance"]  # a dash, not "Not taken"
    assert lines[world.a.students["adult"].pk]["shows_attendance"]
    assert response.content.decode().count("Not taken") == 1


def test_the_service_refuses_attendance_the_person_may_not_see(world):
    teacher, own = world.a.users["teacher"], world.a.students["own"]
    link = f.GuardianLinkFactory(student=own, guardian=teacher, relationship="father")
    f.CustodyRestrictionFactory(guardian_link=link, scope="categories", categories=["attendance"])
    viewer = viewer_for(teacher)
    with pytest.raises(ValidationError):
        take_attendance(viewer, world.a.section, viewer.today, {own.pk: ("absent", "")})
    assert not m.AttendanceRecord.unscoped.filter(student=own).exists()


def test_a_teacher_whose_role_ended_backfills_nothing(world):
    from accounts.models import RoleMembership

    teacher = world.a.users["teacher"]
    viewer = viewer_for(teacher)  # built while the role was active
    RoleMembership.unscoped.filter(user=teacher).update(end_date=viewer.today - timedelta(days=1))
    with pytest.raises(ValidationError):
        take_attendance(
            viewer,
            world.a.section,
            viewer.today - timedelta(days=2),
            {world.a.students["own"].pk: ("present", "")},
        )
