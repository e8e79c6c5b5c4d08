"""A provider's page of a grant reaching most of its district is found by walking the
district's sourcedId index and keeping the reached (access.scoping.sourced_id_walk):
every page, from the start, from a bookmark, either order, is the page the reach
queried in order gives; a grant reaching a small share is queried in order as before."""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from access import scoping
from access.models import Grant
from access.providers import viewer_for_grants
from access.scoping import (
    WALK_SHARE,
    _chunks_by_sourced_id,
    allowed_for,
    reached_share,
    reached_students,
    sourced_id_walk,
)
from records import models as m
from tests import factories as f
from tests.records.test_oneroster_rest import Feed

pytestmark = pytest.mark.django_db

V1P2 = "v1p2"


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the share comes from the head counts, PostgreSQL's triggers")


@pytest.fixture(autouse=True)
def clean_caches():
    from django.core.cache import caches

    for name in ("default", "access-local", "access-pages"):
        caches[name].clear()


@pytest.fixture
def district():
    return f.DistrictFactory()


@pytest.fixture
def schools(district):
    return [f.SchoolFactory(district=district) for _ in range(3)]


@pytest.fixture
def roster(district, schools):
    """Thirty students at the first school, six at the second, two at the third, three who
    left, two with no school; sourcedIds shuffled so the reached and the rest interleave.
    A neighbouring district's students share the sourcedIds' range."""
    today = district.today()
    names = [f"s-{n:03d}" for n in range(43)]
    random.Random(7).shuffle(names)
    places = [0] * 30 + [1] * 6 + [2] * 2 + ["left"] * 3 + [None] * 2
    for n, (name, place) in enumerate(zip(names, places, strict=True)):
        student = f.StudentFactory(
            district=district, sourced_id=name, grade_level=f"{9 + n % 2:02d}"
        )
        if place == "left":
            f.SchoolMembershipFactory(
                student=student, school=schools[0], end_date=today - timedelta(days=1)
            )
        elif place is not None:
            f.SchoolMembershipFactory(student=student, school=schools[place])
    neighbour = f.SchoolFactory()
    for n in range(0, 43, 3):
        student = f.StudentFactory(district=neighbour.district, sourced_id=f"s-{n:03d}x")
        f.SchoolMembershipFactory(student=student, school=neighbour)


def feed_for(client, district, schools, population, school_picks=()):
    fields = {"population": population}
    if school_picks:
        fields["school_ids"] = [schools[i].pk for i in school_picks]
    return Feed(client, district, categories=["directory"], **fields)


def reached_in_order(feed, district, descending) -> list[str]:
    reader = viewer_for_grants([feed.grant], district, client_name="client test")
    sids = list(reached_students(reader).values_list("sourced_id", flat=True))
    return sorted(sids, reverse=descending)


def walk_pages(feed, limit, order) -> list[str]:
    seen, offset = [], 0
    while True:
        response = feed.get(V1P2, "students", limit=str(limit), offset=str(offset), orderBy=order)
        assert response.status_code == 200, response.content
        page = [obj["sourcedId"] for obj in response.json()["users"]]
        seen += page
        if len(page) < limit:
            return seen
        offset += limit


GRANTS = {
    "district": (Grant.Population.DISTRICT, ()),
    "most": (Grant.Population.SCHOOLS, (0,)),
    "few": (Grant.Population.SCHOOLS, (2,)),
    "rule": (Grant.Population.RULES, (0, 1)),
}


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 4, 100])
@pytest.mark.parametrize("grant", GRANTS)
def test_every_page_is_the_reach_in_order(client, settings, district, schools, roster, grant,
                                          limit, order):  # fmt: skip
    feed = feed_for(client, district, schools, *GRANTS[grant])
    expected = reached_in_order(feed, district, order == "desc")
    settings.ACCESS_CACHE_SECONDS = 600  # later pages start from the bookmarks kept
    with spied_chunks() as chunks:
        assert walk_pages(feed, limit, order) == expected
    assert bool(chunks) == (grant != "few")  # walked where the grant reaches most
    assert walk_pages(feed, limit, order) == expected  # the pages kept whole, alike


