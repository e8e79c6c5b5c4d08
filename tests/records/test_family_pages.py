"""The family portal's pages: /family/, a child's record and who has seen it.

Three people are always present: the parent (own child), someone else's parent or a
staff member (404), and the anonymous visitor (sent to sign in).
"""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.test import Client

from access.audit import Disclosure, record_access
from access.models import AccessEvent, AccessEventStudent
from access.viewer import viewer_for
from records import models as m
from records.models import FamilyVisit
from tests import factories as f

pytestmark = pytest.mark.django_db

HOME = "/family/"


def child_url(student) -> str:
    return f"/family/{student.pk}/"


def access_url(student) -> str:
    return f"/family/{student.pk}/access/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def events_about(student) -> list[AccessEvent]:
    touched = AccessEventStudent.unscoped.filter(student=student).values("event_id")
    return list(AccessEvent.unscoped.filter(pk__in=touched).order_by("sequence"))


def add_records(world, student, *, attendance_days: int = 5):
    """A little of every record category for ``student`` of district a."""
    d, today = world.a.district, viewer_for(world.a.users["parent"]).today
    days = [today - timedelta(days=n) for n in range(attendance_days)]
    m.AttendanceRecord.unscoped.bulk_create(
        m.AttendanceRecord(
            district=d,
            student=student,
            date=day,
            status="absent" if n == 1 else "present",
            reason="Illness" if n == 1 else "",
        )
        for n, day in enumerate(days)
    )
    period = f.AcademicSessionFactory(district=d, title="Quarter 1", kind="gradingPeriod")
    m.Grade.unscoped.create(
        district=d, student=student, section=world.a.section, grading_period=period,
        mark="B+", percent=Decimal("88.50"), comment="Steady work",
    )  # fmt: skip
    for n, level in enumerate((2, 3)):
        m.AssessmentResult.unscoped.create(
            district=d, student=student, assessment="State test", subject="Math",
            performance_level=level, performance_label=f"Level {level}",
            administered_on=today - timedelta(days=200 - 100 * n), score=Decimal(400 + n),
        )  # fmt: skip
    m.ProgramParticipation.unscoped.create(
        district=d, student=student, program="english_learner", accommodations="Glossary"
    )
    m.HealthRecord.unscoped.create(district=d, student=student, allergies="Peanuts")
    m.TransportationAssignment.unscoped.create(
        district=d, student=student, route="Route 7", stop="Elm & 3rd", pickup_time=time(7, 5)
    )


# Who reaches which page.


@pytest.mark.parametrize("page", ["home", "child", "access"])
def test_anonymous_visitors_are_sent_to_sign_in(world, client, page):
    own = world.a.students["own"]
    url = {"home": HOME, "child": child_url(own), "access": access_url(own)}[page]
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/?next=")


@pytest.mark.parametrize("name", ["teacher", "principal", "district_admin", "superuser"])
def test_staff_without_children_have_no_family_pages(world, name):
    client = client_for(world.a.users[name])
    own = world.a.students["own"]
    for url in (HOME, child_url(own), access_url(own)):
        assert client.get(url).status_code == 404, url


def test_an_outsider_has_no_family_pages(world):
    client = client_for(world.outsider)
    assert client.get(HOME).status_code == 404
    assert client.get(child_url(world.a.students["own"])).status_code == 404


def test_a_parent_sees_their_child_and_nobody_elses(world):
    client = client_for(world.a.users["parent"])
    own = world.a.students["own"]
    home = client.get(HOME)
    assert home.status_code == 200
    assert home["Cache-Control"].count("no-store") == 1
    body = home.content.decode()
    assert own.family_name in body and "A Middle" in body and "Grade 7" in body
    assert f'href="{child_url(own)}"' in body
    for name in ("schoolmate", "elsewhere", "adult"):
        assert world.a.students[name].family_name not in body
    for other in (
        world.a.students["schoolmate"],
        world.b.students["own"],
        world.a.students["adult"],
    ):
        assert client.get(child_url(other)).status_code == 404
        assert client.get(access_url(other)).status_code == 404
    assert client.get("/family/99999999/").status_code == 404
    assert client.post(HOME).status_code == 405


def test_a_fully_restricted_parent_sees_no_card_and_404(world):
    f.CustodyRestrictionFactory(guardian_link=world.a.links["parent"])
    client = client_for(world.a.users["parent"])
    own = world.a.students["own"]
    body = client.get(HOME).content.decode()
    assert own.family_name not in body
    assert "no student records linked to your account" in body
    assert client.get(child_url(own)).status_code == 404
    assert client.get(access_url(own)).status_code == 404


