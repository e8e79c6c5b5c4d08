"""A state's report card: sums of its districts' published releases, protected with them,
so that no district's hidden small group is the state total minus the other districts."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.utils import InternalError

from reports import state as state_releases
from reports.cells import GRADUATION_RATE, STATE, may_be_primary
from reports.models import StateRelease
from reports.services import ReleaseError
from reports.suppression import attacker_intervals, unsafe_cells
from tests.factories import DistrictFactory, SchoolFactory
from tests.reports.conftest import module_districts
from tests.reports.test_public_pages import publish_release

pytestmark = pytest.mark.django_db


def _oregon():
    districts = []
    for at, (name, students) in enumerate((("Lakeview", 500), ("Pine Ridge", 260))):
        district = DistrictFactory(name=name, state="OR")
        schools = [SchoolFactory(district=district) for _ in range(2)]
        districts.append((district, publish_release(district, schools, students, seed=at)))
    washington = DistrictFactory(state="WA")  # another state's district: never summed
    return [district for district, _ in districts] + [washington], districts


@pytest.fixture(scope="module")
def oregon_districts(django_db_setup, django_db_blocker):
    """Built once per module (each build protects two districts' releases)."""
    yield from module_districts(django_db_blocker, _oregon)


@pytest.fixture
def oregon(oregon_districts, db):
    return oregon_districts[1]


def test_each_state_cell_is_the_sum_of_the_districts_cells(oregon):
    release = state_releases.publish_state_release("OR", 2027)
    assert release.releases == {str(d.pk): r.pk for d, r in oregon}
    total = sum(r.table["counts"][r.table["keys"].index("d/enrolled/all")] for _, r in oregon)
    shown = release.content["values"][f"{STATE}/enrolled/all"]
    if shown == ["*", "SC"]:  # hidden only because a district's own total is hidden
        assert any(r.content["values"]["d/enrolled/all"][1] for _, r in oregon)
    else:
        assert shown == [str(total), None]
    assert {d["name"] for d in release.content["districts"].values()} == {"Lakeview", "Pine Ridge"}
    # English learners' progress is summed like any other cell; graduation is not held.
    learners = sum(r.table["counts"][r.table["keys"].index("d/english_progress.students/all")]
                   for _, r in oregon)  # fmt: skip
    assert release.content["values"][f"{STATE}/english_progress.students/all"] in (
        [str(learners), None],
        ["*", "SC"],
        ["n<10", "SN"],
    )
    assert release.content["not_reported"] == [GRADUATION_RATE]


def test_no_districts_hidden_small_group_is_the_state_minus_the_others(oregon):
    release = state_releases.publish_state_release("OR", 2027)
    releases = [r for _, r in oregon]
    cells, district_hidden = state_releases._state_cells(releases)
    table, keys = cells.table()
    hidden_keys = district_hidden | set(release.certificate)  # every hidden state cell's
    hidden = {at for at, name in enumerate(keys) if name in hidden_keys}
    intervals = attacker_intervals(table, hidden)
    primary = {at for at in hidden
               if table.counts[at] < release.minimum_n and may_be_primary(keys[at])}  # fmt: skip
    assert primary and unsafe_cells(intervals, primary, release.width) == []
    # Had the state hidden only its own small cells, the districts' would be given away.
    small_state = {
        at
        for at, name in enumerate(keys)
        if name.startswith(f"{STATE}/") and table.counts[at] < release.minimum_n
    }
    naive = {at for at, name in enumerate(keys) if name in district_hidden} | small_state
    naive_intervals = attacker_intervals(table, naive)
    assert unsafe_cells(naive_intervals, primary & naive, release.width) != []


def test_a_state_release_never_changes_and_needs_a_district_release(oregon):
    release = state_releases.publish_state_release("OR", 2027)
    with pytest.raises(ValidationError):
        release.save()
    with pytest.raises(ValidationError):
        release.delete()
    with pytest.raises(InternalError), transaction.atomic():
        StateRelease.objects.filter(pk=release.pk).update(summary={})
    with pytest.raises(ReleaseError):
        state_releases.publish_state_release("WA", 2027)


def test_the_next_state_release_keeps_hidden_what_the_last_hid(oregon):
    first = state_releases.publish_state_release("OR", 2027)
    second = state_releases.publish_state_release("OR", 2027)
    hidden = {name for name, (_, code) in first.content["values"].items() if code}
    assert hidden <= {name for name, (_, code) in second.content["values"].items() if code}
    assert state_releases.latest_state_release("OR") == second
