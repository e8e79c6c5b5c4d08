"""Small-cell rules for published counts and rates (REQUIREMENTS 12–14), and the audit
that proves what an attacker can work out from a suppression pattern (REQUIREMENTS 13).

A published table is a list of cells (counts of students) tied together by sums: a
row total is the sum of its cells, a district's cell the sum of its schools' cells, and
so on. Hiding a cell is not enough when the sums around it are published, so the audit
asks linear programming (HiGHS) for the smallest and largest value each hidden cell can
take given everything shown: that interval is what an attacker can prove, and a primary
cell (a count below the district's minimum n, zeros included) is safe only when its
interval is at least the required width.

The audit works block by block: hidden cells that no sum connects cannot inform each
other, so each connected block is its own small LP.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import highspy
import numpy as np

PRIMAL_SIMPLEX = 4  # HiGHS's simplex_strategy value for the primal simplex


class Code(StrEnum):
    """Why a published value is not the exact number: machine-readable in downloads,
    never a blank (as state report-card databases publish them)."""

    BELOW_MINIMUM_N = "SN"  # a count, numerator or denominator below the minimum n
    COMPLEMENTARY = "SC"  # hidden so that a small group elsewhere cannot be worked out
    PERCENT_CODED = "PC"  # a rate near 0% or 100%, shown as a range (REQUIREMENTS 14)


def is_primary(count: int, minimum_n: int) -> bool:
    """A count the rules hide on its own: fewer than ``minimum_n`` students, zero included
    (a published zero says "nobody in this group", as telling as a one)."""
    return count < minimum_n


def below_n_mark(minimum_n: int) -> str:
    """The mark shown in place of a count below the district's minimum n."""
    return f"n<{minimum_n}"


# REQUIREMENTS 14: (smallest group size, low end, high end), largest groups first.
PERCENT_LADDER: tuple[tuple[int, int, int], ...] = (
    (300, 1, 99),
    (100, 2, 98),
    (40, 5, 95),
    (20, 10, 90),
    (0, 20, 80),
)


def percent_ends(group_size: int) -> tuple[int, int]:
    """The percentages at and beyond which a rate of a group this size is coded."""
    for smallest, low, high in PERCENT_LADDER:
        if group_size >= smallest:
            return low, high
    raise ValueError("a group size is never negative")


@dataclass(frozen=True)
class Percent:
    """A rate as published: the text, and the code when it is not the exact rate."""

    text: str
    code: Code | None = None


def code_percent(numerator: int, denominator: int, *, group_size: int | None = None) -> Percent:
    """``numerator`` of ``denominator`` as a percentage, coded near the ends by the
    group's size (``≤5%``, ``≥95%``): 0% and 100% are always coded. The group is the
    denominator unless ``group_size`` says otherwise (an attendance rate counts days of
    that many students). The caller decides first whether the numerator and denominator
    may be shown at all."""
    if denominator <= 0 or not 0 <= numerator <= denominator:
        raise ValueError(f"not a rate: {numerator} of {denominator}")
    low, high = percent_ends(denominator if group_size is None else group_size)
    # Compared in integers, so that 1 of 100 is "≤1%"-side exactly, not by rounding.
    if numerator * 100 <= low * denominator:
        return Percent(f"≤{low}%", Code.PERCENT_CODED)
    if numerator * 100 >= high * denominator:
        return Percent(f"≥{high}%", Code.PERCENT_CODED)
    return Percent(f"{numerator * 100 / denominator:.1f}%")


@dataclass(frozen=True)
class Table:
    """Cells (true counts) and the sums that tie them: ``(total, parts)`` says cell
    ``total`` is the sum of cells ``parts``. Indices are positions in ``counts``."""

    counts: Sequence[int]
    sums: Sequence[tuple[int, Sequence[int]]]

    def __post_init__(self) -> None:
        for total, parts in self.sums:
            if sum(self.counts[part] for part in parts) != self.counts[total]:
                raise ValueError(f"cell {total} is not the sum of cells {list(parts)}")

    @functools.cached_property
    def sums_of(self) -> dict[int, list[tuple[int, ...]]]:
        """Each cell's sums, as ``(total, *parts)``: found by cell, not by scanning every
        sum of the table for each block or each cell to protect."""
        found: dict[int, list[tuple[int, ...]]] = {}
        for total, parts in self.sums:
            cells = (total, *parts)
            for cell in cells:
                found.setdefault(cell, []).append(cells)
        return found

    def sums_around(self, cells: Iterable[int]) -> list[tuple[int, ...]]:
        """The sums that hold any of ``cells``, each once, in the table's order."""
        return list({sum_: None for cell in cells for sum_ in self.sums_of.get(cell, ())})


@dataclass(frozen=True)
class Interval:
    """What an attacker can prove about a hidden cell: ``low`` ≤ value ≤ ``high``."""

    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low


