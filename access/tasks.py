"""Access jobs run by Celery: providers' CSV deliveries, and beat's housekeeping (each safe
to run twice, or twice at once: a message may be delivered again)."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from access import anchors, deliveries, grant_lifecycle
from access.models import CsvDelivery
from access.substitutes import end_finished_assignments
from records import partitions
from records.tenancy import district_of, system_scope, tenant_scope
from studentdata.celery import long_task


@shared_task(name="access.end_substitute_assignments")
@system_scope("end substitutes' assignments in every district")
def end_substitute_assignments() -> int:
    """Remove substitutes' section permissions once their assignments' end dates pass."""
    return end_finished_assignments()


@long_task(name="access.build_delivery", ignore_result=True)
def build_delivery(delivery_id: int) -> None:
    """Build a provider's OneRoster CSV delivery: the grant and the requester are checked
    again and the grant's viewer rebuilt here, hours after the request perhaps; once per
    delivery however often its message comes (``deliveries.delivery_build``)."""
    district_id = district_of(CsvDelivery, delivery_id)
    if district_id is None:
        return  # deleted since it was queued
    with tenant_scope(district_id):
        deliveries.delivery_build(delivery_id=delivery_id)


@shared_task(name="access.notify_ending_grants")
@system_scope("notify every district of ending grants")
def notify_ending_grants() -> int:
    """Tell district admins of active grants ending within 30 days (once per grant)."""
    return grant_lifecycle.notify_ending_grants()


@shared_task(name="access.process_ended_grants")
@system_scope("process every district's ended grants")
def process_ended_grants() -> int:
    """Ended or revoked grants: delete their deliveries' files, revoke the provider's
    tokens when nothing else is in force, tell the admins the attestation's due date."""
    return grant_lifecycle.process_ended_grants()


@shared_task(name="access.expire_deliveries")
@system_scope("expire every district's deliveries")
def expire_deliveries() -> int:
    """Delete the files of CSV deliveries whose download links have expired, and fail
    the deliveries whose build lost its worker and its message (so the grant may have a
    new one). Returns how many files were deleted."""
    deliveries.deliveries_expire_lost()
    return grant_lifecycle.expire_deliveries()


@shared_task(name="access.anchor_audit_chains")
@system_scope("anchor every district's audit chain")
def anchor_audit_chains() -> int:
    """Append each district's access-log chain head to the anchor file (access/anchors.py)."""
    return anchors.record_chain_heads()


@shared_task(name="access.drop_expired_reads")
def drop_expired_reads() -> int:
    """Drop the months of the access log's reads older than ACCESS_LOG_RETENTION_MONTHS
    (none if it is 0); disclosures are never dropped. The number of partitions dropped."""
    names = partitions.expired_partitions(
        timezone.now().date(), settings.ACCESS_LOG_RETENTION_MONTHS
    )
    for name in names:
        partitions.drop_partition(name)
    return len(names)
