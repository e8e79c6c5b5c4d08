"""What beat does around grants' ends: notices, clean-up, expired links.

Access never waits for these jobs: a grant stops by its dates (``access.providers``),
and a download checks the grant and the link's date itself. These jobs tell the
district admins in time, remove files nobody may fetch any more, and revoke the
provider's tokens once no grant of theirs is in force. Each takes ``today`` / ``now``
so that tests freeze time by argument, and each is safe to run again.

Emails are plain text and carry no student data: the provider, the grant's purpose,
its dates, the agreement's reference.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from oauth2_provider.models import AccessToken, RefreshToken

from access.deliveries import deliveries_with_files, delivery_files_delete
from access.models import ApiClient, Grant
from access.providers import active_grants
from accounts.models import Role, RoleMembership
from records.models import District, active_on_q

NOTICE_DAYS = 30
DISPOSITION_WORDS = {
    "delete": "delete the data it received",
    "transfer": "return the data it received to the district",
}


def _today(district: District, today: date | None, now: datetime) -> date:
    return today or district.today(at=now)


def district_admin_emails(district: District, today: date) -> list[str]:
    """The addresses of the district's admins holding the role today, active accounts."""
    rows = (
        RoleMembership.unscoped.filter(
            district=district,
            role=Role.DISTRICT_ADMIN,
            school__isnull=True,
            user__is_active=True,
            user__district=district,
        )
        .filter(active_on_q(today))
        .exclude(user__email="")
        .values_list("user__email", flat=True)
        .distinct()
    )
    return sorted(rows)


def _grant_lines(grant: Grant) -> list[str]:
    agreement = grant.agreement
    reference = f" ({agreement.reference})" if agreement.reference else ""
    return [
        f"Provider: {grant.provider.name}",
        f"Purpose: {grant.purpose}",
        f"Agreement: {agreement.title}{reference}",
        f"Grant: {grant.pk}, from {grant.starts_on.isoformat()} to {grant.ends_on.isoformat()}",
    ]


def notify_ending_grants(*, today: date | None = None, now: datetime | None = None) -> int:
    """Active grants ending within 30 days, not yet announced: email the district's
    admins and note the notice. Returns how many grants were announced."""
    now = now or timezone.now()
    latest = (today or now.date()) + timedelta(days=NOTICE_DAYS + 1)  # a zone's day ahead
    candidates = (
        Grant.unscoped.filter(
            status=Grant.Status.ACTIVE, ending_notice_sent_at__isnull=True, ends_on__lte=latest
        )
        .select_related("district", "provider", "agreement")
        .order_by("district_id", "ends_on", "pk")
    )
    sent = 0
    for grant in candidates:
        day = _today(grant.district, today, now)
        if not day <= grant.ends_on <= day + timedelta(days=NOTICE_DAYS):
            continue
        recipients = district_admin_emails(grant.district, day)
        if not recipients:
            continue  # announced once someone can read it
        days_left = (grant.ends_on - day).days
        body = "\n".join(
            [
                f"A data-sharing grant of {grant.district.name} ends in {days_left} day(s), "
                f"on {grant.ends_on.isoformat()}.",
                "",
                *_grant_lines(grant),
                "",
                "After that date the provider receives nothing more under it. To continue, "
                "make a new grant before then. Once it ends, the provider must attest the "
                "disposition of the data.",
            ]
        )
        with transaction.atomic():
            if not _claim(grant, ending_notice_sent_at__isnull=True):
                continue  # announced since, or being announced by another run of this job
            send_mail(
                f"Grant to {grant.provider.name} ends on {grant.ends_on.isoformat()}",
                body,
                settings.DEFAULT_FROM_EMAIL,
                recipients,
            )
            Grant.unscoped.filter(pk=grant.pk).update(ending_notice_sent_at=now)
        sent += 1
    return sent


