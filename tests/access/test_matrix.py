"""The access matrix: role × student × district → the exact students and categories.

Asserts equality, never containment: a role that sees one student too many, or
one category too many, fails here.
"""

from __future__ import annotations

import pytest

from access.purposes import Purpose
from access.scoping import StudentNotFound, allowed_for, student_access_by_id, visible_students
from access.viewer import NO_ACCESS, viewer_for

SCHOOL1 = {"own", "schoolmate", "adult"}

# Spelled out, not imported from access.policy: the test must not agree with a bug.
ALL_CATEGORIES = frozenset(
    {
        "directory",
        "contact",
        "demographics",
        "identifiers",
        "enrollment",
        "attendance",
        "grades",
        "assessments",
        "programs",
        "health",
        "discipline",
        "transportation",
    }
)
ALL_BUT_HEALTH = ALL_CATEGORIES - {"health"}
TEACHER_CATEGORIES = frozenset(
    {"directory", "contact", "enrollment", "attendance", "grades", "assessments", "programs"}
)

# reader → {student name in their own district: categories}, for a reader who declared a
# purpose (access/purposes.py); without one see EXPECTED_WITHOUT_PURPOSE.
EXPECTED = {
    "district_admin": dict.fromkeys({"own", "schoolmate", "elsewhere", "adult"}, ALL_CATEGORIES),
    "principal": dict.fromkeys(SCHOOL1, ALL_BUT_HEALTH),
    "school_admin": dict.fromkeys(SCHOOL1, ALL_BUT_HEALTH),
    "counselor": dict.fromkeys(SCHOOL1, ALL_BUT_HEALTH),
    "special_ed": dict.fromkeys(SCHOOL1, ALL_BUT_HEALTH),
    "nurse": dict.fromkeys(SCHOOL1, ALL_CATEGORIES),
    "teacher": dict.fromkeys({"own", "adult"}, TEACHER_CATEGORIES),
    "parent": {"own": ALL_CATEGORIES},
    "eligible": {"adult": ALL_CATEGORIES},
    "adult_parent": {},
    "superuser": {},
}


# Staff roles see programs, health and discipline only for a declared purpose; a family
# reads its own record without one.
SENSITIVE = frozenset({"programs", "health", "discipline"})
FAMILY_READERS = {"parent", "eligible"}
EXPECTED_WITHOUT_PURPOSE = {
    reader: (
        students
        if reader in FAMILY_READERS
        else {name: cats - SENSITIVE for name, cats in students.items()}
    )
    for reader, students in EXPECTED.items()
}
IEP_MEETING = Purpose("iep_meeting")


def visible_map(user, purpose=IEP_MEETING) -> dict[int, frozenset[str]]:
    viewer = viewer_for(user)
    students = list(visible_students(viewer))
    allowed = allowed_for(viewer, students, purpose=purpose)
    return {s.pk: allowed[s.pk].categories for s in students}


@pytest.mark.django_db
@pytest.mark.parametrize("reader", sorted(EXPECTED))
@pytest.mark.parametrize("district", ["a", "b"])
def test_each_reader_sees_exactly_their_students_and_categories(world, reader, district):
    home = getattr(world, district)
    expected = {home.students[name].pk: cats for name, cats in EXPECTED[reader].items()}
    assert visible_map(home.users[reader]) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("reader", sorted(EXPECTED))
def test_without_a_purpose_staff_see_no_sensitive_category(world, reader):
    home = world.a
    expected = {
        home.students[name].pk: cats for name, cats in EXPECTED_WITHOUT_PURPOSE[reader].items()
    }
    assert visible_map(home.users[reader], purpose=None) == expected
    viewer = viewer_for(home.users[reader])
    students = list(visible_students(viewer))
    withheld = {pk: a.withheld for pk, a in allowed_for(viewer, students).items()}
    assert withheld == {
        pk: EXPECTED[reader][name] - EXPECTED_WITHOUT_PURPOSE[reader][name]
        for name, pk in ((n, home.students[n].pk) for n in EXPECTED[reader])
    }


@pytest.mark.django_db
@pytest.mark.parametrize("reader", sorted(EXPECTED))
def test_one_student_lookup_agrees_with_the_list_and_hides_the_rest_as_404(world, reader):
    viewer = viewer_for(world.a.users[reader])
    expected = {world.a.students[name].pk: cats for name, cats in EXPECTED[reader].items()}
    for student in world.all_students().values():
        if student.pk in expected:
            found = student_access_by_id(viewer, student.pk, purpose=IEP_MEETING)
            assert found.categories == expected[student.pk]
        else:
            with pytest.raises(StudentNotFound):
                student_access_by_id(viewer, student.pk)
    with pytest.raises(StudentNotFound):
        student_access_by_id(viewer, 10**12)


@pytest.mark.django_db
def test_outsider_anonymous_and_missing_viewers_see_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    assert viewer_for(world.outsider) is NO_ACCESS
    assert viewer_for(AnonymousUser()) is NO_ACCESS
    assert viewer_for(None) is NO_ACCESS
    assert list(visible_students(NO_ACCESS)) == []


@pytest.mark.django_db
def test_deactivated_staff_see_nothing(world):
    principal = world.a.users["principal"]
    principal.is_active = False
    principal.save()
    assert visible_map(principal) == {}
