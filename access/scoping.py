"""Which students a viewer may see, as one SQL query, and what of each.

Each route is a subquery of student ids, filtered by the viewer's district at
every step (DESIGN section 4); several routes are joined by one UNION. Nothing
here loops over students in Python to decide access; which routes reach each
student of a page comes from flags computed in the query that fetches the page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from access.categories import Category
from access.viewer import Route, RouteKind, Viewer, eligibility_cutoff
from records.models import (
    AcademicSession,
    Course,
    DirectoryOptOut,
    Enrollment,
    GuardianLink,
    HeadCount,
    MultiSchoolStudent,
    School,
    SchoolMembership,
    Section,
    SectionTeacher,
    Student,
    active_on_q,
)

if TYPE_CHECKING:
    from access.purposes import Purpose


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
    # Categories the viewer's routes would open with a declared purpose, closed without one.
    withheld: frozenset[str] = frozenset()

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
        return replace(self, categories=self.categories - hidden, withheld=self.withheld - hidden)

    def narrowed(self, categories: frozenset[str]) -> Allowed:
        """What a page that shows only ``categories`` of the student shows of them."""
        return replace(self, categories=self.categories & categories, withheld=frozenset())


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
    taught = (
        _in_district(SectionTeacher, viewer)
        .filter(teacher=viewer.user)
        .filter(overlapping_q(since, today))
    )
    # The route's sections, fixed when the viewer was built (access/viewer.py).
    enrollments = (
        _in_district(Enrollment, viewer)
        .filter(section_id__in=sorted(route.section_ids))
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


def provider_sections(viewer: Viewer, route: Route) -> QuerySet[Section]:
    """The sections a provider's grant covers: every section of its schools (the whole
    district's), the chosen ones, or those its rule matches (as rosters change)."""
    population = route.population
    sections = _in_district(Section, viewer)
    if population.kind == "sections":
        return sections.filter(pk__in=list(population.section_ids))
    if population.school_ids:
        sections = sections.filter(school_id__in=list(population.school_ids))
    if population.kind == "rules" and population.course_title_contains:
        courses = _in_district(Course, viewer).filter(
            title__icontains=population.course_title_contains
        )
        sections = sections.filter(course_id__in=courses.values("pk"))
    elif population.kind not in {"district", "schools", "rules"}:
        return sections.none()
    return sections


# What a provider's grant reaches, by its population (``provider_reach``).
NOBODY = "nobody"
ENROLLED = "enrolled"  # current enrollments in the grant's sections
MEMBERS = "members"  # current members of the grant's schools (every school: school_ids None)


@dataclass(frozen=True)
class ProviderReach:
    kind: str
    school_ids: frozenset[int] | None = None
    grade_levels: tuple[str, ...] = ()


def provider_reach(route: Route) -> ProviderReach:
    """Whom a provider's grant covers today, by its population: the one reading of a
    population that the grant's students and their count (``reached_student_count``)
    both follow."""
    population = route.population
    if population is None:
        return ProviderReach(NOBODY)
    grades = tuple(population.grade_levels) if population.kind == "rules" else ()
    if population.kind == "sections" or population.course_title_contains:
        return ProviderReach(ENROLLED, grade_levels=grades)
    if population.kind in {"schools", "rules"} and population.school_ids:
        return ProviderReach(MEMBERS, frozenset(population.school_ids), grades)
    if population.kind in {"district", "rules"}:
        return ProviderReach(MEMBERS, None, grades)
    return ProviderReach(NOBODY)


