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
import logging
import math
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum

import highspy
import numpy as np

logger = logging.getLogger(__name__)

PRIMAL_SIMPLEX = 4  # HiGHS's simplex_strategy value for the primal simplex
# While choosing complements, the cells still to prove are settled together again after
# this many more hidden cells (reports/suppression.py ``_search``).
SETTLE_EVERY = 20


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
    from the last one's basis (a fresh SciPy LP per bound took nine times as long).

    Most bounds need no solve of their own. Each sum alone bounds its cells (the total
    less the most and the least the other parts can be, ``_propagated``), and the LP's
    bound is never looser; a table satisfying every sum that reaches such a bound shows
    it is the LP's. Every optimum found is such a table, and two solves (the block's sum
    minimised, then maximised with each cell capped at its bound) reach most bounds; one
    more finds every cell that has no upper bound at all."""
    highs, column, around = _block_model(table, block)
    floor, ceiling = _propagated(table, column, around)
    lowest = np.full(len(block), np.inf)
    highest = np.full(len(block), -np.inf)

    def solve(sense) -> float:
        value = _optimum(highs, sense)
        if highs.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            reached = np.asarray(highs.getSolution().col_value)
            np.minimum(lowest, reached, out=lowest)
            np.maximum(highest, reached, out=highest)
        return value

    every = np.arange(len(block))
    unbounded = np.full(len(block), highspy.kHighsInf)
    highs.changeColsCost(len(block), every, np.ones(len(block)))
    solve(highspy.ObjSense.kMinimize)
    capped = np.isfinite(ceiling)  # a cell nothing caps would leave the LP unbounded
    highs.changeColsCost(len(block), every, capped.astype(float))
    highs.changeColsBounds(len(block), every, floor, np.where(capped, ceiling, unbounded))
    solve(highspy.ObjSense.kMaximize)
    highs.changeColsBounds(len(block), every, np.zeros(len(block)), unbounded)
    highs.changeColsCost(len(block), every, np.zeros(len(block)))
    # A cell with no upper bound would cost a solve that ends "unbounded": one LP finds
    # them all, and their maxima are reached (infinite) without a solve each.
    rising = _unbounded_columns(highs, np.flatnonzero(~capped))
    highest[rising] = np.inf
    _BoundSolver(table, block, highs, lowest, highest).solve_all(
        [
            (highspy.ObjSense.kMaximize, highest, ceiling),
            (highspy.ObjSense.kMinimize, lowest, floor),
        ]
    )
    return {
        cell: Interval(float(floor[column[cell]]), float(ceiling[column[cell]])) for cell in block
    }


def _unbounded_columns(highs, candidates: np.ndarray) -> np.ndarray:
    """Of the ``candidates`` (columns of a block's model), those the attacker cannot
    bound above. Such a cell can grow without end along a ray: a direction ``d ≥ 0`` with
    ``A d = 0`` that moves it. Rays add up, so one LP finds every such cell: maximise the
    number of candidates that some ray moves by at least 1 (``t ≤ d``, ``t ≤ 1``), and
    a candidate is unbounded exactly when its ``t`` reaches 1."""
    if not len(candidates):
        return candidates
    rays = highspy.Highs()
    rays.setOptionValue("output_flag", False)
    rays.passModel(highs.getLp())
    rows, columns = rays.getNumRow(), rays.getNumCol()
    zeros = np.zeros(rows)
    rays.changeRowsBounds(rows, np.arange(rows), zeros, zeros)
    rays.changeColsCost(columns, np.arange(columns), np.zeros(columns))
    moved = columns + np.arange(len(candidates))  # each candidate's t
    rays.addVars(len(candidates), np.zeros(len(candidates)), np.ones(len(candidates)))
    rays.changeColsCost(len(candidates), moved, np.ones(len(candidates)))
    rays.addRows(  # t - d <= 0
        len(candidates), np.full(len(candidates), -highspy.kHighsInf), np.zeros(len(candidates)),
        2 * len(candidates), np.arange(0, 2 * len(candidates), 2),
        np.ravel(np.column_stack([moved, candidates])),
        np.tile([1.0, -1.0], len(candidates)),
    )  # fmt: skip
    _optimum(rays, highspy.ObjSense.kMaximize)
    reached = np.asarray(rays.getSolution().col_value)[moved]
    return candidates[reached > 0.5]


# A block's remaining bounds are solved side by side on this many threads, each on its
# own copy of the block's model: HiGHS lets go of the GIL while it solves.
AUDIT_THREADS = min(4, os.cpu_count() or 1)
# Fewer bounds than this left per thread are not worth copying the model for.
BOUNDS_PER_THREAD = 64


class _BoundSolver:
    """The bounds of one block that its first two optima did not reach, one solve each,
    on ``AUDIT_THREADS`` threads. Every optimum any thread finds is a table the attacker
    cannot rule out, so it can reach bounds still queued, which are then not solved."""

    def __init__(self, table: Table, block: list[int], highs, lowest, highest) -> None:
        self.table, self.block, self.highs = table, block, highs
        self.lowest, self.highest = lowest, highest
        self.lock = threading.Lock()
        self.abandoned = False

    def solve_all(self, senses) -> None:
        tasks = [(sense, reached, bound, at) for sense, reached, bound in senses
                 for at in range(len(self.block))]  # fmt: skip
        waiting = sum(1 for _, reached, bound, at in tasks if not self._reached(reached, bound, at))
        threads = max(1, min(AUDIT_THREADS, waiting // BOUNDS_PER_THREAD))
        queue = iter(tasks)
        if threads == 1:
            self._work(self.highs, queue)
            return
        basis = self.highs.getBasis()
        with ThreadPoolExecutor(threads - 1) as pool:
            helpers = [pool.submit(self._work_on_copy, basis, queue) for _ in range(threads - 1)]
            try:
                self._work(self.highs, queue)
                for helper in helpers:
                    helper.result()
            finally:
                # Stopped (an LP failed, or a caller's time limit): the helpers stop too.
                self.abandoned = True

    def _work_on_copy(self, basis, queue) -> None:
        highs = _block_model(self.table, self.block)[0]
        highs.setBasis(basis)
        self._work(highs, queue)

    def _work(self, highs, queue) -> None:
        while not self.abandoned:
            with self.lock:
                task = next(queue, None)
            if task is None:
                return
            sense, reached, bound, at = task
            if self._reached(reached, bound, at):
                continue
            highs.changeColCost(at, 1.0)
            bound[at] = _optimum(highs, sense)
            if highs.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                solution = np.asarray(highs.getSolution().col_value)
                with self.lock:
                    np.minimum(self.lowest, solution, out=self.lowest)
                    np.maximum(self.highest, solution, out=self.highest)
            highs.changeColCost(at, 0.0)

    @staticmethod
    def _reached(reached, bound, at: int) -> bool:
        # Equal first: an unbounded cell's maximum is reached at inf (inf - inf is nan).
        return reached[at] == bound[at] or abs(reached[at] - bound[at]) <= 1e-7


PROPAGATION_PASSES = 20


def _propagated(
    table: Table, column: Mapping[int, int], around: Sequence[tuple[int, ...]]
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on each column's cell that the sums prove one at a time, repeated until
    none tightens: a part is at most its total's most less the other parts' least, and
    so on. Valid bounds, never tighter than the LP's (``_audit_block``)."""
    floor = np.zeros(len(column))
    ceiling = np.full(len(column), np.inf)
    rows = []
    for total, *parts in around:
        terms, constant = [], 0.0
        for cell, sign in [(total, -1.0), *((part, 1.0) for part in parts)]:
            if cell in column:
                terms.append((column[cell], sign))
            else:
                constant += sign * table.counts[cell]
        rows.append((terms, -constant))  # sum of sign * x over terms = -constant
    for _ in range(PROPAGATION_PASSES):
        tightened = False
        for terms, rhs in rows:
            least = [floor[at] if sign > 0 else -ceiling[at] for at, sign in terms]
            most = [ceiling[at] if sign > 0 else -floor[at] for at, sign in terms]
            least_sum, most_sum = _finite_sum(least), _finite_sum(most)
            for (at, sign), term_least, term_most in zip(terms, least, most, strict=True):
                # sign * x = rhs - (the other terms), between these two:
                low = rhs - _less(most_sum, term_most)
                high = rhs - _less(least_sum, term_least)
                low, high = (low, high) if sign > 0 else (-high, -low)
                if low > floor[at] + 1e-9:
                    floor[at], tightened = low, True
                if high < ceiling[at] - 1e-9:
                    ceiling[at], tightened = high, True
        if not tightened:
            break
    return floor, ceiling


def _finite_sum(values: Sequence[float]) -> tuple[float, int, int]:
    """A sum that may hold infinities: the finite part and how many +inf and -inf."""
    finite = sum(value for value in values if math.isfinite(value))
    return (
        finite,
        sum(value == math.inf for value in values),
        sum(value == -math.inf for value in values),
    )


def _less(total: tuple[float, int, int], value: float) -> float:
    """The sum ``total`` (from ``_finite_sum``) without one of its values."""
    finite, plus, minus = total
    plus -= value == math.inf
    minus -= value == -math.inf
    if plus and minus:
        return math.nan
    if plus:
        return math.inf
    if minus:
        return -math.inf
    return finite - (value if math.isfinite(value) else 0.0)


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


def _settled_together(
    table: Table, highs, column: Mapping[int, int], cells: Iterable[int], width: float
) -> set[int]:
    """The ``cells`` that one table the attacker cannot rule out shows ``width`` wide:
    the true table is one, so another where a cell is ``width`` above (or below) its true
    value proves the interval wide. Two LPs find such a table for most cells at once,
    maximising the sum over cells of their shift capped at ``width`` (up, then down for
    the rest), where proving each cell alone takes one or two solves per cell.
    ``highs`` (a block's model, its columns by cell in ``column``) is left as it was."""
    settled: set[int] = set()
    for direction in (1.0, -1.0):
        trying = [cell for cell in cells if cell not in settled
                  and (direction > 0 or table.counts[cell] >= width)]  # fmt: skip
        if not trying:
            break
        shifted = highspy.Highs()
        shifted.setOptionValue("output_flag", False)
        shifted.passModel(highs.getLp())
        # A shift variable per cell, at most ``width``: shift <= direction * (x - true).
        shifts = shifted.getNumCol() + np.arange(len(trying))
        shifted.addVars(len(trying), np.full(len(trying), -highspy.kHighsInf),
                        np.full(len(trying), float(width)))  # fmt: skip
        shifted.changeColsCost(len(trying), shifts, np.ones(len(trying)))
        true = np.array([table.counts[cell] for cell in trying], dtype=float)
        shifted.addRows(
            len(trying), np.full(len(trying), -highspy.kHighsInf), -direction * true,
            2 * len(trying), np.arange(0, 2 * len(trying), 2),
            np.ravel(np.column_stack([shifts, [column[cell] for cell in trying]])),
            np.tile([1.0, -direction], len(trying)),
        )  # fmt: skip
        _optimum(shifted, highspy.ObjSense.kMaximize)
        values = np.asarray(shifted.getSolution().col_value)
        shift = {cell: direction * (values[column[cell]] - table.counts[cell]) for cell in trying}
        settled |= {cell for cell in trying if shift[cell] >= width - 1e-9}
    return settled


class _Search:
    """One block's LP for choosing complements: the block's hidden cells are variables,
    and so is every shown cell of the sums around them, held at its value by its bounds.
    Hiding a cell frees its bounds and brings its own sums in, so the search hides cell
    after cell on one model, each solve hot-started from the last.

    Every sum around a free variable is in the model, and a cell hidden in another block
    is held at its value (more than the attacker knows): a cell proven wide here is wide
    in the release."""

    def __init__(self, table: Table, block: Sequence[int]) -> None:
        self.table = table
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("simplex_strategy", PRIMAL_SIMPLEX)
        self.column: dict[int, int] = {}
        self.cells: list[int] = []  # the cell of each column
        self.held: list[bool] = []  # whether each column is held at its value
        self.sums: set[tuple[int, ...]] = set()
        self._add_columns(block, held=False)
        self._add_sums(table.sums_around(block))

    def _add_columns(self, cells: Iterable[int], *, held: bool) -> None:
        new = [cell for cell in dict.fromkeys(cells) if cell not in self.column]
        if not new:
            return
        counts = np.array([self.table.counts[cell] for cell in new], dtype=float)
        low, high = (
            (counts, counts) if held else (np.zeros(len(new)), np.full(len(new), highspy.kHighsInf))
        )
        self.highs.addVars(len(new), low, high)
        for cell in new:
            self.column[cell] = len(self.cells)
            self.cells.append(cell)
            self.held.append(held)

    def _add_sums(self, sums: Iterable[tuple[int, ...]]) -> None:
        new = [cells for cells in sums if cells not in self.sums]
        self.sums.update(new)
        self._add_columns((cell for cells in new for cell in cells), held=True)
        for total, *parts in new:
            columns = [self.column[total], *(self.column[part] for part in parts)]
            values = [-1.0, *([1.0] * len(parts))]
            self.highs.addRow(0.0, 0.0, len(columns), np.array(columns), np.array(values))

    def hide(self, cell: int) -> None:
        """Free ``cell`` (a held column) and add the sums around it."""
        at = self.column[cell]
        self.held[at] = False
        self.highs.changeColBounds(at, 0.0, highspy.kHighsInf)
        self._add_sums(self.table.sums_of.get(cell, ()))

    def blockers(self, cell: int, width: float) -> set[int] | None:
        """``None`` when ``cell`` is proven ``width`` wide; else the held cells whose
        values bound it (a nonzero reduced cost at either optimum): freeing one of them
        is what can widen it."""
        at, true = self.column[cell], self.table.counts[cell]
        high = _bound(self.highs, at, highspy.ObjSense.kMaximize)
        if high - true >= width - 1e-9:
            return None
        blocking = self._held_binding()
        low = _bound(self.highs, at, highspy.ObjSense.kMinimize)
        if high - low >= width - 1e-9:
            return None
        return blocking | self._held_binding()

    def _held_binding(self) -> set[int]:
        duals = np.abs(np.asarray(self.highs.getSolution().col_dual)) > 1e-9
        return {self.cells[at] for at in np.flatnonzero(duals & np.array(self.held))}


# What lifting a primary cell one student is worth against moving a shown cell one
# student at its normalised cost (at most 1): above any chain of cells a lift moves.
LIFT_VALUE = 1e4
FREE_COST = 1e-3  # an unpublished cell's: free to hide, yet not moved for nothing


def _lift(
    table: Table,
    cells: Sequence[int],
    width: float,
    hidden: set[int],
    unavailable: set[int],
    cost: Sequence[float],
) -> tuple[set[int], set[int]]:
    """Complements for many cells with one LP: the table closest to the true one (each
    shown cell moved at its cost) in which every one of ``cells`` is ``width`` above its
    true value. The shown cells it moves are hidden; it is then a table the attacker
    cannot rule out, and proves wide every cell it lifts that far. Returns the cells
    proven and the cells hidden.

    Its variables: each cell, the hidden ones free, the shown ones that may be hidden
    moved up and down from their value (the others held), and each lift, capped at
    ``width``; its rows, every sum of the table."""
    count = np.array(table.counts, dtype=float)
    n, k = len(count), len(cells)
    may_move = np.array([at not in unavailable for at in range(n)])
    free = np.zeros(n, dtype=bool)
    free[list(hidden)] = True
    may_move &= ~free
    # Columns: the cells (0..n), each cell's move down (n..2n), each lift (2n..2n+k).
    top = max((cost[at] for at in np.flatnonzero(may_move)), default=1.0) or 1.0
    price = np.array([cost[at] / top or FREE_COST for at in range(n)])
    lower = np.concatenate(
        [np.where(free, 0.0, count), np.zeros(n), np.full(k, -highspy.kHighsInf)]
    )
    upper = np.concatenate([
        np.where(free | may_move, highspy.kHighsInf, count),
        np.where(may_move, count, 0.0),
        np.full(k, float(width)),
    ])  # fmt: skip
    # A shown cell moves up by the amount its column rises above its value (the column's
    # lower bound), and down by its own column: each at the cell's price.
    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.addVars(2 * n + k, lower, upper)
    costs = np.concatenate([-np.where(may_move, price, 0.0), -np.where(may_move, price, 0.0),
                            np.full(k, LIFT_VALUE)])  # fmt: skip
    highs.changeColsCost(2 * n + k, np.arange(2 * n + k), costs)
    highs.changeObjectiveSense(highspy.ObjSense.kMaximize)
    starts, indices, values = [], [], []
    for total, parts in table.sums:
        starts.append(len(indices))
        for cell, sign in [(total, -1.0), *((part, 1.0) for part in parts)]:
            indices += [cell, n + cell]  # the cell's value less its move down
            values += [sign, -sign]
    lifted = np.array(cells)
    for lift, cell in enumerate(lifted):  # lift - x <= -true
        starts.append(len(indices))
        indices += [2 * n + lift, int(cell)]
        values += [1.0, -1.0]
    rows = len(starts)
    lhs = np.concatenate([np.zeros(len(table.sums)), np.full(k, -highspy.kHighsInf)])
    rhs = np.concatenate([np.zeros(len(table.sums)), -count[lifted]])
    highs.addRows(rows, lhs, rhs, len(indices), np.array(starts), np.array(indices),
                  np.array(values))  # fmt: skip
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return set(), set()
    solution = np.asarray(highs.getSolution().col_value)
    value = solution[:n] - solution[n : 2 * n]
    moves = np.where(may_move, np.abs(value - count) + 2 * solution[n : 2 * n], 0.0)
    picked = set(np.flatnonzero(moves > 1e-6).tolist())
    proven = {cell for cell in cells if value[cell] - count[cell] >= width - 1e-6}
    return proven, picked


def _lift_by_class(
    table: Table,
    cells: Sequence[int],
    width: float,
    hidden: set[int],
    unavailable: set[int],
    cost: Sequence[float],
) -> tuple[set[int], set[int]]:
    """``_lift`` class by class, each class a set of ``cells`` no two of which share a
    short sum. Two cells of one sum lifted together ask for a table where both rise at once,
    which the audit never needs (each cell is proven wide by a table of its own) and
    which costs more: a row whose levels are all small must then raise its total, and
    the total's own sums with it. Each class's complements are hidden before the next
    class's lift, which moves them at no cost. Returns the cells proven and hidden.

    Each lift is solved from scratch: started from the last class's basis, the same
    lifts took four times as long (dual simplex) or thirteen (primal)."""
    proven: set[int] = set()
    picked: set[int] = set()
    hidden, unavailable = set(hidden), set(unavailable)
    for group in _classes_sharing_no_short_sum(table, cells):
        lifted, moved = _lift(table, group, width, hidden, unavailable, cost)
        proven |= lifted
        picked |= moved
        hidden |= moved
        unavailable |= moved
    return proven, picked


# Sums of at most this many parts keep their cells in separate lifts: a row's levels, a
# dimension's subgroups (8 races at most). Longer sums (a district's schools, a scope's
# grades) spread a joint lift over many parts; counting them too took 59 lifts instead
# of 9 on a 50-school district, for 0.9 points less of the card hidden.
SHORT_SUM_PARTS = 8


def _classes_sharing_no_short_sum(table: Table, cells: Sequence[int]) -> list[list[int]]:
    """``cells`` coloured greedily, in order, so that no two of one colour share a sum of
    at most ``SHORT_SUM_PARTS`` parts."""
    colour: dict[int, int] = {}
    classes: list[list[int]] = []
    for cell in cells:
        taken = {colour[other] for cells_of_sum in table.sums_of.get(cell, ())
                 if len(cells_of_sum) <= SHORT_SUM_PARTS + 1
                 for other in cells_of_sum if other in colour}  # fmt: skip
        first_free = next(at for at in range(len(classes) + 1) if at not in taken)
        colour[cell] = first_free
        if first_free == len(classes):
            classes.append([])
        classes[first_free].append(cell)
    return classes


def _search(
    table: Table,
    block: list[int],
    cells: Sequence[int],
    width: float,
    unavailable: set[int],
    cost: Sequence[float],
) -> tuple[set[int], set[int]]:
    """Widen each of ``cells`` in turn by hiding, one at a time, the cheapest shown cell
    that bounds it, until it is proven wide or nothing that may be hidden bounds it.
    Returns the cells proven wide and the cells hidden."""
    search = _Search(table, block)
    proven: set[int] = set()
    picked: set[int] = set()
    picked_since_settling = 0
    for at, cell in enumerate(cells):
        if picked_since_settling >= SETTLE_EVERY:
            # What was hidden since may have widened many cells still to come.
            proven |= _settled_together(table, search.highs, search.column, cells[at:], width)
            picked_since_settling = 0
        if cell in proven:
            continue
        while (blocking := search.blockers(cell, width)) is not None:
            choices = blocking - unavailable - picked
            if not choices:
                break
            pick = min(choices, key=lambda other: (cost[other], other))
            search.hide(pick)
            picked.add(pick)
            picked_since_settling += 1
        else:
            proven.add(cell)
    return proven, picked


def _optimum(highs, sense) -> float:
    """The model's optimal value in ``sense``; ``inf`` when unbounded above."""
    highs.changeObjectiveSense(sense)
    highs.run()
    status = highs.getModelStatus()
    if status in (highspy.HighsModelStatus.kUnknown, highspy.HighsModelStatus.kInfeasible):
        # A hot start can stall on a degenerate basis (seen on tables of zeros), or end
        # "infeasible" on a large one (seen once among the 101,000 hidden cells of a
        # 284-school district), though the true table satisfies every row: the same LP
        # solved from scratch settles it.
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
    primary cell proven wide stays wide, and each step works on the cells not yet proven:

    1. a sum whose only hidden cell is primary gets a complement (``_close_open_sums``:
       no LP needed);
    2. each round, cells one table of the attacker's shows wide are proven, block by
       block (``_settled_together``);
    3. for each class of the rest that share no short sum, one LP over the whole table finds
       the cheapest moves of shown cells that lift the class ``width`` up at once; the
       cells it moves are hidden (``_lift_by_class``);
    4. what no single table lifts is widened cell by cell, hiding the cheapest shown cell
       that bounds it (``_search``; ``_complements`` when none may be hidden).

    Always ends: every round proves or hides at least one more cell, or gives up (an error: nothing
    left that may be hidden), and a table with every cell hidden proves nothing."""
    cost = table.counts if cost is None else cost
    primary = set(primary)
    hidden = primary | set(start)
    # A fixed cell counts as hidden when choosing: never picked, whether shown or not.
    unavailable = hidden | set(fixed)
    unproven = set(primary)
    hidden |= _close_open_sums(table, primary, hidden, unavailable, cost)
    unavailable |= hidden
    while unproven:
        unproven -= _settled(table, hidden, unproven, width)
        if not unproven:
            break
        proven, picked = _lift_by_class(table, sorted(unproven), width, hidden, unavailable, cost)
        if not proven:  # what no one table lifts, cell by cell
            proven, picked = _searched(table, hidden, unproven, width, unavailable, cost)
        unproven -= proven
        # (The lift can prove cells without hiding any: it moves cells hidden in other
        # blocks, which the per-block settling holds.)
        if unproven and not picked and not proven:
            raise RuntimeError("no cell left to hide, yet the audit still fails")
        hidden |= picked
        unavailable |= picked
    return hidden, attacker_intervals(table, hidden)


def _settled(table: Table, hidden: set[int], cells: set[int], width: float) -> set[int]:
    """Of ``cells``, those proven wide, block by block, by ``_settled_together``."""
    settled: set[int] = set()
    for block in _blocks(table, sorted(hidden)):
        waiting = [cell for cell in block if cell in cells]
        if waiting:
            highs, column, _ = _block_model(table, block)
            settled |= _settled_together(table, highs, column, waiting, width)
    return settled


def _searched(
    table: Table,
    hidden: set[int],
    cells: set[int],
    width: float,
    unavailable: set[int],
    cost: Sequence[float],
) -> tuple[set[int], set[int]]:
    """``_search`` in each block holding some of ``cells``, then ``_complements`` in a
    block where no shown cell bounding its cells may be hidden."""
    proven: set[int] = set()
    picked: set[int] = set()
    for block in _blocks(table, sorted(hidden)):
        waiting = [cell for cell in block if cell in cells]
        if not waiting:
            continue
        wide, more = _search(table, block, waiting, width, unavailable | picked, cost)
        if len(wide) < len(waiting) and not more:
            more = _complements(table, block, hidden | picked, len(waiting) - len(wide),
                                unavailable | picked, cost)  # fmt: skip
        proven |= wide
        picked |= more
    return proven, picked


def _close_open_sums(
    table: Table,
    primary: Iterable[int],
    hidden: set[int],
    unavailable: set[int],
    cost: Sequence[float],
) -> set[int]:
    """Complements no audit is needed to find: a sum whose only hidden cell is a primary
    one gives it away exactly (its total less its other parts), so each such sum needs
    one more hidden cell. The cheapest is picked, then the one closing the most such
    sums. One pass over every primary cell, where the audit's rounds would find them one
    by one, each round solving two LPs per cell."""
    open_sums = [cells for cells in table.sums_around(primary)
                 if sum(cell in hidden for cell in cells) == 1]  # fmt: skip
    closes: dict[int, int] = {}
    for cells in open_sums:
        for cell in cells:
            if cell not in unavailable:
                closes[cell] = closes.get(cell, 0) + 1
    picked: set[int] = set()
    for cells in open_sums:
        if picked.intersection(cells):
            continue
        choices = [cell for cell in cells if cell not in unavailable]
        if choices:
            picked.add(min(choices, key=lambda cell: (cost[cell], -closes[cell], cell)))
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


def protect_in_parts(
    table: Table,
    parts: Sequence[Sequence[int]],
    primary: Iterable[int],
    width: float,
    *,
    start: Iterable[int] = (),
    fixed: Iterable[int] = (),
    cost: Sequence[float] | None = None,
) -> tuple[set[int], dict[int, Interval], bool]:
    """``protect`` for a table too large to protect whole (a large district's schools,
    every one tied to every other through the district's sums): part by part, each part
    with the cells in no part (the shared cells: the district's own) and everything
    outside them held at its true value.

    Holding hidden cells at their true values only takes tables away from the attacker's
    LP (the part's tables are some of the whole's), so an interval proven in a part's
    restriction lies inside the whole table's: a primary cell proven wide there is wide
    against everything published. Cells hidden later only add unknowns, so a part's proof
    holds to the end. The intervals returned are those proven intervals (a shared cell's
    the hull of its parts', each inside the whole's): the attacker's may be wider, never
    narrower. Each shared primary cell is proven in the part holding most of the students
    of its sums (the first part when no sum ties it to one).

    Returns the hidden cells, the intervals, and whether they are the attacker's exact
    ones: one part (or none) is ``protect`` itself, and so is a table one of whose parts
    cannot be protected on its own (what an earlier release showed can pin a small cell
    to cells of another part): it is then protected whole, from what the parts hid."""
    cost = table.counts if cost is None else cost
    primary, start, fixed = set(primary), set(start), set(fixed)
    if len(parts) <= 1:
        return (*protect(table, primary, width, start=start, fixed=fixed, cost=cost), True)
    in_part = {cell: at for at, part in enumerate(parts) for cell in part}
    shared = [cell for cell in range(len(table.counts)) if cell not in in_part]
    home = _shared_homes(table, shared, in_part)
    # Each set sorted by part once (and the shared cells apart), not scanned per part.
    primary_in, primary_shared = _by_part(primary, in_part, len(parts))
    hidden_in, hidden_shared = _by_part(primary | start, in_part, len(parts))
    fixed_in, fixed_shared = _by_part(fixed, in_part, len(parts))
    intervals: dict[int, Interval] = {}
    for at, part in enumerate(parts):
        restricted = _Restriction(table, [*part, *shared])
        local = restricted.local
        proving = primary_in[at] | {cell for cell in primary_shared if home.get(cell, 0) == at}
        part_primary = {local[cell] for cell in proving}
        try:
            found, proven = protect(
                restricted.table,
                part_primary,
                width,
                start={local[cell] for cell in hidden_in[at] | hidden_shared} - part_primary,
                fixed={local[cell] for cell in fixed_in[at] | fixed_shared} | restricted.outside,
                cost=restricted.costs(cost),
            )
        except RuntimeError:
            logger.warning("part %d of %d cannot be protected on its own: the whole table is",
                           at + 1, len(parts))  # fmt: skip
            hidden = primary | start | hidden_shared | set().union(*hidden_in)
            return (*protect(table, primary, width, start=hidden, fixed=fixed, cost=cost), True)
        for cell in found - restricted.outside:
            whole = restricted.cells[cell]
            (hidden_in[at] if whole in in_part else hidden_shared).add(whole)
        for cell, interval in proven.items():
            whole = restricted.cells[cell]
            known = intervals.get(whole)
            intervals[whole] = interval if known is None else Interval(
                min(known.low, interval.low), max(known.high, interval.high)
            )  # fmt: skip
    return hidden_shared.union(*hidden_in), intervals, False


def _by_part(
    cells: Iterable[int], in_part: Mapping[int, int], parts: int
) -> tuple[list[set[int]], set[int]]:
    """``cells`` by part, and those in no part."""
    found: list[set[int]] = [set() for _ in range(parts)]
    shared: set[int] = set()
    for cell in cells:
        (found[in_part[cell]] if cell in in_part else shared).add(cell)
    return found, shared


def _shared_homes(
    table: Table, shared: Sequence[int], in_part: Mapping[int, int]
) -> dict[int, int]:
    """Each shared cell's part: the one whose cells in the cell's sums count the most
    students (a district's cell is proven beside the schools holding most of it)."""
    homes: dict[int, int] = {}
    for cell in shared:
        weight: dict[int, int] = {}
        for cells in table.sums_of.get(cell, ()):
            for other in cells:
                if other in in_part:
                    weight[in_part[other]] = weight.get(in_part[other], 0) + table.counts[other]
        if weight:
            homes[cell] = min(weight, key=lambda part: (-weight[part], part))
    return homes


class _Restriction:
    """The table an attacker has if they also knew every cell outside ``cells``: those
    cells, and the sums around them with the outside terms of each folded into one
    shown cell of the same true count (a sum's rest, never hidden)."""

    def __init__(self, table: Table, cells: Sequence[int]) -> None:
        self.cells = list(cells)  # local position -> the whole table's
        self.local = {cell: at for at, cell in enumerate(self.cells)}
        self.outside: set[int] = set()
        counts = [table.counts[cell] for cell in self.cells]
        # Each sum around the cells, with its cells inside: found from the inside cells,
        # never by reading a district's sum of every school.
        around: dict[int, tuple[tuple[int, ...], list[int]]] = {}
        for cell in self.cells:
            for cells_of_sum in table.sums_of.get(cell, ()):
                around.setdefault(id(cells_of_sum), (cells_of_sum, []))[1].append(cell)
        sums: list[tuple[int, list[int]]] = []
        for cells_of_sum, inside in around.values():
            total = cells_of_sum[0]
            parts = [self.local[cell] for cell in inside if cell != total]
            inside_count = sum(table.counts[cell] for cell in inside if cell != total)
            if total not in self.local:  # the parts add up to what the total leaves them
                sums.append((self._rest(counts, inside_count), parts))
                continue
            if len(inside) < len(cells_of_sum):  # some part is outside
                parts.append(self._rest(counts, table.counts[total] - inside_count))
            sums.append((self.local[total], parts))
        self.table = Table(counts, sums)

    def _rest(self, counts: list[int], count: int) -> int:
        counts.append(count)
        self.cells.append(-1)  # no cell of the whole table
        self.outside.add(len(counts) - 1)
        return len(counts) - 1

    def costs(self, cost: Sequence[float]) -> list[float]:
        return [cost[cell] if cell >= 0 else 0.0 for cell in self.cells]