def test_a_category_restriction_removes_that_section_only(world):
    f.CustodyRestrictionFactory(
        guardian_link=world.a.links["parent"], scope="categories", categories=["contact"]
    )
    own = world.a.students["own"]
    response = client_for(world.a.users["parent"]).get(child_url(own))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="contact"' not in body and own.address_line not in body
    assert 'id="attendance"' in body and 'id="health"' in body
    (event,) = events_about(own)
    assert set(event.categories) == set(response.context["record"]) - {"id", "sourced_id"}
    assert "contact" not in event.categories


def test_an_eligible_student_sees_their_own_card_and_record(world):
    adult = world.a.students["adult"]
    client = client_for(world.a.users["eligible"])
    body = client.get(HOME).content.decode()
    assert "Your record" in body and adult.family_name in body
    assert client.get(child_url(adult)).status_code == 200
    assert client.get(child_url(world.a.students["own"])).status_code == 404


def test_a_parent_whose_child_holds_their_rights_sees_an_explanation(world):
    adult = world.a.students["adult"]
    client = client_for(world.a.users["adult_parent"])
    body = client.get(HOME).content.decode()
    assert f"{adult.given_name} now holds the rights to their records" in body
    assert adult.family_name not in body  # first name only
    assert child_url(adult) not in body
    assert client.get(child_url(adult)).status_code == 404
    assert client.get(access_url(adult)).status_code == 404
    adult.is_tax_dependent = True
    adult.save()
    body = client.get(HOME).content.decode()
    assert "now holds the rights" not in body and adult.family_name in body
    assert client.get(child_url(adult)).status_code == 200


# What each page shows, and that it is logged.


def test_the_home_card_counts_today_and_new_grades_and_is_logged(world):
    own = world.a.students["own"]
    add_records(world, own)
    client = client_for(world.a.users["parent"])
    body = client.get(HOME).content.decode()
    assert "Present" in body
    assert "1 new grade since your last visit" in body
    (event,) = events_about(own)
    assert sorted(event.categories) == ["attendance", "directory", "grades"]
    assert event.actor_roles == "guardian"
    client.get(child_url(own))
    assert FamilyVisit.unscoped.filter(user=world.a.users["parent"], student=own).exists()
    assert "0 new grades since your last visit" in client.get(HOME).content.decode()


def test_the_child_page_shows_every_category_in_plain_language(world):
    own = world.a.students["own"]
    add_records(world, own)
    teacher = world.a.users["teacher"]
    response = client_for(world.a.users["parent"]).get(child_url(own))
    assert response["Cache-Control"].count("no-store") == 1
    body = response.content.decode()
    for key in ("directory", "contact", "enrollment", "attendance", "grades", "assessments",
                "programs", "health", "discipline", "transportation"):  # fmt: skip
        assert f'id="{key}"' in body, key
    assert f"mailto:{teacher.email}" in body and teacher.get_full_name() in body
    assert "Illness: 1" in body and "80.0 %" in body  # 4 of 5 days attended
    assert "B+" in body and "Quarter 1" in body and "Steady work" in body
    assert "<svg" in body and 'role="img"' in body and "Performance level over time" in body
    assert "English learner support" in body and "Peanuts" in body
    assert "No discipline incidents recorded." in body
    assert "Route 7" in body and "Elm &amp; 3rd" in body
    assert own.given_name not in response.request["PATH_INFO"]
    (event,) = events_about(own)
    assert set(event.categories) == {
        "directory", "contact", "demographics", "identifiers", "enrollment", "attendance",
        "grades", "assessments", "programs", "health", "discipline", "transportation",
    }  # fmt: skip


def test_empty_categories_say_so(world):
    body = client_for(world.a.users["parent"]).get(child_url(world.a.students["own"]))
    body = body.content.decode()
    for message in (
        "No attendance recorded this school year.",
        "No grades recorded yet.",
        "No test results recorded.",
        "No programs or services recorded.",
        "No health information on file.",
        "No discipline incidents recorded.",
        "No school bus assigned.",
    ):
        assert message in body


@pytest.mark.parametrize("days", [5, 200])
def test_the_child_page_costs_the_same_queries_whatever_the_records(
    world, days, django_assert_num_queries
):
    own = world.a.students["own"]
    add_records(world, own, attendance_days=days)
    client = client_for(world.a.users["parent"])
    client.get(child_url(own))  # the first visit creates the visit row; count a later one
    with django_assert_num_queries(CHILD_PAGE_QUERIES):
        assert client.get(child_url(own)).status_code == 200


# Sessions, the viewer (its cache epoch; the routes are cached), the child, one query
# per category, the statements of disagreement, the log's one statement and the visit.
CHILD_PAGE_QUERIES = 23


# Who has seen the record.


