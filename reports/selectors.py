"""The per-student facts a report build counts, read for the population ``access/``
gives it (``access.aggregates.report_population``). Nothing here decides who is counted;
it reads, for those students, only what the cells need."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from django.db.models import Count, F, Max, Min, Q, QuerySet

from records.models import (
    ENGLISH_PROFICIENCY_SUBJECT,
    AssessmentResult,
    AttendanceRecord,
    ProgramParticipation,
    SchoolMembership,
    Student,
    active_on_q,
)
from reports.cells import Fact

RACE_FLAGS = {
    "american_indian_or_alaska_native": "american_indian",
    "asian": "asian",
    "black_or_african_american": "black",
    "native_hawaiian_or_pacific_islander": "pacific_islander",
    "white": "white",
}
SEX_GROUPS = {
    Student.Sex.FEMALE: "female",
    Student.Sex.MALE: "male",
    Student.Sex.NONBINARY: "nonbinary",
}
# A program the student is in on the report's date, and the subgroup it puts them in
# (and the one for students not in it).
PROGRAM_GROUPS = {
    ProgramParticipation.Program.IEP: ("iep", "no_iep"),
    ProgramParticipation.Program.ENGLISH_LEARNER: ("english_learner", "not_english_learner"),
    ProgramParticipation.Program.FREE_REDUCED_LUNCH: (
        "economically_disadvantaged",
        "not_economically_disadvantaged",
    ),
    ProgramParticipation.Program.HOMELESS: ("homeless", "not_homeless"),
    ProgramParticipation.Program.FOSTER: ("foster", "not_foster"),
}
ABSENT = (AttendanceRecord.Status.ABSENT, AttendanceRecord.Status.EXCUSED)
# What a build reads of each student, and the record tables it reads: every one in a
# category ``access.aggregates.AGGREGATE_CATEGORIES`` allows (tests hold them to it).
STUDENT_COLUMNS = ("grade_level", "sex", "hispanic_or_latino", *RACE_FLAGS)
RECORD_TABLES_READ = (SchoolMembership, ProgramParticipation, AttendanceRecord, AssessmentResult)


@dataclass(frozen=True)
class Assessment:
    """The assessment a report card shows: the one most students sat in the year."""

    name: str
    first_day: date
    last_day: date


class ReportFacts(NamedTuple):
    facts: list[Fact]
    assessment: Assessment | None  # the one the levels are of
    # Whether the records hold English-proficiency levels of this school year or the one
    # before: the English learners' progress table is on the card then, whatever its
    # counts (were it there only when some learner had both, it would say so).
    english_proficiency_held: bool


def report_facts(
    population: QuerySet[SchoolMembership], *, district_id: int, year_start: date,
    year_before_start: date, day: date,
) -> ReportFacts:  # fmt: skip
    """One fact per student of ``population``, the assessment their levels are of, and
    whether English learners' progress can be reported. The school year runs from
    ``year_start`` to ``day``; the one before it from ``year_before_start``."""
    schools: dict[int, tuple] = {}
    columns = (f"student__{column}" for column in STUDENT_COLUMNS)
    rows = population.values_list("student_id", "school_id", *columns)
    for student_id, school_id, grade, sex, *races in rows.iterator(chunk_size=5000):
        schools.setdefault(student_id, (school_id, grade, sex, races))
    counted = {"district_id": district_id, "student_id__in": population.values("student_id")}
    programs = _programs(counted, day)
    days = _attendance(counted, year_start, day)
    this_year = AssessmentResult.unscoped.filter(
        administered_on__gte=year_start, administered_on__lte=day, **counted
    ).exclude(subject=ENGLISH_PROFICIENCY_SUBJECT)  # English learners' progress, below
    assessment = _assessment(this_year)
    english_learners = {student_id for student_id, held in programs.items()
                        if ProgramParticipation.Program.ENGLISH_LEARNER in held}  # fmt: skip
    proficiency = AssessmentResult.unscoped.filter(
        subject=ENGLISH_PROFICIENCY_SUBJECT, performance_level__isnull=False,
        administered_on__gte=year_before_start, administered_on__lte=day, **counted,
    )  # fmt: skip
    progress = _english_progress(proficiency, english_learners, year_start)
    levels = _levels(this_year.filter(assessment=assessment.name)) if assessment else {}
    facts = []
    for student_id, (school_id, grade, sex, races) in schools.items():
        groups = {_race(races), SEX_GROUPS.get(sex, "sex_not_reported")}
        held = programs.get(student_id, set())
        groups |= {inside if program in held else outside
                   for program, (inside, outside) in PROGRAM_GROUPS.items()}  # fmt: skip
        enrolled, absent = days.get(student_id, (0, 0))
        facts.append(
            Fact(school_id, grade, frozenset(groups), enrolled, absent,
                 levels.get(student_id, {}), progress.get(student_id))
        )  # fmt: skip
    return ReportFacts(facts, assessment, bool(progress) or proficiency.exists())


def _race(flags: list[bool]) -> str:
    """The federal reporting category: Hispanic or Latino of any race; else the one race
    reported, two or more, or not reported."""
    hispanic, *races = flags
    if hispanic:
        return "hispanic"
    reported = [group for group, flag in zip(RACE_FLAGS.values(), races, strict=True) if flag]
    if not reported:
        return "race_not_reported"
    return reported[0] if len(reported) == 1 else "two_or_more"


def _programs(counted: dict, day: date) -> dict[int, set[str]]:
    held: dict[int, set[str]] = defaultdict(set)
    rows = ProgramParticipation.unscoped.filter(active_on_q(day), **counted).values_list(
        "student_id", "program"
    )
    for student_id, program in rows.iterator(chunk_size=5000):
        held[student_id].add(program)
    return held


def _attendance(counted: dict, since: date, day: date) -> dict[int, tuple[int, int]]:
    """Days with a daily mark, and days absent (excused or not), per student."""
    rows = (
        AttendanceRecord.unscoped.filter(
            section__isnull=True, date__gte=since, date__lte=day, **counted
        )
        .values("student_id")
        .annotate(days=Count("id"), absent=Count("id", filter=Q(status__in=ABSENT)))
        .values_list("student_id", "days", "absent")
    )
    return {student_id: (days, absent) for student_id, days, absent in rows.iterator()}


def _english_progress(
    results: QuerySet[AssessmentResult], english_learners: set[int], year_start: date
) -> dict[int, bool]:
    """For each English learner with a level this school year and one on the same test
    the year before (``results`` span both): whether they made progress, a higher level.
    The latest result of each year counts (the higher of two on one day). A learner at
    the test's top level both years counts as not progressing: the levels alone cannot
    tell the top of every test's scale, and such learners usually leave the program."""
    rows = results.order_by("student_id", "administered_on", "performance_level").values_list(
        "student_id", "assessment", "administered_on", "performance_level"
    )
    before: dict[tuple[int, str], int] = {}
    now: dict[int, tuple[str, int]] = {}
    for student_id, assessment, administered_on, level in rows.iterator(chunk_size=5000):
        if student_id not in english_learners:
            continue
        if administered_on >= year_start:
            now[student_id] = (assessment, level)
        else:
            before[student_id, assessment] = level
    return {
        student_id: level > before[student_id, assessment]
        for student_id, (assessment, level) in now.items()
        if (student_id, assessment) in before
    }


