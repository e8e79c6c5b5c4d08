"""The beat jobs around grants' ends, with frozen dates passed as arguments: the 30-day
notice, the clean-up of ended or revoked grants (files, tokens, the disposition
notice), and expired delivery links."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from oauth2_provider.models import AccessToken

from access import grant_lifecycle, tasks
from access.models import CsvDelivery, Grant
from accounts.models import RoleMembership
from studentdata.celery import app
from tests import factories as f

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def grant_of(district, *, provider=None, **fields) -> Grant:
    provider = provider or f.ProviderFactory(district=district)
    fields.setdefault("starts_on", TODAY - timedelta(days=200))
    fields.setdefault("ends_on", TODAY + timedelta(days=200))
    # The agreement's term covers the grant: a grant is in force only within it.
    agreement = f.AgreementFactory(
        provider=provider, term_start=fields["starts_on"], term_end=fields["ends_on"]
    )
    return f.GrantFactory(agreement=agreement, **fields)


def delivery_with_file(grant, *, expires_at=None) -> CsvDelivery:
    delivery = CsvDelivery.unscoped.create(
        district=grant.district,
        grant=grant,
        status=CsvDelivery.Status.READY,
        expires_at=expires_at or NOW + timedelta(days=7),
    )
    delivery.file.save("bundle.zip", ContentFile(b"zip"), save=True)
    return delivery


def token_for(provider) -> AccessToken:
    client = f.api_client_for(provider)
    return AccessToken.objects.create(
        application=client.application,
        token=f"token-{provider.pk}",
        expires=NOW + timedelta(hours=1),
        scope="read",
    )


def admin_address(world, slug="a"):
    return getattr(world, slug).users["district_admin"].email


# -- notify_ending_grants -------------------------------------------------------------


def test_grants_ending_within_30_days_are_announced_once_to_their_admins(world, mailoutbox):
    a = world.a
    ending = grant_of(a.district, ends_on=TODAY + timedelta(days=20), purpose="bus routing")
    last_day = grant_of(a.district, ends_on=TODAY + timedelta(days=30))
    grant_of(a.district, ends_on=TODAY + timedelta(days=31))  # not yet
    grant_of(a.district, ends_on=TODAY + timedelta(days=5), status=Grant.Status.REVOKED)
    grant_of(a.district, ends_on=TODAY + timedelta(days=5), status=Grant.Status.DRAFT)
    grant_of(a.district, ends_on=TODAY - timedelta(days=1))  # already ended
    other = grant_of(world.b.district, ends_on=TODAY + timedelta(days=10))

    assert grant_lifecycle.notify_ending_grants(today=TODAY, now=NOW) == 3
    by_grant = {
        grant.pk: grant.ending_notice_sent_at
        for grant in Grant.unscoped.filter(ending_notice_sent_at__isnull=False)
    }
    assert by_grant == {ending.pk: NOW, last_day.pk: NOW, other.pk: NOW}
    recipients = sorted(tuple(mail.to) for mail in mailoutbox)
    assert recipients == sorted(
        [(admin_address(world),), (admin_address(world),), (admin_address(world, "b"),)]
    )
    about = next(m for m in mailoutbox if "bus routing" in m.body)
    assert about.subject == f"Grant to {ending.provider.name} ends on 2026-03-30"
    assert "ends in 20 day(s)" in about.body
    for student in a.students.values():
        assert student.family_name not in about.body

    mailoutbox.clear()
    assert grant_lifecycle.notify_ending_grants(today=TODAY, now=NOW) == 0
    assert mailoutbox == []


def test_no_notice_is_marked_sent_when_the_district_has_no_admin_to_read_it(world, mailoutbox):
    grant = grant_of(world.a.district, ends_on=TODAY + timedelta(days=3))
    RoleMembership.unscoped.filter(user=world.a.users["district_admin"]).delete()
    assert grant_lifecycle.notify_ending_grants(today=TODAY, now=NOW) == 0
    grant.refresh_from_db()
    assert grant.ending_notice_sent_at is None and mailoutbox == []


# -- process_ended_grants -------------------------------------------------------------


def test_an_ended_grant_loses_its_files_and_tokens_and_the_admins_hear_when(world, mailoutbox):
    a = world.a
    grant = grant_of(a.district, ends_on=TODAY - timedelta(days=1))
    delivery = delivery_with_file(grant)
    name = delivery.file.name
    token = token_for(grant.provider)
    running = grant_of(a.district, purpose="still running")
    running_token = token_for(running.provider)

    assert grant_lifecycle.process_ended_grants(today=TODAY, now=NOW) == 1
    delivery.refresh_from_db()
    assert not delivery.file and not delivery.file.storage.exists(name)
    assert CsvDelivery.unscoped.filter(pk=delivery.pk).exists()  # the row stays
    assert not AccessToken.objects.filter(pk=token.pk).exists()
    assert AccessToken.objects.filter(pk=running_token.pk).exists()
    grant.refresh_from_db()
    running.refresh_from_db()
    assert grant.ended_processed_at == NOW and running.ended_processed_at is None
    (mail,) = mailoutbox
    assert mail.to == [admin_address(world)]
    due = (TODAY - timedelta(days=1) + timedelta(days=a.district.disposition_days)).isoformat()
    assert mail.subject == f"Disposition due by {due}: grant to {grant.provider.name}"
    assert "delete the data it received" in mail.body

    mailoutbox.clear()
    assert grant_lifecycle.process_ended_grants(today=TODAY, now=NOW) == 0
    assert mailoutbox == []


def test_tokens_stay_while_another_grant_of_the_provider_is_in_force(world):
    a = world.a
    ended = grant_of(a.district, ends_on=TODAY - timedelta(days=3))
    grant_of(a.district, provider=ended.provider)
    token = token_for(ended.provider)
    assert grant_lifecycle.process_ended_grants(today=TODAY, now=NOW) == 1
    assert AccessToken.objects.filter(pk=token.pk).exists()


def test_a_revoked_grant_is_processed_with_the_agreements_due_date(world, mailoutbox):
    grant = grant_of(
        world.a.district,
        status=Grant.Status.REVOKED,
        revoked_at=NOW - timedelta(days=2),
    )
    agreement = grant.agreement
    agreement.disposition_due = date(2026, 4, 1)
    agreement.disposition = "transfer"
    agreement.save()
    token = token_for(grant.provider)
    assert grant_lifecycle.process_ended_grants(today=TODAY, now=NOW) == 1
    assert not AccessToken.objects.filter(pk=token.pk).exists()
    (mail,) = mailoutbox
    assert mail.subject.startswith("Disposition due by 2026-04-01")
    assert "was revoked" in mail.body and "return the data it received" in mail.body
    assert (
        grant_lifecycle.ended_on(grant)
        == (NOW - timedelta(days=2)).astimezone(world.a.district.zone).date()
    )


def test_grants_in_force_and_drafts_are_left_alone(world, mailoutbox):
    a = world.a
    in_force = grant_of(a.district, ends_on=TODAY)  # its last day
    draft = grant_of(a.district, ends_on=TODAY - timedelta(days=5), status=Grant.Status.DRAFT)
    delivery = delivery_with_file(in_force)
    assert grant_lifecycle.process_ended_grants(today=TODAY, now=NOW) == 0
    delivery.refresh_from_db()
    assert delivery.file
    for grant in (in_force, draft):
        grant.refresh_from_db()
        assert grant.ended_processed_at is None
    assert mailoutbox == []


# -- expire_deliveries ----------------------------------------------------------------


def test_expired_links_lose_their_files_and_keep_their_rows(world):
    grant = grant_of(world.a.district)
    expired = delivery_with_file(grant, expires_at=NOW - timedelta(seconds=1))
    fresh = delivery_with_file(grant, expires_at=NOW + timedelta(hours=1))
    expired_name = expired.file.name
    assert grant_lifecycle.expire_deliveries(now=NOW) == 1
    expired.refresh_from_db()
    fresh.refresh_from_db()
    assert not expired.file and not fresh.file.storage.exists(expired_name)
    assert fresh.file and fresh.file.storage.exists(fresh.file.name)
    assert grant_lifecycle.expire_deliveries(now=NOW) == 0


def test_the_jobs_are_registered_and_scheduled():
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    for name in ("notify_ending_grants", "process_ended_grants", "expire_deliveries"):
        assert f"access.{name}" in scheduled
        assert getattr(tasks, name).name == f"access.{name}"
    assert tasks.build_delivery.name == "access.build_delivery"
