"""The staff pages' reach: the only place that decides what school staff see on them.

``/school/`` lists the students of a school official's schools (a district
administrator's: the district) through their school routes only, whatever else
the same person is (a teacher, a parent). A student's page is open to any staff
member who reaches the student by any route, and says why, from the same route
code that decides it (``access/scoping.py``). Every query names the viewer's district.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import (
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from access import emergency
from access.categories import Category
from access.models import EmergencyAccess
from access.purposes import ANY_DECLARED, Purpose
from access.scoping import (
    StudentAccess,
    StudentNotFound,
    allowed_for,
    category_reach,
    reached_students,
    routes_reaching,
    staff_memberships,
    student_access_by_id,
    substitute_enrollments,
    teacher_enrollments,
    visible_students,
)
from access.viewer import (
    SCHOOL_OFFICIAL_ROUTES,
    STAFF_ROUTES,
    AccessDenied,
    Route,
    RouteKind,
    Viewer,
    viewer_for,
)
from accounts.models import Role, RoleMembership, User
from records import selectors
from records.models import (
    Enrollment,
    GuardianLink,
    ProgramParticipation,
    School,
    SchoolMembership,
    SectionTeacher,
    Student,
    SubstituteAssignment,
    active_on_q,
)


def _school_routes(viewer: Viewer) -> tuple[Route, ...]:
    return as_school_official(viewer).routes if viewer.has_access else ()


def has_school_view(viewer: Viewer) -> bool:
    """Whether the viewer is a school official or district administrator (``/school/``)."""
    return bool(_school_routes(viewer))


def has_staff_view(viewer: Viewer) -> bool:
    """Whether the viewer reads student pages as staff at all (teachers included)."""
    return viewer.has_route(STAFF_ROUTES)


def as_school_official(viewer: Viewer) -> Viewer:
    """The same person reaching students through their school routes only."""
    return viewer.through(SCHOOL_OFFICIAL_ROUTES)


def may_search_identifiers(viewer: Viewer) -> bool:
    return any(Category.IDENTIFIERS in route.categories for route in _school_routes(viewer))


def may_see_attendance(viewer: Viewer) -> bool:
    return any(Category.ATTENDANCE in route.categories for route in _school_routes(viewer))


def visible_programs(viewer: Viewer) -> list[str]:
    """The program kinds the viewer may filter the school list by, in the registry's order."""
    kinds: set[str] = set()
    for route in _school_routes(viewer):
        if Category.PROGRAMS in route.categories:
            kinds |= set(
                ProgramParticipation.Program.values
                if route.program_kinds is None
                else route.program_kinds
            )
    return [kind for kind in ProgramParticipation.Program.values if kind in kinds]


def staff_students(
    viewer: Viewer,
    *,
    query: str | None = None,
    grade: str | None = None,
    program: str | None = None,
    attendance_below: Decimal | float | None = None,
) -> QuerySet[Student]:
    """The students of the viewer's schools (a district administrator's: the district),
    searched and filtered, by name; one SQL query, whatever the school's size.

    ``query`` matches any word of a given, family or preferred name (case-insensitive,
    each word of the query must match), or a state or local id exactly where the
    viewer may see identifiers. ``attendance_below`` is a percentage; each row carries
    ``attendance_rate`` (percent this school year) where the viewer may see attendance.
    """
    official = as_school_official(viewer)
    if not official.routes:
        return Student.unscoped.none()
    students = visible_students(official, grade_level=grade or None)
    if may_see_attendance(official):
        students = students.annotate(
            attendance_rate=selectors.attendance_rate_this_year(
                district_id=viewer.district_id, today=viewer.today
            )
        )
    words = (query or "").split()
    if words:
        named = category_reach(official, Category.DIRECTORY)
        for word in words:
            named &= (
                Q(given_name__icontains=word)
                | Q(family_name__icontains=word)
                | Q(preferred_name__icontains=word)
            )
        match = named
        term = " ".join(words)
        if may_search_identifiers(official):
            match |= category_reach(official, Category.IDENTIFIERS) & (
                Q(state_id__iexact=term) | Q(local_id__iexact=term)
            )
        students = students.filter(match)
    if program:
        if program not in visible_programs(official):
            return students.none()
        enrolled = ProgramParticipation.unscoped.filter(
            district_id=viewer.district_id, student_id=OuterRef("pk"), program=program
        ).filter(active_on_q(viewer.today))
        students = students.filter(
            category_reach(official, Category.PROGRAMS, program=program), Exists(enrolled)
        )
    if attendance_below is not None:
        if not may_see_attendance(official):
            return students.none()
        students = students.filter(
            category_reach(official, Category.ATTENDANCE),
            attendance_rate__lt=float(attendance_below),
        )
    return students