def _provider_ids(viewer: Viewer, route: Route, among: Sequence[int] | None = None) -> QuerySet:
    """The students a provider's grant covers today: current members of its schools,
    current enrollments in its sections, narrowed by a rule's grades. ``among``: of these
    students only, each looked up by key in every table the reach reads."""
    reach = provider_reach(route)
    if reach.kind == NOBODY:
        return _in_district(Student, viewer).none().values("pk")
    today = viewer.today
    if reach.kind == ENROLLED:
        enrolled = _in_district(Enrollment, viewer).filter(active_on_q(today))
        enrolled = enrolled.filter(section_id__in=provider_sections(viewer, route).values("pk"))
        held = enrolled
    else:
        held = _in_district(SchoolMembership, viewer).filter(active_on_q(today))
        if reach.school_ids is not None:
            held = held.filter(school_id__in=sorted(reach.school_ids))
    students = _in_district(Student, viewer)
    if among is not None:
        held = held.filter(student_id__any=among)
        students = students.filter(pk__any=among)
    students = students.filter(pk__in=held.values("student_id"))
    if reach.grade_levels:
        students = students.filter(grade_level__in=list(reach.grade_levels))
    return students.values("pk")


_ROUTE_STUDENTS = {
    RouteKind.GUARDIAN: lambda viewer, route: _guardian_ids(viewer),
    RouteKind.TEACHER: lambda viewer, route: _teacher_ids(viewer, route),
    RouteKind.SCHOOL_STAFF: lambda viewer, route: _school_staff_ids(viewer, route),
    RouteKind.SUBSTITUTE: lambda viewer, route: substitute_enrollments(viewer, route).values(
        "student_id"
    ),
    RouteKind.EMERGENCY: lambda viewer, route: (
        _in_district(Student, viewer).filter(pk__in=sorted(route.student_ids)).values("pk")
    ),
    RouteKind.ELIGIBLE_STUDENT: lambda viewer, route: (
        _in_district(Student, viewer).filter(pk=route.student_id).values("pk")
    ),
    RouteKind.DISTRICT_ADMIN: lambda viewer, route: _in_district(Student, viewer).values("pk"),
    # RouteKind.PROVIDER: _provider_ids, which may be bounded to some students (``among``).
}


def route_student_ids(viewer: Viewer, route: Route, among: Sequence[int] | None = None) -> QuerySet:
    """The ids of the students one route reaches, as a subquery; an unknown route: nobody.
    ``among`` (a provider's route): of these students only, each looked up by key."""
    if route.kind == RouteKind.PROVIDER:
        return _provider_ids(viewer, route, among)
    students = _ROUTE_STUDENTS.get(route.kind)
    if students is None:
        return _in_district(Student, viewer).none().values("pk")
    return students(viewer, route)


def _flag(viewer: Viewer, index: int) -> str:
    """The name of the flag that says the viewer's ``index``th route reaches a row."""
    return f"_via_{viewer.row_token}_{index}"


def reach_is_bounded(viewer: Viewer) -> bool:
    """Whether the viewer reaches a bounded set (a school, rosters, a family), not a district."""
    return not viewer.has_route({RouteKind.DISTRICT_ADMIN})


# Routes that reach a handful of students (a roster, a family, a grant), not a school.
_SMALL_REACH = frozenset(RouteKind) - {
    RouteKind.SCHOOL_STAFF,
    RouteKind.DISTRICT_ADMIN,
    RouteKind.PROVIDER,
}


def _is_small(route: Route) -> bool:
    if route.kind == RouteKind.PROVIDER:
        return route.population is not None and route.population.kind == "sections"
    return route.kind in _SMALL_REACH


def _reach(viewer: Viewer, among: Sequence[int] | None) -> Q:
    if viewer.has_route({RouteKind.DISTRICT_ADMIN}):
        return Q()  # the whole district: already the base filter
    subqueries = [route_student_ids(viewer, route, among) for route in viewer.routes]
    reached = subqueries[0].union(*subqueries[1:]) if len(subqueries) > 1 else subqueries[0]
    if all(_is_small(route) for route in viewer.routes):
        # The few ids first, then the students by key: a plan that holds on a district
        # imported a minute ago, before the planner has statistics (records/lookups.py).
        return Q(pk__any=reached)
    return Q(pk__in=reached)


