"""The Celery app. With no broker configured (the demo), tasks run inline."""

import functools
import logging
import os

from celery import Celery, Task, current_task, shared_task
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studentdata.settings")
logger = logging.getLogger(__name__)


class EntryScopedTask(Task):
    """Every task starts with no district and no system context in force, even when run
    inline inside a request (records/tenancy.py): it names its own."""

    def __call__(self, *args, **kwargs):
        from records.tenancy import entry_scope

        with entry_scope():
            return super().__call__(*args, **kwargs)


app = Celery("studentdata", task_cls=EntryScopedTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def long_task(**options):
    """``shared_task`` for a task that may run long (an import, a report release, an
    extract, a delivery): the long time limits (settings.py) instead of housekeeping's,
    and given up after ``MAX_DELIVERIES`` deliveries of one message (``records.leases``):
    a task that kills its worker (out of memory) is not handed to every worker in turn."""
    from django.conf import settings

    def decorate(run):
        @functools.wraps(run)
        def delivered(*args, **kwargs):
            from records import leases

            message = current_task.request.id if current_task else None
            if message and leases.delivered_too_often(options["name"], message):
                logger.error(
                    "%s: message %s delivered %s times without finishing; given up",
                    options["name"], message, leases.MAX_DELIVERIES,
                )  # fmt: skip
                return None
            return run(*args, **kwargs)

        return shared_task(
            soft_time_limit=settings.CELERY_LONG_TASK_SOFT_TIME_LIMIT,
            time_limit=settings.CELERY_LONG_TASK_TIME_LIMIT,
            **options,
        )(delivered)

    return decorate


# What beat runs (docker-compose's beat service).
app.conf.beat_schedule = {
    "expire-stale-imports": {"task": "records.expire_stale_imports", "schedule": 15 * 60},
    # Hourly, so an assignment ends within an hour of midnight in every district's zone.
    "end-substitute-assignments": {
        "task": "access.end_substitute_assignments",
        "schedule": 60 * 60,
    },
    # Providers' grants (access/grant_lifecycle.py): hourly, each idempotent.
    "notify-ending-grants": {"task": "access.notify_ending_grants", "schedule": 60 * 60},
    "process-ended-grants": {"task": "access.process_ended_grants", "schedule": 60 * 60},
    "expire-deliveries": {"task": "access.expire_deliveries", "schedule": 60 * 60},
    # Each district's access-log chain head, kept outside the database (access/anchors.py).
    "anchor-audit-chains": {
        "task": "access.anchor_audit_chains",
        "schedule": crontab(minute=30, hour=4),
    },
    # Report cards: hourly, each district built once in its own nightly hour (one message
    # per district).
    "publish-nightly-releases": {"task": "reports.publish_nightly_releases", "schedule": 60 * 60},
    # Research studies past their end date: closed, their keys destroyed.
    "close-ended-studies": {"task": "reports.close_ended_studies", "schedule": 60 * 60},
    # Extracts whose build lost its worker and its message: failed, so they can be asked again.
    "expire-lost-extracts": {"task": "reports.expire_lost_extracts", "schedule": 60 * 60},
    # Partitions of the record tables and the access log, made ahead (records/partitions.py).
    "create-partitions": {
        "task": "records.create_partitions",
        "schedule": crontab(hour=3, minute=0),
    },
    # Reads older than ACCESS_LOG_RETENTION_MONTHS, a month at a time; never disclosures.
    "drop-expired-reads": {
        "task": "access.drop_expired_reads",
        "schedule": crontab(hour=3, minute=15),
    },
    # States: daily at 11:00 UTC, after 2 a.m. in every US zone from Eastern to Hawaii (one
    # message per state).
    "publish-state-releases": {
        "task": "reports.publish_state_releases",
        "schedule": crontab(hour=11, minute=0),
    },
}
