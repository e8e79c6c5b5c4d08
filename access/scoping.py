"""Which students a viewer may see, as one SQL query, and what of each.

Each route is a subquery of student ids, filtered by the viewer's district at
every step (DESIGN section 4); several routes are joined by one UNION. Nothing
here loops over students in Python to decide access; which routes reach each
student of a page comes from flags computed in the query that fetches the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from access.categories import Category
from access.viewer import Route, Viewer, eligibility_cutoff
from records.models import (
    AcademicSession,
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
    """What of one student a viewer may see, and through which roles."""

    categories: frozenset[str]
    program_kinds: frozenset[str] | None = None  # None: every program
    # Reached only by parties outside the family and the school (providers): the
    # directory then shows only designated fields the family has not opted out of.
    outside_school: bool = False
    via: frozenset[str] = frozenset()  # the route labels that reach the student

    def __or__(self, other: Allowed) -> Allowed:
        if not self.categories:
            return other
        if not other.categories:
            return self
        return Allowed(
            self.categories | other.categories,
            _union_program_kinds(self, other),
            outside_school=self.outside_school and other.outside_school,
            via=self.via | other.via,
        )

    def without(self, hidden: frozenset[str]) -> Allowed:
        return Allowed(self.categories - hidden, self.program_kinds, self.outside_school, self.via)


def _union_program_kinds(a: Allowed, b: Allowed) -> frozenset[str] | None:
    """Program kinds of two grants combined; ``None`` (all programs) wins."""
    if Category.PROGRAMS not in a.categories:
        return b.program_kinds
    if Category.PROGRAMS not in b.categories:
        return a.program_kinds
    if a.program_kinds is None or b.program_kinds is None:
        return None
    return a.program_kinds | b.program_kinds


NOTHING = Allowed(frozenset())

# The category a list filter reveals: a reader may narrow only by what they may see.
FILTER_CATEGORIES = {
    "school_id": Category.DIRECTORY,
    "grade_level": Category.DIRECTORY,
    "section_id": Category.ENROLLMENT,
}


@dataclass(frozen=True)
class StudentAccess:
    student: Student
    allowed: Allowed

    @property
    def categories(self) -> frozenset[str]:
        return self.allowed.categories


def _in_district(model, viewer: Viewer) -> QuerySet:
    return model.unscoped.filter(district_id=viewer.district_id)


def _guardian_ids(viewer: Viewer) -> QuerySet:
    """Own children through a current link with data access.

    Once a child is an eligible student (99.5) the parent keeps access only while
    the district flags the child as a tax dependent. Custody restrictions apply to
    the person whatever the route (see ``visible_students``).
    """
    links = (
        _in_district(GuardianLink, viewer)
        .filter(guardian=viewer.user, has_data_access=True)
        .filter(active_on_q(viewer.today))
    )
    cutoff = eligibility_cutoff(viewer.district, viewer.today)
    not_eligible = Q(is_postsecondary=False) & (
        Q(birth_date__isnull=True) | Q(birth_date__gt=cutoff)
    )
    return (
        _in_district(Student, viewer)
        .filter(pk__in=links.values("student_id"))
        .filter(not_eligible | Q(is_tax_dependent=True))
        .values("pk")
    )


def roster_window_start(viewer: Viewer) -> date:
    """The first day a roster still counts: today, or earlier by the district's grace
    period, during which a teacher still sees students whose enrollment has ended."""
    return viewer.today - timedelta(days=viewer.district.roster_grace_days)


def overlapping_q(start: date, end: date, prefix: str = "") -> Q:
    """Rows whose ``begin_date``/``end_date`` (either open) overlap ``start``..``end``."""
    begin, finish = f"{prefix}begin_date", f"{prefix}end_date"
    return (Q(**{f"{begin}__isnull": True}) | Q(**{f"{begin}__lte": end})) & (
        Q(**{f"{finish}__isnull": True}) | Q(**{f"{finish}__gte": start})
    )


def teacher_enrollments(viewer: Viewer, route: Route) -> QuerySet[Enrollment]:
    """Enrollments in a section the viewer teaches, at a school where they hold the
    teacher role, in a term that includes today: what a teacher's reach is made of.

    With a district grace period the enrollment, the teaching row and the term need
    only to have lasted into the window (``roster_window_start``), and the enrollment
    must overlap the viewer's own teaching row, so a student who joined the section
    after the teacher left it is never theirs. Without one, both are active today.
    """
    today, since = viewer.today, roster_window_start(viewer)
    current_terms = _in_district(AcademicSession, viewer).filter(
        start_date__lte=today, end_date__gte=since
    )
    taught = (
        _in_district(SectionTeacher, viewer)
        .filter(teacher=viewer.user)
        .filter(overlapping_q(since, today))
    )
    sections = _in_district(Section, viewer).filter(
        pk__in=taught.values("section_id"),
        term_id__in=current_terms.values("pk"),
        school_id__in=sorted(route.school_ids),
    )
    enrollments = (
        _in_district(Enrollment, viewer)
        .filter(section_id__in=sections.values("pk"))
        .filter(overlapping_q(since, today))
    )
    if since == today:
        return enrollments  # both active today: they overlap
    alongside = taught.filter(
        Q(begin_date__isnull=True)
        | Q(begin_date__lte=Coalesce(OuterRef("end_date"), Value(today))),
        Q(end_date__isnull=True)
        | Q(end_date__gte=Coalesce(OuterRef("begin_date"), Value(date.min))),
        section_id=OuterRef("section_id"),
    )
    return enrollments.filter(Exists(alongside))


def substitute_enrollments(viewer: Viewer, route: Route) -> QuerySet[Enrollment]:
    """Active enrollments in the sections a substitute is granted today (no grace period:
    a substitute's access ends with the assignment)."""
    today = viewer.today
    current_terms = _in_district(AcademicSession, viewer).filter(
        start_date__lte=today, end_date__gte=today
    )
    sections = _in_district(Section, viewer).filter(
        pk__in=sorted(route.section_ids), term_id__in=current_terms.values("pk")
    )
    return (
        _in_district(Enrollment, viewer)
        .filter(section_id__in=sections.values("pk"))
        .filter(active_on_q(today))
    )


def _teacher_ids(viewer: Viewer, route: Route) -> QuerySet:
    return teacher_enrollments(viewer, route).values("student_id")


def staff_memberships(viewer: Viewer, route: Route) -> QuerySet[SchoolMembership]:
    """Current school memberships at one of the route's schools: a school official's reach."""
    return (
        _in_district(SchoolMembership, viewer)
        .filter(school_id__in=sorted(route.school_ids))
        .filter(active_on_q(viewer.today))
    )


def _school_staff_ids(viewer: Viewer, route: Route) -> QuerySet:
    return staff_memberships(viewer, route).values("student_id")


def route_student_ids(viewer: Viewer, route: Route) -> QuerySet:
    """The ids of the students one route reaches, as a subquery."""
    if route.kind == "guardian":
        return _guardian_ids(viewer)
    if route.kind == "teacher":
        return _teacher_ids(viewer, route)
    if route.kind == "school_staff":
        return _school_staff_ids(viewer, route)
    if route.kind == "substitute":
        return substitute_enrollments(viewer, route).values("student_id")
    if route.kind == "emergency":
        return _in_district(Student, viewer).filter(pk__in=sorted(route.student_ids)).values("pk")
    if route.kind == "eligible_student":
        return _in_district(Student, viewer).filter(pk=route.student_id).values("pk")
    if route.kind == "district_admin":
        return _in_district(Student, viewer).values("pk")
    return _in_district(Student, viewer).none().values("pk")  # an unknown route: nobody


def _flag(index: int) -> str:
    return f"_via_route_{index}"


def reach_is_bounded(viewer: Viewer) -> bool:
    """Whether the viewer reaches a bounded set (a school, rosters, a family), not a district."""
    return not any(route.kind == "district_admin" for route in viewer.routes)


def _reach(viewer: Viewer) -> Q:
    if any(route.kind == "district_admin" for route in viewer.routes):
        return Q()  # the whole district: already the base filter
    subqueries = [route_student_ids(viewer, route) for route in viewer.routes]
    reached = subqueries[0].union(*subqueries[1:]) if len(subqueries) > 1 else subqueries[0]
    return Q(pk__in=reached)


def visible_students(
    viewer: Viewer,
    *,
    school_id: int | None = None,
    section_id: int | None = None,
    grade_level: str | None = None,
    roster_since: date | None = None,
) -> QuerySet[Student]:
    """The students this viewer may see, optionally narrowed; one SQL query.

    With several routes each row is annotated with which routes reach it, so the
    categories of a page need no further query (see ``allowed_for``). A filter
    narrows only among students whose filtered category the viewer may see, so
    that filtering cannot reveal what the record would not.
    """
    if not viewer.has_access:
        return Student.unscoped.none()
    students = _in_district(Student, viewer).filter(_reach(viewer))
    if viewer.fully_restricted_student_ids:
        students = students.exclude(pk__in=viewer.fully_restricted_student_ids)
    if len(viewer.routes) > 1:
        students = students.annotate(
            **{
                _flag(i): ExpressionWrapper(
                    Q(pk__in=route_student_ids(viewer, route)), output_field=BooleanField()
                )
                for i, route in enumerate(viewer.routes)
            }
        )
    filters = {"school_id": school_id, "section_id": section_id, "grade_level": grade_level}
    for name, value in filters.items():
        if value is None:
            continue
        hidden = [s for s, h in viewer.restrictions.items() if FILTER_CATEGORIES[name] in h]
        if hidden:
            students = students.exclude(pk__in=hidden)
        students = _narrow(viewer, students, name, value, roster_since)
    return students.order_by("family_name", "given_name", "id")


def _narrow(viewer: Viewer, students: QuerySet, name: str, value, roster_since) -> QuerySet:
    if name == "school_id":
        members = _in_district(SchoolMembership, viewer).filter(school_id=value)
        return students.filter(
            pk__in=members.filter(active_on_q(viewer.today)).values("student_id")
        )
    if name == "section_id":
        # On the roster today; a teacher's own roster since ``roster_since`` (the
        # district's grace period, see ``roster_window_start``).
        rostered = _in_district(Enrollment, viewer).filter(section_id=value)
        window = overlapping_q(roster_since or viewer.today, viewer.today)
        return students.filter(pk__in=rostered.filter(window).values("student_id"))
    return students.filter(grade_level=value)


class _CountOf(Subquery):
    """The number of rows of a subquery, as an integer expression."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS counted)"
    output_field = IntegerField()


def roster_count(viewer: Viewer, *, roster_since: date | None = None) -> Subquery:
    """Per section (``OuterRef("pk")``): how many students its roster shows this viewer,
    as an expression to annotate sections with; one query, whatever their number.

    The roster itself, counted: ``visible_students`` narrowed to the section, so only
    students the viewer may see today, on the roster as the roster decides it, and none
    whose enrollment or name a restriction hides from the viewer (a roster line shows
    neither). The count cannot tell what the roster does not show. A teacher's class
    list and a school official's section list both count this way.
    """
    # Two levels out: the roster filter is a subquery of the students query.
    roster = visible_students(
        viewer, section_id=OuterRef(OuterRef("pk")), roster_since=roster_since
    )
    nameless = [s for s, h in viewer.restrictions.items() if Category.DIRECTORY in h]
    if nameless:
        roster = roster.exclude(pk__in=nameless)
    return _CountOf(roster.order_by().values("pk"))


def _routes_reaching(viewer: Viewer, student: Student) -> list[Route]:
    if len(viewer.routes) == 1:
        return list(viewer.routes)
    return [route for i, route in enumerate(viewer.routes) if getattr(student, _flag(i), False)]


def allowed_for(viewer: Viewer, students: list[Student]) -> dict[int, Allowed]:
    """Per student of a fetched page, the categories this viewer may see.

    The routes' grants are combined first; the person's custody restrictions are
    taken away last, so no route can give back what a court order hides.
    """
    result = {}
    for student in students:
        allowed = NOTHING
        for route in _routes_reaching(viewer, student):
            allowed = allowed | Allowed(
                route.categories,
                route.program_kinds,
                route.outside_school,
                frozenset({route.label}),
            )
        hidden = viewer.restrictions.get(student.pk)
        result[student.pk] = allowed.without(hidden) if hidden else allowed
    return result


def record_id(raw) -> int | None:
    """A primary key from a URL or form, or ``None`` when it cannot be one (so that a
    lookup answers 404, never 500)."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 2**63 else None


def one_by_id(rows: QuerySet, raw_id, not_found: type[Exception] = Http404):
    """The row of ``rows`` with this id; ``not_found`` alike for an id that cannot be
    one, a row that does not exist and one outside ``rows`` (a queue, a reach)."""
    row_id = record_id(raw_id)
    row = rows.filter(pk=row_id).first() if row_id is not None else None
    if row is None:
        raise not_found()
    return row


def student_access_by_id(viewer: Viewer, student_id) -> StudentAccess:
    """The student with this id and what the viewer may see of them; 404 if not theirs."""
    student = one_by_id(visible_students(viewer), student_id, StudentNotFound)
    allowed = allowed_for(viewer, [student])[student.pk]
    if not allowed.categories:
        raise StudentNotFound()
    return StudentAccess(student=student, allowed=allowed)
