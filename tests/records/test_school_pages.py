"""A school official's sections and staff: /school/sections/, a section's page, /school/staff/.

Who may open them (school officials and district administrators; everyone else 403,
anonymous signs in), exactly which sections, students and people they list (own
school against another school and the other district), counts that hide what the
roster hides, the access log of a roster, bad input, and query counts that do not
grow with the page.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from access.classes import teacher_sections
from access.models import AccessEvent, AccessEventStudent
from access.school import roster_count
from access.viewer import viewer_for
from accounts.models import Role
from records import models as m
from tests import factories as f

pytestmark = pytest.mark.django_db

SECTIONS = "/school/sections/"
STAFF = "/school/staff/"
SCHOOL_ROLES = ("principal", "school_admin", "counselor", "nurse", "special_ed")


def section_url(section) -> str:
    return f"{SECTIONS}{section.pk}/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed_sections(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'href="/school/sections/(\d+)/"', html)}


def listed_students(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'href="/students/(\d+)/"', html)}


def counts_of(response) -> dict[int, int]:
    return {row["section"].pk: row["section"].student_count for row in response.context["sections"]}


def staff_names(response) -> set[str]:
    return {row["sort_name"] for row in response.context["people"]}


def sort_name(user) -> str:
    return f"{user.last_name}, {user.first_name}"


def today_of(world):
    return viewer_for(world.a.users["principal"]).today


@pytest.fixture
def elsewhere(world):
    """A current section at school 2 and one in a past term at school 1 (district a)."""
    d, today = world.a.district, today_of(world)
    other = f.SectionFactory(district=d, school=world.a.school2, term=world.a.term)
    f.EnrollmentFactory(section=other, student=world.a.students["elsewhere"])
    past_term = f.AcademicSessionFactory(
        district=d, start_date=today - timedelta(days=300), end_date=today - timedelta(days=200)
    )
    past = f.SectionFactory(district=d, school=world.a.school1, term=past_term)
    return {"other": other, "past": past}


# Who may open the pages.


@pytest.mark.parametrize("role", SCHOOL_ROLES)
def test_a_school_official_lists_exactly_their_schools_current_sections(world, elsewhere, role):
    response = client_for(world.a.users[role]).get(SECTIONS)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert listed_sections(response.content.decode()) == {world.a.section.pk}
    assert counts_of(response) == {world.a.section.pk: 2}
    assert response.context["sections"][0]["teachers"] == [world.a.users["teacher"].get_full_name()]


def test_a_district_admin_lists_the_districts_sections_and_filters_by_school(world, elsewhere):
    client = client_for(world.a.users["district_admin"])
    response = client.get(SECTIONS)
    assert listed_sections(response.content.decode()) == {
        world.a.section.pk,
        elsewhere["other"].pk,
    }
    assert counts_of(response) == {world.a.section.pk: 2, elsewhere["other"].pk: 1}
    response = client.get(SECTIONS, {"school": world.a.school2.pk})
    assert listed_sections(response.content.decode()) == {elsewhere["other"].pk}


@pytest.mark.parametrize("url", [SECTIONS, STAFF, "section"])
@pytest.mark.parametrize("name", ["teacher", "parent", "eligible", "adult_parent", "superuser"])
def test_teachers_families_and_superusers_are_refused(world, url, name):
    url = section_url(world.a.section) if url == "section" else url
    assert client_for(world.a.users[name]).get(url).status_code == 403


@pytest.mark.parametrize("url", [SECTIONS, STAFF, "section"])
def test_the_outsider_is_refused_and_the_anonymous_visitor_signs_in(world, client, url):
    url = section_url(world.a.section) if url == "section" else url
    assert client_for(world.outsider).get(url).status_code == 403
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"/?next={url}"


@pytest.mark.parametrize("url", [SECTIONS, STAFF, "section"])
def test_the_pages_take_no_writes(world, url):
    url = section_url(world.a.section) if url == "section" else url
    assert client_for(world.a.users["principal"]).post(url).status_code == 405


# One section.


def test_a_principal_opens_their_sections_roster(world):
    a = world.a.students
    m.Student.unscoped.filter(pk=a["own"].pk).update(preferred_name="Sol")
    response = client_for(world.a.users["principal"]).get(section_url(world.a.section))
    assert response.status_code == 200
    html = response.content.decode()
    assert listed_students(html) == {a["own"].pk, a["adult"].pk}
    assert [r["sort_name"] for r in response.context["rows"]] == [
        f"{a['adult'].family_name}, {a['adult'].given_name}",
        f"{a['own'].family_name}, {a['own'].given_name}",
    ]
    assert response.context["teachers"] == [world.a.users["teacher"].get_full_name()]
    assert world.a.section.course.title in html and world.a.term.title in html
    assert "goes by Sol" in html
    assert "No substitute is assigned to this class." in html


def test_a_section_that_is_not_theirs_is_404_alike(world, elsewhere):
    client = client_for(world.a.users["principal"])
    for section in (elsewhere["other"], elsewhere["past"], world.b.section):
        assert client.get(section_url(section)).status_code == 404, section
    for bad in ("0", "999999999", str(2**63), str(2**80)):
        assert client.get(f"{SECTIONS}{bad}/").status_code == 404, bad
    assert client.get(f"{SECTIONS}abc/").status_code == 404
    admin = client_for(world.a.users["district_admin"])
    assert admin.get(section_url(elsewhere["other"])).status_code == 200
    assert admin.get(section_url(world.b.section)).status_code == 404


def test_the_roster_follows_enrollment_dates_and_the_school_route(world):
    """Only students enrolled today whom the principal reaches through their school."""
    a, today = world.a.students, today_of(world)
    m.Enrollment.unscoped.filter(pk=world.a.enrollments["adult"].pk).update(
        end_date=today - timedelta(days=1)
    )
    f.EnrollmentFactory(section=world.a.section, student=a["elsewhere"])  # school 2's student
    response = client_for(world.a.users["principal"]).get(section_url(world.a.section))
    assert listed_students(response.content.decode()) == {a["own"].pk}
    [row] = response.context["rows"]
    assert row["id"] == a["own"].pk
    response = client_for(world.a.users["principal"]).get(SECTIONS)
    assert counts_of(response) == {world.a.section.pk: 1}


def test_the_roster_read_is_logged_and_the_lists_log_nothing(world):
    principal, a = world.a.users["principal"], world.a.students
    client = client_for(principal)
    client.get(SECTIONS)
    client.get(STAFF)
    assert not AccessEvent.unscoped.filter(actor=principal).exists()
    client.get(section_url(world.a.section))
    (event,) = AccessEvent.unscoped.filter(actor=principal)
    assert set(event.categories) == {"directory", "enrollment", "attendance"}
    assert event.actor_roles == "principal"
    assert event.student_count == 2
    assert set(
        AccessEventStudent.unscoped.filter(event=event).values_list("student_id", flat=True)
    ) == {a["own"].pk, a["adult"].pk}


# Counts and rosters hide what a custody restriction hides.


def restrict(world, user, categories):
    link = f.GuardianLinkFactory(
        student=world.a.students["own"], guardian=user, relationship="father"
    )
    f.CustodyRestrictionFactory(guardian_link=link, scope="categories", categories=categories)


def test_a_restricted_enrollment_is_neither_counted_nor_listed(world):
    principal, a = world.a.users["principal"], world.a.students
    restrict(world, principal, ["enrollment"])
    client = client_for(principal)
    assert counts_of(client.get(SECTIONS)) == {world.a.section.pk: 1}
    response = client.get(section_url(world.a.section))
    assert listed_students(response.content.decode()) == {a["adult"].pk}
    (event,) = AccessEvent.unscoped.filter(actor=principal)
    assert AccessEventStudent.unscoped.filter(event=event).count() == 1


def test_a_restriction_on_attendance_hides_the_rate_but_not_the_student(world):
    principal, a = world.a.users["principal"], world.a.students
    restrict(world, principal, ["attendance"])
    client = client_for(principal)
    assert counts_of(client.get(SECTIONS)) == {world.a.section.pk: 2}
    response = client.get(section_url(world.a.section))
    rows = {r["id"]: r for r in response.context["rows"]}
    assert set(rows) == {a["own"].pk, a["adult"].pk}
    assert rows[a["own"].pk]["shows_attendance"] is False
    assert rows[a["adult"].pk]["shows_attendance"] is True
    events = AccessEvent.unscoped.filter(actor=principal)
    assert sorted(sorted(e.categories) for e in events) == [
        ["attendance", "directory", "enrollment"],
        ["directory", "enrollment"],
    ]


@pytest.mark.parametrize("hidden", [[], ["enrollment"], ["attendance"]])
def test_the_count_is_the_same_rule_as_a_teachers_class_list(world, hidden):
    teacher = world.a.users["teacher"]
    if hidden:
        restrict(world, teacher, hidden)
    viewer = viewer_for(teacher)
    [taught] = teacher_sections(viewer)
    counted = (
        m.Section.unscoped.filter(district_id=viewer.district_id, pk=taught.pk)
        .annotate(n=roster_count(viewer))
        .get()
    )
    assert counted.n == taught.student_count == (1 if hidden == ["enrollment"] else 2)


# Bad input never breaks a page.


@pytest.mark.parametrize(
    "params",
    [
        {"page": "abc"},
        {"page": "-1"},
        {"page": "0"},
        {"page": "99999"},
        {"page": "1e9"},
        {"school": "abc"},
        {"school": "-1"},
        {"school": str(2**80)},
        {"school": "999999999"},
        {"school": ["1", "2"], "page": ["x", "y"]},
    ],
)
@pytest.mark.parametrize("url", [SECTIONS, STAFF])
def test_bad_page_and_school_values_answer_200(world, elsewhere, params, url):
    response = client_for(world.a.users["district_admin"]).get(url, params)
    assert response.status_code == 200


def test_another_districts_school_is_not_a_filter(world, elsewhere):
    client = client_for(world.a.users["district_admin"])
    response = client.get(SECTIONS, {"school": world.b.school1.pk})
    assert response.status_code == 200
    assert response.context["form"].errors  # refused, and said so
    assert world.b.section.pk not in listed_sections(response.content.decode())
    response = client.get(STAFF, {"school": world.b.school1.pk})
    assert not staff_names(response) & {sort_name(u) for u in world.b.users.values()}


def test_a_principal_cannot_filter_to_another_school(world, elsewhere):
    from access.school import official_schools, school_sections

    viewer = viewer_for(world.a.users["principal"])
    assert list(school_sections(viewer, school_id=world.a.school2.pk)) == []
    assert list(official_schools(viewer)) == [world.a.school1]
    assert list(school_sections(viewer, school_id=world.a.school1.pk)) == [world.a.section]


# Staff.


def test_a_principal_lists_exactly_their_schools_active_staff(world, elsewhere):
    d, today = world.a.district, today_of(world)
    at_school2 = f.UserFactory(district=d)
    f.RoleMembershipFactory(user=at_school2, role=Role.TEACHER, school=world.a.school2)
    gone = f.UserFactory(district=d)
    f.RoleMembershipFactory(
        user=gone, role=Role.COUNSELOR, school=world.a.school1, end_date=today - timedelta(days=1)
    )
    inactive = f.UserFactory(district=d, is_active=False)
    f.RoleMembershipFactory(user=inactive, role=Role.NURSE, school=world.a.school1)
    response = client_for(world.a.users["principal"]).get(STAFF)
    assert response.status_code == 200
    expected = {"principal", "school_admin", "counselor", "nurse", "special_ed", "teacher"}
    assert staff_names(response) == {sort_name(world.a.users[n]) for n in expected}
    html = response.content.decode()
    assert world.a.users["teacher"].email in html
    assert world.b.users["principal"].email not in html


def test_staff_rows_name_roles_by_school_and_this_terms_sections(world, elsewhere):
    d = world.a.district
    teacher = world.a.users["teacher"]
    f.RoleMembershipFactory(user=teacher, role=Role.COUNSELOR, school=world.a.school1)
    f.RoleMembershipFactory(user=teacher, role=Role.TEACHER, school=world.a.school2)
    f.SectionTeacherFactory(section=elsewhere["other"], teacher=teacher)
    f.SectionTeacherFactory(section=elsewhere["past"], teacher=teacher)
    ended = f.SectionFactory(district=d, school=world.a.school1, term=world.a.term)
    f.SectionTeacherFactory(
        section=ended, teacher=teacher, end_date=today_of(world) - timedelta(days=1)
    )
    rows = {
        r["sort_name"]: r
        for r in client_for(world.a.users["principal"]).get(STAFF).context["people"]
    }
    row = rows[sort_name(teacher)]
    assert row["roles"] == [{"place": "A Middle", "roles": "Counselor, Teacher"}]
    assert row["sections"] == [world.a.section]  # school 1's, this term, still teaching

    admin = client_for(world.a.users["district_admin"]).get(STAFF).context["people"]
    rows = {r["sort_name"]: r for r in admin}
    assert rows[sort_name(teacher)]["roles"] == [
        {"place": "A High", "roles": "Teacher"},
        {"place": "A Middle", "roles": "Counselor, Teacher"},
    ]
    assert rows[sort_name(teacher)]["sections"] == [world.a.section, elsewhere["other"]]
    assert rows[sort_name(world.a.users["district_admin"])]["roles"] == [
        {"place": "District A", "roles": "District administrator"}
    ]
    assert not {sort_name(u) for u in world.b.users.values()} & set(rows)


# The navigation between the three pages.


def test_the_school_pages_link_to_each_other(world):
    client = client_for(world.a.users["principal"])
    for url, current in (("/school/", "Students"), (SECTIONS, "Sections"), (STAFF, "Staff")):
        html = client.get(url).content.decode()
        nav = re.search(r'<nav class="subnav".*?</nav>', html, re.S).group(0)
        assert re.findall(r'href="([^"]+)"', nav) == ["/school/", SECTIONS, STAFF]
        assert re.findall(r'aria-current="page">([^<]+)<', nav) == [current]


# Query counts do not grow with the page.


def add_sections(world, n: int) -> None:
    """``n`` more sections at school 1 this term, each with its own teacher and a student
    who is also on the fixture section's roster (with attendance recorded)."""
    d, school = world.a.district, world.a.school1
    for i in range(n):
        section = f.SectionFactory(district=d, school=school, term=world.a.term, period=str(i))
        teacher = f.UserFactory(district=d)
        f.RoleMembershipFactory(user=teacher, role=Role.TEACHER, school=school)
        f.SectionTeacherFactory(section=section, teacher=teacher)
        student = f.StudentFactory(district=d)
        f.SchoolMembershipFactory(student=student, school=school)
        f.EnrollmentFactory(section=section, student=student)
        f.EnrollmentFactory(section=world.a.section, student=student)
        m.AttendanceRecord.unscoped.create(
            district=d, student=student, date=today_of(world), status="present"
        )


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("user", ["principal", "district_admin"])
def test_each_page_costs_the_same_queries_for_2_and_20_sections(world, user):
    client = client_for(world.a.users[user])
    urls = (SECTIONS, STAFF, section_url(world.a.section))
    client.get(urls[-1])  # the session and the access log's chain head exist before counting
    add_sections(world, 1)
    small = {url: queries_for(client, url) for url in urls}
    assert len(client.get(SECTIONS).context["sections"]) == 2
    add_sections(world, 18)
    large = {url: queries_for(client, url) for url in urls}
    assert small == large
    assert len(client.get(SECTIONS).context["sections"]) == 20
    staff = 6 if user == "principal" else 7  # school 1's six, and the district admin
    assert len(client.get(STAFF).context["people"]) == staff + 19
    assert len(client.get(section_url(world.a.section)).context["rows"]) == 2 + 19


# The number: session, user, the viewer (its cache epoch; its routes come from the
# cache after the first request), then the page's own queries.
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # schools, count, sections with their counts, teachers, substitutes
        (SECTIONS, 8),
        # schools, count, people, their roles, their sections
        (STAFF, 8),
        # section, teachers, substitutes today, students, the row's projection (3), the
        # access log's one statement, the substitutes panel's assignments
        ("section", 12),
    ],
)
def test_the_query_counts(world, django_assert_num_queries, url, expected):
    url = section_url(world.a.section) if url == "section" else url
    add_sections(world, 20)
    client = client_for(world.a.users["principal"])
    client.get(section_url(world.a.section))  # the session and the chain head exist
    with django_assert_num_queries(expected):
        client.get(url)
