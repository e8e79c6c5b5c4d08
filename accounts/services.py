"""Writes on accounts: guardian invitations and accepting them."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Invitation, User
from accounts.selectors import guardians_to_invite

# Who an invitation goes to is not known to read English or Spanish: it carries both.
EMAIL_LANGUAGES = ("en", "es")


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _invitation_email(*, user: User, token: str, expires_at) -> EmailMessage:
    link = settings.SITE_URL + reverse("accounts:welcome", kwargs={"token": token})
    context = {
        "username": user.username,
        "district_name": user.district.name,
        "link": link,
        "days": settings.INVITATION_DAYS,
        "expires_at": expires_at,
    }
    subjects, bodies = [], []
    for language in EMAIL_LANGUAGES:
        with translation.override(language):
            subjects.append(
                render_to_string("accounts/email/invitation_subject.txt", context).strip()
            )
            bodies.append(render_to_string("accounts/email/invitation_body.txt", context).strip())
    return EmailMessage(
        subject=" / ".join(subjects),
        body="\n\n— — —\n\n".join(bodies) + "\n",
        to=[user.email],
    )


def invitation_send(*, actor: User | None, user: User, connection=None) -> Invitation:
    """Void ``user``'s unused invitations, create a fresh one and email its link.

    ``actor`` is the district admin who asked, or None for the command line. The
    email names the district and the username, never a student.
    """
    if user.district_id is None or not user.email or not user.is_active:
        raise ValueError("Only an active user of a district with an email can be invited.")
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
        message = _invitation_email(user=user, token=token, expires_at=invitation.expires_at)
        message.connection = connection
        # Inside the transaction: an email that cannot be sent leaves no invitation behind.
        message.send()
    return invitation


def guardian_invitations_send(*, actor: User | None, district, resend: bool = False) -> int:
    """Invite every guardian of ``district`` who cannot sign in yet; the number sent.

    A guardian is invited when they are active, have an email and no usable password
    and, unless ``resend``, hold no unexpired invitation.
    """
    users = list(guardians_to_invite(district=district, resend=resend))
    if not users:
        return 0
    # One SMTP connection for the whole batch.
    with get_connection() as connection:
        for user in users:
            invitation_send(actor=actor, user=user, connection=connection)
    return len(users)


def invitation_accept(*, invitation: Invitation, form) -> User | None:
    """Set the password chosen in ``form`` (a valid SetPasswordForm) and use the invitation.

    Answers None when the invitation stopped being open meanwhile (used in another tab).
    """
    with transaction.atomic():
        locked = Invitation.unscoped.select_for_update().get(pk=invitation.pk)
        if locked.state != "open":
            return None
        user = form.save()
        locked.used_at = timezone.now()
        locked.save(update_fields=["used_at"])
        # Any other link still out there for this person stops working too.
        Invitation.unscoped.filter(
            district_id=locked.district_id, user_id=locked.user_id, used_at=None, voided_at=None
        ).update(voided_at=locked.used_at)
    return user


def password_reset_send(*, email: str, language: str) -> None:
    """Mail a one-time reset link to each active account at ``email`` (none: nothing).
    Run by a Celery task, so the request that asked does the same work whether or not
    the address is known: no answer, by its content or its time, tells."""
    from django.contrib.auth.forms import PasswordResetForm

    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        return
    site = urlsplit(settings.SITE_URL)
    with translation.override(language):
        form.save(
            domain_override=site.netloc,
            use_https=site.scheme == "https",
            subject_template_name="accounts/email/password_reset_subject.txt",
            email_template_name="accounts/email/password_reset_body.txt",
            # Links are built on SITE_URL, like the invitations', not on a request's Host.
            extra_email_context={"site_url": settings.SITE_URL},
        )