def test_the_access_log_speaks_plainly_of_staff_and_disclosures(world):
    own = world.a.students["own"]
    teacher = viewer_for(world.a.users["teacher"])
    principal = viewer_for(world.a.users["principal"])
    record_access(
        teacher, student_ids=[own.pk], categories=["grades"], purpose="", roles=["teacher"]
    )
    record_access(
        principal, student_ids=[own.pk], categories=["attendance"], purpose="", roles=["principal"]
    )
    record_access(
        world_admin := viewer_for(world.a.users["district_admin"]),
        student_ids=[own.pk],
        categories=["directory", "transportation"],
        purpose="Bus routing",
        disclosure=Disclosure(party="Acme Bus Co.", legal_basis="99.31(a)(1)(i)(B)"),
    )
    assert world_admin.district is not None
    client = client_for(world.a.users["parent"])
    response = client.get(access_url(own))
    assert response["Cache-Control"].count("no-store") == 1
    body = response.content.decode()
    assert f"Who has seen {own.given_name}'s records" in body
    assert "A teacher at A Middle, viewing the class roster" in body
    assert "A principal at A Middle, for the student&#x27;s education" in body
    assert "Acme Bus Co." in body and "FERPA, 34 CFR 99.31(a)(1)(i)(B)" in body
    assert "Bus routing" in body and "Name, grade and school, Transportation" in body
    # newest first
    assert body.index("Acme Bus Co.") < body.index("A principal") < body.index("A teacher")
    # the parent's own reads are not listed, but the visit is logged
    assert events_about(own)[-1].actor_id == world.a.users["parent"].pk
    assert events_about(own)[-1].categories == ["directory"]
    assert "Another parent" not in client.get(access_url(own)).content.decode()


def test_a_staff_member_at_two_schools_is_named_without_a_school(world):
    own = world.a.students["own"]
    teacher = world.a.users["teacher"]
    f.RoleMembershipFactory(user=teacher, role="teacher", school=world.a.school2)
    record_access(viewer_for(teacher), student_ids=[own.pk], categories=["grades"], purpose="")
    body = client_for(world.a.users["parent"]).get(access_url(own)).content.decode()
    assert "A teacher, viewing the class roster" in body and "A teacher at" not in body


def test_the_access_log_counts_a_readers_day_on_one_line_and_filters(world):
    own = world.a.students["own"]
    teacher = viewer_for(world.a.users["teacher"])
    for _ in range(26):
        record_access(teacher, student_ids=[own.pk], categories=["grades"], purpose="")
    record_access(teacher, student_ids=[own.pk], categories=["attendance"], purpose="")
    client = client_for(world.a.users["parent"])
    first = client.get(access_url(own))
    [day] = first.context["days"]
    [line] = day["lines"]
    assert line["reads"] == 27 and line["categories"] == ["Attendance", "Grades"]
    assert "27 times, " in first.content.decode()
    only = client.get(access_url(own), {"category": "attendance"})
    [line] = only.context["days"][0]["lines"]
    assert line["reads"] == 1 and line["categories"] == ["Attendance"]
    today = viewer_for(world.a.users["parent"]).today
    later = client.get(access_url(own), {"since": (today + timedelta(days=1)).isoformat()})
    assert later.context["days"] == []
    assert "Nobody matching this filter has seen the record." in later.content.decode()
    upto = client.get(access_url(own), {"until": today.isoformat(), "category": "grades"})
    assert upto.context["days"][0]["lines"][0]["reads"] == 26
    bad = client.get(access_url(own), {"since": "2026-05-02", "until": "2026-05-01"})
    assert bad.status_code == 200 and "on or before" in bad.content.decode()


# Spanish.


def test_every_page_speaks_spanish(world):
    own = world.a.students["own"]
    add_records(world, own)
    record_access(
        viewer_for(world.a.users["teacher"]),
        student_ids=[own.pk],
        categories=["grades"],
        purpose="",
    )
    client = client_for(world.a.users["parent"])
    es = {"HTTP_ACCEPT_LANGUAGE": "es"}
    home = client.get(HOME, **es).content.decode()
    assert "Su familia" in home and "Grado 7" in home and "Presente" in home
    child = client.get(child_url(own), **es).content.decode()
    assert "Asistencia" in child and "Calificaciones" in child and "Transporte" in child
    assert "No hay incidentes de disciplina registrados." in child
    access = client.get(access_url(own), **es).content.decode()
    assert f"Quién ha visto los expedientes de {own.given_name}" in access
    assert "Un maestro en A Middle" in access
    grown = client_for(world.a.users["adult_parent"]).get(HOME, **es).content.decode()
    assert "ahora tiene los derechos sobre sus expedientes" in grown
