"""The small-cell rules and the audit that proves what a suppression pattern hides."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.suppression import (
    Code,
    Table,
    attacker_intervals,
    code_percent,
    is_primary,
    percent_ends,
    protect,
    unsafe_cells,
)


def with_margins(grid: list[list[int]]) -> tuple[Table, dict[tuple[int, int], int]]:
    """A grid of counts with its row totals, column totals and grand total, as a Table;
    and each inner cell's index by (row, column)."""
    rows, columns = len(grid), len(grid[0])
    counts, at = [], {}
    for r in range(rows):
        for c in range(columns):
            at[r, c] = len(counts)
            counts.append(grid[r][c])
    row_totals = []
    for r in range(rows):
        row_totals.append(len(counts))
        counts.append(sum(grid[r]))
    column_totals = []
    for c in range(columns):
        column_totals.append(len(counts))
        counts.append(sum(grid[r][c] for r in range(rows)))
    grand = len(counts)
    counts.append(sum(map(sum, grid)))
    sums = [(row_totals[r], [at[r, c] for c in range(columns)]) for r in range(rows)]
    sums += [(column_totals[c], [at[r, c] for r in range(rows)]) for c in range(columns)]
    sums += [(grand, row_totals), (grand, column_totals)]
    return Table(counts, sums), at


def test_a_table_whose_sums_do_not_add_up_is_refused():
    with pytest.raises(ValueError, match="not the sum"):
        Table([1, 2, 4], [(2, [0, 1])])


def test_a_small_cell_hidden_alone_beside_its_totals_is_recovered_exactly():
    table, at = with_margins([[3, 20], [15, 30]])
    intervals = attacker_intervals(table, [at[0, 0]])
    assert intervals[at[0, 0]].low == intervals[at[0, 0]].high == 3
    assert unsafe_cells(intervals, [at[0, 0]], 5) == [at[0, 0]]


def test_two_hidden_cells_in_every_row_and_column_can_still_be_narrowed():
    # The literature's point: hiding only the small cells, two to every row and column,
    # looks safe and is not: non-negativity and the margins pin them to a width of 1.
    table, at = with_margins([[3, 2, 40], [1, 0, 35], [30, 25, 50]])
    small = [at[0, 0], at[0, 1], at[1, 0], at[1, 1]]
    intervals = attacker_intervals(table, small)
    assert intervals[at[0, 0]].low == 3 and intervals[at[0, 0]].high == 4
    assert unsafe_cells(intervals, small, 5) == sorted(small)


def test_hidden_zeros_whose_row_remainder_is_zero_are_recovered_exactly():
    table, at = with_margins([[0, 0, 40], [12, 15, 35], [30, 25, 50]])
    zeros = [at[0, 0], at[0, 1]]
    hidden = [*zeros, at[1, 0], at[1, 1]]
    intervals = attacker_intervals(table, hidden)
    assert all(intervals[cell].width == 0 for cell in zeros)


def test_complementary_cells_with_room_keep_the_small_cell_wide():
    table, at = with_margins([[3, 40, 22], [25, 30, 35], [30, 25, 50]])
    hidden = [at[0, 0], at[0, 1], at[1, 0], at[1, 1]]
    intervals = attacker_intervals(table, hidden)
    assert intervals[at[0, 0]].low == 0
    assert intervals[at[0, 0]].width >= 5
    assert unsafe_cells(intervals, [at[0, 0]], 5) == []


def test_a_cell_no_sum_bounds_is_unbounded_above():
    table = Table([4, 9], [])
    assert attacker_intervals(table, [0])[0].high == math.inf


def test_hiding_a_total_and_one_part_leaves_both_free():
    # A school's count and the district's: hiding both is a block of one equation.
    table = Table([3, 50, 53], [(2, [0, 1])])
    intervals = attacker_intervals(table, [0, 2])
    assert intervals[0].low == 0 and intervals[0].high == math.inf


grids = st.integers(2, 4).flatmap(
    lambda rows: st.integers(2, 4).flatmap(
        lambda columns: st.lists(
            st.lists(st.integers(0, 40), min_size=columns, max_size=columns),
            min_size=rows,
            max_size=rows,
        )
    )
)


