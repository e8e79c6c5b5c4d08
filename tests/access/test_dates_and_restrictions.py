"""Access follows the data on every request: ended rosters, restrictions, birthdays."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from access.purposes import Purpose
from access.scoping import allowed_for, visible_students
from access.viewer import viewer_for
from records.models import CustodyRestriction, ProgramParticipation
from tests import factories as f


def names_visible(world, user, **viewer_kwargs) -> set[str]:
    by_pk = {s.pk: name for name, s in world.a.students.items()}
    return {by_pk[s.pk] for s in visible_students(viewer_for(user, **viewer_kwargs))}


def categories_of(user, student) -> frozenset[str]:
    viewer = viewer_for(user)
    [row] = [s for s in visible_students(viewer) if s.pk == student.pk]
    return allowed_for(viewer, [row])[student.pk].categories


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.mark.django_db
def test_an_ended_enrollment_removes_the_student_from_the_teacher_next_request(world, today):
    teacher = world.a.users["teacher"]
    assert names_visible(world, teacher) == {"own", "adult"}
    enrollment = world.a.enrollments["own"]
    enrollment.end_date = today - timedelta(days=1)
    enrollment.save()
    assert names_visible(world, teacher) == {"adult"}
    # The parent's and the principal's access do not depend on the roster.
    assert names_visible(world, world.a.users["parent"]) == {"own"}
    assert "own" in names_visible(world, world.a.users["principal"])


@pytest.mark.django_db
def test_an_enrollment_ending_today_still_counts_today(world, today):
    enrollment = world.a.enrollments["own"]
    enrollment.end_date = today
    enrollment.save()
    assert "own" in names_visible(world, world.a.users["teacher"])
    tomorrow = today + timedelta(days=1)
    assert "own" not in names_visible(world, world.a.users["teacher"], today=tomorrow)


@pytest.mark.django_db
def test_a_future_enrollment_does_not_count_yet(world, today):
    enrollment = world.a.enrollments["own"]
    enrollment.begin_date = today + timedelta(days=3)
    enrollment.save()
    assert names_visible(world, world.a.users["teacher"]) == {"adult"}


@pytest.mark.django_db
def test_a_teacher_taken_off_the_section_loses_the_class(world, today):
    assignment = world.a.section.teachers.model.unscoped.get(section=world.a.section)
    assignment.end_date = today - timedelta(days=1)
    assignment.save()
    assert names_visible(world, world.a.users["teacher"]) == set()


@pytest.mark.django_db
def test_a_finished_term_ends_the_teachers_access(world, today):
    term = world.a.term
    term.start_date, term.end_date = today - timedelta(days=200), today - timedelta(days=1)
    term.save()
    assert names_visible(world, world.a.users["teacher"]) == set()


@pytest.mark.django_db
def test_an_ended_school_membership_ends_the_principals_access(world, today):
    membership = world.a.students["schoolmate"].memberships.model.unscoped.get(
        student=world.a.students["schoolmate"]
    )
    membership.end_date = today - timedelta(days=1)
    membership.save()
    assert names_visible(world, world.a.users["principal"]) == {"own", "adult"}


@pytest.mark.django_db
def test_an_ended_role_ends_the_staff_access(world, today):
    membership = world.a.users["principal"].role_memberships.model.unscoped.get(
        user=world.a.users["principal"]
    )
    membership.end_date = today - timedelta(days=1)
    membership.save()
    assert names_visible(world, world.a.users["principal"]) == set()


@pytest.mark.django_db
def test_a_custody_restriction_on_all_records_removes_the_child_next_request(world, today):
    parent = world.a.users["parent"]
    restriction = f.CustodyRestrictionFactory(guardian_link=world.a.links["parent"])
    assert names_visible(world, parent) == set()
    restriction.end_date = today - timedelta(days=1)
    restriction.save()
    assert names_visible(world, parent) == {"own"}


@pytest.mark.django_db
def test_a_future_restriction_does_not_apply_yet(world, today):
    f.CustodyRestrictionFactory(
        guardian_link=world.a.links["parent"], begin_date=today + timedelta(days=5)
    )
    assert names_visible(world, world.a.users["parent"]) == {"own"}


@pytest.mark.django_db
def test_a_category_restriction_hides_just_those_categories(world):
    f.CustodyRestrictionFactory(
        guardian_link=world.a.links["parent"],
        scope=CustodyRestriction.Scope.CATEGORIES,
        categories=["contact", "transportation"],
    )
    categories = categories_of(world.a.users["parent"], world.a.students["own"])
    assert "contact" not in categories
    assert "transportation" not in categories
    assert {"directory", "grades", "health"} <= categories


@pytest.mark.django_db
def test_a_link_without_data_access_shows_nothing(world):
    link = world.a.links["parent"]
    link.has_data_access = False
    link.save()
    assert names_visible(world, world.a.users["parent"]) == set()


@pytest.mark.django_db
def test_a_tax_dependent_eligible_student_stays_visible_to_the_parent(world):
    adult = world.a.students["adult"]
    assert names_visible(world, world.a.users["adult_parent"]) == set()
    adult.is_tax_dependent = True
    adult.save()
    assert names_visible(world, world.a.users["adult_parent"]) == {"adult"}


@pytest.mark.django_db
def test_rights_pass_to_the_student_on_the_18th_birthday(world, today):
    student = world.a.students["own"]
    student.birth_date = today.replace(year=today.year - 18) + timedelta(days=1)
    student.user = f.UserFactory(district=world.a.district, username="turning18")
    student.save()
    parent, kid = world.a.users["parent"], student.user
    # The day before the birthday: the parent sees the child, the child has no route.
    assert names_visible(world, parent) == {"own"}
    assert names_visible(world, kid) == set()
    # On the birthday the rights move.
    birthday = today + timedelta(days=1)
    assert names_visible(world, parent, today=birthday) == set()
    assert names_visible(world, kid, today=birthday) == {"own"}


@pytest.mark.django_db
def test_a_postsecondary_student_holds_the_rights_at_any_age(world):
    student = world.a.students["own"]
    student.is_postsecondary = True
    student.user = f.UserFactory(district=world.a.district, username="dual-enrolled")
    student.save()
    assert names_visible(world, world.a.users["parent"]) == set()
    assert names_visible(world, student.user) == {"own"}


@pytest.mark.django_db
def test_a_leap_day_birthday_is_reached_on_the_first_of_march(world):
    from datetime import date

    from access.viewer import eligibility_cutoff

    district = world.a.district
    assert eligibility_cutoff(district, date(2026, 2, 28)) == date(2008, 2, 28)
    assert date(2008, 2, 29) > eligibility_cutoff(district, date(2026, 2, 28))
    assert date(2008, 2, 29) <= eligibility_cutoff(district, date(2026, 3, 1))


@pytest.mark.django_db
def test_teachers_see_accommodation_programs_only(world, api_as):
    student = world.a.students["own"]
    for program in ProgramParticipation.Program.values:
        ProgramParticipation.objects.model.unscoped.create(
            district=world.a.district, student=student, program=program, accommodations="x"
        )
    url = f"/api/v1/students/{student.pk}/?purpose=iep_meeting"
    as_teacher = api_as(world.a.users["teacher"]).get(url).json()
    assert {r["program"] for r in as_teacher["programs"]["records"]} == {
        "iep",
        "section_504",
        "english_learner",
    }
    as_principal = api_as(world.a.users["principal"]).get(url)
    assert {r["program"] for r in as_principal.json()["programs"]["records"]} == set(
        ProgramParticipation.Program.values
    )


@pytest.mark.django_db
def test_a_teacher_who_is_also_a_parent_sees_their_child_whole(world):
    teacher = world.a.users["teacher"]
    f.GuardianLinkFactory(student=world.a.students["adult"], guardian=teacher)
    world.a.students["adult"].is_tax_dependent = True
    world.a.students["adult"].save()
    viewer = viewer_for(teacher)
    students = list(visible_students(viewer))
    allowed = allowed_for(viewer, students, purpose=Purpose("iep_meeting"))
    assert allowed[world.a.students["own"].pk].categories == frozenset(
        {"directory", "contact", "enrollment", "attendance", "grades", "assessments", "programs"}
    )
    assert allowed[world.a.students["adult"].pk].program_kinds is None
    assert "health" in allowed[world.a.students["adult"].pk].categories


@pytest.mark.django_db
def test_a_principal_who_is_also_a_nurse_elsewhere_gets_health_only_there(world):
    from accounts.models import Role

    principal = world.a.users["principal"]
    f.RoleMembershipFactory(user=principal, role=Role.NURSE, school=world.a.school2)
    viewer = viewer_for(principal)
    students = list(visible_students(viewer))
    allowed = allowed_for(viewer, students, purpose=Purpose("health_follow_up"))
    assert "health" in allowed[world.a.students["elsewhere"].pk].categories
    assert "health" not in allowed[world.a.students["own"].pk].categories


@pytest.mark.django_db
def test_a_restriction_binds_the_person_whatever_route_they_read_by(world, api_as):
    teacher, own = world.a.users["teacher"], world.a.students["own"]
    link = f.GuardianLinkFactory(student=own, guardian=teacher, relationship="father")
    restriction = f.CustodyRestrictionFactory(
        guardian_link=link, scope=CustodyRestriction.Scope.CATEGORIES, categories=["contact"]
    )
    response = api_as(teacher).get(f"/api/v1/students/{own.pk}/")
    assert response.status_code == 200
    assert "contact" not in response.json()
    restriction.scope = CustodyRestriction.Scope.ALL
    restriction.save()
    assert api_as(teacher).get(f"/api/v1/students/{own.pk}/").status_code == 404
    assert names_visible(world, teacher) == {"adult"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "hidden, query",
    [
        ("directory", "school={school}"),
        ("directory", "grade=07"),
        ("enrollment", "section={section}"),
    ],
)
def test_filters_cannot_reveal_a_restricted_category(world, api_as, hidden, query):
    f.CustodyRestrictionFactory(
        guardian_link=world.a.links["parent"],
        scope=CustodyRestriction.Scope.CATEGORIES,
        categories=[hidden],
    )
    client = api_as(world.a.users["parent"])
    url = "/api/v1/students/?" + query.format(school=world.a.school1.pk, section=world.a.section.pk)
    assert client.get(url).json()["count"] == 0
    assert client.get("/api/v1/students/").json()["count"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "scope, categories",
    [
        ("categories", ["address"]),  # not a category name
        ("categories", ["Contact"]),
        ("categories", []),
        ("categories", "contact"),  # a string, not a list
    ],
)
def test_an_unreadable_restriction_hides_everything(world, scope, categories):
    f.CustodyRestrictionFactory(
        guardian_link=world.a.links["parent"], scope=scope, categories=categories
    )
    assert names_visible(world, world.a.users["parent"]) == set()


@pytest.mark.django_db
def test_a_teacher_whose_teacher_role_ended_loses_the_rosters(world, today):
    from accounts.models import Role, RoleMembership

    RoleMembership.unscoped.filter(user=world.a.users["teacher"], role=Role.TEACHER).update(
        end_date=today - timedelta(days=1)
    )
    assert names_visible(world, world.a.users["teacher"]) == set()


@pytest.mark.django_db
def test_a_teacher_role_at_another_school_does_not_open_this_schools_sections(world):
    from accounts.models import Role, RoleMembership

    RoleMembership.unscoped.filter(user=world.a.users["teacher"], role=Role.TEACHER).update(
        school=world.a.school2
    )
    assert names_visible(world, world.a.users["teacher"]) == set()


@pytest.mark.django_db
def test_the_database_refuses_an_unknown_restriction_scope(world):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        f.CustodyRestrictionFactory(guardian_link=world.a.links["parent"], scope="everything")
    from access.categories import ALL_CATEGORIES
    from access.viewer import restriction_hides

    assert restriction_hides("everything", ["contact"]) == ALL_CATEGORIES


@pytest.mark.django_db
def test_staff_see_which_guardians_are_restricted_and_families_do_not(world, api_as):
    f.CustodyRestrictionFactory(
        guardian_link=world.a.links["parent"],
        scope=CustodyRestriction.Scope.CATEGORIES,
        categories=["grades"],
    )
    own = world.a.students["own"]
    [as_staff] = (
        api_as(world.a.users["principal"])
        .get(f"/api/v1/students/{own.pk}/")
        .json()["contact"]["guardians"]
    )
    assert as_staff["custody_restriction"] is True
    assert as_staff["has_data_access"] is True
    [as_parent] = (
        api_as(world.a.users["parent"])
        .get(f"/api/v1/students/{own.pk}/")
        .json()["contact"]["guardians"]
    )
    assert "custody_restriction" not in as_parent