def _assessment(results: QuerySet[AssessmentResult]) -> Assessment | None:
    """The assessment most of ``results`` are of (by name, on a tie), and its dates."""
    by_name = results.values("assessment").annotate(n=Count("id")).order_by("-n", "assessment")
    name = by_name.values_list("assessment", flat=True).first()
    if name is None:
        return None
    dates = results.filter(assessment=name).aggregate(first=Min("administered_on"),
                                                      last=Max("administered_on"))  # fmt: skip
    return Assessment(name, dates["first"], dates["last"])


def _levels(results: QuerySet[AssessmentResult]) -> dict[int, dict[str, int]]:
    """Each student's level per subject among ``results`` (the latest when sat twice)."""
    rows = (
        results.filter(performance_level__isnull=False)
        .order_by("student_id", "subject", "administered_on")
        .values_list("student_id", "subject", "performance_level")
    )
    levels: dict[int, dict[str, int]] = defaultdict(dict)
    for student_id, subject, level in rows.iterator(chunk_size=5000):
        levels[student_id][subject] = level
    return levels


# -- research extracts ------------------------------------------------------------------

# What an extract reads of each student: the quasi-identifiers before generalising (no
# name, no id, no exact birth date leaves this function: the year and an age alone).
EXTRACT_STUDENT_COLUMNS = ("grade_level", "birth_date", "sex", "hispanic_or_latino", *RACE_FLAGS)
# The subgroup a program's participants are in, as the extract names its column.
EXTRACT_PROGRAMS = {
    "iep": ProgramParticipation.Program.IEP,
    "english_learner": ProgramParticipation.Program.ENGLISH_LEARNER,
    "economically_disadvantaged": ProgramParticipation.Program.FREE_REDUCED_LUNCH,
    "homeless": ProgramParticipation.Program.HOMELESS,
}


