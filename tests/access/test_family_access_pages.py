"""Who has seen a child's record, a line per reader and day, paged by key.

``access.family.child_reader_days`` groups the reads; ``/family/<id>/access/`` says
them in plain words and pages with sealed keys. The other district's people and the
child's schoolmate are always in the data, so a leak shows as a line too many.
"""

from __future__ import annotations

import re
from base64 import urlsafe_b64decode
from datetime import date, datetime, time, timedelta
from unittest.mock import patch

import pytest
from django.test import Client

from access.audit import Disclosure, record_access
from access.family import LineKey, child_reader_days
from access.scoping import StudentNotFound
from access.viewer import viewer_for
from tests import factories as f

pytestmark = pytest.mark.django_db


def at(district, day: date, hour: int, minute: int = 0, micro: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, 0, micro), tzinfo=district.zone)


def read(viewer, student_ids, categories, *, when: datetime, roles=(), purpose="", disclosure=None):
    """One read, recorded as though it happened at ``when``."""
    with patch("access.audit.timezone.now", return_value=when):
        return record_access(
            viewer,
            student_ids=[s.pk for s in student_ids],
            categories=categories,
            purpose=purpose,
            roles=roles,
            disclosure=disclosure,
        )


def shape(lines) -> list[tuple]:
    return [(line.day, line.actor_id, line.reads, line.categories) for line in lines]


def every_line(viewer, student, **filters):
    found = child_reader_days(viewer, student.pk, limit=10_000, **filters)
    assert not found.has_older and not found.has_newer
    return found.lines


@pytest.fixture
def people(world):
    a = world.a
    return {
        "parent": viewer_for(a.users["parent"]),
        "teacher": viewer_for(a.users["teacher"]),
        "principal": viewer_for(a.users["principal"]),
        "nurse": viewer_for(a.users["nurse"]),
        "admin": viewer_for(a.users["district_admin"]),
    }


@pytest.fixture
def days(world):
    """Three days ago, two days ago, yesterday: whole days, in the past."""
    today = world.a.district.today()
    return [today - timedelta(days=n) for n in (3, 2, 1)]


# --- Grouping ------------------------------------------------------------------------


def test_a_readers_reads_on_one_day_are_one_line(world, people, days):
    own, district = world.a.students["own"], world.a.district
    day = days[0]
    teacher = people["teacher"]
    read(teacher, [own], ["grades"], when=at(district, day, 8, 5), roles=["teacher"])
    read(teacher, [own], ["attendance"], when=at(district, day, 10), roles=["teacher"])
    read(teacher, [own], ["grades"], when=at(district, day, 14, 10), roles=["teacher"])
    [line] = every_line(people["parent"], own)
    assert shape([line]) == [(day, teacher.user.pk, 3, ("attendance", "grades"))]
    assert line.roles == ("teacher",) and not line.is_disclosure
    assert (line.first_at, line.last_at) == (at(district, day, 8, 5), at(district, day, 14, 10))


def test_other_days_and_other_readers_are_lines_of_their_own(world, people, days):
    """Newest day first; within a day, the reader who began latest first. Days are the
    district's: 23:30 and 00:30 its time are two days."""
    own, district = world.a.students["own"], world.a.district
    teacher, principal = people["teacher"], people["principal"]
    first, second, _ = days
    read(teacher, [own], ["grades"], when=at(district, first, 23, 30))
    read(teacher, [own], ["grades"], when=at(district, second, 0, 30))
    read(principal, [own], ["attendance"], when=at(district, second, 9))
    read(teacher, [own], ["attendance"], when=at(district, second, 11))
    read(principal, [own], ["directory"], when=at(district, second, 12))
    assert shape(every_line(people["parent"], own)) == [
        (second, principal.user.pk, 2, ("directory", "attendance")),
        (second, teacher.user.pk, 2, ("attendance", "grades")),
        (first, teacher.user.pk, 1, ("grades",)),
    ]