def test_a_walk_of_users_merges_students_and_teachers(client, settings, district, schools,
                                                      roster):  # fmt: skip
    """Users are students (walked) and teachers (queried), merged in one order; a
    bookmark may be a teacher's."""
    section = f.SectionFactory(district=district, school=schools[0])
    for n in range(0, 43, 4):
        teacher = f.UserFactory(district=district, sourced_id=f"s-{n:03d}t")
        f.SectionTeacherFactory(teacher=teacher, section=section)
    feed = Feed(client, district, categories=["directory", "enrollment"], shares_staff=True)
    settings.ACCESS_CACHE_SECONDS = 0
    expected = []
    for order in ("asc", "desc"):
        response = feed.get(V1P2, "users", limit="1000", orderBy=order)
        expected = [u["sourcedId"] for u in response.json()["users"]]
        assert len(expected) == 38 + 11
        settings.ACCESS_CACHE_SECONDS = 600
        with spied_chunks() as chunks:
            seen, offset = [], 0
            while True:
                response = feed.get(V1P2, "users", limit="4", offset=str(offset), orderBy=order)
                page = [u["sourcedId"] for u in response.json()["users"]]
                if not page:
                    break
                seen, offset = seen + page, offset + 4
        assert seen == expected and chunks
        settings.ACCESS_CACHE_SECONDS = 0


def test_a_walk_past_its_budget_asks_for_the_rest_in_order(client, settings, district,
                                                           schools, monkeypatch):  # fmt: skip
    unreached_first(district, schools, 40)
    monkeypatch.setattr(scoping, "WALK_BUDGET", 1)  # one chunk, then the rest
    feed = feed_for(client, district, schools, Grant.Population.SCHOOLS, (0,))
    settings.ACCESS_CACHE_SECONDS = 0
    with spied_chunks() as chunks:
        response = feed.get(V1P2, "students", limit="5")
    assert [u["sourcedId"] for u in response.json()["users"]] == [f"z-{n:02d}" for n in range(5)]
    assert len(chunks) == 1 and all(sid.startswith("a-") for sid in (chunks[0].first,
                                                                   chunks[0].last))  # fmt: skip


def unreached_first(district, schools, unreached: int) -> None:
    """``unreached`` students of the second school first in sourcedId order (a-…), then
    twenty of the first school (z-…)."""
    for prefix, count, school in (("a", unreached, schools[1]), ("z", 20, schools[0])):
        for n in range(count):
            student = f.StudentFactory(district=district, sourced_id=f"{prefix}-{n:02d}")
            f.SchoolMembershipFactory(student=student, school=school)


@contextlib.contextmanager
def spied_chunks():
    """The chunks the walks read meanwhile."""
    read = []
    original = scoping._chunks_by_sourced_id

    def spy(*args):
        for chunk in original(*args):
            read.append(chunk)
            yield chunk

    with mock.patch.object(scoping, "_chunks_by_sourced_id", spy):
        yield read


@pytest.mark.parametrize("grant", GRANTS)
def test_the_walk_is_taken_only_where_it_pays(district, schools, roster, grant):
    population, picks = GRANTS[grant]
    fields = {"population": population, "school_ids": [schools[i].pk for i in picks]}
    reader = viewer_for_grants(
        [f.GrantFactory(agreement__provider__district=district, **fields)],
        district,
        client_name="client test",
    )
    share = reached_share(reader)
    assert share == pytest.approx(reached_students(reader).count() / 38)  # current students
    walk = sourced_id_walk(reader, start=None, descending=False, wanted=10)
    assert (walk is not None) == (share >= WALK_SHARE)
    assert grant != "few" or walk is None