def attacker_intervals(table: Table, hidden: Iterable[int]) -> dict[int, Interval]:
    """For each hidden cell, the tightest interval linear programming proves from the
    shown cells, the sums and that no count is negative (an upper end of ``inf`` when
    nothing bounds the cell from above)."""
    intervals: dict[int, Interval] = {}
    for block in _blocks(table, sorted(set(hidden))):
        intervals.update(_audit_block(table, block))
    return intervals


def _blocks(table: Table, hidden: Sequence[int]) -> list[list[int]]:
    """The hidden cells grouped so that no sum ties two groups together."""
    parent = {cell: cell for cell in hidden}

    def root(cell: int) -> int:
        while parent[cell] != cell:
            parent[cell] = parent[parent[cell]]
            cell = parent[cell]
        return cell

    for cells in table.sums_around(hidden):
        tied = [cell for cell in cells if cell in parent]
        for cell in tied[1:]:
            parent[root(cell)] = root(tied[0])
    blocks: dict[int, list[int]] = {}
    for cell in hidden:
        blocks.setdefault(root(cell), []).append(cell)
    return list(blocks.values())


def _audit_block(table: Table, block: list[int]) -> dict[int, Interval]:
    """Minimise and maximise each cell of one block under the sums that touch it: one
    HiGHS model per block, its objective changed cell by cell, each solve hot-started
    from the last one's basis (a fresh SciPy LP per bound took nine times as long)."""
    highs, column, _ = _block_model(table, block)
    intervals = {}
    for cell in block:
        intervals[cell] = Interval(
            _bound(highs, column[cell], highspy.ObjSense.kMinimize),
            _bound(highs, column[cell], highspy.ObjSense.kMaximize),
        )
    return intervals


def _block_model(table: Table, block: list[int]):
    """The block's LP: a variable per hidden cell (never negative), a row per sum."""
    column = {cell: at for at, cell in enumerate(block)}
    starts, columns, values, rhs = [], [], [], []
    around = table.sums_around(block)
    for total, *parts in around:
        starts.append(len(columns))
        shown = 0.0
        for cell, sign in [(total, -1.0), *((part, 1.0) for part in parts)]:
            if cell in column:
                columns.append(column[cell])
                values.append(sign)
            else:
                shown += sign * table.counts[cell]
        rhs.append(-shown)
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    # Between solves only the objective changes, so the last basis stays feasible:
    # primal simplex starts from it where dual simplex would start over (2.7x faster
    # on a 700-cell block).
    highs.setOptionValue("simplex_strategy", PRIMAL_SIMPLEX)
    highs.addVars(len(block), np.zeros(len(block)), np.full(len(block), highspy.kHighsInf))
    if rhs:
        bound = np.array(rhs)
        highs.addRows(
            len(rhs), bound, bound, len(columns), np.array(starts), np.array(columns),
            np.array(values),
        )  # fmt: skip
    return highs, column, around


def _bound(highs, at: int, sense) -> float:
    highs.changeColCost(at, 1.0)
    try:
        return _optimum(highs, sense)
    finally:
        highs.changeColCost(at, 0.0)


def _narrow_cells(
    table: Table, block: list[int], cells: Iterable[int], width: float
) -> dict[int, set[int]]:
    """Which of ``cells`` (hidden, in ``block``) the audit cannot prove ``width`` wide,
    each with the shown cells whose sums bind its bounds (the rows with a nonzero dual
    at the optimum): hiding one of those is what can widen it. The true value lies
    inside the interval, so a maximum ``width`` above it settles a cell with one solve."""
    highs, column, around = _block_model(table, block)
    narrow: dict[int, set[int]] = {}
    for cell in cells:
        high = _bound(highs, column[cell], highspy.ObjSense.kMaximize)
        if high - table.counts[cell] >= width - 1e-9:
            continue
        binding = _binding_rows(highs)
        low = _bound(highs, column[cell], highspy.ObjSense.kMinimize)
        if high - low < width - 1e-9:
            binding |= _binding_rows(highs)
            narrow[cell] = {
                other for row in binding for other in around[row] if other not in column
            }
    return narrow


def _binding_rows(highs) -> set[int]:
    duals = highs.getSolution().row_dual
    return {row for row, dual in enumerate(duals) if abs(dual) > 1e-9}


def _optimum(highs, sense) -> float:
    """The model's optimal value in ``sense``; ``inf`` when unbounded above."""
    highs.changeObjectiveSense(sense)
    highs.run()
    status = highs.getModelStatus()
    if status == highspy.HighsModelStatus.kUnknown:
        # A hot start can stall on a degenerate basis (seen on tables of zeros); the
        # same LP solved from scratch settles it.
        highs.clearSolver()
        highs.run()
        status = highs.getModelStatus()
    if status == highspy.HighsModelStatus.kOptimal:
        return float(highs.getInfo().objective_function_value)
    unbounded = (
        highspy.HighsModelStatus.kUnbounded,
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    )
    if sense == highspy.ObjSense.kMaximize and status in unbounded:
        return math.inf
    raise RuntimeError(f"the audit's LP failed: {highs.modelStatusToString(status)}")


