"""Which students a viewer may see, as one SQL query, and what of each.

Every route is an indexed subquery filtered by the viewer's district at each step
(DESIGN section 4), OR-ed together on the student table. Nothing here loops over
students in Python to decide access; per-student category sets come from route
flags computed in the same query that fetches the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.http import Http404

from access.viewer import Route, Viewer, eligibility_cutoff
from records.models import (
    AcademicSession,
    CustodyRestriction,
    Enrollment,
    GuardianLink,
    SchoolMembership,
    Section,
    SectionTeacher,
    Student,
    active_on_q,
)


class StudentNotFound(Http404):
    """Raised alike for a student who does not exist and one the viewer may not see."""

    def __init__(self):
        super().__init__("No such student.")


@dataclass(frozen=True)
class Allowed:
    """What of one student a viewer may see."""

    categories: frozenset[str]
    program_kinds: frozenset[str] | None = None  # None: every program
    # Reached only by parties outside the family and the school (providers): the
    # directory then shows only designated fields the family has not opted out of.
    outside_school: bool = False

    def __or__(self, other: Allowed) -> Allowed:
        if not self.categories:
            return other
        if not other.categories:
            return self
        return Allowed(
            self.categories | other.categories,
            _union_program_kinds(self, other),
            outside_school=self.outside_school and other.outside_school,
        )


def _union_program_kinds(a: Allowed, b: Allowed) -> frozenset[str] | None:
    """Program kinds of two grants combined; ``None`` (all programs) wins."""
    if "programs" not in a.categories:
        return b.program_kinds
    if "programs" not in b.categories:
        return a.program_kinds
    if a.program_kinds is None or b.program_kinds is None:
        return None
    return a.program_kinds | b.program_kinds


NOTHING = Allowed(frozenset())


@dataclass(frozen=True)
class StudentAccess:
    student: Student
    allowed: Allowed

    @property
    def categories(self) -> frozenset[str]:
        return self.allowed.categories


def _in_district(model, viewer: Viewer) -> QuerySet:
    return model.unscoped.filter(district_id=viewer.district_id)


def _guardian_q(viewer: Viewer) -> Q:
    """Own children through a link with data access and no active all-records restriction.

    Once a child is an eligible student (99.5) the parent keeps access only while
    the district flags the child as a tax dependent.
    """
    today = viewer.today
    blocking_restriction = (
        _in_district(CustodyRestriction, viewer)
        .filter(guardian_link=OuterRef("pk"), scope=CustodyRestriction.Scope.ALL)
        .filter(active_on_q(today))
    )
    links = (
        _in_district(GuardianLink, viewer)
        .filter(guardian=viewer.user, has_data_access=True)
        .filter(active_on_q(today))
        .exclude(Exists(blocking_restriction))
    )
    cutoff = eligibility_cutoff(viewer.district, today)
    not_eligible = Q(is_postsecondary=False) & (
        Q(birth_date__isnull=True) | Q(birth_date__gt=cutoff)
    )
    return Q(pk__in=links.values("student_id")) & (not_eligible | Q(is_tax_dependent=True))


def _teacher_q(viewer: Viewer) -> Q:
    """Students actively enrolled in a section the viewer teaches, in a current term."""
    today = viewer.today
    current_terms = _in_district(AcademicSession, viewer).filter(
        start_date__lte=today, end_date__gte=today
    )
    taught = (
        _in_district(SectionTeacher, viewer).filter(teacher=viewer.user).filter(active_on_q(today))
    )
    sections = _in_district(Section, viewer).filter(
        pk__in=taught.values("section_id"), term_id__in=current_terms.values("pk")
    )
    enrolled = (
        _in_district(Enrollment, viewer)
        .filter(section_id__in=sections.values("pk"))
        .filter(active_on_q(today))
    )
    return Q(pk__in=enrolled.values("student_id"))


def _school_staff_q(viewer: Viewer, route: Route) -> Q:
    """Students whose current school membership is one of the route's schools."""
    members = (
        _in_district(SchoolMembership, viewer)
        .filter(school_id__in=sorted(route.school_ids))
        .filter(active_on_q(viewer.today))
    )
    return Q(pk__in=members.values("student_id"))


