"""Report builds run by Celery: tonight's releases, and a district admin's preview."""

from __future__ import annotations

import logging

from celery import shared_task

from records.models import District
from records.tenancy import district_of, system_scope, tenant_scope
from reports import builds, extracts
from reports import state as state_module
from reports.models import Release, StudyExtract

logger = logging.getLogger(__name__)

# The district's local hour at which its nightly release is built: after the day's
# attendance is in and before anyone reads the morning's figures.
NIGHTLY_HOUR = 2


@shared_task(name="reports.publish_nightly_releases")
def publish_nightly_releases() -> int:
    """Run hourly: each district whose local time is in its nightly hour, and which has
    no nightly release of its date yet, gets one (published unless nothing changed).
    Returns how many districts were built."""
    built = 0
    for district in District.objects.order_by("pk"):
        if district.now().hour != NIGHTLY_HOUR or _built_tonight(district):
            continue
        try:
            with tenant_scope(district):
                builds.publish_nightly(district)
        except Exception:
            # One district's failure must not cost the others their release.
            logger.exception("the nightly report release of district %s failed", district.pk)
            continue
        built += 1
    return built


def _built_tonight(district: District) -> bool:
    with tenant_scope(district):
        return Release.objects.filter(kind=Release.Kind.NIGHTLY, as_of=district.today()).exists()


@shared_task(name="reports.build_preview", ignore_result=True)
def build_preview(district_id: int, user_id: int | None) -> None:
    """A district admin's "publish now": a preview they then publish or discard."""
    district = District.objects.get(pk=district_id)
    with tenant_scope(district):
        builds.build_release(district, kind=Release.Kind.ON_REQUEST, requested_by_id=user_id)


@shared_task(name="reports.publish_state_releases")
@system_scope("state report releases")
def publish_state_releases() -> int:
    """Run daily, after every district's nightly hour: each state whose districts
    published since its last state release gets a new one. Returns how many."""
    built = 0
    for state in District.objects.exclude(state="").values_list("state", flat=True).distinct():
        if not state_release_is_stale(state):
            continue
        try:
            build_state_release(state)
        except Exception:
            logger.exception("the state report release of %s failed", state)
            continue
        built += 1
    return built


def state_release_is_stale(state: str) -> bool:
    latest_district = (
        Release.unscoped.filter(district__state=state, status=Release.Status.PUBLISHED)
        .order_by("-published_at")
        .values_list("published_at", "school_year")
        .first()
    )
    if latest_district is None:
        return False
    latest_state = state_module.latest_state_release(state, latest_district[1])
    return latest_state is None or latest_state.published_at < latest_district[0]


@shared_task(name="reports.build_state_release", ignore_result=True)
@system_scope("a state report release")
def build_state_release(state: str) -> None:
    """A state release from the districts' latest releases of the current school year."""
    latest = (
        Release.unscoped.filter(district__state=state, status=Release.Status.PUBLISHED)
        .order_by("-school_year")
        .values_list("school_year", flat=True)
        .first()
    )
    if latest is not None:
        state_module.publish_state_release(state, latest)


@shared_task(name="reports.build_extract", ignore_result=True)
def build_extract(extract_id: int) -> None:
    """Build a study's de-identified extract: the study and the requester are checked
    again here, when the build starts."""
    district_id = district_of(StudyExtract, extract_id)
    if district_id is None:
        return  # deleted since it was queued
    with tenant_scope(district_id):
        extracts.extract_build(extract_id=extract_id)


@shared_task(name="reports.close_ended_studies")
@system_scope("close every district's ended studies")
def close_ended_studies() -> int:
    """Hourly: close studies whose agreement ended, destroying their keys (no pseudonym
    can be recomputed) and their extracts' files."""
    return extracts.close_ended_studies()
