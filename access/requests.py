"""Who reviews families' requests to inspect records (FERPA 99.10), and which.

District admins review every request of their district; principals and school
admins those about students whose current school is theirs (the school-staff
route of ``access.scoping``). Every query names the viewer's district.
"""

from __future__ import annotations

from django.db.models import QuerySet

from access.categories import Category
from access.districts import as_records_officer, records_officer_routes
from access.scoping import (
    Allowed,
    allowed_for,
    category_reach,
    one_by_id,
    reached_students,
)
from access.viewer import Viewer
from records.models import InspectionRequest


def may_review_inspections(viewer: Viewer) -> bool:
    """Whether the viewer has an inspection queue at all."""
    return bool(records_officer_routes(viewer))


def _named_students(officer: Viewer) -> QuerySet:
    """The students an officer reaches and whose name they may see: a queue line shows it."""
    return reached_students(officer).filter(category_reach(officer, Category.DIRECTORY))


def inspection_queue(viewer: Viewer) -> QuerySet[InspectionRequest]:
    """The requests this viewer reviews, with their students; one query. Students come
    through the same access decision as every page, restrictions and all."""
    officer = as_records_officer(viewer)
    if not officer.routes:
        return InspectionRequest.unscoped.none()
    return (
        InspectionRequest.unscoped.filter(district_id=viewer.district_id)
        .filter(student_id__in=_named_students(officer).values("pk"))
        .select_related("student", "requested_by")
        .order_by("due_on", "created_at", "id")
    )


def inspection_request_for_review(viewer: Viewer, request_id) -> InspectionRequest:
    """One request of the viewer's queue; 404 alike for missing and not theirs."""
    return one_by_id(inspection_queue(viewer), request_id)


def queue_reads(viewer: Viewer, requests) -> dict[int, Allowed]:
    """What a queue page shows of each student (their name: directory), by reviewing
    route, for the access log; one query."""
    officer = as_records_officer(viewer)
    ids = sorted({item.student_id for item in requests})
    if not ids or not officer.routes:
        return {}
    students = list(reached_students(officer).filter(pk__in=ids))
    allowed = allowed_for(officer, students)
    directory = frozenset({Category.DIRECTORY})
    return {
        pk: found.narrowed(directory)
        for pk, found in allowed.items()
        if Category.DIRECTORY in found.categories
    }
