"""Staff pages: /school/ (a school official's students) and /students/<id>/ (one student).

Every role of both districts, the outsider and the anonymous visitor: exact sets of
students and exact sets of categories, never "contains".
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils.formats import date_format

from access import policy
from access.categories import Category
from access.models import AccessEvent, AccessEventStudent
from access.staff import staff_students, why_visible
from access.viewer import viewer_for
from accounts.models import Role
from records import models as m
from tests import factories as f
from tests.reasons import said

pytestmark = pytest.mark.django_db

SCHOOL = "/school/"
SCHOOL_ROLES = ("principal", "school_admin", "counselor", "nurse", "special_ed")
ALL_BUT_HEALTH_SECTIONS = {
    "directory", "contact", "demographics", "identifiers", "enrollment", "attendance",
    "grades", "assessments", "programs", "discipline", "transportation",
}  # fmt: skip
TEACHER_SECTIONS = {
    "directory", "contact", "enrollment", "attendance", "grades", "assessments", "programs",
}  # fmt: skip


def student_url(student) -> str:
    return f"/students/{student.pk}/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def opened(user, student, purpose="iep_meeting"):
    """The student's page after declaring a purpose, so the sensitive parts show too."""
    client = client_for(user)
    declared = client.post(student_url(student), {"purpose": purpose})
    assert declared.status_code == 302
    return client.get(student_url(student))


def sections_of(html: str) -> set[str]:
    return set(re.findall(r'<section class="card record-section" id="([a-z_]+)"', html))


def listed_ids(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'href="/students/(\d+)/"', html)}


def ids(*students) -> set[int]:
    return {student.pk for student in students}


def events_of(user) -> list[AccessEvent]:
    return list(AccessEvent.unscoped.filter(actor=user).order_by("sequence"))


def students_of(event) -> set[int]:
    return set(AccessEventStudent.unscoped.filter(event=event).values_list("student_id", flat=True))


# /school/: who may open it, and whom it lists.


@pytest.mark.parametrize("role", SCHOOL_ROLES)
def test_a_school_official_lists_exactly_their_schools_students(world, role):
    a = world.a.students
    response = client_for(world.a.users[role]).get(SCHOOL)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert listed_ids(response.content.decode()) == ids(a["own"], a["schoolmate"], a["adult"])


def test_a_district_admin_lists_the_whole_district(world):
    response = client_for(world.a.users["district_admin"]).get(SCHOOL)
    assert listed_ids(response.content.decode()) == ids(*world.a.students.values())
    assert "A High" in response.content.decode() and "A Middle" in response.content.decode()


@pytest.mark.parametrize("name", ["teacher", "parent", "eligible", "superuser", "adult_parent"])
def test_teachers_families_and_superusers_are_refused_the_school_list(world, name):
    assert client_for(world.a.users[name]).get(SCHOOL).status_code == 403


def test_the_outsider_is_refused_and_the_anonymous_visitor_signs_in(world, client):
    assert client_for(world.outsider).get(SCHOOL).status_code == 403
    response = client.get(SCHOOL)
    assert response.status_code == 302 and response["Location"] == "/?next=/school/"


def test_the_school_list_takes_no_writes(world):
    assert client_for(world.a.users["principal"]).post(SCHOOL).status_code == 405


# Search and filters: exact results.


