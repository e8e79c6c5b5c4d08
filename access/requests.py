"""Who reviews families' requests to inspect records (FERPA 99.10), and which.

District admins review every request of their district; principals and school
admins those about students whose current school is theirs (the school-staff
route of ``access.scoping``). Every query names the viewer's district.
"""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from access.districts import records_officer_routes
from access.scoping import Allowed, one_by_id, route_student_ids
from access.viewer import Route, Viewer
from records.models import InspectionRequest


def may_review_inspections(viewer: Viewer) -> bool:
    """Whether the viewer has an inspection queue at all."""
    return bool(records_officer_routes(viewer))


def _flag(route: Route) -> str:
    return f"_reviews_as_{route.label}"


def inspection_queue(viewer: Viewer) -> QuerySet[InspectionRequest]:
    """The requests this viewer reviews, with their students; one query.

    Each row carries which reviewing routes reach its student, for the access log.
    """
    routes = records_officer_routes(viewer)
    if not routes:
        return InspectionRequest.unscoped.none()
    requests = InspectionRequest.unscoped.filter(district_id=viewer.district_id)
    if not any(route.kind == "district_admin" for route in routes):
        subqueries = [route_student_ids(viewer, route) for route in routes]
        reached = subqueries[0].union(*subqueries[1:]) if len(subqueries) > 1 else subqueries[0]
        requests = requests.filter(student_id__in=reached)
    if viewer.fully_restricted_student_ids:
        requests = requests.exclude(student_id__in=viewer.fully_restricted_student_ids)
    requests = requests.annotate(
        **{
            _flag(route): ExpressionWrapper(
                Q(student_id__in=route_student_ids(viewer, route)), output_field=BooleanField()
            )
            for route in routes
        }
    )
    return requests.select_related("student", "requested_by").order_by("due_on", "created_at", "id")


def inspection_request_for_review(viewer: Viewer, request_id) -> InspectionRequest:
    """One request of the viewer's queue; 404 alike for missing and not theirs."""
    return one_by_id(inspection_queue(viewer), request_id)


def queue_reads(viewer: Viewer, requests) -> dict[int, Allowed]:
    """What a queue page shows of each student (their name: directory), by reviewing route."""
    routes = records_officer_routes(viewer)
    shown: dict[int, Allowed] = {}
    for item in requests:
        via = frozenset(route.label for route in routes if getattr(item, _flag(route), False))
        if via:
            shown[item.student_id] = Allowed(frozenset({"directory"}), None, False, via)
    return shown