def route_q(viewer: Viewer, route: Route) -> Q:
    if route.kind == "guardian":
        return _guardian_q(viewer)
    if route.kind == "teacher":
        return _teacher_q(viewer)
    if route.kind == "school_staff":
        return _school_staff_q(viewer, route)
    if route.kind == "eligible_student":
        return Q(pk=route.student_id)
    if route.kind == "district_admin":
        return Q(district_id=viewer.district_id)
    return Q(pk__in=[])  # an unknown route reaches nobody


def _flag(index: int) -> str:
    return f"_via_route_{index}"


def visible_students(
    viewer: Viewer,
    *,
    school_id: int | None = None,
    section_id: int | None = None,
    grade_level: str | None = None,
) -> QuerySet[Student]:
    """The students this viewer may see, optionally narrowed; one SQL query.

    With several routes each row is annotated with which routes reach it, so the
    categories of a page need no further query (see ``allowed_for``).
    """
    if not viewer.has_access:
        return Student.unscoped.none()
    reach = Q(pk__in=[])
    for route in viewer.routes:
        reach |= route_q(viewer, route)
    students = _in_district(Student, viewer).filter(reach)
    if len(viewer.routes) > 1:
        students = students.annotate(
            **{
                _flag(i): ExpressionWrapper(route_q(viewer, route), output_field=BooleanField())
                for i, route in enumerate(viewer.routes)
            }
        )
    if school_id is not None:
        members = _in_district(SchoolMembership, viewer).filter(school_id=school_id)
        students = students.filter(
            pk__in=members.filter(active_on_q(viewer.today)).values("student_id")
        )
    if section_id is not None:
        rostered = _in_district(Enrollment, viewer).filter(section_id=section_id)
        students = students.filter(
            pk__in=rostered.filter(active_on_q(viewer.today)).values("student_id")
        )
    if grade_level is not None:
        students = students.filter(grade_level=grade_level)
    return students.order_by("family_name", "given_name", "id")


def _routes_reaching(viewer: Viewer, student: Student) -> list[Route]:
    if len(viewer.routes) == 1:
        return list(viewer.routes)
    return [route for i, route in enumerate(viewer.routes) if getattr(student, _flag(i), False)]


def _restricted_categories(viewer: Viewer, student_ids: Iterable[int]) -> dict[int, set[str]]:
    """Categories hidden from this guardian by active category-scoped restrictions."""
    rows = (
        _in_district(CustodyRestriction, viewer)
        .filter(
            scope=CustodyRestriction.Scope.CATEGORIES,
            guardian_link__in=_in_district(GuardianLink, viewer).filter(
                guardian=viewer.user, student_id__in=list(student_ids)
            ),
        )
        .filter(active_on_q(viewer.today))
        .values_list("guardian_link__student_id", "categories")
    )
    hidden: dict[int, set[str]] = {}
    for student_id, categories in rows:
        hidden.setdefault(student_id, set()).update(categories or [])
    return hidden


def allowed_for(viewer: Viewer, students: list[Student]) -> dict[int, Allowed]:
    """Per student of a fetched page, the categories this viewer may see."""
    guardian = viewer.route("guardian")
    hidden = _restricted_categories(viewer, [s.pk for s in students]) if guardian else {}
    result = {}
    for student in students:
        allowed = NOTHING
        for route in _routes_reaching(viewer, student):
            categories = route.categories
            if route.kind == "guardian":
                categories = categories - hidden.get(student.pk, set())
            allowed = allowed | Allowed(categories, route.program_kinds, route.outside_school)
        result[student.pk] = allowed
    return result


def student_access_by_id(viewer: Viewer, student_id) -> StudentAccess:
    """The student with this id and what the viewer may see of them; 404 if not theirs."""
    try:
        student_id = int(student_id)
    except (TypeError, ValueError):
        raise StudentNotFound() from None
    student = visible_students(viewer).filter(pk=student_id).first()
    if student is None:
        raise StudentNotFound()
    allowed = allowed_for(viewer, [student])[student.pk]
    if not allowed.categories:
        raise StudentNotFound()
    return StudentAccess(student=student, allowed=allowed)
