"""Synthetic demo districts for ``manage.py seed_demo``.

Everything here is invented: names are drawn from Faker pools, phone numbers from the
fictional 555-01xx range, e-mail addresses from the reserved ``example.*`` domains,
and every id from a seeded generator. One ``random.Random`` per district drives
every choice, so the same seed, size and as-of date always give the same district.

Districts are generated one feeder zone at a time (a high school and the elementary
and middle schools that feed it; siblings live in one zone) and streamed to the
database: COPY on PostgreSQL, ``bulk_create`` elsewhere. Memory stays bounded by a
zone, whatever the district's size.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import queue
import random
import threading
import time
import unicodedata
import uuid
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from itertools import accumulate

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, connection, models, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.text import slugify
from faker import Faker

from accounts.models import Role, RoleMembership, User
from records import attendance_months, cache_epochs, head_counts
from records.importers.analyze import analyze_tables
from records.models import (
    ENGLISH_PROFICIENCY_SUBJECT,
    AcademicSession,
    AssessmentResult,
    AttendanceMonth,
    AttendanceRecord,
    Course,
    CustodyRestriction,
    DirectoryOptOut,
    DisciplineIncident,
    District,
    Enrollment,
    Grade,
    GuardianLink,
    HeadCount,
    HealthRecord,
    ProgramParticipation,
    School,
    SchoolMembership,
    Section,
    SectionTeacher,
    Student,
    TransportationAssignment,
    active_on_q,
)
from records.tenancy import TenantModel, tenant_scope

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - the published password of invented demo accounts
DEFAULT_SLUG = "demo"
SECOND_SLUG = "lakeside"
SECOND_STUDENTS = 60
MIN_STUDENTS = 50
DISTRICT_NAMES = {
    DEFAULT_SLUG: ("Riverbend Unified School District", "Riverbend"),
    SECOND_SLUG: ("Lakeside Heights Public Schools", "Lakeside Heights"),
}

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


@dataclass
class SeedResult:
    """One seeded (or found) district: what was written and whom to sign in as."""

    district: District
    created: bool
    counts: dict[str, int]
    elapsed: float
    logins: dict[str, str]  # label -> username
    descriptions: dict[str, str]  # label -> what that account sees
    password: str = DEMO_PASSWORD


def seed_demo(
    *,
    students: int = 600,
    seed: int = 1,
    as_of: date | None = None,
    district: str | None = None,
    reset: bool = False,
    schools: int | None = None,
    progress: Progress = _quiet,
) -> list[SeedResult]:
    """Seed the demo district(s): ``district`` alone, or ``demo`` plus the small ``lakeside``.
    ``schools``: the first district's number of schools (default: by typical school sizes)."""
    as_of = as_of or timezone.localdate()
    if district:
        plan = [(district, students)]
    else:
        plan = [(DEFAULT_SLUG, students), (SECOND_SLUG, SECOND_STUDENTS)]
    results = []
    for index, (slug, size) in enumerate(plan):
        name = DISTRICT_NAMES.get(
            slug, (f"{slug.replace('-', ' ').title()} Unified School District",)
        )[0]
        # One stream per district: a district's data never depends on whether another existed.
        rng = random.Random(f"{slug}:{seed}")  # noqa: S311 - synthetic data, not secrets
        results.append(
            seed_district(
                slug,
                name,
                size,
                rng,
                as_of,
                reset=reset,
                progress=progress,
                schools=schools if index == 0 else None,
            )
        )
    return results


def school_count_limits(students: int) -> tuple[int, int]:
    """The fewest and most schools ``students`` can fill: one of each kind, at least
    ``MIN_STUDENTS`` a school."""
    return len(SCHOOL_SIZE), students // MIN_STUDENTS


def seed_district(
    slug: str,
    name: str,
    students: int,
    rng: random.Random,
    as_of: date,
    *,
    reset: bool = False,
    progress: Progress = _quiet,
    schools: int | None = None,
) -> SeedResult:
    """Create one synthetic district of ``students`` students, unless it exists already;
    ``schools`` of them if given (else as many as typical school sizes make)."""
    if students < MIN_STUDENTS:
        raise ValueError(f"a demo district needs at least {MIN_STUDENTS} students")
    fewest, most = school_count_limits(students)
    if schools is not None and not fewest <= schools <= most:
        raise ValueError(f"{students} students fill {fewest} to {most} schools")
    started = time.monotonic()
    existing = District.objects.filter(slug=slug).first()
    if existing is not None and not reset:
        progress(f"District {slug!r} exists: left unchanged (--reset rebuilds it).")
        logins, descriptions = demo_logins(existing, as_of=as_of)
        return SeedResult(
            district=existing,
            created=False,
            counts=district_counts(existing),
            elapsed=time.monotonic() - started,
            logins=logins,
            descriptions=descriptions,
        )
    if existing is not None:
        with _phase(progress, f"reset: deleted district {slug!r} and its rows"):
            delete_district(existing)

    seeder = _DistrictSeeder(slug, name, students, rng, as_of, progress, n_schools=schools)
    with transaction.atomic():
        district = seeder.create_district()
        # The epoch moves once at the end (and its row exists even when the load ran
        # with triggers off), rather than on each of the load's statements.
        with tenant_scope(district), cache_epochs.deferred(district.pk):
            seeder.run()
        committing = time.monotonic()
    progress(f"  commit - {time.monotonic() - committing:.1f} s")
    if connection.vendor == "postgresql":
        with _phase(progress, "analyze"):
            analyze_tables(seeder.sink.counts)
    logins, descriptions = demo_logins(district, as_of=as_of)
    elapsed = time.monotonic() - started
    total = sum(seeder.sink.counts.values())
    progress(f"District {slug!r} seeded in {elapsed:.1f} s: {total:,} rows.")
    return SeedResult(
        district=district,
        created=True,
        counts=dict(seeder.sink.counts),
        elapsed=elapsed,
        logins=logins,
        descriptions=descriptions,
    )


@contextlib.contextmanager
def _phase(progress: Progress, label: str) -> Iterator[None]:
    """Print how long a step took (if it succeeded)."""
    started = time.monotonic()
    yield
    progress(f"  {label} - {time.monotonic() - started:.1f} s")


# --- deleting a district (--reset) ------------------------------------------------------


def _tenant_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if issubclass(m, TenantModel)]


def _children_first(tenant_models: Sequence[type[models.Model]]) -> list[type[models.Model]]:
    """Tenant models ordered so every model comes before the models it points at."""
    ordered: list[type[models.Model]] = []
    placed: set[type[models.Model]] = set()

    def visit(model, path=()):
        if model in placed or model in path:
            return
        for other in tenant_models:  # whoever points at ``model`` goes first
            if other is model:
                continue
            if any(
                isinstance(f, models.ForeignKey) and f.remote_field.model is model
                for f in other._meta.concrete_fields
            ):
                visit(other, (*path, model))
        placed.add(model)
        ordered.append(model)

    for model in tenant_models:
        visit(model)
    return ordered


def delete_district(district: District) -> None:
    """Delete a district and every row it owns, children before parents, in one transaction.

    An operator's tool (``seed_demo --reset``, benchmarks): it turns the access log's
    triggers off, which only the tables' owner may, never the application's role."""
    tenant_models = _tenant_models()
    with (
        transaction.atomic(),
        cache_epochs.deferred(district.pk),
        connection.cursor() as cursor,
    ):
        append_only = _append_only_tables(cursor, [m._meta.db_table for m in tenant_models])
        if connection.vendor == "postgresql":
            # Check keys after each DELETE rather than at commit: ALTER TABLE refuses a
            # table with queued (deferred) checks, and children go first anyway.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # The access log's triggers refuse DELETE (it is append-only for everyone else);
        # dropping a whole district is the one sanctioned exception. ALTER TABLE is
        # transactional, so a failure below re-enables them with the rollback.
        for table in append_only:
            cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
        for model in _children_first(tenant_models):
            queryset = model.unscoped.filter(district=district)
            # One DELETE per table: children are already gone, so Django's collector
            # (which would load every row) has nothing to cascade to.
            queryset._raw_delete(queryset.db)
        for table in append_only:
            cursor.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
        user_ids = list(User.objects.filter(district=district).values_list("id", flat=True))
        for chunk in _chunks(user_ids, 5000):
            # The collector clears what hangs off a user outside the tenant tables
            # (tokens, object permissions, admin log entries).
            User.objects.filter(id__in=chunk).delete()
        district.delete()


def _append_only_tables(cursor, tables: Sequence[str]) -> list[str]:
    """The append-only tables among ``tables`` (those whose triggers refuse DELETE:
    the access log, its chain head, published report releases).
    Only they are altered: ALTER TABLE locks a table against every district's reads."""
    if connection.vendor != "postgresql":
        return []
    cursor.execute(
        "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE NOT t.tgisinternal AND c.relname = ANY(%s) "
        "AND p.proname IN ('access_log_append_only', 'access_chain_forward_only', "
        "'reports_release_frozen') "
        "ORDER BY c.relname",
        [list(tables)],
    )
    return [row[0] for row in cursor.fetchall()]


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def district_counts(district: District) -> dict[str, int]:
    counts = {
        model._meta.db_table: model.unscoped.filter(district=district).count()
        for model in _tenant_models()
    }
    counts[User._meta.db_table] = User.objects.filter(district=district).count()
    return {table: n for table, n in counts.items() if n}


# --- the school calendar ----------------------------------------------------------------


def _on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _on_or_before(day: date, weekday: int) -> date:
    return day - timedelta(days=(day.weekday() - weekday) % 7)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    return _on_or_after(date(year, month, 1), weekday) + timedelta(weeks=n - 1)


def _first_day(start_year: int) -> date:
    return _on_or_after(date(start_year, 8, 12), 2)  # a Wednesday, 12-18 August


