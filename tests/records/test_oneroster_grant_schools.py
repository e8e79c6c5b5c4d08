"""A provider's OneRoster objects name only the schools its grants cover: a student at a
granted school and at another shows the granted one alone in ``orgs`` (1.1) and
``roles``/``primaryOrg`` (1.2), and a filter on the other school answers exactly as a
filter on an org that does not exist — no oracle. A course of a school outside the
grants names the district as its org."""

from __future__ import annotations

import pytest

from access.models import Grant
from records.models import Course, SchoolMembership
from tests import factories as f
from tests.records.test_oneroster_rest import VERSIONS, Feed, sids

NOWHERE = "no-such-org"


@pytest.fixture
def school1_feed(client, world):
    """A grant of school 1 only; ``own`` is also a member of school 2, primary there."""
    a = world.a
    own = a.students["own"]
    SchoolMembership.unscoped.filter(student=own, school=a.school1).update(is_primary=False)
    f.SchoolMembershipFactory(student=own, school=a.school2, is_primary=True)
    return Feed(
        client,
        a.district,
        categories=["directory", "enrollment"],
        population=Grant.Population.SCHOOLS,
        school_ids=[a.school1.pk],
    )


def org_ids(user: dict, version: str) -> list[str]:
    if version == "v1p1":
        return [org["sourcedId"] for org in user["orgs"]]
    assert user["primaryOrg"] == user["roles"][0]["org"]
    return [role["org"]["sourcedId"] for role in user["roles"]]


@VERSIONS
def test_a_user_names_only_the_granted_schools(school1_feed, world, version):
    a = world.a
    own = a.students["own"].sourced_id
    for path, key in (("students", "users"), ("users", "users")):
        users = {u["sourcedId"]: u for u in school1_feed.get(version, path).json()[key]}
        assert set(users) == sids(a.students["own"], a.students["schoolmate"], a.students["adult"])
        for user in users.values():
            assert org_ids(user, version) == [a.school1.sourced_id], path
    for path in (f"students/{own}", f"users/{own}"):
        user = school1_feed.get(version, path).json()["user"]
        assert org_ids(user, version) == [a.school1.sourced_id], path
    section, school1 = a.section.sourced_id, a.school1.sourced_id
    for path in (f"classes/{section}/students", f"schools/{school1}/students"):
        response = school1_feed.get(version, path)
        assert a.school2.sourced_id.encode() not in response.content, path


def _same_answer(feed, version, path, text: str, school: str) -> None:
    outside = feed.get(version, path, filter=text.format(school))
    missing = feed.get(version, path, filter=text.format(NOWHERE))
    assert outside.status_code == missing.status_code == 200, text
    assert outside.content == missing.content, text
    assert outside["X-Total-Count"] == missing["X-Total-Count"], text


@VERSIONS
def test_a_filter_on_a_school_outside_the_grant_answers_as_a_missing_org(
    school1_feed, world, version
):
    a = world.a
    school2 = a.school2.sourced_id
    org = "orgs.sourcedId" if version == "v1p1" else "roles.org.sourcedId"
    texts = [f"{org}='{{}}'", f"{org}!='{{}}'", f"{org}~'{{}}'",
             f"{org}='{{}}' OR familyName='Quillfeather'"]  # fmt: skip
    if version == "v1p2":
        texts += ["primaryOrg.sourcedId='{}'", "primaryOrg.sourcedId!='{}'"]
    for path in ("students", "users", f"classes/{a.section.sourced_id}/students"):
        for text in texts:
            _same_answer(school1_feed, version, path, text, school2)
    assert school1_feed.ids(version, "students", filter=f"{org}='{school2}'") == set()


@VERSIONS
def test_a_filter_on_the_granted_school_matches_what_the_objects_show(school1_feed, world, version):
    a = world.a
    inside = sids(a.students["own"], a.students["schoolmate"], a.students["adult"])
    org = "orgs.sourcedId" if version == "v1p1" else "roles.org.sourcedId"
    assert school1_feed.ids(version, "students", filter=f"{org}='{a.school1.sourced_id}'") == (
        inside
    )
    if version == "v1p2":
        # own's primary school is outside the grant: its primaryOrg is school 1, as shown.
        primary = f"primaryOrg.sourcedId='{a.school1.sourced_id}'"
        assert school1_feed.ids(version, "students", filter=primary) == inside


@VERSIONS
def test_a_student_with_no_granted_school_names_the_district(client, world, version):
    """A grant of one class: ``adult`` is on its roster but a member of school 2 only."""
    a = world.a
    adult = a.students["adult"]
    SchoolMembership.unscoped.filter(student=adult).update(school=a.school2)
    feed = Feed(
        client,
        a.district,
        categories=["directory", "enrollment"],
        population=Grant.Population.SECTIONS,
        section_ids=[a.section.pk],
    )
    district = f"district-{a.district.pk}"
    users = {u["sourcedId"]: u for u in feed.get(version, "students").json()["users"]}
    assert set(users) == sids(a.students["own"], adult)
    assert org_ids(users[adult.sourced_id], version) == [district]
    assert org_ids(users[a.students["own"].sourced_id], version) == [a.school1.sourced_id]
    org = "orgs.sourcedId" if version == "v1p1" else "roles.org.sourcedId"
    _same_answer(feed, version, "students", f"{org}='{{}}'", a.school2.sourced_id)
    if version == "v1p2":
        _same_answer(feed, version, "students", "primaryOrg.sourcedId='{}'", a.school2.sourced_id)
        shown = feed.ids(version, "students", filter=f"primaryOrg.sourcedId='{district}'")
        assert shown == sids(adult)


@VERSIONS
def test_a_course_of_a_school_outside_the_grant_names_the_district(school1_feed, world, version):
    a = world.a
    Course.unscoped.filter(pk=a.section.course_id).update(school=a.school2)
    district = f"district-{a.district.pk}"
    for path in ("courses", f"schools/{a.school1.sourced_id}/courses"):
        courses = school1_feed.get(version, path).json()["courses"]
        assert [course["org"]["sourcedId"] for course in courses] == [district], path
    _same_answer(school1_feed, version, "courses", "org.sourcedId='{}'", a.school2.sourced_id)
    shown = school1_feed.ids(version, "courses", "courses", filter=f"org.sourcedId='{district}'")
    assert shown == {a.section.course.sourced_id}
