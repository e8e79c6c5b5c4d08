"""Benchmark the de-identified research extract on a seeded district.

The issue's benchmark: an extract of 200,000 students with a year of attendance and
assessments, in under 2 minutes and 1 GB; its wall time, peak memory, k achieved, share
of records suppressed and information loss.

On a district ``seed_demo`` made (``make bench`` seeds ``bench``: 200,000 students, a
school year of daily attendance, assessments), inside one transaction rolled back at the
end, so that the district is left as it was (an approved study version never changes, a
PostgreSQL trigger refuses it, and the access log is append-only: rollback is the one way
to leave nothing behind):

- a district admin and a researcher (``access.models.Researcher``) are made;
- the researcher proposes a study through ``StudyProposalForm``, as the study's page
  does: every school, every grade present (of the students a study of every school and
  grade would hold that year), the district's current school year (the school-year
  session holding today, else the latest), every element of
  ``access.studies.DATA_ELEMENTS``, birth dates as the year, from today for 180 days;
  submits it; the admin approves it;
- ``reports.extracts.extract_build`` builds its extract here, synchronously, as the
  Celery task does (in the district's tenant scope): its wall time, and its peak resident
  memory sampled every 20 ms (``bench_providers.sampled_memory``, as ``bench_reports``
  measures its builds: the process's RSS at its peak, and its growth over the start);
- the release report is printed (students in the population, records released and
  suppressed, k required and achieved, information loss, the generalisations chosen,
  ℓ-diversity per outcome column), with the zip's size and a table of targets.

The extract's zip and the proposal's IRB letter are deleted from storage before the
rollback. A build still running after ``--time-limit`` seconds (10 times the target by
default) is stopped and reported as such. A missed target does not fail the command.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from access import studies
from access.forms import GRADE_CHOICES
from access.management.commands.bench_providers import PeakMemory, sampled_memory
from access.models import Researcher, Study, StudyVersion
from access.study_forms import StudyProposalForm
from accounts.models import User
from records.models import AcademicSession, District, School
from records.tenancy import tenant_scope
from reports.extracts import extract_build
from reports.management.commands.bench_reports import Stopped, time_limit
from reports.models import StudyExtract

SECONDS_TARGET = 120
MEMORY_MB_TARGET = 1024
TIME_LIMIT = 10 * SECONDS_TARGET
STUDY_DAYS = 180
BENCH_DISTRICT = "bench"
SEED_COMMAND = f"manage.py seed_demo --district {BENCH_DISTRICT} --students 200000 --seed 1"
TITLE = "Benchmark: attendance and achievement"
USERNAME_PREFIX = "bench-extract-"
IRB_LETTER = b"%PDF-1.4 the benchmark's IRB approval letter"


def current_school_year(district: District) -> AcademicSession:
    """The district's school-year session holding today, else its latest."""
    years = AcademicSession.unscoped.filter(
        district=district, kind=AcademicSession.Kind.SCHOOL_YEAR
    ).order_by("-end_date", "-pk")
    today = district.today()
    current = years.filter(start_date__lte=today, end_date__gte=today).first() or years.first()
    if current is None:
        raise CommandError(f"District '{district.slug}' has no school year: {SEED_COMMAND}")
    return current


def _user(district: District, role: str) -> User:
    user = User(
        username=f"{USERNAME_PREFIX}{role}-{secrets.token_hex(4)}@{district.slug}",
        first_name="Benchmark",
        last_name=role.capitalize(),
        district=district,
    )
    user.set_unusable_password()
    user.save()
    return user


