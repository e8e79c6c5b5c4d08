"""Building, publishing and discarding report releases (REQUIREMENTS 12–15).

A build counts the population ``access.aggregates`` gives it, turns the facts into cells,
hides what the rules ask (primary cells, then complements until the LP audit, run
jointly with every release published earlier in the school year, proves each primary
cell at least the district's width wide), and stores what the public may read: counts,
percentages and codes, never a student row. Pages and the API read releases only.
"""

from __future__ import annotations

import datetime
import functools
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from records.models import District, School
from records.selectors import previous_school_year_start, school_year_bounds
from reports import published
from reports.cells import (
    DISTRICT,
    NOT_HELD,
    STATE,
    Cells,
    is_published,
    may_be_primary,
    not_reported,
    protection_parts,
    remembered_groups,
    school_groups,
    school_scope,
    split_key,
    split_measure,
)
from reports.ledger import Ledger
from reports.models import Release
from reports.selectors import Assessment
from reports.suppression import (
    Code,
    Interval,
    Table,
    below_n_mark,
    code_percent,
    is_primary,
    protect_in_parts,
)

logger = logging.getLogger(__name__)

# The mark shown in place of a complementary cell (explained in words on every page).
COMPLEMENTARY_MARK = "*"
# Measures published as a count, and those published as a percentage of another (an
# assessment's levels are percentages of the students assessed).
COUNTED = ("enrolled", "attendance.pop", "tested", "assessed", "english_progress.students")
PERCENT_OF = {
    "attendance.chronic": "attendance.pop",
    "assessed": "tested",
    "english_progress.made": "english_progress.students",
}


class ReleaseError(Exception):
    """A release cannot be built or published as asked; the message says why."""


def school_year_of(district: District, day: datetime.date) -> tuple[int, datetime.date]:
    """The school year ``day`` falls in (the calendar year it ends in) and its first day:
    the district's school-year session, else July 1 to June 30."""
    bounds = school_year_bounds(district_id=district.pk, today=day)
    if bounds:
        return bounds[1].year, bounds[0]
    first = datetime.date(day.year if day.month >= 7 else day.year - 1, 7, 1)
    return first.year + 1, first


def year_before_start(district: District, year_start: datetime.date) -> datetime.date:
    """First day of the school year before the one starting ``year_start``: the
    district's school-year session that ended last before it, else a year earlier."""
    found = previous_school_year_start(district_id=district.pk, before=year_start)
    if found is not None:
        return found
    try:
        return year_start.replace(year=year_start.year - 1)
    except ValueError:  # February 29
        return year_start.replace(year=year_start.year - 1, day=28)


def latest_published(district_id: int, school_year: int | None = None) -> Release | None:
    releases = Release.unscoped.filter(district_id=district_id, status=Release.Status.PUBLISHED)
    if school_year is not None:
        releases = releases.filter(school_year=school_year)
    return releases.order_by("-school_year", "-published_at", "-pk").first()


def create_release(
    district: District,
    cells: Cells,
    *,
    assessment: Assessment | None,
    kind: str,
    day: datetime.date,
    school_year: int,
    requested_by_id: int | None = None,
    build_key: str = "",
) -> Release:
    """A preview release of ``cells``: protected jointly with the school year's latest
    published release, and stored with what the public may read."""
    started = time.perf_counter()
    earlier = latest_published(district.pk, school_year)
    ledger = Ledger.from_json(earlier.ledger if earlier else None)
    protection = protect_cells(cells, ledger, district.min_cell_size, district.suppression_width)
    return Release.unscoped.create(
        district=district,
        school_year=school_year,
        as_of=day,
        kind=kind,
        continues=earlier,
        requested_by_id=requested_by_id,
        build_key=build_key,
        minimum_n=district.min_cell_size,
        width=district.suppression_width,
        content=_content(district, cells, protection.codes, assessment, day, school_year),
        ledger=ledger.after(
            protection.keys,
            protection.table.counts,
            protection.hidden,
            set(range(len(protection.keys))) - protection.published,
            groups=protection.groups,
        ).as_json(),
        table={
            **protection.table_json(),
            "days": {
                name: list(days) for name, days in cells.days.items() if name.startswith("d/")
            },
        },
        certificate=protection.certificate(),
        summary={**protection.summary(), "seconds": round(time.perf_counter() - started, 2)},
    )