def test_a_disclosure_is_a_line_apart_from_the_same_persons_own_reads(world, people, days):
    own, district = world.a.students["own"], world.a.district
    admin = people["admin"]
    day = days[1]
    read(admin, [own], ["grades"], when=at(district, day, 9))
    acme = Disclosure(party="Acme Bus Co.", legal_basis="99.31(a)(1)(i)(B)")
    for hour in (10, 11):
        read(admin, [own], ["transportation"], when=at(district, day, hour), disclosure=acme,
             purpose="Bus routing")  # fmt: skip
    shared, own_reads = every_line(people["parent"], own)
    assert (shared.is_disclosure, shared.party, shared.legal_basis) == (
        True, "Acme Bus Co.", "99.31(a)(1)(i)(B)",
    )  # fmt: skip
    assert (shared.reads, shared.purposes, shared.categories) == (
        2,
        ("Bus routing",),
        ("transportation",),
    )
    assert (own_reads.is_disclosure, own_reads.reads, own_reads.categories) == (
        False,
        1,
        ("grades",),
    )


# --- Whose reads ---------------------------------------------------------------------


def test_the_viewers_own_reads_are_left_out_and_another_parents_are_not(world, people, days):
    own, district = world.a.students["own"], world.a.district
    other_parent = f.UserFactory(district=district)
    f.GuardianLinkFactory(student=own, guardian=other_parent)
    read(people["parent"], [own], ["grades"], when=at(district, days[0], 9))
    read(viewer_for(other_parent), [own], ["grades"], when=at(district, days[0], 10))
    [line] = every_line(people["parent"], own)
    assert (line.actor_id, line.roles) == (other_parent.pk, ("guardian",))
    [line] = every_line(viewer_for(other_parent), own)
    assert line.actor_id == people["parent"].user.pk


def test_another_childs_and_another_districts_reads_never_appear(world, people, days):
    own, schoolmate = world.a.students["own"], world.a.students["schoolmate"]
    district = world.a.district
    teacher = people["teacher"]
    read(teacher, [own, schoolmate], ["grades"], when=at(district, days[0], 9))  # one roster
    read(teacher, [schoolmate], ["health"], when=at(district, days[0], 10))
    b = world.b
    read(viewer_for(b.users["teacher"]), [b.students["own"]], ["discipline"],
         when=at(b.district, days[0], 11))  # fmt: skip
    assert shape(every_line(people["parent"], own)) == [(days[0], teacher.user.pk, 1, ("grades",))]
    assert every_line(viewer_for(b.users["parent"]), b.students["own"])[0].categories == (
        "discipline",
    )
    for viewer, student in (
        (people["parent"], schoolmate),
        (viewer_for(b.users["parent"]), own),
        (people["teacher"], own),
        (viewer_for(world.outsider), own),
    ):
        with pytest.raises(StudentNotFound):
            child_reader_days(viewer, student.pk)


# --- Filters -------------------------------------------------------------------------


def test_filters_narrow_the_reads_a_line_counts(world, people, days):
    own, district = world.a.students["own"], world.a.district
    teacher, parent = people["teacher"], people["parent"]
    first, second, third = days
    for day in days:
        read(teacher, [own], ["grades"], when=at(district, day, 9))
        read(teacher, [own], ["attendance", "grades"], when=at(district, day, 10))
    assert [(line.day, line.reads) for line in every_line(parent, own, category="attendance")] == [
        (third, 1), (second, 1), (first, 1),
    ]  # fmt: skip
    assert every_line(parent, own, category="attendance")[0].categories == ("attendance", "grades")
    assert [line.day for line in every_line(parent, own, since=second)] == [third, second]
    assert [line.day for line in every_line(parent, own, until=second)] == [second, first]
    assert [line.day for line in every_line(parent, own, since=second, until=second)] == [second]
    assert every_line(parent, own, category="no-such") == []


# --- Pages by key --------------------------------------------------------------------


@pytest.fixture
def many_lines(world, people, days):
    """Fifteen lines over three days, two of them beginning at the very same instant; the
    newest day written first, so the log's order is not the clock's."""
    own, district = world.a.students["own"], world.a.district
    readers = [people[name] for name in ("teacher", "principal", "nurse", "admin")]
    readers.append(viewer_for(f.RoleMembershipFactory(
        user=f.UserFactory(district=district), role="counselor", school=world.a.school1
    ).user))  # fmt: skip
    for day in reversed(days):
        for n, reader in enumerate(readers):
            # The teacher and the principal begin together: a tie on the first read.
            minute = 0 if n < 2 else n
            read(reader, [own], ["grades"], when=at(district, day, 9, minute, 123))
            read(reader, [own], ["attendance"], when=at(district, day, 15, minute))
    return own


