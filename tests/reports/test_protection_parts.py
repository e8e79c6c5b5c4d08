"""A large district's report card protected a group of schools at a time: every primary
cell still wide against the whole card's audit, every proven interval inside the whole's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reports import cells as cells_module
from reports.cells import (
    DIMENSIONS,
    Fact,
    build_cells,
    key,
    protection_parts,
    remembered_groups,
    school_groups,
    school_scope,
)
from reports.ledger import Ledger
from reports.services import protect_cells
from reports.suppression import (
    Table,
    _Restriction,
    _shared_homes,
    attacker_intervals,
    is_primary,
    protect,
    protect_in_parts,
    unsafe_cells,
)
from tests.reports.test_cells import GRADES

N, WIDTH = 10, 5

groups_of_a_student = st.tuples(*(st.sampled_from(members) for _, members in DIMENSIONS))
# Students of five schools: enough for parts of two or three schools each.
district_facts = st.lists(
    st.builds(
        lambda school, grade, groups, absent, level: Fact(
            school, grade, frozenset(groups), 20, absent, {"Reading": level} if level else {}
        ),
        st.integers(1, 5),
        st.sampled_from(GRADES[2:]),
        groups_of_a_student,
        st.integers(0, 20),
        st.integers(0, 4),
    ),
    min_size=5,
    max_size=60,
)


def groups_of(*names: str) -> frozenset[str]:
    """One subgroup per dimension: the one named, else the dimension's first."""
    return frozenset(
        next((name for name in names if name in members), members[0]) for _, members in DIMENSIONS
    )


def assert_inside_the_whole(table: Table, hidden: set[int], intervals, primary) -> None:
    """What a part proved holds against the whole card: no primary cell narrower than
    the width, and no interval wider than the whole table's (a part's restriction only
    takes tables away from the attacker)."""
    whole = attacker_intervals(table, hidden)
    assert unsafe_cells(whole, primary, WIDTH) == []
    assert set(intervals) == hidden
    for cell, interval in intervals.items():
        assert whole[cell].low - 1e-6 <= interval.low <= table.counts[cell] + 1e-6
        assert table.counts[cell] - 1e-6 <= interval.high <= whole[cell].high + 1e-6
        if cell in primary:
            assert interval.width >= WIDTH - 1e-9


@settings(max_examples=12, deadline=None)
@given(district_facts)
def test_a_card_protected_in_parts_is_safe_against_the_whole_card(facts):
    table, keys = build_cells(facts, grade_order=GRADES, subjects=["Reading"]).table()
    parts = protection_parts(keys, school_groups(keys, whole_cells=0, part_cells=1))
    primary = {at for at, count in enumerate(table.counts) if is_primary(count, N)}
    hidden, intervals, _ = protect_in_parts(table, parts, primary, WIDTH)
    assert primary <= hidden
    assert_inside_the_whole(table, hidden, intervals, primary)


def test_a_card_of_one_part_is_protected_whole_with_the_exact_intervals():
    facts = [Fact(school, "03", groups_of("white", "iep"), 20, 1) for school in (1, 2)] * 6
    table, keys = build_cells(facts, grade_order=GRADES, subjects=[]).table()
    primary = {at for at, count in enumerate(table.counts) if is_primary(count, N)}
    parts = protection_parts(keys, school_groups(keys))
    assert parts == [list(range(len(keys)))]
    hidden, intervals, exact = protect_in_parts(table, parts, primary, WIDTH)
    assert exact and (hidden, intervals) == protect(table, primary, WIDTH)
    assert intervals == attacker_intervals(table, hidden)


def test_a_restriction_folds_each_sums_outside_into_one_shown_cell():
    # 0 = 1 + 2 + 3 (a district and its three schools), 1 = 4 + 5 (a school's groups).
    table = Table([30, 12, 8, 10, 5, 7], [(0, [1, 2, 3]), (1, [4, 5])])
    district_and_first = _Restriction(table, [0, 1, 4, 5])
    rest = district_and_first.cells.index(-1)
    assert district_and_first.table.counts[rest] == 18  # the two other schools
    assert sorted(district_and_first.table.sums) == [(0, [1, rest]), (1, [2, 3])]
    assert district_and_first.outside == {rest}
    # The total outside: the parts inside add up to what it leaves them.
    two_schools = _Restriction(table, [2, 3])
    rest = two_schools.cells.index(-1)
    assert two_schools.table.sums == [(rest, [0, 1])]
    assert two_schools.table.counts[rest] == 18
    assert two_schools.costs([1.0] * 6) == [1.0, 1.0, 0.0]


