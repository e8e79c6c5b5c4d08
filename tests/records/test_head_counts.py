"""Head counts of school memberships (records/head_counts.py): whatever writes the
memberships, the bands sum to the students a count finds, on any day and for any set of
schools, students of several schools once; a grant's OneRoster total is read from them."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access.models import Grant
from access.providers import viewer_for_grants
from access.scoping import current_members, reached_student_count, reached_students
from records import head_counts
from records import models as m
from records.tenancy import tenant_scope
from tests import factories as f
from tests.records.test_oneroster_rest import Feed
from tests.roles import as_owner

pytestmark = pytest.mark.django_db

START = date(2026, 8, 20)
DAYS = [START + timedelta(days=n) for n in (-30, 0, 1, 45, 120, 400)]


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the head counts are PostgreSQL's triggers")


@pytest.fixture
def district():
    return f.DistrictFactory()


@pytest.fixture
def schools(district):
    return [f.SchoolFactory(district=district) for _ in range(3)]


@pytest.fixture
def students(district):
    return [f.StudentFactory(district=district) for _ in range(5)]


def counted(district, day, school_ids) -> int:
    members = m.SchoolMembership.unscoped.filter(m.active_on_q(day), district=district)
    if school_ids is not None:
        members = members.filter(school_id__in=school_ids)
    return members.values("student_id").distinct().count()


def assert_counts_hold(district, schools) -> None:
    subsets = [None, [schools[0].pk], [schools[0].pk, schools[1].pk], [s.pk for s in schools]]
    for day in DAYS:
        for subset in subsets:
            expected = counted(district, day, subset)
            assert current_members(district.pk, day, subset) == expected, (day, subset)
    assert not m.HeadCount.unscoped.filter(members__lte=0).exists()  # no empty bands kept


def refilled(district) -> tuple[set, set]:
    """The bands and students of several schools as ``fill_district`` counts them anew."""
    kept = bands_and_students(district)
    m.HeadCount.unscoped.filter(district=district).delete()
    m.MultiSchoolStudent.unscoped.filter(district=district).delete()
    with connection.cursor() as cursor:
        head_counts.fill_district(cursor, district.pk)
    return kept, bands_and_students(district)


def bands_and_students(district) -> tuple[set, set]:
    bands = set(
        m.HeadCount.unscoped.filter(district=district).values_list(
            "school_id", "begin_date", "end_date", "members"
        )
    )
    several = set(
        m.MultiSchoolStudent.unscoped.filter(district=district).values_list("student_id", flat=True)
    )
    return bands, several


dates = st.one_of(st.none(), st.dates(START - timedelta(days=60), START + timedelta(days=200)))
memberships = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 2), dates, dates),  # student, school, dates
    max_size=12,
    unique_by=lambda row: (row[0], row[1]),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(added=memberships, moved_to=dates, ended=dates, dropped=st.integers(0, 4))
def test_the_head_counts_follow_every_kind_of_write(
    district, schools, students, added, moved_to, ended, dropped
):
    m.SchoolMembership.unscoped.filter(district=district).delete()
    m.SchoolMembership.unscoped.bulk_create(  # one statement: many students, bands, schools
        m.SchoolMembership(
            district=district, student=students[s], school=schools[k], begin_date=b, end_date=e
        )
        for s, k, b, e in added
    )
    assert_counts_hold(district, schools)
    # A statement changing many memberships' dates at once.
    m.SchoolMembership.unscoped.filter(district=district, school=schools[0]).update(
        begin_date=moved_to
    )
    assert_counts_hold(district, schools)
    m.SchoolMembership.unscoped.filter(district=district, student=students[1]).update(
        end_date=ended
    )
    assert_counts_hold(district, schools)
    # A membership moved to a school the student has none of (a transfer as an edit).
    first = m.SchoolMembership.unscoped.filter(district=district, school=schools[2]).first()
    holds = m.SchoolMembership.unscoped.filter(school=schools[1])
    if first and not holds.filter(student_id=first.student_id).exists():
        m.SchoolMembership.unscoped.filter(pk=first.pk).update(school=schools[1])
        assert_counts_hold(district, schools)
    m.SchoolMembership.unscoped.filter(district=district, student=students[dropped]).delete()
    assert_counts_hold(district, schools)
    kept, filled = refilled(district)
    assert kept == filled


def test_a_student_of_two_schools_counts_once_and_only_while_both_hold(district, schools, students):
    pupil = students[0]
    m.SchoolMembership.unscoped.create(district=district, student=pupil, school=schools[0])
    assert not m.MultiSchoolStudent.unscoped.exists()
    m.SchoolMembership.unscoped.create(
        district=district, student=pupil, school=schools[1], end_date=START
    )
    assert list(m.MultiSchoolStudent.unscoped.values_list("student_id", flat=True)) == [pupil.pk]
    assert current_members(district.pk, START, None) == 1
    assert current_members(district.pk, START, [schools[1].pk]) == 1
    assert current_members(district.pk, START + timedelta(days=1), None) == 1
    assert current_members(district.pk, START + timedelta(days=1), [schools[1].pk]) == 0
    m.SchoolMembership.unscoped.filter(school=schools[1]).delete()
    assert not m.MultiSchoolStudent.unscoped.exists()


def test_a_student_who_moved_school_is_not_kept_as_of_two(district, schools, students):
    """One school after the other never counts twice: such students (every student who
    moved up to middle school, in time) stay out of the few the total reads apart."""
    pupil = students[0]
    m.SchoolMembership.unscoped.create(
        district=district, student=pupil, school=schools[0], end_date=START
    )
    m.SchoolMembership.unscoped.create(
        district=district, student=pupil, school=schools[1], begin_date=START + timedelta(days=1)
    )
    assert not m.MultiSchoolStudent.unscoped.exists()
    assert current_members(district.pk, START, None) == 1
    assert current_members(district.pk, START + timedelta(days=1), None) == 1
    m.SchoolMembership.unscoped.filter(school=schools[1]).update(begin_date=START)  # a day of both
    assert list(m.MultiSchoolStudent.unscoped.values_list("student_id", flat=True)) == [pupil.pk]
    assert current_members(district.pk, START, None) == 1


def test_a_deleted_student_leaves_no_count(district, schools, students):
    for school in schools[:2]:
        m.SchoolMembership.unscoped.create(district=district, student=students[0], school=school)
    students[0].delete()
    assert not m.MultiSchoolStudent.unscoped.filter(district=district).exists()
    assert not m.HeadCount.unscoped.filter(district=district).exists()


@pytest.mark.django_db(transaction=True)
def test_two_writers_giving_one_student_two_schools_at_once_both_count(district, schools):
    """The second writer's trigger waits for the first to commit (the student's row is
    locked before the recount), then counts both memberships: without the lock each
    would recount only its own and the student would count twice."""
    pupil = f.StudentFactory(district=district)
    first_written, second_started = threading.Event(), threading.Event()

    def first() -> None:
        try:
            with tenant_scope(district), transaction.atomic():
                m.SchoolMembership.unscoped.create(
                    district=district, student=pupil, school=schools[0]
                )
                first_written.set()
                second_started.wait(timeout=10)
                time.sleep(0.5)  # the second is at the lock by now
        finally:
            connections.close_all()

    def second() -> None:
        try:
            first_written.wait(timeout=10)
            second_started.set()
            with tenant_scope(district):
                m.SchoolMembership.unscoped.create(
                    district=district, student=pupil, school=schools[1]
                )
        finally:
            connections.close_all()

    writers = [threading.Thread(target=first), threading.Thread(target=second)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=30)
    assert list(m.MultiSchoolStudent.unscoped.values_list("student_id", flat=True)) == [pupil.pk]
    assert current_members(district.pk, START, None) == 1


def test_the_migration_counts_the_memberships_already_there(district, schools, students):
    """The migration's step on a database with memberships: the bands it counts are the
    triggers' own, and the migration's later ALTER TABLEs are not refused for the bands'
    key checks left pending."""
    for n, student in enumerate(students):
        for school in schools[: 1 + n % 2]:
            m.SchoolMembership.unscoped.create(district=district, student=student, school=school)
    kept = bands_and_students(district)
    with as_owner(), connection.schema_editor(atomic=False) as editor:
        head_counts._remove(apps, editor)
        m.HeadCount.unscoped.all().delete()
        m.MultiSchoolStudent.unscoped.all().delete()
        head_counts._install(apps, editor)
        editor.execute("ALTER TABLE records_headcount ALTER COLUMN members SET DEFAULT 0")
    assert bands_and_students(district) == kept
    assert kept[1] == {student.pk for n, student in enumerate(students) if n % 2}


# A grant's reach -------------------------------------------------------------------------


@pytest.fixture
def roster(district, schools):
    """Students at each school, one at two, one whose membership ended, grades mixed."""
    today = district.today()
    for n in range(9):
        student = f.StudentFactory(district=district, grade_level="09" if n % 2 else "10")
        f.SchoolMembershipFactory(student=student, school=schools[n % 3])
    twice = f.StudentFactory(district=district)
    for school in schools[:2]:
        f.SchoolMembershipFactory(student=twice, school=school)
    gone = f.StudentFactory(district=district)
    f.SchoolMembershipFactory(student=gone, school=schools[0], end_date=today - timedelta(days=1))


def grant(district, **fields) -> Grant:
    return f.GrantFactory(agreement__provider__district=district, **fields)


def viewer(district, *grants):
    return viewer_for_grants(list(grants), district, client_name="client test")


@pytest.mark.parametrize(
    "populations",
    [
        [{"population": Grant.Population.DISTRICT}],
        [{"population": Grant.Population.SCHOOLS, "school_ids": [0]}],
        [{"population": Grant.Population.SCHOOLS, "school_ids": [0, 1]}],
        [{"population": Grant.Population.RULES, "school_ids": [1]}],
        [{"population": Grant.Population.RULES}],
        [{"population": Grant.Population.SCHOOLS, "school_ids": []}],
        [
            {"population": Grant.Population.SCHOOLS, "school_ids": [0]},
            {"population": Grant.Population.SCHOOLS, "school_ids": [1]},
        ],
        [
            {"population": Grant.Population.SCHOOLS, "school_ids": [2]},
            {"population": Grant.Population.DISTRICT},
        ],
    ],
    ids=["district", "school", "schools", "rule-school", "rule-all", "none", "two", "with-all"],
)
def test_a_grant_of_whole_schools_is_counted_from_the_head_counts(
    district, schools, roster, populations
):
    grants = []
    for fields in populations:
        fields = dict(fields)
        if "school_ids" in fields:
            fields["school_ids"] = [schools[i].pk for i in fields["school_ids"]]
        grants.append(grant(district, **fields))
    reader = viewer(district, *grants)
    with CaptureQueriesContext(connection) as queries:
        total = reached_student_count(reader)
    assert total == reached_students(reader).count()
    assert not any('FROM "records_student"' in q["sql"] for q in queries.captured_queries)


def test_grades_and_sections_are_counted_as_ever(district, schools, roster):
    by_grades = grant(district, population=Grant.Population.RULES, grade_levels=["09"])
    section = f.SectionFactory(district=district, school=schools[0])
    by_sections = grant(district, population=Grant.Population.SECTIONS, section_ids=[section.pk])
    for grants in ([by_grades], [by_sections], [by_grades, grant(district)]):
        assert reached_student_count(viewer(district, *grants)) is None


def test_the_oneroster_total_is_read_from_the_head_counts(client, district, schools, roster):
    feed = Feed(client, district, categories=["directory"])
    feed.get("v1p2", "students", limit="2")  # the token, once
    with CaptureQueriesContext(connection) as queries:
        response = feed.get("v1p2", "students", limit="2")
    assert response.status_code == 200
    assert int(response["X-Total-Count"]) == 10  # nine, one at two schools; not the gone one
    assert not any("COUNT(" in q["sql"] and "records_student" in q["sql"].split("COUNT(")[1]
                   for q in queries.captured_queries)  # fmt: skip
    filtered = feed.get("v1p2", "students", limit="2", filter="status='active'")
    assert int(filtered["X-Total-Count"]) == 10  # a filtered total is counted, alike
