"""Report builds run by Celery: tonight's releases, and a district admin's preview."""

from __future__ import annotations

import logging

from celery import shared_task

from records import leases
from records.models import District
from records.tenancy import district_of, system_scope, tenant_scope
from reports import builds, extracts
from reports import state as state_module
from reports.models import Release, StateRelease, StudyExtract
from studentdata.celery import long_task

logger = logging.getLogger(__name__)

# The district's local hour at which its nightly release is built: after the day's
# attendance is in and before anyone reads the morning's figures.
NIGHTLY_HOUR = 2


@shared_task(name="reports.publish_nightly_releases")
def publish_nightly_releases() -> int:
    """Run hourly: each district whose local time is in its nightly hour, and which has
    no nightly release of its date yet, gets a message of its own (a worker lost costs
    one district's release, built again when its message is delivered again). Returns
    how many districts were queued."""
    queued = 0
    for district in District.objects.order_by("pk"):
        if district.now().hour != NIGHTLY_HOUR:
            continue
        day = district.today()
        with tenant_scope(district):
            if builds.nightly_built(district, day):
                continue
        try:
            publish_nightly_release.delay(district.pk, day.isoformat())
        except Exception:
            # One district's failure (run inline, or a broker refusing) must not cost the
            # others their release.
            logger.exception("the nightly report release of district %s failed", district.pk)
            continue
        queued += 1
    return queued


@long_task(name="reports.publish_nightly_release", ignore_result=True)
def publish_nightly_release(district_id: int, as_of: str) -> None:
    """One district's release of the night ``as_of``, built once however often its
    message comes (``builds.publish_nightly_once``); a message of a night past does
    nothing."""
    district = District.objects.filter(pk=district_id).first()
    if district is None or district.today().isoformat() != as_of:
        return
    with tenant_scope(district):
        builds.publish_nightly_once(district)


@long_task(name="reports.build_preview", bind=True, ignore_result=True)
def build_preview(self, district_id: int, user_id: int | None) -> None:
    """A district admin's "publish now": a preview they then publish or discard, one per
    message (its id is the release's ``build_key``)."""
    district = District.objects.get(pk=district_id)
    with tenant_scope(district):
        if self.request.id:
            builds.build_preview_once(district, build_key=self.request.id, requested_by_id=user_id)
        else:  # called as a function, with no message to key it by
            builds.build_release(district, kind=Release.Kind.ON_REQUEST, requested_by_id=user_id)


@shared_task(name="reports.publish_state_releases")
@system_scope("state report releases")
def publish_state_releases() -> int:
    """Run daily, after every district's nightly hour: each state whose districts
    published since its last state release gets a message of its own. Returns how many
    states were queued."""
    queued = 0
    for state in District.objects.exclude(state="").values_list("state", flat=True).distinct():
        if not state_release_is_stale(state):
            continue
        try:
            build_state_release.delay(state, only_if_stale=True)
        except Exception:
            logger.exception("the state report release of %s failed", state)
            continue
        queued += 1
    return queued


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


@long_task(name="reports.build_state_release", bind=True, ignore_result=True)
@system_scope("a state report release")
def build_state_release(self, state: str, only_if_stale: bool = False) -> None:
    """A state release from the districts' latest releases of the current school year:
    one per message (its id is the release's ``build_key``), one build of a state at a
    time, and none when ``only_if_stale`` and nothing was published since the last."""
    build_key = self.request.id or ""
    with leases.lease("reports.state-release", state) as held:
        if not held:
            logger.warning("the state report release of %s is being built already", state)
            return
        if build_key and StateRelease.objects.filter(build_key=build_key).exists():
            return
        if only_if_stale and not state_release_is_stale(state):
            return
        latest = (
            Release.unscoped.filter(district__state=state, status=Release.Status.PUBLISHED)
            .order_by("-school_year")
            .values_list("school_year", flat=True)
            .first()
        )
        if latest is not None:
            state_module.publish_state_release(state, latest, build_key=build_key)


@long_task(name="reports.build_extract", ignore_result=True)
def build_extract(extract_id: int) -> None:
    """Build a study's de-identified extract: the study and the requester are checked
    again here, when the build starts; once per extract (``extracts.extract_build``)."""
    district_id = district_of(StudyExtract, extract_id)
    if district_id is None:
        return  # deleted since it was queued
    with tenant_scope(district_id):
        extracts.extract_build(extract_id=extract_id)


@shared_task(name="reports.expire_lost_extracts")
@system_scope("fail every district's lost extract builds")
def expire_lost_extracts() -> int:
    """Hourly: extracts whose build lost its worker and its message are failed, so the
    study's researchers may ask again."""
    return extracts.extracts_expire_lost()


@shared_task(name="reports.close_ended_studies")
@system_scope("close every district's ended studies")
def close_ended_studies() -> int:
    """Hourly: close studies whose agreement ended, destroying their keys (no pseudonym
    can be recomputed) and their extracts' files."""
    return extracts.close_ended_studies()