def test_a_district_cell_is_proven_beside_the_schools_holding_most_of_it():
    table = Table([9, 1, 8], [(0, [1, 2])])  # a district of 9: one school 1, another 8
    assert _shared_homes(table, [0], {1: 0, 2: 1}) == {0: 1}


def test_holding_the_outside_fixed_never_proves_more_than_the_whole_card():
    # Two schools whose small groups (3 and 4) hide beside each other through the
    # district's sum: in parts of one school each, a small group is pinned by the
    # district's cell unless the district's cell is hidden too.
    table = Table(
        [50, 7, 43, 25, 3, 22, 25, 4, 21],
        [(0, [1, 2]), (3, [4, 5]), (6, [7, 8]), (0, [3, 6]), (1, [4, 7]), (2, [5, 8])],
    )
    primary = {1, 4, 7}
    hidden, intervals, exact = protect_in_parts(table, [[3, 4, 5], [6, 7, 8]], primary, WIDTH)
    assert not exact
    assert {0, 1} & hidden or {2} <= hidden  # the district's own row moves with them
    assert_inside_the_whole(table, hidden, intervals, primary)


def test_a_part_an_earlier_release_pins_to_another_part_is_protected_whole(caplog):
    # The district's row was shown before (known: fixed), and the second school's small
    # group hidden with its large one: the first school's small group can move only with
    # the second school's, which its part holds at its true value.
    table = Table(
        [50, 7, 43, 25, 3, 22, 25, 4, 21],
        [(0, [1, 2]), (3, [4, 5]), (6, [7, 8]), (0, [3, 6]), (1, [4, 7]), (2, [5, 8])],
    )
    primary = {4, 7}
    hidden, intervals, exact = protect_in_parts(
        table, [[3, 4, 5], [6, 7, 8]], primary, WIDTH, start={7, 8}, fixed={0, 1, 2}
    )
    assert exact and "part 1 of 2 cannot be protected on its own" in caplog.text
    assert {4, 7, 8} <= hidden and not {0, 1, 2} & hidden
    assert intervals == attacker_intervals(table, hidden)
    assert unsafe_cells(intervals, primary, WIDTH) == []


def test_a_shared_small_cell_no_sum_ties_to_a_part_is_proven_in_the_first():
    # Cell 1 (3) is in a sum of shared cells only: proven in a part all the same.
    table = Table([20, 3, 17, 20, 8, 12, 20, 9, 11], [(0, [1, 2]), (3, [4, 5]), (6, [7, 8])])
    primary = {1, 4, 7}
    hidden, intervals, _ = protect_in_parts(table, [[3, 4, 5], [6, 7, 8]], primary, WIDTH)
    assert {0, 2} & hidden  # its complement
    assert_inside_the_whole(table, hidden, intervals, primary)


def grade_keys(school: int, grades: list[str], cells: int) -> list[str]:
    rows = [f"grade:{grade}" for grade in grades]
    rows += [f"group:g{at}" for at in range(cells - len(rows))]
    return [key(school_scope(school), "enrolled", row) for row in rows]


def test_schools_are_grouped_with_schools_of_the_same_grades():
    elementary, high = ["KG", "01", "02"], ["09", "10", "11", "12"]
    keys = [key("d", "enrolled", "all")]
    for school in (1, 2, 3, 4, 5, 6):
        keys += grade_keys(school, elementary if school % 2 else high, 10)
    parts = protection_parts(keys, school_groups(keys, whole_cells=0, part_cells=20))
    schools = [sorted({keys[at].split("/")[0] for at in part}) for part in parts]
    # The last school of some grades joins their group.
    assert schools == [["s1", "s3", "s5"], ["s2", "s4", "s6"]]
    assert sorted(at for part in parts for at in part) == list(range(1, len(keys)))
    keys += grade_keys(7, ["06", "07", "08"], 10)
    parts = protection_parts(keys, school_groups(keys, whole_cells=0, part_cells=20))
    schools = [sorted({keys[at].split("/")[0] for at in part}) for part in parts]
    # A school alone of its grades (a middle school) opens the next grades' first group.
    assert schools == [["s1", "s3", "s5"], ["s2", "s7"], ["s4", "s6"]]
    assert school_groups(keys) == []  # a small card: whole


def six_schools() -> list[Fact]:
    """Eighteen students in each of six schools: three grades, three races, few with an IEP."""
    return [
        Fact(school, grade, groups_of(race, "iep" if at % 4 else "no_iep"), 20, at % 5)
        for school in range(1, 7)
        for at, (grade, race) in enumerate(
            [(grade, race) for grade in GRADES[:3] for race in ("white", "asian", "black")] * 2
        )
    ]


