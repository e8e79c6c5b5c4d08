"""Break-glass emergency access and its review queue.

A staff member who needs a student outside their rosters in a health or safety
emergency (34 CFR 99.36) asks with the student's ID and a written reason, and gets
24 hours of access to that one student (the ``emergency`` route, access/viewer.py).
Each read through it is recorded as a disclosure (access/audit.py). Every grant waits
in ``/district/reviews/`` until the principal of the student's school or a district
administrator marks it reviewed. Every query names the viewer's district.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access import policy
from access.categories import Category
from access.errors import AccessDenied
from access.models import EmergencyAccess
from access.projection import project_students
from access.scoping import (
    Allowed,
    allowed_for,
    one_by_id,
    staff_memberships,
    visible_students,
)
from access.viewer import Viewer
from accounts.models import Role
from records.models import SchoolMembership, Student, active_on_q

DURATION = timedelta(hours=24)
REASON_MIN = 20
REASON_MAX = 2000
REQUESTING_ROLES = frozenset({Role.TEACHER, *policy.SCHOOL_ROLE_CATEGORIES})
# One answer for every ID that cannot be granted, so the page confirms no ID.
REFUSED = gettext_lazy(
    "We can't grant emergency access for that ID. Check the ID; if you can already open "
    "the student's record, open it from your classes or school list."
)


def may_request(viewer: Viewer) -> bool:
    """School staff and teachers may break the glass, a teacher with no class yet too; a
    district administrator already sees every student, and families and providers never
    may."""
    return viewer.district is not None and bool(viewer.roles & REQUESTING_ROLES)


def may_review(viewer: Viewer) -> bool:
    """Principals and district administrators review emergency access."""
    return viewer.has_access and any(
        route.kind == "district_admin"
        or (route.kind == "school_staff" and route.label == Role.PRINCIPAL)
        for route in viewer.routes
    )


def _student_by_identifier(viewer: Viewer, identifier: str) -> Student:
    """The one current student of the district with this state or local ID, whom the
    viewer cannot open yet.

    No such student, an ID two students share, and a student the viewer already sees
    get one answer, from one query: told apart, they would let anyone who may ask
    confirm which IDs belong to the district's students.
    """
    identifier = (identifier or "").strip()
    if not identifier:
        raise ValidationError({"identifier": _("Enter the student's state or local ID.")})
    current = SchoolMembership.unscoped.filter(district_id=viewer.district_id).filter(
        active_on_q(viewer.today)
    )
    matches = list(
        Student.unscoped.filter(district_id=viewer.district_id, pk__in=current.values("student_id"))
        .filter(Q(state_id__iexact=identifier) | Q(local_id__iexact=identifier))
        .annotate(seen=Exists(visible_students(viewer).filter(pk=OuterRef("pk"))))
        .order_by("pk")[:2]
    )
    if len(matches) != 1 or matches[0].seen:
        raise ValidationError({"identifier": REFUSED}, code="refused")
    return matches[0]


def request_access(viewer: Viewer, *, identifier: str, reason: str) -> EmergencyAccess:
    """Grant the viewer 24 hours of access to the student with this ID, for ``reason``.

    Refusals are ``ValidationError`` keyed by form field, nothing saved: an empty or
    too short reason; and an unknown ID, an ID two students share or a student the
    viewer can already open, all three with the one answer ``REFUSED``.
    """
    if not may_request(viewer):
        raise AccessDenied("may not request emergency access")
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN:
        raise ValidationError(
            {
                "reason": _("Describe the emergency in at least %(min)d characters.")
                % {"min": REASON_MIN}
            }
        )
    if len(reason) > REASON_MAX:
        raise ValidationError(
            {"reason": _("Keep the reason under %(max)d characters.") % {"max": REASON_MAX}}
        )
    student = _student_by_identifier(viewer, identifier)
    now = timezone.now()
    return EmergencyAccess.unscoped.create(
        district_id=viewer.district_id,
        student=student,
        requested_by=viewer.user,
        reason=reason,
        granted_at=now,
        expires_at=now + DURATION,
    )


def active_grant(viewer: Viewer, student_id: int) -> EmergencyAccess | None:
    """The viewer's unexpired emergency grant for this student, the latest if several."""
    now = timezone.now()
    return (
        EmergencyAccess.unscoped.filter(
            district_id=viewer.district_id,
            requested_by=viewer.user,
            student_id=student_id,
            granted_at__lte=now,
            expires_at__gt=now,
        )
        .order_by("-expires_at")
        .first()
    )


def reviewable(viewer: Viewer) -> QuerySet[EmergencyAccess]:
    """The grants this viewer reviews: a district administrator's, the district's; a
    principal's, those for students currently at their schools. Newest first."""
    if not may_review(viewer):
        return EmergencyAccess.unscoped.none()
    grants = EmergencyAccess.unscoped.filter(district_id=viewer.district_id)
    if viewer.route("district_admin") is None:
        at_schools = Q(pk__in=[])
        for route in viewer.routes:
            if route.kind == "school_staff" and route.label == Role.PRINCIPAL:
                at_schools |= Q(
                    student_id__in=staff_memberships(viewer, route).values("student_id")
                )
        grants = grants.filter(at_schools)
    return grants.select_related("requested_by", "reviewed_by").order_by("-granted_at", "-pk")


def mark_reviewed(viewer: Viewer, grant_id, *, note: str = "") -> EmergencyAccess:
    """Mark one grant reviewed, with an optional note. Nobody reviews their own request;
    a grant outside the viewer's queue (or an id that cannot be one) is 404."""
    grant = one_by_id(reviewable(viewer), grant_id)
    if grant.requested_by_id == viewer.user.pk:
        raise ValidationError(_("Someone else must review your own emergency access."))
    if grant.reviewed_at is not None:
        raise ValidationError(_("This emergency access has already been reviewed."))
    grant.reviewed_by = viewer.user
    grant.reviewed_at = timezone.now()
    grant.review_note = (note or "").strip()[:REASON_MAX]
    grant.save(update_fields=["reviewed_by", "reviewed_at", "review_note"])
    return grant


def queue_names(viewer: Viewer, grants: list[EmergencyAccess]) -> tuple[dict, dict]:
    """The students of a page of the queue as the reviewer may see them: their directory
    entries by id, and what was shown of each (for the access log). Two queries."""
    students = list(visible_students(viewer).filter(pk__in=sorted({g.student_id for g in grants})))
    allowed = allowed_for(viewer, students)
    shown = {
        pk: Allowed(a.categories & {Category.DIRECTORY}, a.program_kinds, a.outside_school, a.via)
        for pk, a in allowed.items()
        if Category.DIRECTORY in a.categories
    }
    rows = project_students(viewer, [s for s in students if s.pk in shown], shown)
    return {row["id"]: row[Category.DIRECTORY] for row in rows}, shown
