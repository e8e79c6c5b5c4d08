"""The attendance roll-up (records/attendance_months.py): whatever writes the marks, each
student-month's counts are the marks' own, and this year's rate read from it is the rate
the marks give."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import pytest
from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from records import attendance_months
from records import models as m
from records.selectors import ATTENDED_STATUSES, attendance_rate_this_year
from tests import factories as f

pytestmark = pytest.mark.django_db

STATUSES = m.AttendanceRecord.Status.values
AUGUST_20 = date(2026, 8, 20)


def recounted(district) -> dict:
    """(student, month) → (recorded, attended), counted from the marks."""
    rows = (
        m.AttendanceRecord.unscoped.filter(district=district)
        .annotate(month=TruncMonth("date"))
        .values("student_id", "month")
        .annotate(
            recorded=Count("pk"), attended=Count("pk", filter=Q(status__in=ATTENDED_STATUSES))
        )
    )
    return {(r["student_id"], r["month"]): (r["recorded"], r["attended"]) for r in rows}


def rolled_up(district) -> dict:
    rows = m.AttendanceMonth.unscoped.filter(district=district).values_list(
        "student_id", "month", "recorded", "attended"
    )
    # A month whose marks were all deleted keeps a row of zeros.
    return {(s, month): (r, a) for s, month, r, a in rows if (r, a) != (0, 0)}


@pytest.fixture
def district():
    return f.DistrictFactory()


@pytest.fixture
def students(district):
    return [f.StudentFactory(district=district) for _ in range(3)]


marks = st.lists(
    st.tuples(
        st.integers(0, 2),  # which student
        st.dates(date(2026, 7, 25), date(2026, 10, 5)),
        st.sampled_from(STATUSES),
    ),
    max_size=12,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(added=marks, restatus=st.sampled_from(STATUSES), dropped=st.integers(0, 5))
def test_the_roll_up_follows_every_kind_of_write(district, students, added, restatus, dropped):
    m.AttendanceRecord.unscoped.bulk_create(
        m.AttendanceRecord(district=district, student=students[i], date=day, status=status)
        for i, day, status in added
    )
    assert rolled_up(district) == recounted(district)
    # A statement changing many marks at once, across months and statuses.
    m.AttendanceRecord.unscoped.filter(district=district, date__day__lte=10).update(status=restatus)
    assert rolled_up(district) == recounted(district)
    # Marks moved to another month, one row at a time (the teacher's page corrects this way).
    for mark in m.AttendanceRecord.unscoped.filter(district=district).order_by("pk")[:2]:
        mark.date += timedelta(days=31)
        mark.save()
    assert rolled_up(district) == recounted(district)
    doomed = m.AttendanceRecord.unscoped.filter(district=district).order_by("-pk")[:dropped]
    m.AttendanceRecord.unscoped.filter(pk__in=list(doomed.values_list("pk", flat=True))).delete()
    assert rolled_up(district) == recounted(district)


def test_deleting_a_student_takes_their_months_with_them(district, students):
    m.AttendanceRecord.unscoped.bulk_create(
        m.AttendanceRecord(district=district, student=s, date=AUGUST_20, status="present")
        for s in students
    )
    students[0].delete()
    assert set(rolled_up(district)) == {(s.pk, date(2026, 8, 1)) for s in students[1:]}
    assert rolled_up(district) == recounted(district)


def _school_year(district, start: date) -> None:
    f.AcademicSessionFactory(
        district=district,
        kind=m.AcademicSession.Kind.SCHOOL_YEAR,
        start_date=start,
        end_date=date(2027, 6, 15),
    )


def _rates(district, today: date) -> dict[int, float | None]:
    rows = (
        m.Student.unscoped.filter(district=district)
        .annotate(rate=attendance_rate_this_year(district_id=district.pk, today=today))
        .values_list("pk", "rate")
    )
    return dict(rows)


def _mark(district, student, day: date, status: str) -> None:
    m.AttendanceRecord.unscoped.create(district=district, student=student, date=day, status=status)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # The year starts mid-month: August's marks before the 20th are last year's.
        (AUGUST_20, 200 / 3),
        # It starts on the 1st: all of August counts.
        (date(2026, 8, 1), 50.0),
        # No school year set up: every mark counts.
        (None, 50.0),
    ],
)
def test_this_years_rate_counts_from_the_school_years_first_day(
    district, students, start, expected
):
    if start is not None:
        _school_year(district, start)
    student = students[0]
    _mark(district, student, date(2026, 8, 10), "absent")  # summer school, before the 20th
    _mark(district, student, date(2026, 8, 25), "present")
    _mark(district, student, date(2026, 9, 3), "excused")
    _mark(district, student, date(2026, 9, 4), "tardy")
    rates = _rates(district, today=date(2026, 10, 1))
    assert rates[student.pk] == pytest.approx(expected)
    assert rates[students[1].pk] is None  # no days recorded


def test_last_years_marks_do_not_count_this_year(district, students):
    _school_year(district, AUGUST_20)
    student = students[0]
    _mark(district, student, date(2026, 5, 12), "absent")
    _mark(district, student, date(2026, 9, 1), "present")
    assert _rates(district, today=date(2026, 10, 1))[student.pk] == 100.0


def test_the_demos_sqlite_triggers_keep_the_same_counts():
    """The embedded default's triggers are plain SQL of their own: run them on SQLite."""
    db = sqlite3.connect(":memory:")
    db.executescript(
        """
        CREATE TABLE records_attendancerecord (
            id INTEGER PRIMARY KEY, district_id INT, student_id INT, date TEXT, status TEXT);
        CREATE TABLE records_attendancemonth (
            id INTEGER PRIMARY KEY, district_id INT, student_id INT, month TEXT,
            recorded INT, attended INT, UNIQUE (district_id, student_id, month));
        """
    )
    for statement in attendance_months._SQLITE_TRIGGERS:
        db.execute(statement)
    rows = [
        (1, 7 + n % 2, f"2026-{8 + n % 3:02d}-{10 + n:02d}", STATUSES[n % 4]) for n in range(12)
    ]
    db.executemany(
        "INSERT INTO records_attendancerecord (district_id, student_id, date, status) "
        "VALUES (?, ?, ?, ?)",
        rows,
    )
    db.execute("UPDATE records_attendancerecord SET status = 'present' WHERE id % 3 = 0")
    db.execute("UPDATE records_attendancerecord SET date = '2026-11-02' WHERE id = 2")
    db.execute("DELETE FROM records_attendancerecord WHERE id % 4 = 1")
    recount = db.execute(
        "SELECT student_id, strftime('%Y-%m-01', date), count(*), "
        "sum(status IN ('present', 'tardy')) FROM records_attendancerecord GROUP BY 1, 2"
    ).fetchall()
    kept = db.execute(
        "SELECT student_id, month, recorded, attended FROM records_attendancemonth "
        "WHERE recorded > 0"
    ).fetchall()
    assert sorted(kept) == sorted(recount)