def test_the_chunks_cover_the_district_in_order_from_the_start(district, schools, roster):
    reader = viewer_for_grants(
        [f.GrantFactory(agreement__provider__district=district)], district, client_name="c"
    )
    everyone = m.Student.unscoped.filter(district=district)
    for descending in (False, True):
        ordered = list(everyone.order_by(("-" if descending else "") + "sourced_id"))
        start = ordered[5].sourced_id
        chunks = list(_chunks_by_sourced_id(reader, start, descending, 3))
        assert [pk for chunk in chunks for pk in chunk.keys] == [s.pk for s in ordered[5:]]
        assert [len(chunk.keys) for chunk in chunks][:3] == [3, 6, 12]  # each twice the last
        assert chunks[0].first == start and chunks[-1].last == ordered[-1].sourced_id
        walked = sourced_id_walk(reader, start=start, descending=descending, wanted=1)
        reached = sorted(
            (s for chunk in walked for s in chunk), key=lambda s: s.sourced_id, reverse=descending
        )
        expected = reached_students(reader).filter(pk__in=[s.pk for s in ordered[5:]])
        assert [s.pk for s in reached] == [
            s.pk for s in sorted(expected, key=lambda s: s.sourced_id, reverse=descending)
        ]


def test_reached_students_clustered_at_the_end_are_found_through_several_chunks(
    client, settings, district, schools
):
    """The walk's first chunk, sized by the share, may hold none of the reached: the
    chunks grow until the page is full or the district ends."""
    unreached_first(district, schools, 12)
    feed = feed_for(client, district, schools, Grant.Population.SCHOOLS, (0,))
    settings.ACCESS_CACHE_SECONDS = 0
    with CaptureQueriesContext(connection) as queries:
        response = feed.get(V1P2, "students", limit="5")
    assert [u["sourcedId"] for u in response.json()["users"]] == [f"z-{n:02d}" for n in range(5)]
    chunks = [q for q in queries.captured_queries if '"records_student"."sourced_id" >' in q["sql"]]
    assert chunks, "the later chunks start past the last one read"
    assert walk_pages(feed, 6, "desc") == [f"z-{n:02d}" for n in reversed(range(20))]


@pytest.mark.parametrize(
    "populations",
    [
        [("schools", (0,))],
        [("schools", (0,)), ("schools", (1,))],
        [("sections", ()), ("district", ())],
        [("rules", (0, 1))],
        [("grades", (0, 1))],
        [("sections", ())],
    ],
    ids=["school", "two-schools", "sections-and-district", "rule", "grades", "sections"],
)
def test_the_reach_among_some_students_is_the_reach_of_them(district, schools, roster,
                                                           populations):  # fmt: skip
    section = f.SectionFactory(district=district, school=schools[1])
    for student in m.Student.unscoped.filter(district=district)[:5]:
        f.EnrollmentFactory(student=student, section=section)
    grants = []
    for population, picks in populations:
        fields = {"population": population, "school_ids": [schools[i].pk for i in picks]}
        if population == "sections":
            fields["section_ids"] = [section.pk]
        if population == "grades":
            fields.update(population=Grant.Population.RULES, grade_levels=["09"])
        grants.append(f.GrantFactory(agreement__provider__district=district, **fields))
    reader = viewer_for_grants(grants, district, client_name="client test")
    some = list(m.Student.unscoped.filter(district=district).values_list("pk", flat=True)[::2])
    every = reached_students(reader)
    among = reached_students(reader, among=some)
    expected = [s for s in every if s.pk in set(some)]
    assert sorted(s.pk for s in among) == sorted(s.pk for s in expected)
    # The same routes' flags on each student.
    assert allowed_for(reader, list(among)) == allowed_for(reader, expected)
    sql = str(among.query)
    # Each route's table of students (memberships, enrollments) is read by their keys.
    assert sql.count('"student_id" = ANY(') >= len(grants)
