"""access/family.py: the family routes alone decide what a parent or eligible student sees."""

from __future__ import annotations

from datetime import timedelta

import pytest

from access.audit import record_access
from access.categories import ALL_CATEGORIES
from access.family import (
    child_access_log,
    children_who_hold_their_own_rights,
    family_child,
    family_children,
)
from access.scoping import StudentNotFound
from access.viewer import viewer_for
from records.models import TransportationAssignment
from tests import factories as f

pytestmark = pytest.mark.django_db


def ids(queryset) -> set[int]:
    return {student.pk for student in queryset}


def test_a_parent_reaches_their_own_child_only(world):
    viewer = viewer_for(world.a.users["parent"])
    assert ids(family_children(viewer)) == {world.a.students["own"].pk}
    assert family_child(viewer, world.a.students["own"].pk).categories == ALL_CATEGORIES
    for other in (world.a.students["schoolmate"], world.b.students["own"]):
        with pytest.raises(StudentNotFound):
            family_child(viewer, other.pk)
    with pytest.raises(StudentNotFound):
        family_child(viewer, "not-a-number")


def test_staff_roles_give_no_family_reach(world):
    for name in ("teacher", "principal", "district_admin", "nurse", "superuser"):
        viewer = viewer_for(world.a.users[name])
        assert ids(family_children(viewer)) == set(), name
        with pytest.raises(StudentNotFound):
            family_child(viewer, world.a.students["own"].pk)
    assert ids(family_children(viewer_for(world.outsider))) == set()


def test_a_staff_member_who_is_also_a_parent_reaches_only_their_child(world):
    principal = world.a.users["principal"]
    f.GuardianLinkFactory(student=world.a.students["elsewhere"], guardian=principal)
    viewer = viewer_for(principal)
    assert ids(family_children(viewer)) == {world.a.students["elsewhere"].pk}
    child = family_child(viewer, world.a.students["elsewhere"].pk)
    assert child.allowed.via == frozenset({"guardian"})


def test_a_restriction_on_all_records_removes_the_child(world):
    f.CustodyRestrictionFactory(guardian_link=world.a.links["parent"])
    viewer = viewer_for(world.a.users["parent"])
    assert ids(family_children(viewer)) == set()
    with pytest.raises(StudentNotFound):
        family_child(viewer, world.a.students["own"].pk)


def test_a_restriction_on_named_categories_hides_just_those(world):
    f.CustodyRestrictionFactory(
        guardian_link=world.a.links["parent"], scope="categories", categories=["grades"]
    )
    viewer = viewer_for(world.a.users["parent"])
    child = family_child(viewer, world.a.students["own"].pk)
    assert child.categories == ALL_CATEGORIES - {"grades"}


def test_a_restriction_that_hides_contact_hides_transportation_too(world, client):
    """The bus stop and the pickup and drop-off times say where the child is: a parent
    kept from the child's address is kept from them too, on every surface."""
    own = world.a.students["own"]
    TransportationAssignment.unscoped.create(
        district=world.a.district, student=own, route="Route 7", stop="Elm & 3rd"
    )
    f.CustodyRestrictionFactory(
        guardian_link=world.a.links["parent"], scope="categories", categories=["contact"]
    )
    parent = world.a.users["parent"]
    child = family_child(viewer_for(parent), own.pk)
    assert child.categories == ALL_CATEGORIES - {"contact", "transportation"}
    client.force_login(parent)
    page = client.get(f"/family/{own.pk}/")
    assert page.status_code == 200
    assert "Elm &amp; 3rd" not in page.content.decode()
    api = client.get(f"/api/v1/students/{own.pk}/").json()
    assert "transportation" not in api and "contact" not in api


def test_a_link_without_data_access_reaches_nobody(world):
    link = world.a.links["parent"]
    link.has_data_access = False
    link.save()
    assert ids(family_children(viewer_for(world.a.users["parent"]))) == set()


def test_an_eligible_student_sees_themself_and_their_parent_a_note(world):
    adult = world.a.students["adult"]
    assert ids(family_children(viewer_for(world.a.users["eligible"]))) == {adult.pk}
    parent = viewer_for(world.a.users["adult_parent"])
    assert ids(family_children(parent)) == set()
    assert children_who_hold_their_own_rights(parent) == [
        {"id": adult.pk, "first_name": adult.given_name}
    ]
    assert children_who_hold_their_own_rights(viewer_for(world.a.users["parent"])) == []


def test_the_tax_dependent_flag_gives_the_parent_access_back(world):
    adult = world.a.students["adult"]
    adult.is_tax_dependent = True
    adult.save()
    parent = viewer_for(world.a.users["adult_parent"])
    assert ids(family_children(parent)) == {adult.pk}
    assert children_who_hold_their_own_rights(parent) == []


def test_rights_pass_on_the_18th_birthday(world):
    own = world.a.students["own"]
    today = viewer_for(world.a.users["parent"]).today
    eighteenth = today + timedelta(days=30)
    own.birth_date = eighteenth.replace(year=eighteenth.year - 18)
    own.save()
    parent = world.a.users["parent"]
    assert ids(family_children(viewer_for(parent, today=eighteenth - timedelta(days=1)))) == {
        own.pk
    }
    on_the_day = viewer_for(parent, today=eighteenth)
    assert ids(family_children(on_the_day)) == set()
    assert [c["id"] for c in children_who_hold_their_own_rights(on_the_day)] == [own.pk]


def test_the_access_log_lists_others_reads_of_this_child_only(world):
    own, schoolmate = world.a.students["own"], world.a.students["schoolmate"]
    parent = viewer_for(world.a.users["parent"])
    teacher = viewer_for(world.a.users["teacher"])
    record_access(teacher, student_ids=[own.pk], categories=["grades"], purpose="roster")
    record_access(teacher, student_ids=[schoolmate.pk], categories=["grades"], purpose="roster")
    record_access(parent, student_ids=[own.pk], categories=["grades"], purpose="mine")
    principal = viewer_for(world.a.users["principal"])
    record_access(principal, student_ids=[own.pk], categories=["attendance"], purpose="school")
    log = list(child_access_log(parent, own.pk))
    assert [e.actor_id for e in log] == [world.a.users["principal"].pk, world.a.users["teacher"].pk]
    assert [e.actor_id for e in child_access_log(parent, own.pk, category="grades")] == [
        world.a.users["teacher"].pk
    ]
    tomorrow = parent.today + timedelta(days=1)
    assert list(child_access_log(parent, own.pk, since=tomorrow)) == []
    assert len(child_access_log(parent, own.pk, until=parent.today)) == 2
    assert list(child_access_log(parent, own.pk, category="no-such")) == []
    with pytest.raises(StudentNotFound):
        child_access_log(parent, schoolmate.pk)
    with pytest.raises(StudentNotFound):
        child_access_log(viewer_for(world.b.users["parent"]), own.pk)
