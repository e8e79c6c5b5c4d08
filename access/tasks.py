"""Access jobs run by Celery beat."""

from celery import shared_task

from access.substitutes import end_finished_assignments


@shared_task(name="access.end_substitute_assignments")
def end_substitute_assignments() -> int:
    """Remove substitutes' section permissions once their assignments' end dates pass."""
    return end_finished_assignments()