def test_a_large_card_protected_in_parts_passes_the_joint_audit(monkeypatch):
    from tests.reports.test_ledger import joint_audit

    facts = six_schools()
    cells = build_cells(facts, grade_order=GRADES, subjects=[])
    monkeypatch.setattr(cells_module, "WHOLE_PROTECTION_CELLS", 0)
    monkeypatch.setattr(cells_module, "PART_CELLS", 1)
    assert len(school_groups(list(cells.counts))) == 3
    protection = protect_cells(cells, Ledger(), N, WIDTH)
    hidden = {protection.keys[at] for at in protection.hidden}
    assert joint_audit(cells, Ledger(), hidden) == []
    assert protection.summary()["narrowest_primary_interval"] >= WIDTH


def test_a_later_release_keeps_the_years_groups_of_schools():
    elementary, high = ["KG", "01", "02"], ["09", "10", "11", "12"]
    keys = [key("d", "enrolled", "all")]
    for school in (1, 2, 3, 4, 5, 6):
        keys += grade_keys(school, elementary if school % 2 else high, 10)
    earlier = [["s1", "s2"], ["s3", "s4", "s5"], ["s6", "s7"]]  # s7 has since closed
    # s8 opened and s1 serves a new grade: the groups are kept as they were, and the
    # two schools left alone (s6, whose partner closed, and s8) join each other.
    keys += grade_keys(8, ["06", "07", "08"], 10)
    keys += [key("s1", "enrolled", "grade:03")]
    assert school_groups(keys, earlier=earlier, whole_cells=0, part_cells=20) == [
        ["s1", "s2"], ["s3", "s4", "s5"], ["s6", "s8"]
    ]  # fmt: skip
    # Without them, the grades decide.
    assert school_groups(keys, whole_cells=0, part_cells=20) != [
        ["s1", "s2"],
        ["s3", "s4", "s5", "s6", "s8"],
    ]


def test_the_ledger_carries_the_groups_to_the_next_release():
    ledger = Ledger(groups=[["s1", "s2"], ["s3", "s4"]])
    assert Ledger.from_json(ledger.as_json()).groups == [["s1", "s2"], ["s3", "s4"]]
    assert Ledger.from_json({"shown": {}, "hidden": []}).groups == []  # before groups
    assert "groups" not in Ledger().as_json()
    after = ledger.after(["s1/enrolled/all"], [12], set())
    assert after.groups == ledger.groups
    assert ledger.after(["s1/enrolled/all"], [12], set(), groups=[["s1", "s3"]]).groups == [
        ["s1", "s3"]
    ]


def test_a_second_release_is_protected_in_the_first_ones_groups(monkeypatch):
    from tests.reports.test_ledger import joint_audit

    monkeypatch.setattr(cells_module, "WHOLE_PROTECTION_CELLS", 0)
    monkeypatch.setattr(cells_module, "PART_CELLS", 1)
    facts = six_schools()
    first_cells = build_cells(facts, grade_order=GRADES, subjects=[])
    first = protect_cells(first_cells, Ledger(), N, WIDTH)
    ledger = Ledger().after(first.keys, first.table.counts, first.hidden,
                            set(range(len(first.keys))) - first.published,
                            groups=first.groups)  # fmt: skip
    # A student of school 3 moves up a grade no other school serves.
    third = next(at for at, fact in enumerate(facts) if fact.school == 3)
    moved = list(facts)
    moved[third] = Fact(3, GRADES[3], facts[third].groups, 20, 0)
    second_cells = build_cells(moved, grade_order=GRADES, subjects=[])
    second = protect_cells(second_cells, ledger, N, WIDTH)
    assert second.groups == first.groups and len(first.groups) == 3
    assert school_groups(list(second_cells.counts)) != first.groups  # regrouped alone
    hidden = {second.keys[at] for at in second.hidden}
    assert joint_audit(second_cells, ledger, hidden) == []


def test_the_ledger_remembers_a_schools_group_through_a_release_that_lacks_it():
    # s9 counted nobody today, and s7 and s8 neither: their groups are remembered.
    earlier = [["s1", "s2", "s9"], ["s7", "s8"]]
    assert remembered_groups([["s1", "s2"], ["s3", "s4"]], earlier) == [
        ["s1", "s2", "s9"], ["s3", "s4"], ["s7", "s8"]
    ]  # fmt: skip
    # A card protected whole (none) keeps the year's groups as they were.
    assert remembered_groups([], earlier) == earlier
    # A school twice in a stored ledger's groups is grouped once.
    keys = [key("d", "enrolled", "all")]
    for school in (1, 2, 3):
        keys += grade_keys(school, ["KG"], 5)
    groups = school_groups(keys, earlier=[["s1", "s2"], ["s2", "s3"]], whole_cells=0)
    assert sorted(school for group in groups for school in group) == ["s1", "s2", "s3"]
