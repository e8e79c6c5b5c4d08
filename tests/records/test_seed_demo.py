"""seed_demo: deterministic, every role populated, and its logins see what they say."""

from __future__ import annotations

import contextlib
import hashlib
import random
from datetime import date

import pytest
from django.core.management import call_command

from access.scoping import allowed_for, visible_students
from access.viewer import viewer_for
from accounts.models import Role, RoleMembership, User
from records import models as m
from records.seeding import SCHOOL_BASES, _DistrictSeeder, seed_demo
from tests.roles import as_owner

AS_OF = date(2026, 11, 18)  # a school day in the fall term


def fingerprint(district) -> str:
    rows = m.Student.unscoped.filter(district=district).order_by("sourced_id")
    text = "|".join(
        f"{s.sourced_id},{s.given_name},{s.family_name},{s.birth_date},{s.grade_level}"
        for s in rows
    )
    attendance = m.AttendanceRecord.unscoped.filter(district=district).count()
    results = m.AssessmentResult.unscoped.filter(district=district).order_by(
        "student__sourced_id", "subject", "administered_on"
    )
    levels = "|".join(
        f"{r.student.sourced_id},{r.subject},{r.performance_level},{r.administered_on}"
        for r in results.select_related("student")
    )
    return hashlib.sha256(f"{text}#{attendance}#{levels}".encode()).hexdigest()


@pytest.fixture
def seeded(db):
    [result] = seed_demo(students=150, seed=7, as_of=AS_OF, district="demo")
    return result


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_district(seeded):
    first = fingerprint(seeded.district)
    with as_owner():  # a reset deletes the access log: the owner's to do
        [again] = seed_demo(students=150, seed=7, as_of=AS_OF, district="demo", reset=True)
    assert fingerprint(again.district) == first
    [other] = seed_demo(students=150, seed=8, as_of=AS_OF, district="other")
    assert fingerprint(other.district) != first


@pytest.mark.django_db
def test_every_role_and_every_record_table_is_populated(seeded):
    district = seeded.district
    # English learners' proficiency levels, last school year's and this one's: the report
    # cards' English learners' progress.
    proficiency = m.AssessmentResult.unscoped.filter(
        district=district, subject=m.ENGLISH_PROFICIENCY_SUBJECT
    )
    assert {r.administered_on < date(2026, 7, 1) for r in proficiency} == {True, False}
    roles = set(RoleMembership.unscoped.filter(district=district).values_list("role", flat=True))
    assert roles == set(Role.values)
    for model in (
        m.School, m.AcademicSession, m.Course, m.Section, m.Student, m.SchoolMembership,
        m.GuardianLink, m.CustodyRestriction, m.SectionTeacher, m.Enrollment,
        m.AttendanceRecord, m.Grade, m.AssessmentResult, m.ProgramParticipation,
        m.HealthRecord, m.TransportationAssignment, m.DirectoryOptOut,
    ):  # fmt: skip
        assert model.unscoped.filter(district=district).exists(), model
    kinds = set(m.School.unscoped.filter(district=district).values_list("kind", flat=True))
    assert {"elementary", "middle", "high"} <= kinds


@pytest.mark.django_db
@pytest.mark.parametrize("owner", [True, False], ids=["as owner", "as the app's role"])
def test_the_attendance_roll_up_counts_every_seeded_mark(owner):
    """As the owner (a superuser: make bench) the seeder writes marks with triggers off
    (the replica role); as the application's role, with them on. Either way their monthly
    roll-up is counted, month by month as the triggers keep it."""
    from django.db.models import Count, Q, Sum
    from django.db.models.functions import TruncMonth

    with as_owner() if owner else contextlib.nullcontext():
        [seeded] = seed_demo(students=60, seed=7, as_of=AS_OF, district="rolled")
    district = seeded.district
    marks = (
        m.AttendanceRecord.unscoped.filter(district=district)
        .annotate(month=TruncMonth("date"))
        .values_list("student_id", "month")
        .annotate(n=Count("pk"), attended=Count("pk", filter=Q(status__in=["present", "tardy"])))
    )
    months = (
        m.AttendanceMonth.unscoped.filter(district=district)
        .values_list("student_id", "month")
        .annotate(n=Sum("recorded"), attended=Sum("attended"))
    )
    assert marks and sorted(months) == sorted(marks)


@pytest.mark.django_db
def test_the_printed_logins_see_what_they_are_said_to(seeded):
    logins = seeded.logins
    assert set(logins) == {
        "district_admin", "principal", "school_admin", "counselor", "nurse",
        "special_education", "teacher", "parent_two_children", "parent_category_restricted",
        "parent_all_restricted", "eligible_student", "tax_dependent_parent",
    }  # fmt: skip

    def reach(label):
        user = User.objects.get(username=logins[label])
        viewer = viewer_for(user, today=AS_OF)
        students = list(visible_students(viewer))
        return students, allowed_for(viewer, students)

    assert reach("parent_all_restricted")[0] == []
    students, allowed = reach("parent_category_restricted")
    assert len(students) == 1 and "contact" not in allowed[students[0].pk].categories
    students, _ = reach("eligible_student")
    assert [s.user.username for s in students] == [logins["eligible_student"]]
    assert len(reach("parent_two_children")[0]) == 2
    assert len(reach("tax_dependent_parent")[0]) >= 1
    students, allowed = reach("teacher")
    assert students and all("health" not in a.categories for a in allowed.values())
    assert len(reach("district_admin")[0]) == 150


@pytest.mark.django_db
def test_an_existing_district_is_left_alone(seeded, capsys):
    before = fingerprint(seeded.district)
    call_command("seed_demo", "--as-of=2026-11-18", district="demo", students=150, seed=99)
    assert "exists" in capsys.readouterr().out
    assert fingerprint(m.District.objects.get(slug="demo")) == before


@pytest.mark.django_db
def test_a_district_can_be_seeded_with_a_given_number_of_schools():
    [result] = seed_demo(students=600, seed=7, as_of=AS_OF, district="few", schools=4)
    schools = m.School.unscoped.filter(district=result.district)
    assert schools.count() == 4
    assert set(schools.values_list("kind", flat=True)) == {"elementary", "middle", "high"}
    with pytest.raises(ValueError, match="fill 3 to 12 schools"):
        seed_demo(students=600, seed=7, as_of=AS_OF, district="many", schools=13)


def test_the_command_refuses_a_number_of_schools_out_of_range():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--schools must be between 3 and 12"):
        call_command("seed_demo", students=600, schools=2)


def test_more_schools_of_a_kind_than_names_are_numbered():
    """A district of a million students has more elementary schools than the seeder has
    names: each still gets one of its own ("No. 2"), rather than a search with no end."""
    seeder = _DistrictSeeder.__new__(_DistrictSeeder)
    seeder.slug, seeder.rng = "big", random.Random(1)
    seeder.pools = {"last_en": ["Smith", "Jones"]}
    wanted = len(SCHOOL_BASES[m.School.Kind.ELEMENTARY]) + 10
    names = seeder._school_names({m.School.Kind.ELEMENTARY: wanted})[m.School.Kind.ELEMENTARY]
    assert len(names) == len(set(names)) == wanted
    assert any(name.endswith(" Elementary No. 2") for name in names)
