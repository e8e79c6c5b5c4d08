"""Leases: which worker is working on a queued job (an import, a CSV delivery, an extract,
a report release), so that a job runs once however often its message is delivered.

Celery acknowledges a message once its task has finished (``CELERY_TASK_ACKS_LATE``): a
worker that dies mid-task leaves its message to be handed to another worker, and the
broker may hand out a message twice. So a task first takes its job's lease, a PostgreSQL
session advisory lock, and holds it until it has recorded the outcome. PostgreSQL
releases the lock when the session ends, however it ends, and rolls the session's open
transaction back with it. Hence:

- a lease another session holds: a live worker is on the job; a second delivery leaves it;
- a job still marked running whose lease nobody holds: its worker died, and nothing of
  its unfinished transaction was applied; it can be run again from the start, or failed.

No clock is involved, so no heartbeat to write and none to misjudge. Leases nest within
a session (a task and the service it calls may both take one). SQLite (the demo) runs
tasks inline, one at a time: there every lease is granted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.models import QuerySet
from django.utils import timezone

logger = logging.getLogger(__name__)

# How long a job may sit queued, or marked running with nobody holding its lease, before
# the housekeeping beats fail it: past the broker's visibility timeout (after which a lost
# worker's message goes to another worker, which restarts or fails the job itself), plus
# a margin for that worker to pick it up. One still waiting then has lost its message.
LOST_MARGIN = timedelta(minutes=30)


def lost_after() -> timedelta:
    """How long after its start a job with no lease holder is taken for lost."""
    return timedelta(seconds=settings.CELERY_VISIBILITY_TIMEOUT) + LOST_MARGIN


# A message delivered this often without its task finishing is given up: its task keeps
# killing its worker (out of memory, a crash), and each redelivery would kill another.
MAX_DELIVERIES = 3


def delivered_too_often(task: str, message: str) -> bool:
    """Count a delivery of ``message`` (a Celery task id) to ``task``, in the shared cache
    (Redis), and say whether it has now come more than ``MAX_DELIVERIES`` times. A task
    that finishes is not delivered again, so only a task whose worker died counts up."""
    name = f"deliveries:{task}:{message}"
    cache.add(name, 0, timeout=int(2 * lost_after().total_seconds()))
    try:
        return cache.incr(name) > MAX_DELIVERIES
    except ValueError:  # expired in between: this is its first delivery that counts
        return False


def fail_lost(
    jobs: QuerySet,
    in_progress: Collection[str],
    fail: Callable[[object], object],
    *,
    now: datetime | None = None,
) -> int:
    """``fail`` each of ``jobs`` that no worker will finish: queued or building (a status
    of ``in_progress``), with nobody holding its lease, requested longer ago than the
    broker takes to hand a lost worker's message to another (``lost_after``). How many
    were failed."""
    cutoff = (now or timezone.now()) - lost_after()
    failed = 0
    lost = jobs.filter(status__in=in_progress, requested_at__lt=cutoff)
    for job in lost.order_by("pk"):
        with lease(job._meta.label_lower, job.pk) as held:
            job.refresh_from_db()
            if held and job.status in in_progress:
                fail(job)
                failed += 1
    return failed


def lease_name(kind: str, key) -> str:
    """The lease's name: the job's kind (a model label, or a name of its own) and key."""
    return f"{kind}:{key}"


@contextmanager
def lease(kind: str, key) -> Iterator[bool]:
    """Hold the lease on job ``(kind, key)`` while the block runs. Yields whether this
    session holds it: False when another session (a live worker) does."""
    if connection.vendor != "postgresql":
        yield True
        return
    name = lease_name(kind, key)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0)), pg_backend_pid()", [name]
        )
        held, backend = cursor.fetchone()
    try:
        yield held
    finally:
        if held:
            _release(name, backend)


def _release(name: str, backend: int) -> None:
    if connection.connection is None:
        return  # closed since: the session, and the lease, ended with it
    try:
        with connection.cursor() as cursor:
            # Only the session that took it: a reconnected one never held this lease.
            cursor.execute(
                "SELECT CASE WHEN pg_backend_pid() = %s "
                "THEN pg_advisory_unlock(hashtextextended(%s, 0)) END",
                [backend, name],
            )
    except DatabaseError as exc:
        # A broken transaction cannot run the unlock. Ending the session ends the lease:
        # a lease left behind would make its job look worked on for as long as we live.
        logger.warning(
            "Lease %s not released (%s): closing the connection", name, type(exc).__name__
        )
        connection.close()