@pytest.fixture
def searchable(world):
    """own (grade 07): 2 days of 4 attended, IEP; schoolmate (08): every day present, a 504
    plan that ended; adult (12): no attendance recorded."""
    a, d = world.a.students, world.a.district
    today = viewer_for(world.a.users["principal"]).today
    m.Student.unscoped.filter(pk=a["schoolmate"].pk).update(grade_level="08", preferred_name="Cas")
    for n, status in enumerate(["present", "absent", "absent", "tardy"]):
        m.AttendanceRecord.unscoped.create(
            district=d, student=a["own"], date=today - timedelta(days=n), status=status
        )
    for n in range(3):
        m.AttendanceRecord.unscoped.create(
            district=d, student=a["schoolmate"], date=today - timedelta(days=n), status="present"
        )
    m.ProgramParticipation.unscoped.create(district=d, student=a["own"], program="iep")
    m.ProgramParticipation.unscoped.create(
        district=d, student=a["schoolmate"], program="section_504", end_date=today - timedelta(1)
    )
    return a


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "QUILL"}, {"own"}),  # family name, any case
        ({"q": "brindle caspian"}, {"schoolmate"}),  # every word must match a name
        ({"q": "cas"}, {"schoolmate"}),  # given or preferred name, inside the word
        ({"q": "Quill Brindle"}, set()),
        ({"q": "Thistlewaite"}, set()),  # a student of another school: not found
        ({"q": "Oakenshaw"}, set()),  # another district: not found
        ({"grade": "08"}, {"schoolmate"}),
        ({"grade": "07"}, {"own"}),
        ({"grade": "12"}, {"adult"}),
        ({"program": "iep"}, {"own"}),
        ({"program": "section_504"}, set()),  # ended yesterday
        ({"attendance_below": "60"}, {"own"}),  # 50 %; no days recorded is not "below"
        ({"attendance_below": "50"}, set()),
        ({"grade": "07", "program": "iep", "q": "ysolde"}, {"own"}),
    ],
)
def test_search_and_filters_give_exact_results(world, searchable, params, expected):
    response = client_for(world.a.users["principal"]).get(SCHOOL, params)
    assert response.status_code == 200
    assert listed_ids(response.content.decode()) == ids(*(searchable[n] for n in expected))


def test_attendance_rate_is_shown_per_student(world, searchable):
    html = client_for(world.a.users["principal"]).get(SCHOOL).content.decode()
    assert "50.0 %" in html and "100.0 %" in html and "No days recorded" in html


@pytest.mark.parametrize("role", ["principal", "district_admin"])
def test_roles_with_identifiers_find_a_student_by_state_or_local_id(world, role):
    schoolmate = world.a.students["schoolmate"]
    client = client_for(world.a.users[role])
    for value in (schoolmate.state_id, schoolmate.local_id.lower()):
        response = client.get(SCHOOL, {"q": value})
        assert listed_ids(response.content.decode()) == ids(schoolmate)
    assert "state or local student ID" in response.content.decode()


def test_a_role_without_identifiers_cannot_search_by_them(world, monkeypatch):
    without = policy.ALL_BUT_HEALTH - {Category.IDENTIFIERS}
    monkeypatch.setitem(policy.SCHOOL_ROLE_CATEGORIES, Role.COUNSELOR, without)
    schoolmate = world.a.students["schoolmate"]
    viewer = viewer_for(world.a.users["counselor"])
    assert list(staff_students(viewer, query=schoolmate.state_id)) == []
    assert list(staff_students(viewer, query=schoolmate.local_id)) == []
    assert [s.pk for s in staff_students(viewer, query="brindlewood")] == [schoolmate.pk]
    response = client_for(world.a.users["counselor"]).get(SCHOOL, {"q": schoolmate.state_id})
    assert listed_ids(response.content.decode()) == set()
    assert "state or local student ID" not in response.content.decode()


def test_the_program_filter_offers_and_applies_only_kinds_the_viewer_may_see(world, monkeypatch):
    monkeypatch.setattr(
        "access.staff._school_routes",
        lambda viewer: tuple(
            r.__class__(**{**r.__dict__, "program_kinds": frozenset({"iep"})})
            for r in viewer.routes
            if r.kind == "school_staff"
        ),
    )
    a, d = world.a.students, world.a.district
    m.ProgramParticipation.unscoped.create(district=d, student=a["own"], program="homeless")
    viewer = viewer_for(world.a.users["principal"])
    assert list(staff_students(viewer, program="homeless")) == []
    response = client_for(world.a.users["principal"]).get(SCHOOL, {"program": "homeless"})
    assert "homeless" not in re.findall(r'<option value="([a-z_]+)"', response.content.decode())
    assert "Select a valid choice" in response.content.decode()


def test_bad_filter_values_get_a_clear_message(world):
    response = client_for(world.a.users["principal"]).get(SCHOOL, {"attendance_below": "abc"})
    assert response.status_code == 200
    assert "Enter a whole number." in response.content.decode()


def test_the_list_is_paginated_by_50(world):
    d, school = world.a.district, world.a.school1
    for n in range(52):
        student = f.StudentFactory(district=d, family_name=f"Zz{n:03d}")
        f.SchoolMembershipFactory(student=student, school=school)
    client = client_for(world.a.users["principal"])
    first = client.get(SCHOOL).content.decode()
    second = client.get(SCHOOL, {"page": 2}).content.decode()
    assert len(listed_ids(first)) == 50 and len(listed_ids(second)) == 5
    assert "55 students" in first and "Page 2 of 2" in second


