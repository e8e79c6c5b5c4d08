"""The oracle rule: a name outside the client's grants answers exactly as a name that
does not exist, and a granted directory field narrows or orders only among students
whose field the provider may read. An OR never widens the grant; X-Total-Count counts
only what the grant gives."""

from __future__ import annotations

import pytest

from access.models import Grant
from records.models import DirectoryOptOut, Student
from tests.records.test_oneroster_rest import VERSIONS, Feed, error_code, sids

HIDDEN_USER_FIELDS = ("email", "phone", "identifier")


def swapped(response, name: str, stand_in: str) -> bytes:
    return response.content.replace(f"'{name}'".encode(), f"'{stand_in}'".encode())


def assert_same_as_nonexistent(feed, version, path, param, name, value_template):
    hidden = feed.get(version, path, **{param: value_template.format(name)})
    missing = feed.get(version, path, **{param: value_template.format(name + "Zq")})
    assert hidden.status_code == missing.status_code == 400, (param, name)
    assert error_code(hidden) == error_code(missing)
    assert swapped(hidden, name, name + "Zq") == missing.content, (param, name)


@pytest.fixture
def directory_feed(client, world):
    return Feed(client, world.a.district, categories=["directory"])


@VERSIONS
@pytest.mark.parametrize("name", HIDDEN_USER_FIELDS)
def test_hidden_fields_answer_as_nonexistent_ones(directory_feed, version, name):
    for param, template in (("filter", "{}='x'"), ("sort", "{}"), ("fields", "sourcedId,{}")):
        for path in ("users", "students"):
            assert_same_as_nonexistent(directory_feed, version, path, param, name, template)


@VERSIONS
def test_the_codes_for_hidden_fields(directory_feed, version):
    assert error_code(directory_feed.get(version, "users", filter="email='x'")) == (
        "invalid_filter_field"
    )
    sort_code = "invalid_sort_field" if version == "v1p1" else "invalid_filter_field"
    assert error_code(directory_feed.get(version, "users", sort="email")) == sort_code
    assert error_code(directory_feed.get(version, "users", fields="email")) == (
        "invalid_selection_field"
    )
    # The objects carry none of them either.
    for user in directory_feed.get(version, "users").json()["users"]:
        assert not set(HIDDEN_USER_FIELDS) & set(user)
        assert "userIds" not in user


@VERSIONS
def test_without_directory_names_are_hidden_too(client, world, version):
    feed = Feed(client, world.a.district, categories=["enrollment"])
    for name in ("givenName", "familyName", "grades"):
        assert_same_as_nonexistent(feed, version, "students", "filter", name, "{}='x'")
        assert_same_as_nonexistent(feed, version, "students", "sort", name, "{}")
        assert_same_as_nonexistent(feed, version, "students", "fields", name, "{}")
    org = "orgs.sourcedId" if version == "v1p1" else "roles.org.sourcedId"
    hidden = feed.get(version, "students", filter=f"{org}='x'")
    assert hidden.status_code == 400 and error_code(hidden) == "invalid_filter_field"
    students = feed.get(version, "students").json()["users"]
    assert len(students) == 4
    district = f"district-{world.a.district.pk}"
    for user in students:
        assert {"givenName", "familyName", "grades"}.isdisjoint(user)
        orgs = user["orgs"] if version == "v1p1" else [r["org"] for r in user["roles"]]
        assert [o["sourcedId"] for o in orgs] == [district]  # the school is directory data


@VERSIONS
def test_demographic_names_do_not_exist_on_users(client, world, version):
    feed = Feed(client, world.a.district, categories=["directory", "demographics"])
    response = feed.get(version, "users", filter="birthDate>'2000-01-01'")
    assert response.status_code == 400 and error_code(response) == "invalid_filter_field"


