"""The family portal's reach: the only place that decides what a family member sees.

A family member is a guardian (through a guardian link with data access) or an
eligible student (themself). Only those two routes count here, whatever staff roles
the same person also holds: the family pages show what the family may see, and log
it as a family read. Every query names the viewer's district.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from access.categories import ALL_CATEGORIES, DESIGNATABLE_DIRECTORY_FIELDS
from access.models import AccessEvent, AccessEventStudent
from access.scoping import (
    Allowed,
    StudentAccess,
    StudentNotFound,
    allowed_for,
    one_by_id,
    visible_students,
)
from access.viewer import FAMILY_ROUTES, RouteKind, Viewer, eligibility_cutoff
from records.models import GuardianLink, Student, active_on_q


def as_family(viewer: Viewer) -> Viewer:
    """The same person reaching students through their family routes only."""
    return viewer.through(FAMILY_ROUTES)


def has_family_portal(viewer: Viewer) -> bool:
    """Whether this viewer is a parent, guardian or eligible student at all."""
    return viewer.has_route(FAMILY_ROUTES)


def family_children(viewer: Viewer) -> QuerySet[Student]:
    """The students the viewer reaches as family, by name; one query, each row flagged
    with the family routes that reach it (read by ``family_allowed``)."""
    return visible_students(as_family(viewer))


def family_allowed(viewer: Viewer, student: Student) -> Allowed:
    """What of a student fetched by ``family_children`` the viewer may see."""
    return allowed_for(as_family(viewer), [student])[student.pk]


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
    if viewer.route(RouteKind.GUARDIAN) is None or viewer.district is None:
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
    zone = viewer.district.zone
    if since is not None:
        events = events.filter(occurred_at__gte=datetime.combine(since, time.min, tzinfo=zone))
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone)
        events = events.filter(occurred_at__lt=end)
    return events.order_by("-occurred_at", "-sequence")


def family_only(viewer: Viewer) -> bool:
    """Whether the family portal is all this viewer has (a staff member who is also a
    parent keeps the staff home, which links to the portal)."""
    kinds = {route.kind for route in viewer.routes}
    return bool(kinds) and kinds <= FAMILY_ROUTES


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
    own = viewer.route(RouteKind.ELIGIBLE_STUDENT)
    if own is not None and own.student_id == student.pk:
        return True
    return viewer.route(RouteKind.GUARDIAN) is not None and not is_eligible_student(viewer, student)


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
