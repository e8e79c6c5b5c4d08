"""Benchmark the public report cards at the size of a large district.

For the ``reports`` district (200,000 students in 50 schools, seeded by ``make bench``),
from a clean start (its earlier report releases deleted: this benchmark's own database
only):

- release 1, ``reports.builds.build_release``: wall time by phase (facts read, cells
  built, protection with its LP audit, content, ledger and saving) and peak memory;
  cells, primary cells, hidden cells and their share, students in hidden cells, the
  narrowest primary interval, and the assessment level cells among them (the issue's
  ~8,000-cell table set is levels by grade and subgroup only);
- its independent audit: the facts read again and the cells rebuilt, the hidden set taken
  from what the release publishes (a value coded SN or SC, or not published at all), the
  LP's interval of every hidden cell, and the primary cells proven narrower than the
  district's width (must be none);
- release 2, after a records feed reports five students homeless (ended again at the
  end, so that every run starts from the seeded figures): the same, protected jointly
  with release 1 through the ledger, and audited jointly (every value release 1 showed
  that still holds is known to the attacker); every cell release 1 hid must stay hidden;
- the issue's own table set alone (each subject's levels by grade and by subgroup, per
  school and district, with the students assessed they add up to: ``issue_tables``):
  counted, protected with its certificate and audited again, for release 1 and, after
  the same feed, jointly for release 2; no release is saved. The report card publishes
  more (enrollment, attendance, participation), tied to these cells by exact sums, so
  the two are measured apart;
- ``/reports/schools/<id>/`` of the largest school over HTTP on gunicorn: requests per
  second beside ``/healthz/``, in alternating rounds, each on a fresh gunicorn.

Each build and each audit is stopped past ``--time-limit`` (10 times the target by
default): the run then reports how far it got, and what needs the stopped release is not
measured. Prints numbers and a table of targets; a missed target does not fail the
command.
"""

from __future__ import annotations

import contextlib
import cProfile
import csv
import functools
import io
import pstats
import re
import signal
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils.html import escape

from access.aggregates import report_population
from access.management.commands.bench_providers import PeakMemory, sampled_memory
from access.management.commands.bench_staff import _load, drive, gunicorn, healthz_check
from records.importers.records_csv import import_records
from records.models import District
from reports import builds, published, services
from reports.builds import build_release
from reports.cells import (
    Cells,
    is_published,
    may_be_primary,
    split_key,
    split_measure,
)
from reports.ledger import Ledger
from reports.models import Release
from reports.services import COUNTED
from reports.suppression import Code, attacker_intervals, is_primary, unsafe_cells

SECONDS_TARGET = 60
MEMORY_MB_TARGET = 1024
HIDDEN_SHARE_TARGET = 0.30
PAGE_SHARE_TARGET = 0.50
TIME_LIMIT = 10 * SECONDS_TARGET

HIDING_CODES = frozenset({Code.BELOW_MINIMUM_N.value, Code.COMPLEMENTARY.value})
LEVEL_MEASURE = re.compile(r"\.level\d+$")
FEED_STUDENTS = 5
FEED_PROGRAM = "homeless"
# The build's own steps, timed where build_release calls them; the rest of its time is
# the content, the ledger, the certificate and the INSERT.
PHASES = (
    ("facts read", builds, "report_facts"),
    ("cells built", builds, "build_cells"),
    ("protection", services, "protect_cells"),
)
REST_OF_BUILD = "content, ledger, saving"
PROFILE_LINES = 10
# The issue's district: 200,000 students in 50 schools (the access benchmarks' `bench`
# district has 284, as typical school sizes make: a far larger table).
BENCH_DISTRICT = "reports"
SEED_COMMAND = (
    f"manage.py seed_demo --district {BENCH_DISTRICT} --students 200000 --schools 50 --seed 1"
)


class Stopped(BaseException):
    """The time limit passed. A BaseException: code that turns any Exception into a
    failed build (an extract's) would hide that the benchmark stopped it."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``Stopped`` in the block past ``seconds`` (0: no limit). The signal lands
    between two LP solves: a build far past its target tells no more by running for
    hours, and ``make bench`` must end."""
    if not seconds:
        yield
        return

    def stop(signum, frame):
        raise Stopped

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Phases:
    """Seconds per phase of a build, and the cells it built (known before protection)."""

    seconds: dict[str, float] = field(default_factory=dict)
    cells: Cells | None = None


