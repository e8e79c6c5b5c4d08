"""Native PostgreSQL partitioning of the high-volume tables (docs/operations.md).

The record tables that grow by the day are partitioned by school year (July to June,
named by the year it ends in, as ``AcademicSession.school_year``); the access log is
split into reads and disclosures, each partitioned by month, so that reads older than
``ACCESS_LOG_RETENTION_MONTHS`` are dropped a month at a time and disclosures (the
record of disclosures, 34 CFR 99.32) never are. Each partitioned table also has a
default partition, so a row dated outside every partition (a typo in an import, a mark
from 1998) is stored, not refused; the partition made for its period later takes it in.

Partitions are made ahead by the beat task ``records.create_partitions`` through
``studentdata_add_partition``, a SECURITY DEFINER function: the application's role owns
no table (access/database_roles.py) and only a table's owner may add a partition.
Queries need nothing of this: they name the parent table, and PostgreSQL reads only the
partitions a date filter allows.

A partitioned table's primary key and unique keys must include its partition columns:
``(district_id, id)`` becomes ``(district_id, id, date)`` and so on. Ids stay unique from
their identity sequence; a table pointing at a partitioned one carries the partition
column too (``AttendanceChange.record_date``); ``AccessEventStudent`` carries its event's
time and kind to be partitioned alike, tied to it by the chain's hashes, not by a key.

The embedded SQLite of the demo has no partitions: everything here is PostgreSQL only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, migrations
from django.utils import timezone

from records.row_security import POLICY_CONDITION, POLICY_NAME

SCHOOL_YEAR, MONTH = "school_year", "month"
# The access log's reads of the last twelve whole months are never dropped, whatever the
# setting says: the drop function refuses them, so that the application's role, which may
# call it, cannot erase recent reads (settings.py refuses a retention below this).
MINIMUM_RETENTION_MONTHS = 12
# How far ahead partitions are made: this period and the next ones.
PERIODS_AHEAD = {SCHOOL_YEAR: 1, MONTH: 2}


@dataclass(frozen=True)
class Partitioned:
    """A parent table whose rows are split by ``column`` into periods."""

    table: str
    column: str
    period: str
    # Partitions of this parent older than the access log's retention may be dropped.
    expires: bool = False


PARTITIONED = (
    Partitioned("records_attendancerecord", "date", SCHOOL_YEAR),
    Partitioned("records_assessmentresult", "administered_on", SCHOOL_YEAR),
    Partitioned("access_accessevent_reads", "occurred_at", MONTH, expires=True),
    Partitioned("access_accessevent_disclosures", "occurred_at", MONTH),
    Partitioned("access_accesseventstudent_reads", "occurred_at", MONTH, expires=True),
    Partitioned("access_accesseventstudent_disclosures", "occurred_at", MONTH),
)


@dataclass(frozen=True)
class Period:
    suffix: str
    lower: date
    upper: date


def period_of(kind: str, day: date) -> Period:
    """The partition period holding ``day``: a July-to-June school year, or a month."""
    if kind == SCHOOL_YEAR:
        ends = day.year + (1 if day.month >= 7 else 0)
        return Period(f"sy{ends}", date(ends - 1, 7, 1), date(ends, 7, 1))
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(f"{first:%Y_%m}", first, following)


def periods_from(kind: str, day: date, ahead: int) -> list[Period]:
    """``day``'s period and the ``ahead`` that follow it."""
    periods = [period_of(kind, day)]
    for _ in range(ahead):
        periods.append(period_of(kind, periods[-1].upper))
    return periods


def _bound(kind: str, value: date) -> str:
    # Months bound a timestamp column: midnight UTC, whatever the session's zone.
    return f"{value.isoformat()} 00:00:00+00" if kind == MONTH else value.isoformat()


# --- Making partitions while the product runs ----------------------------------------