def _route_flags(viewer: Viewer, among: Sequence[int] | None) -> dict:
    """One boolean per route: whether it reaches the row. A lone route reaches every row
    the query returns (its reach is the query's filter), so its flag costs nothing."""
    if len(viewer.routes) == 1:
        return {_flag(viewer, 0): Value(True, output_field=BooleanField())}
    return {
        _flag(viewer, i): Value(True, output_field=BooleanField())
        if route.kind == RouteKind.DISTRICT_ADMIN
        else ExpressionWrapper(
            Q(pk__in=route_student_ids(viewer, route, among)), output_field=BooleanField()
        )
        for i, route in enumerate(viewer.routes)
    }


def reached_students(viewer: Viewer, among: Sequence[int] | None = None) -> QuerySet[Student]:
    """The one place that unions a viewer's routes: the students any route reaches, less
    those the person's restrictions hide entirely, each row flagged with the routes that
    reach it (what ``allowed_for`` reads). Unordered; one SQL query. ``among``: of these
    students (keys) only; a provider's reach then reads each table by their keys, so the
    plan is bounded by them whatever the planner knows of the tables.

    Every surface reads students from here, through ``visible_students`` or narrowed to
    some of the person's routes first (``Viewer.through``).
    """
    if not viewer.has_access:
        return Student.unscoped.none()
    students = _in_district(Student, viewer)
    if among is not None:
        students = students.filter(pk__any=among)
    students = students.filter(_reach(viewer, among))
    if viewer.restrictions:
        students = students.exclude(_hidden(viewer))
    return students.annotate(**_route_flags(viewer, among))


@dataclass(frozen=True)
class _WholeSchools:
    """A reach that is the current members of whole schools: these, or every school."""

    school_ids: frozenset[int] = frozenset()
    every_school: bool = False


def _whole_schools(viewer: Viewer) -> _WholeSchools | None:
    """The schools whose current members are ``reached_students(viewer)``, where every
    route is a provider's grant of whole schools (no grades); None for any other reach."""
    if not viewer.has_access or viewer.restrictions:
        return None
    schools: set[int] = set()
    for route in viewer.routes:
        if route.kind != RouteKind.PROVIDER:
            return None
        reach = provider_reach(route)
        if reach.kind == NOBODY:
            continue
        if reach.kind != MEMBERS or reach.grade_levels:
            return None
        if reach.school_ids is None:
            return _WholeSchools(every_school=True)
        schools |= reach.school_ids
    return _WholeSchools(frozenset(schools))


def reached_student_count(viewer: Viewer) -> int | None:
    """How many students ``reached_students(viewer)`` gives, without counting them, where
    every route is a provider's grant of whole schools' current members (no grades): the
    sum of the database's head counts (records/head_counts.py), flat in the district's
    size. None for any other reach, or where the database keeps no head counts: count
    ``reached_students`` then."""
    whole = _whole_schools(viewer)
    if whole is None:
        return None
    if not whole.every_school and not whole.school_ids:
        return 0
    schools = None if whole.every_school else whole.school_ids
    return current_members(viewer.district_id, viewer.today, schools)


# Walking the district's sourcedId index for a page of a reach pays where the reach
# holds at least this share of the district's current students: the walk reads about
# ``1 / share`` students for each one it keeps (``sourced_id_walk``).
WALK_SHARE = 0.25
# The first chunk's margin over the rows the share predicts, the largest chunk, and how
# many first chunks' worth of students a walk reads before it asks for the rest in order
# (students who left, or a reach bunched at one end of the order, can make the share a
# poor guide).
WALK_MARGIN = 1.25
WALK_MAX_CHUNK = 20_000
WALK_BUDGET = 8


@dataclass(frozen=True)
class _Chunk:
    """Some of the district's students, next in sourcedId order: their keys, and the
    first and last sourcedId (in the walk's direction)."""

    keys: list[int]
    first: str
    last: str


def reached_share(viewer: Viewer) -> float | None:
    """The share of the district's current students ``reached_students(viewer)`` gives,
    from the head counts (``reached_student_count``); None where they cannot say."""
    whole = _whole_schools(viewer)
    if whole is None or connection.vendor != "postgresql":
        return None
    if whole.every_school:
        return 1.0
    everyone = current_members(viewer.district_id, viewer.today, None)
    return (reached_student_count(viewer) or 0) / everyone if everyone else None