@given(grids, st.data())
def test_every_true_count_lies_inside_its_proven_interval(grid, data):
    table, _ = with_margins(grid)
    hidden = data.draw(st.sets(st.sampled_from(range(len(table.counts))), min_size=1))
    intervals = attacker_intervals(table, hidden)
    assert set(intervals) == hidden
    for cell, interval in intervals.items():
        assert interval.low >= -1e-9
        assert interval.low - 1e-6 <= table.counts[cell] <= interval.high + 1e-6


@given(grids, st.data())
def test_a_sum_with_one_hidden_cell_gives_that_cell_away(grid, data):
    table, at = with_margins(grid)
    row = data.draw(st.integers(0, len(grid) - 1))
    column = data.draw(st.integers(0, len(grid[0]) - 1))
    interval = attacker_intervals(table, [at[row, column]])[at[row, column]]
    assert interval.width == pytest.approx(0, abs=1e-6)
    assert interval.low == pytest.approx(grid[row][column], abs=1e-6)


@pytest.mark.parametrize(
    ("size", "ends"),
    [
        (1000, (1, 99)),
        (300, (1, 99)),
        (299, (2, 98)),
        (100, (2, 98)),
        (99, (5, 95)),
        (40, (5, 95)),
        (39, (10, 90)),
        (20, (10, 90)),
        (19, (20, 80)),
        (1, (20, 80)),
    ],
)
def test_the_percent_ladder_follows_the_group_size(size, ends):
    assert percent_ends(size) == ends


def test_rates_are_coded_near_the_ends_and_exact_between():
    assert code_percent(0, 400) == code_percent(4, 400)
    assert code_percent(4, 400).text == "≤1%" and code_percent(4, 400).code == Code.PERCENT_CODED
    assert code_percent(396, 400).text == "≥99%"
    assert code_percent(5, 400).text == "1.2%" and code_percent(5, 400).code is None
    assert code_percent(2, 50).text == "≤5%"
    assert code_percent(25, 50).text == "50.0%"


@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_percent_coding_never_shows_an_exact_rate_near_the_ends(rate):
    numerator, denominator = rate
    low, high = percent_ends(denominator)
    shown = code_percent(numerator, denominator)
    exact = numerator * 100 / denominator
    if numerator in (0, denominator) or exact <= low or exact >= high:
        assert shown.code == Code.PERCENT_CODED
        assert shown.text in (f"≤{low}%", f"≥{high}%")
    else:
        assert shown.code is None
        assert shown.text == f"{exact:.1f}%"


def test_a_rate_that_is_not_one_is_refused():
    with pytest.raises(ValueError):
        code_percent(5, 4)
    with pytest.raises(ValueError):
        code_percent(0, 0)


@given(st.integers(5, 30), st.integers(0, 100))
def test_zero_and_every_count_below_n_are_primary(minimum_n, count):
    assert is_primary(0, minimum_n)
    assert is_primary(count, minimum_n) == (count < minimum_n)


def test_protection_hides_the_cheapest_complements_until_the_audit_passes():
    table, at = with_margins([[3, 40, 22], [25, 30, 35], [30, 25, 50]])
    hidden, intervals = protect(table, [at[0, 0]], 5)
    assert at[0, 0] in hidden and len(hidden) == 4
    # The cheapest complements: 22 in its row, 25 in its column, then 30 to close them.
    assert {at[0, 2], at[1, 0]} <= hidden
    assert unsafe_cells(intervals, [at[0, 0]], 5) == []


@given(grids, st.integers(5, 12), st.integers(1, 6))
def test_after_protection_every_primary_cell_is_wide_enough(grid, minimum_n, width):
    table, _ = with_margins(grid)
    primary = [cell for cell, count in enumerate(table.counts) if is_primary(count, minimum_n)]
    hidden, intervals = protect(table, primary, width)
    assert set(primary) <= hidden
    audited = attacker_intervals(table, hidden)  # independently, from the pattern alone
    assert unsafe_cells(audited, primary, width) == []
    assert intervals == audited


