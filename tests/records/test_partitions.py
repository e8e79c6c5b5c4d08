"""Partitioned tables (records/partitions.py): marks and results by school year, the
access log by kind and month; partitions made ahead; expired reads dropped a month at a
time, never a disclosure, with the chain still checking."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.db.transaction import atomic
from django.db.utils import InternalError

from access import audit
from access.anchors import Anchor, mismatched_anchors
from access.audit import Disclosure, record_access, verify_chain
from access.models import AccessEvent, AccessEventStudent, PrunedLogMonth
from access.tasks import drop_expired_reads
from access.viewer import viewer_for
from records import models as m
from records import partitions
from records.partitions import MONTH, SCHOOL_YEAR, period_of
from records.tasks import create_partitions
from tests import factories as f
from tests.roles import as_owner

pytestmark = pytest.mark.django_db


def stored_in(model, pk) -> str:
    """The partition holding the row ``pk`` of ``model``."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT tableoid::regclass::text FROM "{model._meta.db_table}" WHERE id = %s',
            [pk],
        )
        return cursor.fetchone()[0]


def test_periods_are_july_to_june_school_years_and_calendar_months():
    assert period_of(SCHOOL_YEAR, date(2026, 6, 30)).suffix == "sy2026"
    year = period_of(SCHOOL_YEAR, date(2026, 7, 1))
    assert (year.suffix, year.lower, year.upper) == ("sy2027", date(2026, 7, 1), date(2027, 7, 1))
    december = period_of(MONTH, date(2026, 12, 31))
    assert (december.suffix, december.upper) == ("2026_12", date(2027, 1, 1))


def test_marks_and_results_are_stored_in_their_school_years_partition():
    student = f.StudentFactory()
    this_year = m.AttendanceRecord.unscoped.create(
        district=student.district, student=student, date=date(2026, 9, 14), status="present"
    )
    long_ago = m.AttendanceRecord.unscoped.create(
        district=student.district, student=student, date=date(1998, 9, 14), status="absent"
    )
    result = m.AssessmentResult.unscoped.create(
        district=student.district,
        student=student,
        assessment="State Math",
        subject="math",
        administered_on=date(2027, 4, 20),
    )
    assert stored_in(m.AttendanceRecord, this_year.pk) == "records_attendancerecord_sy2027"
    # A date outside every partition is kept, in the default partition.
    assert stored_in(m.AttendanceRecord, long_ago.pk) == "records_attendancerecord_default"
    assert stored_in(m.AssessmentResult, result.pk) == "records_assessmentresult_sy2027"


def test_partitions_are_made_ahead_once_and_take_in_what_the_default_held(monkeypatch):
    student = f.StudentFactory()
    early = m.AttendanceRecord.unscoped.create(
        district=student.district, student=student, date=date(2030, 9, 3), status="tardy"
    )
    assert stored_in(m.AttendanceRecord, early.pk) == "records_attendancerecord_default"
    months_before = list(m.AttendanceMonth.unscoped.values_list("recorded", "attended"))
    monkeypatch.setattr("records.tasks.timezone.now", lambda: datetime(2030, 8, 20, tzinfo=UTC))
    assert create_partitions() == 2 * 2 + 4 * 3  # two school years, three months, each
    assert stored_in(m.AttendanceRecord, early.pk) == "records_attendancerecord_sy2031"
    assert "records_attendancerecord_sy2032" in partitions.partitions_of("records_attendancerecord")
    # Moving the row is not a new mark: the roll-up is as it was.
    assert list(m.AttendanceMonth.unscoped.values_list("recorded", "attended")) == months_before
    assert create_partitions() == 0