def unsafe_cells(
    intervals: Mapping[int, Interval], primary: Iterable[int], width: float
) -> list[int]:
    """The primary cells whose proven interval is narrower than ``width``."""
    return sorted(cell for cell in primary if intervals[cell].width < width - 1e-9)


def protect(
    table: Table,
    primary: Iterable[int],
    width: float,
    *,
    start: Iterable[int] = (),
    fixed: Iterable[int] = (),
    cost: Sequence[float] | None = None,
) -> tuple[set[int], dict[int, Interval]]:
    """Hide the primary cells (and ``start``, an earlier release's pattern), then
    complementary cells until the audit proves every primary cell's interval at least
    ``width`` wide. Returns the hidden cells and the audited interval of each (the
    certificate). Cells in ``fixed`` are never picked as complements: cells an earlier
    release already published (or hid) stay as they were. Complements are chosen for the
    least ``cost`` (by default a cell's count: the fewest students hidden).

    Hiding more never narrows an interval (a shown value becomes one more unknown), so a
    primary cell proven wide stays wide: each round checks only the cells not yet proven,
    and hides, for each of them, one shown cell whose sum binds its bound at the LP
    optimum (``_relaxing``; ``_complements`` when no sum binds). Always ends: every
    round hides at least one more cell or gives up (an error: nothing left that may be
    hidden), and a table with every cell hidden proves nothing."""
    cost = table.counts if cost is None else cost
    primary = set(primary)
    hidden = primary | set(start)
    # A fixed cell counts as hidden when choosing: never picked, whether shown or not.
    unavailable = hidden | set(fixed)
    unproven = set(primary)
    while unproven:
        added: set[int] = set()
        for block in _blocks(table, sorted(hidden)):
            waiting = [cell for cell in block if cell in unproven]
            if not waiting:
                continue
            narrow = _narrow_cells(table, block, waiting, width)
            unproven -= set(waiting) - set(narrow)
            relaxing = _relaxing(narrow, unavailable | added, cost)
            if narrow and not relaxing:
                relaxing = _complements(
                    table, block, hidden | added, len(narrow), unavailable, cost
                )
            added |= relaxing
        if unproven and not added:
            raise RuntimeError("no cell left to hide, yet the audit still fails")
        hidden |= added
        unavailable |= added
    return hidden, attacker_intervals(table, hidden)


def _relaxing(narrow: Mapping[int, set[int]], hidden: set[int], cost: Sequence[float]) -> set[int]:
    """For each narrow cell, the shown cell binding its bounds that costs least to hide
    (preferring one that binds several narrow cells): the audit's own answer to which
    cell to hide, where a rule of thumb picks cells that do not help."""
    binds: dict[int, int] = {}
    for candidates in narrow.values():
        for cell in candidates - hidden:
            binds[cell] = binds.get(cell, 0) + 1
    picked: set[int] = set()
    for candidates in narrow.values():
        if candidates & picked:
            continue
        choices = candidates - hidden
        if choices:
            picked.add(min(choices, key=lambda cell: (cost[cell], -binds[cell], cell)))
    return picked


def _complements(
    table: Table,
    block: list[int],
    hidden: set[int],
    wanted: int,
    unavailable: set[int],
    cost: Sequence[float],
) -> set[int]:
    """Up to ``wanted`` more cells to hide around a block still too narrow, one per
    primary cell not yet proven wide. A sum around the block with a single hidden cell
    gives that cell away, so each pick is the shown cell closing the most such sums
    (then the cheapest); a sum it closes stops counting for the
    next pick. When no sum is open, the block is pinned by values further out: the
    cheapest shown cell of any sum around it."""
    around = table.sums_around(block)
    open_sums = [cells for cells in around if sum(cell in hidden for cell in cells) == 1]
    sums_closed_by: dict[int, list[int]] = {}
    for at, cells in enumerate(open_sums):
        for cell in cells:
            if cell not in hidden and cell not in unavailable:
                sums_closed_by.setdefault(cell, []).append(at)
    closes = {cell: len(sums) for cell, sums in sums_closed_by.items()}
    closed: set[int] = set()
    picked: set[int] = set()
    for _ in range(wanted):
        if closes:
            pick = min(closes, key=lambda cell: (-closes[cell], cost[cell], cell))
            for at in sums_closed_by[pick]:
                if at not in closed:
                    closed.add(at)
                    for cell in open_sums[at]:
                        if cell in closes:
                            closes[cell] -= 1
                            if not closes[cell]:
                                del closes[cell]
            closes.pop(pick, None)
        else:
            shown = {cell for cells in around for cell in cells} - hidden - unavailable - picked
            if not shown:
                break
            pick = min(shown, key=lambda cell: (cost[cell], cell))
        picked.add(pick)
    return picked
