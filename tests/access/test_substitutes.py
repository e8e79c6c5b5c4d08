"""Substitutes: a principal grants a section for a date range; access holds only while
both the guardian permission and the dates do, and the beat task removes the rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils.formats import date_format
from guardian.shortcuts import get_perms

from access.classes import may_take_attendance, section_for_teacher, teacher_sections
from access.errors import AccessDenied
from access.grants import substitute_revoke
from access.scoping import allowed_for, visible_students
from access.staff import who_can_see, why_visible
from access.substitutes import assign_substitute, end_assignment, end_finished_assignments
from access.tasks import end_substitute_assignments
from access.viewer import viewer_for
from accounts.models import Role, RoleMembership
from records import models as m
from tests import factories as f
from tests.reasons import said
from tests.records.test_classes import take_attendance

pytestmark = pytest.mark.django_db


@pytest.fixture
def sub(world):
    """A teacher from the district's pool (teacher role at the other school)."""
    user = f.UserFactory(username="a-sub", district=world.a.district, first_name="Sam")
    f.RoleMembershipFactory(user=user, role=Role.TEACHER, school=world.a.school2)
    return user


def today_of(world):
    return viewer_for(world.a.users["principal"]).today


def assign(world, sub, *, begin_offset=0, days=3, by="principal"):
    today = today_of(world)
    return assign_substitute(
        viewer_for(world.a.users[by]),
        world.a.section,
        who=sub.username,
        begin=today + timedelta(days=begin_offset),
        end=today + timedelta(days=begin_offset + days - 1),
    )


def reached(user, *, today=None) -> set[int]:
    return set(visible_students(viewer_for(user, today=today)).values_list("pk", flat=True))


def roster_ids(world) -> set[int]:
    return {world.a.students["own"].pk, world.a.students["adult"].pk}


def test_within_its_dates_a_substitute_sees_the_sections_roster_as_its_teacher_would(world, sub):
    assign(world, sub)
    assert reached(sub) == roster_ids(world)
    viewer = viewer_for(sub)
    students = list(visible_students(viewer))
    allowed = allowed_for(viewer, students)
    teacher = viewer_for(world.a.users["teacher"])
    teachers = allowed_for(teacher, list(visible_students(teacher)))
    for student in students:
        assert allowed[student.pk].categories == teachers[student.pk].categories
        assert allowed[student.pk].via == {"substitute"}
    assert world.a.students["schoolmate"].pk not in reached(sub)


def test_before_the_first_day_a_substitute_sees_nothing(world, sub):
    assign(world, sub, begin_offset=1)
    assert reached(sub) == set()
    assert not viewer_for(sub).substitute_section_ids


def test_after_the_last_day_the_dates_close_access_even_before_the_task_runs(world, sub):
    assignment = assign(world, sub, days=2)
    assert "substitute_section" in get_perms(sub, world.a.section)  # not removed yet
    the_day_after = assignment.end_date + timedelta(days=1)
    assert reached(sub, today=assignment.end_date) == roster_ids(world)
    assert reached(sub, today=the_day_after) == set()


def test_without_the_guardian_permission_the_dates_alone_grant_nothing(world, sub):
    assign(world, sub)
    substitute_revoke(substitute=sub, section=world.a.section)
    assert reached(sub) == set()


def test_a_substitute_without_a_teacher_role_sees_nothing(world, sub):
    assign(world, sub)
    RoleMembership.unscoped.filter(user=sub).update(end_date=today_of(world) - timedelta(days=1))
    assert reached(sub) == set()


def test_the_beat_task_ends_finished_assignments_and_removes_the_permission(world, sub):
    assignment = assign(world, sub, days=1)
    current = assign(world, f_sub(world, "a-sub2"), days=5)
    m.SubstituteAssignment.unscoped.filter(pk=assignment.pk).update(
        begin_date=today_of(world) - timedelta(days=3), end_date=today_of(world) - timedelta(days=1)
    )
    assert end_substitute_assignments() == 1
    assignment.refresh_from_db()
    assert assignment.ended_at is not None
    assert get_perms(sub, world.a.section) == []
    current.refresh_from_db()
    assert current.ended_at is None and get_perms(current.substitute, world.a.section)
    assert end_finished_assignments() == 0  # idempotent


def f_sub(world, username):
    user = f.UserFactory(username=username, district=world.a.district)
    f.RoleMembershipFactory(user=user, role=Role.TEACHER, school=world.a.school1)
    return user


def test_ending_an_assignment_early_closes_access_at_once(world, sub):
    assignment = assign(world, sub)
    end_assignment(viewer_for(world.a.users["principal"]), world.a.section, assignment.pk)
    assert reached(sub) == set()
    assert get_perms(sub, world.a.section) == []


