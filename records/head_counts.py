"""Head counts of school memberships, kept by the database so that "how many students are
current members of these schools today" is a sum over a district's few bands, not a count
over its students. A grant's OneRoster total (``X-Total-Count``) is that number, and it is
asked anew after every roster write; at a million students a count took longer than the
page it heads (docs/benchmarks.md, "The cost curve").

- ``HeadCount``: memberships per (school, begin date, end date); an open date is stored as
  ``OPEN_BEGIN`` / ``OPEN_END``, so a day's members are one range test.
- ``MultiSchoolStudent``: the students with two memberships whose dates overlap (of two
  schools at once). The bands count such a student once per school; the total takes
  their repeats away, read from their own memberships (a few, where the bands are many).

PostgreSQL keeps both by statement-level triggers on ``records_schoolmembership`` over the
statement's transition tables (an import's insert of a district's memberships updates each
band once), whatever writes the memberships. A trigger recounts the memberships of the
students its statement touched after locking their rows: two writers giving one student
two schools at once wait for each other, and the later one counts both. The embedded
SQLite keeps neither: access/scoping.py's ``current_members``, which reads them,
answers None there, and the total is counted.

Migration 0024 installs the triggers and counts the memberships already there (0025
replaced the functions' search for students of two schools); a load with triggers off
(the seeder) calls ``fill_district`` after it.
"""

from __future__ import annotations

from datetime import date

from django.db import migrations

OPEN_BEGIN = date(1, 1, 1)
OPEN_END = date(9999, 12, 31)

_BEGINS = f"COALESCE(begin_date, DATE '{OPEN_BEGIN.isoformat()}')"
_ENDS = f"COALESCE(end_date, DATE '{OPEN_END.isoformat()}')"
_BAND = f"district_id, school_id, {_BEGINS}, {_ENDS}"


def _overlapping_students(where: str) -> str:
    """The students, among the memberships ``where`` picks, with two whose dates overlap
    (a day of both): the students the bands count twice on some day. In begin order, a
    membership beginning on or before the latest end of those before it overlaps one of
    them. One school after another (a move up to middle school, a transfer) never
    overlaps, so those students are not kept (one whose end precedes its begin, never
    current, may keep its student needlessly: a kept student costs only a read). One
    pass and a sort, whatever the planner knows: a self-join of the memberships, planned
    without statistics inside a load's transaction, matched each membership against
    every other of the district."""
    return f"""
    SELECT DISTINCT district_id, student_id FROM (
        SELECT district_id, student_id, {_BEGINS} AS begins, max({_ENDS}) OVER (
                   PARTITION BY district_id, student_id ORDER BY {_BEGINS}, id
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_ends
          FROM records_schoolmembership {where}) in_order
     WHERE begins <= earlier_ends"""  # noqa: S608 (constants of this module only)


# Each event's changes as signed rows: a trigger with transition tables serves one event.
_CHANGES = {
    "insert": "SELECT district_id, school_id, begin_date, end_date, student_id, 1 AS delta "
    "FROM new_members",
    "delete": "SELECT district_id, school_id, begin_date, end_date, student_id, -1 AS delta "
    "FROM old_members",
}
_CHANGES["update"] = f"{_CHANGES['delete']} UNION ALL {_CHANGES['insert']}"


