"""Access jobs run by Celery beat."""

from celery import shared_task

from access import anchors, deliveries, grant_lifecycle
from access.substitutes import end_finished_assignments


@shared_task(name="access.end_substitute_assignments")
def end_substitute_assignments() -> int:
    """Remove substitutes' section permissions once their assignments' end dates pass."""
    return end_finished_assignments()


@shared_task(name="access.build_delivery", ignore_result=True)
def build_delivery(delivery_id: int) -> None:
    """Build a provider's OneRoster CSV delivery: the grant and the requester are checked
    again and the grant's viewer rebuilt here, hours after the request perhaps."""
    deliveries.delivery_build(delivery_id=delivery_id)


@shared_task(name="access.notify_ending_grants")
def notify_ending_grants() -> int:
    """Tell district admins of active grants ending within 30 days (once per grant)."""
    return grant_lifecycle.notify_ending_grants()


@shared_task(name="access.process_ended_grants")
def process_ended_grants() -> int:
    """Ended or revoked grants: delete their deliveries' files, revoke the provider's
    tokens when nothing else is in force, tell the admins the attestation's due date."""
    return grant_lifecycle.process_ended_grants()


@shared_task(name="access.expire_deliveries")
def expire_deliveries() -> int:
    """Delete the files of CSV deliveries whose download links have expired."""
    return grant_lifecycle.expire_deliveries()


@shared_task(name="access.anchor_audit_chains")
def anchor_audit_chains() -> int:
    """Append each district's access-log chain head to the anchor file (access/anchors.py)."""
    return anchors.record_chain_heads()