@dataclass
class Build:
    release: Release | None  # None when the time limit stopped the build
    seconds: float
    phases: Phases
    memory: PeakMemory


@dataclass
class Audit:
    """What the public can work out from a release, checked apart from the build."""

    seconds: float
    rebuild_seconds: float
    lp_seconds: float
    counts: dict[str, int]  # every cell's true count, by key, counted again
    published: set[str]  # the cells a page shows (as a count or a percentage)
    hidden: set[str]  # the cells the public cannot read in the release
    lp_hidden: int  # the hidden cells the LP solves for (hidden, less those known)
    unsafe: list[str]  # primary cells proven narrower than the width
    primary_shown: list[str]  # small counts the public can read
    readable: list[str]  # cells the build hid (its certificate) that the content shows
    narrowest: float | None
    memory: PeakMemory


@dataclass
class ReleaseRun:
    build: Build
    audit: Audit | None = None  # None when the build or the audit was stopped
    dropped: list[str] | None = None  # release 2: cells release 1 hid that it shows

    @property
    def release(self) -> Release | None:
        return self.build.release

    @property
    def complete(self) -> bool:
        return self.audit is not None

    @property
    def peak_mb(self) -> float:
        return max(self.build.memory.peak, self.audit.memory.peak if self.audit else 0)


# Building -------------------------------------------------------------------------------


def _timer(function, phases: Phases, label: str):
    @functools.wraps(function)
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            result = function(*args, **kwargs)
        finally:  # a phase the time limit stops counts up to the stop
            phases.seconds[label] += time.perf_counter() - started
        if isinstance(result, Cells):
            phases.cells = result
        return result

    return timed


@contextlib.contextmanager
def timed_phases() -> Iterator[Phases]:
    """The seconds spent in each of ``PHASES`` while the block runs: the call measured
    stays build_release itself, its steps wrapped where it looks them up."""
    phases = Phases({label: 0.0 for label, _, _ in PHASES})
    with contextlib.ExitStack() as stack:
        for label, module, name in PHASES:
            wrapped = _timer(getattr(module, name), phases, label)
            stack.enter_context(mock.patch.object(module, name, wrapped))
        yield phases


def timed_build(district: District, limit: float, profiler: cProfile.Profile | None) -> Build:
    release = None
    with sampled_memory() as memory, timed_phases() as phases:
        started = time.perf_counter()
        with contextlib.suppress(Stopped), time_limit(limit):
            if profiler is None:
                release = build_release(district, kind=Release.Kind.ON_REQUEST)
            else:
                release = profiler.runcall(build_release, district, kind=Release.Kind.ON_REQUEST)
        seconds = time.perf_counter() - started
    phases.seconds[REST_OF_BUILD] = seconds - sum(phases.seconds.values())
    return Build(release, seconds, phases, memory)


def delete_releases(district: District) -> int:
    """Start clean. Published releases never change (a PostgreSQL trigger refuses it,
    REQUIREMENTS 15); only this benchmark lifts it, on its own database, for one DELETE
    in one transaction (ALTER TABLE is transactional: a failure restores the trigger),
    as records.seeding.delete_district does for a whole district."""
    with transaction.atomic(), connection.cursor() as cursor:
        # Keys checked at each statement, not at commit: ALTER TABLE refuses a table with
        # checks queued (a release's link to the one it continues).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE reports_release DISABLE TRIGGER reports_release_frozen")
        cursor.execute("DELETE FROM reports_release WHERE district_id = %s", [district.pk])
        deleted = cursor.rowcount
        cursor.execute("ALTER TABLE reports_release ENABLE TRIGGER reports_release_frozen")
    published.forget_latest(district.pk)
    return deleted


# The records feed between the two releases ---------------------------------------------


