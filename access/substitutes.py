"""Substitute teachers: a principal's temporary grant of one section to a substitute.

The grant is two things, both needed for access: a django-guardian object permission
on the section (``access.grants``) and a ``SubstituteAssignment`` holding the dates.
``end_finished_assignments`` (a Celery beat task) removes the permission once the end
date has passed; until it runs, the dates still close access (``access.viewer``).
Every query names the viewer's district.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from access import grants
from access.errors import AccessDenied
from access.viewer import Viewer
from accounts.models import Role, RoleMembership, User
from records.models import (
    District,
    Section,
    SectionTeacher,
    SubstituteAssignment,
    active_on_q,
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
    return (
        SubstituteAssignment.unscoped.filter(
            district_id=viewer.district_id, section_id=section.pk, ended_at__isnull=True
        )
        .filter(end_date__gte=viewer.today)
        .select_related("substitute", "assigned_by")
        .order_by("begin_date", "end_date", "pk")
    )


def _find_substitute(viewer: Viewer, who: str) -> User:
    """The active person of the district with this username or else this email, in any case.

    A username names one person (unique whatever its case), so it is taken first; an
    email several people share is refused, never settled by picking one of them.
    """
    who = (who or "").strip()
    if not who:
        raise ValidationError({"substitute": _("Enter the substitute's username or email.")})
    people = User.objects.filter(district_id=viewer.district_id, is_active=True)
    # lower() on both sides, as the unique index on the username folds it.
    named = people.alias(folded=Lower("username")).filter(folded=Lower(Value(who)))
    matches = list(named[:1]) or list(people.filter(email__iexact=who).order_by("pk")[:2])
    if not matches:
        raise ValidationError(
            {"substitute": _("No one in this district has that username or email.")}
        )
    if len(matches) > 1:
        raise ValidationError(
            {"substitute": _("More than one person matches; enter the full username.")}
        )
    return matches[0]


def _check_dates(section: Section, begin: date, end: date, today: date) -> None:
    term = section.term
    if begin < today:
        raise ValidationError({"begin_date": _("A substitute can't be assigned in the past.")})
    if end < begin:
        raise ValidationError({"end_date": _("The last day can't be before the first.")})
    if begin < term.start_date or end > term.end_date:
        raise ValidationError(
            {
                "end_date": _("The dates must fall within the term (%(start)s to %(end)s).")
                % {"start": date_format(term.start_date), "end": date_format(term.end_date)}
            }
        )


def assign_substitute(
    viewer: Viewer, section: Section, *, who: str, begin: date, end: date
) -> SubstituteAssignment:
    """Grant ``section`` to a substitute from ``begin`` to ``end`` (inclusive).

    The substitute must hold a teacher role in the district, and must not already teach
    the section. Refusals are ``ValidationError`` keyed by form field; nothing is saved.
    """
    if not may_manage_substitutes(viewer, section):
        raise AccessDenied("may not assign substitutes to this section")
    substitute = _find_substitute(viewer, who)
    _check_dates(section, begin, end, viewer.today)
    teacher_role = RoleMembership.unscoped.filter(
        district_id=viewer.district_id, user=substitute, role=Role.TEACHER
    ).filter(Q(end_date__isnull=True) | Q(end_date__gte=end))
    if not teacher_role.filter(active_on_q(begin)).exists():
        name = substitute.get_full_name() or substitute.username
        raise ValidationError(
            {
                "substitute": _("%(name)s doesn't hold a teacher role for those dates.")
                % {"name": name}
            }
        )
    teaches = SectionTeacher.unscoped.filter(
        district_id=viewer.district_id, section_id=section.pk, teacher=substitute
    )
    if teaches.exists():
        raise ValidationError({"substitute": _("This person already teaches the class.")})
    with transaction.atomic():
        assignment = SubstituteAssignment.unscoped.create(
            district_id=viewer.district_id,
            section=section,
            substitute=substitute,
            begin_date=begin,
            end_date=end,
            assigned_by=viewer.user,
            assigned_at=timezone.now(),
        )
        grants.substitute_grant(substitute=substitute, section=section)
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
    assignment.ended_at = timezone.now()
    assignment.save(update_fields=["ended_at"])
    still_open = SubstituteAssignment.unscoped.filter(
        district_id=assignment.district_id,
        section_id=section.pk,
        substitute_id=assignment.substitute_id,
        ended_at__isnull=True,
    ).exists()
    if not still_open:
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
                _end(assignment, assignment.section)
            ended += 1
    return ended