def _last_day(start_year: int) -> date:
    return _on_or_after(date(start_year + 1, 6, 3), 4)  # a Friday, 3-9 June


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class SchoolCalendar:
    """One US school year: mid-August to early June, two semesters, four quarters."""

    start_year: int
    first_day: date
    last_day: date
    semesters: tuple[tuple[str, date, date], ...]
    grading_periods: tuple[tuple[str, date, date, int], ...]  # title, start, end, semester
    holidays: frozenset[date]
    as_of: date

    @classmethod
    def containing(cls, as_of: date) -> SchoolCalendar:
        """The school year containing ``as_of``; in summer, the one starting that August."""
        start_year = as_of.year - 1
        if as_of > _last_day(start_year):
            start_year = as_of.year
        y = start_year
        first, last = _first_day(y), _last_day(y)
        thanksgiving = _nth_weekday(y, 11, 3, 4)
        mlk = _nth_weekday(y + 1, 1, 0, 3)
        spring_break = _on_or_after(date(y + 1, 3, 23), 0)
        memorial = _on_or_before(date(y + 1, 5, 31), 0)
        holidays = {
            _nth_weekday(y, 9, 0, 1),  # Labor Day
            thanksgiving - timedelta(days=1),
            thanksgiving,
            thanksgiving + timedelta(days=1),
            mlk,
            _nth_weekday(y + 1, 2, 0, 3),  # Presidents' Day
            memorial,
        }
        holidays.update(date(y, 12, 22) + timedelta(days=i) for i in range(12))  # winter break
        holidays.update(spring_break + timedelta(days=i) for i in range(5))
        # Fall semester runs through winter break to the Friday before MLK Day, so some
        # semester is always in session between the first and last day.
        fall = (f"Fall {y}", first, mlk - timedelta(days=3))
        spring = (f"Spring {y + 1}", mlk + timedelta(days=1), last)
        periods = []
        for index, (_, start, end) in enumerate((fall, spring)):
            middle = _on_or_before(start + (end - start) / 2, 4)
            periods.append((start, middle, index))
            periods.append((middle + timedelta(days=3), end, index))
        return cls(
            start_year=y,
            first_day=first,
            last_day=last,
            semesters=(fall, spring),
            grading_periods=tuple(
                (f"Quarter {n} {y}-{(y + 1) % 100:02d}", start, end, sem)
                for n, (start, end, sem) in enumerate(periods, start=1)
            ),
            holidays=frozenset(holidays),
            as_of=as_of,
        )

    @property
    def title(self) -> str:
        return f"{self.start_year}-{self.start_year + 1}"

    def school_days(self, until: date | None = None) -> list[date]:
        """Weekdays in session from the first day up to ``until`` (default: as-of)."""
        end = min(until or self.as_of, self.last_day)
        days, day = [], self.first_day
        while day <= end:
            if day.weekday() < 5 and day not in self.holidays:
                days.append(day)
            day += timedelta(days=1)
        return days


# --- row streaming ----------------------------------------------------------------------

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    return value.translate(_COPY_ESCAPES)


def _copy_bool(value: bool) -> str:
    return "t" if value else "f"


def _copy_json(value) -> str:
    return _copy_text(json.dumps(value))


def _copy_temporal(value) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _copy_converter(model_field: models.Field) -> Callable[[object], str]:
    if isinstance(model_field, models.BooleanField):
        convert = _copy_bool
    elif isinstance(model_field, models.JSONField):
        convert = _copy_json
    elif isinstance(model_field, (models.CharField, models.TextField)):
        convert = _copy_text
    elif isinstance(model_field, (models.DateField, models.TimeField)):
        convert = _copy_temporal
    else:
        convert = str
    if model_field.null:
        return lambda value: "\\N" if value is None else convert(value)
    return convert


class _TableWriter:
    """Rows for one table, all with the same fields; the rest take their defaults."""

    def __init__(self, sink: RowSink, model: type[models.Model], fields: Sequence[str]):
        self.sink, self.model, self.fields = sink, model, tuple(fields)
        self.rows: list[tuple] = []
        self.limit = sink.chunk_rows
        opts = model._meta
        given = [opts.get_field(name) for name in self.fields]
        given_names = {f.attname for f in given}
        self.filled: dict[str, object] = {}
        for f in opts.concrete_fields:
            if f.attname in given_names or f.primary_key:
                continue
            if f.attname == "district_id":
                value = sink.district.pk
            elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                value = sink.now
            elif f.has_default():
                value = f.get_default()
            elif f.null:
                value = None
            else:
                raise ValueError(f"{opts.label}.{f.name} needs a value")
            self.filled[f.attname] = value
        self.attnames = tuple(f.attname for f in given)
        if sink.postgres:
            filled_fields = [opts.get_field(name) for name in self.filled]
            columns = ", ".join(f'"{f.column}"' for f in [*given, *filled_fields])
            self.copy_target = (opts.db_table, columns)
            self.converters = tuple(_copy_converter(f) for f in given)
            self.tail = (
                "".join(
                    "\t" + _copy_converter(f)(value)
                    for f, value in zip(filled_fields, self.filled.values(), strict=True)
                )
                + "\n"
            )

    def add(self, row: tuple) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.limit:
            self.flush()

    def flush(self) -> None:
        rows, self.rows = self.rows, []
        if not rows:
            return
        counts, table = self.sink.counts, self.model._meta.db_table
        counts[table] = counts.get(table, 0) + len(rows)
        if self.sink.postgres:
            converters, tail = self.converters, self.tail
            text = "".join(
                [
                    "\t".join(
                        [convert(value) for convert, value in zip(converters, row, strict=True)]
                    )
                    + tail
                    for row in rows
                ]
            )
            self.sink.copy(*self.copy_target, text.encode())
        else:
            attnames, filled, model = self.attnames, self.filled, self.model
            objs = [model(**dict(zip(attnames, row, strict=True)), **filled) for row in rows]
            model._base_manager.bulk_create(objs, batch_size=5000)


_STAGE_NUMBERS = itertools.count()


class RowSink:
    """Where generated rows go: COPY on PostgreSQL (from a writer thread), else bulk_create.

    The COPY thread uses the same database connection, hence the same transaction, as
    the caller; the caller touches the connection only after ``drain()`` (``ids`` does).
    """

    def __init__(self, district: District, now: datetime, *, chunk_rows: int = 50_000):
        self.district, self.now, self.chunk_rows = district, now, chunk_rows
        self.postgres = connection.vendor == "postgresql"
        self.counts: dict[str, int] = {}
        self.writers: dict[tuple, _TableWriter] = {}
        self.next_id: dict[type[models.Model], int] = {}
        self.error: BaseException | None = None
        if self.postgres:
            connection.ensure_connection()
            self.raw = connection.connection
            with connection.cursor() as cursor:
                cursor.execute("SELECT row_security_active('records_student')")
                [self.subject_to_row_security] = cursor.fetchone()
            self.queue: queue.Queue = queue.Queue(maxsize=6)
            self.thread = threading.Thread(target=self._copy_worker, daemon=True)
            self.thread.start()

    def writer(self, model: type[models.Model], fields: str) -> _TableWriter:
        """The writer of ``model`` rows giving ``fields`` (attnames, space-separated), in order."""
        key = (model, fields)
        if key not in self.writers:
            self.writers[key] = _TableWriter(self, model, fields.split())
        return self.writers[key]

    def ids(self, model: type[models.Model], n: int) -> list[int]:
        """Reserve ``n`` primary keys, so child rows can be written before their parents."""
        if n == 0:
            return []
        table = model._meta.db_table
        if self.postgres:
            self.drain()
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, n],
                )
                return [row[0] for row in cursor.fetchall()]
        if model not in self.next_id:  # SQLite: the write lock is ours until commit
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT COALESCE(MAX("id"), 0) FROM "{table}"')  # noqa: S608
                self.next_id[model] = cursor.fetchone()[0] + 1
        first = self.next_id[model]
        self.next_id[model] = first + n
        return list(range(first, first + n))

    def copy(self, table: str, columns: str, data: bytes) -> None:
        self._raise_error()
        if not connection.row_security_in_step():
            self.drain()  # the session is the writer's too: it must be idle to change
            connection.sync_row_security()
        self.queue.put((table, columns, data))

    def flush(self) -> None:
        for writer in self.writers.values():
            writer.flush()

    def drain(self) -> None:
        """Wait until every row handed over is in the database."""
        if self.postgres:
            self.queue.join()
            self._raise_error()

    def close(self) -> None:
        if self.postgres and self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()

    def _raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def _copy_worker(self) -> None:
        cursor = self.raw.cursor()
        subject_to_row_security = self.subject_to_row_security
        stages: dict[tuple[str, str], str] = {}
        while True:
            item = self.queue.get()
            try:
                if item is None:
                    return
                if self.error is None and subject_to_row_security:
                    self._copy_through_stage(cursor, stages, *item)
                elif self.error is None:
                    table, columns, data = item
                    sql = f'COPY "{table}" ({columns}) FROM STDIN'
                    cursor.copy_expert(sql, io.BytesIO(data), size=1 << 20)
            except BaseException as exc:  # handed to the caller's thread
                self.error = exc
            finally:
                self.queue.task_done()

    @staticmethod
    def _copy_through_stage(cursor, stages: dict, table: str, columns: str, data: bytes) -> None:
        """COPY into a table under row-level security is refused (a role that is not its
        owner, as the application's): copy into a temporary table, then INSERT, which the
        policy checks. About twice the time of a plain COPY; operators seed as the owner."""
        stage = stages.get((table, columns))
        if stage is None:
            # Named anew each time: two seedings in one transaction each have their own.
            stage = stages[(table, columns)] = f"seed_stage_{next(_STAGE_NUMBERS)}"
            empty_copy = f'SELECT {columns} FROM "{table}" WITH NO DATA'  # noqa: S608 - models
            cursor.execute(f'CREATE TEMPORARY TABLE "{stage}" ON COMMIT DROP AS {empty_copy}')
        cursor.copy_expert(f'COPY "{stage}" ({columns}) FROM STDIN', io.BytesIO(data), 1 << 20)
        cursor.execute(
            f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{stage}"; '  # noqa: S608
            f'TRUNCATE "{stage}"'
        )


# --- vocabulary ---------------------------------------------------------------------------
# fmt: off