class RecordsFeed:
    """Five students (the first of each of five schools) reported homeless, as a
    district's records feed sends it, through the records importer (the one writer of
    programs; nothing outside ``access/`` queries a student table). The rows are the
    benchmark's own: they begin the day after the school year does, a date the seed never
    gives a homeless row, and ending them puts the figures back."""

    def __init__(self, district: District, day: date):
        self.district, self.day = district, day
        _, year_start = services.school_year_of(district, day)
        self.begin = year_start + timedelta(days=1)
        if day - timedelta(days=1) < self.begin:
            raise CommandError("Too early in the school year for the feed's rows: run later.")
        # The report's own population, asked of access/ (DISTINCT ON: PostgreSQL).
        firsts = report_population(district, day).order_by("school_id", "student_id")
        self.students = list(
            firsts.distinct("school_id").values_list("student__sourced_id", flat=True)[
                :FEED_STUDENTS
            ]
        )

    def report(self, *, ended: bool) -> None:
        """Send the rows, open (in force on the day) or ended the day before."""
        end = (self.day - timedelta(days=1)).isoformat() if ended else ""
        with tempfile.TemporaryDirectory() as folder:
            with (Path(folder) / "programs.csv").open("w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(("studentSourcedId", "program", "beginDate", "endDate"))
                for student in self.students:
                    writer.writerow((student, FEED_PROGRAM, self.begin.isoformat(), end))
            report, run = import_records(Path(folder), district=self.district, strict=True)
        if not report.ok:
            raise CommandError(f"The records feed was rejected (import run {run.pk}).")


# Auditing -------------------------------------------------------------------------------


def rebuilt_cells(district: District, day: date) -> Cells:
    """The cells counted again from the records, as a build of ``day`` counts them."""
    _, year_start = services.school_year_of(district, day)
    return builds.count_cells(district, day, year_start)[0]


def unreadable(keys: list[str], values: dict[str, list]) -> set[int]:
    """The cells the public cannot read in a release's values: a count coded SN or SC,
    a level or rate whose percentage is (its own cell or its denominator hidden), and a
    cell published in no form (``not_assessed``, ``attendance.not_chronic``...: left to
    the sums). A range coded PC counts as read: the attacker gets the exact value."""
    hidden = set()
    for at, name in enumerate(keys):
        scope, measure, row = split_key(name)
        if split_measure(measure)[1] not in COUNTED:
            name = f"{scope}/{measure}.percent/{row}"
        value = values.get(name)
        if value is None or value[1] in HIDING_CODES:
            hidden.add(at)
    return hidden


def audit(district: District, release: Release, earlier: Release | None, limit: float) -> Audit:
    """Audit ``release`` from the records and what it publishes, not from the build's
    own sets; jointly with ``earlier`` (every value it showed that still holds is known).
    Raises ``Stopped`` past ``limit`` seconds."""
    with sampled_memory() as memory, time_limit(limit):
        started = time.perf_counter()
        table, keys = rebuilt_cells(district, release.as_of).table()
        content, certificate = Release.unscoped.values_list("content", "certificate").get(
            pk=release.pk
        )
        hidden = unreadable(keys, content["values"])
        rebuilt = time.perf_counter()
        known = Ledger.from_json(earlier.ledger).known(keys, table.counts) if earlier else set()
        solved = hidden - known
        intervals = attacker_intervals(table, solved)
        primary = primary_cells(keys, table.counts, release.minimum_n)
        unsafe = unsafe_cells(intervals, primary & solved, release.width)
        lp_seconds = time.perf_counter() - rebuilt
        seconds = time.perf_counter() - started
    shown_on_pages = {name for name in keys if is_published(name)}
    _check_same_cells(release, shown_on_pages, {keys[at] for at in primary})
    hidden_keys = {keys[at] for at in hidden}
    widths = [intervals[at].width for at in primary & solved]
    return Audit(
        seconds=seconds,
        rebuild_seconds=rebuilt - started,
        lp_seconds=lp_seconds,
        counts=dict(zip(keys, table.counts, strict=True)),
        published=shown_on_pages,
        hidden=hidden_keys,
        lp_hidden=len(solved),
        unsafe=[keys[at] for at in unsafe],
        primary_shown=sorted(keys[at] for at in primary - hidden),
        readable=sorted(set(certificate) - hidden_keys),
        narrowest=min(widths) if widths else None,
        memory=memory,
    )


def primary_cells(keys: list[str], counts: list[int], minimum_n: int) -> set[int]:
    """Counts below n, zeros included, of the cells that may be primary (a cell that only
    bounds others, such as students enrolled under 10 days, never is: reports/cells.py)."""
    return {
        at
        for at, (name, count) in enumerate(zip(keys, counts, strict=True))
        if is_primary(count, minimum_n) and may_be_primary(name)
    }


def _check_same_cells(release: Release, published: set[str], primary: set[str]) -> None:
    """The audit must count what the build counted (its summary counts the published
    cells): nothing writes between them here."""
    summary = release.summary
    counted = (len(published), len(primary & published))
    if counted != (summary["cells"], summary["primary"]):
        raise CommandError(
            f"Release {release.pk}: the audit counted {counted[0]:,} published cells and "
            f"{counted[1]:,} primary, the build {summary['cells']:,} and "
            f"{summary['primary']:,}: did the records change during the run?"
        )


# The issue's own table set ----------------------------------------------------------------


def issue_tables(cells: Cells) -> Cells:
    """The table set the issue's benchmark names: each subject's levels by grade and by
    subgroup, per school and for the district, with the students assessed each row's
    levels add up to; the sums among those cells only."""

    def kept(name: str) -> bool:
        measure = split_key(name)[1]
        return split_measure(measure)[1] == "assessed" or bool(LEVEL_MEASURE.search(measure))

    return Cells(
        counts={name: count for name, count in cells.counts.items() if kept(name)},
        sums=[(total, parts) for total, parts in cells.sums
              if kept(total) and all(map(kept, parts))],
    )  # fmt: skip


@dataclass
class TableSetRun:
    """One release of the issue's table set: counted, protected, audited again."""

    counted_seconds: float
    protected_seconds: float  # protection with its certificate
    audited_seconds: float  # the LP run again over the hidden cells (less those known)
    protection: services.Protection
    unsafe: list[str]
    narrowest: float | None
    memory: PeakMemory

    @property
    def seconds(self) -> float:
        return self.counted_seconds + self.protected_seconds + self.audited_seconds

    @property
    def hidden_share(self) -> float:
        return len(self.protection.hidden) / max(len(self.protection.keys), 1)

    def hidden_keys(self) -> set[str]:
        return {self.protection.keys[at] for at in self.protection.hidden}


def protect_issue_tables(
    district: District, day: date, ledger: Ledger, limit: float
) -> TableSetRun:
    """The issue's table set of ``day`` protected jointly with ``ledger`` and audited
    again. Raises ``Stopped`` past ``limit`` seconds."""
    width = district.suppression_width
    with sampled_memory() as memory, time_limit(limit):
        started = time.perf_counter()
        cells = issue_tables(rebuilt_cells(district, day))
        counted = time.perf_counter()
        protection = services.protect_cells(cells, ledger, district.min_cell_size, width)
        protected = time.perf_counter()
        solved = protection.hidden - protection.known
        intervals = attacker_intervals(protection.table, solved)
        unsafe = unsafe_cells(intervals, protection.primary & solved, width)
        audited = time.perf_counter()
    widths = [intervals[at].width for at in protection.primary & solved]
    return TableSetRun(
        counted_seconds=counted - started,
        protected_seconds=protected - counted,
        audited_seconds=audited - protected,
        protection=protection,
        unsafe=[protection.keys[at] for at in unsafe],
        narrowest=min(widths) if widths else None,
        memory=memory,
    )


# Over HTTP ------------------------------------------------------------------------------


def largest_school(release: Release) -> dict:
    """The school of the most students enrolled, by the release's true counts (its
    enrollment may be hidden on the page: most schools' is, where a tested grade's
    students are its enrollment and no student went untested)."""
    count_of = dict(zip(release.table["keys"], release.table["counts"], strict=True))
    return max(
        release.content["schools"].items(),
        key=lambda item: count_of.get(f"{item[0]}/enrolled/all", 0),
    )[1]


def school_page_check(name: str):
    expected = escape(name).encode()

    def check(status: int, body: bytes) -> str | None:
        if status != 200:
            return f"school page: HTTP {status} {body[:120]!r}"
        if expected not in body:
            return f"school page: {name!r} is not on it"
        return None

    return check


# The command ----------------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Benchmark the public report cards on the bench district: build, protect and "
        "independently audit a release (wall time by phase, peak memory, cells and "
        "students hidden), then a second release after a small records feed, protected "
        "and audited jointly with the first; then the largest school's page under "
        "gunicorn against /healthz/. Deletes the district's earlier releases first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--district", default=BENCH_DISTRICT)
        parser.add_argument("--seconds", type=float, default=10.0, help="HTTP run length")
        parser.add_argument("--rounds", type=int, default=3, help="HTTP rounds (median)")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
        parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
        parser.add_argument("--skip-http", action="store_true")
        parser.add_argument(
            "--issue-tables-only",
            action="store_true",
            help="measure only the issue's table set (no release built, no HTTP)",
        )
        parser.add_argument(
            "--time-limit",
            type=float,
            default=TIME_LIMIT,
            help=f"stop a build or an audit past this many seconds (default {TIME_LIMIT}; "
            "0: no limit)",
        )
        parser.add_argument(
            "--profile",
            action="store_true",
            help="profile release 1's build (cProfile; its times then include the "
            "profiler's overhead) and print the functions of most cumulative time",
        )

    def handle(self, *args, district, seconds, rounds, workers, clients, skip_http, time_limit,
               profile, issue_tables_only, **options):  # fmt: skip
        the_district = District.objects.filter(slug=district).first()
        if the_district is None:
            raise CommandError(f"No district '{district}': {SEED_COMMAND} (make bench does).")
        self.limit = time_limit
        deleted = delete_releases(the_district)
        day = the_district.today()
        feed = RecordsFeed(the_district, day)
        feed.report(ended=True)  # as seeded, even after a run that was stopped halfway
        self.stdout.write(
            f"Report cards, district '{district}' as of {day}: minimum n "
            f"{the_district.min_cell_size}, width {the_district.suppression_width}; "
            f"{deleted} earlier releases deleted; time limit "
            f"{f'{time_limit:g} s' if time_limit else 'none'} per build and per audit"
        )
        if issue_tables_only:
            self.print_target_rows(self.bench_issue_tables(the_district, feed))
            return
        profiler = cProfile.Profile() if profile else None
        first = self.bench_release(the_district, "Release 1", None, profiler)
        second = None
        if first.complete:
            services.publish(first.release)
            feed.report(ended=False)
            try:
                second = self.bench_release(the_district, "Release 2", first, None)
            finally:
                feed.report(ended=True)
            if second.complete:
                services.publish(second.release)
        issue_rows = self.bench_issue_tables(the_district, feed)
        served = next((run.release for run in (second, first) if run and run.complete), None)
        share = None
        if not skip_http and served is not None:
            share = self.bench_http(served, seconds, clients, workers, rounds)
        self.print_targets(first, second, share, issue_rows)

    def bench_release(
        self,
        district: District,
        label: str,
        earlier: ReleaseRun | None,
        profiler: cProfile.Profile | None,
    ) -> ReleaseRun:
        run = ReleaseRun(timed_build(district, self.limit, profiler))
        self.print_build(label, run.build, district.min_cell_size)
        if profiler:
            self.print_profile(profiler)
        if run.release is None:
            return run
        started = time.perf_counter()
        try:
            run.audit = audit(district, run.release, earlier.release if earlier else None,
                              self.limit)  # fmt: skip
        except Stopped:
            took = time.perf_counter() - started
            self.stdout.write(f"  audit STOPPED by the time limit after {took:.0f} s")
            return run
        self.print_cells(run)
        if earlier is not None:
            run.dropped = self.joint_checks(earlier, run)
        self.print_audit(run.audit, joint=earlier is not None)
        return run

    def print_build(self, label: str, build: Build, minimum_n: int) -> None:
        phases = ", ".join(f"{name} {took:.1f} s" for name, took in build.phases.seconds.items())
        memory = (
            f"peak memory {build.memory.peak:.0f} MB (+{build.memory.growth:.0f} MB over the start)"
        )
        if build.release is None:
            self.stdout.write(
                f"\n{label}: build STOPPED by the time limit after {build.seconds:.0f} s "
                f"({phases}); {memory}"
            )
            cells = build.phases.cells
            if cells is not None:
                keys = list(cells.counts)
                small = primary_cells(keys, list(cells.counts.values()), minimum_n)
                shown = sum(1 for name in keys if is_published(name))
                small_shown = sum(1 for at in small if is_published(keys[at]))
                self.stdout.write(
                    f"  it was protecting {len(keys):,} cells ({len(small):,} primary), "
                    f"{shown:,} of them published ({small_shown:,} primary, "
                    f"{small_shown / max(shown, 1):.1%})"
                )
            return
        release = build.release
        self.stdout.write(
            f"\n{label} (release {release.pk}, {len(release.content['schools'])} schools): "
            f"built in {build.seconds:.1f} s ({phases}); {memory}"
        )

    def print_cells(self, run: ReleaseRun) -> None:
        summary, counts = run.release.summary, run.audit.counts
        counted = sum(counts[name] for name in run.audit.published)
        students = summary["students_in_hidden_cells"]
        self.stdout.write(
            f"  published cells {summary['cells']:,} (of {len(counts):,} in the table): "
            f"primary {summary['primary']:,}, hidden "
            f"{summary['hidden']:,} ({hidden_share(run.release):.1%}); students in hidden "
            f"cells {students:,} of {counted:,} counted in all published cells "
            f"({students / max(counted, 1):.1%}); narrowest primary interval "
            f"{summary['narrowest_primary_interval']}"
        )
        levels = [name for name in run.audit.published if LEVEL_MEASURE.search(split_key(name)[1])]
        hidden_levels = sum(1 for name in levels if name in run.release.certificate)
        self.stdout.write(
            f"  assessment level cells (<subject>.level<L>, every row): {len(levels):,} of "
            f"{summary['cells']:,}, hidden {hidden_levels:,} "
            f"({hidden_levels / max(len(levels), 1):.1%})"
        )

    def joint_checks(self, earlier: ReleaseRun, run: ReleaseRun) -> list[str]:
        """Release 1's cells hidden again in release 2 (the dropped ones listed)."""
        before, after = earlier.audit.counts, run.audit.counts
        changed = sum(1 for name, count in after.items() if before.get(name) != count)
        dropped = sorted((earlier.audit.hidden & after.keys()) - run.audit.hidden)
        known = run.release.summary["known_from_earlier_releases"]
        self.stdout.write(
            f"  the feed ({FEED_STUDENTS} students reported {FEED_PROGRAM}) changed "
            f"{changed:,} cells' counts; cells known from release 1 (shown there, same "
            f"value): {known:,}"
        )
        if not changed:
            self.stdout.write("  WARNING: no count changed: the joint audit tests nothing")
        self.stdout.write(
            f"  every cell release 1 hid is hidden in release 2: "
            f"{'yes' if not dropped else f'NO, {len(dropped)} shown: {dropped[:5]}'}"
        )
        return dropped

    def print_audit(self, audited: Audit, *, joint: bool) -> None:
        kind = "joint audit with release 1" if joint else "independent audit"
        narrowest = "-" if audited.narrowest is None else f"{audited.narrowest:g}"
        self.stdout.write(
            f"  {kind} in {audited.seconds:.1f} s (records read and cells rebuilt "
            f"{audited.rebuild_seconds:.1f} s, LP over {audited.lp_hidden:,} hidden cells "
            f"{audited.lp_seconds:.1f} s; peak memory {audited.memory.peak:.0f} MB): "
            f"{len(audited.hidden):,} cells unreadable in the content; primary cells "
            f"narrower than the width: {len(audited.unsafe)} (narrowest {narrowest}); "
            f"small counts shown: {len(audited.primary_shown)}; cells the build hid that "
            f"the content shows: {len(audited.readable)}"
        )
        for problem in (audited.unsafe, audited.primary_shown, audited.readable):
            if problem:
                self.stdout.write(f"    e.g. {', '.join(problem[:5])}")

    def print_profile(self, profiler: cProfile.Profile) -> None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(PROFILE_LINES)
        self.stdout.write("\nThe build under cProfile, by cumulative time:\n")
        self.stdout.write(out.getvalue().split("\n\n", 1)[-1].rstrip())

    def bench_issue_tables(self, district: District, feed: RecordsFeed) -> list[tuple]:
        """Release 1 and 2 of the issue's table set (no release saved): its target rows."""
        day = district.today()
        self.stdout.write(
            "\nThe issue's table set alone (levels by grade and subgroup with the students "
            "assessed, per school and district; no release saved):"
        )
        runs: list[TableSetRun | None] = []
        ledger = Ledger()
        for label in ("release 1", "release 2, joint"):
            if runs and runs[-1] is None:
                runs.append(None)
                continue
            if runs:
                feed.report(ended=False)
            try:
                run = protect_issue_tables(district, day, ledger, self.limit)
            except Stopped:
                self.stdout.write(f"  {label}: STOPPED by the time limit")
                run = None
            finally:
                if runs:
                    feed.report(ended=True)
            runs.append(run)
            if run is not None:
                self.print_table_set(label, run)
                protection = run.protection
                ledger = ledger.after(protection.keys, protection.table.counts,
                                      protection.hidden, groups=protection.groups)  # fmt: skip
        first, second = runs
        dropped = None
        if first and second:
            dropped = sorted(first.hidden_keys() - second.hidden_keys())
            self.stdout.write(
                f"  every cell release 1 hid is hidden in release 2: "
                f"{'yes' if not dropped else f'NO, {len(dropped)} shown: {dropped[:5]}'}"
            )
        rows = self.table_set_targets("issue's tables, release 1", first)
        rows += self.table_set_targets("issue's tables, release 2, joint", second)
        rows.append(("issue's tables: every cell release 1 hid hidden in release 2",
                     None if dropped is None else f"{len(dropped)} shown",
                     not dropped))  # fmt: skip
        return rows

    def print_table_set(self, label: str, run: TableSetRun) -> None:
        protection = run.protection
        primary = len(protection.primary)
        narrowest = "-" if run.narrowest is None else f"{run.narrowest:g}"
        self.stdout.write(
            f"  {label}: {run.seconds:.1f} s (cells counted {run.counted_seconds:.1f} s, "
            f"protected with its certificate {run.protected_seconds:.1f} s, LP run again "
            f"{run.audited_seconds:.1f} s); peak memory {run.memory.peak:.0f} MB; cells "
            f"{len(protection.keys):,}, primary {primary:,} "
            f"({primary / max(len(protection.keys), 1):.1%}), hidden "
            f"{len(protection.hidden):,} ({run.hidden_share:.1%}), known from release 1 "
            f"{len(protection.known):,}; primary cells narrower than the width: "
            f"{len(run.unsafe)} (narrowest {narrowest})"
        )

    def table_set_targets(self, label: str, run: TableSetRun | None) -> list[tuple]:
        return [
            (f"{label}: counted, protected, audited < {SECONDS_TARGET} s",
             None if run is None else f"{run.seconds:.1f} s",
             run is not None and run.seconds < SECONDS_TARGET),
            (f"{label}: peak memory < {MEMORY_MB_TARGET} MB",
             None if run is None else f"{run.memory.peak:.0f} MB",
             run is not None and run.memory.peak < MEMORY_MB_TARGET),
            (f"{label}: primary cells narrower than the width",
             None if run is None else str(len(run.unsafe)), run is not None and not run.unsafe),
            (f"{label}: cells hidden ≤ {HIDDEN_SHARE_TARGET:.0%}",
             None if run is None else f"{run.hidden_share:.1%}",
             run is not None and run.hidden_share <= HIDDEN_SHARE_TARGET),
        ]  # fmt: skip

    def bench_http(
        self, release: Release, seconds: float, clients: int, workers: int, rounds: int
    ) -> float:
        """Requests per second of the school page against ``/healthz/``, each on its own
        gunicorn, in alternating rounds: the median of the rounds' shares. Pages are
        rendered once per worker and kept (reports/published.py): the warm-up renders
        them, so the rounds measure the page as it is served all day."""
        school = largest_school(release)
        page = f"/reports/schools/{school['id']}/"
        self.stdout.write(
            f"\nOver HTTP: {page} ({school['name']}, the largest school, release "
            f"{release.pk}) beside /healthz/; gunicorn, {workers} sync workers, {clients} "
            f"clients, {seconds:g} s each after 2 s of warm-up, {rounds} rounds"
        )
        urls = (("/healthz/", "/healthz/", healthz_check),
                ("school page", page, school_page_check(school["name"])))  # fmt: skip
        shares = []
        for number in range(1, rounds + 1):
            loads = {}
            for label, path, check in urls:
                with gunicorn(workers) as port:
                    drive(port, path, {}, check, clients, 2.0)
                    loads[label] = load = drive(port, path, {}, check, clients, seconds)
                self.stdout.write(f"  {number}: {label:<12} {_load(load)}")
                if load.errors:
                    raise CommandError(f"{label}: {load.errors[0]}")
            trivial = max(loads["/healthz/"].per_second, 1e-9)
            shares.append(loads["school page"].per_second / trivial)
            self.stdout.write(f"  {number}: school page / trivial: {shares[-1]:.1%}")
        share = statistics.median(shares)
        self.stdout.write(
            f"  school page / trivial throughput: median {share:.1%} "
            f"(rounds {min(shares):.1%}–{max(shares):.1%})"
        )
        return share

    def print_targets(
        self,
        first: ReleaseRun,
        second: ReleaseRun | None,
        share: float | None,
        issue_rows: list[tuple],
    ) -> None:
        rows = [*self.release_targets("release 1", first)]
        rows += self.release_targets("release 2, joint", second)
        dropped = second.dropped if second else None
        rows.append(("every cell release 1 hid hidden in release 2",
                     None if dropped is None else f"{len(dropped)} shown",
                     not dropped))  # fmt: skip
        rows.append((f"school page ≥ {PAGE_SHARE_TARGET:.0%} of /healthz/",
                     None if share is None else f"{share:.1%}",
                     share is not None and share >= PAGE_SHARE_TARGET))  # fmt: skip
        self.print_target_rows(rows + issue_rows)

    def print_target_rows(self, rows: list[tuple]) -> None:
        width = max(len(target) for target, _, _ in rows)
        self.stdout.write("\nTargets")
        for target, measured, met in rows:
            verdict = "not measured" if measured is None else "PASS" if met else "FAIL"
            self.stdout.write(f"  {target:<{width}}  {measured or '-':>22}  {verdict}")

    def release_targets(self, label: str, run: ReleaseRun | None) -> list[tuple]:
        """(target, measured or None, met) for one release: None when not measured."""
        audited = run.audit if run else None
        if run is None:
            seconds = None
        elif run.release is None:
            seconds = f"> {run.build.seconds:.0f} s (stopped)"
        elif audited is None:
            seconds = f"> {run.build.seconds + self.limit:.0f} s (stopped)"
        else:
            seconds = f"{run.build.seconds + audited.seconds:.1f} s"
        share = hidden_share(run.release) if run and run.release else None
        return [
            (f"{label}: built and audited < {SECONDS_TARGET} s", seconds,
             audited is not None and run.build.seconds + audited.seconds < SECONDS_TARGET),
            (f"{label}: peak memory < {MEMORY_MB_TARGET} MB",
             None if run is None else f"{run.peak_mb:.0f} MB{'' if run.release else ' (stopped)'}",
             run is not None and run.peak_mb < MEMORY_MB_TARGET),
            (f"{label}: primary cells narrower than the width",
             str(len(audited.unsafe)) if audited else None, audited and not audited.unsafe),
            (f"{label}: small counts shown, hidden cells readable",
             f"{len(audited.primary_shown)}, {len(audited.readable)}" if audited else None,
             audited and not audited.primary_shown and not audited.readable),
            (f"{label}: cells hidden ≤ {HIDDEN_SHARE_TARGET:.0%}",
             None if share is None else f"{share:.1%}",
             share is not None and share <= HIDDEN_SHARE_TARGET),
        ]  # fmt: skip


def hidden_share(release: Release) -> float:
    return release.summary["hidden"] / max(release.summary["cells"], 1)