def staff_student(viewer: Viewer, student_id, *, purpose: Purpose | None = None) -> StudentAccess:
    """One student for a staff member, with what their roles allow (for ``purpose``, if
    declared); 404 alike for a missing student, one they do not reach, and a viewer who
    is not staff."""
    if not has_staff_view(viewer):
        raise StudentNotFound()
    return student_access_by_id(viewer, student_id, purpose=purpose)


@dataclass(frozen=True)
class Reach:
    """One relationship through which a viewer reaches a student, with its particulars:
    the facts behind "why can I see this?" (the pages put them in words)."""

    kind: RouteKind
    role: str = ""  # school staff: the role
    place: str = ""  # school staff: the school; teacher, substitute: the section's title
    period: str = ""
    since: date | None = None  # teacher: on the roster since
    until: date | None = None  # teacher: the roster ended (grace period); substitute: last day
    grace_end: date | None = None  # teacher: visible until, under the grace period
    expires_at: datetime | None = None  # emergency access


def why_visible(viewer: Viewer, student: Student) -> list[Reach]:
    """Why the viewer may see ``student``: each relationship that reaches them.

    Which routes reach the student is one query over the same subqueries that decide
    access; the specifics (sections, schools) one more query each, only where needed.
    """
    if not viewer.has_access or student.district_id != viewer.district_id:
        return []
    reached = reached_students(viewer).filter(pk=student.pk).first()
    if reached is None:
        return []
    hidden = viewer.restrictions.get(student.pk, frozenset())
    reaches: list[Reach] = []
    for route in routes_reaching(viewer, reached):
        if route.categories - hidden:
            reaches.extend(_reaches_of(viewer, route, student))
    return reaches


def _reaches_of(viewer: Viewer, route: Route, student: Student) -> list[Reach]:
    if route.kind == RouteKind.TEACHER:
        return _teacher_reaches(viewer, route, student)
    if route.kind == RouteKind.SUBSTITUTE:
        return _substitute_reaches(viewer, route, student)
    if route.kind == RouteKind.EMERGENCY:
        grant = emergency.active_grant(viewer, student.pk)
        return [Reach(route.kind, expires_at=grant.expires_at)] if grant is not None else []
    if route.kind == RouteKind.SCHOOL_STAFF:
        schools = (
            School.unscoped.filter(
                district_id=viewer.district_id,
                pk__in=staff_memberships(viewer, route)
                .filter(student_id=student.pk)
                .values("school_id"),
            )
            .order_by("name")
            .values_list("name", flat=True)
        )
        return [Reach(route.kind, role=route.label, place=name) for name in schools]
    if route.kind == RouteKind.DISTRICT_ADMIN:
        return [Reach(route.kind, place=viewer.district.name)]
    return [Reach(route.kind)]


def _teacher_reaches(viewer: Viewer, route: Route, student: Student) -> list[Reach]:
    enrollments = (
        teacher_enrollments(viewer, route)
        .filter(
            student_id=student.pk,
            section__district_id=viewer.district_id,
            section__term__district_id=viewer.district_id,
        )
        .annotate(
            since=Coalesce(F("begin_date"), F("section__term__start_date")),
            until=F("end_date"),
            title=F("section__title"),
            period=F("section__period"),
        )
        .order_by("section__period", "section__title", "pk")
        .values("title", "period", "since", "until")
    )
    grace = timedelta(days=viewer.district.roster_grace_days)
    reaches = []
    for row in enrollments:
        ended = row["until"] is not None and row["until"] < viewer.today
        reaches.append(
            Reach(
                route.kind,
                place=row["title"],
                period=row["period"] or "",
                since=row["since"],
                # Seen only through the district's grace period after the roster ended.
                until=row["until"] if ended else None,
                grace_end=row["until"] + grace if ended else None,
            )
        )
    return reaches


def _substitute_reaches(viewer: Viewer, route: Route, student: Student) -> list[Reach]:
    sections = (
        substitute_enrollments(viewer, route).filter(student_id=student.pk).values("section_id")
    )
    assignments = (
        SubstituteAssignment.unscoped.filter(
            district_id=viewer.district_id,
            substitute=viewer.user,
            section_id__in=sections,
            ended_at__isnull=True,
        )
        .filter(active_on_q(viewer.today))
        .annotate(title=F("section__title"), period=F("section__period"))
        .order_by("section__period", "section__title", "pk")
        .values("title", "period", "end_date")
    )
    return [
        Reach(route.kind, place=row["title"], period=row["period"] or "", until=row["end_date"])
        for row in assignments
    ]