def _school_of(world, size: int) -> None:
    d, school = world.a.district, world.a.school1
    students = [f.StudentFactory(district=d) for _ in range(size)]
    for student in students:
        f.SchoolMembershipFactory(student=student, school=school)
    today = viewer_for(world.a.users["principal"]).today
    m.AttendanceRecord.unscoped.bulk_create(
        m.AttendanceRecord(district=d, student=s, date=today - timedelta(days=n), status=status)
        for s in students
        for n, status in enumerate(("present", "absent"))
    )
    m.ProgramParticipation.unscoped.bulk_create(
        m.ProgramParticipation(district=d, student=s, program="iep") for s in students
    )


# The session, the user, the cache epoch, the count, the students, their schools, their
# attendance, the statements of disagreement and the log's one statement.
SCHOOL_PAGE_QUERIES = 9


@pytest.mark.parametrize("size", [10, 200])
def test_the_school_list_takes_a_fixed_number_of_queries(world, django_assert_num_queries, size):
    _school_of(world, size)
    client = client_for(world.a.users["principal"])
    client.get(SCHOOL)  # the district's first logged read also starts its audit chain
    with django_assert_num_queries(SCHOOL_PAGE_QUERIES):
        response = client.get(SCHOOL, {"program": "iep", "attendance_below": "60", "q": ""})
    assert len(listed_ids(response.content.decode())) == min(size, 50)
    with django_assert_num_queries(SCHOOL_PAGE_QUERIES):
        client.get(SCHOOL)


def test_the_school_list_is_recorded_with_what_each_row_showed(world):
    principal = world.a.users["principal"]
    client_for(principal).get(SCHOOL)
    (event,) = events_of(principal)
    a = world.a.students
    assert students_of(event) == ids(a["own"], a["schoolmate"], a["adult"])
    assert sorted(event.categories) == ["attendance", "directory"]
    assert event.actor_roles == "principal" and not event.is_disclosure


# /students/<id>/: who may open which student, and what they see.


@pytest.mark.parametrize("role", ["principal", "school_admin", "counselor", "special_ed"])
def test_school_officials_see_every_category_but_health(world, role):
    response = opened(world.a.users[role], world.a.students["schoolmate"])
    assert response.status_code == 200
    assert sections_of(response.content.decode()) == ALL_BUT_HEALTH_SECTIONS


def test_the_nurse_also_sees_health(world):
    response = opened(world.a.users["nurse"], world.a.students["own"])
    assert sections_of(response.content.decode()) == ALL_BUT_HEALTH_SECTIONS | {"health"}


@pytest.mark.parametrize("name", ["own", "schoolmate", "elsewhere", "adult"])
def test_the_district_admin_sees_everything_at_every_school(world, name):
    response = opened(world.a.users["district_admin"], world.a.students[name])
    assert response.status_code == 200
    assert sections_of(response.content.decode()) == ALL_BUT_HEALTH_SECTIONS | {"health"}
    assert "District administrator of District A" in response.content.decode()


@pytest.mark.parametrize("role", [*SCHOOL_ROLES, "teacher"])
def test_another_schools_or_districts_student_is_not_found(world, role):
    client = client_for(world.a.users[role])
    for student in (world.a.students["elsewhere"], world.b.students["own"]):
        assert client.get(student_url(student)).status_code == 404
    assert client.get("/students/999999999/").status_code == 404


def test_the_other_districts_staff_cannot_open_this_districts_students(world):
    for role in ("principal", "district_admin", "nurse"):
        client = client_for(world.b.users[role])
        assert client.get(student_url(world.a.students["own"])).status_code == 404


@pytest.mark.parametrize("name", ["parent", "eligible", "superuser"])
def test_families_and_superusers_get_no_staff_student_page(world, name):
    # The parent reaches "own" and the eligible student themself, through the family portal.
    client = client_for(world.a.users[name])
    for student in (world.a.students["own"], world.a.students["adult"]):
        assert client.get(student_url(student)).status_code == 404


def test_the_anonymous_visitor_signs_in_first(world, client):
    url = student_url(world.a.students["own"])
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"/?next={url}"


