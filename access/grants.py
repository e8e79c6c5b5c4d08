"""Explicit object-level grants, held by django-guardian.

A grant is a permission per data category on one School: "this party may receive
<category> data of this school's students", or a substitute's permission on one
Section (its dates are a ``SubstituteAssignment``'s). Provider grants (with purpose,
agreement and dates) build on these; relationship-derived access (teacher ↔
section, guardian ↔ child) is computed in SQL by ``access/scoping.py`` and never
stored as a row per student. This module is the only one that imports guardian.
"""

from __future__ import annotations

from django.db.models import QuerySet
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from access.categories import ALL_CATEGORIES
from access.errors import AccessDenied
from records.models import School, Section, SubstituteAssignment, active_on_q

SUBSTITUTE_PERMISSION = "records.substitute_section"


class UnknownCategory(ValueError):
    pass


def school_permission_codename(category: str) -> str:
    if category not in ALL_CATEGORIES:
        raise UnknownCategory(category)
    return f"receive_{category}"


def school_category_grant(*, grantee, school: School, category: str) -> None:
    """Let ``grantee`` receive ``category`` data of ``school``'s students."""
    if grantee.district_id != school.district_id:
        raise AccessDenied("A grant never crosses districts.")
    assign_perm(f"records.{school_permission_codename(category)}", grantee, school)


def school_category_revoke(*, grantee, school: School, category: str) -> None:
    remove_perm(f"records.{school_permission_codename(category)}", grantee, school)


def schools_granted(user, category: str) -> QuerySet[School]:
    """The schools of the user's district for which the user holds this category.

    Superuser status and global permissions count for nothing here.
    """
    if user.district_id is None:
        return School.unscoped.none()
    return get_objects_for_user(
        user,
        f"records.{school_permission_codename(category)}",
        klass=School.unscoped.filter(district_id=user.district_id),
        with_superuser=False,
        accept_global_perms=False,
    )


def substitute_grant(*, substitute, section: Section) -> None:
    """Give ``substitute`` the object permission to teach ``section``."""
    if substitute.district_id != section.district_id:
        raise AccessDenied("A grant never crosses districts.")
    assign_perm(SUBSTITUTE_PERMISSION, substitute, section)


def substitute_revoke(*, substitute, section: Section) -> None:
    remove_perm(SUBSTITUTE_PERMISSION, substitute, section)


def substitute_sections(user, district, today) -> list[int]:
    """The sections ``user`` teaches today as a substitute: the guardian permission on the
    section held, *and* an open assignment whose dates include today. Either alone is not
    enough, so a permission the beat task has not removed yet grants nothing."""
    assigned = (
        SubstituteAssignment.unscoped.filter(
            district_id=district.pk, substitute=user, ended_at__isnull=True
        )
        .filter(active_on_q(today))
        .values("section_id")
    )
    sections = Section.unscoped.filter(district_id=district.pk, pk__in=assigned)
    granted = get_objects_for_user(
        user,
        SUBSTITUTE_PERMISSION,
        klass=sections,
        with_superuser=False,
        accept_global_perms=False,
    )
    return list(granted.values_list("pk", flat=True))