GRADES = ("KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12")
KIND_GRADES = {
    School.Kind.ELEMENTARY: GRADES[:6],
    School.Kind.MIDDLE: GRADES[6:9],
    School.Kind.HIGH: GRADES[9:],
}
SCHOOL_SIZE = {School.Kind.ELEMENTARY: 500, School.Kind.MIDDLE: 800, School.Kind.HIGH: 1500}
SCHOOL_SUFFIX = {
    School.Kind.ELEMENTARY: "Elementary",
    School.Kind.MIDDLE: "Middle School",
    School.Kind.HIGH: "High School",
}
SCHOOL_BASES = {
    School.Kind.ELEMENTARY: (
        "Lincoln", "Maple Grove", "Cesar Chavez", "Sally Ride", "Cedar Ridge", "Rosa Parks",
        "Willow Creek", "Amelia Earhart", "Washington", "Pine View", "Ruby Bridges",
        "Meadowbrook", "Katherine Johnson", "Sunset", "Brookside", "Ellen Ochoa", "Hillcrest",
        "Mae Jemison", "Garfield", "Fairview", "John Muir", "Parkside", "Roberto Clemente",
        "Crestwood", "Helen Keller", "Valley View", "Clara Barton", "Orchard",
        "Benjamin Banneker",
        "Greenfield", "Dolores Huerta", "Prairie Wind", "Aspen", "Sojourner Truth", "Birchwood",
    ),
    School.Kind.MIDDLE: (
        "Roosevelt", "Thurgood Marshall", "Oak Hills", "Madison", "Harriet Tubman", "Jefferson",
        "Mark Twain", "Northridge", "Langston Hughes", "Franklin", "Eastgate", "Maya Angelou",
        "Hamilton", "Westwood", "George Washington Carver", "Lakeview", "Monroe",
        "Jackie Robinson",
    ),
    School.Kind.HIGH: (
        "Kennedy", "Central", "Frederick Douglass", "Westlake", "Northview", "Eastside",
        "Susan B. Anthony", "Summit", "Valley", "Riverview", "Ridgeline", "Eleanor Roosevelt",
    ),
}
STATES = {  # abbreviation: (FIPS code, time zone)
    "OR": ("41", "America/Los_Angeles"),
    "WA": ("53", "America/Los_Angeles"),
    "CO": ("08", "America/Denver"),
    "MN": ("27", "America/Chicago"),
    "IL": ("17", "America/Chicago"),
    "OH": ("39", "America/New_York"),
    "NC": ("37", "America/New_York"),
    "VA": ("51", "America/New_York"),
}
DIRECTORY_FIELDS = [
    "given_name", "family_name", "preferred_name", "grade_level", "enrollment_status", "school",
]

# (label, weight): NCES public-school enrolment by race/ethnicity, rounded.
ETHNIC_GROUPS = (
    ("white", 45.5), ("hispanic", 28.0), ("black", 15.0), ("asian", 5.0), ("multi", 5.0),
    ("aian", 1.0), ("nhpi", 0.5),
)
RACE_FLAGS = ("white", "black", "asian", "aian", "nhpi")
HOME_LANGUAGES = {
    "white": (
        ("English", 95), ("Arabic", 1.5), ("Russian", 1.5), ("Ukrainian", 1), ("Portuguese", 1),
    ),
    "hispanic": (("Spanish", 70), ("English", 30)),
    "black": (
        ("English", 95), ("Haitian Creole", 2), ("Somali", 1.5), ("Amharic", 1), ("French", 0.5),
    ),
    "asian": (
        ("English", 45), ("Vietnamese", 15), ("Chinese (Mandarin)", 12), ("Tagalog", 8),
        ("Korean", 6), ("Hindi", 5), ("Cantonese", 5), ("Hmong", 4),
    ),
    "multi": (("English", 97), ("Spanish", 3)),
    "aian": (("English", 93), ("Navajo", 7)),
    "nhpi": (("English", 88), ("Samoan", 8), ("Tongan", 4)),
}
NICKNAMES = {
    "William": "Will", "Elizabeth": "Liz", "Robert": "Bobby", "Alexander": "Alex",
    "Alejandro": "Alex", "Katherine": "Kate", "Christopher": "Chris", "Jonathan": "Jon",
    "Michael": "Mike", "Matthew": "Matt", "Nicholas": "Nick", "Samantha": "Sam",
    "Benjamin": "Ben", "Daniel": "Danny", "Jennifer": "Jenny", "Margaret": "Maggie",
    "Francisco": "Paco", "Guadalupe": "Lupe", "Jessica": "Jess", "Anthony": "Tony",
    "Joseph": "Joey", "Victoria": "Tori", "Isabella": "Bella", "Gabriel": "Gabe",
    "Nathaniel": "Nate", "Zachary": "Zach", "Timothy": "Tim", "Abigail": "Abby",
    "Rebecca": "Becca", "Andrew": "Drew", "James": "Jamie", "Thomas": "Tommy",
    "Eduardo": "Lalo", "Ignacio": "Nacho", "Roberto": "Beto", "Alberto": "Beto",
    "Samuel": "Sam", "Steven": "Steve", "Stephanie": "Steph", "Madison": "Maddie",
    "Jacqueline": "Jackie", "Kimberly": "Kim", "Patricia": "Patty", "Richard": "Rick",
}
SINGLE_GUARDIAN = (
    ("mother", 70), ("father", 15), ("grandparent", 8), ("guardian", 5), ("other", 2),
)
GUARDIAN_PAIRS = (
    (("mother", "father"), 86), (("mother", "stepparent"), 5), (("father", "stepparent"), 3),
    (("mother", "mother"), 3), (("father", "father"), 3),
)
FEMALE_SHARE = {
    "mother": 1.0, "father": 0.0, "grandparent": 0.7, "guardian": 0.6, "other": 0.6,
    "stepparent": 0.5, "foster_parent": 0.7,
}

ELEMENTARY_SPECIALS = (
    ("Art", "ART-ES", "Fine Arts"),
    ("Music", "MUS-ES", "Fine Arts"),
    ("Physical Education", "PE-ES", "Physical Education"),
    ("Library", "LIB-ES", "Library Media"),
    ("STEM Lab", "STEM-ES", "Science"),
)
SECONDARY_CORE = {
    "06": (("English 6", "ELA06", "English Language Arts"), ("Math 6", "MATH06", "Mathematics"),
           ("Science 6", "SCI06", "Science"), ("World Geography", "SS06", "Social Studies")),
    "07": (("English 7", "ELA07", "English Language Arts"), ("Math 7", "MATH07", "Mathematics"),
           ("Life Science", "SCI07", "Science"), ("World History", "SS07", "Social Studies")),
    "08": (("English 8", "ELA08", "English Language Arts"),
           ("Pre-Algebra", "MATH08", "Mathematics"), ("Physical Science", "SCI08", "Science"),
           ("U.S. History to 1877", "SS08", "Social Studies")),
    "09": (("English 9", "ENG09", "English Language Arts"), ("Algebra I", "ALG1", "Mathematics"),
           ("Biology", "BIO", "Science"), ("Human Geography", "SS09", "Social Studies")),
    "10": (("English 10", "ENG10", "English Language Arts"), ("Geometry", "GEOM", "Mathematics"),
           ("Chemistry", "CHEM", "Science"), ("Modern World History", "SS10", "Social Studies")),
    "11": (("American Literature", "ENG11", "English Language Arts"),
           ("Algebra II", "ALG2", "Mathematics"), ("Physics", "PHYS", "Science"),
           ("U.S. History", "SS11", "Social Studies")),
    "12": (("English 12", "ENG12", "English Language Arts"),
           ("Precalculus", "PRECALC", "Mathematics"),
           ("Environmental Science", "ENVSCI", "Science"),
           ("Government and Economics", "SS12", "Social Studies")),
}
SECONDARY_PE = {
    School.Kind.MIDDLE: ("Physical Education", "PE-MS", "Physical Education"),
    School.Kind.HIGH: ("Health and PE", "PE09", "Physical Education"),
}
ELECTIVES = {
    School.Kind.MIDDLE: (
        ("Art", "ART-MS", "Fine Arts"), ("Band", "BAND-MS", "Fine Arts"),
        ("Choir", "CHOIR-MS", "Fine Arts"), ("Spanish", "SPAN-MS", "World Languages"),
        ("Computer Science Discoveries", "CSD", "Computer Science"),
        ("Theater", "THTR-MS", "Fine Arts"),
    ),
    School.Kind.HIGH: (
        ("Spanish I", "SPAN1", "World Languages"), ("Spanish II", "SPAN2", "World Languages"),
        ("French I", "FREN1", "World Languages"), ("Art I", "ART1", "Fine Arts"),
        ("Ceramics", "CERAM", "Fine Arts"), ("Concert Band", "BAND", "Fine Arts"),
        ("Choir", "CHOIR", "Fine Arts"),
        ("AP Computer Science Principles", "APCSP", "Computer Science"),
        ("Psychology", "PSYCH", "Social Studies"), ("Journalism", "JOURN", "English Language Arts"),
        ("Culinary Arts", "CULIN", "Career and Technical Education"),
        ("Digital Photography", "PHOTO", "Fine Arts"),
    ),
}
PERFORMANCE_LABELS = {1: "Below basic", 2: "Basic", 3: "Proficient", 4: "Advanced"}
ASSESSMENT_COLUMNS = (
    "student_id assessment subject score performance_level performance_label administered_on"
)
ENGLISH_PROFICIENCY_TEST = "English Language Proficiency Assessment"
IEP_ACCOMMODATIONS = (
    "Extended time (1.5x) on tests and assignments", "Preferential seating near instruction",
    "Tests read aloud (except reading comprehension)", "Breaks as needed",
    "Reduced-length assignments", "Use of a calculator", "Small-group testing",
    "Copy of teacher notes", "Speech-language services, 60 minutes weekly",
    "Visual schedule and advance notice of transitions", "Graphic organizers for writing",
    "Check for understanding after directions",
)
PLAN_504_ACCOMMODATIONS = (
    "Access to water and restroom as needed", "Extended time (1.5x) on tests",
    "Rest breaks during long tasks", "Elevator pass", "Seating away from distractions",
    "Permission to carry and use an inhaler", "Blood glucose checks in class as needed",
)
EL_ACCOMMODATIONS = (
    "Bilingual word-to-word glossary on tests",
    "Designated English language development, 30 minutes daily",
    "Simplified written directions", "Extended time on tests", "Directions read aloud in English",
    "Sentence frames for written responses",
)
HEALTH_ITEMS = (  # (kind, text, medication, weight)
    ("condition", "Asthma", "Albuterol inhaler as needed", 35),
    ("allergy", "Peanuts", "Epinephrine auto-injector", 12),
    ("allergy", "Tree nuts", "Epinephrine auto-injector", 5),
    ("allergy", "Penicillin", "", 6),
    ("allergy", "Bee stings", "Epinephrine auto-injector", 3),
    ("allergy", "Seasonal pollen", "Cetirizine (given at home)", 10),
    ("allergy", "Milk", "", 3),
    ("allergy", "Eggs", "", 2),
    ("allergy", "Shellfish", "", 2),
    ("allergy", "Latex", "", 1),
    ("condition", "ADHD", "Methylphenidate (given at home)", 12),
    ("condition", "Type 1 diabetes", "Insulin pump; glucose tablets in the nurse's office", 2),
    ("condition", "Seizure disorder", "Rescue medication plan on file", 1.5),
    ("condition", "Migraines", "Ibuprofen as needed (parent-supplied)", 4),
    ("condition", "Eczema", "", 3),
    ("condition", "Celiac disease", "", 1),
    ("condition", "Wears glasses", "", 5),
)
DISCIPLINE_TYPES = (  # (type, weight, serious)
    ("Disruptive behavior", 30, False), ("Defiance of authority", 15, False),
    ("Cell phone violation", 12, False), ("Fighting", 10, True),
    ("Harassment or bullying", 8, True), ("Truancy", 8, False),
    ("Vaping or tobacco", 7, True), ("Profanity", 4, False), ("Vandalism", 3, True),
    ("Theft", 3, True),
)
DISCIPLINE_NOTES = (
    "Incident during passing period; referred to the assistant principal.",
    "Repeated after a verbal warning in class.",
    "Reported by a staff member on lunch duty.",
    "Parent contacted by phone the same day.",
    "Restorative conference held with the students involved.",
)