@dataclass(frozen=True)
class ExtractRecords:
    """One entry per student, index-aligned: their internal id (for the pseudonym and the
    disclosure record, never written out), the quasi-identifiers and the outcomes."""

    student_ids: list[int]
    columns: dict[str, list]
    subjects: list[str]  # assessment subjects, one outcome column each


def extract_records(
    population: QuerySet[SchoolMembership], *, district_id: int, first: date, last: date,
    elements: frozenset[str], progress: Callable[[int], None] = lambda percent: None,
) -> ExtractRecords:  # fmt: skip
    """For each student of ``population`` (their latest membership in it), the elements
    asked for, between ``first`` and ``last``. Programs are those held on ``last``;
    attendance is the share of daily marks present; each subject's level is the latest.
    The birth date is read only to give the year and the age on ``last``. ``progress``
    hears how far the reading is (5 to 40 percent of the build)."""
    latest: dict[int, tuple] = {}
    newest_first = F("begin_date").desc(nulls_last=True)  # an undated membership last
    rows = population.order_by("student_id", newest_first, "-pk").values_list(
        "student_id", "school__name", "school__kind",
        *(f"student__{column}" for column in EXTRACT_STUDENT_COLUMNS),
    )  # fmt: skip
    for student_id, *values in rows.iterator(chunk_size=5000):
        latest.setdefault(student_id, values)
    student_ids = sorted(latest)
    progress(12)
    counted = {"district_id": district_id, "student_id__in": population.values("student_id")}
    columns: dict[str, list] = defaultdict(list)
    programs = _programs(counted, last) if elements & set(EXTRACT_PROGRAMS) else {}
    progress(16)
    days = _attendance(counted, first, last) if "attendance_rate" in elements else {}
    progress(32)
    levels: dict[int, dict[str, int]] = {}
    if "assessment_levels" in elements:
        results = AssessmentResult.unscoped.filter(
            administered_on__gte=first, administered_on__lte=last, **counted
        ).exclude(subject=ENGLISH_PROFICIENCY_SUBJECT)
        levels = _levels(results)
    subjects = sorted({subject for held in levels.values() for subject in held})
    for student_id in student_ids:
        school, kind, grade, birth_date, sex, *races = latest[student_id]
        columns["school"].append(school)
        columns["school_kind"].append(kind)
        columns["grade"].append(grade)
        columns["birth_year"].append(birth_date.year if birth_date else None)
        columns["age"].append(_age(birth_date, last))
        columns["sex"].append(SEX_GROUPS.get(sex, "not reported"))
        columns["race_ethnicity"].append(_race(races))
        held = programs.get(student_id, set())
        for name, program in EXTRACT_PROGRAMS.items():
            columns[name].append(program in held)
        enrolled, absent = days.get(student_id, (0, 0))
        columns["attendance_rate"].append(
            round(100 * (enrolled - absent) / enrolled) if enrolled else None
        )
        for subject in subjects:
            columns[f"level:{subject}"].append(levels.get(student_id, {}).get(subject))
    return ExtractRecords(student_ids, dict(columns), subjects)


def _age(birth_date: date | None, day: date) -> int | None:
    if birth_date is None:
        return None
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))