def test_small_cells_of_one_row_are_lifted_apart_and_hide_fewer_students(monkeypatch):
    # The first row is all small. Lifted together, its four cells would raise its total
    # by 20, and the columns' totals with it; lifted one class at a time (no two cells of
    # one sum together), each borrows from the rows below.
    from reports import suppression

    table, _ = with_margins([[2, 3, 1, 4], [40, 50, 60, 30], [25, 35, 45, 20]])
    primary = [cell for cell, count in enumerate(table.counts) if count < 10]
    apart, intervals = protect(table, primary, 5)
    assert unsafe_cells(intervals, primary, 5) == []
    monkeypatch.setattr(suppression, "_lift_by_class", suppression._lift)
    together, _ = protect(table, primary, 5)
    assert len(apart) < len(together)
    assert sum(table.counts[cell] for cell in apart) < sum(table.counts[cell] for cell in together)


@given(grids, st.data())
def test_each_class_lifted_together_shares_no_short_sum(grid, data):
    from reports.suppression import SHORT_SUM_PARTS, _classes_sharing_no_short_sum

    table, _ = with_margins(grid)
    cells = data.draw(st.lists(st.sampled_from(range(len(table.counts))), unique=True))
    classes = _classes_sharing_no_short_sum(table, cells)
    assert sorted(cell for group in classes for cell in group) == sorted(cells)
    for group in classes:
        for total, parts in table.sums:
            if len(parts) <= SHORT_SUM_PARTS:
                assert len({total, *parts} & set(group)) <= 1


def test_a_long_sum_does_not_keep_its_cells_apart():
    from reports.suppression import SHORT_SUM_PARTS, _classes_sharing_no_short_sum

    parts = list(range(1, SHORT_SUM_PARTS + 2))
    table = Table([len(parts), *([1] * len(parts))], [(0, parts)])
    assert _classes_sharing_no_short_sum(table, parts) == [parts]
    assert len(_classes_sharing_no_short_sum(table, [0, *parts[:3]])) == 1


def test_a_table_of_zeros_whose_hot_start_stalls_is_still_audited():
    # Found by hypothesis: HiGHS's hot start answered "unknown" on this degenerate LP.
    table, _ = with_margins([[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]])
    hidden = [0, 2, 3, 5, 7, 8, 9, 11, 12, 13, 14, 15, 16, 18, 20, 23, 24]
    intervals = attacker_intervals(table, hidden)
    for cell in hidden:
        assert intervals[cell].low - 1e-6 <= table.counts[cell] <= intervals[cell].high + 1e-6


def test_a_reissue_keeps_hidden_every_cell_an_earlier_release_hid():
    table, at = with_margins([[3, 40, 22], [25, 30, 35], [30, 25, 50]])
    earlier, _ = protect(table, [at[0, 0]], 5)
    corrected, at = with_margins([[3, 40, 22], [25, 30, 36], [30, 25, 50]])
    hidden, intervals = protect(corrected, [at[0, 0]], 5, start=earlier)
    assert earlier <= hidden
    assert unsafe_cells(intervals, [at[0, 0]], 5) == []


def test_threads_prove_the_same_intervals_as_one(monkeypatch):
    # A 12 x 12 grid with half its cells hidden: one block, hundreds of bounds left after
    # its first two optima, shared among threads that each solve on a copy of the model.
    import random

    from reports import suppression

    rng = random.Random(7)
    grid = [[rng.choice([0, 1, 3, 8, 20, 45]) for _ in range(12)] for _ in range(12)]
    table, at = with_margins(grid)
    hidden = [cell for (row, column), cell in at.items() if (row * 5 + column * 3) % 7 < 4]
    monkeypatch.setattr(suppression, "AUDIT_THREADS", 1)
    alone = attacker_intervals(table, hidden)
    monkeypatch.setattr(suppression, "AUDIT_THREADS", 3)
    monkeypatch.setattr(suppression, "BOUNDS_PER_THREAD", 1)
    copies, solved = [], []
    real_copy, real_optimum = suppression._BoundSolver._work_on_copy, suppression._optimum

    def copied(self, basis, queue):
        copies.append(basis)
        return real_copy(self, basis, queue)

    def counted(highs, sense):
        solved.append(highs)
        return real_optimum(highs, sense)

    monkeypatch.setattr(suppression._BoundSolver, "_work_on_copy", copied)
    monkeypatch.setattr(suppression, "_optimum", counted)
    together = attacker_intervals(table, hidden)
    # Two helper threads, each on a copy of the block's model. (How many of the three
    # models solve something depends on the scheduler: on a busy machine the first
    # thread may take every bound before a copy is built.)
    assert len(copies) == 2
    assert 1 <= len({id(highs) for highs in solved}) <= 3
    assert together.keys() == alone.keys()
    for cell, interval in alone.items():
        assert together[cell].low == pytest.approx(interval.low, abs=1e-7)
        assert together[cell].high == pytest.approx(interval.high, abs=1e-7)
        assert together[cell].low - 1e-7 <= table.counts[cell] <= together[cell].high + 1e-7