_ADD_PARTITION = """
CREATE OR REPLACE FUNCTION studentdata_add_partition(
    parent regclass, suffix text, lower_bound text, upper_bound text
) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
-- The rows it moves are every district's (row-level security binds the owner too); the
-- setting holds while the function runs, and the caller's returns after it.
SET app.system = 'on' AS $$
DECLARE
    parent_name text;
    child text;
    key_column text;
    fallback regclass;
    stranded boolean := false;
BEGIN
    SELECT c.relname INTO parent_name FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = parent AND c.relkind = 'p' AND n.nspname = '{schema}';
    IF parent_name IS NULL OR suffix !~ '^[a-z0-9_]+$' THEN
        RAISE EXCEPTION 'studentdata_add_partition: % is not a partitioned table here', parent;
    END IF;
    child := parent_name || '_' || suffix;
    IF to_regclass(format('%I.%I', '{schema}', child)) IS NOT NULL THEN
        RETURN false;
    END IF;
    SELECT a.attname INTO key_column FROM pg_partitioned_table p
      JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
     WHERE p.partrelid = parent;
    SELECT i.inhrelid::regclass INTO fallback FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = parent AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';
    IF fallback IS NOT NULL THEN
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I >= %L AND %I < %L)',
                       fallback, key_column, lower_bound, key_column, upper_bound)
           INTO stranded;
    END IF;
    -- Rows the default partition took for this period move into the new one. Detached,
    -- the default has none of the parent's row triggers (the access log refuses every
    -- DELETE); the parent's statement triggers (roll-ups, epochs) see no change at all.
    IF stranded THEN
        EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', parent, fallback);
    END IF;
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                   '{schema}', child, parent, lower_bound, upper_bound);
    -- Its policy before any row: the rows' deferred key checks forbid altering it after.
    EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', '{schema}', child);
    EXECUTE format('ALTER TABLE %I.%I FORCE ROW LEVEL SECURITY', '{schema}', child);
    EXECUTE format('CREATE POLICY {policy} ON %I.%I USING ({condition})', '{schema}', child);
    IF stranded THEN
        EXECUTE format('INSERT INTO %I.%I SELECT * FROM %s WHERE %I >= %L AND %I < %L',
                       '{schema}', child, fallback, key_column, lower_bound, key_column,
                       upper_bound);
        EXECUTE format('DELETE FROM %s WHERE %I >= %L AND %I < %L',
                       fallback, key_column, lower_bound, key_column, upper_bound);
        EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s DEFAULT', parent, fallback);
    END IF;
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION studentdata_add_partition(regclass, text, text, text) FROM PUBLIC;
"""

_DROP_PARTITION = """
CREATE OR REPLACE FUNCTION studentdata_drop_expired_partition(child regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    parent_name text;
    child_name text;
    month date;
BEGIN
    SELECT p.relname, c.relname INTO parent_name, child_name FROM pg_inherits i
      JOIN pg_class p ON p.oid = i.inhparent
      JOIN pg_class c ON c.oid = i.inhrelid
      JOIN pg_namespace n ON n.oid = p.relnamespace
     WHERE i.inhrelid = child AND n.nspname = '{schema}';
    -- Only the access log's reads expire: the parents named when the migration ran.
    IF parent_name IS NULL OR NOT parent_name = ANY ({expiring})
       OR child_name !~ '_[0-9]{4}_[0-9]{2}$' THEN
        RAISE EXCEPTION 'studentdata_drop_expired_partition: % never expires', child;
    END IF;
    month := to_date(right(child_name, 7), 'YYYY_MM');
    IF month >= (date_trunc('month', now()) - interval '{minimum} months')::date THEN
        RAISE EXCEPTION 'studentdata_drop_expired_partition: % is within the minimum retention',
            child;
    END IF;
    EXECUTE format('ALTER TABLE %I.%I DETACH PARTITION %s', '{schema}', parent_name, child);
    EXECUTE format('DROP TABLE %s', child);
    INSERT INTO {schema}.access_prunedlogmonth (partition, month, dropped_at)
    VALUES (child_name, month, now());
END $$;
REVOKE ALL ON FUNCTION studentdata_drop_expired_partition(regclass) FROM PUBLIC;
"""

# What grant_app_role lets the application's role execute.
FUNCTIONS = (
    "studentdata_add_partition(regclass, text, text, text)",
    "studentdata_drop_expired_partition(regclass)",
)


def _schema(cursor) -> str:
    cursor.execute("SELECT current_schema()")
    return cursor.fetchone()[0]