# fmt: on


class _Weighted:
    """A weighted choice made by bisection: fast enough for millions of draws."""

    def __init__(self, items: Sequence[tuple[object, float]]):
        self.values = [value for value, _ in items]
        self.cumulative = list(accumulate(weight for _, weight in items))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random):
        return self.values[bisect(self.cumulative, rng.random() * self.total)]


def _ascii(text: str) -> str:
    """Lower-case ASCII letters of a name: José Núñez-Ortiz -> josenunezortiz."""
    folded = unicodedata.normalize("NFKD", text).lower()
    return "".join(c for c in folded if "a" <= c <= "z")


# --- planned entities -----------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class _User:
    first: str
    last: str
    username: str
    email: str
    phone: str
    sourced_id: str
    id: int = 0


@dataclass(eq=False, slots=True)
class _School:
    name: str
    slug: str
    kind: str
    nces_id: str
    zone: int
    grade_counts: dict[str, int]
    sourced_id: str
    route_numbers: list[int] = field(default_factory=list)
    id: int = 0


@dataclass(eq=False, slots=True)
class _Guardian:
    user: _User
    relationship: str
    lives_with: bool
    has_data_access: bool
    restriction: str = ""  # "", "all" or "categories"


@dataclass(eq=False, slots=True)
class _Family:
    surname: str
    group: str
    language: str
    address: str
    city: str
    postal_code: str
    phone: str
    meals: bool
    homeless: bool
    foster: bool
    opt_out: str  # "", "*" or one directory field
    special: str = ""
    guardians: list[_Guardian] = field(default_factory=list)
    children: list[_Student] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class _Student:
    school: _School
    grade: str
    family: _Family
    sex: str = ""
    given: str = ""
    middle: str = ""
    preferred: str = ""
    birth: date = date.min
    flags: tuple[bool, ...] = ()
    state_id: str = ""
    local_id: str = ""
    email: str = ""
    sourced_id: str = ""
    ability: float = 0.0
    absence: float = 0.0
    tax_dependent: bool = False
    user: _User | None = None
    sections: list[_Section] = field(default_factory=list)
    id: int = 0


@dataclass(eq=False, slots=True)
class _Course:
    title: str
    code: str
    subject: str
    sourced_id: str
    id: int = 0


@dataclass(eq=False, slots=True)
class _Section:
    school: _School
    course: _Course
    semester: int
    title: str
    period: str
    teacher: _User
    students: list[_Student]
    sourced_id: str
    id: int = 0


# --- the generator ---------------------------------------------------------------------------


# Names drawn for a school, all taken, before its name is numbered instead.
SCHOOL_NAME_DRAWS = 1000


