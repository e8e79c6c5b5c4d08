"""Benchmark the staff portal (issue 5) at the size of a large district.

In-process, signed in as a browser would be: a teacher's roster page (35 students,
and a 5-student roster to show the query count does not grow) and a principal's
``/school/`` list and searches over a 5,000-student school, p50/p95 with query counts.
Over HTTP, against gunicorn: the roster as JSON against a trivial view (``/healthz/``)
on the same server in the same run, requests per second and latency under load.

The seeded district has no 5,000-student school and no 35-student section, so the
first run adds "Bench Staff High" to it (once; the bench database only).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from rest_framework.authtoken.models import Token

from access.classes import roster_students, section_for_teacher
from access.management.commands.bench_access import Command as AccessBench
from access.management.commands.bench_access import Timing, percentiles, request_timing
from access.staff import staff_students
from access.viewer import viewer_for
from accounts import second_factor
from accounts.models import Role, RoleMembership, User
from records.importers.analyze import analyze_tables
from records.models import (
    AcademicSession,
    AttendanceRecord,
    Course,
    District,
    Enrollment,
    ProgramParticipation,
    School,
    SchoolMembership,
    Section,
    SectionTeacher,
    Student,
)
from records.seeding import SchoolCalendar
from records.tenancy import tenant_scope

SCHOOL_ID = "bench-staff-high"  # the fixture's sourcedIds all start with this
SCHOOL_SIZE = 5_000
ROSTER_SIZE = 35
SMALL_ROSTER_SIZE = 5
GRADES = ("09", "10", "11", "12")
# "son" is in about one family name in five, as in a US school.
FAMILY_NAMES = (  # noqa: SIM905 - a pool of words reads best as words
    "Johnson Anderson Wilson Thompson Jackson Robinson Smith Garcia Martinez Brown Davis "
    "Lopez Gonzalez Nguyen Kim Patel Clark Lewis Walker Young Allen King Wright Hill Scott "
    "Green Adams Baker Nelson Carter Mitchell Perez Roberts Turner Phillips Campbell Parker "
    "Evans Edwards Collins"
).split()
GIVEN_NAMES = (  # noqa: SIM905
    "Olivia Liam Emma Noah Ava Elijah Sophia James Isabella Lucas Mia Mason Amelia Ethan "
    "Harper Logan Evelyn Jacob Abigail Michael Emily Daniel Allison Jason Camila Diego "
    "Valentina Mateo Aaliyah Jayden"
).split()
PROGRAM_SHARES = (("iep", 0.14), ("section_504", 0.03), ("english_learner", 0.08))
SEARCHES = (
    ("plain list", {}),
    ("name search q=son", {"q": "son"}),
    ("grade=10", {"grade": "10"}),
    ("program=iep", {"program": "iep"}),
    ("attendance_below=90", {"attendance_below": "90"}),
)
ROSTER_P50_TARGET_MS = 40
JSON_SHARE_TARGET = 0.20


@dataclass
class StaffFixture:
    teacher: User
    principal: User
    roster_id: int
    small_roster_id: int


# The fixture ------------------------------------------------------------------------------


def staff_fixture(district: District) -> StaffFixture:
    """The bench school, its staff and this term's two sections; made once, then reused."""
    today = district.today()
    term = (
        AcademicSession.unscoped.filter(
            district=district, kind="semester", start_date__lte=today, end_date__gte=today
        )
        .order_by("start_date")
        .first()
    )
    if term is None:
        raise CommandError(f"District '{district.slug}' has no current semester: reseed it.")
    school = School.unscoped.filter(district=district, sourced_id=SCHOOL_ID).first()
    made = school is None
    with transaction.atomic():
        if made:
            school = _make_school(district, today)
        teacher = User.objects.get(username=_username(Role.TEACHER, district))
        principal = User.objects.get(username=_username(Role.PRINCIPAL, district))
        roster, small = _term_sections(district, school, term, teacher)
    if made:
        # What autovacuum would do after such a load: plans see the new school. Through
        # the owner's function: make bench runs this as the application's role, whose own
        # ANALYZE PostgreSQL skips with only a warning.
        models = (Student, SchoolMembership, AttendanceRecord, ProgramParticipation)
        analyze_tables(model._meta.db_table for model in models)
    return StaffFixture(teacher, principal, roster, small)


