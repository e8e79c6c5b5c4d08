"""Reads on accounts: guardians still to invite, and where invitations stand."""

from __future__ import annotations

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import Exists, FilteredRelation, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.models import Invitation, RoleMembership, User
from records.models import GuardianLink, Section, SectionTeacher, active_on_q
from records.tenancy import system_scope


def _guardians(district) -> QuerySet[User]:
    """Active users of ``district`` who hold a guardian link there."""
    links = GuardianLink.unscoped.filter(district_id=district.pk, guardian_id=OuterRef("pk"))
    return User.objects.filter(district_id=district.pk, is_active=True).filter(Exists(links))


def _open_invitation(district):
    return Invitation.unscoped.filter(
        district_id=district.pk,
        user_id=OuterRef("pk"),
        used_at=None,
        voided_at=None,
        expires_at__gt=timezone.now(),
    )


# Django marks "no usable password" with this prefix; there is no queryset lookup for it.
_NO_PASSWORD = Q(password__startswith=UNUSABLE_PASSWORD_PREFIX) | Q(password="")


def guardians_to_invite(*, district, resend: bool = False) -> QuerySet[User]:
    """Guardians with an email and no usable password (and, unless resend, no open link)."""
    users = _guardians(district).exclude(email="").filter(_NO_PASSWORD)
    if not resend:
        users = users.exclude(Exists(_open_invitation(district)))
    return users.order_by("pk")


def guardian_invitation_counts(*, district) -> dict[str, int]:
    """How many guardians can sign in, wait on an open invitation, or are still to invite."""
    guardians = _guardians(district)
    no_password = guardians.filter(_NO_PASSWORD)
    waiting = no_password.filter(Exists(_open_invitation(district)))
    return {
        "guardians": guardians.count(),
        "accepted": guardians.exclude(_NO_PASSWORD).count(),
        "waiting": waiting.count(),
        "to_invite": no_password.exclude(email="")
        .exclude(Exists(_open_invitation(district)))
        .count(),
        "no_email": no_password.filter(email="").count(),
    }


def invitation_get_by_token(*, token_hash: str) -> Invitation | None:
    """The invitation for a link, whatever its state; None if unknown or its user is inactive.

    Deliberately across districts: the visitor is not signed in, the link alone names it.
    """
    with system_scope("open an invitation link"):
        return (
            Invitation.unscoped.select_related("user")
            .filter(token_hash=token_hash, user__is_active=True)
            .first()
        )


def role_school_names(*, district_id: int, user_ids, today) -> dict[tuple[int, str], str | None]:
    """Per (user, role) held today, the one school where they hold it; ``None`` when the
    role is held at no school or at several (a page then names no school rather than a
    wrong one). Staff, not student data. One query."""
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return {}
    rows = (
        RoleMembership.unscoped.filter(district_id=district_id, user_id__in=user_ids)
        .filter(active_on_q(today))
        # The school joined within the district, in the join itself (none: a district role).
        .annotate(
            district_school=FilteredRelation("school", condition=Q(school__district_id=district_id))
        )
        .values_list("user_id", "role", "district_school__name")
    )
    schools: dict[tuple[int, str], set[str | None]] = {}
    for user_id, role, school_name in rows:
        schools.setdefault((user_id, role), set()).add(school_name)
    return {key: next(iter(names)) if len(names) == 1 else None for key, names in schools.items()}


def staff_list(*, district_id: int, school_ids: list[int] | None, today) -> QuerySet[User]:
    """The active staff of the schools ``school_ids`` (``None``: the whole district,
    district-wide roles included), by name: people, not student data. The pages ask
    ``access/`` which schools a viewer's staff list covers.

    Each user carries ``current_roles`` (their memberships active today there, school
    loaded) and ``current_sections`` (their teaching rows active today in a current-term
    section of those schools, section and course loaded). Three queries whatever the
    number of people: the users, their roles, their sections.
    """
    memberships = RoleMembership.unscoped.filter(district_id=district_id).filter(active_on_q(today))
    at_schools = Q() if school_ids is None else Q(school_id__in=sorted(school_ids))
    if school_ids is not None:
        memberships = memberships.filter(at_schools, school__isnull=False)
    roles = (
        memberships.filter(Q(school__isnull=True) | Q(school__district_id=district_id))
        .select_related("school")
        .order_by("school__name", "role", "pk")
    )
    sections = Section.unscoped.filter(
        at_schools,
        district_id=district_id,
        term__district_id=district_id,
        term__start_date__lte=today,
        term__end_date__gte=today,
    ).values("pk")
    teaching = (
        SectionTeacher.unscoped.filter(district_id=district_id, section_id__in=sections)
        .filter(active_on_q(today))
        .filter(section__district_id=district_id, section__course__district_id=district_id)
        .select_related("section__course")
        .order_by("section__period", "section__course__title", "section__title", "pk")
    )
    return (
        User.objects.filter(district_id=district_id, is_active=True)
        .filter(pk__in=memberships.values("user_id"))
        .prefetch_related(
            Prefetch("role_memberships", queryset=roles, to_attr="current_roles"),
            Prefetch("section_assignments", queryset=teaching, to_attr="current_sections"),
        )
        .order_by("last_name", "first_name", "username", "pk")
    )
