"""Every OneRoster answer that names students records one disclosure of exactly the
students it named, with exactly the categories it told of them: the student fields the
objects carry as sent, a class's roster its enrollment, a school's list its school. A
student the answer told nothing of is not recorded."""

from __future__ import annotations

import pytest

from access.models import AccessEvent
from records.models import DirectoryOptOut
from tests.records.test_oneroster_rest import VERSIONS, Feed

USER_CATEGORIES = {"directory", "contact", "identifiers"}


@pytest.fixture
def feed(client, world):
    return Feed(
        client,
        world.a.district,
        categories=["directory", "contact", "identifiers", "enrollment"],
        shares_staff=True,
    )


def read(feed, world, version, path, **params) -> tuple[set[int], list[AccessEvent]]:
    """The students the answer names (by pk) and the events the request wrote."""
    district = world.a.district
    last = AccessEvent.unscoped.filter(district=district).order_by("-sequence").first()
    response = feed.get(version, path, **params)
    assert response.status_code == 200, (path, response.content)
    body = response.json()
    objects = next(iter(body.values()))
    objects = objects if isinstance(objects, list) else [objects]
    by_sid = {s.sourced_id: s.pk for s in world.a.students.values()}
    named = {by_sid[obj["sourcedId"]] for obj in objects if obj.get("sourcedId") in by_sid}
    events = AccessEvent.unscoped.filter(district=district).order_by("sequence")
    if last is not None:
        events = events.filter(sequence__gt=last.sequence)
    return named, list(events)


def assert_one_disclosure(feed, events, students: set[int], categories: set[str]) -> None:
    assert len(events) == 1, [(e.categories, e.disclosed_student_ids) for e in events]
    event = events[0]
    assert event.is_disclosure and event.grant_id == feed.grant.pk
    assert set(event.categories) == categories
    assert set(event.disclosed_student_ids) == students
    assert len(event.disclosed_student_ids) == len(students)


@VERSIONS
def test_nested_student_lists_disclose_what_they_tell(feed, world, version):
    a = world.a
    section, school1 = a.section.sourced_id, a.school1.sourced_id
    roster = {a.students["own"].pk, a.students["adult"].pk}
    members = roster | {a.students["schoolmate"].pk}
    cases = {
        f"classes/{section}/students": (roster, USER_CATEGORIES | {"enrollment"}),
        f"schools/{school1}/classes/{section}/students": (
            roster, USER_CATEGORIES | {"enrollment"}
        ),
        f"schools/{school1}/students": (members, USER_CATEGORIES),
        f"schools/{a.school2.sourced_id}/students": (
            {a.students["elsewhere"].pk}, USER_CATEGORIES
        ),
    }  # fmt: skip
    for path, (expected, categories) in cases.items():
        named, events = read(feed, world, version, path)
        assert named == expected, path
        assert_one_disclosure(feed, events, named, categories)
        # The list itself still tells the roster (or the school) with no field selected.
        named, events = read(feed, world, version, path, fields="sourcedId")
        told = {"enrollment"} if "classes" in path else {"directory"}
        assert_one_disclosure(feed, events, named, told)


@pytest.fixture
def enrollment_feed(client, world):
    return Feed(client, world.a.district, categories=["enrollment"])


@VERSIONS
def test_without_student_fields_a_roster_still_discloses_enrollment(
    enrollment_feed, world, version
):
    a = world.a
    roster = f"classes/{a.section.sourced_id}/students"
    named, events = read(enrollment_feed, world, version, roster)
    assert named == {a.students["own"].pk, a.students["adult"].pk}
    assert_one_disclosure(enrollment_feed, events, named, {"enrollment"})
    # The same students listed plainly carry nothing of any category: nothing recorded.
    for path in ("students", "users", f"students/{a.students['own'].sourced_id}"):
        named, events = read(enrollment_feed, world, version, path)
        assert named and events == [], path


@pytest.fixture
def directory_feed(client, world):
    return Feed(client, world.a.district, categories=["directory"])


@VERSIONS
def test_a_student_the_page_told_nothing_of_is_not_recorded(directory_feed, world, version):
    a = world.a
    own = a.students["own"]
    others = {s.pk for name, s in a.students.items() if name != "own"}
    DirectoryOptOut.unscoped.create(
        district=a.district, student=own, field=DirectoryOptOut.ALL_FIELDS
    )
    named, events = read(directory_feed, world, version, "students")
    assert named == others | {own.pk}  # listed, by sourcedId alone
    assert_one_disclosure(directory_feed, events, others, {"directory"})
    named, events = read(directory_feed, world, version, f"users/{own.sourced_id}")
    assert named == {own.pk} and events == []


@VERSIONS
def test_selected_fields_disclose_only_what_each_object_carries(directory_feed, world, version):
    a = world.a
    own = a.students["own"]
    DirectoryOptOut.unscoped.create(district=a.district, student=own, field="school")
    org = "orgs" if version == "v1p1" else "roles"
    others = {s.pk for name, s in a.students.items() if name != "own"}
    # own's orgs name only the district: the page told nothing of own.
    named, events = read(directory_feed, world, version, "students", fields=f"sourcedId,{org}")
    assert own.pk in named
    assert_one_disclosure(directory_feed, events, others, {"directory"})
    named, events = read(directory_feed, world, version, "students", fields="sourcedId,givenName")
    assert_one_disclosure(directory_feed, events, named, {"directory"})


@VERSIONS
def test_a_students_classes_disclose_their_enrollment(feed, world, version):
    own = world.a.students["own"]
    for path in (f"students/{own.sourced_id}/classes", f"users/{own.sourced_id}/classes"):
        for params in ({}, {"fields": "sourcedId"}):
            _, events = read(feed, world, version, path, **params)
            assert_one_disclosure(feed, events, {own.pk}, {"enrollment"})
    # A student with no class in the grants: no class listed, nothing told.
    mate = world.a.students["schoolmate"].sourced_id
    _, events = read(feed, world, version, f"students/{mate}/classes")
    assert events == []
