"""The facts a report build counts: who access/ puts in the population, and what of
each student the cells need — never health, discipline or identifiers."""

from __future__ import annotations

import datetime

import pytest

from access.aggregates import AGGREGATE_CATEGORIES, report_population
from access.categories import RECORD_TABLES, category_of_field
from records.models import AssessmentResult, AttendanceRecord, ProgramParticipation, Student
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


def facts_of(district):
    population = report_population(district, DAY)
    return report_facts(population, district_id=district.pk, year_start=YEAR_START, day=DAY)


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
    facts, _ = facts_of(district)
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
    (fact,), assessment = facts_of(district)
    assert fact.groups == {
        "two_or_more", "nonbinary", "iep", "not_english_learner",
        "not_economically_disadvantaged", "not_homeless", "not_foster",
    }  # fmt: skip
    assert (fact.days_enrolled, fact.days_absent) == (4, 2)
    assert fact.levels == {"Reading": 2, "Mathematics": 4}
    assert assessment.name == "Fall Benchmark"
    assert assessment.first_day == assessment.last_day == DAY - datetime.timedelta(days=30)