def _install_functions(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        schema = _schema(cursor)
    expiring = "ARRAY[" + ", ".join(f"'{p.table}'" for p in PARTITIONED if p.expires) + "]"
    add = (
        _ADD_PARTITION.replace("{schema}", schema)
        .replace("{policy}", POLICY_NAME)
        .replace("{condition}", POLICY_CONDITION.replace("'", "''"))
    )
    drop = (
        _DROP_PARTITION.replace("{schema}", schema)
        .replace("{expiring}", expiring)
        .replace("{minimum}", str(MINIMUM_RETENTION_MONTHS))
    )
    schema_editor.execute(add, None)  # None: no % escapes
    schema_editor.execute(drop, None)


def _remove_functions(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for function in FUNCTIONS:
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}")


def install_functions() -> migrations.RunPython:
    return migrations.RunPython(_install_functions, _remove_functions, elidable=False)


def partitions_of(table: str) -> list[str]:
    """The partitions of ``table`` (their names), oldest first; none on SQLite."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname",
            [table],
        )
        return [name for (name,) in cursor.fetchall()]


def ensure_partitions(today: date) -> list[str]:
    """Make every partitioned table's partitions for ``today``'s period and the periods
    ahead of it; the names of those made (none if all were there)."""
    if connection.vendor != "postgresql":
        return []
    made = []
    with connection.cursor() as cursor:
        for parent in PARTITIONED:
            for period in periods_from(parent.period, today, PERIODS_AHEAD[parent.period]):
                cursor.execute(
                    "SELECT studentdata_add_partition(to_regclass(%s), %s, %s, %s)",
                    [
                        parent.table,
                        period.suffix,
                        _bound(parent.period, period.lower),
                        _bound(parent.period, period.upper),
                    ],
                )
                if cursor.fetchone()[0]:
                    made.append(f"{parent.table}_{period.suffix}")
    return made


def first_month_kept(today: date, retention_months: int) -> date:
    """The oldest month of reads kept: with 24 months kept on 2026-12-07, 2024-12."""
    first = period_of(MONTH, today).lower
    for _ in range(retention_months):
        first = period_of(MONTH, first - timedelta(days=1)).lower
    return first


def expired_partitions(today: date, retention_months: int) -> list[str]:
    """The access log's read partitions whose whole month is older than the retention;
    none if nothing expires."""
    if connection.vendor != "postgresql" or retention_months <= 0:
        return []
    first_kept = first_month_kept(today, max(retention_months, MINIMUM_RETENTION_MONTHS))
    expired = []
    for parent in sorted(PARTITIONED, key=lambda p: "student" not in p.table):
        if not parent.expires:
            continue
        for name in partitions_of(parent.table):
            try:
                month = datetime.strptime(name.removeprefix(parent.table + "_"), "%Y_%m").date()
            except ValueError:
                continue  # the default partition
            if month < first_kept:
                expired.append(name)
    return expired


def drop_partition(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT studentdata_drop_expired_partition(to_regclass(%s))", [name])


# --- Turning an existing table into a partitioned one (a migration step) --------------


@dataclass(frozen=True)
class _Facts:
    """What a table carries beside its columns, as SQL to recreate it by name."""

    keys: list[tuple[str, str, list[str]]]  # (name, PRIMARY KEY | UNIQUE, columns)
    other_constraints: list[tuple[str, str]]  # (name, definition): checks, foreign keys
    indexes: list[str]
    triggers: list[str]
    pointing_here: list[tuple[str, str]]  # (table, name): other tables' keys at this one


def _facts(cursor, table: str) -> _Facts:
    cursor.execute(
        """
        SELECT c.conname, c.contype, pg_get_constraintdef(c.oid),
               ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                     ORDER BY k.i)
          FROM pg_constraint c WHERE c.conrelid = to_regclass(%s) ORDER BY c.contype, c.conname
        """,
        [table],
    )
    keys, other = [], []
    for name, kind, definition, columns in cursor.fetchall():
        if kind in ("p", "u"):
            keys.append((name, "PRIMARY KEY" if kind == "p" else "UNIQUE", list(columns)))
        elif kind in ("c", "f"):
            other.append((name, definition))
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = to_regclass(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
        "ORDER BY i.indexrelid",
        [table],
    )
    indexes = [definition for (definition,) in cursor.fetchall()]
    if any(definition.startswith("CREATE UNIQUE") for definition in indexes):
        raise RuntimeError(f"{table}: a unique index outside a constraint; make it a constraint")
    cursor.execute(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = to_regclass(%s) "
        "AND NOT tgisinternal ORDER BY tgname",
        [table],
    )
    triggers = [definition for (definition,) in cursor.fetchall()]
    cursor.execute(
        "SELECT conrelid::regclass::text, conname FROM pg_constraint "
        "WHERE confrelid = to_regclass(%s) AND contype = 'f'",
        [table],
    )
    return _Facts(keys, other, indexes, triggers, cursor.fetchall())


def _data_periods(cursor, table: str, column: str, kind: str) -> set[date]:
    """A day in each period the table's rows fall in."""
    day = f"({column} AT TIME ZONE 'UTC')::date" if kind == MONTH else column
    cursor.execute(f'SELECT DISTINCT date_trunc(%s, {day})::date FROM "{table}"', ["month"])  # noqa: S608
    return {row[0] for row in cursor.fetchall() if row[0] is not None}


def _range_partitions(cursor, parent: str, named: str, column: str, kind: str, days: set[date]):
    """``parent``'s partitions, named ``named``_<period>: one for each period of
    ``days``, today's and those ahead, and the default."""
    today = timezone.now().date()
    periods = {p.suffix: p for p in periods_from(kind, today, PERIODS_AHEAD[kind])}
    periods |= {period_of(kind, day).suffix: period_of(kind, day) for day in days}
    for suffix in sorted(periods):
        period = periods[suffix]
        cursor.execute(
            f'CREATE TABLE "{named}_{suffix}" PARTITION OF "{parent}" FOR VALUES FROM (%s) TO (%s)',
            [_bound(kind, period.lower), _bound(kind, period.upper)],
        )
    cursor.execute(f'CREATE TABLE "{named}_default" PARTITION OF "{parent}" DEFAULT')