def _function(event: str) -> str:
    changes = _CHANGES[event]
    students = f"SELECT district_id, student_id FROM ({changes}) changed"  # noqa: S608
    touched = f"WHERE (district_id, student_id) IN ({students})"
    return f"""
CREATE OR REPLACE FUNCTION records_head_counts_{event}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The students touched, locked first (in key order), then their bands and recount: a
    -- concurrent writer of the same students waits here holding no band, and its
    -- recount (a new snapshot: READ COMMITTED) sees this one's rows. An import, which
    -- writes its students before their memberships, takes them in the same order.
    PERFORM 1 FROM records_student s
      JOIN (SELECT DISTINCT district_id, student_id FROM ({changes}) changed) touched
        ON s.district_id = touched.district_id AND s.id = touched.student_id
     ORDER BY s.district_id, s.id FOR NO KEY UPDATE OF s;
    -- The bands: each changed band once, in key order (two writers lock bands alike).
    INSERT INTO records_headcount (district_id, school_id, begin_date, end_date, members)
    SELECT {_BAND}, sum(delta) FROM ({changes}) changed
     GROUP BY 1, 2, 3, 4 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (district_id, school_id, begin_date, end_date) DO UPDATE
       SET members = records_headcount.members + EXCLUDED.members;
    DELETE FROM records_headcount h
     USING (SELECT DISTINCT district_id, school_id FROM ({changes}) changed) touched
     WHERE h.district_id = touched.district_id AND h.school_id = touched.school_id
       AND h.members = 0;
    DELETE FROM records_multischoolstudent x
     USING (SELECT DISTINCT district_id, student_id FROM ({changes}) changed) touched
     WHERE x.district_id = touched.district_id AND x.student_id = touched.student_id;
    INSERT INTO records_multischoolstudent (district_id, student_id)
    {_overlapping_students(touched)}
     ORDER BY 1, 2;
    RETURN NULL;
END $$;
"""  # noqa: S608 (constants of this module only)


_TRANSITIONS = {
    "insert": "NEW TABLE AS new_members",
    "update": "OLD TABLE AS old_members NEW TABLE AS new_members",
    "delete": "OLD TABLE AS old_members",
}

_INSTALL = [
    statement
    for event, transitions in _TRANSITIONS.items()
    for statement in (
        _function(event),
        f"CREATE TRIGGER records_head_counts_{event} AFTER {event.upper()} "
        f"ON records_schoolmembership REFERENCING {transitions} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION records_head_counts_{event}()",
    )
]

_REMOVE = [
    statement
    for event in _TRANSITIONS
    for statement in (
        f"DROP TRIGGER IF EXISTS records_head_counts_{event} ON records_schoolmembership",
        f"DROP FUNCTION IF EXISTS records_head_counts_{event}()",
    )
]

_FILL = [
    f"""
    INSERT INTO records_headcount (district_id, school_id, begin_date, end_date, members)
    SELECT {_BAND}, count(*) FROM records_schoolmembership {{where}} GROUP BY 1, 2, 3, 4
    """,  # noqa: S608 (constants of this module only)
    """
    INSERT INTO records_multischoolstudent (district_id, student_id) {overlapping}
    """,
]


def fill_district(cursor, district_id: int) -> int:
    """Count one district's bands from its memberships (PostgreSQL), for a load that wrote
    them with triggers off (``session_replication_role = replica``, as the seeder does)
    and no bands of the district yet: the bands written."""
    written = []
    for statement in _FILL:
        one = statement.format(
            where="WHERE district_id = %s",
            overlapping=_overlapping_students("WHERE district_id = %s"),
        )
        cursor.execute(one, [district_id])
        written.append(cursor.rowcount)
    return written[0]  # the bands (the second statement writes the students apart)


def _install(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in _INSTALL:
        schema_editor.execute(statement)
    for statement in _FILL:
        schema_editor.execute(statement.format(where="", overlapping=_overlapping_students("")))
    # The bands' deferred key checks now, not at commit: the migration's own ALTER TABLEs
    # come after this step and PostgreSQL refuses them on a table with checks pending.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


def _remove(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in _REMOVE:
        schema_editor.execute(statement)


def _replace_functions(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for event in _TRANSITIONS:
        schema_editor.execute(_function(event))


def replace_trigger_functions() -> migrations.RunPython:
    """A later migration's step: the triggers' functions as this module writes them now
    (the triggers call them by name). Reversed, the new functions stay: they keep the
    same counts."""
    return migrations.RunPython(_replace_functions, migrations.RunPython.noop)


def install_triggers() -> migrations.RunPython:
    """The migration step: the triggers, then the bands of the memberships already there."""
    return migrations.RunPython(_install, _remove)