@dataclass
class Protection:
    """A release's cells and what protecting them hid, with the audit's intervals."""

    table: Table
    keys: list[str]
    primary: set[int]
    hidden: set[int]
    known: set[int]  # shown by an earlier release with the same value
    intervals: dict[int, Interval]
    # The intervals are the attacker's own; else (a card protected in parts) each lies
    # inside the attacker's, which may be wider (reports/suppression.py protect_in_parts).
    exact: bool = True
    # The school year's groups of schools, for its next release: those this card was
    # protected in, one at a time, with the earlier ones (reports/cells.py
    # remembered_groups).
    groups: list[list[str]] = field(default_factory=list)

    @functools.cached_property
    def published(self) -> set[int]:
        """The cells a page shows (as a count or a percentage), hidden or not."""
        return {at for at, name in enumerate(self.keys) if is_published(name)}

    @property
    def codes(self) -> dict[str, Code]:
        """Each hidden cell's code: below n, or complementary."""
        return {
            self.keys[at]: Code.BELOW_MINIMUM_N if at in self.primary else Code.COMPLEMENTARY
            for at in self.hidden
        }

    def table_json(self) -> dict:
        """Every cell's true count and the sums, by position (never served)."""
        return {
            "keys": self.keys,
            "counts": list(self.table.counts),
            "sums": [[total, *parts] for total, parts in self.table.sums],
        }

    def certificate(self) -> dict[str, list]:
        """Each hidden cell's proven interval, ``[low, high]`` (``high`` null when nothing
        bounds it), by key; a cell an earlier release showed is known: its value twice."""
        certificate = {}
        for at in sorted(self.hidden):
            interval = self.intervals.get(at)
            if interval is None:
                value = self.table.counts[at]
                certificate[self.keys[at]] = [value, value]
                continue
            high = None if math.isinf(interval.high) else round(interval.high, 6)
            certificate[self.keys[at]] = [round(interval.low, 6), high]
        return certificate

    def summary(self) -> dict:
        # An unbounded interval (nothing caps the cell) is left out: None when all are.
        widths = [self.intervals[at].width for at in self.primary
                  if at in self.intervals and math.isfinite(self.intervals[at].width)]  # fmt: skip
        # Counted over the published cells: the unpublished are hidden by definition.
        hidden = self.hidden & self.published
        return {
            "cells": len(self.published),
            "primary": len(self.primary & self.published),
            "hidden": len(hidden),
            "students_in_hidden_cells": sum(self.table.counts[at] for at in hidden),
            "known_from_earlier_releases": len(self.known),
            "narrowest_primary_interval": round(min(widths), 6) if widths else None,
            "narrowest_is_exact": self.exact,
        }


def protect_cells(cells: Cells, ledger: Ledger, minimum_n: int, width: int) -> Protection:
    """Hide the primary cells, every cell an earlier release hid, and complements until
    the audit proves each primary cell ``width`` wide, crediting the attacker with every
    value an earlier release showed (reports/ledger.py)."""
    table, keys = cells.table()
    primary = {at for at, count in enumerate(table.counts)
               if is_primary(count, minimum_n) and may_be_primary(keys[at])}  # fmt: skip
    known = ledger.known(keys, table.counts)
    start = ledger.once_hidden(keys)
    # A large district's card, a group of schools at a time (a state's table is whole),
    # in the groups of the school year's earlier releases.
    groups = school_groups(keys, earlier=ledger.groups)
    protection = protect_table(table, keys, primary, known, start, width,
                               parts=protection_parts(keys, groups))  # fmt: skip
    protection.groups = remembered_groups(groups, ledger.groups)
    return protection


def protect_table(
    table: Table,
    keys: list[str],
    primary: set[int],
    known: set[int],
    start: set[int],
    width: int,
    *,
    fixed: set[int] = frozenset(),
    parts: list[list[int]] | None = None,
) -> Protection:
    """``protect`` with what earlier releases published: ``known`` cells are constants to
    the attacker (never complements), ``start`` cells stay hidden, ``fixed`` cells (other
    releases' own) are never picked. ``parts``: groups of cells protected one at a time
    (``protect_in_parts``); by default the table is protected whole."""
    try:
        hidden, intervals, exact = protect_in_parts(
            table, parts or [], primary - known, width, start=start - known,
            fixed=known | fixed, cost=hiding_costs(keys, table.counts),
        )  # fmt: skip
    except RuntimeError as error:
        raise ReleaseError(
            gettext("The report cards cannot be protected: %(error)s.") % {"error": error}
        ) from error
    # A primary cell an earlier release showed (the minimum n rose since) is public
    # already, yet still hidden here, as rule 12 asks; so is every cell hidden before.
    hidden |= primary | start
    return Protection(table, keys, primary, hidden, known, intervals, exact=exact)


def _content(
    district: District,
    cells: Cells,
    codes: Mapping[str, Code],
    assessment: Assessment | None,
    day: datetime.date,
    school_year: int,
) -> dict:
    """What the public reads: every published value by key, and the names around them."""
    school_ids = {int(scope[1:]) for scope in _scopes(cells) if scope != DISTRICT}
    schools = School.unscoped.filter(district=district, pk__in=school_ids)
    return {
        "district": {"id": district.pk, "name": district.name, "state": district.state},
        "school_year": school_year,
        "as_of": day.isoformat(),
        "minimum_n": district.min_cell_size,
        "schools": {
            school_scope(school.pk): {"id": school.pk, "name": school.name}
            for school in schools.order_by("name")
        },
        "assessment": {
            "name": assessment.name,
            "first_day": assessment.first_day.isoformat(),
            "last_day": assessment.last_day.isoformat(),
        }
        if assessment
        else None,
        "not_held": list(NOT_HELD),
        "not_reported": not_reported(cells.counts),
        "values": published_values(cells, codes, district.min_cell_size),
    }


