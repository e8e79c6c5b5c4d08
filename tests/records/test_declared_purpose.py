"""Declared purpose on /students/<id>/: health, discipline and programs stay closed until
the staff member says why they need them, once per session and student.

The purpose is kept in the session and written to the access log with every read of
that student that follows; invalid input stores nothing; a stranger's POST is a 404.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from access import purposes
from access.viewer import viewer_for
from records import models as m
from tests.records.test_school_view import (
    ALL_BUT_HEALTH_SECTIONS,
    TEACHER_SECTIONS,
    client_for,
    events_of,
    ids,
    sections_of,
    student_url,
    students_of,
)

pytestmark = pytest.mark.django_db

SENSITIVE = {"health", "discipline", "programs"}
ROLE_DEFAULT_PURPOSE = {
    "teacher": "teacher with a current class roster",
    "principal": "school official with a legitimate educational interest",
    "nurse": "school official with a legitimate educational interest",
    "district_admin": "district administration",
}


@pytest.fixture
def sensitive_records(world):
    """``own`` of district a has an IEP, a health record and a discipline incident whose
    words appear nowhere else, so their presence on a page can only come from the record."""
    a, own = world.a, world.a.students["own"]
    today = viewer_for(a.users["teacher"]).today
    m.ProgramParticipation.unscoped.create(
        district=a.district, student=own, program="iep", accommodations="Quiet room for tests"
    )
    m.HealthRecord.unscoped.create(district=a.district, student=own, allergies="Wasp stings")
    m.DisciplineIncident.unscoped.create(
        district=a.district, student=own, school=a.school1, occurred_on=today - timedelta(days=3),
        incident_type="Tardiness pattern", description="Hallway scuffle",
    )  # fmt: skip
    return own


def declare(client, student, purpose="iep_meeting", detail=None):
    data = {"purpose": purpose}
    if detail is not None:
        data["detail"] = detail
    return client.post(student_url(student), data)


def declared_in(client) -> dict:
    return dict(client.session.get(purposes.SESSION_KEY) or {})


# Closed until declared.

CLOSED_BY_ROLE = {
    "teacher": (TEACHER_SECTIONS, {"programs"}),
    "principal": (ALL_BUT_HEALTH_SECTIONS, {"programs", "discipline"}),
    "nurse": (ALL_BUT_HEALTH_SECTIONS | {"health"}, SENSITIVE),
    "district_admin": (ALL_BUT_HEALTH_SECTIONS | {"health"}, SENSITIVE),
}


@pytest.mark.parametrize("role", sorted(CLOSED_BY_ROLE))
def test_sensitive_parts_stay_closed_until_a_purpose_is_declared(world, sensitive_records, role):
    own, user = sensitive_records, world.a.users[role]
    everything, sensitive = CLOSED_BY_ROLE[role]
    client = client_for(user)

    before = client.get(student_url(own))
    html = before.content.decode()
    assert before.status_code == 200
    assert sections_of(html) == everything - sensitive
    for secret in ("Quiet room for tests", "Wasp stings", "Hallway scuffle"):
        assert secret not in html
    assert 'id="purpose"' in html and "Open the sensitive parts" in html
    (first,) = events_of(user)
    assert set(first.categories) == everything - sensitive
    assert first.purpose == ROLE_DEFAULT_PURPOSE[role]
    assert students_of(first) == ids(own)

    declared = declare(client, own)
    assert declared.status_code == 302
    assert declared["Location"] == f"{student_url(own)}#record"
    assert declared_in(client) == {str(own.pk): {"key": "iep_meeting", "detail": ""}}
    assert len(events_of(user)) == 1  # declaring reads nothing

    after = client.get(student_url(own)).content.decode()
    assert sections_of(after) == everything
    assert "Open the sensitive parts" not in after
    assert "Purpose declared for this student: IEP meeting" in after
    assert "Quiet room for tests" in after
    assert ("Wasp stings" in after) == ("health" in everything)
    assert ("Hallway scuffle" in after) == ("discipline" in everything)
    second = events_of(user)[-1]
    assert set(second.categories) == everything
    assert second.purpose == "declared purpose: IEP meeting"
    assert students_of(second) == ids(own)


@pytest.mark.parametrize(
    ("purpose", "detail", "logged"),
    [
        ("iep_meeting", "", "declared purpose: IEP meeting"),
        ("health_follow_up", "", "declared purpose: health follow-up"),
        ("attendance_follow_up", "", "declared purpose: attendance follow-up"),
        ("other", "  Parent   conference\n", "declared purpose: other: Parent conference"),
        ("iep_meeting", "annual review", "declared purpose: IEP meeting: annual review"),
    ],
)
def test_each_purpose_is_written_to_the_access_log(world, purpose, detail, logged):
    nurse, own = world.a.users["nurse"], world.a.students["own"]
    client = client_for(nurse)
    assert declare(client, own, purpose, detail).status_code == 302
    client.get(student_url(own))
    client.get(student_url(own))  # every read that follows, not only the first
    assert [e.purpose for e in events_of(nurse)] == [logged, logged]


def test_a_purpose_of_exactly_200_characters_is_accepted(world):
    nurse, own = world.a.users["nurse"], world.a.students["own"]
    client = client_for(nurse)
    assert declare(client, own, "other", "x" * 200).status_code == 302
    client.get(student_url(own))
    (event,) = events_of(nurse)
    assert event.purpose == ("declared purpose: other: " + "x" * 200)[:200]
    assert sections_of(client.get(student_url(own)).content.decode()) >= SENSITIVE


# Invalid input: 400 with the field's error, nothing stored, still closed.


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "purpose", "This field is required."),
        ({"purpose": "curiosity"}, "purpose", "Select a valid choice."),
        ({"purpose": "other"}, "detail", "Say in a few words what the purpose is."),
        (
            {"purpose": "other", "detail": "   "},
            "detail",
            "Say in a few words what the purpose is.",
        ),
        ({"purpose": "other", "detail": "x" * 201}, "detail", "at most 200 characters"),
        ({"purpose": "iep_meeting", "detail": "x" * 201}, "detail", "at most 200 characters"),
    ],
)
def test_invalid_input_is_refused_and_nothing_is_stored(
    world, sensitive_records, data, field, message
):
    teacher, own = world.a.users["teacher"], sensitive_records
    client = client_for(teacher)
    response = client.post(student_url(own), data)
    html = response.content.decode()
    assert response.status_code == 400
    assert f'id="{field}-errors"' in html and message in html
    assert 'aria-invalid="true"' in html or field == "purpose"
    assert declared_in(client) == {}
    assert "Quiet room for tests" not in html
    after = client.get(student_url(own)).content.decode()
    assert sections_of(after) == TEACHER_SECTIONS - {"programs"}
    assert all(e.purpose == ROLE_DEFAULT_PURPOSE["teacher"] for e in events_of(teacher))


def test_the_purpose_field_error_is_announced(world):
    client = client_for(world.a.users["teacher"])
    html = client.post(student_url(world.a.students["own"]), {}).content.decode()
    assert 'aria-describedby="purpose-errors"' in html


def test_an_invalid_post_keeps_an_earlier_purpose(world):
    nurse, own = world.a.users["nurse"], world.a.students["own"]
    client = client_for(nurse)
    declare(client, own, "health_follow_up")
    assert declare(client, own, "other").status_code == 400
    assert declared_in(client) == {str(own.pk): {"key": "health_follow_up", "detail": ""}}


def test_a_new_purpose_replaces_the_old_one(world):
    nurse, own = world.a.users["nurse"], world.a.students["own"]
    client = client_for(nurse)
    declare(client, own, "health_follow_up")
    declare(client, own, "attendance_follow_up")
    client.get(student_url(own))
    assert events_of(nurse)[-1].purpose == "declared purpose: attendance follow-up"


# Per student, per session.


def test_a_purpose_opens_only_the_student_it_was_declared_for(world):
    teacher, a = world.a.users["teacher"], world.a.students
    client = client_for(teacher)
    declare(client, a["own"])
    assert "programs" not in sections_of(client.get(student_url(a["adult"])).content.decode())
    assert events_of(teacher)[-1].purpose == ROLE_DEFAULT_PURPOSE["teacher"]
    assert "programs" in sections_of(client.get(student_url(a["own"])).content.decode())


def test_a_new_session_asks_again(world):
    teacher, own = world.a.users["teacher"], world.a.students["own"]
    first = client_for(teacher)
    declare(first, own)
    second = client_for(teacher)
    html = second.get(student_url(own)).content.decode()
    assert "programs" not in sections_of(html) and "Open the sensitive parts" in html
    assert events_of(teacher)[-1].purpose == ROLE_DEFAULT_PURPOSE["teacher"]


def test_signing_out_forgets_the_purpose(world):
    teacher, own = world.a.users["teacher"], world.a.students["own"]
    client = client_for(teacher)
    declare(client, own)
    client.post("/sign-out/")
    client.force_login(teacher)
    assert "programs" not in sections_of(client.get(student_url(own)).content.decode())


# Who may declare: a stranger's POST is a 404 and keeps nothing.


@pytest.mark.parametrize(
    ("name", "student"),
    [
        ("a.teacher", "a.schoolmate"),  # same school, not on the roster
        ("a.teacher", "a.elsewhere"),
        ("a.principal", "a.elsewhere"),  # another school
        ("a.principal", "b.own"),  # another district
        ("b.district_admin", "a.own"),
        ("a.parent", "a.own"),  # a family reads their child on /family/, not here
        ("a.eligible", "a.adult"),
        ("a.superuser", "a.own"),
    ],
)
def test_a_strangers_post_is_a_404_and_keeps_nothing(world, name, student):
    slug, role = name.split(".")
    user = getattr(world, slug).users[role]
    target = world.all_students()[student]
    client = client_for(user)
    assert declare(client, target).status_code == 404
    assert declared_in(client) == {}
    assert events_of(user) == []


def test_a_post_for_a_student_who_does_not_exist_is_a_404(world):
    client = client_for(world.a.users["principal"])
    assert client.post("/students/999999999/", {"purpose": "iep_meeting"}).status_code == 404
    assert declared_in(client) == {}


def test_the_outsider_gets_a_404_and_the_anonymous_visitor_signs_in(world, client):
    own = world.a.students["own"]
    assert declare(client_for(world.outsider), own).status_code == 404
    response = declare(client, own)
    assert response.status_code == 302 and response["Location"].startswith("/?next=")


def test_other_methods_are_refused(world):
    client = client_for(world.a.users["teacher"])
    url = student_url(world.a.students["own"])
    assert client.put(url).status_code == 405
    assert client.delete(url).status_code == 405


def test_a_forged_session_entry_opens_nothing(world):
    """Only the purposes of the list count; anything else in the session is ignored."""
    teacher, own = world.a.users["teacher"], world.a.students["own"]
    client = client_for(teacher)
    session = client.session
    session[purposes.SESSION_KEY] = {str(own.pk): {"key": "snooping"}}
    session.save()
    assert "programs" not in sections_of(client.get(student_url(own)).content.decode())


def test_the_student_page_requires_csrf_on_post(world):
    own = world.a.students["own"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.a.users["teacher"])
    assert declare(client, own).status_code == 403
    assert declared_in(client) == {}
