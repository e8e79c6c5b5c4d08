"""Writes on the district's staff: invite a staff member, give a role, end a role.

Each is ``<entity>_<verb>(*, actor, ...)`` called after the page checked that the actor
manages the district; each change is logged (``accounts.staff``: ids only) and a role's
changes are kept as ``RoleChange`` rows, the history the staff page shows. A role
takes effect on the next request: role-membership writes bump the district's cache
epoch (records/cache_epochs.py), so no viewer built before them is reused.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import DISTRICT_ROLES, Invitation, RoleChange, RoleMembership, User
from accounts.services import EMAIL_LANGUAGES, invitation_token_hash

logger = logging.getLogger("accounts.staff")


def _log(actor: User, action: str, **ids) -> None:
    details = " ".join(f"{key}={value}" for key, value in sorted(ids.items()))
    logger.info("staff %s by user %s: %s", action, actor.pk, details)


def _record(actor: User, membership: RoleMembership, action: str) -> None:
    RoleChange.unscoped.create(
        district_id=membership.district_id,
        membership=membership,
        actor=actor,
        action=action,
        begin_date=membership.begin_date,
        end_date=membership.end_date,
    )


def _check_role(role: str, school, begin_date, end_date) -> None:
    problems = {}
    if role in DISTRICT_ROLES and school is not None:
        problems["school"] = _("A district role is held at no school: leave the school empty.")
    if role not in DISTRICT_ROLES and school is None:
        problems["school"] = _("Choose the school where this role is held.")
    if begin_date and end_date and end_date < begin_date:
        problems["end_date"] = _("The end date cannot be before the start date.")
    if problems:
        raise ValidationError(problems)


def _check_person(user: User) -> None:
    """Staff roles go to staff accounts. A provider's person reaches students only
    through the provider's grants, and a family's account only its own children: a
    role on either account would mix those routes with a school official's."""
    district_id = user.district_id
    account = User.objects.filter(pk=user.pk)
    if account.filter(provider_memberships__district_id=district_id).exists():
        raise ValidationError(
            _(
                "This person signs in for a service provider: a staff role needs a "
                "separate staff account (invite them with their work email)."
            )
        )
    if RoleMembership.unscoped.filter(district_id=district_id, user=user).exists():
        return  # a staff member who is also a parent keeps being given roles
    if (
        account.filter(guardian_links__district_id=district_id).exists()
        or account.filter(student_record__district_id=district_id).exists()
    ):
        raise ValidationError(
            _(
                "This is a family's account: a staff role needs a separate staff "
                "account (invite them with their work email)."
            )
        )


def role_assign(
    *, actor: User, user: User, role: str, school=None, begin_date=None, end_date=None
) -> RoleMembership:
    """Give ``user`` ``role`` (at ``school``) from ``begin_date`` to ``end_date``; a role
    held there before is renewed with the new dates. Provider and family accounts are
    refused (``_check_person``)."""
    _check_role(role, school, begin_date, end_date)
    _check_person(user)
    with transaction.atomic():
        membership, created = RoleMembership.unscoped.update_or_create(
            district_id=user.district_id,
            user=user,
            role=role,
            school=school,
            defaults={"begin_date": begin_date, "end_date": end_date},
        )
        _record(
            actor, membership, RoleChange.Action.GIVEN if created else RoleChange.Action.RENEWED
        )
    _log(
        actor,
        "role_assign" if created else "role_renew",
        user=user.pk,
        role=role,
        school=school.pk if school else None,
        membership=membership.pk,
    )
    return membership


def role_end(*, actor: User, membership: RoleMembership) -> RoleMembership:
    """The role ends today (the district's day): from tomorrow's first request it
    reaches no student."""
    today = membership.district.today()
    if membership.end_date is not None and membership.end_date <= today:
        raise ValidationError(_("This role has already ended."))
    membership.end_date = today
    if membership.begin_date and membership.begin_date > today:
        membership.begin_date = today
    with transaction.atomic():
        membership.save(update_fields=["end_date", "begin_date"])
        _record(actor, membership, RoleChange.Action.ENDED)
    _log(actor, "role_end", user=membership.user_id, membership=membership.pk)
    return membership


def staff_invite(
    *, actor: User, district, email: str, first_name: str, last_name: str, role: str, school=None
) -> User:
    """A new staff account with its first role, and an emailed link to choose a password
    (the invitation mechanism guardians use, with a staff member's email)."""
    _check_role(role, school, None, None)
    email = email.strip()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(
            {"email": _("Someone already has an account with this email: give them a role.")}
        )
    with transaction.atomic():
        user = new_account(
            district_id=district.pk, email=email, first_name=first_name, last_name=last_name
        )
        role_assign(actor=actor, user=user, role=role, school=school)
        staff_invitation_send(actor=actor, user=user)
    _log(actor, "staff_invite", user=user.pk)
    return user


def outside_account(
    *, district_id: int, email: str, first_name: str, last_name: str, staff_refusal: str
) -> User:
    """The account of someone outside the district's staff (a provider's person, a
    researcher): the district's existing account with this email, or a new one without a
    password. Refused: an email several accounts use, another district's account, and a
    staff member's (``staff_refusal`` says why: an outside party needs its own account)."""
    email = email.strip()
    users = list(User.objects.filter(email__iexact=email)[:2])
    if len(users) > 1:
        raise ValidationError({"email": _("Several accounts use this email address.")})
    if users:
        user = users[0]
        if user.district_id != district_id:
            raise ValidationError(
                {"email": _("This email address belongs to an account of another district.")}
            )
        if RoleMembership.unscoped.filter(district_id=district_id, user=user).exists():
            raise ValidationError({"email": staff_refusal})
        return user
    return new_account(
        district_id=district_id, email=email, first_name=first_name, last_name=last_name
    )


def new_account(*, district_id: int, email: str, first_name: str, last_name: str) -> User:
    """A new account of the district without a password: its person chooses one through
    an invitation or "Forgot your password?"."""
    user = User(
        username=unused_username(email),
        email=email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        district_id=district_id,
    )
    user.set_unusable_password()
    user.save()
    return user


def unused_username(email: str) -> str:
    base = email.lower()[:140]
    candidate, n = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def staff_invitation_send(*, actor: User, user: User) -> Invitation:
    """Void ``user``'s open invitations and email a fresh link, in English and Spanish."""
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        Invitation.unscoped.filter(
            district_id=user.district_id, user=user, used_at=None, voided_at=None
        ).update(voided_at=now)
        invitation = Invitation.unscoped.create(
            district_id=user.district_id,
            user=user,
            token_hash=invitation_token_hash(token),
            created_by=actor,
            created_at=now,
            expires_at=now + timedelta(days=settings.INVITATION_DAYS),
        )
        context = {
            "username": user.username,
            "district_name": user.district.name,
            "link": settings.SITE_URL + reverse("accounts:welcome", kwargs={"token": token}),
            "days": settings.INVITATION_DAYS,
        }
        subjects, bodies = [], []
        for language in EMAIL_LANGUAGES:
            with translation.override(language):
                subjects.append(
                    render_to_string("accounts/email/staff_invitation_subject.txt", context).strip()
                )
                bodies.append(
                    render_to_string("accounts/email/staff_invitation_body.txt", context).strip()
                )
        EmailMessage(
            subject=" / ".join(subjects),
            body="\n\n— — —\n\n".join(bodies) + "\n",
            to=[user.email],
        ).send()
    return invitation