def _scopes(cells: Cells) -> set[str]:
    return {name.split("/", 1)[0] for name in cells.counts}


def published_values(cells: Cells, codes: Mapping[str, Code], minimum_n: int) -> dict[str, list]:
    """``key -> [text, code]``: each count published as a count, each numerator as a
    percentage of its denominator (coded near 0% and 100%), each hidden value as its mark
    and code. A percentage is shown only when both its counts are."""
    values: dict[str, list] = {}

    def mark(name: str) -> list | None:
        code = codes.get(name)
        if code is None:
            return None
        text = below_n_mark(minimum_n) if code == Code.BELOW_MINIMUM_N else COMPLEMENTARY_MARK
        return [text, code.value]

    for name, count in cells.counts.items():
        scope, measure, row = split_key(name)
        subject, part = split_measure(measure)
        if part in COUNTED:
            values[name] = mark(name) or [str(count), None]
        whole_part = PERCENT_OF.get(part) or ("assessed" if subject and part.startswith("level")
                                              else None)  # fmt: skip
        if whole_part is None:
            continue
        whole = f"{scope}/{f'{subject}.{whole_part}' if subject else whole_part}/{row}"
        values[f"{scope}/{measure}.percent/{row}"] = (
            mark(name) or mark(whole) or _percent(count, cells.counts[whole])
        )
    for name, (present, enrolled) in cells.days.items():
        scope, _, row = split_key(name)
        students = f"{scope}/attendance.pop/{row}"
        if students in cells.counts:
            values[name] = mark(students) or (
                _percent(present, enrolled, group_size=cells.counts[students])
                if enrolled
                else ["–", None]
            )
    return values


# How much more it costs a reader to lose a cell than its count says: an "all students"
# row is what most readers come for, a district figure stands for every school, and a
# denominator carries every percentage of its row (the students assessed carry every
# level's).
ALL_STUDENTS_WEIGHT, DISTRICT_WEIGHT = 8, 4
DENOMINATOR_WEIGHTS = {"attendance.pop": 2, "tested": 2, "assessed": 3,
                       "english_progress.students": 2}  # fmt: skip


def hiding_costs(keys: list[str], counts: list[int]) -> list[float]:
    """What hiding each cell costs: its students, weighted (complements are chosen to
    hide the fewest students, totals and denominators last)."""
    costs = []
    for name, count in zip(keys, counts, strict=True):
        scope, measure, row = split_key(name)
        part = split_measure(measure)[1]
        weight = ALL_STUDENTS_WEIGHT if row == "all" else 1
        weight *= DISTRICT_WEIGHT if scope in (DISTRICT, STATE) else 1
        weight *= DENOMINATOR_WEIGHTS.get(part, 1)
        # A cell no page shows costs nothing to hide: picked first as a complement. (Not
        # hidden from the start: that makes every block larger, and the audit, which
        # counts an unhidden cell as known, stays on the safe side.)
        costs.append((count + 1) * weight if is_published(name) else 0)
    return costs


def _percent(numerator: int, denominator: int, *, group_size: int | None = None) -> list:
    if denominator == 0:
        return ["–", None]  # nobody to count: no rate, and nothing hidden
    percent = code_percent(numerator, denominator, group_size=group_size)
    return [percent.text, percent.code.value if percent.code else None]


@transaction.atomic
def publish(release: Release) -> Release:
    """Publish a preview. Only the preview built on the latest published release may be
    published: one built before another was published missed it in its joint audit."""
    release = Release.unscoped.select_for_update().get(pk=release.pk)
    if release.status != Release.Status.PREVIEW:
        raise ReleaseError(
            gettext("This release is %(status)s.")
            % {"status": release.get_status_display().lower()}
        )
    latest = latest_published(release.district_id, release.school_year)
    if latest is not None and latest.pk != release.continues_id:
        raise ReleaseError(
            gettext("Another release was published since this preview: build it again.")
        )
    release.status, release.published_at = Release.Status.PUBLISHED, timezone.now()
    release.save(update_fields=["status", "published_at"])
    # This process shows the new release at once (and again once committed, in case a
    # request between the two looked the latest up); other processes within seconds.
    published.forget_latest(release.district_id)
    transaction.on_commit(lambda: published.forget_latest(release.district_id))
    logger.info("published report release %s of district %s", release.pk, release.district_id)
    return release


def discard(release: Release) -> None:
    if release.status != Release.Status.PREVIEW:
        raise ReleaseError(gettext("Only a preview may be discarded."))
    release.status = Release.Status.DISCARDED
    release.save(update_fields=["status"])
