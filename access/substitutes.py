"""Substitute teachers: a principal's temporary grant of one section to a substitute.

The grant is two things, both needed for access: a django-guardian object permission
on the section (``access.grants``) and a ``SubstituteAssignment`` holding the dates.
``end_finished_assignments`` (a Celery beat task) removes the permission once the end
date has passed; until it runs, the dates still close access (``access.viewer``).
Every query names the viewer's district.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import QuerySet

from access import grants
from access.errors import AccessDenied
from access.viewer import Viewer
from accounts.models import Role
from records import selectors, services
from records.models import (
    District,
    Section,
    SubstituteAssignment,
)

MANAGING_ROLES = frozenset({Role.PRINCIPAL, Role.SCHOOL_ADMIN})


def may_manage_substitutes(viewer: Viewer, section: Section) -> bool:
    """Principals and school administrators of the section's school, and district
    administrators, assign its substitutes."""
    if not viewer.has_access or section.district_id != viewer.district_id:
        return False
    if viewer.route("district_admin") is not None:
        return True
    return any(
        route.kind == "school_staff"
        and route.label in MANAGING_ROLES
        and section.school_id in route.school_ids
        for route in viewer.routes
    )


def section_substitutes(viewer: Viewer, section: Section) -> QuerySet[SubstituteAssignment]:
    """The section's open assignments that have not ended yet, soonest first."""
    return selectors.section_substitute_list(
        district_id=viewer.district_id, section_id=section.pk, today=viewer.today
    )


def assign_substitute(
    viewer: Viewer, section: Section, *, who: str, begin: date, end: date
) -> SubstituteAssignment:
    """Grant ``section`` to a substitute from ``begin`` to ``end`` (inclusive): the
    assignment (``records.services.substitute_assignment_create``, which refuses with a
    ``ValidationError`` keyed by form field) and the permission, together or not at all."""
    if not may_manage_substitutes(viewer, section):
        raise AccessDenied("may not assign substitutes to this section")
    with transaction.atomic():
        assignment = services.substitute_assignment_create(
            actor=viewer.user, section=section, who=who, begin=begin, end=end, today=viewer.today
        )
        grants.substitute_grant(substitute=assignment.substitute, section=section)
    return assignment


def end_assignment(viewer: Viewer, section: Section, assignment_id: int) -> SubstituteAssignment:
    """Withdraw an assignment now; the permission goes unless another open one needs it."""
    if not may_manage_substitutes(viewer, section):
        raise AccessDenied("may not manage substitutes of this section")
    assignment = section_substitutes(viewer, section).filter(pk=assignment_id).first()
    if assignment is None:
        raise SubstituteAssignment.DoesNotExist
    with transaction.atomic():
        _end(assignment, section)
    return assignment


def _end(assignment: SubstituteAssignment, section: Section) -> None:
    if not services.substitute_assignment_end(assignment=assignment):
        grants.substitute_revoke(substitute=assignment.substitute, section=section)


def end_finished_assignments() -> int:
    """End every open assignment whose last day has passed in its district's time zone,
    removing the permission. Idempotent; returns how many were ended."""
    ended = 0
    districts = District.objects.filter(
        pk__in=SubstituteAssignment.unscoped.filter(ended_at__isnull=True).values("district_id")
    )
    for district in districts:
        today = district.today()
        finished = (
            SubstituteAssignment.unscoped.filter(
                district_id=district.pk, ended_at__isnull=True, end_date__lt=today
            )
            .select_related("section", "substitute")
            .order_by("pk")
        )
        for assignment in finished:
            with transaction.atomic():
                # Another run of this job at once (a message delivered twice) ends it once.
                still_open = (
                    SubstituteAssignment.unscoped.select_for_update(skip_locked=True)
                    .filter(pk=assignment.pk, ended_at__isnull=True)
                    .values_list("pk", flat=True)
                    .first()
                    is not None
                )
                if still_open:
                    _end(assignment, assignment.section)
            ended += still_open
    return ended