def _claim(grant: Grant, **still) -> bool:
    """Lock the grant if it is ``still`` as read, for the rest of the transaction. Two
    runs of a job at once (a message delivered twice) do each grant once: the second
    skips the grant the first holds, and finds it done after."""
    return (
        Grant.unscoped.select_for_update(skip_locked=True)
        .filter(pk=grant.pk, **still)
        .values_list("pk", flat=True)
        .first()
        is not None
    )


def ended_on(grant: Grant) -> date:
    """The day a grant's access ended: its end date, or earlier when revoked."""
    if grant.status == Grant.Status.REVOKED and grant.revoked_at is not None:
        return min(grant.ends_on, grant.district.today(at=grant.revoked_at))
    return grant.ends_on


def disposition_due(grant: Grant) -> date:
    """When the provider's disposition attestation is due: the agreement's date, or the
    district's number of days after the grant ended."""
    if grant.agreement.disposition_due:
        return grant.agreement.disposition_due
    return ended_on(grant) + timedelta(days=grant.district.disposition_days)


def process_ended_grants(*, today: date | None = None, now: datetime | None = None) -> int:
    """Grants past their end date, or revoked, not yet processed: delete their CSV
    deliveries' files (the rows stay), revoke the provider's OAuth tokens when no other
    grant of theirs is in force, email the district's admins when the disposition
    attestation is due. Returns how many grants were processed."""
    now = now or timezone.now()
    latest = today or (now.date() + timedelta(days=1))  # a zone's day ahead
    candidates = (
        Grant.unscoped.filter(ended_processed_at__isnull=True)
        .filter(Q(status=Grant.Status.REVOKED) | Q(status=Grant.Status.ACTIVE, ends_on__lt=latest))
        .select_related("district", "provider", "agreement")
        .order_by("district_id", "pk")
    )
    processed = 0
    for grant in candidates:
        day = _today(grant.district, today, now)
        if grant.status == Grant.Status.ACTIVE and grant.ends_on >= day:
            continue
        with transaction.atomic():
            if not _claim(grant, ended_processed_at__isnull=True):
                continue
            delivery_files_delete(deliveries_with_files(district_id=grant.district_id, grant=grant))
            others = active_grants(grant.district, grant.provider_id, day).exclude(pk=grant.pk)
            if not others.exists():
                _revoke_tokens(grant)
            recipients = district_admin_emails(grant.district, day)
            if recipients:
                _send_disposition_notice(grant, recipients)
            Grant.unscoped.filter(pk=grant.pk).update(ended_processed_at=now)
        processed += 1
    return processed


def _revoke_tokens(grant: Grant) -> None:
    applications = ApiClient.unscoped.filter(
        district_id=grant.district_id, provider_id=grant.provider_id
    ).values("application_id")
    RefreshToken.objects.filter(application_id__in=applications).delete()
    AccessToken.objects.filter(application_id__in=applications).delete()


def _send_disposition_notice(grant: Grant, recipients: list[str]) -> None:
    due = disposition_due(grant)
    how = DISPOSITION_WORDS.get(grant.agreement.disposition, DISPOSITION_WORDS["delete"])
    ended = "was revoked" if grant.status == Grant.Status.REVOKED else "has ended"
    body = "\n".join(
        [
            f"A data-sharing grant of {grant.district.name} {ended} "
            f"(access ended on {ended_on(grant).isoformat()}).",
            "",
            *_grant_lines(grant),
            "",
            f"Under the agreement the provider must {how} and attest it by "
            f"{due.isoformat()}. Record the attestation when it arrives.",
            "The provider's CSV deliveries of this grant have been deleted from studentdata.",
        ]
    )
    send_mail(
        f"Disposition due by {due.isoformat()}: grant to {grant.provider.name}",
        body,
        settings.DEFAULT_FROM_EMAIL,
        recipients,
    )


def expire_deliveries(*, now: datetime | None = None) -> int:
    """Delete the files of deliveries whose links have expired; the rows stay."""
    now = now or timezone.now()
    return delivery_files_delete(deliveries_with_files(expires_at__lte=now))
