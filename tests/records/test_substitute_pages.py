"""Assigning a substitute from a section's page (/school/sections/<id>/)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from access.viewer import viewer_for
from accounts.models import Role
from records import models as m
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def sub(world):
    user = f.UserFactory(
        username="a-sub", district=world.a.district, first_name="Sam", last_name="Cover"
    )
    f.RoleMembershipFactory(user=user, role=Role.TEACHER, school=world.a.school2)
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_url(world) -> str:
    return f"/school/sections/{world.a.section.pk}/"


def assign_url(world) -> str:
    return page_url(world) + "substitutes/"


def days(world, first: int, last: int) -> dict:
    today = viewer_for(world.a.users["principal"]).today
    return {
        "begin_date": (today + timedelta(days=first)).isoformat(),
        "end_date": (today + timedelta(days=last)).isoformat(),
    }


def test_a_principal_assigns_a_substitute_who_then_appears_on_the_pages(world, sub):
    client = client_for(world.a.users["principal"])
    page = client.get(page_url(world)).content.decode()
    assert "Assign a substitute" in page and "No substitute is assigned" in page
    response = client.post(assign_url(world), {"substitute": "A-SUB", **days(world, 0, 2)})
    assert response.status_code == 302 and response["Location"].endswith("#substitutes")
    assignment = m.SubstituteAssignment.unscoped.get()
    assert (assignment.substitute, assignment.assigned_by) == (sub, world.a.users["principal"])
    page = client.get(page_url(world)).content.decode()
    assert "Sam Cover covers this class from" in page and "Covering today" in page
    sections = client.get("/school/sections/").content.decode()
    assert "substitute: Sam Cover" in sections


def test_a_bad_assignment_shows_its_reason_and_saves_nothing(world, sub):
    client = client_for(world.a.users["principal"])
    response = client.post(assign_url(world), {"substitute": "a-sub", **days(world, -2, 1)})
    assert response.status_code == 400
    assert "can&#x27;t be assigned in the past" in response.content.decode()
    response = client.post(assign_url(world), {"substitute": "a-sub", "begin_date": "soon"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid date." in html and 'aria-invalid="true"' in html
    assert not m.SubstituteAssignment.unscoped.exists()


def test_ending_an_assignment_from_the_page(world, sub):
    client = client_for(world.a.users["principal"])
    client.post(assign_url(world), {"substitute": "a-sub", **days(world, 0, 2)})
    assignment = m.SubstituteAssignment.unscoped.get()
    response = client.post(f"{assign_url(world)}{assignment.pk}/end/")
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.ended_at is not None
    assert not viewer_for(sub).substitute_section_ids
    assert client.post(f"{assign_url(world)}{assignment.pk}/end/").status_code == 404
    assert client.post(f"{assign_url(world)}99999999/end/").status_code == 404


@pytest.mark.parametrize("role", ["counselor", "nurse", "special_ed"])
def test_other_school_officials_see_the_section_but_do_not_assign(world, sub, role):
    client = client_for(world.a.users[role])
    page = client.get(page_url(world))
    assert page.status_code == 200 and "Assign a substitute" not in page.content.decode()
    response = client.post(assign_url(world), {"substitute": "a-sub", **days(world, 0, 1)})
    assert response.status_code == 403
    assert not m.SubstituteAssignment.unscoped.exists()


def test_teachers_parents_and_other_districts_cannot_assign(world, sub):
    for user, status in (
        (world.a.users["teacher"], 403),
        (world.a.users["parent"], 403),
        (world.b.users["principal"], 404),
    ):
        response = client_for(user).post(
            assign_url(world), {"substitute": "a-sub", **days(world, 0, 1)}
        )
        assert response.status_code == status
    assert client_for(world.a.users["principal"]).get(assign_url(world)).status_code == 405
    assert not m.SubstituteAssignment.unscoped.exists()
