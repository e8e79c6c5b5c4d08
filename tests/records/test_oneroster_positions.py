"""Kept totals, bookmarks and pages (records/oneroster_rest/positions.py) never change an
answer: every page walked from bookmarks is the page an uncached request computes, and a
write, an opt-out or a revocation shows on the very next request."""

from __future__ import annotations

import pytest

from access.models import AccessEvent, Grant
from records.models import DirectoryOptOut
from tests import factories as f
from tests.records.test_oneroster_rest import Feed

pytestmark = pytest.mark.django_db

V1P2 = "v1p2"


@pytest.fixture(autouse=True)
def clean_caches():
    from django.core.cache import caches

    for name in ("default", "access-local", "access-pages"):
        caches[name].clear()


@pytest.fixture
def feed(client, world):
    """A whole-district grant sharing staff: users come from two sources, students and
    teachers, merged in one order."""
    for n in range(23):
        student = f.StudentFactory(district=world.a.district, sourced_id=f"m-{n:02d}")
        f.SchoolMembershipFactory(student=student, school=world.a.school1)
    return Feed(
        client,
        world.a.district,
        categories=["directory", "contact", "identifiers", "enrollment"],
        shares_staff=True,
    )


def walk(feed, path, limit, **params) -> tuple[list[str], set[str]]:
    """Every page of ``path`` by offset: the sourcedIds in order, and the totals seen."""
    seen, totals, offset = [], set(), 0
    while True:
        response = feed.get(V1P2, path, limit=str(limit), offset=str(offset), **params)
        assert response.status_code == 200, response.content
        totals.add(response["X-Total-Count"])
        page = [obj["sourcedId"] for obj in response.json()[path]]
        seen += page
        if len(page) < limit:
            return seen, totals
        offset += limit


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("params", [{}, {"filter": "status='active'"}], ids=["all", "filtered"])
def test_pages_walked_from_bookmarks_are_the_pages_computed_afresh(feed, settings, order, params):
    settings.ACCESS_CACHE_SECONDS = 0
    expected, expected_totals = walk(feed, "users", 7, orderBy=order, **params)
    settings.ACCESS_CACHE_SECONDS = 600
    first, totals = walk(feed, "users", 7, orderBy=order, **params)  # keeps bookmarks
    again, _ = walk(feed, "users", 7, orderBy=order, **params)  # starts from them
    assert first == again == expected
    assert totals == expected_totals and len(expected) == int(totals.pop())
    assert len(set(expected)) == len(expected)  # no row twice, none skipped
    assert sorted(expected, reverse=order == "desc") == expected


def test_a_page_asked_for_out_of_order_is_the_same_page(feed, settings):
    settings.ACCESS_CACHE_SECONDS = 0
    expected = feed.ids(V1P2, "users", limit="5", offset="10")
    settings.ACCESS_CACHE_SECONDS = 600
    assert feed.ids(V1P2, "users", limit="5", offset="10") == expected  # no bookmark yet
    feed.get(V1P2, "users", limit="5", offset="5")
    assert feed.ids(V1P2, "users", limit="5", offset="10") == expected  # from a bookmark


def test_a_new_student_shows_on_the_next_request(feed, world):
    before = feed.get(V1P2, "students", limit="100")
    count = int(before["X-Total-Count"])
    student = f.StudentFactory(district=world.a.district, sourced_id="a-first")
    f.SchoolMembershipFactory(student=student, school=world.a.school1)
    after = feed.get(V1P2, "students", limit="100")
    assert int(after["X-Total-Count"]) == count + 1
    assert after.json()["users"][0]["sourcedId"] == "a-first"


def test_an_opt_out_of_a_student_on_a_kept_page_shows_on_the_next_request(feed, world):
    first = feed.get(V1P2, "students", limit="100").json()["users"]
    assert feed.get(V1P2, "students", limit="100").json()["users"] == first  # kept
    own = world.a.students["own"]
    [shown] = [obj for obj in first if obj["sourcedId"] == own.sourced_id]
    assert "givenName" in shown
    DirectoryOptOut.unscoped.create(
        district=world.a.district, student=own, field=DirectoryOptOut.ALL_FIELDS
    )
    later = feed.get(V1P2, "students", limit="100").json()["users"]
    [withheld] = [obj for obj in later if obj["sourcedId"] == own.sourced_id]
    assert "givenName" not in withheld


def test_a_kept_page_is_disclosed_on_every_request(feed):
    for _ in range(3):
        assert feed.get(V1P2, "students", limit="10").status_code == 200
    events = AccessEvent.unscoped.filter(grant=feed.grant)
    assert events.count() == 3
    assert len({tuple(sorted(e.disclosed_student_ids)) for e in events}) == 1


def test_a_revoked_grant_answers_403_though_its_pages_are_kept(feed):
    assert feed.get(V1P2, "students", limit="10").status_code == 200
    Grant.unscoped.filter(pk=feed.grant.pk).update(status=Grant.Status.REVOKED)
    assert feed.get(V1P2, "students", limit="10").status_code == 403


def test_a_narrowed_grant_is_not_served_the_wider_grants_kept_page(feed, world):
    wide = feed.ids(V1P2, "students", limit="100")
    Grant.unscoped.filter(pk=feed.grant.pk).update(
        population=Grant.Population.SCHOOLS, school_ids=[world.a.school2.pk]
    )
    narrow = feed.ids(V1P2, "students", limit="100")
    assert narrow == {world.a.students["elsewhere"].sourced_id} and narrow < wide


def test_a_polled_page_reads_its_students_epochs_with_the_token(feed, world):
    """The token statement reads the epochs of the students the same request named last
    time, so a poll needs no query of its own for them; a write to one of them still
    shows on the very next poll."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def poll():
        with CaptureQueriesContext(connection) as queries:
            response = feed.get(V1P2, "students", limit="100")
        assert response.status_code == 200
        executed = " ".join(q["sql"] for q in queries.captured_queries)
        return response.json()["users"], executed

    first, executed = poll()
    assert "EXECUTE student_epochs" in executed  # nothing to read ahead yet
    second, executed = poll()
    assert second == first
    assert "EXECUTE student_epochs" not in executed
    assert "EXECUTE provider_client_by_token" in executed
    own = world.a.students["own"]
    DirectoryOptOut.unscoped.create(
        district=world.a.district, student=own, field=DirectoryOptOut.ALL_FIELDS
    )
    third, executed = poll()
    [withheld] = [obj for obj in third if obj["sourcedId"] == own.sourced_id]
    assert "givenName" not in withheld
    assert "EXECUTE student_epochs" not in executed