def sourced_id_walk(
    viewer: Viewer, *, start: str | None, descending: bool, wanted: int
) -> Iterator[QuerySet[Student]] | None:
    """The viewer's reach in sourcedId order from ``start`` (inclusive; None: from the
    first), part by part, each unordered: the reached of each chunk of the district's
    students in that order (``reached_students(viewer, among=chunk)``), each chunk twice
    the last; past the walk's budget, the rest of the reach. Where the reach is most of
    the district its next ``wanted`` students are in the first chunk or two, and that
    plan is the same whatever the planner believes of the reach: its estimate of a
    semi-join assumes districts alike, and for a mid-sized district beside a large one it
    expected a few thousand students where a grant reached all of them, and sorted them
    all rather than walk this index. None where the walk does not pay (a reach the head
    counts cannot size, or a small share of the district): query the reach in order."""
    share = reached_share(viewer)
    if share is None or share < WALK_SHARE:
        return None
    first = min(math.ceil(wanted / share * WALK_MARGIN) + 1, WALK_MAX_CHUNK)
    return _walk(viewer, start, descending, first)


def _walk(
    viewer: Viewer, start: str | None, descending: bool, first: int
) -> Iterator[QuerySet[Student]]:
    budget = first * WALK_BUDGET
    for chunk in _chunks_by_sourced_id(viewer, start, descending, first):
        # Within the chunk's own range: a student whose sourcedId changed since the
        # chunk was read belongs to another part, and is read there or not at all.
        low, high = (chunk.last, chunk.first) if descending else (chunk.first, chunk.last)
        part = reached_students(viewer, among=chunk.keys)
        yield part.filter(sourced_id__gte=low, sourced_id__lte=high)
        budget -= len(chunk.keys)
        if budget <= 0:
            beyond = "sourced_id__lt" if descending else "sourced_id__gt"
            yield reached_students(viewer).filter(**{beyond: chunk.last})
            return


def _chunks_by_sourced_id(
    viewer: Viewer, start: str | None, descending: bool, size: int
) -> Iterator[_Chunk]:
    students = _in_district(Student, viewer)
    order = "-sourced_id" if descending else "sourced_id"
    bound = "sourced_id__lte" if descending else "sourced_id__gte"
    while True:
        rows = students.filter(**{bound: start}) if start is not None else students
        chunk = list(rows.order_by(order).values_list("sourced_id", "pk")[:size])
        if chunk:
            yield _Chunk([pk for _, pk in chunk], chunk[0][0], chunk[-1][0])
        if len(chunk) < size:
            return
        start = chunk[-1][0]
        bound = "sourced_id__lt" if descending else "sourced_id__gt"
        size = min(size * 2, WALK_MAX_CHUNK)


def current_members(district_id: int, day: date, school_ids: Iterable[int] | None) -> int | None:
    """How many students hold a membership current on ``day`` of one of ``school_ids``
    (None: of any school), from the head counts (records/head_counts.py): the bands'
    memberships, less the repeats of students of two schools at once. None where the
    database keeps no head counts (SQLite): count instead."""
    if connection.vendor != "postgresql":
        return None
    bands = HeadCount.unscoped.filter(
        district_id=district_id, begin_date__lte=day, end_date__gte=day
    )
    # Each student of two schools at once, then their memberships by its key: the few rows
    # first, whatever the planner knows of the tables (none, just after an import).
    held = SchoolMembership.unscoped.filter(
        active_on_q(day), district_id=district_id, student_id=OuterRef("student_id")
    )
    if school_ids is not None:
        school_ids = sorted(school_ids)
        bands = bands.filter(school_id__in=school_ids)
        held = held.filter(school_id__in=school_ids)
    held = held.order_by().values("student_id").annotate(n=Count("pk")).values("n")
    several = MultiSchoolStudent.unscoped.filter(district_id=district_id).annotate(
        held=Coalesce(Subquery(held, output_field=IntegerField()), 0)
    )
    repeats = (
        several.filter(held__gt=1)
        .values("district_id")
        .annotate(repeats=Sum(F("held") - 1))
        .values("repeats")
    )
    # One statement: a membership written between two reads would move one, not both.
    counted = bands.aggregate(
        members=Coalesce(Sum("members"), 0)
        - Coalesce(Subquery(repeats, output_field=IntegerField()), 0)
    )
    return counted["members"]


