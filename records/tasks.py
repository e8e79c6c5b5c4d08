"""Celery tasks of the records app. They take ids, re-check access, and call a service."""

from __future__ import annotations

import logging
import traceback

from celery import shared_task
from django.db import connection
from django.utils import timezone

from access.districts import may_manage_district
from access.viewer import viewer_for
from records import partitions
from records.models import ImportRun
from records.services import (
    ABANDONED_MESSAGE,
    FAILED_MESSAGE,
    import_run_execute,
    import_run_fail,
    import_run_lease,
    import_runs_expire_stale,
)
from records.tenancy import district_of, system_scope, tenant_scope
from studentdata.celery import long_task

logger = logging.getLogger(__name__)


@long_task(name="records.run_import", ignore_result=True)
def run_import(run_id: int) -> None:
    """Run a queued import if the person who uploaded it still manages its district.

    Once, however often its message comes: the worker holds the run's lease from here to
    the end (``import_run_execute``), and a delivery that finds it held does nothing.
    Whatever stops it, the run ends: an exception (storing the outcome included) fails
    the run with a message that quotes nothing of the file, never leaves it "Importing".
    """
    district_id = district_of(ImportRun, run_id)
    if district_id is None:
        logger.warning("Import run %s does not exist", run_id)
        return
    with tenant_scope(district_id), import_run_lease(run_id) as held:
        if not held:
            logger.warning("Import run %s is being run by another worker", run_id)
            return
        try:
            _run_import(run_id)
        except Exception as exc:
            # An exception's text can quote the file's rows: log where it failed, not what.
            logger.error(
                "Import run %s stopped with %s:\n%s",
                run_id,
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()  # a lost connection is opened again
            try:
                import_run_fail(run_id=run_id, message=FAILED_MESSAGE)
            except Exception as again:
                logger.error("Import run %s not marked failed: %s", run_id, type(again).__name__)


def _run_import(run_id: int) -> None:
    run = ImportRun.objects.select_related("started_by").get(pk=run_id)
    # Hours may pass between upload and run: a role ended since then ends the run too.
    viewer = viewer_for(run.started_by)
    if not may_manage_district(viewer) or viewer.district_id != run.district_id:
        import_run_fail(run_id=run_id, message=ABANDONED_MESSAGE)
        return
    import_run_execute(run_id=run_id)


@shared_task(name="records.expire_stale_imports", ignore_result=True)
@system_scope("expire every district's stale imports")
def expire_stale_imports() -> None:
    """Beat, every 15 minutes: a run no worker will finish (its message lost with its
    worker) is failed and its file deleted."""
    expired = import_runs_expire_stale()
    if expired:
        logger.warning("Failed %s import run(s) their worker lost", expired)


@shared_task(name="records.create_partitions")
def create_partitions() -> int:
    """Every partitioned table's partitions for this period and the next ones
    (records/partitions.py); the number made. Daily, so a month is made weeks ahead."""
    return len(partitions.ensure_partitions(timezone.now().date()))