@pytest.fixture(params=["the thousand newest", "two, then four, then eight"])
def reads_window(request):
    """The page's window of reads as shipped, and so small that nearly every page must
    widen it: the lines must not depend on it."""
    if request.param == "the thousand newest":
        yield
        return
    with patch("access.family.READS_WINDOW", 2), patch("access.family.WINDOW_GROWTH", 2):
        yield


def test_paging_by_key_loses_and_repeats_no_line(people, many_lines, reads_window):
    parent = people["parent"]
    everything = every_line(parent, many_lines)
    assert len(everything) == 15 and len({line.key for line in everything}) == 15
    assert [line.day for line in everything] == sorted(
        (line.day for line in everything), reverse=True
    )
    for limit in range(1, 8):  # every boundary, the tie's included
        pages, key = [], None
        while True:
            found = child_reader_days(parent, many_lines.pk, limit=limit, older_than=key)
            assert found.has_newer == bool(pages)
            pages.append(found.lines)
            if not found.has_older:
                break
            key = found.lines[-1].key
        assert [line for page in pages for line in page] == everything, limit
        assert all(len(page) == limit for page in pages[:-1])
        # And back up: each "Newer" page is the one shown before it.
        back, key = [pages[-1]], pages[-1][0].key
        while True:
            found = child_reader_days(parent, many_lines.pk, limit=limit, newer_than=key)
            assert found.has_older
            if not found.lines:
                break
            back.append(found.lines)
            if not found.has_newer:
                break
            key = found.lines[0].key
        assert [line for page in reversed(back) for line in page] == everything, limit


def test_the_tie_is_broken_by_the_logs_own_order(people, many_lines):
    everything = every_line(people["parent"], many_lines)
    tied = [line for line in everything if line.first_at == everything[-1].first_at]
    assert len(tied) == 2 and tied[0].key.sequence > tied[1].key.sequence


@pytest.mark.parametrize("reads", [3, 60])
def test_the_lines_query_does_not_grow_with_the_reads(
    world, people, days, reads, django_assert_num_queries
):
    own, district = world.a.students["own"], world.a.district
    for n in range(reads):
        read(people["teacher"], [own], ["grades"], when=at(district, days[n % 3], 8, n))
    key = LineKey(at(district, days[2], 23), 10**12)
    for kwargs in ({}, {"older_than": key}, {"newer_than": LineKey(at(district, days[0], 0), 0)}):
        # The child (access/'s gate), where the window of reads begins, then the lines:
        # three queries, whatever the reads.
        with django_assert_num_queries(3):
            child_reader_days(people["parent"], own.pk, limit=2, **kwargs)


# --- The page ------------------------------------------------------------------------


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def access_url(student) -> str:
    return f"/family/{student.pk}/access/"


def test_the_page_says_a_readers_day_in_one_line(world, people, days):
    own, district = world.a.students["own"], world.a.district
    # Times are the district's own: a district on the west coast reads 8:05 there.
    district.timezone = "America/Los_Angeles"
    district.save()
    day = days[0]
    teacher = viewer_for(world.a.users["teacher"])
    for hour, minute, categories in (
        (8, 5, ["grades"]),
        (11, 0, ["attendance"]),
        (14, 10, ["grades"]),
    ):
        read(teacher, [own], categories, when=at(district, day, hour, minute), roles=["teacher"])
    read(viewer_for(world.a.users["principal"]), [own], ["attendance"],
         when=at(district, day, 9, 30), roles=["principal"])  # fmt: skip
    response = client_for(world.a.users["parent"]).get(access_url(own))
    body = response.content.decode()
    assert response.status_code == 200
    [group] = response.context["days"]
    assert group["day"] == day and len(group["lines"]) == 2
    heading = f"{day.strftime('%A')}, "
    assert heading in body
    assert "A teacher at A Middle, viewing the class roster" in body
    assert "Information: Attendance, Grades" in body
    assert "3 times, between 8:05 a.m. and 2:10 p.m." in body
    assert "Once, at 9:30 a.m." in body
    # The principal began later that day: their line comes first.
    assert body.index("A principal at A Middle") < body.index("A teacher at A Middle")
    assert response.context["newer"] is None and response.context["older"] is None


def follow(client, student, query: str):
    return client.get(f"{access_url(student)}?{query}")


def lines_of(response) -> list[str]:
    return [line["times"] for day in response.context["days"] for line in day["lines"]]


