"""The grant matrix: which students, and what of them, a provider's API client reaches.

Exact sets throughout: categories in and out; the whole district, chosen schools, chosen
sections and rule populations (and a roster change moving a student in and out); before
the start, after the end, revoked; an opted-out directory field; a sensitive category
without confirmation; staff shared or not; another district's provider.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from access.models import AccessEvent, Grant
from access.projection import project_students
from access.providers import ProviderScope, record_provider_reads, viewer_for_client
from access.viewer import NO_ACCESS
from records.models import DirectoryOptOut, SchoolMembership
from tests import factories as f

pytestmark = pytest.mark.django_db


def client_with(district, **grant):
    provider = f.ProviderFactory(district=district)
    grant_row = f.GrantFactory(agreement=f.AgreementFactory(provider=provider), **grant)
    return f.api_client_for(provider), grant_row


def reached(district, **grant) -> set[str]:
    api_client, _ = client_with(district, **grant)
    scope = ProviderScope(viewer_for_client(api_client))
    return {student.sourced_id for student in scope.students()}


def names(world_part, *keys) -> set[str]:
    return {world_part.students[key].sourced_id for key in keys}


ALL = ("own", "schoolmate", "elsewhere", "adult")


def test_a_whole_district_grant_reaches_every_current_student_of_its_district(world):
    assert reached(world.a.district) == names(world.a, *ALL)


def test_chosen_schools_reach_their_current_members_only(world):
    a = world.a
    assert reached(a.district, population="schools", school_ids=[a.school2.pk]) == names(
        a, "elsewhere"
    )
    assert reached(a.district, population="schools", school_ids=[a.school1.pk]) == names(
        a, "own", "schoolmate", "adult"
    )


def test_chosen_sections_reach_their_current_roster_and_stay_fixed(world):
    a = world.a
    grant = {"population": "sections", "section_ids": [a.section.pk]}
    assert reached(a.district, **grant) == names(a, "own", "adult")
    # A new section of the same course is not chosen: its students stay out.
    other = f.SectionFactory(district=a.district, school=a.school1, course=a.section.course)
    f.EnrollmentFactory(section=other, student=a.students["schoolmate"])
    assert reached(a.district, **grant) == names(a, "own", "adult")


def test_a_rule_follows_the_rosters(world):
    a = world.a
    title = a.section.course.title
    rule = {"population": "rules", "course_title_contains": title[2:].upper()}
    assert reached(a.district, **rule) == names(a, "own", "adult")
    # A roster change moves a student in: a new section of a matching course ...
    other = f.SectionFactory(district=a.district, school=a.school2, course=a.section.course)
    f.EnrollmentFactory(section=other, student=a.students["elsewhere"])
    assert reached(a.district, **rule) == names(a, "own", "adult", "elsewhere")
    # ... and out: an enrollment that ended yesterday.
    enrollment = a.enrollments["own"]
    enrollment.end_date = timezone.localdate() - timedelta(days=1)
    enrollment.save()
    assert reached(a.district, **rule) == names(a, "adult", "elsewhere")
    # Limited to some schools, the rule stops at them.
    assert reached(a.district, **rule, school_ids=[a.school2.pk]) == names(a, "elsewhere")


def test_a_grade_rule_reaches_those_grades_at_its_schools(world):
    a = world.a
    assert reached(a.district, population="rules", grade_levels=["12"]) == names(a, "adult")
    assert reached(
        a.district, population="rules", grade_levels=["07"], school_ids=[a.school1.pk]
    ) == names(a, "own", "schoolmate")


def test_a_student_who_left_the_school_is_out(world):
    a = world.a
    SchoolMembership.unscoped.filter(student=a.students["elsewhere"]).update(
        end_date=timezone.localdate() - timedelta(days=1)
    )
    assert reached(a.district) == names(a, "own", "schoolmate", "adult")


@pytest.mark.parametrize(
    "change",
    [
        {"starts_on": timezone.localdate() + timedelta(days=1)},
        {"ends_on": timezone.localdate() - timedelta(days=1), "starts_on": timezone.localdate()
         - timedelta(days=30)},
        {"status": Grant.Status.REVOKED},
        {"status": Grant.Status.DRAFT},
    ],
    ids=["before-start", "after-end", "revoked", "draft"],
)  # fmt: skip
def test_nothing_flows_outside_a_grants_dates_or_status(world, change):
    api_client, _ = client_with(world.a.district, **change)
    assert viewer_for_client(api_client) is NO_ACCESS


def test_revoking_takes_effect_on_the_next_request(world):
    api_client, grant = client_with(world.a.district)
    assert viewer_for_client(api_client).has_access
    Grant.unscoped.filter(pk=grant.pk).update(status=Grant.Status.REVOKED)
    assert viewer_for_client(api_client) is NO_ACCESS


def test_a_disabled_client_or_provider_reaches_nothing(world):
    api_client, _ = client_with(world.a.district)
    api_client.is_active = False
    assert viewer_for_client(api_client) is NO_ACCESS
    api_client.is_active = True
    api_client.provider.is_active = False
    assert viewer_for_client(api_client) is NO_ACCESS


def allowed_categories(district, **grant) -> set[frozenset[str]]:
    api_client, _ = client_with(district, **grant)
    scope = ProviderScope(viewer_for_client(api_client))
    return {allowed.categories for allowed in scope.allowed(scope.students()).values()}


def test_only_the_granted_categories_open(world):
    assert allowed_categories(world.a.district, categories=["directory", "contact"]) == {
        frozenset({"directory", "contact"})
    }
    assert allowed_categories(world.a.district, categories=["transportation"]) == {
        frozenset({"transportation"})
    }


def test_a_sensitive_category_opens_only_when_confirmed_with_a_reason(world):
    a = world.a
    unconfirmed = allowed_categories(a.district, categories=["directory", "health"])
    assert unconfirmed == {frozenset({"directory"})}
    no_reason = allowed_categories(
        a.district,
        categories=["directory", "health"],
        sensitive_confirmed_by=a.users["district_admin"],
    )
    assert no_reason == {frozenset({"directory"})}
    confirmed = allowed_categories(
        a.district,
        categories=["directory", "health"],
        sensitive_confirmed_by=a.users["district_admin"],
        sensitive_reason="Nurse services contractor: care plans",
    )
    assert confirmed == {frozenset({"directory", "health"})}


def test_a_directory_basis_carries_directory_information_only(world):
    assert allowed_categories(
        world.a.district, legal_basis="directory", categories=["directory", "contact"]
    ) == {frozenset({"directory"})}


def test_unknown_categories_open_nothing(world):
    assert allowed_categories(world.a.district, categories=["directory", "ssn"]) == {
        frozenset({"directory"})
    }


def test_an_opted_out_or_undesignated_directory_field_never_leaves(world):
    a = world.a
    own = a.students["own"]
    DirectoryOptOut.unscoped.create(district=a.district, student=own, field="family_name")
    api_client, _ = client_with(a.district, categories=["directory"])
    viewer = viewer_for_client(api_client)
    scope = ProviderScope(viewer)
    students = list(scope.students().order_by("pk"))
    projected = {item["sourced_id"]: item for item in project_students(
        viewer, students, scope.allowed(students))}  # fmt: skip
    # The factory's district designates given and family name, grade and school.
    assert set(projected[own.sourced_id]["directory"]) == {"given_name", "grade_level", "schools"}
    schoolmate = a.students["schoolmate"].sourced_id
    assert set(projected[schoolmate]["directory"]) == {
        "given_name",
        "family_name",
        "grade_level",
        "schools",
    }
    # Filtering or sorting by the field narrows only among students who released it.
    readable = scope.students().filter(scope.readable("directory", "family_name"))
    assert {s.sourced_id for s in readable} == names(a, "schoolmate", "elsewhere", "adult")
    assert not scope.students().filter(scope.readable("directory", "middle_name")).exists()
    assert not scope.students().filter(scope.readable("contact")).exists()


def test_staff_are_shared_only_when_ticked(world):
    a = world.a
    shared, _ = client_with(a.district, categories=["directory", "enrollment"], shares_staff=True)
    kept, _ = client_with(a.district, categories=["directory", "enrollment"])
    assert set(ProviderScope(viewer_for_client(shared)).teachers()) == {a.users["teacher"]}
    assert list(ProviderScope(viewer_for_client(kept)).teachers()) == []
    assert list(ProviderScope(viewer_for_client(kept)).teaching()) == []


def test_classes_and_enrollments_need_the_enrollment_category(world):
    a = world.a
    without, _ = client_with(a.district, categories=["directory"])
    scope = ProviderScope(viewer_for_client(without))
    assert list(scope.sections()) == [] and list(scope.enrollments()) == []
    with_enrollment, _ = client_with(a.district, categories=["directory", "enrollment"])
    scope = ProviderScope(viewer_for_client(with_enrollment))
    assert list(scope.sections()) == [a.section]
    assert {e.student.sourced_id for e in scope.enrollments()} == names(a, "own", "adult")


def test_another_districts_provider_reaches_only_its_own_district(world):
    a, b = world.a, world.b
    assert reached(b.district) == names(b, *ALL)
    # Ids of district a's schools and sections named in a grant of district b: nothing.
    assert reached(b.district, population="schools", school_ids=[a.school1.pk]) == set()
    assert reached(b.district, population="sections", section_ids=[a.section.pk]) == set()


def test_each_provider_read_is_one_disclosure_with_the_students_as_one_array(world):
    a = world.a
    api_client, grant = client_with(a.district, categories=["directory", "contact"])
    viewer = viewer_for_client(api_client)
    scope = ProviderScope(viewer)
    students = list(scope.students())
    record_provider_reads(viewer, scope.allowed(students), channel="OneRoster REST")
    event = AccessEvent.unscoped.get(district=a.district, grant=grant)
    assert event.is_disclosure and event.actor is None
    assert event.party == grant.provider.name
    assert event.legal_basis == "99.31(a)(1)(i)(B)"
    assert event.purpose == "student transportation (OneRoster REST)"
    assert sorted(event.categories) == ["contact", "directory"]
    assert sorted(event.disclosed_student_ids) == sorted(s.pk for s in students)
    assert not event.students.exists()  # no row per student
    own = a.students["own"].pk
    assert list(AccessEvent.unscoped.filter(disclosed_student_ids__holds_id=own)) == [event]
    from access.audit import verify_chain

    assert verify_chain(a.district.pk) is None