@VERSIONS
def test_an_opted_out_name_is_absent_and_never_matches_or_orders(directory_feed, world, version):
    a = world.a
    own = a.students["own"]
    DirectoryOptOut.unscoped.create(district=a.district, student=own, field="given_name")
    users = {u["sourcedId"]: u for u in directory_feed.get(version, "students").json()["users"]}
    assert "givenName" not in users[own.sourced_id]
    assert users[own.sourced_id]["familyName"] == "Quillfeather"
    assert directory_feed.ids(version, "students", filter="givenName='Ysolde'") == set()
    assert directory_feed.ids(version, "students", filter="givenName~'Ysol'") == set()
    assert own.sourced_id not in directory_feed.ids(
        version, "students", filter="givenName!='Caspian'"
    )
    response = directory_feed.get(version, "students", filter="givenName='Ysolde'")
    assert response["X-Total-Count"] == "0"
    # Ordered by the name, the opted-out student is last both ways: the value never sorts.
    for order in ("asc", "desc"):
        page = directory_feed.get(version, "students", sort="givenName", orderBy=order)
        assert [u["sourcedId"] for u in page.json()["users"]][-1] == own.sourced_id


@VERSIONS
def test_an_undesignated_directory_field_never_leaves(directory_feed, world, version):
    a = world.a
    Student.unscoped.filter(pk=a.students["own"].pk).update(middle_name="Secretia")
    for user in directory_feed.get(version, "students").json()["users"]:
        assert "middleName" not in user
    assert directory_feed.ids(version, "students", filter="middleName='Secretia'") == set()


@VERSIONS
def test_an_opted_out_school_is_neither_shown_nor_matched(directory_feed, world, version):
    a = world.a
    own = a.students["own"]
    DirectoryOptOut.unscoped.create(district=a.district, student=own, field="school")
    org = "orgs.sourcedId" if version == "v1p1" else "roles.org.sourcedId"
    school1 = a.school1.sourced_id
    assert directory_feed.ids(version, "students", filter=f"{org}='{school1}'") == sids(
        a.students["schoolmate"], a.students["adult"]
    )
    assert directory_feed.ids(version, f"schools/{school1}/students") == sids(
        a.students["schoolmate"], a.students["adult"]
    )
    user = directory_feed.get(version, f"students/{own.sourced_id}").json()["user"]
    orgs = user["orgs"] if version == "v1p1" else [r["org"] for r in user["roles"]]
    assert [o["sourcedId"] for o in orgs] == [f"district-{a.district.pk}"]


@VERSIONS
def test_an_or_clause_cannot_escape_the_grant(client, world, version):
    a = world.a
    feed = Feed(
        client,
        a.district,
        categories=["directory", "enrollment"],
        population=Grant.Population.SCHOOLS,
        school_ids=[a.school1.pk],
    )
    inside = sids(a.students["own"], a.students["schoolmate"], a.students["adult"])
    outside = a.students["elsewhere"].sourced_id
    other_district = world.b.students["own"].sourced_id
    for text in (
        f"status='active' OR sourcedId='{outside}'",
        f"sourcedId='{outside}' OR sourcedId='{other_district}'",
        "givenName='Odalys' OR sourcedId!='x'",
    ):
        response = feed.get(version, "students", filter=text)
        got = {u["sourcedId"] for u in response.json()["users"]}
        assert outside not in got and other_district not in got, text
        assert got <= inside
        assert response["X-Total-Count"] == str(len(got))
    everything = feed.get(version, "students", filter=f"status='active' OR sourcedId='{outside}'")
    assert {u["sourcedId"] for u in everything.json()["users"]} == inside
    assert everything["X-Total-Count"] == "3"
    assert feed.get(version, f"students/{outside}").status_code == 404
    assert feed.ids(version, "schools", "orgs") == {a.school1.sourced_id}


@VERSIONS
def test_total_count_is_the_grants_count(client, world, version):
    a = world.a
    feed = Feed(
        client,
        a.district,
        categories=["directory"],
        population=Grant.Population.RULES,
        grade_levels=["12"],
    )
    response = feed.get(version, "students", limit="1")
    assert response["X-Total-Count"] == "1"
    assert feed.ids(version, "users") == sids(a.students["adult"])
    assert feed.ids(version, "teachers") == set()  # staff not shared
    assert feed.ids(version, "classes", "classes") == set()  # no enrollment category
    assert feed.ids(version, "enrollments", "enrollments") == set()
    assert feed.ids(version, "courses", "courses") == set()
