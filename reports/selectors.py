"""The per-student facts a report build counts, read for the population ``access/``
gives it (``access.aggregates.report_population``). Nothing here decides who is counted;
it reads, for those students, only what the cells need."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Q, QuerySet

from records.models import (
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


@dataclass(frozen=True)
class Assessment:
    """The assessment a report card shows: the one most students sat in the year."""

    name: str
    first_day: date
    last_day: date


def report_facts(
    population: QuerySet[SchoolMembership], *, district_id: int, year_start: date, day: date
) -> tuple[list[Fact], Assessment | None]:
    """One fact per student of ``population``, and the assessment their levels are of."""
    schools: dict[int, tuple] = {}
    race_fields = ["student__hispanic_or_latino", *(f"student__{f}" for f in RACE_FLAGS)]
    rows = population.values_list(
        "student_id", "school_id", "student__grade_level", "student__sex", *race_fields
    )
    for student_id, school_id, grade, sex, *races in rows.iterator(chunk_size=5000):
        schools.setdefault(student_id, (school_id, grade, sex, races))
    counted = {"district_id": district_id, "student_id__in": population.values("student_id")}
    programs = _programs(counted, day)
    days = _attendance(counted, year_start, day)
    assessment = _assessment(counted, year_start, day)
    levels = _levels(counted, assessment) if assessment else {}
    facts = []
    for student_id, (school_id, grade, sex, races) in schools.items():
        groups = {_race(races), SEX_GROUPS.get(sex, "sex_not_reported")}
        held = programs.get(student_id, set())
        groups |= {inside if program in held else outside
                   for program, (inside, outside) in PROGRAM_GROUPS.items()}  # fmt: skip
        enrolled, absent = days.get(student_id, (0, 0))
        facts.append(
            Fact(school_id, grade, frozenset(groups), enrolled, absent,
                 levels.get(student_id, {}))
        )  # fmt: skip
    return facts, assessment


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


def _assessment(counted: dict, since: date, day: date) -> Assessment | None:
    results = AssessmentResult.unscoped.filter(
        administered_on__gte=since, administered_on__lte=day, **counted
    )
    by_name = results.values("assessment").annotate(n=Count("id"))
    sat = Counter(dict(by_name.values_list("assessment", "n")))
    if not sat:
        return None
    name = min(sat, key=lambda assessment: (-sat[assessment], assessment))
    days = results.filter(assessment=name).values_list("administered_on", flat=True)
    return Assessment(name, min(days), max(days))


def _levels(counted: dict, assessment: Assessment) -> dict[int, dict[str, int]]:
    """Each student's level per subject in ``assessment`` (the latest when sat twice)."""
    rows = (
        AssessmentResult.unscoped.filter(
            assessment=assessment.name, performance_level__isnull=False, **counted
        )
        .order_by("student_id", "subject", "administered_on")
        .values_list("student_id", "subject", "performance_level")
    )
    levels: dict[int, dict[str, int]] = defaultdict(dict)
    for student_id, subject, level in rows.iterator(chunk_size=5000):
        levels[student_id][subject] = level
    return levels
