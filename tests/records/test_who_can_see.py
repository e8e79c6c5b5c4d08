"""Who can see this student? Checked against brute force over every user of the district.

The expected set is computed by building each user's viewer and asking
``visible_students`` directly, so the list can be neither longer nor shorter than
the access code's own answer.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from access.errors import AccessDenied
from access.models import AccessEvent, AccessEventStudent
from access.purposes import Purpose
from access.scoping import allowed_for, visible_students
from access.staff import may_list_readers, who_can_see, why_visible
from access.viewer import viewer_for
from accounts.models import Role, User
from records import models as m
from tests import factories as f
from tests.reasons import said

pytestmark = pytest.mark.django_db


def readers_url(student) -> str:
    return f"/students/{student.pk}/readers/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def brute_force(district, student) -> dict[str, object]:
    """Every user of the district whose own viewer reaches the student, by username."""
    found = {}
    for user in User.objects.filter(district=district):
        viewer = viewer_for(user)
        if visible_students(viewer).filter(pk=student.pk).exists():
            found[user.username] = viewer
    return found


def listed(world, name="principal", student_name="own"):
    viewer = viewer_for(world.a.users[name])
    return who_can_see(viewer, world.a.students[student_name])


def assert_matches_brute_force(world, student):
    readers = who_can_see(viewer_for(world.a.users["district_admin"]), student)
    expected = brute_force(world.a.district, student)
    assert {r["username"] for r in readers} == set(expected)
    assert len(readers) == len(expected)
    for reader in readers:
        viewer = expected[reader["username"]]
        (reached,) = visible_students(viewer).filter(pk=student.pk)
        # What they could open: with a declared purpose where their role needs one.
        allowed = allowed_for(viewer, [reached], purpose=Purpose("iep_meeting"))[student.pk]
        assert reader["reasons"] == why_visible(viewer, student)
        assert reader["reasons"]
        assert set(reader["categories"]) == allowed.categories
    return readers


def test_the_list_is_exactly_who_the_access_code_lets_in(world):
    readers = assert_matches_brute_force(world, world.a.students["own"])
    assert {r["username"] for r in readers} == {
        "a-principal", "a-school_admin", "a-counselor", "a-nurse", "a-special_ed",
        "a-district_admin", "a-teacher", "a-parent",
    }  # fmt: skip
    names = [r["name"] for r in readers]
    assert names == sorted(names, key=str.casefold)


def test_the_list_matches_brute_force_for_every_student_of_the_district(world):
    for student in world.a.students.values():
        assert_matches_brute_force(world, student)


def test_the_principal_sees_the_same_list_as_the_district_admin(world):
    admin = who_can_see(viewer_for(world.a.users["district_admin"]), world.a.students["own"])
    assert listed(world, "principal") == admin == listed(world, "school_admin")


def test_reasons_and_roles_are_in_plain_language(world):
    by_user = {r["username"]: r for r in listed(world)}
    assert said(by_user["a-principal"]["reasons"], of_another=True) == ["Principal at A Middle"]
    assert said(by_user["a-parent"]["reasons"], of_another=True) == ["Parent or guardian"]
    assert said(by_user["a-district_admin"]["reasons"], of_another=True) == [
        "District administrator of District A"
    ]
    assert by_user["a-teacher"]["roles"] == ["teacher"]
    # About the teacher, not addressed to them.
    [teaching] = said(by_user["a-teacher"]["reasons"], of_another=True)
    assert teaching.startswith(f"Enrolled in their section {world.a.section.title}")
    assert by_user["a-nurse"]["roles"] == ["nurse"]
    assert "health" in by_user["a-nurse"]["categories"]
    assert "health" not in by_user["a-principal"]["categories"]


def test_superusers_and_the_other_district_are_never_listed(world):
    usernames = {r["username"] for r in listed(world)}
    assert "a-superuser" not in usernames
    assert not any(name.startswith("b-") for name in usernames)


def test_the_eligible_student_is_listed_for_their_own_record_and_their_parent_is_not(world):
    readers = assert_matches_brute_force(world, world.a.students["adult"])
    usernames = {r["username"] for r in readers}
    assert "a-eligible" in usernames and "a-adult_parent" not in usernames


def test_a_restricted_guardian_is_not_listed(world):
    m.CustodyRestriction.unscoped.create(
        district=world.a.district,
        guardian_link=world.a.links["parent"],
        scope=m.CustodyRestriction.Scope.ALL,
    )
    readers = assert_matches_brute_force(world, world.a.students["own"])
    assert "a-parent" not in {r["username"] for r in readers}


def test_a_partly_restricted_guardian_is_listed_without_the_hidden_categories(world):
    m.CustodyRestriction.unscoped.create(
        district=world.a.district,
        guardian_link=world.a.links["parent"],
        scope=m.CustodyRestriction.Scope.CATEGORIES,
        categories=["contact"],
    )
    readers = assert_matches_brute_force(world, world.a.students["own"])
    (parent,) = [r for r in readers if r["username"] == "a-parent"]
    assert "contact" not in parent["categories"]


def test_the_teacher_stops_being_listed_when_the_enrollment_ends(world):
    assert "a-teacher" in {r["username"] for r in listed(world)}
    today = viewer_for(world.a.users["teacher"]).today
    m.Enrollment.unscoped.filter(pk=world.a.enrollments["own"].pk).update(
        end_date=today - timedelta(days=1)
    )
    readers = assert_matches_brute_force(world, world.a.students["own"])
    assert "a-teacher" not in {r["username"] for r in readers}


def test_a_new_guardian_and_another_districts_admin_are_handled(world):
    a = world.a
    extra = f.UserFactory(username="a-grandparent", district=a.district)
    f.GuardianLinkFactory(student=a.students["schoolmate"], guardian=extra)
    f.RoleMembershipFactory(user=a.users["teacher"], role=Role.COUNSELOR, school=a.school2)
    readers = assert_matches_brute_force(world, a.students["schoolmate"])
    assert "a-grandparent" in {r["username"] for r in readers}


def test_only_district_admins_and_principals_of_the_school_may_list(world):
    a, own = world.a, world.a.students["own"]
    for name in ("district_admin", "principal", "school_admin"):
        assert may_list_readers(viewer_for(a.users[name]), own)
    for name in ("teacher", "counselor", "nurse", "special_ed", "parent", "superuser"):
        assert not may_list_readers(viewer_for(a.users[name]), own)
    assert not may_list_readers(viewer_for(a.users["principal"]), a.students["elsewhere"])
    assert not may_list_readers(viewer_for(world.b.users["district_admin"]), own)
    with pytest.raises(AccessDenied):
        who_can_see(viewer_for(a.users["teacher"]), own)


# The page.


def test_the_page_lists_readers_and_is_logged(world):
    principal, own = world.a.users["principal"], world.a.students["own"]
    response = client_for(principal).get(readers_url(own))
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    html = response.content.decode()
    for reader in listed(world):
        assert reader["username"] in html
    assert "a-superuser" not in html
    assert "Principal at A Middle" in html and "Parent or guardian" in html
    assert "Name, grade and school" in html
    (event,) = AccessEvent.unscoped.filter(actor=principal)
    assert set(event.categories) == {"directory"}
    assert set(
        AccessEventStudent.unscoped.filter(event=event).values_list("student_id", flat=True)
    ) == {own.pk}


def test_the_student_page_links_to_the_list_only_for_those_who_may_list(world):
    own = world.a.students["own"]
    link = f'href="{readers_url(own)}"'
    for name in ("principal", "district_admin"):
        assert link in client_for(world.a.users[name]).get(f"/students/{own.pk}/").content.decode()
    for name in ("teacher", "counselor"):
        html = client_for(world.a.users[name]).get(f"/students/{own.pk}/").content.decode()
        assert link not in html


@pytest.mark.parametrize(
    ("district", "name", "status"),
    [
        ("a", "teacher", 403),
        ("a", "counselor", 403),
        ("a", "nurse", 403),
        ("a", "parent", 404),
        ("a", "eligible", 404),
        ("a", "superuser", 404),
        ("b", "district_admin", 404),
        ("b", "principal", 404),
    ],
)
def test_others_are_refused_the_page(world, district, name, status):
    user = getattr(world, district).users[name]
    response = client_for(user).get(readers_url(world.a.students["own"]))
    assert response.status_code == status
    assert not AccessEvent.unscoped.filter(actor=user).exists()


def test_a_principal_of_another_school_is_refused(world):
    a = world.a
    other = f.UserFactory(username="a-other-principal", district=a.district)
    f.RoleMembershipFactory(user=other, role=Role.PRINCIPAL, school=a.school2)
    assert client_for(other).get(readers_url(a.students["own"])).status_code == 404
    assert client_for(other).get(readers_url(a.students["elsewhere"])).status_code == 200


def test_the_anonymous_visitor_signs_in_first(world, client):
    url = readers_url(world.a.students["own"])
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"/?next={url}"


def test_the_page_speaks_spanish(world):
    html = (
        client_for(world.a.users["principal"])
        .get(readers_url(world.a.students["own"]), HTTP_ACCEPT_LANGUAGE="es")
        .content.decode()
    )
    assert "¿Quién puede ver a este estudiante?" in html
    assert "Director de escuela en A Middle" in html
