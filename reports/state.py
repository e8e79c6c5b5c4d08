"""A state's report card: each cell the sum of the same cell over the state's districts,
read from their latest published releases (never from student rows).

A state total is one more sum an attacker can use: with every district's cell shown but
one, the total gives that one away. So the state's cells are protected together with
every district's whole published table (their schools included): the districts' shown
values are known constants, their hidden cells stay hidden and are never changed, and
only state cells are hidden as complements. Each state release is also audited jointly
with the state's earlier releases of the school year (reports/ledger.py).
"""

from __future__ import annotations

import datetime
import logging
import time

from django.db import transaction
from django.utils import timezone

from records.models import District
from reports import published
from reports.cells import (
    DISTRICT,
    NOT_HELD,
    STATE,
    Cells,
    is_published,
    may_be_primary,
    not_reported,
)
from reports.ledger import Ledger
from reports.models import Release, StateRelease
from reports.services import (
    ReleaseError,
    latest_published,
    protect_table,
    published_values,
    split_key,
)
from reports.suppression import is_primary

logger = logging.getLogger(__name__)


def district_scope(district_id: int) -> str:
    """A district's own cells in a state table (``d`` is every district's in its own)."""
    return f"D{district_id}"


def latest_state_release(state: str, school_year: int | None = None) -> StateRelease | None:
    releases = StateRelease.objects.filter(state=state, status=Release.Status.PUBLISHED)
    if school_year is not None:
        releases = releases.filter(school_year=school_year)
    return releases.order_by("-school_year", "-published_at", "-pk").first()


def district_releases(state: str, school_year: int) -> list[Release]:
    """The latest published release of the school year of each district of ``state``."""
    found = []
    for district in District.objects.filter(state=state).order_by("pk"):
        release = latest_published(district.pk, school_year)
        if release is not None and release.table:
            found.append(release)
    return found


@transaction.atomic
def publish_state_release(state: str, school_year: int, *, build_key: str = "") -> StateRelease:
    """Build, protect and publish ``state``'s report card from its districts' releases,
    in one transaction (a worker lost midway leaves nothing). ``build_key`` names the
    message that asked for it (reports/tasks.py)."""
    started = time.perf_counter()
    releases = district_releases(state, school_year)
    if not releases:
        raise ReleaseError(f"No district of {state} has a report card for {school_year}.")
    cells, hidden_keys = _state_cells(releases)
    table, keys = cells.table()
    minimum_n = max(release.minimum_n for release in releases)
    own = {at for at, name in enumerate(keys) if split_key(name)[0] == STATE}
    districts_side = set(range(len(keys))) - own
    hidden_outside = {at for at in districts_side if keys[at] in hidden_keys}
    earlier = latest_state_release(state, school_year)
    ledger = Ledger.from_json(earlier.ledger if earlier else None)
    primary = {at for at in own | hidden_outside
               if is_primary(table.counts[at], minimum_n) and may_be_primary(keys[at])}  # fmt: skip
    protection = protect_table(
        table, keys, primary,
        known=(districts_side - hidden_outside) | (ledger.known(keys, table.counts) & own),
        start=hidden_outside | (ledger.once_hidden(keys) & own),
        width=max(release.width for release in releases), fixed=districts_side,
    )  # fmt: skip
    own_keys = [keys[at] for at in sorted(own)]
    hidden = {at for at, name in enumerate(own_keys) if name in protection.codes}
    state_cells = Cells(counts={name: cells.counts[name] for name in own_keys})
    state_cells.days = {name: days for name, days in cells.days.items()
                        if split_key(name)[0] == STATE}  # fmt: skip
    codes = {name: protection.codes[name] for name in own_keys if name in protection.codes}
    certificate = protection.certificate()
    values = published_values(state_cells, codes, minimum_n)
    as_of = max(release.as_of for release in releases)
    state_release = StateRelease.objects.create(
        state=state,
        school_year=school_year,
        build_key=build_key,
        as_of=as_of,
        published_at=timezone.now(),
        releases={str(release.district_id): release.pk for release in releases},
        minimum_n=minimum_n,
        width=max(release.width for release in releases),
        content=_content(state, school_year, as_of, releases, values),
        ledger=ledger.after(
            own_keys,
            [cells.counts[name] for name in own_keys],
            hidden,
            {at for at, name in enumerate(own_keys) if not is_published(name)},
        ).as_json(),
        certificate={name: certificate[name] for name in codes},
        summary={
            **protection.summary(),
            "cells": len(own & protection.published),
            "primary": len(primary & own & protection.published),
            "hidden": len(protection.hidden & own & protection.published),
            "students_in_hidden_cells": sum(
                table.counts[at] for at in protection.hidden & own & protection.published
            ),
            "district_cells_audited": len(districts_side),
            "seconds": round(time.perf_counter() - started, 2),
        },
    )
    published.forget_latest(state)
    transaction.on_commit(lambda: published.forget_latest(state))
    logger.info("published state release %s of %s", state_release.pk, state)
    return state_release


def _state_cells(releases: list[Release]) -> tuple[Cells, set[str]]:
    """Every district's published table (its own cells renamed ``D<id>``, schools as they
    are), the state's cells summing the districts', and the keys the districts hid."""
    cells, hidden = Cells(), set()
    parts: dict[str, list[str]] = {}
    for release in releases:
        own_scope = district_scope(release.district_id)

        def rename(name: str, own_scope=own_scope) -> str:
            scope, rest = name.split("/", 1)
            return f"{own_scope}/{rest}" if scope == DISTRICT else name

        names = [rename(name) for name in release.table["keys"]]
        cells.counts.update(zip(names, release.table["counts"], strict=True))
        cells.sums += [(names[total], tuple(names[part] for part in rest))
                       for total, *rest in release.table["sums"]]  # fmt: skip
        hidden |= {rename(name) for name in release.certificate}
        for name in names:
            scope, measure, row = split_key(name)
            if scope == own_scope:
                parts.setdefault(f"{STATE}/{measure}/{row}", []).append(name)
        for name, (present, enrolled) in release.table.get("days", {}).items():
            _, measure, row = split_key(name)
            total = cells.days.get(f"{STATE}/{measure}/{row}", (0, 0))
            cells.days[f"{STATE}/{measure}/{row}"] = (total[0] + present, total[1] + enrolled)
    for name, members in parts.items():
        cells.counts[name] = sum(cells.counts[member] for member in members)
        cells.add_sum(name, members)
    return cells, hidden


def _content(
    state: str,
    school_year: int,
    as_of: datetime.date,
    releases: list[Release],
    values: dict,
) -> dict:
    districts = District.objects.filter(pk__in=[release.district_id for release in releases])
    return {
        "state": state,
        "district": {"id": None, "name": state, "state": state},
        "districts": {
            district_scope(district.pk): {"id": district.pk, "name": district.name}
            for district in districts.order_by("name")
        },
        "school_year": school_year,
        "as_of": as_of.isoformat(),
        "minimum_n": max(release.minimum_n for release in releases),
        "schools": {},
        "assessment": None,
        "not_held": list(NOT_HELD),
        "not_reported": not_reported(values),
        "values": values,
    }