@pytest.fixture
def thirty_days(world, people):
    """The teacher read the child on each of the last 30 days, at a different minute."""
    own, district = world.a.students["own"], world.a.district
    today = district.today()
    for n in range(30):
        day = today - timedelta(days=n + 1)
        categories = ["grades"] if n % 2 else ["attendance", "grades"]
        read(people["teacher"], [own], categories, when=at(district, day, 8, n))
    return own


def test_older_and_newer_pages_carry_a_sealed_key_and_the_filters(world, thirty_days):
    own = thirty_days
    client = client_for(world.a.users["parent"])
    first = client.get(access_url(own))
    assert len(lines_of(first)) == 25 and first.context["newer"] is None
    older = first.context["older"]
    assert set(re.findall(r"(\w+)=", older)) == {"older"}
    token = older.split("=", 1)[1]
    # Sealed whole: 32 bytes of cipher text and tag, nothing readable beside them.
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert len(urlsafe_b64decode(token + "=")) == 32
    assert f'href="?{older}#entries-heading"' in first.content.decode().replace("&amp;", "&")
    second = follow(client, own, older)
    assert len(lines_of(second)) == 5 and second.context["older"] is None
    first_days = [g["day"] for g in first.context["days"]]
    second_days = [g["day"] for g in second.context["days"]]
    assert sorted(first_days + second_days, reverse=True) == first_days + second_days
    assert len(set(first_days + second_days)) == 30
    back = follow(client, own, second.context["newer"])
    assert [g["day"] for g in back.context["days"]] == first_days
    assert back.context["newer"] is None and not back.context["cursor_lost"]
    # A filter stays on every link; its pages count only the reads it keeps.
    kept = client.get(access_url(own), {"category": "attendance"})
    assert len(lines_of(kept)) == 15 and kept.context["older"] is None
    graded = client.get(access_url(own), {"category": "grades", "since": "2000-01-01"})
    assert (
        "category=grades" in graded.context["older"]
        and "since=2000-01-01" in graded.context["older"]
    )
    assert len(lines_of(follow(client, own, graded.context["older"]))) == 5


def test_a_tampered_or_foreign_key_gives_the_newest_page(world, thirty_days):
    own = thirty_days
    parent = world.a.users["parent"]
    client = client_for(parent)
    first = client.get(access_url(own))
    newest = [g["day"] for g in first.context["days"]]
    token = first.context["older"].split("=", 1)[1]
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    other_parent = f.UserFactory(district=world.a.district)
    f.GuardianLinkFactory(student=own, guardian=other_parent)
    for client_, query in (
        (client, f"older={flipped}"),
        (client, f"newer={flipped}"),
        (client, "older="),
        (client, "older=%25%25%25"),
        (client, "older=" + "A" * 5000),
        (client, f"older={token}&newer={token}"),
        (client, f"older={token}&category=grades"),  # sealed to other filters
        (client_for(other_parent), f"older={token}"),  # sealed to another viewer
    ):
        response = follow(client_, own, query)
        assert response.status_code == 200, query
        # The newest page: the latest day on it, nothing newer.
        assert newest[0] in [g["day"] for g in response.context["days"]], query
        assert response.context["newer"] is None, query
        assert response.context["cursor_lost"], query
        assert "could not be opened" in response.content.decode(), query
    # The right key, by the right person, still opens.
    assert not follow(client, own, f"older={token}").context["cursor_lost"]


def test_the_page_costs_the_same_queries_whatever_the_reads(
    world, people, django_assert_max_num_queries
):
    """13 as with no staff read (tests/records/test_family_disclosures.py), and the
    readers' schools: 14, for one read or a hundred, on the first page or an older one."""
    own, district = world.a.students["own"], world.a.district
    today = district.today()
    client = client_for(world.a.users["parent"])
    counts = []
    for batch in (1, 99):
        for n in range(batch):
            reader = people[("teacher", "principal", "nurse", "admin")[n % 4]]
            read(
                reader, [own], ["grades"], when=at(district, today - timedelta(days=n % 40 + 1), 9)
            )
        client.get(access_url(own))  # session and caches warm
        with django_assert_max_num_queries(14) as first:
            response = client.get(access_url(own))
        counts.append(len(first.captured_queries))
        if response.context["older"]:
            with django_assert_max_num_queries(14) as older:
                follow(client, own, response.context["older"])
            counts.append(len(older.captured_queries))
    assert counts == [14] * len(counts) and len(counts) == 3
