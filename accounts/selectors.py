"""Reads on accounts: guardians still to invite, and where invitations stand."""

from __future__ import annotations

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import Invitation, User
from records.models import GuardianLink


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
    return (
        Invitation.unscoped.select_related("user")
        .filter(token_hash=token_hash, user__is_active=True)
        .first()
    )