def approved_study(district: District, researcher: User, admin: User) -> Study:
    """A study naming every school, grade and element, through the proposal form (its
    checks included), submitted and approved."""
    study = studies.study_propose(user=researcher, title=TITLE)
    version = studies.latest_version(study)
    today = district.today()
    schools = [
        str(pk) for pk in School.unscoped.filter(district=district).values_list("pk", flat=True)
    ]
    year = current_school_year(district).school_year
    # The grades present: those of the students a study of every grade would hold, asked
    # of access/ (nothing outside it queries a student table, tests/test_architecture.py).
    every_grade = StudyVersion(
        district_id=district.pk,
        school_ids=schools,
        grade_levels=[code for code, _ in GRADE_CHOICES],
        school_years=[year],
    )
    present = set(
        studies.study_population(every_grade)
        .order_by()
        .values_list("student__grade_level", flat=True)
        .distinct()
    )
    data = {
        "title": TITLE,
        "principal_investigator": "Dr. Bench Mark",
        "institution": "Benchmark University",
        "purpose": "How long an extract of the whole district takes to build.",
        "research_questions": "Does attendance predict assessment levels?",
        "legal_basis": "studies",
        "school_ids": schools,
        "grade_levels": [code for code, _ in GRADE_CHOICES if code in present],
        "school_years": [str(year)],
        "birth_dates_as": "birth_year",
        "irb_number": "IRB-BENCH-1",
        "irb_expires_on": (today + timedelta(days=STUDY_DAYS + 30)).isoformat(),
        "researcher_ids": [str(researcher.pk)],
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=STUDY_DAYS)).isoformat(),
        "destroy_by": (today + timedelta(days=STUDY_DAYS + 60)).isoformat(),
        "min_cell_size": str(max(10, district.min_cell_size)),
        **{f"element_{element.code}": "1" for element in studies.DATA_ELEMENTS},
    }
    form = StudyProposalForm(
        data,
        {"irb_file": SimpleUploadedFile("irb.pdf", IRB_LETTER)},
        version=version,
        submitting=True,
    )
    if not form.is_valid():
        raise CommandError(f"The benchmark's proposal was refused: {form.errors.as_json()}")
    form.apply()
    studies.version_submit(version=version, actor=researcher)
    studies.version_decide(
        version=version, actor=admin, decision="approve", reason="The benchmark's own study."
    )
    study.refresh_from_db()
    return study


def delete_files(study: Study | None) -> int:
    """The files the run wrote: each extract's zip (also one a stopped build saved before
    it recorded it: found by its name's prefix) and the IRB letter."""
    if study is None:
        return 0
    irb = StudyVersion._meta.get_field("irb_file").storage
    names = [
        (irb, name)
        for name in StudyVersion.unscoped.filter(study=study).values_list("irb_file", flat=True)
        if name
    ]
    field = StudyExtract._meta.get_field("file")
    folder, prefix = field.upload_to.rstrip("/"), f"study-{study.pk}-extract-"
    with contextlib.suppress(FileNotFoundError):
        zips = [name for name in field.storage.listdir(folder)[1] if name.startswith(prefix)]
        names += [(field.storage, f"{folder}/{name}") for name in zips]
    deleted = 0
    for storage, name in names:
        if storage.exists(name):
            storage.delete(name)
            deleted += 1
    return deleted


