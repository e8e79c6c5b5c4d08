"""The facts a report build counts: who access/ puts in the population, and what of
each student the cells need — never health, discipline or identifiers."""

from __future__ import annotations

import datetime

import pytest

from access.aggregates import AGGREGATE_CATEGORIES, report_population
from access.categories import RECORD_TABLES, category_of_field
from records.models import (
    ENGLISH_PROFICIENCY_SUBJECT,
    AssessmentResult,
    AttendanceRecord,
    ProgramParticipation,
    Student,
)
from reports.selectors import RECORD_TABLES_READ, STUDENT_COLUMNS, report_facts
from tests.factories import DistrictFactory, SchoolFactory, SchoolMembershipFactory

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 12, 4)
YEAR_START = datetime.date(2026, 8, 20)


def enrolled(school, **student):
    membership = SchoolMembershipFactory(
        student__district=school.district, school=school, **{
            f"student__{name}": value for name, value in student.items()
        },
    )  # fmt: skip
    return membership.student


YEAR_BEFORE_START = datetime.date(2025, 8, 21)


def facts_of(district):
    population = report_population(district, DAY)
    return report_facts(
        population, district_id=district.pk, year_start=YEAR_START,
        year_before_start=YEAR_BEFORE_START, day=DAY,
    )  # fmt: skip


def test_a_build_reads_only_what_public_aggregates_may_draw_on():
    assert not AGGREGATE_CATEGORIES & {"health", "discipline", "contact", "identifiers"}
    assert {category_of_field(column) for column in STUDENT_COLUMNS} <= AGGREGATE_CATEGORIES
    assert {RECORD_TABLES[table] for table in RECORD_TABLES_READ} <= AGGREGATE_CATEGORIES


def test_the_population_is_each_active_student_once_at_their_primary_school():
    district = DistrictFactory()
    first, second = SchoolFactory(district=district), SchoolFactory(district=district)
    student = enrolled(first)
    SchoolMembershipFactory(student=student, school=second, is_primary=False)
    enrolled(first, enrollment_status=Student.Status.WITHDRAWN)
    SchoolMembershipFactory(school=first, student__district=district, end_date=DAY.replace(day=1))
    SchoolMembershipFactory(student__district=DistrictFactory())  # another district
    facts, _, _ = facts_of(district)
    assert [(fact.school, fact.grade) for fact in facts] == [(first.pk, "07")]


def test_a_student_becomes_their_subgroups_days_and_levels():
    district = DistrictFactory()
    school = SchoolFactory(district=district)
    student = enrolled(school, sex="X", hispanic_or_latino=False, asian=True, white=True)
    add = {"district": district, "student": student}
    ProgramParticipation.unscoped.create(program="iep", **add)
    ProgramParticipation.unscoped.create(program="homeless", end_date=YEAR_START, **add)
    for offset, status in enumerate(["present", "absent", "excused", "tardy"]):
        AttendanceRecord.unscoped.create(
            date=YEAR_START + datetime.timedelta(days=offset), status=status, **add
        )
    AttendanceRecord.unscoped.create(date=YEAR_START - datetime.timedelta(days=1),
                                     status="absent", **add)  # fmt: skip
    for subject, level in (("Reading", 2), ("Mathematics", 4)):
        AssessmentResult.unscoped.create(
            assessment="Fall Benchmark", subject=subject, performance_level=level,
            administered_on=DAY - datetime.timedelta(days=30), **add,
        )  # fmt: skip
    AssessmentResult.unscoped.create(  # after the report's date: not counted
        assessment="Fall Benchmark", subject="Reading", performance_level=1,
        administered_on=DAY + datetime.timedelta(days=1), **add,
    )  # fmt: skip
    (fact,), assessment, _ = facts_of(district)
    assert fact.groups == {
        "two_or_more", "nonbinary", "iep", "not_english_learner",
        "not_economically_disadvantaged", "not_homeless", "not_foster",
    }  # fmt: skip
    assert (fact.days_enrolled, fact.days_absent) == (4, 2)
    assert fact.levels == {"Reading": 2, "Mathematics": 4}
    assert assessment.name == "Fall Benchmark"
    assert assessment.first_day == assessment.last_day == DAY - datetime.timedelta(days=30)


def test_english_learners_progress_compares_their_levels_a_year_apart():
    district = DistrictFactory()
    school = SchoolFactory(district=district)
    last_year, this_year = (
        YEAR_START - datetime.timedelta(days=200),
        DAY - datetime.timedelta(days=20),
    )

    def learner(*levels_by_day, english_learner=True, test="ACCESS for ELLs"):
        student = enrolled(school)
        add = {"district": district, "student": student}
        if english_learner:
            ProgramParticipation.unscoped.create(program="english_learner", **add)
        for day, level in levels_by_day:
            AssessmentResult.unscoped.create(
                assessment=test, subject=ENGLISH_PROFICIENCY_SUBJECT,
                performance_level=level, administered_on=day, **add,
            )  # fmt: skip
        return student.pk

    assert facts_of(district).english_proficiency_held is False
    rose = learner((last_year, 2), (this_year, 3))
    stayed = learner((last_year, 3), (this_year, 3))
    fell = learner((last_year, 4), (this_year, 2))
    at_the_top = learner((last_year, 6), (this_year, 6))
    latest_counts = learner((last_year, 1), (last_year + datetime.timedelta(days=5), 3),
                            (this_year, 3))  # fmt: skip
    same_day = learner((last_year, 2), (this_year, 2), (this_year, 4))  # the higher counts
    only_this_year = learner((this_year, 5))
    # The year before is the district's school year before this one, not 365 days.
    before_that = learner((YEAR_BEFORE_START - datetime.timedelta(days=1), 1), (this_year, 4))
    first_day_before = learner((YEAR_BEFORE_START, 1), (this_year, 4))
    another_test = learner((last_year, 1), (this_year, 4))
    AssessmentResult.unscoped.filter(student_id=another_test, administered_on=this_year).update(
        assessment="A different test"
    )
    not_a_learner = learner((last_year, 1), (this_year, 2), english_learner=False)
    facts, assessment, held = facts_of(district)
    progress = dict(zip(
        sorted(m.student_id for m in report_population(district, DAY)),
        [fact.english_progress for fact in facts], strict=True,
    ))  # fmt: skip
    assert progress[rose] is True and progress[same_day] is True
    assert progress[first_day_before] is True
    assert progress[stayed] is False and progress[fell] is False
    assert progress[at_the_top] is False  # the levels cannot tell a test's top
    assert progress[latest_counts] is False  # 3 then 3: the year before's latest is 3
    for outside in (only_this_year, before_that, another_test, not_a_learner):
        assert progress[outside] is None
    assert held is True
    assert assessment is None  # the English-proficiency test is never the card's test
