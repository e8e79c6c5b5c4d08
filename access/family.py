"""The family portal's reach: the only place that decides what a family member sees.

A family member is a guardian (through a guardian link with data access) or an
eligible student (themself). Only those two routes count here, whatever staff roles
the same person also holds: the family pages show what the family may see, and log
it as a family read. Every query names the viewer's district.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from access.categories import ALL_CATEGORIES, DESIGNATABLE_DIRECTORY_FIELDS
from access.models import AccessEvent, AccessEventStudent
from access.projection import project_students
from access.scoping import (
    Allowed,
    StudentAccess,
    StudentNotFound,
    one_by_id,
    route_student_ids,
)
from access.viewer import Route, Viewer, eligibility_cutoff
from accounts.models import RoleMembership
from records import selectors
from records.models import GuardianLink, Student, active_on_q

FAMILY_ROUTE_KINDS = ("guardian", "eligible_student")


def _family_routes(viewer: Viewer) -> list[Route]:
    if not viewer.has_access:
        return []
    return [route for route in viewer.routes if route.kind in FAMILY_ROUTE_KINDS]


def has_family_portal(viewer: Viewer) -> bool:
    """Whether this viewer is a parent, guardian or eligible student at all."""
    return bool(_family_routes(viewer))


def _flag(route: Route) -> str:
    return f"_via_family_{route.kind}"


def family_children(viewer: Viewer) -> QuerySet[Student]:
    """The students the viewer reaches as family, by name; one query.

    Each row carries which family routes reach it, so ``family_allowed`` needs no
    further query.
    """
    routes = _family_routes(viewer)
    if not routes:
        return Student.unscoped.none()
    subqueries = [route_student_ids(viewer, route) for route in routes]
    reached = subqueries[0].union(*subqueries[1:]) if len(subqueries) > 1 else subqueries[0]
    students = Student.unscoped.filter(district_id=viewer.district_id, pk__in=reached)
    if viewer.fully_restricted_student_ids:
        students = students.exclude(pk__in=viewer.fully_restricted_student_ids)
    if len(routes) > 1:
        students = students.annotate(
            **{
                _flag(route): ExpressionWrapper(
                    Q(pk__in=route_student_ids(viewer, route)), output_field=BooleanField()
                )
                for route in routes
            }
        )
    return students.order_by("family_name", "given_name", "id")


def family_allowed(viewer: Viewer, student: Student) -> Allowed:
    """What of a student fetched by ``family_children`` the viewer may see."""
    routes = _family_routes(viewer)
    if len(routes) > 1:
        routes = [route for route in routes if getattr(student, _flag(route), False)]
    categories = frozenset().union(*(route.categories for route in routes))
    categories -= viewer.restrictions.get(student.pk, frozenset())
    return Allowed(categories, None, False, frozenset(route.label for route in routes))


def family_child(viewer: Viewer, student_id) -> StudentAccess:
    """One child and what the viewer may see of them; 404 alike for missing and not theirs."""
    student = one_by_id(family_children(viewer), student_id, StudentNotFound)
    allowed = family_allowed(viewer, student)
    if not allowed.categories:
        raise StudentNotFound()
    return StudentAccess(student=student, allowed=allowed)


def children_who_hold_their_own_rights(viewer: Viewer) -> list[dict]:
    """The guardian's children whose FERPA rights have passed to them (99.5).

    Eligible students (of age, or postsecondary) who are not tax dependents: the
    parent no longer sees their record, only a plain explanation with the first name.
    """
    if viewer.route("guardian") is None or viewer.district is None:
        return []
    links = (
        GuardianLink.unscoped.filter(
            district_id=viewer.district_id, guardian=viewer.user, has_data_access=True
        )
        .filter(active_on_q(viewer.today))
        .values("student_id")
    )
    cutoff = eligibility_cutoff(viewer.district, viewer.today)
    rows = (
        Student.unscoped.filter(district_id=viewer.district_id, pk__in=links)
        .filter(Q(is_postsecondary=True) | Q(birth_date__lte=cutoff))
        .filter(is_tax_dependent=False)
        .exclude(pk__in=viewer.fully_restricted_student_ids)
        .order_by("given_name", "id")
        .values("pk", "given_name", "preferred_name")
    )
    return [
        {"id": row["pk"], "first_name": row["preferred_name"] or row["given_name"]} for row in rows
    ]


def _zone(viewer: Viewer) -> ZoneInfo:
    try:
        return ZoneInfo(viewer.district.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def child_access_log(
    viewer: Viewer,
    student_id,
    *,
    category: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AccessEvent]:
    """Who read this child's record, newest first, the viewer's own reads left out.

    Dates are whole days in the district's time zone. Only for a child the viewer
    reaches as family; anyone else gets ``StudentNotFound``.
    """
    child = family_child(viewer, student_id)
    district_id = viewer.district_id
    touched = AccessEventStudent.unscoped.filter(
        district_id=district_id, student_id=child.student.pk
    ).values("event_id")
    events = AccessEvent.unscoped.filter(district_id=district_id, pk__in=touched).exclude(
        actor_id=viewer.user.pk
    )
    if category is not None:
        if category not in ALL_CATEGORIES:
            return events.none()
        events = events.filter(categories__contains=[category])
    zone = _zone(viewer)
    if since is not None:
        events = events.filter(occurred_at__gte=datetime.combine(since, time.min, tzinfo=zone))
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone)
        events = events.filter(occurred_at__lt=end)
    return events.order_by("-occurred_at", "-sequence")


def actor_schools(viewer: Viewer, events) -> dict[tuple[int, str], str | None]:
    """Per (actor, role) of the events, the one school where the actor holds that role now.

    ``None`` when the role is held at no school or at several: a page then names no
    school rather than a wrong one. One query for a page of events.
    """
    actor_ids = sorted({event.actor_id for event in events if event.actor_id is not None})
    if not actor_ids or viewer.district is None:
        return {}
    rows = (
        RoleMembership.unscoped.filter(district_id=viewer.district_id, user_id__in=actor_ids)
        .filter(active_on_q(viewer.today))
        .filter(Q(school__isnull=True) | Q(school__district_id=viewer.district_id))
        .values_list("user_id", "role", "school__name")
    )
    schools: dict[tuple[int, str], set[str | None]] = {}
    for user_id, role, school_name in rows:
        schools.setdefault((user_id, role), set()).add(school_name)
    return {key: next(iter(names)) if len(names) == 1 else None for key, names in schools.items()}


# What a child's card on /family/ shows, and so what its read records.
CARD_CATEGORIES = frozenset({"directory", "attendance", "grades"})


def family_cards(viewer: Viewer) -> tuple[list[dict], dict[int, Allowed]]:
    """The children's cards, and what of each child they show (for the access log).

    Each card is the child's projected summary plus today's attendance status and
    the grades recorded since the viewer last opened the child's page.
    """
    students = list(family_children(viewer))
    allowed = {student.pk: family_allowed(viewer, student) for student in students}
    students = [student for student in students if allowed[student.pk].categories]
    shown = {
        student.pk: Allowed(
            allowed[student.pk].categories & CARD_CATEGORIES, None, False, allowed[student.pk].via
        )
        for student in students
    }
    cards = project_students(viewer, students, shown)
    with_attendance = [pk for pk, a in shown.items() if "attendance" in a.categories]
    with_grades = [pk for pk, a in shown.items() if "grades" in a.categories]
    district_id = viewer.district_id
    today = (
        selectors.attendance_on(
            district_id=district_id, student_ids=with_attendance, day=viewer.today
        )
        if with_attendance
        else {}
    )
    new_grades = (
        selectors.grades_since_last_visit(
            district_id=district_id, student_ids=with_grades, user_id=viewer.user.pk
        )
        if with_grades
        else {}
    )
    for card in cards:
        if "attendance" in card:
            card["attendance"]["today"] = today.get(card["id"])
        if "grades" in card:
            card["grades"]["new_since_last_visit"] = new_grades.get(card["id"], 0)
    return cards, shown


def family_record(viewer: Viewer, student_id) -> tuple[StudentAccess, dict, tuple | None]:
    """A child's whole record as the viewer may see it, and the current term's dates."""
    child = family_child(viewer, student_id)
    (record,) = project_students(
        viewer, [child.student], {child.student.pk: child.allowed}, detail=True
    )
    term = None
    if "attendance" in child.categories:
        term = selectors.current_term_bounds(district_id=viewer.district_id, today=viewer.today)
    return child, record, term


def family_only(viewer: Viewer) -> bool:
    """Whether the family portal is all this viewer has (a staff member who is also a
    parent keeps the staff home, which links to the portal)."""
    kinds = {route.kind for route in viewer.routes}
    return bool(kinds) and kinds <= {"guardian", "eligible_student"} and has_family_portal(viewer)


def is_eligible_student(viewer: Viewer, student: Student) -> bool:
    """Whether the student's FERPA rights have passed to them (of age, or postsecondary)."""
    if student.is_postsecondary:
        return True
    cutoff = eligibility_cutoff(viewer.district, viewer.today)
    return student.birth_date is not None and student.birth_date <= cutoff


def holds_family_rights(viewer: Viewer, student: Student) -> bool:
    """Whether the viewer, reaching ``student`` as family, may exercise the rights of 99.10–99.37.

    Rights pass to an eligible student (99.5): a tax dependent's parent may still read
    the record, but only the student opts out or asks to inspect.
    """
    own = viewer.route("eligible_student")
    if own is not None and own.student_id == student.pk:
        return True
    return viewer.route("guardian") is not None and not is_eligible_student(viewer, student)


def family_rights_child(viewer: Viewer, student_id) -> StudentAccess:
    """A child whose rights this viewer holds; 404 if not theirs, 403 if the rights are the
    student's own now."""
    child = family_child(viewer, student_id)
    if not holds_family_rights(viewer, child.student):
        raise PermissionDenied
    return child


def designated_directory_fields(district) -> list[str]:
    """The district's directory fields (99.37), in the registry's order; never anything else."""
    chosen = set(district.directory_fields or [])
    return [name for name in DESIGNATABLE_DIRECTORY_FIELDS if name in chosen]