def _hidden(viewer: Viewer) -> Q:
    """Students the person's restrictions leave nothing of: every route that reaches them
    gives only categories a court order hides. Such a student is not theirs on any
    surface, not even as an entry with no categories (which would tell that the child
    exists and is on their roster)."""
    hidden = Q(pk__in=[])
    for student_id, categories in viewer.restrictions.items():
        useful = [route for route in viewer.routes if route.categories - categories]
        if len(useful) == len(viewer.routes):
            continue  # every route still shows something
        if not useful:
            hidden |= Q(pk=student_id)
            continue
        subqueries = [route_student_ids(viewer, route) for route in useful]
        reached = subqueries[0].union(*subqueries[1:]) if len(subqueries) > 1 else subqueries[0]
        hidden |= Q(pk=student_id) & ~Q(pk__in=reached)
    return hidden


# The directory field a list filter reveals to a party outside the school.
RELEASED_FILTER_FIELDS = {"school_id": "school", "grade_level": "grade_level"}


def released(viewer: Viewer, field: str) -> Q:
    """Students whose directory ``field`` may go to a party outside the school (99.37): a
    field the district designates, of students whose family has not opted out of it."""
    if field not in viewer.district.directory_fields:
        return Q(pk__in=[])
    opted = _in_district(DirectoryOptOut, viewer).filter(
        field__in=[field, DirectoryOptOut.ALL_FIELDS]
    )
    return ~Q(pk__in=opted.values("student_id"))


def category_reach(viewer: Viewer, category: str, *, program: str | None = None) -> Q:
    """Students of whom the viewer may see ``category`` (and that program kind), as a
    filter on students: a search or filter may narrow only among them, so narrowing
    never reveals what the record would not."""
    routes = [
        route
        for route in viewer.routes
        if category in route.categories
        and (program is None or route.program_kinds is None or program in route.program_kinds)
    ]
    if not routes:
        return Q(pk__in=[])
    reach = Q()
    if len(routes) < len(viewer.routes):
        reach = Q(pk__in=reached_students(viewer.only(routes)).values("pk"))
    hidden = [pk for pk, h in viewer.restrictions.items() if category in h]
    return reach & ~Q(pk__in=hidden) if hidden else reach


def visible_students(
    viewer: Viewer,
    *,
    school_id: int | None = None,
    section_id: int | None = None,
    grade_level: str | None = None,
    roster_since: date | None = None,
) -> QuerySet[Student]:
    """The students this viewer may see, optionally narrowed, by name; one SQL query.

    Each row is flagged with the routes that reach it, so the categories of a page need
    no further query (see ``allowed_for``). A filter narrows only among students whose
    filtered category the viewer may see, so that filtering cannot reveal what the
    record would not.
    """
    if not viewer.has_access:
        return Student.unscoped.none()
    students = reached_students(viewer)
    filters = {"school_id": school_id, "section_id": section_id, "grade_level": grade_level}
    for name, value in filters.items():
        if value is None:
            continue
        students = students.filter(category_reach(viewer, FILTER_CATEGORIES[name]))
        if viewer.has_route({RouteKind.PROVIDER}) and name in RELEASED_FILTER_FIELDS:
            students = students.filter(released(viewer, RELEASED_FILTER_FIELDS[name]))
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
        if viewer.has_route({RouteKind.PROVIDER}):
            # A provider narrows only by the classes its grants carry: a section outside
            # them does not exist for it, not even as a filter.
            rostered = rostered.filter(section_id__in=granted_sections(viewer).values("pk"))
        window = overlapping_q(roster_since or viewer.today, viewer.today)
        return students.filter(pk__in=rostered.filter(window).values("student_id"))
    return students.filter(grade_level=value)