class Command(BaseCommand):
    help = (
        "Benchmark a de-identified research extract of a seeded district: a study of every "
        "school, grade and data element over the current school year is proposed, "
        "approved and its extract built (wall time, peak memory, k achieved, records "
        "suppressed, information loss), all in one transaction rolled back at the end."
    )

    def add_arguments(self, parser):
        parser.add_argument("--district", default=BENCH_DISTRICT)
        parser.add_argument(
            "--k",
            type=int,
            default=None,
            help="the k to reach (default: the district's own, 10 unless changed); set "
            "for the run only",
        )
        parser.add_argument(
            "--time-limit",
            type=float,
            default=TIME_LIMIT,
            help=f"stop the build past this many seconds (default {TIME_LIMIT}; 0: no limit)",
        )

    def handle(self, *args, district, k, time_limit, **options):
        the_district = District.objects.filter(slug=district).first()
        if the_district is None:
            raise CommandError(f"No district '{district}': {SEED_COMMAND} (make bench does).")
        if k is not None and k < 2:
            raise CommandError("--k must be at least 2.")
        with tenant_scope(the_district):
            with transaction.atomic():
                try:
                    built, seconds, memory = self.bench(the_district, k, time_limit)
                finally:
                    transaction.set_rollback(True)
            left = Study.unscoped.filter(district=the_district, title=TITLE).count()
            left += User.objects.filter(username__startswith=USERNAME_PREFIX).count()
        self.stdout.write(
            "Rolled back: "
            + ("no study, extract, researcher or access-log event is left" if not left
               else f"{left} of the benchmark's studies and users are still there")
        )  # fmt: skip
        self.print_targets(built, seconds, memory)

    def bench(
        self, district: District, k: int | None, limit: float
    ) -> tuple[StudyExtract | None, float, PeakMemory]:
        if k is not None:
            District.objects.filter(pk=district.pk).update(k_anonymity=k)
            district.k_anonymity = k
        admin, researcher = _user(district, "admin"), _user(district, "researcher")
        Researcher.unscoped.create(
            district=district, user=researcher, institution="Benchmark University", invited_by=admin
        )
        study = None
        try:
            study = approved_study(district, researcher, admin)
            version = study.approved_version
            first, last = studies.study_window(version)
            self.stdout.write(
                f"Research extract, district '{district.slug}' as of {district.today()}: "
                f"{len(version.school_ids)} schools, grades {', '.join(version.grade_levels)}; "
                f"school year {first} to {last}; {len(version.data_elements)} data elements; "
                f"k {district.k_anonymity}; time limit "
                f"{f'{limit:g} s' if limit else 'none'}"
            )
            extract = StudyExtract.unscoped.create(
                district=district, study=study, version=version, requested_by=researcher
            )
            built, seconds, memory = self.timed_build(extract.pk, limit)
            self.report(built, seconds, memory)
            return built, seconds, memory
        finally:
            deleted = delete_files(study)
            self.stdout.write(f"\nFiles the run wrote, deleted from storage: {deleted}")

    def timed_build(
        self, extract_id: int, limit: float
    ) -> tuple[StudyExtract | None, float, PeakMemory]:
        built = None
        with sampled_memory() as memory:
            started = time.perf_counter()
            with contextlib.suppress(Stopped), time_limit(limit):
                built = extract_build(extract_id=extract_id)
            seconds = time.perf_counter() - started
        return built, seconds, memory

    def report(self, built: StudyExtract | None, seconds: float, memory: PeakMemory) -> None:
        peak = (
            f"peak memory {memory.peak:.0f} MB (RSS sampled every 20 ms; "
            f"+{memory.growth:.0f} MB over the start)"
        )
        if built is None:
            self.stdout.write(f"\nBuild STOPPED by the time limit after {seconds:.0f} s; {peak}")
            return
        self.stdout.write(f"\nBuilt in {seconds:.1f} s ({built.status}); {peak}")
        report = built.report
        if built.status == StudyExtract.Status.FAILED:
            raise CommandError(f"The extract failed: {built.error}")
        records = report["records"]
        self.stdout.write(
            f"  students in the population: {records:,}\n"
            f"  records released: {report['released']:,}\n"
            f"  records suppressed: {report['suppressed']:,} "
            f"({report['suppressed'] / max(records, 1):.2%})\n"
            f"  k required: {report['k_required']}; k achieved: {report['k_achieved']}\n"
            f"  information loss: {report['information_loss']:.4f} (0 = none, 1 = everything)"
        )
        self.stdout.write("  generalisations:")
        for column, level in report["generalisations"].items():
            self.stdout.write(f"    {column}: {level}")
        self.stdout.write("  ℓ-diversity (distinct values per released class, at least):")
        for column, value in report["l_diversity"].items():
            blanked = report["outcomes_blanked"].get(column, 0)
            self.stdout.write(f"    {column}: {value} ({blanked:,} values blanked)")
        if report.get("refused"):
            self.stdout.write(f"  NOT RELEASED: {report['refused']}")
        size = built.file.size if built.file else None
        self.stdout.write(
            "  zip: " + (f"{size / 2**20:.1f} MB ({size:,} bytes)" if size is not None else "none")
        )

    def print_targets(self, built: StudyExtract | None, seconds: float, memory: PeakMemory) -> None:
        stopped = built is None
        rows = [
            (f"extract built < {SECONDS_TARGET} s",
             f"> {seconds:.0f} s (stopped)" if stopped else f"{seconds:.1f} s",
             not stopped and seconds < SECONDS_TARGET),
            (f"peak memory < {MEMORY_MB_TARGET} MB", f"{memory.peak:.0f} MB",
             memory.peak < MEMORY_MB_TARGET),
        ]  # fmt: skip
        width = max(len(target) for target, _, _ in rows)
        self.stdout.write("\nTargets")
        for target, value, met in rows:
            self.stdout.write(f"  {target:<{width}}  {value:>16}  {'PASS' if met else 'MISS'}")
