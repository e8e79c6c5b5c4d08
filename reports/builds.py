"""A report build: the population ``access/`` gives it, counted into cells, protected and
stored as a preview release (reports/services.py). The one place a build asks who is
counted; nothing here reads a student table itself."""

from __future__ import annotations

import datetime

from django.db import transaction

from access.aggregates import report_population
from records import leases
from records.models import District, GradeLevel
from reports import services
from reports.cells import Cells, build_cells
from reports.models import Release
from reports.selectors import Assessment, report_facts

GRADES: tuple[str, ...] = tuple(GradeLevel.values)


def build_release(
    district: District,
    *,
    kind: str,
    day: datetime.date | None = None,
    requested_by_id: int | None = None,
    build_key: str = "",
) -> Release:
    """A preview release of ``district``'s report cards on ``day`` (the district's today)."""
    day = day or district.today()
    school_year, year_start = services.school_year_of(district, day)
    cells, assessment = count_cells(district, day, year_start)
    return services.create_release(
        district, cells, assessment=assessment, kind=kind, day=day, school_year=school_year,
        requested_by_id=requested_by_id, build_key=build_key,
    )  # fmt: skip


def build_preview_once(
    district: District, *, build_key: str, requested_by_id: int | None = None
) -> Release | None:
    """A district admin's preview, built once for the message ``build_key`` names: a
    message delivered again while a worker builds it, or after, builds nothing. Stored
    with one INSERT at the end, so a worker lost midway left nothing to find."""
    with leases.lease("reports.release-build", build_key) as held:
        if not held or Release.unscoped.filter(district=district, build_key=build_key).exists():
            return None
        return build_release(
            district, kind=Release.Kind.ON_REQUEST, requested_by_id=requested_by_id,
            build_key=build_key,
        )  # fmt: skip


def count_cells(
    district: District, day: datetime.date, year_start: datetime.date
) -> tuple[Cells, Assessment | None]:
    """The cells of ``district``'s report card on ``day``, counted from the population
    ``access/`` gives, and the assessment its levels are of."""
    year_before_start = services.year_before_start(district, year_start)
    counted = report_facts(
        report_population(district, day), district_id=district.pk, year_start=year_start,
        year_before_start=year_before_start, day=day,
    )  # fmt: skip
    subjects = sorted({subject for fact in counted.facts for subject in fact.levels})
    cells = build_cells(counted.facts, grade_order=GRADES, subjects=subjects,
                        english_progress=counted.english_proficiency_held)  # fmt: skip
    return cells, counted.assessment


def nightly_built(district: District, day: datetime.date) -> bool:
    return Release.unscoped.filter(district=district, kind=Release.Kind.NIGHTLY, as_of=day).exists()


def publish_nightly_once(district: District) -> Release | None:
    """Tonight's release, unless a worker is building it or it was built: a message
    delivered twice, or a district queued twice, builds one. Built and published in one
    transaction, so a worker lost midway leaves nothing and the next delivery builds it."""
    with leases.lease("reports.nightly", district.pk) as held:
        if not held or nightly_built(district, district.today()):
            return None
        with transaction.atomic():
            return publish_nightly(district)


def publish_nightly(district: District) -> Release | None:
    """Tonight's release, published unless its published values are the same as the
    latest release's: then it is deleted (it was never public, and a night without
    changes should not cost a release's storage), and the latest stays current."""
    release = build_release(district, kind=Release.Kind.NIGHTLY)
    latest = release.continues
    if latest is not None and latest.content["values"] == release.content["values"]:
        release.delete()
        return None
    return services.publish(release)
