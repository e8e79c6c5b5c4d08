"""Importers analyze the tables they changed, once committed (issue 10, fault 5).

Until autovacuum came round, a just-imported district was planned with the statistics
of empty tables. These tests commit for real (``transaction=True``): ANALYZE runs after
commit, and ``pg_stat_user_tables.last_analyze`` is set by a manual ANALYZE only.
"""

from __future__ import annotations

import pytest
from django.db import connection

from records.importers.oneroster import import_oneroster
from records.importers.records_csv import import_records
from tests.records.oneroster_bundles import small_district, write_bundle

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="ANALYZE is PostgreSQL's"),
]

ROSTER_TABLES = {
    "accounts_user",
    "accounts_rolemembership",
    "records_school",
    "records_academicsession",
    "records_course",
    "records_section",
    "records_student",
    "records_schoolmembership",
    "records_guardianlink",
    "records_enrollment",
    "records_sectionteacher",
}


def last_analyzed() -> dict[str, object]:
    """When each table was last analyzed; a partitioned table's partitions are analyzed
    with it and not named."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.relname, s.last_analyze FROM pg_stat_user_tables s "
            "JOIN pg_class c ON c.oid = s.relid WHERE NOT c.relispartition"
        )
        return dict(cursor.fetchall())


def analyzed_since(before: dict[str, object]) -> set[str]:
    return {
        table
        for table, when in last_analyzed().items()
        if when is not None and when != before.get(table)
    }


def test_a_roster_import_analyzes_exactly_the_tables_it_changed(tmp_path):
    bundle = write_bundle(tmp_path / "bundle", small_district())
    before = last_analyzed()

    report, _ = import_oneroster(bundle, district_slug="maple")

    assert report.applied and report.changes
    # No grades in the bundle: records_grade is left alone, as are the record tables.
    assert analyzed_since(before) == ROSTER_TABLES

    before = last_analyzed()
    again, _ = import_oneroster(bundle, district_slug="maple")
    assert again.changes == 0
    assert analyzed_since(before) == set()


def test_a_dry_run_analyzes_nothing(tmp_path):
    bundle = write_bundle(tmp_path / "bundle", small_district())
    before = last_analyzed()

    report, _ = import_oneroster(bundle, district_slug="maple", dry_run=True)

    assert report.changes and not report.applied
    assert analyzed_since(before) == set()


def test_a_records_import_analyzes_the_record_tables_it_changed(world, tmp_path):
    own = world.a.students["own"].sourced_id
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "attendance.csv").write_text(
        f"studentSourcedId,date,status,classSourcedId,reason\n{own},2026-09-01,present,,\n"
    )
    (folder / "health.csv").write_text(
        f"studentSourcedId,conditions,allergies,medications,immunizationStatus\n{own},,,,\n"
    )
    before = last_analyzed()

    report, _ = import_records(folder, district=world.a.district)

    assert report.applied and report.changes == 2
    assert analyzed_since(before) == {"records_attendancerecord", "records_healthrecord"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'records_attendancerecord'")
        assert cursor.fetchone()[0] == 1  # the planner knows the row is there

    before = last_analyzed()
    import_records(folder, district=world.a.district)
    assert analyzed_since(before) == set()
