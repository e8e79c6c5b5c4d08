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


def code_percent(numerator: int, denominator: int) -> Percent:
    """``numerator`` of ``denominator`` as a percentage, coded near the ends by the
    group's size (``≤5%``, ``≥95%``): 0% and 100% are always coded. The caller decides
    first whether the numerator and denominator may be shown at all."""
    if denominator <= 0 or not 0 <= numerator <= denominator:
        raise ValueError(f"not a rate: {numerator} of {denominator}")
    low, high = percent_ends(denominator)
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
    intervals, _ = _audit(table, hidden, {})
    return intervals


def _audit(
    table: Table, hidden: Iterable[int], audited: dict[frozenset[int], dict[int, Interval]]
) -> tuple[dict[int, Interval], dict[int, list[int]]]:
    """The intervals of every hidden cell, and each hidden cell's block. A block already
    in ``audited`` is not solved again: its intervals depend on its own cells alone."""
    intervals: dict[int, Interval] = {}
    block_of: dict[int, list[int]] = {}
    for block in _blocks(table, sorted(set(hidden))):
        key = frozenset(block)
        if key not in audited:
            audited[key] = _audit_block(table, block)
        intervals.update(audited[key])
        block_of.update(dict.fromkeys(block, block))
    return intervals, block_of


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
    column = {cell: at for at, cell in enumerate(block)}
    starts, columns, values, rhs = [], [], [], []
    for total, *parts in table.sums_around(block):
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
    highs.addVars(len(block), np.zeros(len(block)), np.full(len(block), highspy.kHighsInf))
    if rhs:
        bound = np.array(rhs)
        highs.addRows(
            len(rhs), bound, bound, len(columns), np.array(starts), np.array(columns),
            np.array(values),
        )  # fmt: skip
    intervals = {}
    for cell, at in column.items():
        highs.changeColCost(at, 1.0)
        low = _optimum(highs, highspy.ObjSense.kMinimize)
        high = _optimum(highs, highspy.ObjSense.kMaximize)
        highs.changeColCost(at, 0.0)
        intervals[cell] = Interval(low, high)
    return intervals


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
    table: Table, primary: Iterable[int], width: float
) -> tuple[set[int], dict[int, Interval]]:
    """Hide the primary cells, then complementary cells until the audit proves every
    primary cell's interval at least ``width`` wide. Returns the hidden cells and their
    audited intervals (the certificate).

    Each round, for each primary cell still too narrow, one more cell of a sum around
    its block is hidden (``_complement``); only the blocks that changed are audited
    again (a block's intervals depend on its own cells alone). Always ends: every round
    hides at least one more cell, and a table with every cell hidden proves nothing."""
    primary = set(primary)
    hidden = set(primary)
    audited: dict[frozenset[int], dict[int, Interval]] = {}
    while True:
        intervals, block_of = _audit(table, hidden, audited)
        unsafe = unsafe_cells(intervals, primary, width)
        if not unsafe:
            return hidden, intervals
        added: set[int] = set()
        for cell in unsafe:
            candidate = _complement(table, block_of[cell], hidden | added)
            if candidate is not None:
                added.add(candidate)
        if not added:
            raise RuntimeError("no cell left to hide, yet the audit still fails")
        hidden |= added


def _complement(table: Table, block: list[int], hidden: set[int]) -> int | None:
    """The next cell to hide for a block still too narrow: a sum around the block with
    a single hidden cell gives that cell away, so the shown cell closing the most such
    sums, then the one with the fewest students; else the smallest shown cell of any
    sum around the block (the block is pinned by its values, not by a lone cell)."""
    around = table.sums_around(block)
    closes: dict[int, int] = {}
    for cells in around:
        if sum(cell in hidden for cell in cells) == 1:
            for cell in cells:
                if cell not in hidden:
                    closes[cell] = closes.get(cell, 0) + 1
    if closes:
        return min(closes, key=lambda cell: (-closes[cell], table.counts[cell], cell))
    shown = {cell for cells in around for cell in cells if cell not in hidden}
    return min(shown, key=lambda cell: (table.counts[cell], cell), default=None)