def check_keys_now():
    """Run the deferred key checks a test transaction holds (a commit would have): a
    table with checks pending can be neither altered nor dropped."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _read_at(monkeypatch, when: datetime, viewer, student, **kwargs) -> AccessEvent:
    monkeypatch.setattr(audit.timezone, "now", lambda: when)
    return record_access(
        viewer, student_ids=[student.pk], categories=["directory"], purpose="test", **kwargs
    )


def test_reads_and_disclosures_are_kept_apart_by_month(world, monkeypatch):
    student, viewer = world.a.students["own"], viewer_for(world.a.users["principal"])
    when = datetime(2026, 12, 2, 15, tzinfo=UTC)
    read = _read_at(monkeypatch, when, viewer, student)
    shared = _read_at(
        monkeypatch, when, viewer, student, disclosure=Disclosure("Bus Co", "99.31(a)(1)(i)(B)")
    )
    assert stored_in(AccessEvent, read.pk) == "access_accessevent_reads_2026_12"
    assert stored_in(AccessEvent, shared.pk) == "access_accessevent_disclosures_2026_12"
    row = AccessEventStudent.unscoped.get(event=read)
    assert (row.occurred_at, row.is_disclosure) == (when, False)
    assert stored_in(AccessEventStudent, row.pk) == "access_accesseventstudent_reads_2026_12"


def test_expired_reads_are_dropped_a_month_at_a_time_never_a_disclosure(
    world, monkeypatch, settings
):
    student, viewer = world.a.students["own"], viewer_for(world.a.users["principal"])
    disclosure = Disclosure("Bus Co", "99.31(a)(1)(i)(B)")
    # A year ago: the month's partitions are made late, taking the log's rows from the
    # default partitions (the log refuses every DELETE; the move is the owner's).
    old_read = _read_at(monkeypatch, datetime(2025, 11, 5, tzinfo=UTC), viewer, student)
    old_shared = _read_at(
        monkeypatch, datetime(2025, 11, 6, tzinfo=UTC), viewer, student, disclosure=disclosure
    )
    older_read = _read_at(monkeypatch, datetime(2025, 11, 7, tzinfo=UTC), viewer, student)
    assert stored_in(AccessEvent, old_read.pk) == "access_accessevent_reads_default"
    partitions.ensure_partitions(date(2025, 11, 1))
    assert stored_in(AccessEvent, old_read.pk) == "access_accessevent_reads_2025_11"
    recent = _read_at(monkeypatch, datetime(2026, 12, 3, tzinfo=UTC), viewer, student)
    assert verify_chain(world.a.district.pk) is None

    settings.ACCESS_LOG_RETENTION_MONTHS = 12
    check_keys_now()  # as if the rows were written long before, not in this transaction
    monkeypatch.setattr("access.tasks.timezone.now", lambda: datetime(2026, 12, 7, tzinfo=UTC))
    dropped = drop_expired_reads()
    assert dropped >= 2  # November 2025's reads and their students' rows, and older months
    kept = set(AccessEvent.unscoped.values_list("pk", flat=True))
    assert old_read.pk not in kept and older_read.pk not in kept
    assert {old_shared.pk, recent.pk} <= kept
    assert AccessEventStudent.unscoped.filter(event_id=old_shared.pk).exists()
    assert PrunedLogMonth.objects.filter(partition="access_accessevent_reads_2025_11").exists()
    # The gap the retention left is accepted; the chain is checked on either side of it.
    assert verify_chain(world.a.district.pk) is None
    assert drop_expired_reads() == 0
    # An anchor of a dropped read is no alarm; one of a missing recent event still is.
    district = world.a.district.pk
    dropped_anchor = Anchor(
        district, old_read.sequence, old_read.entry_hash, "2025-11-06T04:30:00+00:00"
    )
    missing_recent = Anchor(district, recent.sequence + 99, "0" * 64, "2026-12-04T04:30:00+00:00")
    kept_anchor = Anchor(district, recent.sequence, recent.entry_hash, "2026-12-04T04:30:00+00:00")
    assert mismatched_anchors(district, [dropped_anchor, missing_recent, kept_anchor]) == [
        missing_recent
    ]


def test_a_gap_after_the_dropped_months_is_still_found(world, monkeypatch):
    student, viewer = world.a.students["own"], viewer_for(world.a.users["principal"])
    _read_at(monkeypatch, datetime(2026, 12, 1, tzinfo=UTC), viewer, student)
    removed = _read_at(monkeypatch, datetime(2026, 12, 2, tzinfo=UTC), viewer, student)
    _read_at(monkeypatch, datetime(2026, 12, 3, tzinfo=UTC), viewer, student)
    # Reads of January 2025 were dropped by the retention long before these.
    PrunedLogMonth.objects.create(
        partition="access_accessevent_reads_2025_01",
        month=date(2025, 1, 1),
        dropped_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    with as_owner(), connection.cursor() as cursor:
        # What a database superuser could do: skip triggers for one transaction.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM access_accesseventstudent WHERE event_id = %s", [removed.pk])
        cursor.execute("DELETE FROM access_accessevent WHERE id = %s", [removed.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    assert verify_chain(world.a.district.pk) == removed.sequence


@pytest.mark.parametrize(
    "partition", ["access_accessevent_disclosures_2026_12", "records_attendancerecord_sy2027"]
)
def test_only_the_access_logs_reads_can_be_dropped(partition):
    with pytest.raises(InternalError, match="never expires"):
        partitions.drop_partition(partition)


def test_the_last_twelve_months_of_reads_are_never_dropped():
    """Not even when the application's role asks the database for it directly."""
    this_month = date.today().replace(day=1)
    last_kept = partitions.first_month_kept(this_month, partitions.MINIMUM_RETENTION_MONTHS)
    partitions.ensure_partitions(last_kept)
    for month in (this_month, last_kept):
        name = f"access_accessevent_reads_{month:%Y_%m}"
        assert name in partitions.partitions_of("access_accessevent_reads")
        with pytest.raises(InternalError, match="within the minimum retention"), atomic():
            partitions.drop_partition(name)
    # A shorter setting is held to the minimum too.
    assert partitions.expired_partitions(this_month, 1) == []