def test_a_second_open_assignment_keeps_the_permission_when_one_ends(world, sub):
    first = assign(world, sub, days=2)
    assign(world, sub, begin_offset=3, days=2)
    end_assignment(viewer_for(world.a.users["principal"]), world.a.section, first.pk)
    assert get_perms(sub, world.a.section) == ["substitute_section"]


@pytest.mark.parametrize("by", ["principal", "school_admin", "district_admin"])
def test_principals_school_admins_and_district_admins_assign(world, sub, by):
    assert assign(world, sub, by=by).assigned_by == world.a.users[by]


@pytest.mark.parametrize("by", ["teacher", "counselor", "nurse", "parent"])
def test_nobody_else_assigns_substitutes(world, sub, by):
    with pytest.raises(AccessDenied):
        assign(world, sub, by=by)


def test_another_schools_principal_cannot_assign(world, sub):
    other = f.UserFactory(username="a-principal2", district=world.a.district)
    f.RoleMembershipFactory(user=other, role=Role.PRINCIPAL, school=world.a.school2)
    with pytest.raises(AccessDenied):
        assign_substitute(
            viewer_for(other),
            world.a.section,
            who=sub.username,
            begin=today_of(world),
            end=today_of(world),
        )


@pytest.mark.parametrize(
    ("who", "begin", "end", "field"),
    [
        ("", 0, 0, "substitute"),
        ("nobody-here", 0, 0, "substitute"),
        ("b-teacher", 0, 0, "substitute"),  # another district's teacher is unknown here
        ("a-nurse", 0, 0, "substitute"),  # no teacher role
        ("a-teacher", 0, 0, "substitute"),  # already teaches the class
        ("a-sub", -1, 0, "begin_date"),
        ("a-sub", 2, 1, "end_date"),
        ("a-sub", 0, 400, "end_date"),  # past the term's end
    ],
)
def test_bad_assignments_are_refused_with_a_reason_and_nothing_saved(
    world, sub, who, begin, end, field
):
    today = today_of(world)
    with pytest.raises(ValidationError) as refused:
        assign_substitute(
            viewer_for(world.a.users["principal"]),
            world.a.section,
            who=who,
            begin=today + timedelta(days=begin),
            end=today + timedelta(days=end),
        )
    assert field in refused.value.message_dict
    assert not m.SubstituteAssignment.unscoped.exists()
    assert get_perms(sub, world.a.section) == []


def test_a_substitute_finds_the_section_in_their_classes_and_takes_attendance(world, sub):
    assign(world, sub)
    viewer = viewer_for(sub)
    assert [s.pk for s in teacher_sections(viewer)] == [world.a.section.pk]
    section = section_for_teacher(viewer, world.a.section.pk)
    assert may_take_attendance(viewer, section, viewer.today)
    assert not may_take_attendance(viewer, section, viewer.today - timedelta(days=1))
    own = world.a.students["own"]
    take_attendance(viewer, section, viewer.today, {own.pk: ("absent", "")})
    assert m.AttendanceRecord.unscoped.get(student=own, section=section).status == "absent"
    with pytest.raises(ValidationError):
        take_attendance(
            viewer, section, viewer.today - timedelta(days=1), {own.pk: ("present", "")}
        )


def test_the_classes_pages_show_a_substitutes_section_and_no_other(world, sub):
    assign(world, sub)
    client = Client()
    client.force_login(sub)
    listing = client.get("/classes/").content.decode()
    assert world.a.section.course.title in listing and "Substitute" in listing
    roster = client.get(f"/classes/{world.a.section.pk}/").content.decode()
    assert "as a substitute until" in roster
    assert world.a.students["own"].family_name in roster


def test_why_and_who_name_the_substitute_assignment(world, sub):
    assignment = assign(world, sub)
    m.Section.unscoped.filter(pk=world.a.section.pk).update(title="Algebra I", period="3")
    own = world.a.students["own"]
    reasons = said(why_visible(viewer_for(sub), own))
    assert reasons == [f"Substitute for section Algebra I, period 3, until {fmt(assignment)}"]
    readers = who_can_see(viewer_for(world.a.users["principal"]), own)
    assert "a-sub" in {r["username"] for r in readers}
    end_assignment(viewer_for(world.a.users["principal"]), world.a.section, assignment.pk)
    readers = who_can_see(viewer_for(world.a.users["principal"]), own)
    assert "a-sub" not in {r["username"] for r in readers}


def fmt(assignment):
    return date_format(assignment.end_date)
