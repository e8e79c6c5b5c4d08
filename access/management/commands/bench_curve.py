"""The cost curve (issue 15, "state scale"): the same pages and jobs at several district
sizes, each as a ratio to the smallest.

For each size N of ``--sizes`` (10,000, 100,000 and 1,000,000 students by default) the
district ``curve-N`` is seeded once, as the tables' owner (``seed_demo --district curve-N
--students N --seed 1 --as-of <the school year's last day>``: a school year of daily
attendance; the seeder analyzes what it wrote; an existing district is reused as it is).
Then, with the real readers of a typical school (the high school nearest the seeder's
typical high-school size, a principal's school of the same size at every district size):

- pages, in-process through Django's test client as their users get them, every request
  deciding access anew (``--cached``: the access cache on): p50 and p95 over ``--runs``
  requests, taken in ``--rounds`` rounds each through every size in turn (the machine's
  load drifts; it then falls on every size alike), and the SQL statements of one request:
  a teacher's roster (the section of this term nearest the school's median), a parent's
  child page, the principal's ``/school/`` plain and with each filter, a provider's
  OneRoster students page (a page of 100 under a whole-district grant) and the public
  report page of the school (the district's published release; one is built and published
  first if there is none);
- batch jobs: a re-import of the school's roster, unchanged (a OneRoster 1.2 delta bundle
  written from the school's rows, imported once untimed, then ``--batch-runs`` times), and
  a build of the district's report release (rolled back: the district keeps only its
  published release). Each is stopped past ``--time-limit``.

Prints each size's numbers, then one table: p50, p95 and statements per size, with p50 as
a ratio to the first size, marked against the target for pages (within 1.5× of the first
size's p50). Batch jobs are not marked: they may scale with what they process.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from unittest import mock

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Count, OuterRef, Subquery, Sum
from django.test import Client, override_settings

from access.classes import roster_students, section_for_teacher
from access.management.commands.bench_access import (
    Timing,
    acting_role,
    timed,
)
from access.management.commands.bench_providers import PAGE_URL, UNTHROTTLED
from access.management.commands.bench_providers import Command as ProviderBench
from access.management.commands.bench_staff import signed_in_client
from access.scoping import visible_students
from access.viewer import viewer_for
from accounts.models import Role, RoleMembership, User
from records.importers.analyze import analyze_tables
from records.importers.oneroster import import_oneroster, spec
from records.models import (
    AcademicSession,
    AttendanceMonth,
    AttendanceRecord,
    Course,
    District,
    Enrollment,
    GuardianLink,
    School,
    SchoolMembership,
    Section,
    SectionTeacher,
    Student,
    active_on_q,
)
from records.seeding import KIND_GRADES, SCHOOL_SIZE, SchoolCalendar
from records.tenancy import tenant_scope
from reports.builds import build_release
from reports.management.commands.bench_reports import Stopped, time_limit
from reports.models import Release
from reports.services import latest_published, publish

DEFAULT_SIZES = "10000,100000,1000000"
RATIO_TARGET = 1.5
TYPICAL_KIND = School.Kind.HIGH
# OneRoster 1.2 roles of a guardian link's relationship (the importer's GUARDIAN_ROLES).
GUARDIAN_ROLE = {"guardian": "guardian", "grandparent": "relative", "other": "relative"}
BATCH_LIMIT = 1800  # seconds; a batch job stopped past it is reported as stopped


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    batch: bool = False


MEASURES = (
    Measure("roster", "teacher: roster /classes/<id>/"),
    Measure("child", "parent: child page /family/<id>/"),
    Measure("school", "principal: /school/"),
    Measure("school_q", "principal: /school/?q=<name>"),
    Measure("school_grade", "principal: /school/?grade=<grade>"),
    Measure("school_program", "principal: /school/?program=iep"),
    Measure("school_attendance", "principal: /school/?attendance_below=90"),
    Measure("provider", "provider: OneRoster students?limit=100"),
    Measure("public", "public: /reports/schools/<id>/"),
    Measure("reimport", "roster re-import: one school, unchanged", batch=True),
    Measure("release", "report release build: the district", batch=True),
)


@dataclass
class Result:
    """One measure at one size: a timing (ms), or why there is none."""

    timing: Timing | None = None
    note: str = ""


@dataclass
class Readers:
    school: School
    school_size: int
    principal: User
    teacher: User
    section_id: int
    guardian: User
    child_id: int
    name: str
    grade: str


@contextlib.contextmanager
def as_owner() -> Iterator[None]:
    """The session's own user (the tables' owner) for the block, when this process acts
    as the application's role (``DATABASE_ROLE``): seeding writes with triggers and key
    checks deferred, which only the owner may."""
    if acting_role() is None:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET ROLE NONE")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def database_bytes() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return cursor.fetchone()[0]


def p50_p95(samples: list[float]) -> tuple[float, float]:
    """The median and the nearest-rank p95 (of fewer than 20 runs: the slowest)."""
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[math.ceil(0.95 * len(ordered)) - 1]


def _split(runs: int, rounds: int) -> list[range]:
    """``runs`` cut into ``rounds`` near-equal parts (none empty)."""
    rounds = min(rounds, runs)
    return [range(runs * i // rounds, runs * (i + 1) // rounds) for i in range(rounds)]


def counted(fn) -> tuple[float, int]:
    """Run ``fn``: its wall time in ms and the SQL statements it ran."""
    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    started = time.perf_counter()
    with connection.execute_wrapper(count):
        fn()
    return (time.perf_counter() - started) * 1000, statements


# The readers of a typical school -----------------------------------------------------------


def typical_school(district: District) -> tuple[School, int, list[int]]:
    """The school of ``TYPICAL_KIND`` whose current students are nearest the seeder's
    typical size for that kind (the seeder draws each school within ±15% of it whatever
    the district's size), with a principal; its size, and every such school's size."""
    today = district.today()
    sizes = dict(
        SchoolMembership.unscoped.filter(
            active_on_q(today), district=district, school__kind=TYPICAL_KIND
        )
        .values_list("school_id")
        .annotate(n=Count("student_id", distinct=True))
    )
    led = set(
        RoleMembership.unscoped.filter(
            district=district, role=Role.PRINCIPAL, school_id__in=list(sizes)
        ).values_list("school_id", flat=True)
    )
    target = SCHOOL_SIZE[TYPICAL_KIND]
    candidates = sorted((abs(n - target), pk) for pk, n in sizes.items() if pk in led)
    if not candidates:
        raise CommandError(
            f"District '{district.slug}' has no {TYPICAL_KIND} school with a principal"
        )
    pk = candidates[0][1]
    return School.unscoped.get(pk=pk), sizes[pk], sorted(sizes.values())


def pick_readers(district: District) -> Readers:
    school, size, _ = typical_school(district)
    today = district.today()
    principal = User.objects.get(
        pk=RoleMembership.unscoped.filter(district=district, role=Role.PRINCIPAL, school=school)
        .order_by("user_id")
        .values("user_id")[:1]
    )
    # The section of this term nearest the school's median size, and its teacher.
    primary_teacher = SectionTeacher.unscoped.filter(
        district=district, section=OuterRef("pk"), is_primary=True
    ).order_by("pk")
    sections = list(
        Section.unscoped.filter(
            district=district, school=school, term__start_date__lte=today, term__end_date__gte=today
        )
        .annotate(
            n=Count("enrollments", filter=active_on_q(today, "enrollments__"), distinct=True),
            teacher_id=Subquery(primary_teacher.values("teacher_id")[:1]),
        )
        .filter(n__gt=0, teacher_id__isnull=False)
        .order_by("pk")
        .values_list("pk", "n", "teacher_id")
    )
    if not sections:
        raise CommandError(f"{school.name} has no section this term")
    median = statistics.median(n for _, n, _ in sections)
    section_id, _, teacher_id = min(sections, key=lambda row: (abs(row[1] - median), row[0]))
    # A parent of one of the school's students who sees that child (no restriction).
    links = (
        GuardianLink.unscoped.filter(
            district=district,
            has_data_access=True,
            student__memberships__school=school,
        )
        .order_by("pk")
        .values_list("guardian_id", "student_id")[:50]
    )
    for guardian_id, child_id in links:
        guardian = User.objects.get(pk=guardian_id)
        if visible_students(viewer_for(guardian)).filter(pk=child_id).exists():
            break
    else:
        raise CommandError(f"No parent at {school.name} sees their child")
    name = (
        Student.unscoped.filter(district=district, memberships__school=school)
        .values("family_name")
        .annotate(n=Count("pk"))
        .order_by("-n", "family_name")
        .values_list("family_name", flat=True)
        .first()
    )
    grades = KIND_GRADES[TYPICAL_KIND]
    return Readers(
        school=school,
        school_size=size,
        principal=principal,
        teacher=User.objects.get(pk=teacher_id),
        section_id=section_id,
        guardian=guardian,
        child_id=child_id,
        name=name,
        grade=grades[(len(grades) - 1) // 2],
    )


def check_attendance_roll_up(district: District, school: School) -> int:
    """The school's students' monthly roll-up counts every one of their marks (a roll-up
    left empty by a load makes the attendance filter fast and wrong): the marks counted."""
    students = SchoolMembership.unscoped.filter(district=district, school=school).values(
        "student_id"
    )
    marks = AttendanceRecord.unscoped.filter(district=district, student_id__in=students).count()
    rolled = (
        AttendanceMonth.unscoped.filter(district=district, student_id__in=students).aggregate(
            n=Sum("recorded")
        )["n"]
        or 0
    )
    if rolled != marks:
        raise CommandError(
            f"{school.name}: the attendance roll-up counts {rolled:,} marks of {marks:,}: "
            "the seeding left AttendanceMonth incomplete"
        )
    return marks


# The roster re-import ------------------------------------------------------------------------


def _day(value) -> str:
    return value.isoformat() if value else ""


def _true(value: bool) -> str:
    return "true" if value else "false"


def write_school_bundle(district: District, school: School, folder: Path) -> dict[str, int]:
    """The school's roster as a OneRoster 1.2 delta bundle, as its SIS would send it: the
    district and the school, the year's sessions, the school's courses and classes, its
    students (with their guardians as agents), their guardians, the classes' teachers,
    roles and enrollments, every value as the district holds it. A student whose account
    was made apart from the roster (another sourcedId) is left out. Rows written, by file."""
    sessions = {s.pk: s for s in AcademicSession.unscoped.filter(district=district)}
    sections = list(Section.unscoped.filter(district=district, school=school).order_by("pk"))
    courses = list(
        Course.unscoped.filter(
            district=district, pk__in={section.course_id for section in sections}
        ).order_by("pk")
    )
    course_sid = {c.pk: c.sourced_id for c in courses}
    members = {
        m.student_id: m for m in SchoolMembership.unscoped.filter(district=district, school=school)
    }
    students = [
        s
        for s in Student.unscoped.filter(district=district, pk__in=list(members))
        .select_related("user")
        .order_by("pk")
        if s.sourced_id and (s.user is None or s.user.sourced_id == s.sourced_id)
    ]
    kept = {s.pk for s in students}
    links = list(
        GuardianLink.unscoped.filter(district=district, student_id__in=list(kept))
        .select_related("guardian")
        .order_by("pk")
    )
    teaching = list(
        SectionTeacher.unscoped.filter(
            district=district, section__in=sections, sourced_id__isnull=False
        )
        .select_related("teacher")
        .order_by("pk")
    )
    enrollments = Enrollment.unscoped.filter(
        district=district, section__in=sections, student_id__in=list(kept), sourced_id__isnull=False
    ).order_by("pk")
    teachers = {st.teacher_id: st.teacher for st in teaching if st.teacher.sourced_id}
    teacher_roles = RoleMembership.unscoped.filter(
        district=district, school=school, role=Role.TEACHER, user_id__in=list(teachers)
    ).order_by("pk")
    section_sid = {section.pk: section.sourced_id for section in sections}
    students_sid = {s.pk: s.sourced_id for s in students}
    agents: dict[int, list[str]] = {}
    guardians: dict[int, tuple[User, str]] = {}
    for link in links:
        if not link.guardian.sourced_id:
            continue
        agents.setdefault(link.student_id, []).append(link.guardian.sourced_id)
        role = GUARDIAN_ROLE.get(link.relationship, "parent")
        guardians.setdefault(link.guardian_id, (link.guardian, role))

    files: dict[str, list[dict]] = {
        "orgs": [
            {"sourcedId": district.sourced_id, "name": district.name, "type": "district"},
            {
                "sourcedId": school.sourced_id,
                "name": school.name,
                "type": "school",
                "identifier": school.nces_id,
                "parentSourcedId": district.sourced_id,
            },
        ],
        "academicSessions": [
            {
                "sourcedId": s.sourced_id,
                "title": s.title,
                "type": s.kind,
                "startDate": _day(s.start_date),
                "endDate": _day(s.end_date),
                "parentSourcedId": sessions[s.parent_id].sourced_id if s.parent_id else "",
                "schoolYear": str(s.school_year),
            }
            for s in sessions.values()
        ],
        "courses": [
            {
                "sourcedId": c.sourced_id,
                "title": c.title,
                "orgSourcedId": school.sourced_id,
                "courseCode": c.code,
                "subjects": c.subject,
            }
            for c in courses
        ],
        "classes": [
            {
                "sourcedId": s.sourced_id,
                "title": s.title,
                "classType": "scheduled",
                "courseSourcedId": course_sid[s.course_id],
                "schoolSourcedId": school.sourced_id,
                "termSourcedIds": sessions[s.term_id].sourced_id,
                "periods": s.period,
                "location": s.room,
            }
            for s in sections
        ],
        "users": [],
        "roles": [],
        "enrollments": [],
    }
    users, roles = files["users"], files["roles"]
    for s in students:
        users.append(
            {
                "sourcedId": s.sourced_id,
                "enabledUser": _true(s.user.is_active if s.user else True),
                "username": s.user.username if s.user else f"curve-{s.sourced_id}",
                "givenName": s.given_name,
                "middleName": s.middle_name,
                "familyName": s.family_name,
                "preferredGivenName": s.preferred_name,
                "email": s.email,
                "phone": s.phone,
                "grades": s.grade_level,
                "role": "student",
                "agentSourcedIds": ",".join(agents.get(s.pk, [])),
            }
        )
        member = members[s.pk]
        roles.append(
            {
                "sourcedId": f"curve-membership-{member.pk}",
                "userSourcedId": s.sourced_id,
                "roleType": "primary",
                "role": "student",
                "orgSourcedId": school.sourced_id,
                "beginDate": _day(member.begin_date),
                "endDate": _day(member.end_date),
            }
        )
    for user, role in guardians.values():
        users.append(_user_row(user, role))
    for user in teachers.values():
        users.append(_user_row(user, "teacher"))
    for membership in teacher_roles:
        roles.append(
            {
                "sourcedId": membership.sourced_id or f"curve-role-{membership.pk}",
                "userSourcedId": teachers[membership.user_id].sourced_id,
                "roleType": "primary",
                "role": "teacher",
                "orgSourcedId": school.sourced_id,
                "beginDate": _day(membership.begin_date),
                "endDate": _day(membership.end_date),
            }
        )
    rows = files["enrollments"]
    for e in enrollments:
        rows.append(
            {
                "sourcedId": e.sourced_id,
                "classSourcedId": section_sid[e.section_id],
                "schoolSourcedId": school.sourced_id,
                "userSourcedId": students_sid[e.student_id],
                "role": "student",
                "beginDate": _day(e.begin_date),
                "endDate": _day(e.end_date),
            }
        )
    for st in teaching:
        if st.teacher_id in teachers:
            rows.append(
                {
                    "sourcedId": st.sourced_id,
                    "classSourcedId": section_sid[st.section_id],
                    "schoolSourcedId": school.sourced_id,
                    "userSourcedId": teachers[st.teacher_id].sourced_id,
                    "role": "teacher",
                    "primary": _true(st.is_primary),
                    "beginDate": _day(st.begin_date),
                    "endDate": _day(st.end_date),
                }
            )
    _write_bundle(folder, files)
    return {name: len(rows) for name, rows in files.items()} | {
        "students left out": len(members) - len(students)
    }


def _user_row(user: User, role: str) -> dict:
    return {
        "sourcedId": user.sourced_id,
        "enabledUser": _true(user.is_active),
        "username": user.username,
        "givenName": user.first_name,
        "familyName": user.last_name,
        "email": user.email,
        "phone": user.phone,
        "role": role,
    }


def _write_bundle(folder: Path, files: dict[str, list[dict]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["propertyName", "value"])
        writer.writerow(["manifest.version", "1.0"])
        writer.writerow(["oneroster.version", "1.2"])
        for file_spec in spec.FILES:
            mode = "delta" if file_spec.name in files else "absent"
            writer.writerow([f"file.{file_spec.name}", mode])
    for name, rows in files.items():
        file_spec = next(f for f in spec.FILES if f.name == name)
        columns = (spec.USERS_12 if name == "users" else file_spec).columns
        with (folder / f"{name}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([row.get(column, "") for column in columns])


# The command ---------------------------------------------------------------------------------


@dataclass
class Page:
    """One page of one district, as its reader asks for it."""

    key: str
    client: Client
    url: str
    note: str = ""
    headers: dict = field(default_factory=dict)
    statements: int = 0
    samples: list[float] = field(default_factory=list)


@dataclass
class Size:
    """One district of the curve: its pages (timed in rounds with the others') and results."""

    students: int
    district: District
    readers: Readers
    pages: list[Page]
    results: dict[str, Result] = field(default_factory=dict)


class Command(BaseCommand):
    help = (
        "The cost curve: a teacher's roster, a child page, the principal's /school/ with each "
        "filter, a provider's OneRoster page, the public school page, a school's roster "
        "re-import and the district's release build, at each district size (seeded as "
        "curve-<size> if absent), p50/p95 and statements, with p50 as a ratio to the first "
        f"size; pages must stay within {RATIO_TARGET}× of it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--sizes",
            default=DEFAULT_SIZES,
            help=f"students per district (default {DEFAULT_SIZES})",
        )
        parser.add_argument("--runs", type=int, default=30, help="requests per page, after warm-up")
        parser.add_argument(
            "--rounds",
            type=int,
            default=3,
            help="the runs are taken in this many rounds, each through every size in turn",
        )
        parser.add_argument(
            "--batch-runs", type=int, default=3, help="timed re-imports (after one untimed)"
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--as-of",
            type=_as_of,
            default=None,
            help="the date a district's records are seeded up to (default: the last day of "
            "the school year holding today, so a school year of daily attendance)",
        )
        parser.add_argument(
            "--skip-seed", action="store_true", help="use the districts there; seed none"
        )
        parser.add_argument(
            "--cached",
            action="store_true",
            help="keep the access cache on (default: off, every request decides access anew)",
        )
        parser.add_argument(
            "--quick-first-release",
            action="store_true",
            help="publish a district's first release (the public page's) with every primary "
            "cell hidden and no complement sought, where there is none: the public page reads "
            "the same stored cells either way, and the release build, timed as a batch job, "
            "need not run twice",
        )
        parser.add_argument(
            "--time-limit",
            type=float,
            default=BATCH_LIMIT,
            help=f"a batch job's seconds before it is stopped (default {BATCH_LIMIT}; 0: none)",
        )

    def handle(self, *args, sizes, runs, rounds, batch_runs, seed, as_of, skip_seed, cached,
               quick_first_release, time_limit, **options):  # fmt: skip
        try:
            sizes = [int(size.replace("_", "")) for size in sizes.split(",") if size.strip()]
        except ValueError:
            raise CommandError(
                f"--sizes: whole numbers separated by commas, got {sizes!r}"
            ) from None
        if not sizes or runs < 1 or rounds < 1 or batch_runs < 1:
            raise CommandError("give at least one size, one run, one round and one batch run")
        self.runs, self.batch_runs, self.limit = runs, batch_runs, time_limit
        as_of = as_of or SchoolCalendar.containing(date.today()).last_day
        districts = [self.district(size, seed, as_of, skip_seed) for size in sizes]
        # Every release first: a build can take longer than a signed-in session lasts.
        releases = []
        for district in districts:
            with tenant_scope(district):
                releases.append(self.published_release(district, quick_first_release))
        curve = [
            self.prepare(size, district, *release)
            for size, district, release in zip(sizes, districts, releases, strict=True)
        ]
        # Every request decides access anew (as the first after any change does), unless
        # --cached: then a repeated request is served from the access cache.
        with override_settings(
            PROVIDER_RATE_PER_MINUTE=UNTHROTTLED,
            **({} if cached else {"ACCESS_CACHE_SECONDS": 0}),
        ):
            started = time.perf_counter()
            self.time_pages(curve, rounds)
        self.stdout.write(f"\nPages timed in {time.perf_counter() - started:.0f} s; batch jobs …")
        for size in curve:
            with tenant_scope(size.district):
                size.results["reimport"] = self.reimport(size.district, size.readers.school)
                size.results["release"] = self.release_build(size.district)
            self.print_size(size)
        self.print_table(curve, cached)

    # Seeding -----------------------------------------------------------------------------

    def district(self, size: int, seed: int, as_of: date, skip_seed: bool) -> District:
        slug = f"curve-{size}"
        found = District.objects.filter(slug=slug).first()
        if found is not None:
            self.stdout.write(f"\n== {slug}: present, reused as it is")
            return found
        if skip_seed:
            raise CommandError(f"No district '{slug}' and --skip-seed: seed it first.")
        self.stdout.write(
            f"\n== {slug}: seeding {size:,} students (seed_demo --seed {seed} --as-of {as_of}) …"
        )
        before = database_bytes()
        started = time.perf_counter()
        with as_owner():  # one transaction, then ANALYZE of every table it wrote
            call_command("seed_demo", district=slug, students=size, seed=seed, as_of=as_of,
                         stdout=self.stdout)  # fmt: skip
        took = time.perf_counter() - started
        after = database_bytes()
        self.stdout.write(
            f"Seeded {slug} in {took:.0f} s; the database grew {(after - before) / 2**30:.2f} GB "
            f"(now {after / 2**30:.2f} GB)"
        )
        return District.objects.get(slug=slug)

    # Measuring ---------------------------------------------------------------------------

    def prepare(
        self, students: int, district: District, release: Release | None, note: str
    ) -> Size:
        """The district's readers signed in, and the pages to time."""
        # In the district, as its pages are: row-level security applies as in production.
        with tenant_scope(district):
            # Steady state: the statistics autovacuum would keep (the roll-up, the log).
            analyze_tables(["records_attendancemonth", "access_accessevent",
                            "access_accesseventstudent", "access_auditchain"])  # fmt: skip
            readers = pick_readers(district)
            _, _, sizes = typical_school(district)
            marks = check_attendance_roll_up(district, readers.school)
            schools = School.unscoped.filter(district=district).count()
            self.stdout.write(
                f"District '{district.slug}': {schools:,} schools. Typical school: "
                f"{readers.school.name}, {readers.school_size:,} students ({marks:,} attendance "
                f"marks; the district's {len(sizes)} {TYPICAL_KIND} schools hold "
                f"{sizes[0]:,}–{sizes[-1]:,})"
            )
            viewer = viewer_for(readers.teacher)
            section = section_for_teacher(viewer, readers.section_id)
            roster = len(roster_students(viewer, section)[0])
            principal = signed_in_client(readers.principal)
            pages = [
                Page("roster", signed_in_client(readers.teacher),
                     f"/classes/{readers.section_id}/", f"{roster} students"),
                Page("child", signed_in_client(readers.guardian), f"/family/{readers.child_id}/"),
                Page("school", principal, "/school/"),
                Page("school_q", principal, f"/school/?q={readers.name}", f"q={readers.name}"),
                Page("school_grade", principal, f"/school/?grade={readers.grade}",
                     f"grade={readers.grade}"),
                Page("school_program", principal, "/school/?program=iep"),
                Page("school_attendance", principal, "/school/?attendance_below=90"),
                self.provider_page(district),
            ]  # fmt: skip
            results = {}
            if release is not None:
                pages.append(Page("public", Client(), f"/reports/schools/{readers.school.pk}/",
                                  f"release {release.pk}"))  # fmt: skip
            else:
                results["public"] = Result(note=note)
        return Size(students, district, readers, pages, results)

    def provider_page(self, district: District) -> Page:
        """The OneRoster students page under a whole-district grant (bench_providers')."""
        bench = ProviderBench()
        _, api_client = bench.bench_grant(district)
        client = Client()
        with override_settings(PROVIDER_RATE_PER_MINUTE=UNTHROTTLED):
            token = bench.token(client, api_client)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        return Page("provider", client, PAGE_URL, "whole-district grant", headers)

    def time_pages(self, curve: list[Size], rounds: int) -> None:
        """Each page's statements (one request), then its runs in ``rounds`` rounds, each
        through every size in turn: a machine's load, which drifts, falls on every size
        alike, so the ratios hold where the milliseconds move."""
        for size in curve:
            with tenant_scope(size.district):
                for page in size.pages:
                    page.client.get(page.url, secure=True, **page.headers)  # one-off queries
                    _, page.statements = counted(lambda page=page: _get(page))
        per_round = [len(chunk) for chunk in _split(self.runs, rounds)]
        for runs in per_round:
            for size in curve:
                with tenant_scope(size.district):
                    for page in size.pages:
                        page.samples += timed(lambda page=page: _get(page), runs)
        for size in curve:
            for page in size.pages:
                timing = Timing(*p50_p95(page.samples), page.statements)
                size.results[page.key] = Result(timing, page.note)

    def published_release(self, district: District, quick: bool) -> tuple[Release | None, str]:
        """The district's published release; one built and published now if there is none
        (a district over seed_demo's inline limit has none). ``quick``: its protection
        hides every primary cell and seeks no complement (``primary_cells_hidden``)."""
        release = latest_published(district.pk)
        if release is not None:
            return release, ""
        started = time.perf_counter()
        protection = (
            mock.patch("reports.services.protect_in_parts", primary_cells_hidden)
            if quick
            else contextlib.nullcontext()
        )
        try:
            with time_limit(self.limit), transaction.atomic(), protection:
                release = publish(build_release(district, kind=Release.Kind.ON_REQUEST))
        except Stopped:
            took = time.perf_counter() - started
            self.stdout.write(f"First release: build STOPPED after {took:.0f} s")
            return None, f"no published release: its build was stopped after {took:.0f} s"
        self.stdout.write(
            f"First release built and published in {time.perf_counter() - started:.1f} s "
            f"(release {release.pk}{', quick protection' if quick else ''})"
        )
        return release, ""

    # Batch jobs --------------------------------------------------------------------------

    def reimport(self, district: District, school: School) -> Result:
        """One untimed import (the roster as the SIS sends it: it may set what the seed
        left out, such as students' accounts), then ``batch_runs`` timed ones: no change."""
        with tempfile.TemporaryDirectory() as folder:
            written = write_school_bundle(district, school, Path(folder))
            rows = sum(n for name, n in written.items() if name != "students left out")
            samples, statements, changes = [], 0, 0
            started = time.perf_counter()
            try:
                with time_limit(self.limit):
                    first, _ = import_oneroster(folder, district_slug=district.slug)
                    if not first.ok:
                        raise CommandError(f"re-import: {first.errors[:3]}")
                    for _ in range(self.batch_runs):
                        outcome = {}

                        def run(outcome=outcome):
                            outcome["report"], _ = import_oneroster(
                                folder, district_slug=district.slug
                            )

                        took, statements = counted(run)
                        samples.append(took)
                        changes += outcome["report"].changes
            except Stopped:
                took = time.perf_counter() - started
                return Result(note=f"STOPPED after {took:.0f} s ({len(samples)} runs done)")
        note = (
            f"{rows:,} rows, {written['users']:,} users; first import {first.changes:,} "
            f"changes, then {changes:,}"
        )
        if written["students left out"]:
            note += f"; {written['students left out']} students with accounts of their own left out"
        return Result(Timing(*p50_p95(samples), statements), note)

    def release_build(self, district: District) -> Result:
        """The district's first report release of the school year, built once and rolled
        back (the district keeps its published release only). Built as the first, alone:
        protected jointly with a quick first release (``--quick-first-release``), whose
        every shown cell the attacker then knows, it would have nothing left to hide."""
        started = time.perf_counter()
        first_of_the_year = mock.patch("reports.services.latest_published", return_value=None)
        try:
            with time_limit(self.limit), transaction.atomic(), first_of_the_year:
                took, statements = counted(
                    lambda: build_release(district, kind=Release.Kind.ON_REQUEST)
                )
                transaction.set_rollback(True)
        except Stopped:
            return Result(note=f"STOPPED after {time.perf_counter() - started:.0f} s")
        return Result(Timing(took, took, statements), "the year's first, rolled back")

    def print_size(self, size: Size) -> None:
        self.stdout.write(f"\n{size.district.slug}:")
        for measure in MEASURES:
            self.stdout.write(
                f"  {measure.label:<42} {_described(size.results[measure.key], measure)}"
            )

    # The table ---------------------------------------------------------------------------

    def print_table(self, curve: list[Size], cached: bool) -> None:
        base = curve[0]
        access = "access cache on" if cached else "every request deciding access anew"
        self.stdout.write(
            f"\nCost curve: p50 and p95 (pages ms, batch jobs s), SQL statements (of a request; "
            f"of a whole job), and p50 as a ratio to {base.students:,} students; pages ✔ within "
            f"{RATIO_TARGET}×, ✘ past it. Pages: {self.runs} runs each, {access}; "
            f"{self.batch_runs} re-imports; 1 release build."
        )
        width = max(len(m.label) for m in MEASURES)
        header = f"{'':<{width}}" + "".join(
            f" | {f'{size.students:,} students':^31}" for size in curve
        )
        columns = f"{'':<{width}}" + "".join(
            f" | {'p50':>7} {'p95':>7} {'stmts':>5} {'ratio':>8}" for _ in curve
        )
        self.stdout.write(header)
        self.stdout.write(columns)
        self.stdout.write("-" * len(columns))
        missed = []
        for measure in MEASURES:
            line = f"{measure.label:<{width}}"
            base_timing = base.results[measure.key].timing
            for size in curve:
                timing = size.results[measure.key].timing
                if timing is None:
                    line += f" | {'-':>7} {'-':>7} {'-':>5} {'-':>8}"
                    continue
                scale, unit = (1000, "s") if measure.batch else (1, " ")
                ratio = "-"
                if base_timing is not None:
                    value = timing.p50 / max(base_timing.p50, 1e-9)
                    met = value <= RATIO_TARGET
                    ratio = f"{value:.2f}" + ("" if measure.batch else " ✔" if met else " ✘")
                    if not measure.batch and not met:
                        missed.append(f"{measure.label} at {size.students:,} ({value:.2f}×)")
                line += (
                    f" | {timing.p50 / scale:>6.1f}{unit} {timing.p95 / scale:>6.1f}{unit} "
                    f"{timing.queries:>5} {ratio:>8}"
                )
            self.stdout.write(line)
        notes = [
            f"  {measure.label} at {size.students:,}: {size.results[measure.key].note}"
            for measure in MEASURES
            for size in curve
            if size.results[measure.key].timing is None
        ]
        if notes:
            self.stdout.write("Not measured:\n" + "\n".join(notes))
        verdict = "met" if not missed else "MISSED: " + "; ".join(missed)
        self.stdout.write(
            f"\nTarget: every page within {RATIO_TARGET}× of its p50 at {base.students:,} "
            f"students: {verdict}. Batch jobs are not marked: the re-import is of one school "
            "(the same size at every district size), the release build of the whole district."
        )


def primary_cells_hidden(table, parts, primary, width, *, start, **options):
    """A protection for a benchmark's first release only (``--quick-first-release``):
    every primary cell hidden, no complementary cells sought, no certificate. The public
    page reads the same stored cells of the school either way; the release build, timed
    as a batch job, keeps the real protection."""
    return set(primary) | set(start), {}, True


def _as_of(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {value!r}") from None


def _get(page: Page) -> None:
    response = page.client.get(page.url, secure=True, **page.headers)
    if response.status_code != 200:
        raise CommandError(f"{page.url}: HTTP {response.status_code}")


def _described(result: Result, measure: Measure) -> str:
    if result.timing is None:
        return result.note
    timing = result.timing
    if measure.batch:
        numbers = f"p50 {timing.p50 / 1000:7.2f} s  p95 {timing.p95 / 1000:7.2f} s"
    else:
        numbers = f"p50 {timing.p50:7.1f} ms p95 {timing.p95:7.1f} ms"
    return f"{numbers}  {timing.queries:>5} statements  {result.note}".rstrip()
