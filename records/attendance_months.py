"""The attendance roll-up (``AttendanceMonth``) is kept by the database: triggers on
``records_attendancerecord`` add and take away each mark's count in its student's month,
whatever writes it (the teacher's page, an import, a bulk COPY). PostgreSQL's triggers
are per statement, over the statement's transition tables, so a COPY of a year of marks
updates each student-month once; the embedded SQLite's are per row.

Migration 0020 installs them and fills the roll-up from the marks already there.
"""

from __future__ import annotations

from django.db import migrations

# Days attended: present or tardy (as records.selectors.attendance_summary counts them).
_POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION records_attendance_months_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE records_attendancemonth m
           SET recorded = m.recorded - gone.recorded, attended = m.attended - gone.attended
          FROM (SELECT district_id, student_id, date_trunc('month', date)::date AS month,
                       count(*) AS recorded,
                       count(*) FILTER (WHERE status IN ('present', 'tardy')) AS attended
                  FROM old_marks GROUP BY 1, 2, 3) gone
         WHERE m.district_id = gone.district_id AND m.student_id = gone.student_id
           AND m.month = gone.month;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        -- In key order, so two writers of the same students lock their months alike.
        INSERT INTO records_attendancemonth (district_id, student_id, month, recorded, attended)
        SELECT district_id, student_id, date_trunc('month', date)::date, count(*),
               count(*) FILTER (WHERE status IN ('present', 'tardy'))
          FROM new_marks GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (district_id, student_id, month) DO UPDATE
           SET recorded = records_attendancemonth.recorded + EXCLUDED.recorded,
               attended = records_attendancemonth.attended + EXCLUDED.attended;
    END IF;
    RETURN NULL;
END $$;
"""

# A trigger with transition tables serves one event only.
_POSTGRES_TRIGGERS = [
    "CREATE TRIGGER records_attendance_months_insert AFTER INSERT ON records_attendancerecord "
    "REFERENCING NEW TABLE AS new_marks FOR EACH STATEMENT "
    "EXECUTE FUNCTION records_attendance_months_apply()",
    "CREATE TRIGGER records_attendance_months_update AFTER UPDATE ON records_attendancerecord "
    "REFERENCING OLD TABLE AS old_marks NEW TABLE AS new_marks FOR EACH STATEMENT "
    "EXECUTE FUNCTION records_attendance_months_apply()",
    "CREATE TRIGGER records_attendance_months_delete AFTER DELETE ON records_attendancerecord "
    "REFERENCING OLD TABLE AS old_marks FOR EACH STATEMENT "
    "EXECUTE FUNCTION records_attendance_months_apply()",
]

_POSTGRES_BACKFILL = """
INSERT INTO records_attendancemonth (district_id, student_id, month, recorded, attended)
SELECT district_id, student_id, date_trunc('month', date)::date, count(*),
       count(*) FILTER (WHERE status IN ('present', 'tardy'))
  FROM records_attendancerecord GROUP BY 1, 2, 3
"""

_POSTGRES_FILL_DISTRICT = """
INSERT INTO records_attendancemonth (district_id, student_id, month, recorded, attended)
SELECT district_id, student_id, date_trunc('month', date)::date, count(*),
       count(*) FILTER (WHERE status IN ('present', 'tardy'))
  FROM records_attendancerecord WHERE district_id = %s GROUP BY 1, 2, 3
"""


def fill_district(cursor, district_id: int) -> int:
    """Count one district's roll-up from its marks (PostgreSQL), for a load that wrote
    the marks with triggers off (``session_replication_role = replica``, as the seeder
    does) and none of the district's months yet: the months written."""
    cursor.execute(_POSTGRES_FILL_DISTRICT, [district_id])
    return cursor.rowcount


_POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS records_attendance_months_insert ON records_attendancerecord",
    "DROP TRIGGER IF EXISTS records_attendance_months_update ON records_attendancerecord",
    "DROP TRIGGER IF EXISTS records_attendance_months_delete ON records_attendancerecord",
    "DROP FUNCTION IF EXISTS records_attendance_months_apply()",
]

_SQLITE_ADD_NEW = """
    INSERT OR IGNORE INTO records_attendancemonth
           (district_id, student_id, month, recorded, attended)
    VALUES (NEW.district_id, NEW.student_id, strftime('%Y-%m-01', NEW.date), 0, 0);
    UPDATE records_attendancemonth
       SET recorded = recorded + 1, attended = attended + (NEW.status IN ('present', 'tardy'))
     WHERE district_id = NEW.district_id AND student_id = NEW.student_id
       AND month = strftime('%Y-%m-01', NEW.date);"""

_SQLITE_TAKE_OLD = """
    UPDATE records_attendancemonth
       SET recorded = recorded - 1, attended = attended - (OLD.status IN ('present', 'tardy'))
     WHERE district_id = OLD.district_id AND student_id = OLD.student_id
       AND month = strftime('%Y-%m-01', OLD.date);"""

_SQLITE_TRIGGERS = [
    "CREATE TRIGGER records_attendance_months_insert AFTER INSERT ON records_attendancerecord "
    "BEGIN" + _SQLITE_ADD_NEW + " END",
    "CREATE TRIGGER records_attendance_months_update AFTER UPDATE ON records_attendancerecord "
    "BEGIN" + _SQLITE_TAKE_OLD + _SQLITE_ADD_NEW + " END",
    "CREATE TRIGGER records_attendance_months_delete AFTER DELETE ON records_attendancerecord "
    "BEGIN" + _SQLITE_TAKE_OLD + " END",
]

_SQLITE_BACKFILL = """
INSERT INTO records_attendancemonth (district_id, student_id, month, recorded, attended)
SELECT district_id, student_id, strftime('%Y-%m-01', date), count(*),
       sum(status IN ('present', 'tardy'))
  FROM records_attendancerecord GROUP BY 1, 2, 3
"""

_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS records_attendance_months_insert",
    "DROP TRIGGER IF EXISTS records_attendance_months_update",
    "DROP TRIGGER IF EXISTS records_attendance_months_delete",
]


def _install(apps, schema_editor) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    statements = (
        [_POSTGRES_FUNCTION, *_POSTGRES_TRIGGERS, _POSTGRES_BACKFILL]
        if postgres
        else [*_SQLITE_TRIGGERS, _SQLITE_BACKFILL]
    )
    for statement in statements:
        schema_editor.execute(statement)


def _remove(apps, schema_editor) -> None:
    postgres = schema_editor.connection.vendor == "postgresql"
    for statement in _POSTGRES_DROP if postgres else _SQLITE_DROP:
        schema_editor.execute(statement)


def install_triggers() -> migrations.RunPython:
    """The migration step: the triggers, then the roll-up of the marks already there."""
    return migrations.RunPython(_install, _remove)
