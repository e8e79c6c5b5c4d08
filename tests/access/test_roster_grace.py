"""A district's optional grace period: teachers keep seeing a student for a few days
after the enrollment (or the term) ended; without one, access ends that day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils.formats import date_format

from access.classes import may_take_attendance, section_for_teacher, section_roster
from access.scoping import visible_students
from access.staff import why_visible
from access.viewer import viewer_for
from records import models as m
from tests.reasons import said

pytestmark = pytest.mark.django_db


def teacher_sees(world, student) -> bool:
    viewer = viewer_for(world.a.users["teacher"])
    return visible_students(viewer).filter(pk=student.pk).exists()


def end_enrollment(world, days_ago: int):
    today = viewer_for(world.a.users["teacher"]).today
    ended = today - timedelta(days=days_ago)
    m.Enrollment.unscoped.filter(pk=world.a.enrollments["own"].pk).update(end_date=ended)
    return ended


def grace(world, days: int):
    m.District.objects.filter(pk=world.a.district.pk).update(roster_grace_days=days)


def test_without_a_grace_period_access_ends_with_the_enrollment(world):
    end_enrollment(world, 1)
    assert not teacher_sees(world, world.a.students["own"])


def test_within_the_grace_period_the_teacher_still_sees_the_student_and_why(world):
    ended = end_enrollment(world, 2)
    grace(world, 5)
    own = world.a.students["own"]
    assert teacher_sees(world, own)
    (reason,) = said(why_visible(viewer_for(world.a.users["teacher"]), own))
    assert reason == (
        f"Was enrolled in your section {world.a.section.title} until {date_format(ended)}; "
        f"visible until {date_format(ended + timedelta(days=5))} under the district's grace period"
    )


def test_after_the_grace_period_access_ends(world):
    end_enrollment(world, 6)
    grace(world, 5)
    assert not teacher_sees(world, world.a.students["own"])


def test_a_past_terms_roster_shows_students_only_within_the_grace_period(world):
    today = viewer_for(world.a.users["teacher"]).today
    term = world.a.term
    m.AcademicSession.unscoped.filter(pk=term.pk).update(
        start_date=today - timedelta(days=90), end_date=today - timedelta(days=2)
    )
    m.Enrollment.unscoped.filter(section=world.a.section).update(end_date=today - timedelta(days=2))
    m.SectionTeacher.unscoped.filter(section=world.a.section).update(
        end_date=today - timedelta(days=2)
    )
    viewer = viewer_for(world.a.users["teacher"])
    section = section_for_teacher(viewer, world.a.section.pk)
    assert list(section_roster(viewer, section)) == []
    grace(world, 3)
    viewer = viewer_for(world.a.users["teacher"])
    section = section_for_teacher(viewer, world.a.section.pk)
    names = {s.family_name for s in section_roster(viewer, section)}
    assert names == {world.a.students["own"].family_name, world.a.students["adult"].family_name}
    # Read-only: the term has ended, so no attendance is taken, grace or not.
    assert not may_take_attendance(viewer, section, today - timedelta(days=3))


def test_the_grace_period_never_gives_a_student_who_joined_after_the_teacher_left(world):
    today = viewer_for(world.a.users["teacher"]).today
    grace(world, 10)
    m.SectionTeacher.unscoped.filter(section=world.a.section).update(
        end_date=today - timedelta(days=5)
    )
    newcomer = world.a.students["schoolmate"]
    m.Enrollment.unscoped.create(
        district=world.a.district,
        section=world.a.section,
        student=newcomer,
        begin_date=today - timedelta(days=1),
    )
    assert not teacher_sees(world, newcomer)
    assert teacher_sees(world, world.a.students["own"])  # taught while they were there


def test_a_school_officials_section_roster_keeps_no_grace(world):
    ended = end_enrollment(world, 2)
    grace(world, 5)
    viewer = viewer_for(world.a.users["principal"])
    on_roster = visible_students(viewer, section_id=world.a.section.pk)
    assert world.a.students["own"].pk not in set(on_roster.values_list("pk", flat=True))
    assert ended < viewer.today


def test_class_counts_leave_out_a_child_whose_name_a_restriction_hides(world):
    from access.classes import teacher_sections
    from tests import factories as f

    teacher, own = world.a.users["teacher"], world.a.students["own"]
    link = f.GuardianLinkFactory(student=own, guardian=teacher, relationship="father")
    f.CustodyRestrictionFactory(guardian_link=link, scope="categories", categories=["directory"])
    [section] = teacher_sections(viewer_for(teacher))
    assert section.student_count == 1  # only "adult": the roster shows no line for "own"