def granted_sections(viewer: Viewer) -> QuerySet[Section]:
    """The classes of a provider's grants that carry enrollment: none without one."""
    granted = Q(pk__in=[])
    for route in viewer.routes:
        if route.kind == RouteKind.PROVIDER and Category.ENROLLMENT in route.categories:
            granted |= Q(pk__in=provider_sections(viewer, route).values("pk"))
    return _in_district(Section, viewer).filter(granted)


def granted_schools(viewer: Viewer) -> QuerySet[School]:
    """The schools a provider's grants cover: all for a district grant, else those named
    and those of the chosen or matched sections."""
    schools = _in_district(School, viewer)
    routes = [route for route in viewer.routes if route.kind == RouteKind.PROVIDER]
    if any(route.population.kind == "district" for route in routes):
        return schools
    named = {pk for route in routes for pk in route.population.school_ids}
    matched = Q(pk__in=sorted(named))
    for route in routes:
        if route.population.kind == "sections" or route.population.course_title_contains:
            matched |= Q(pk__in=provider_sections(viewer, route).values("school_id"))
        elif route.population.kind == "rules" and not route.population.school_ids:
            return schools
    return schools.filter(matched)


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


def _reaching_indexes(viewer: Viewer, student: Student, flags: list[str]) -> tuple[int, ...]:
    return tuple(i for i, flag in enumerate(flags) if getattr(student, flag, None) is True)


def routes_reaching(viewer: Viewer, student: Student) -> list[Route]:
    """The routes whose flag on this row says they reach it. A row not fetched through
    ``reached_students`` for this very viewer carries no such flag: no route, nothing."""
    flags = [_flag(viewer, i) for i in range(len(viewer.routes))]
    return [viewer.routes[i] for i in _reaching_indexes(viewer, student, flags)]


def _grant(route: Route, *, purposeful: bool) -> Allowed:
    closed = frozenset() if purposeful else route.needs_purpose
    return Allowed(
        route.categories - closed,
        route.program_kinds,
        route.outside_school,
        frozenset({route.label}),
    )


def allowed_for(
    viewer: Viewer, students: list[Student], *, purpose: Purpose | None = None
) -> dict[int, Allowed]:
    """Per student of a fetched page, the categories this viewer may see.

    The routes' grants are combined first; without a declared ``purpose`` the sensitive
    categories of staff routes stay closed (``Allowed.withheld`` names them); the
    person's custody restrictions are taken away last, so no route can give back what a
    court order hides. Fails closed: a row that does not carry this viewer's route
    flags (``reached_students``) gets nothing.
    """
    flags = [_flag(viewer, i) for i in range(len(viewer.routes))]
    # Students reached by the same routes, under the same restriction, see the same: a
    # page of hundreds is decided once per kind of student.
    decided: dict[tuple, Allowed] = {}
    result = {}
    for student in students:
        key = (_reaching_indexes(viewer, student, flags), viewer.restrictions.get(student.pk))
        if key not in decided:
            decided[key] = _combined(viewer, *key, purposeful=purpose is not None)
        result[student.pk] = decided[key]
    return result


def _combined(
    viewer: Viewer, reaching: tuple[int, ...], hidden: frozenset[str] | None, *, purposeful: bool
) -> Allowed:
    allowed = opened = NOTHING
    for i in reaching:
        route = viewer.routes[i]
        allowed = allowed | _grant(route, purposeful=True)
        opened = opened | _grant(route, purposeful=purposeful)
    opened = replace(opened, withheld=allowed.categories - opened.categories)
    return opened.without(hidden) if hidden else opened


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


def student_access_by_id(
    viewer: Viewer, student_id, *, purpose: Purpose | None = None
) -> StudentAccess:
    """The student with this id and what the viewer may see of them (for ``purpose``, if
    declared); 404 alike for a student who is missing and one who is not theirs."""
    student = one_by_id(reached_students(viewer), student_id, StudentNotFound)
    allowed = allowed_for(viewer, [student], purpose=purpose)[student.pk]
    if not allowed.categories:
        raise StudentNotFound()
    return StudentAccess(student=student, allowed=allowed)