def test_cells_without_an_upper_bound_are_found_by_one_lp_not_a_solve_each(monkeypatch):
    # One block holds cells that can grow without end (a hidden part and its hidden
    # total, x2 = x0 + 50, and x6 = x0 + x3) beside cells a shown total caps (x3 + x4 = 12);
    # a grid with its margins shown is a second block, all capped. The unbounded maxima are
    # found together, none solved alone, and every interval is the one solving each bound
    # gives.
    from reports import suppression

    grid, at = with_margins([[6, 2, 11], [3, 14, 1]])
    offset = 7
    table = Table(
        [3, 50, 53, 5, 7, 12, 8, *grid.counts],
        [(2, [0, 1]), (5, [3, 4]), (6, [0, 3]),
         *((offset + total, [offset + part for part in parts]) for total, parts in grid.sums)],
    )  # fmt: skip
    hidden = [0, 2, 3, 4, 6, *(offset + at[cell] for cell in [(0, 0), (0, 1), (1, 0), (1, 1)])]
    unbounded_solves = []
    real_optimum = suppression._optimum

    def counted(highs, sense):
        value = real_optimum(highs, sense)
        if value == math.inf:
            unbounded_solves.append(highs)
        return value

    monkeypatch.setattr(suppression, "_optimum", counted)
    found = attacker_intervals(table, hidden)
    assert unbounded_solves == []
    assert {cell for cell, interval in found.items() if interval.high == math.inf} == {0, 2, 6}
    assert found[3].high == found[4].high == 12

    monkeypatch.setattr(suppression, "_unbounded_columns", lambda highs, columns: columns[:0])
    solved = attacker_intervals(table, hidden)
    assert len(unbounded_solves) == 3
    for cell, interval in solved.items():
        assert found[cell].low == pytest.approx(interval.low, abs=1e-7)
        assert found[cell].high == pytest.approx(interval.high, abs=1e-7)


class StubSolver:
    """A HiGHS model answering the given statuses, one per run."""

    def __init__(self, *statuses):
        self.statuses, self.runs, self.cleared = list(statuses), 0, 0

    def changeObjectiveSense(self, sense):
        pass

    def run(self):
        self.runs += 1

    def clearSolver(self):
        self.cleared += 1

    def getModelStatus(self):
        return self.statuses[min(self.runs, len(self.statuses)) - 1]

    def getInfo(self):
        return type("Info", (), {"objective_function_value": 7.0})()

    def modelStatusToString(self, status):
        return str(status)


@pytest.mark.parametrize("first", ["kUnknown", "kInfeasible"])
def test_a_hot_start_that_fails_is_solved_again_from_scratch(first):
    import highspy

    from reports.suppression import _optimum

    status = highspy.HighsModelStatus
    stub = StubSolver(getattr(status, first), status.kOptimal)
    assert _optimum(stub, highspy.ObjSense.kMaximize) == 7.0
    assert (stub.runs, stub.cleared) == (2, 1)
    # Infeasible again from scratch: the audit cannot vouch for anything, and says so.
    stub = StubSolver(status.kInfeasible, status.kInfeasible)
    with pytest.raises(RuntimeError, match="LP failed"):
        _optimum(stub, highspy.ObjSense.kMaximize)