def _username(role: Role, district: District) -> str:
    return f"{SCHOOL_ID}-{role.value}@{district.slug}"  # usernames are unique site-wide


def _make_school(district: District, today: date) -> School:
    calendar = SchoolCalendar.containing(today)
    start = calendar.first_day
    school = School.unscoped.create(
        district=district, sourced_id=SCHOOL_ID, name="Bench Staff High", kind=School.Kind.HIGH
    )
    for role in (Role.TEACHER, Role.PRINCIPAL):
        # No password: the bench signs in with force_login and a token.
        user = User.objects.create_user(
            _username(role, district), district=district, last_name=role.label
        )
        RoleMembership.unscoped.create(
            district=district, user=user, role=role, school=school, begin_date=start
        )
    rng = random.Random(5)  # noqa: S311 - invented data, the same on every bench database
    students = Student.unscoped.bulk_create(
        [_student(district, i, calendar.start_year, rng) for i in range(SCHOOL_SIZE)],
        batch_size=2_000,
    )
    SchoolMembership.unscoped.bulk_create(
        SchoolMembership(district=district, student=s, school=school, begin_date=start)
        for s in students
    )
    ProgramParticipation.unscoped.bulk_create(
        ProgramParticipation(district=district, student=s, program=kind, begin_date=start)
        for s in students
        for kind, share in PROGRAM_SHARES
        if rng.random() < share
    )
    _make_attendance(district, students, calendar.school_days(), rng)
    return school


def _student(district: District, i: int, start_year: int, rng: random.Random) -> Student:
    grade = GRADES[i % len(GRADES)]
    return Student(
        district=district,
        sourced_id=f"{SCHOOL_ID}-{i}",
        given_name=rng.choice(GIVEN_NAMES),
        family_name=rng.choice(FAMILY_NAMES),
        grade_level=grade,
        birth_date=date(start_year - 5 - int(grade), 1 + i % 12, 1 + i % 28),
        local_id=f"BSH{i:05d}",
    )


def _make_attendance(district, students, days, rng) -> None:
    """A school year of daily marks so far; about one student in five below 90% present."""
    for chunk in range(0, len(students), 500):
        rows = []
        for student in students[chunk : chunk + 500]:
            absence = min(0.5, rng.expovariate(1 / 0.06))
            for day in days:
                roll = rng.random()
                status = "present" if roll >= absence else rng.choice(("absent", "excused"))
                rows.append(
                    AttendanceRecord(district=district, student=student, date=day, status=status)
                )
        AttendanceRecord.unscoped.bulk_create(rows, batch_size=5_000)