def test_a_teacher_sees_only_the_teachers_categories_of_a_roster_student(world):
    own, d = world.a.students["own"], world.a.district
    m.ProgramParticipation.unscoped.create(
        district=d, student=own, program="iep", accommodations="Extended time"
    )
    m.ProgramParticipation.unscoped.create(district=d, student=own, program="free_reduced_lunch")
    m.HealthRecord.unscoped.create(district=d, student=own, allergies="Peanuts")
    teacher = world.a.users["teacher"]
    response = opened(teacher, own)
    html = response.content.decode()
    assert response.status_code == 200
    assert sections_of(html) == TEACHER_SECTIONS
    assert "Special education (IEP)" in html and "Extended time" in html
    assert "Free or reduced-price meals" not in html and "Peanuts" not in html
    assert "Your school&#x27;s students" not in html  # no link to a list they may not open
    section, enrollment = world.a.section, world.a.enrollments["own"]
    since = date_format(enrollment.begin_date or world.a.term.start_date)
    assert "Why can I see this?" in html
    assert (
        f"Enrolled in your section {section.title}, period {section.period}, since {since}" in html
    )
    (event,) = events_of(teacher)
    assert set(event.categories) == TEACHER_SECTIONS and students_of(event) == ids(own)


def test_a_teacher_cannot_open_a_schoolmate_off_their_roster(world):
    client = client_for(world.a.users["teacher"])
    assert client.get(student_url(world.a.students["schoolmate"])).status_code == 404


def test_a_teachers_access_ends_with_the_enrollment(world):
    enrollment = world.a.enrollments["own"]
    today = viewer_for(world.a.users["teacher"]).today
    m.Enrollment.unscoped.filter(pk=enrollment.pk).update(end_date=today - timedelta(days=1))
    client = client_for(world.a.users["teacher"])
    assert client.get(student_url(world.a.students["own"])).status_code == 404


def test_the_student_page_is_recorded_with_its_categories(world):
    nurse, own = world.a.users["nurse"], world.a.students["own"]
    opened(nurse, own, purpose="health_follow_up")
    (event,) = events_of(nurse)
    assert students_of(event) == ids(own)
    assert set(event.categories) == ALL_BUT_HEALTH_SECTIONS | {"health"}
    assert event.actor_roles == "nurse"
    assert event.purpose == "declared purpose: health follow-up"


# Why can I see this?


def test_why_visible_names_each_route_that_reaches_the_student(world):
    a = world.a
    principal = viewer_for(a.users["principal"])
    assert said(why_visible(principal, a.students["own"])) == ["Principal at A Middle"]
    nurse = viewer_for(a.users["nurse"])
    assert said(why_visible(nurse, a.students["own"])) == ["School nurse at A Middle"]
    admin = viewer_for(a.users["district_admin"])
    assert said(why_visible(admin, a.students["elsewhere"])) == [
        "District administrator of District A"
    ]
    parent = viewer_for(a.users["parent"])
    assert said(why_visible(parent, a.students["own"])) == ["Parent or guardian"]
    eligible = viewer_for(a.users["eligible"])
    assert said(why_visible(eligible, a.students["adult"])) == ["This is your own record"]
    assert why_visible(principal, a.students["elsewhere"]) == []
    assert why_visible(principal, world.b.students["own"]) == []


def test_a_teacher_who_is_also_a_counselor_gets_both_reasons(world):
    a = world.a
    teacher = a.users["teacher"]
    f.RoleMembershipFactory(user=teacher, role=Role.COUNSELOR, school=a.school1)
    m.Section.unscoped.filter(pk=a.section.pk).update(title="Algebra I", period="3")
    begin = viewer_for(teacher).today - timedelta(days=10)
    m.Enrollment.unscoped.filter(pk=a.enrollments["own"].pk).update(begin_date=begin)
    html = opened(teacher, a.students["own"]).content.decode()
    assert "Counselor at A Middle" in html
    assert f"Enrolled in your section Algebra I, period 3, since {date_format(begin)}" in html
    # As a counselor they now see the whole school's students, but not health.
    assert sections_of(html) == ALL_BUT_HEALTH_SECTIONS
    schoolmate = client_for(teacher).get(student_url(a.students["schoolmate"])).content.decode()
    assert "Counselor at A Middle" in schoolmate and "Enrolled in your section" not in schoolmate


def test_the_student_page_speaks_spanish(world):
    client = client_for(world.a.users["principal"])
    html = client.get(
        student_url(world.a.students["own"]), HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()
    assert "¿Por qué puedo ver esto?" in html and "Director de escuela en A Middle" in html
    school = client.get(SCHOOL, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Los estudiantes de su escuela" in school