def _tenant_policy(cursor, table: str) -> None:
    cursor.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    cursor.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    cursor.execute(f'CREATE POLICY {POLICY_NAME} ON "{table}" USING ({POLICY_CONDITION})')


class PartitionTable(migrations.operations.base.Operation):
    """Rebuild ``table`` as a partitioned table holding the same rows, keys, indexes,
    triggers and row-level security, its keys widened by the partition columns.

    By ``column`` into ``period``s; with ``split``, first by a boolean column into two
    children named by ``split[1]`` (for false) and ``split[2]`` (for true), each then
    by period. Foreign keys of other tables pointing at ``table`` are dropped: they name
    a key the partitioned table no longer has alone; the migration makes again those it
    wants, with the partition columns.
    PostgreSQL only; not reversible (a backup is the way back).
    """

    reduces_to_sql = False
    reversible = False

    def __init__(self, table: str, column: str, period: str, split: tuple = ()):
        self.table, self.column, self.period, self.split = table, column, period, tuple(split)

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            self._rebuild(cursor)

    def _rebuild(self, cursor) -> None:
        table, column = self.table, self.column
        facts = _facts(cursor, table)
        cursor.execute("SELECT policyname FROM pg_policies WHERE tablename = %s", [table])
        if [name for (name,) in cursor.fetchall()] != [POLICY_NAME]:
            raise RuntimeError(f"{table}: policies beside the tenant rule are not carried over")
        for pointing, name in facts.pointing_here:
            cursor.execute(f'ALTER TABLE {pointing} DROP CONSTRAINT "{name}"')
        staged = f"{table}__new"
        by = f"LIST ({self.split[0]})" if self.split else f"RANGE ({column})"
        cursor.execute(
            f'CREATE TABLE "{staged}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING IDENTITY '
            f"INCLUDING GENERATED INCLUDING STORAGE) PARTITION BY {by}"
        )
        days = _data_periods(cursor, table, column, self.period)
        if self.split:
            _flag, when_false, when_true = self.split
            for suffix, value in ((when_false, "false"), (when_true, "true")):
                child = f"{table}_{suffix}"
                cursor.execute(
                    f'CREATE TABLE "{child}" PARTITION OF "{staged}" FOR VALUES IN ({value}) '
                    f"PARTITION BY RANGE ({column})"
                )
                _range_partitions(cursor, child, child, column, self.period, days)
        else:
            _range_partitions(cursor, staged, table, column, self.period, days)
        columns = ", ".join(f'"{name}"' for name in _column_names(cursor, table))
        cursor.execute(f'INSERT INTO "{staged}" ({columns}) SELECT {columns} FROM "{table}"')  # noqa: S608
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) + 1 FROM "{staged}"')  # noqa: S608
        next_id = cursor.fetchone()[0]
        cursor.execute(f'DROP TABLE "{table}"')
        cursor.execute(f'ALTER TABLE "{staged}" RENAME TO "{table}"')
        cursor.execute(f'ALTER TABLE "{table}" ALTER COLUMN id RESTART WITH {int(next_id)}')
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        if sequence:
            cursor.execute(f'ALTER SEQUENCE {sequence} RENAME TO "{table}_id_seq"')
        partition_columns = [self.split[0], column] if self.split else [column]
        for name, kind, key_columns in facts.keys:
            wide = key_columns + [c for c in partition_columns if c not in key_columns]
            cursor.execute(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {kind} ({", ".join(wide)})'
            )
        for name, definition in facts.other_constraints:
            cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
        for statement in facts.indexes + facts.triggers:
            cursor.execute(statement)
        for relation in [table, *_all_partitions(cursor, table)]:
            _tenant_policy(cursor, relation)

    def describe(self) -> str:
        return f"Partition {self.table} by {self.column} ({self.period})"

    def deconstruct(self):
        return (
            self.__class__.__name__,
            [self.table, self.column, self.period],
            ({"split": self.split} if self.split else {}),
        )


def _column_names(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    return [name for (name,) in cursor.fetchall()]


def _all_partitions(cursor, table: str) -> list[str]:
    """Every partition under ``table``, at any depth."""
    cursor.execute(
        "SELECT relid::text FROM pg_partition_tree(to_regclass(%s)) WHERE level > 0",
        [table],
    )
    return [name for (name,) in cursor.fetchall()]