def _term_sections(district, school, term, teacher) -> tuple[int, int]:
    """A 35- and a 5-student section this term, both the teacher's; per term, as terms
    change under a long-lived bench database."""
    ids = {
        f"{SCHOOL_ID}-roster-{term.pk}": ROSTER_SIZE,
        f"{SCHOOL_ID}-small-{term.pk}": SMALL_ROSTER_SIZE,
    }
    found = dict(
        Section.unscoped.filter(district=district, sourced_id__in=ids).values_list(
            "sourced_id", "pk"
        )
    )
    if len(found) < len(ids):
        course, _ = Course.unscoped.get_or_create(
            district=district, sourced_id=f"{SCHOOL_ID}-english", school=school, title="English"
        )
        tenth = (
            Student.unscoped.filter(
                district=district, sourced_id__startswith=f"{SCHOOL_ID}-", grade_level="10"
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        taken = 0
        for sourced_id, size in ids.items():
            if sourced_id in found:  # one deleted by hand: make only the missing one
                taken += size
                continue
            section = Section.unscoped.create(
                district=district,
                sourced_id=sourced_id,
                school=school,
                course=course,
                term=term,
                title=f"English 10 ({size} students)",
            )
            _staff_section(district, section, teacher, list(tenth[taken : taken + size]))
            found[sourced_id] = section.pk
            taken += size
    return tuple(found[sourced_id] for sourced_id in ids)


def _staff_section(district, section, teacher, student_ids) -> None:
    dates = {"begin_date": section.term.start_date, "end_date": section.term.end_date}
    SectionTeacher.unscoped.create(district=district, section=section, teacher=teacher, **dates)
    Enrollment.unscoped.bulk_create(
        Enrollment(district=district, section=section, student_id=pk, **dates) for pk in student_ids
    )


# Over HTTP --------------------------------------------------------------------------------


@dataclass
class Load:
    """What a timed run of concurrent clients got: latencies of good answers, and errors."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def page_timing(client: Client, url: str, runs: int, **extra) -> Timing:
    """bench_access's timing, after a first request: its one-off queries (a new
    session's, the first access event's) are not what every request costs."""
    client.get(url, secure=True, **extra)
    return request_timing(client, url, runs, **extra)


def signed_in_client(user: User) -> Client:
    """A client signed in as ``user``, second factor given: as after the sign-in forms
    (a principal's pages ask for it first)."""
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = "otp_totp.totpdevice/0"
    session[second_factor.LAST_SEEN_SESSION_KEY] = time.time()
    session.save()
    return client


@contextlib.contextmanager
def gunicorn(workers: int, **env: str) -> Iterator[int]:
    """A gunicorn serving this project on a free local port, stopped however the run ends;
    ``env`` adds to this process's environment."""
    port = _free_port()
    binary = Path(sys.executable).with_name("gunicorn")  # the one installed beside us
    with tempfile.TemporaryFile() as log:
        argv = [str(binary), "studentdata.wsgi:application", "--workers", str(workers)]
        argv += ["--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
        server = subprocess.Popen(  # noqa: S603 - our own argv, no shell
            argv,
            cwd=settings.BASE_DIR,
            env={**os.environ, "DEBUG": "false", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(server, port, log)
            yield port
        finally:
            stop(server)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (gunicorn's and Celery's graceful stop), then SIGKILL after 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_serving(server: subprocess.Popen, port: int, log) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise CommandError(f"gunicorn exited at start:\n{log.read().decode()[-2000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            probe.request("GET", "/healthz/")
            if probe.getresponse().status == 200:
                return
        time.sleep(0.2)
    raise CommandError("gunicorn did not answer /healthz/ within 30 s")


Check = Callable[[int, bytes], str | None]  # status, body → what is wrong, or None


@dataclass(frozen=True)
class Request:
    """One request a client makes, named, and what its answer must be (``check``: an
    error's text, or ``None``)."""

    name: str
    path: str
    headers: dict
    check: Check
    method: str = "GET"
    body: str = ""


def drive(port: int, path: str, headers: dict, check: Check, clients: int, seconds: float) -> Load:
    """``clients`` threads, each with its own connection, GET ``path`` until time is up."""
    return drive_mix(port, [Request(path, path, headers, check)], clients, seconds)[path]


def drive_mix(port: int, requests: list[Request], clients: int, seconds: float) -> dict[str, Load]:
    """``clients`` threads, each with its own connection, take turns through ``requests``
    (each starting at another) until time is up: each request's load.

    Every answer is checked, after the clock stops: the clients keep one copy of each
    distinct answer (by digest), so checking costs the server under test no CPU.
    """
    samples: list[tuple[str, float, str]] = []  # request, latency, answer's digest
    answers: dict[tuple[str, str], tuple[int, bytes]] = {}
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + seconds

    def client(turn: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < deadline:
            request = requests[turn % len(requests)]
            turn += 1
            began = time.perf_counter()
            try:
                conn.request(request.method, request.path, body=request.body or None,
                             headers=request.headers)  # fmt: skip
                response = conn.getresponse()
                status, body = response.status, response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()  # http.client reconnects on the next request
                status, body = 0, repr(exc).encode()
            took = (time.perf_counter() - began) * 1000
            digest = f"{status}:{hashlib.blake2b(body, digest_size=16).hexdigest()}"
            with lock:
                samples.append((request.name, took, digest))
                answers.setdefault((request.name, digest), (status, body))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - start
    checks = {request.name: request.check for request in requests}
    problems = {key: checks[key[0]](*answer) for key, answer in answers.items()}
    loads = {request.name: Load(seconds=took) for request in requests}
    for name, latency, digest in samples:
        problem = problems[name, digest]
        if problem:
            loads[name].errors.append(problem)
        else:
            loads[name].latencies.append(latency)
    return loads


def healthz_check(status: int, body: bytes) -> str | None:
    return None if (status, body) == (200, b"ok") else f"/healthz/: {status} {body[:80]!r}"


def roster_check(expected: int) -> Check:
    """A 200 holding exactly the roster: a 401/403/302, or a wrong page, is an error."""

    def check(status: int, body: bytes) -> str | None:
        if status != 200:
            return f"roster JSON: HTTP {status} {body[:120]!r}"
        try:
            data = json.loads(body)
        except ValueError:
            return f"roster JSON: not JSON {body[:120]!r}"
        if data["count"] != expected or len(data["results"]) != expected:
            return f"roster JSON: {data['count']} students, expected {expected}"
        return None

    return check


# The command ------------------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Benchmark the staff portal in the bench district: a teacher's roster page and a "
        "principal's /school/ searches in-process (p50/p95, queries per request), and the "
        "roster as JSON against /healthz/ over HTTP on gunicorn (requests/s). Adds the "
        "'Bench Staff High' fixture to the district on first run; fails on any wrong answer."
    )

    def add_arguments(self, parser):
        parser.add_argument("--district", default="bench")
        parser.add_argument("--runs", type=int, default=50)
        parser.add_argument("--seconds", type=float, default=15.0, help="per HTTP endpoint")
        parser.add_argument("--clients", type=int, default=6, help="concurrent HTTP clients")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")

    def handle(self, *args, district, runs, seconds, clients, workers, **options):
        self.failures: list[str] = []
        self.access_bench = AccessBench()  # its readers, which must stay the seeded ones
        the_district = District.objects.filter(slug=district).first()
        if the_district is None:
            raise CommandError(f"No district '{district}': run bench_access first (it seeds).")
        # In the district, as its pages are: row-level security applies as in production.
        with tenant_scope(the_district):
            started = time.perf_counter()
            fixture = staff_fixture(the_district)
            took = time.perf_counter() - started
            self.stdout.write(f"Fixture 'Bench Staff High' ready in {took:.1f} s")
            self.check_readers_unchanged(the_district, fixture)
            roster = self.bench_roster(fixture, runs)
            self.bench_school(fixture, runs)
            share = self.bench_http(fixture, seconds, clients, workers)
            self.print_targets(roster, share)
            if self.failures:
                raise CommandError("bench_staff failed:\n  " + "\n  ".join(self.failures))

    def check_readers_unchanged(self, district: District, fixture: StaffFixture) -> None:
        """bench_access's readers must stay the seeded ones, so its numbers stay comparable."""
        picked = {user.pk for user in self.access_bench.pick_readers(district).values()}
        if picked & {fixture.teacher.pk, fixture.principal.pk}:
            raise CommandError("bench_access would now pick a fixture user as its reader")

    def bench_roster(self, fixture: StaffFixture, runs: int) -> Timing:
        client = signed_in_client(fixture.teacher)
        viewer = viewer_for(fixture.teacher)
        self.stdout.write(f"\nRoster page /classes/<id>/ (HTML, the teacher; {runs} runs)")
        timings = {}
        for section_id in (fixture.roster_id, fixture.small_roster_id):
            size = len(roster_students(viewer, section_for_teacher(viewer, section_id))[0])
            timing = self.page_timing(client, f"/classes/{section_id}/", runs)
            self.stdout.write(f"  {size:>3} students  {_timing(timing)}")
            timings[size] = timing
        if sorted(timings) != [SMALL_ROSTER_SIZE, ROSTER_SIZE]:
            raise CommandError(f"roster sizes {sorted(timings)}: the fixture is not as made")
        large, small = timings[ROSTER_SIZE], timings[SMALL_ROSTER_SIZE]
        same = large.queries == small.queries
        self.stdout.write(f"  queries the same for 35 and 5 students: {'yes' if same else 'NO'}")
        if not same:
            self.failures.append(f"roster queries grow: {small.queries} → {large.queries}")
        return large

    def bench_school(self, fixture: StaffFixture, runs: int) -> None:
        client = signed_in_client(fixture.principal)
        viewer = viewer_for(fixture.principal)
        self.stdout.write(f"\n/school/ (HTML, the principal of {SCHOOL_SIZE:,}; {runs} runs)")
        for label, params in SEARCHES:
            query = "&".join(f"{key}={value}" for key, value in params.items())
            matches = staff_students(viewer, **_filters(params)).count()
            timing = self.page_timing(client, f"/school/?{query}", runs)
            self.stdout.write(f"  {label:<22} {matches:>6,} students  {_timing(timing)}")
            if not matches:
                self.failures.append(f"/school/ {label}: the filter matches no student")

    def page_timing(self, client: Client, url: str, runs: int) -> Timing:
        return page_timing(client, url, runs)

    def bench_http(self, fixture: StaffFixture, seconds: float, clients: int, workers: int):
        # The API's filter is ``section``; an unknown ``section_id`` would be ignored and
        # answer the teacher's whole reach, which the check below would catch.
        token, _ = Token.objects.get_or_create(user=fixture.teacher)
        roster = (
            f"/api/v1/students/?section={fixture.roster_id}",
            {"Authorization": f"Token {token.key}", "Accept": "application/json"},
            roster_check(ROSTER_SIZE),
        )
        trivial = ("/healthz/", {}, healthz_check)
        self.stdout.write(
            f"\nOver HTTP: gunicorn, {workers} sync workers, {clients} clients, "
            f"{seconds:g} s each (after 2 s of warm-up); cache: {_cache_in_use()}"
        )
        loads = {}
        runs = (
            ("/healthz/", trivial, {}),
            ("roster JSON", roster, {}),
            # Every request decides access and projects anew, as after any change.
            ("  uncached", roster, {"ACCESS_CACHE_SECONDS": "0"}),
        )
        for label, (path, headers, check), env in runs:
            with gunicorn(workers, **env) as port:
                drive(port, path, headers, check, clients, 2.0)  # warm-up: imports, connections
                loads[label] = load = drive(port, path, headers, check, clients, seconds)
            self.stdout.write(f"  {label:<12} {_load(load)}")
            self.failures += [f"{label}: {error}" for error in load.errors[:5]]
        share = loads["roster JSON"].per_second / max(loads["/healthz/"].per_second, 1e-9)
        self.stdout.write(f"  JSON / trivial throughput: {share:.1%}")
        return share

    def print_targets(self, roster: Timing, share: float) -> None:
        met = {True: "met", False: "MISSED"}
        self.stdout.write(
            f"\nTargets: roster page p50 < {ROSTER_P50_TARGET_MS} ms: "
            f"{met[roster.p50 < ROSTER_P50_TARGET_MS]} ({roster.p50:.1f} ms); "
            f"JSON roster ≥ {JSON_SHARE_TARGET:.0%} of the trivial view's throughput: "
            f"{met[share >= JSON_SHARE_TARGET]} ({share:.1%})"
        )


def _cache_in_use() -> str:
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        return "Redis, with each worker's own copy of hot entries"
    return "each worker's own memory (no REDIS_URL)"


def _filters(params: dict) -> dict:
    """The form's fields as ``staff_students`` takes them (the view's own mapping)."""
    below = params.get("attendance_below")
    return {
        "query": params.get("q"),
        "grade": params.get("grade"),
        "program": params.get("program"),
        "attendance_below": float(below) if below else None,
    }


def _timing(timing: Timing) -> str:
    return f"p50 {timing.p50:6.1f} ms  p95 {timing.p95:6.1f} ms  {timing.queries:>2} queries"


def _load(load: Load) -> str:
    if not load.latencies:
        return f"no good answer, {len(load.errors)} errors"
    p50, p95 = percentiles(load.latencies)
    return (
        f"{load.per_second:7.1f} req/s  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
        f"{len(load.latencies):>6,} ok  {len(load.errors)} errors"
    )