# Who can see this student? Only the people in charge of the student's school or district
# may ask, and the answer comes from the access code itself, run as each candidate.

READER_LISTING_ROLES = frozenset({Role.PRINCIPAL, Role.SCHOOL_ADMIN})


def may_list_readers(viewer: Viewer, student: Student) -> bool:
    """Whether the viewer may ask who can see ``student``: a district administrator of
    the student's district, or a principal or school administrator of one of the
    student's current schools (the same membership subquery that grants them access)."""
    if not viewer.has_access or student.district_id != viewer.district_id:
        return False
    if viewer.route("district_admin") is not None:
        return True
    routes = [
        route
        for route in viewer.routes
        if route.kind == RouteKind.SCHOOL_STAFF and route.label in READER_LISTING_ROLES
    ]
    return any(
        staff_memberships(viewer, route).filter(student_id=student.pk).exists() for route in routes
    )


def reader_candidates(viewer: Viewer, student: Student) -> QuerySet[User]:
    """Everyone of the district who might reach ``student`` by some route; one query.

    A superset on purpose: who actually reaches the student is decided for each of
    them by the access code (``who_can_see``), not here.
    """
    district_id = viewer.district_id
    guardians = GuardianLink.unscoped.filter(district_id=district_id, student_id=student.pk).values(
        "guardian_id"
    )
    sections = Enrollment.unscoped.filter(district_id=district_id, student_id=student.pk).values(
        "section_id"
    )
    teachers = SectionTeacher.unscoped.filter(
        district_id=district_id, section_id__in=sections
    ).values("teacher_id")
    schools = (
        SchoolMembership.unscoped.filter(district_id=district_id, student_id=student.pk)
        .filter(active_on_q(viewer.today))
        .values("school_id")
    )
    staff = RoleMembership.unscoped.filter(district_id=district_id).filter(
        Q(school_id__in=schools) | Q(role=Role.DISTRICT_ADMIN)
    )
    own = Student.unscoped.filter(district_id=district_id, pk=student.pk).values("user_id")
    substitutes = SubstituteAssignment.unscoped.filter(
        district_id=district_id, section_id__in=sections, ended_at__isnull=True
    ).values("substitute_id")
    emergencies = EmergencyAccess.unscoped.filter(
        district_id=district_id, student_id=student.pk, expires_at__gt=timezone.now()
    ).values("requested_by_id")
    return User.objects.filter(district_id=district_id, is_active=True).filter(
        Q(pk__in=guardians)
        | Q(pk__in=teachers)
        | Q(pk__in=staff.values("user_id"))
        | Q(pk__in=own)
        | Q(pk__in=substitutes)
        | Q(pk__in=emergencies)
    )


def who_can_see(viewer: Viewer, student: Student) -> list[dict]:
    """Every user with access to ``student``, why, and what of them; sorted by name.

    Each candidate's access is decided by building their viewer and asking the same
    code that serves their own pages (``visible_students``, ``allowed_for``,
    ``why_visible``): there is no second implementation of access here. Anyone who
    is not listed here cannot open the student's record.
    """
    if not may_list_readers(viewer, student):
        raise AccessDenied("may not list who can see this student")
    # Who the child's parents and guardians are is the child's contact information: an
    # asker who may not see it (a restricted parent who is also the principal) is not
    # told it here either.
    asker = reached_students(viewer).filter(pk=student.pk).first()
    sees_contact = (
        asker is not None and Category.CONTACT in allowed_for(viewer, [asker])[asker.pk].categories
    )
    readers = []
    for user in reader_candidates(viewer, student).order_by("pk"):
        reader = viewer_for(user, today=viewer.today)
        if not reader.has_access:
            continue
        reached = reached_students(reader).filter(pk=student.pk).first()
        if reached is None:
            continue
        allowed = allowed_for(reader, [reached], purpose=ANY_DECLARED)[reached.pk]
        if not allowed.categories:
            continue
        if not sees_contact and allowed.via <= {"guardian"}:
            continue
        readers.append(
            {
                "name": user.get_full_name() or user.username,
                "username": user.username,
                "roles": sorted(allowed.via),
                "reasons": why_visible(reader, reached),
                "categories": [c for c in Category.values if c in allowed.categories],
            }
        )
    return sorted(readers, key=lambda r: (r["name"].casefold(), r["username"]))