class _DistrictSeeder:
    def __init__(self, slug, name, students, rng, as_of, progress, *, n_schools=None):
        self.slug, self.name, self.n_students = slug, name, students
        self.n_schools = n_schools
        self.rng, self.as_of, self.progress = rng, as_of, progress
        # English-proficiency levels draw from a stream of their own (see
        # _write_english_proficiency), seeded from the district stream's state as text:
        # a str seed is hashed with SHA-512, the same in every process and version.
        seed = f"english-proficiency:{rng.getstate()[1][1:9]}"
        self.english_rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
        self.calendar = SchoolCalendar.containing(as_of)
        self.school_days = [d.isoformat() for d in self.calendar.school_days()]
        self.now = timezone.now()
        self.usernames: dict[str, int] = {}
        self.emails: dict[str, int] = {}
        self.state_ids: set[int] = set()
        self.local_seq = 0
        self.next_route = 1
        self.suffix = "" if slug == DEFAULT_SLUG else f"@{slug}"
        self.domain = f"{slug}.k12.example.org"
        self.sink: RowSink

    # Structure ---------------------------------------------------------------------------

    def create_district(self) -> District:
        rng = self.rng
        fake = Faker("en_US")
        fake.seed_instance(rng.getrandbits(64))
        fake_es = Faker("es_MX")
        fake_es.seed_instance(rng.getrandbits(64))
        self.state = rng.choice(sorted(STATES))
        fips, tz = STATES[self.state]
        self.lea_id = f"{fips}{rng.randrange(90000, 100000):05d}"
        self.pools = {
            "female_en": [fake.first_name_female() for _ in range(1500)],
            "male_en": [fake.first_name_male() for _ in range(1500)],
            "last_en": [fake.last_name() for _ in range(2500)],
            "female_es": [fake_es.first_name_female() for _ in range(500)],
            "male_es": [fake_es.first_name_male() for _ in range(500)],
            "last_es": [fake_es.last_name() for _ in range(800)],
            "street": [fake.street_name() for _ in range(700)],
        }
        home_city = DISTRICT_NAMES.get(self.slug, (None, self.slug.replace("-", " ").title()))[1]
        cities = [home_city, *(fake.city() for _ in range(4))]
        self.cities = [
            (city, [fake.zipcode_in_state(self.state) for _ in range(3)]) for city in cities
        ]
        self.area_codes = [str(rng.randrange(201, 990)) for _ in range(3)]
        self.area_codes = [a if a[1:] != "11" else "503" for a in self.area_codes]
        # PBKDF2 once for the whole district; the salt comes from the seed so the data
        # is reproducible. The password is published, so the hash protects nothing.
        salt = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(22))
        self.password_hash = make_password(DEMO_PASSWORD, salt=salt)
        self.district = District.objects.create(
            slug=self.slug,
            name=self.name,
            nces_id=self.lea_id,
            sourced_id=self._uuid(),
            timezone=tz,
            directory_fields=DIRECTORY_FIELDS,
            state=self.state,
        )
        return self.district

    def run(self) -> None:
        cal = self.calendar
        self.progress(
            f"Seeding {self.slug!r} ({self.name}): {self.n_students:,} students, "
            f"school year {cal.title}, as of {self.as_of} ({len(self.school_days)} school days)"
        )
        self.sink = RowSink(self.district, self.now)
        try:
            self.checked_at_end = self._defer_key_checks()
            if self.sink.postgres and not self.checked_at_end:
                self.progress("  keys: checked row by row (no privilege to check them as a set)")
            with _phase(self.progress, "plan: sessions, schools, district staff"):
                self._write_sessions()
                zones = self._plan_schools()
                self._write_district_admins()
            n_zones = len(zones)
            for index, schools in enumerate(zones):
                started = time.monotonic()
                n = self._seed_zone(index, schools)
                self.progress(
                    f"  zone {index + 1}/{n_zones} ({schools[-1].name}): {n:,} students"
                    f" - {time.monotonic() - started:.1f} s"
                )
            with _phase(self.progress, "write: last rows in"):
                self.sink.flush()
                self.sink.drain()
            if self.checked_at_end:
                with _phase(self.progress, "verify: every link stays in the district"):
                    self._verify_links()
                # The replica role kept the triggers off: the roll-ups they keep, counted once.
                with (
                    _phase(self.progress, "roll up: attendance by month"),
                    connection.cursor() as cursor,
                ):
                    months = attendance_months.fill_district(cursor, self.district.pk)
                    self.sink.counts[AttendanceMonth._meta.db_table] = months
                with (
                    _phase(self.progress, "head counts: memberships by school and dates"),
                    connection.cursor() as cursor,
                ):
                    bands = head_counts.fill_district(cursor, self.district.pk)
                    self.sink.counts[HeadCount._meta.db_table] = bands
        finally:
            self.sink.close()

    def _defer_key_checks(self) -> bool:
        """Skip row-by-row foreign-key triggers for this transaction, if allowed.

        Checking 20 million rows one by one takes minutes; checking the same keys as
        a set at the end (``_verify_links``) takes seconds and fails the transaction
        just the same. Needs a role that may set session_replication_role.
        """
        if not self.sink.postgres:
            return False
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:
            return False
        return True

    def _verify_links(self) -> None:
        """Every foreign key written resolves, inside this district (what the triggers check)."""
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")  # hashed subplans, one pass per table
            for model in dict.fromkeys(w.model for w in self.sink.writers.values()):
                checks, params = [], []
                for f in model._meta.concrete_fields:
                    if not isinstance(f, models.ForeignKey) or f.attname == "district_id":
                        continue
                    target = f.remote_field.model._meta
                    if any(t.attname == "district_id" for t in target.concrete_fields):
                        sub = f'SELECT "id" FROM "{target.db_table}" WHERE "district_id" = %s'  # noqa: S608
                        params.append(self.district.pk)
                    else:
                        sub = f'SELECT "id" FROM "{target.db_table}"'  # noqa: S608
                    checks.append(
                        (
                            f.name,
                            f'count(*) FILTER (WHERE "{f.column}" IS NOT NULL'
                            f' AND "{f.column}" NOT IN ({sub}))',
                        )
                    )
                if not checks:
                    continue
                sql = (
                    f"SELECT {', '.join(c for _, c in checks)} "  # noqa: S608
                    f'FROM "{model._meta.db_table}" WHERE "district_id" = %s'
                )
                cursor.execute(sql, [*params, self.district.pk])
                broken = [
                    (name, n) for (name, _), n in zip(checks, cursor.fetchone(), strict=True) if n
                ]
                if broken:
                    raise RuntimeError(f"{model._meta.label}: rows with dangling keys {broken}")

    def _write_sessions(self) -> None:
        cal = self.calendar
        ids = self.sink.ids(AcademicSession, 1 + len(cal.semesters) + len(cal.grading_periods))
        writer = self.sink.writer(
            AcademicSession, "id sourced_id title kind start_date end_date parent_id school_year"
        )
        year_id = ids[0]
        self.semester_ids = ids[1 : 1 + len(cal.semesters)]
        self.period_ids = ids[1 + len(cal.semesters) :]
        end_year = cal.start_year + 1
        writer.add(
            (
                year_id,
                self._uuid(),
                f"School year {cal.title}",
                "schoolYear",
                cal.first_day,
                cal.last_day,
                None,
                end_year,
            )
        )
        for (title, start, end), sid in zip(cal.semesters, self.semester_ids, strict=True):
            writer.add((sid, self._uuid(), title, "semester", start, end, year_id, end_year))
        for (title, start, end, sem), pid in zip(cal.grading_periods, self.period_ids, strict=True):
            writer.add(
                (
                    pid,
                    self._uuid(),
                    title,
                    "gradingPeriod",
                    start,
                    end,
                    self.semester_ids[sem],
                    end_year,
                )
            )

    def _plan_schools(self) -> list[list[_School]]:
        """Schools by kind, scaled to the district, grouped into feeder zones."""
        rng = self.rng
        weights = [1.0] * 11 + [0.96, 0.93]  # a little attrition in grades 11-12
        grade_totals = _apportion(self.n_students, weights)
        by_grade = dict(zip(GRADES, grade_totals, strict=True))
        counts = {
            kind: max(1, round(sum(by_grade[g] for g in grades) / SCHOOL_SIZE[kind]))
            for kind, grades in KIND_GRADES.items()
        }
        if self.n_schools is not None:
            # As many schools as asked, in the same mix of kinds, at least one of each.
            spare = _apportion(self.n_schools - len(counts), list(counts.values()))
            counts = {kind: 1 + extra for kind, extra in zip(counts, spare, strict=True)}
        n_zones = counts[School.Kind.HIGH]
        names = self._school_names(counts)
        numbers = sorted(rng.sample(range(1, 100000), sum(counts.values())))
        schools: list[_School] = []
        for kind, grades in KIND_GRADES.items():
            n = counts[kind]
            sizes = [rng.uniform(0.85, 1.15) for _ in range(n)]
            per_school = [_apportion(by_grade[g], sizes) for g in grades]
            for i in range(n):
                name = names[kind][i]
                schools.append(
                    _School(
                        name=name,
                        slug=slugify(name.removesuffix(" School")),
                        kind=kind,
                        nces_id=f"{self.lea_id}{numbers[len(schools)]:05d}",
                        zone=i % n_zones,
                        grade_counts={g: per_school[j][i] for j, g in enumerate(grades)},
                        sourced_id=self._uuid(),
                    )
                )
        ids = self.sink.ids(School, len(schools))
        writer = self.sink.writer(School, "id sourced_id name nces_id kind")
        for school, sid in zip(schools, ids, strict=True):
            school.id = sid
            writer.add((sid, school.sourced_id, school.name, school.nces_id, school.kind))
        return [[s for s in schools if s.zone == z] for z in range(n_zones)]

    def _school_names(self, counts: dict[str, int]) -> dict[str, list[str]]:
        taken: set[str] = set()
        names: dict[str, list[str]] = {}
        for kind, n in counts.items():
            bases = list(SCHOOL_BASES[kind])
            if self.slug != DEFAULT_SLUG:  # the demo district opens with Lincoln Elementary
                self.rng.shuffle(bases)
            out, misses = [], 0
            while len(out) < n:
                base = bases.pop(0) if bases else self.rng.choice(self.pools["last_en"])
                name = f"{base} {SCHOOL_SUFFIX[kind]}"
                if name in taken and misses >= SCHOOL_NAME_DRAWS:
                    # A district of a million students has more schools of a kind than the
                    # name pool has names: the second Lincoln Elementary is "No. 2".
                    number = 1
                    while name in taken:
                        number += 1
                        name = f"{base} {SCHOOL_SUFFIX[kind]} No. {number}"
                if name in taken:
                    misses += 1
                    continue
                taken.add(name)
                out.append(name)
            names[kind] = out
        return names

    def _write_district_admins(self) -> None:
        admins = [self._adult("districtadmin") for _ in range(2)]
        self._write_users(admins)
        writer = self.sink.writer(RoleMembership, "user_id role begin_date sourced_id")
        for admin in admins:
            writer.add((admin.id, Role.DISTRICT_ADMIN, self._hire_date(), self._uuid()))

    # People ------------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _username(self, base: str) -> str:
        n = self.usernames.get(base, 0) + 1
        self.usernames[base] = n
        return f"{base}{n if n > 1 else ''}{self.suffix}"

    def _unique_email(self, stem: str, domain: str) -> str:
        n = self.emails.get(stem, 0) + 1
        self.emails[stem] = n
        return f"{stem}{n if n > 1 else ''}@{domain}"

    def _phone(self) -> str:
        return f"({self.rng.choice(self.area_codes)}) 555-01{self.rng.randrange(100):02d}"

    def _first_name(self, female: bool, spanish: bool) -> str:
        pool = ("female" if female else "male") + ("_es" if spanish else "_en")
        return self.rng.choice(self.pools[pool])

    def _adult(
        self,
        prefix: str,
        *,
        post: str = "",
        female: bool | None = None,
        first: str = "",
        last: str = "",
        spanish: bool | None = None,
        email: str = "",
        email_domain: str = "",
    ) -> _User:
        """A person with a sign-in: ``prefix.first.last``, or ``prefix.post`` for a post."""
        rng = self.rng
        spanish = rng.random() < 0.2 if spanish is None else spanish
        female = rng.random() < 0.5 if female is None else female
        first = first or self._first_name(female, spanish and rng.random() < 0.8)
        last = last or rng.choice(self.pools["last_es" if spanish else "last_en"])
        stem = f"{_ascii(first)}.{_ascii(last)}"
        username = self._username(f"{prefix}.{post or stem}")
        return _User(
            first=first,
            last=last,
            username=username,
            email=email or self._unique_email(stem, email_domain or self.domain),
            phone=self._phone(),
            sourced_id=self._uuid(),
        )

    def _hire_date(self) -> date:
        return date(self.calendar.start_year - self.rng.randrange(0, 20), 8, 1)

    def _write_users(self, users: Sequence[_User]) -> None:
        writer = self.sink.writer(
            User, "id username password first_name last_name email phone sourced_id"
        )
        for user, uid in zip(users, self.sink.ids(User, len(users)), strict=True):
            user.id = uid
            writer.add(
                (
                    uid,
                    user.username,
                    self.password_hash,
                    user.first,
                    user.last,
                    user.email,
                    user.phone,
                    user.sourced_id,
                )
            )

    # A feeder zone -----------------------------------------------------------------------------

    def _seed_zone(self, index: int, schools: list[_School]) -> int:
        rng = self.rng
        slots = [
            (school, grade)
            for school in schools
            for grade, n in school.grade_counts.items()
            for _ in range(n)
        ]
        rng.shuffle(slots)
        families = self._plan_families(slots, showcase=index == 0)
        students = [child for family in families for child in family.children]
        for family in families:
            for child in family.children:
                self._fill_student(child)
        for school in schools:
            n_routes = max(2, sum(school.grade_counts.values()) // 60)
            school.route_numbers = list(range(self.next_route, self.next_route + n_routes))
            self.next_route += n_routes
        sections: list[_Section] = []
        courses: list[_Course] = []
        teachers: dict[_School, list[_User]] = {}
        for school in schools:
            members = [s for s in students if s.school is school]
            school_sections, school_courses, school_teachers = self._plan_schedule(school, members)
            sections += school_sections
            courses += school_courses
            teachers[school] = school_teachers
        staff = {school: self._plan_staff(school) for school in schools}

        # Ids for everything the rows below point at, reserved in a few statements.
        users = [g.user for f in families for g in f.guardians]
        users += [s.user for s in students if s.user is not None]
        users += [t for ts in teachers.values() for t in ts]
        users += [u for members in staff.values() for _, u in members]
        self._write_users(users)
        for obj, oid in zip(students, self.sink.ids(Student, len(students)), strict=True):
            obj.id = oid
        for obj, oid in zip(courses, self.sink.ids(Course, len(courses)), strict=True):
            obj.id = oid
        for obj, oid in zip(sections, self.sink.ids(Section, len(sections)), strict=True):
            obj.id = oid

        self._write_students(students)
        self._write_families(families)
        self._write_schedule(schools, courses, sections, teachers, staff)
        self._write_records(students)
        return len(students)

    def _plan_families(self, slots: list[tuple[_School, str]], *, showcase: bool) -> list[_Family]:
        """Group a zone's students into families; the showcase zone gets the demo families."""
        rng = self.rng
        families: list[_Family] = []
        if showcase:

            def take(kind: str, grades: Sequence[str] | None = None):
                for i, (school, grade) in enumerate(slots):
                    if school.kind == kind and (grades is None or grade in grades):
                        return slots.pop(i)
                raise ValueError(f"no {kind} student left for the demo families")

            two = self._family(2, special="two_children")
            two.children = [
                _Student(*take(School.Kind.ELEMENTARY), two),
                _Student(*take(School.Kind.MIDDLE), two),
            ]
            families.append(two)
            for special in ("categories", "all"):
                fam = self._family(2, special=special)
                fam.guardians[1].lives_with = False
                fam.guardians[1].restriction = special
                fam.children = [_Student(*take(School.Kind.ELEMENTARY), fam)]
                families.append(fam)
            for special in ("eligible", "tax_dependent"):
                fam = self._family(1 if special == "eligible" else 2, special=special)
                child = _Student(*take(School.Kind.HIGH, ("12",)), fam)
                child.tax_dependent = special == "tax_dependent"
                fam.children = [child]
                families.append(fam)
        i = 0
        while i < len(slots):
            size = 1
            if rng.random() < 0.15:
                size = 2 if rng.random() < 0.75 else 3
            fam = self._family(2 if rng.random() < 0.45 else 1)
            fam.children = [_Student(school, grade, fam) for school, grade in slots[i : i + size]]
            families.append(fam)
            i += size
        return families

    def _family(self, n_guardians: int, *, special: str = "") -> _Family:
        rng = self.rng
        group = _GROUPS.pick(rng)
        spanish = group == "hispanic" and rng.random() < 0.9
        surname = rng.choice(self.pools["last_es" if spanish else "last_en"])
        city, zips = self.cities[0] if rng.random() < 0.7 else rng.choice(self.cities[1:])
        homeless = not special and rng.random() < 0.02
        foster = not special and rng.random() < 0.005
        family = _Family(
            surname=surname,
            group=group,
            language=_LANGUAGES[group].pick(rng),
            address=f"{rng.randrange(100, 9900)} {rng.choice(self.pools['street'])}",
            city=city,
            postal_code=rng.choice(zips),
            phone=self._phone(),
            meals=homeless or foster or rng.random() < 0.42,
            homeless=homeless,
            foster=foster,
            opt_out="" if special or rng.random() >= 0.03 else _OPT_OUTS.pick(rng),
            special=special,
        )
        if special:
            relationships = ("mother", "father")[:n_guardians]
        elif foster:
            relationships = ("foster_parent",) * n_guardians
        elif n_guardians == 2:
            relationships = _PAIRS.pick(rng)
        else:
            relationships = (_SINGLE.pick(rng),)
        separated = n_guardians == 2 and not special and rng.random() < 0.15
        for k, relationship in enumerate(relationships):
            shares_name = relationship in ("mother", "father") and rng.random() < 0.85
            user = self._adult(
                "parent",
                female=rng.random() < FEMALE_SHARE[relationship],
                last=surname if shares_name else "",
                spanish=spanish,
                email_domain="mail.example.net",
            )
            family.guardians.append(
                _Guardian(
                    user=user,
                    relationship=relationship,
                    lives_with=not (separated and k == 1),
                    has_data_access=bool(special) or rng.random() >= 0.01,
                )
            )
        return family

    def _fill_student(self, s: _Student) -> None:
        rng, fam = self.rng, s.family
        r = rng.random()
        s.sex = "F" if r < 0.4975 else "M" if r < 0.995 else "X"
        female = s.sex == "F" or (s.sex == "X" and rng.random() < 0.5)
        spanish = fam.group == "hispanic" and rng.random() < 0.6
        s.given = self._first_name(female, spanish)
        if rng.random() < 0.65:
            s.middle = self._first_name(female, spanish)
        if rng.random() < 0.10:
            s.preferred = NICKNAMES.get(s.given) or s.middle or self._first_name(female, spanish)
        gi = GRADES.index(s.grade)
        y = self.calendar.start_year
        held_back = rng.random() < 0.04
        s.birth = date(y - 6 - gi - held_back, 9, 2) + timedelta(days=rng.randrange(365))
        if fam.special in ("eligible", "tax_dependent"):
            # 18 on the as-of date, and of the usual age for grade 12.
            latest = min(_years_before(self.as_of, 18), date(y - 17, 9, 1))
            s.birth = latest - timedelta(days=rng.randrange(0, 120))
        s.flags = _race_flags(fam.group, rng)
        while True:
            state_id = rng.randrange(10**9, 10**10)
            if state_id not in self.state_ids:
                self.state_ids.add(state_id)
                break
        s.state_id = str(state_id)
        self.local_seq += 1
        entry_year = y - rng.randrange(0, gi + 1)
        s.local_id = f"{entry_year % 100:02d}-{self.local_seq:06d}"
        if s.school.kind == School.Kind.HIGH:
            stem = f"{_ascii(s.given)}.{_ascii(fam.surname)}"
            s.email = self._unique_email(stem, f"students.{self.domain}")
        s.sourced_id = self._uuid()
        s.ability = rng.gauss(0, 1)
        chronic = rng.random() < (0.3 if fam.homeless or fam.foster else 0.07)
        s.absence = rng.uniform(0.12, 0.30) if chronic else rng.uniform(0.025, 0.09)
        if fam.special == "eligible":
            s.user = self._adult("student", first=s.given, last=fam.surname, email=s.email)

    def _plan_schedule(self, school: _School, members: list[_Student]):
        """Cohorts of ~25 per grade, six sections each per semester, and their teachers."""
        rng = self.rng
        by_grade: dict[str, list[_Student]] = {g: [] for g in KIND_GRADES[school.kind]}
        for s in members:
            by_grade[s.grade].append(s)
        cohorts = []
        class_size = 22 if school.kind == School.Kind.ELEMENTARY else 25
        for grade, group in by_grade.items():
            if not group:
                continue
            rng.shuffle(group)
            k = max(1, round(len(group) / class_size))
            for c in range(k):
                cohorts.append((grade, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[c % 26], group[c::k]))
        courses: dict[str, _Course] = {}

        def course(title: str, code: str, subject: str) -> _Course:
            if title not in courses:
                courses[title] = _Course(title, code, subject, self._uuid())
            return courses[title]

        teachers: list[_User] = []
        pools: dict[str, list[tuple[_User, list[list[str]]]]] = {}

        def teacher_for(dept: str, semester: int, period: str, cap: int) -> _User:
            """The department's first teacher with room (for periods 1-6: that hour free)."""
            pool = pools.setdefault(dept, [])
            numbered = period.isdigit()
            for user, loads in pool:
                load = loads[semester]
                if len(load) < cap and not (numbered and period in load):
                    load.append(period)
                    return user
            user = self._adult("teacher")
            teachers.append(user)
            loads = [[] for _ in self.calendar.semesters]
            loads[semester].append(period)
            pool.append((user, loads))
            return user

        sections: list[_Section] = []
        for semester in range(len(self.calendar.semesters)):
            for ci, (grade, letter, group) in enumerate(cohorts):
                label = "K" if grade == "KG" else str(int(grade))
                if school.kind == School.Kind.ELEMENTARY:
                    home = "Kindergarten" if grade == "KG" else f"Grade {label}"
                    plan = [
                        (
                            course(home, f"HR{grade}", "Elementary Education"),
                            "HR",
                            f"homeroom-{grade}{letter}",
                            1,
                        )
                    ]
                    plan += [
                        (course(*sp), "Specials", "specials", 25) for sp in ELEMENTARY_SPECIALS
                    ]
                else:
                    core = [course(*c) for c in SECONDARY_CORE[grade]]
                    n_electives = 2 if grade in ("10", "11", "12") else 1
                    extra = [] if n_electives == 2 else [course(*SECONDARY_PE[school.kind])]
                    extra += [course(*e) for e in rng.sample(ELECTIVES[school.kind], n_electives)]
                    plan = [
                        (c, str((ci + slot) % 6 + 1), c.subject, 5)
                        for slot, c in enumerate(core + extra)
                    ]
                for c, period, dept, cap in plan:
                    teacher = teacher_for(dept, semester, period, cap)
                    if school.kind == School.Kind.ELEMENTARY:
                        title = f"{c.title if period != 'HR' else 'Homeroom'} {label}-{letter}"
                    else:
                        title = f"{c.title} (Period {period})"
                    sections.append(
                        _Section(school, c, semester, title, period, teacher, group, self._uuid())
                    )
        for section in sections:
            for s in section.students:
                s.sections.append(section)
        return sections, list(courses.values()), teachers

    def _plan_staff(self, school: _School) -> list[tuple[str, _User]]:
        size = sum(school.grade_counts.values())
        roles = [
            (Role.PRINCIPAL, "principal"),
            (Role.SCHOOL_ADMIN, "schooladmin"),
            (Role.COUNSELOR, "counselor"),
            *([(Role.COUNSELOR, "counselor")] if size >= 700 else []),
            (Role.NURSE, "nurse"),
            (Role.SPECIAL_EDUCATION, "sped"),
        ]
        return [(role, self._adult(prefix, post=school.slug)) for role, prefix in roles]

    # Rows ------------------------------------------------------------------------------------

    def _write_students(self, students: list[_Student]) -> None:
        writer = self.sink.writer(
            Student,
            "id sourced_id user_id given_name middle_name family_name preferred_name grade_level "
            "enrollment_status birth_date sex white black_or_african_american asian "
            "american_indian_or_alaska_native native_hawaiian_or_pacific_islander "
            "hispanic_or_latino home_language state_id local_id address_line city state "
            "postal_code phone email is_tax_dependent",
        )
        members = self.sink.writer(SchoolMembership, "student_id school_id is_primary begin_date")
        start = self.calendar.first_day
        for s in students:
            fam = s.family
            writer.add(
                (
                    s.id,
                    s.sourced_id,
                    s.user.id if s.user else None,
                    s.given,
                    s.middle,
                    fam.surname,
                    s.preferred,
                    s.grade,
                    "active",
                    s.birth,
                    s.sex,
                    *s.flags,
                    fam.language,
                    s.state_id,
                    s.local_id,
                    fam.address,
                    fam.city,
                    self.state,
                    fam.postal_code,
                    fam.phone,
                    s.email,
                    s.tax_dependent,
                )
            )
            members.add((s.id, s.school.id, True, start))

    def _write_families(self, families: list[_Family]) -> None:
        rng = self.rng
        links = self.sink.writer(
            GuardianLink, "id guardian_id student_id relationship lives_with has_data_access"
        )
        restrictions = self.sink.writer(
            CustodyRestriction, "guardian_link_id scope categories begin_date reference"
        )
        opt_outs = self.sink.writer(DirectoryOptOut, "student_id field chosen_by_id")
        pairs = [(g, s) for fam in families for g in fam.guardians for s in fam.children]
        ids = self.sink.ids(GuardianLink, len(pairs))
        for (g, s), link_id in zip(pairs, ids, strict=True):
            links.add((link_id, g.user.id, s.id, g.relationship, g.lives_with, g.has_data_access))
            if g.restriction:
                begin = self.as_of - timedelta(days=rng.randrange(200, 700))
                reference = f"Case {begin.year}-DR-{rng.randrange(10000, 99999)} (synthetic)"
                categories = ["contact"] if g.restriction == "categories" else []
                restrictions.add((link_id, g.restriction, categories, begin, reference))
        for fam in families:
            if fam.opt_out:
                for s in fam.children:
                    opt_outs.add((s.id, fam.opt_out, fam.guardians[0].user.id))

    def _write_schedule(self, schools, courses, sections, teachers, staff) -> None:
        cal = self.calendar
        course_rows = self.sink.writer(Course, "id sourced_id school_id title code subject")
        section_rows = self.sink.writer(
            Section, "id sourced_id school_id course_id term_id title period room"
        )
        section_teachers = self.sink.writer(
            SectionTeacher, "section_id teacher_id sourced_id is_primary begin_date end_date"
        )
        enrollments = self.sink.writer(
            Enrollment, "section_id student_id sourced_id begin_date end_date"
        )
        roles = self.sink.writer(RoleMembership, "user_id role school_id begin_date sourced_id")
        school_of_course = {}
        for section in sections:
            school_of_course[section.course] = section.school
        for c in courses:
            course_rows.add(
                (c.id, c.sourced_id, school_of_course[c].id, c.title, c.code, c.subject)
            )
        uuid4 = self._uuid
        # Each teacher keeps one classroom, numbered in the order the school hired them.
        rooms = {t: str(101 + i) for school in schools for i, t in enumerate(teachers[school])}
        for section in sections:
            _, begin, end = cal.semesters[section.semester]
            section_rows.add(
                (
                    section.id,
                    section.sourced_id,
                    section.school.id,
                    section.course.id,
                    self.semester_ids[section.semester],
                    section.title,
                    section.period,
                    rooms.get(section.teacher, ""),
                )
            )
            section_teachers.add((section.id, section.teacher.id, uuid4(), True, begin, end))
            sid = section.id
            for s in section.students:
                enrollments.add((sid, s.id, uuid4(), begin, end))
        for school in schools:
            for teacher in teachers[school]:
                roles.add((teacher.id, Role.TEACHER, school.id, self._hire_date(), uuid4()))
            for role, user in staff[school]:
                roles.add((user.id, role, school.id, self._hire_date(), uuid4()))

    def _write_records(self, students: list[_Student]) -> None:
        self._write_attendance(students)
        self._write_grades(students)
        self._write_assessments(students)
        self._write_programs(students)
        self._write_health(students)
        self._write_discipline(students)
        self._write_transportation(students)

    def _write_attendance(self, students: list[_Student]) -> None:
        add = self.sink.writer(AttendanceRecord, "student_id date status reason").add
        rand = self.rng.random
        days = self.school_days
        for s in students:
            sid, p = s.id, s.absence
            for day in days:
                r = rand()
                if r >= p:
                    add((sid, day, "present", ""))
                elif r < p * 0.5:
                    add((sid, day, "absent", ""))
                elif r < p * 0.786:
                    add((sid, day, "excused", _EXCUSES.pick(self.rng)))
                else:
                    add((sid, day, "tardy", ""))

    def _write_grades(self, students: list[_Student]) -> None:
        rng = self.rng
        add = self.sink.writer(
            Grade, "student_id section_id grading_period_id sourced_id mark percent comment"
        ).add
        started = [
            (pid, sem)
            for (_, start, _, sem), pid in zip(
                self.calendar.grading_periods, self.period_ids, strict=True
            )
            if start <= self.as_of
        ]
        if not started:
            return
        gauss, uuid4 = rng.gauss, self._uuid
        for s in students:
            base = 84 + 7 * s.ability
            for section in s.sections:
                subject_base = base + gauss(0, 4)
                for pid, sem in started:
                    if section.semester != sem:
                        continue
                    percent = min(100.0, max(35.0, subject_base + gauss(0, 3)))
                    mark = _MARKS[bisect(_MARK_CUTS, percent)]
                    comment = ""
                    if rng.random() < 0.08:
                        comment = (
                            _COMMENTS_LOW.pick(rng) if percent < 75 else _COMMENTS_HIGH.pick(rng)
                        )
                    add((s.id, section.id, pid, uuid4(), mark, f"{percent:.2f}", comment))

    def _write_assessments(self, students: list[_Student]) -> None:
        rng, cal = self.rng, self.calendar
        add = self.sink.writer(AssessmentResult, ASSESSMENT_COLUMNS).add
        y = cal.start_year
        days = cal.school_days(cal.last_day)
        windows = []
        for season, around in (
            ("Fall", cal.first_day + timedelta(days=28)),
            ("Winter", date(y + 1, 1, 20)),
            ("Spring", date(y + 1, 5, 1)),
        ):
            first = next((i for i, d in enumerate(days) if d >= around), len(days))
            window = [d for d in days[first : first + 10] if d <= self.as_of]
            if window:
                windows.append((f"{season} Benchmark {cal.title}", window))
        state_test = _on_or_after(date(y, 4, 14), 1)
        for s in students:
            gi = GRADES.index(s.grade)
            skill = s.ability
            if gi <= 10:
                for name, window in windows:
                    for subject in ("Reading", "Mathematics"):
                        z = skill + rng.gauss(0, 0.5)
                        level = _level(z)
                        day = rng.choice(window)
                        score = 150 + 11 * gi + 12 * z
                        add(
                            (
                                s.id,
                                name,
                                subject,
                                f"{score:.0f}",
                                level,
                                PERFORMANCE_LABELS[level],
                                day,
                            )
                        )
            if s.grade in ("04", "05", "06", "07", "08", "09", "11"):
                tested = gi - (2 if s.grade == "11" else 1)
                subjects = ["English Language Arts", "Mathematics"]
                if tested in (5, 8, 10):
                    subjects.append("Science")
                for subject in subjects:
                    z = skill + rng.gauss(0, 0.5)
                    level = _level(z)
                    score = 2400 + 30 * (tested - 3) + 60 * z
                    day = state_test + timedelta(days=rng.choice((0, 1, 2, 7, 8, 9)))
                    add(
                        (
                            s.id,
                            f"State Assessment of Readiness, Spring {y}",
                            subject,
                            f"{score:.0f}",
                            level,
                            PERFORMANCE_LABELS[level],
                            day,
                        )
                    )

    def _write_programs(self, students: list[_Student]) -> None:
        rng, cal = self.rng, self.calendar
        add = self.sink.writer(
            ProgramParticipation, "student_id program begin_date accommodations"
        ).add
        start = cal.first_day
        for s in students:
            fam, gi = s.family, GRADES.index(s.grade)
            r = rng.random()
            if r < 0.14:
                add(
                    (
                        s.id,
                        "iep",
                        self._since(gi),
                        "; ".join(rng.sample(IEP_ACCOMMODATIONS, rng.randint(2, 4))),
                    )
                )
            elif r < 0.17:
                add(
                    (
                        s.id,
                        "section_504",
                        self._since(gi),
                        "; ".join(rng.sample(PLAN_504_ACCOMMODATIONS, rng.randint(1, 3))),
                    )
                )
            if fam.language != "English" and rng.random() < (0.55 if gi <= 5 else 0.35):
                add(
                    (
                        s.id,
                        "english_learner",
                        self._since(gi),
                        "; ".join(rng.sample(EL_ACCOMMODATIONS, rng.randint(2, 3))),
                    )
                )
                self._write_english_proficiency(s)
            if fam.meals:
                add((s.id, "free_reduced_lunch", start, ""))
            if fam.homeless:
                add((s.id, "homeless", start, ""))
            if fam.foster:
                add((s.id, "foster", self._since(min(gi, 2)), ""))

    def _write_english_proficiency(self, s: _Student) -> None:
        """An English learner's English-proficiency levels (1-6): last school year's,
        unless they started school this year, and this year's once its window has come.
        From a stream of their own, so that the rest of the data stays as it was."""
        rng, cal = self.english_rng, self.calendar
        add = self.sink.writer(AssessmentResult, ASSESSMENT_COLUMNS).add
        this_year = cal.first_day + timedelta(days=40)
        level = min(6, max(1, round(2.5 + s.ability + rng.gauss(0, 0.8))))
        if s.grade != "KG":
            add((s.id, ENGLISH_PROFICIENCY_TEST, ENGLISH_PROFICIENCY_SUBJECT, None, level,
                 "", this_year - timedelta(days=364)))  # fmt: skip
        if this_year <= self.as_of:
            level += (rng.random() < 0.6) - (rng.random() < 0.1)
            add((s.id, ENGLISH_PROFICIENCY_TEST, ENGLISH_PROFICIENCY_SUBJECT, None,
                 min(6, max(1, level)), "", this_year))  # fmt: skip

    def _since(self, grade_index: int) -> date:
        """A program start in the student's school years so far (not after as-of)."""
        years = self.rng.randrange(0, grade_index + 1)
        day = _first_day(self.calendar.start_year - years) + timedelta(
            days=self.rng.randrange(0, 150)
        )
        return min(day, max(self.as_of, self.calendar.first_day))

    def _write_health(self, students: list[_Student]) -> None:
        rng = self.rng
        add = self.sink.writer(
            HealthRecord, "student_id conditions allergies medications immunization_status"
        ).add
        for s in students:
            if rng.random() >= 0.25:
                continue
            picked = []
            for _ in range(1 if rng.random() < 0.75 else 2 if rng.random() < 0.8 else 3):
                item = _HEALTH.pick(rng)
                if item not in picked:
                    picked.append(item)
            conditions = "; ".join(text for kind, text, _, _ in picked if kind == "condition")
            allergies = "; ".join(text for kind, text, _, _ in picked if kind == "allergy")
            medications = "; ".join(dict.fromkeys(med for _, _, med, _ in picked if med))
            add((s.id, conditions, allergies, medications, _IMMUNIZATION.pick(rng)))

    def _write_discipline(self, students: list[_Student]) -> None:
        rng = self.rng
        add = self.sink.writer(
            DisciplineIncident,
            "student_id school_id occurred_on incident_type action_taken days_removed description",
        ).add
        days = self.school_days
        if not days:
            return
        for s in students:
            if s.school.kind == School.Kind.ELEMENTARY or rng.random() >= 0.05:
                continue
            n = 1 if rng.random() < 0.7 else 2 if rng.random() < 0.67 else 3
            for day in sorted(rng.sample(days, min(n, len(days)))):
                kind, serious = _DISCIPLINE.pick(rng)
                if serious:
                    action, removed = rng.choice(
                        (
                            ("In-school suspension", "1.0"),
                            ("Out-of-school suspension", "1.0"),
                            ("Out-of-school suspension", "3.0"),
                            ("Parent conference", "0.0"),
                        )
                    )
                else:
                    action, removed = rng.choice(
                        (
                            ("Warning", "0.0"),
                            ("Detention", "0.0"),
                            ("Parent conference", "0.0"),
                            ("In-school suspension", "0.5"),
                        )
                    )
                add((s.id, s.school.id, day, kind, action, removed, rng.choice(DISCIPLINE_NOTES)))

    def _write_transportation(self, students: list[_Student]) -> None:
        rng = self.rng
        add = self.sink.writer(
            TransportationAssignment, "student_id route stop pickup_time dropoff_time"
        ).add
        first_bell = {
            School.Kind.HIGH: 6 * 60 + 40,
            School.Kind.MIDDLE: 7 * 60 + 10,
            School.Kind.ELEMENTARY: 7 * 60 + 45,
        }
        streets = self.pools["street"]
        for s in students:
            if rng.random() >= 0.55:
                continue
            pickup = first_bell[s.school.kind] + rng.randrange(0, 35)
            dropoff = pickup + 8 * 60 + rng.randrange(-10, 15)
            stop = f"{rng.choice(streets)} & {rng.choice(streets)}"
            add(
                (
                    s.id,
                    f"Route {rng.choice(s.school.route_numbers)}",
                    stop,
                    clock(pickup // 60, pickup % 60),
                    clock(dropoff // 60, dropoff % 60),
                )
            )


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder), summing exactly."""
    scale = total / sum(weights)
    shares = [w * scale for w in weights]
    counts = [int(x) for x in shares]
    order = sorted(range(len(shares)), key=lambda i: (counts[i] - shares[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


_MARK_CUTS, _MARKS = (60, 70, 80, 90), "FDCBA"


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _level(z: float) -> int:
    return 1 if z < -0.8 else 2 if z < 0.1 else 3 if z < 1.0 else 4


def _race_flags(group: str, rng: random.Random) -> tuple[bool, ...]:
    """(white, black, asian, aian, nhpi, hispanic) for one student."""
    races: set[str] = set()
    if group in RACE_FLAGS:
        races.add(group)
    elif group == "multi":
        while len(races) < 2:
            races.add(_MULTI_RACES.pick(rng))
    else:  # hispanic: ethnicity first; race as families report it
        r = rng.random()
        if r < 0.55:
            races.add("white")
        elif r < 0.6:
            races.add("black")
        elif r < 0.65:
            races.add("aian")
    return (*(race in races for race in RACE_FLAGS), group == "hispanic")


_GROUPS = _Weighted(ETHNIC_GROUPS)
_LANGUAGES = {group: _Weighted(items) for group, items in HOME_LANGUAGES.items()}
_MULTI_RACES = _Weighted((("white", 45), ("black", 30), ("asian", 15), ("aian", 7), ("nhpi", 3)))
_SINGLE = _Weighted(SINGLE_GUARDIAN)
_PAIRS = _Weighted(GUARDIAN_PAIRS)
_OPT_OUTS = _Weighted((("*", 70), ("school", 15), ("grade_level", 10), ("middle_name", 5)))
_EXCUSES = _Weighted(
    (
        ("Illness", 60),
        ("Medical appointment", 25),
        ("Family emergency", 5),
        ("Religious observance", 5),
        ("Bereavement", 5),
    )
)
_COMMENTS_LOW = _Weighted(
    (
        ("Missing assignments", 40),
        ("Please schedule a conference", 20),
        ("Needs to complete make-up work", 25),
        ("Improving", 15),
    )
)
_COMMENTS_HIGH = _Weighted(
    (("Excellent effort", 35), ("A pleasure to have in class", 35), ("Strong participation", 30))
)
_HEALTH = _Weighted([(item, item[3]) for item in HEALTH_ITEMS])
_IMMUNIZATION = _Weighted((("complete", 92), ("incomplete", 4), ("exempt", 3), ("unknown", 1)))
_DISCIPLINE = _Weighted([((name, serious), w) for name, w, serious in DISCIPLINE_TYPES])


# --- the demo logins ---------------------------------------------------------------------------

LOGIN_LABELS = {
    "district_admin": "district admin",
    "principal": "principal",
    "school_admin": "school admin",
    "counselor": "counselor",
    "nurse": "nurse",
    "special_education": "special-ed staff",
    "teacher": "teacher",
    "parent_two_children": "parent, two children",
    "parent_category_restricted": "parent, restricted categories",
    "parent_all_restricted": "parent, restricted entirely",
    "eligible_student": "eligible student (18)",
    "tax_dependent_parent": "parent of a tax dependent",
}


def demo_logins(district: District, *, as_of: date) -> tuple[dict[str, str], dict[str, str]]:
    """The demo accounts of a seeded district, found in its data, with what each one sees.

    Read from the database, not remembered from seeding, so a district seeded earlier
    (which ``seed_demo`` leaves alone) reports the same accounts. Each pick is the first
    qualifying account in creation order (the showcase families are made first), so the
    same data gives the same logins.
    """
    logins: dict[str, str] = {}
    sees: dict[str, str] = {}
    with tenant_scope(district):
        n_students = Student.objects.count()
        n_schools = School.objects.count()
        admin = (
            RoleMembership.objects.filter(role=Role.DISTRICT_ADMIN, school__isnull=True)
            .order_by("user_id")
            .values_list("user__username", flat=True)
            .first()
        )
        if admin:
            logins["district_admin"] = admin
            sees["district_admin"] = (
                f"everything in the district: {n_students:,} students at {n_schools} schools"
            )
        eligible = (
            Student.objects.filter(user__isnull=False, is_tax_dependent=False)
            .order_by("user_id")
            .select_related("user")
            .first()
        )
        if eligible is None:
            return logins, sees  # not a seeded district: no showcase school
        school = (
            School.objects.filter(memberships__student=eligible, memberships__is_primary=True)
            .order_by("id")
            .first()
        )
        at_school = SchoolMembership.objects.filter(school=school).count()
        for role, label in (
            (Role.PRINCIPAL, "all {n} students at {school}, every category but health"),
            (Role.SCHOOL_ADMIN, "all {n} students at {school}, every category but health"),
            (Role.COUNSELOR, "all {n} students at {school}, every category but health"),
            (Role.NURSE, "all {n} students at {school}, health included"),
            (Role.SPECIAL_EDUCATION, "all {n} students at {school}, every category but health"),
        ):
            username = (
                RoleMembership.objects.filter(role=role, school=school)
                .order_by("user_id")
                .values_list("user__username", flat=True)
                .first()
            )
            if username:
                logins[str(role)] = username
                sees[str(role)] = label.format(n=f"{at_school:,}", school=school.name)

        term = (
            AcademicSession.objects.filter(
                kind__in=[AcademicSession.Kind.SEMESTER, AcademicSession.Kind.TERM],
                start_date__lte=as_of,
                end_date__gte=as_of,
            )
            .order_by("start_date")
            .first()
            or AcademicSession.objects.filter(kind=AcademicSession.Kind.SEMESTER)
            .order_by("start_date")
            .first()
        )
        teacher = (
            SectionTeacher.objects.filter(section__school=school, section__term=term)
            .values("teacher_id", "teacher__username")
            .annotate(n=Count("section", distinct=True))
            .order_by("-n", "teacher_id")
            .first()
        )
        if teacher:
            n_taught = (
                Enrollment.objects.filter(
                    section__term=term, section__teachers__teacher_id=teacher["teacher_id"]
                )
                .values("student")
                .distinct()
                .count()
            )
            logins["teacher"] = teacher["teacher__username"]
            sees["teacher"] = (
                f"{teacher['n']} sections, {n_taught} students at {school.name} ({term.title});"
                " no health or discipline"
            )

        cutoff = _years_before(as_of, district.eligible_student_age)
        active_restriction = CustodyRestriction.objects.filter(active_on_q(as_of))
        restricted_links = active_restriction.values("guardian_link")
        # A link the parent can use: data access, no restriction, a child under 18.
        usable = Q(has_data_access=True, student__birth_date__gt=cutoff) & ~Q(
            pk__in=restricted_links
        )
        two = (
            GuardianLink.objects.filter(active_on_q(as_of))
            .values("guardian_id", "guardian__username")
            .annotate(n=Count("id"), ok=Count("id", filter=usable))
            .filter(n=2, ok=2)
            .order_by("guardian_id")
            .first()
        )
        if two:
            logins["parent_two_children"] = two["guardian__username"]
            grades = (
                GuardianLink.objects.filter(guardian_id=two["guardian_id"])
                .order_by("student__grade_level")
                .values_list("student__grade_level", flat=True)
            )
            sees["parent_two_children"] = (
                f"both children's whole records (grades {' and '.join(grades)})"
            )
        for scope, label in (
            (CustodyRestriction.Scope.CATEGORIES, "parent_category_restricted"),
            (CustodyRestriction.Scope.ALL, "parent_all_restricted"),
        ):
            restriction = (
                active_restriction.filter(scope=scope)
                .select_related("guardian_link__guardian")
                .order_by("guardian_link__guardian_id")
                .first()
            )
            if restriction is None:
                continue
            link = restriction.guardian_link
            logins[label] = link.guardian.username
            others = GuardianLink.objects.filter(guardian_id=link.guardian_id).exclude(pk=link.pk)
            if scope == CustodyRestriction.Scope.CATEGORIES:
                sees[label] = (
                    f"their child's record without {', '.join(restriction.categories)}"
                    " (custody order)"
                )
            elif others.exists():
                sees[label] = "not the restricted child (custody order), only their other children"
            else:
                sees[label] = "nothing: a custody order removes their only child"
        age = _age(eligible.birth_date, as_of)
        logins["eligible_student"] = eligible.user.username
        sees["eligible_student"] = (
            f"their own whole record (grade {eligible.grade_level}, age {age});"
            " their parents no longer do"
        )
        tax = (
            GuardianLink.objects.filter(
                student__is_tax_dependent=True,
                student__birth_date__lte=cutoff,
                has_data_access=True,
            )
            .exclude(pk__in=restricted_links)
            .order_by("guardian_id")
            .values_list("guardian__username", flat=True)
            .first()
        )
        if tax:
            logins["tax_dependent_parent"] = tax
            sees["tax_dependent_parent"] = (
                "their 18-year-old's record (flagged tax dependent); every read logged"
            )
    ordered = [label for label in LOGIN_LABELS if label in logins]
    return {k: logins[k] for k in ordered}, {k: sees[k] for k in ordered}
