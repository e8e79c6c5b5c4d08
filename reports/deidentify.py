"""k-anonymity for student-level research extracts (FERPA research studies).

Removing names is not de-identification: the only Asian girl born in 2011 on an IEP at
one school is named by those columns alone. The caller hands over each student's
quasi-identifiers and a hierarchy per column (exact value, coarser groups, ..., "*");
this module picks a full-domain generalisation (one level per column, the same for every
record) and suppresses the records still left in classes smaller than k, at most a set
share of them, so that every released equivalence class holds at least k records.

Among the feasible nodes of that lattice it takes the least information loss: the
normalised certainty penalty of each value, a suppressed record costing 1. The search
walks the lattice depth-first from the exact values, rolling each node's class counts up
from its parent's (never a pass over the records per node), and drops every node whose
loss from generalisation alone already exceeds the best loss found: that bound only grows
as a node is generalised, so the whole sublattice above it goes too. Losses are compared
as exact integers, so ties break the same way every time.

Each sensitive outcome column is then held to distinct ℓ-diversity: a released class
whose students all share one outcome tells each of them their outcome (the homogeneity
attack), so that class's outcome is released blank.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

TOP = "*"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Hierarchy:
    """How one quasi-identifier generalises: level 0 is the exact value, the last level
    is ``"*"`` (nothing of the column released). Each level must group whole groups of
    the level below, or the lattice loses its monotonicity (``anonymise`` checks)."""

    column: str
    level_names: tuple[str, ...]
    generalise: Callable[[object, int], str]


@dataclass(frozen=True)
class Anonymised:
    """What ``anonymise`` chose and what it costs; see its docstring."""

    levels: dict[str, int]
    level_names: dict[str, str]
    kept: np.ndarray
    values: dict[str, list[str]]
    blanked: dict[str, np.ndarray]
    k_required: int
    k_achieved: int
    records: int
    suppressed: int
    information_loss: float
    l_diversity: dict[str, int]
    refused: str | None


# --- hierarchies -----------------------------------------------------------------------


def _is_blank(value: object) -> bool:
    """None, the empty string and NaN (a missing value from a data frame)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    return isinstance(value, float) and math.isnan(value)


def _exact(value: object) -> str:
    return UNKNOWN if _is_blank(value) else str(value)


def _chain(
    column: str,
    level_names: Sequence[str],
    *coarser: Callable[[str], str],
    exact: Callable[[object], str] = _exact,
) -> Hierarchy:
    """A hierarchy whose middle levels are functions of the exact label, which makes
    every level a grouping of the level below as long as each function is one."""
    names = tuple(level_names)
    if len(coarser) != len(names) - 2:
        raise ValueError(f"{column}: {len(names)} level names for {len(coarser) + 2} levels")

    def generalise(value: object, level: int) -> str:
        if not 0 <= level < len(names):
            raise ValueError(f"{column} has no level {level}")
        if level == len(names) - 1:
            return TOP
        label = exact(value)
        return label if level == 0 else coarser[level - 1](label)

    return Hierarchy(column, names, generalise)


def school_hierarchy(school_levels: Mapping[str, str]) -> Hierarchy:
    """School -> its school level (from ``school_levels``; "other" if not there) -> "*"."""

    def school_level(label: str) -> str:
        return str(school_levels.get(label) or "other")

    return _chain("school", ("school", "school level", "district"), school_level)


_GRADE_BANDS = {"PK": "PK-2", "KG": "PK-2", "01": "PK-2", "02": "PK-2"} | {
    f"{grade:02d}": band
    for band, grades in (("3-5", range(3, 6)), ("6-8", range(6, 9)), ("9-12", range(9, 13)))
    for grade in grades
}


def _grade_band(label: str) -> str:
    # "1" is grade 01 too: numbers read from a spreadsheet lose their leading zero.
    code = f"{int(label):02d}" if label.isascii() and label.isdigit() else label
    return _GRADE_BANDS.get(code, "other")


def grade_hierarchy() -> Hierarchy:
    """OneRoster grade code -> band ("PK-2", "3-5", "6-8", "9-12", else "other") -> "*"."""
    return _chain("grade", ("grade", "grade band", "all grades"), _grade_band)


def _year(label: str) -> int | None:
    try:
        year = float(label)
    except ValueError:
        return None
    return int(year) if year.is_integer() else None


def _year_band(width: int) -> Callable[[str], str]:
    def band(label: str) -> str:
        year = _year(label)
        if year is None:
            return UNKNOWN
        start = year - year % width
        return f"{start}-{start + width - 1}"

    return band


def birth_year_hierarchy() -> Hierarchy:
    """Birth year -> 2-year band ("2010-2011") -> 4-year band ("2008-2011") -> "*".

    Four years, not five: a 5-year band (2010-2014) would cut the 2-year band 2014-2015
    in two, and a level that splits a group of the level below breaks the monotonicity
    the search relies on (and the meaning of "coarser")."""
    names = ("birth year", "2-year band", "4-year band", "all years")
    return _chain("birth_year", names, _year_band(2), _year_band(4))


def sex_hierarchy() -> Hierarchy:
    """Sex -> "*"."""
    return _chain("sex", ("sex", "not released"))


MAIN_GROUPS = frozenset(
    {"White", "Black or African American", "Hispanic or Latino", "Asian"}
)  # fmt: skip


def _merged_group(label: str) -> str:
    return label if label in MAIN_GROUPS else "all other groups"


def race_hierarchy() -> Hierarchy:
    """Race/ethnicity -> the four largest groups and "all other groups" -> "*"."""
    names = ("race/ethnicity", "race/ethnicity (merged)", "all")
    return _chain("race_ethnicity", names, _merged_group)


_YES = frozenset({"true", "yes", "y", "t", "1"})
_NO = frozenset({"false", "no", "n", "f", "0"})


def _flag(value: object) -> str:
    if _is_blank(value):
        return UNKNOWN
    if isinstance(value, str):
        text = value.strip().lower()
        return "yes" if text in _YES else "no" if text in _NO else UNKNOWN
    return "yes" if value else "no"


def flag_hierarchy(column: str, label: str) -> Hierarchy:
    """A yes/no program flag (True/False/None) -> "yes"/"no"/"unknown" -> "*"."""
    return _chain(column, (label, "not released"), exact=_flag)


# --- encoding --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    """One quasi-identifier as small integer codes, level by level. Codes are indices
    into the sorted labels of a level; ``to_level[L]`` maps level-0 codes to level-L
    codes and ``step[L]`` maps level L-1 codes to level-L codes."""

    name: str
    records: np.ndarray  # level-0 code of each record
    labels: list[list[str]]
    to_level: list[np.ndarray]
    step: list[np.ndarray]
    penalty: list[np.ndarray]  # level-0 values under each code, less one
    total: list[int]  # the penalty summed over all records, per level

    @property
    def distinct(self) -> int:
        return len(self.labels[0])

    @property
    def top(self) -> int:
        return len(self.labels) - 1


def _codes(values: Sequence, n: int) -> tuple[np.ndarray, list]:
    """Each record's index into the list of distinct raw values (first seen first)."""
    index: dict = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), np.int64, n)
    return codes, list(index)


def _level_codes(column: str, level: int, labels: list[str], exact: np.ndarray):
    """The level's labels, sorted, and the level code of each level-0 code, given each
    distinct raw value's label: raw values that share an exact label must share them all."""
    names, codes = np.unique(np.array(labels, dtype=object), return_inverse=True)
    mapped = np.full(int(exact.max(initial=-1)) + 1, -1, np.int64)
    mapped[exact] = codes
    if not np.array_equal(mapped[exact], codes):
        raise ValueError(f"{column}: values with the same exact label differ at level {level}")
    return [str(name) for name in names], mapped


def _encode(hierarchy: Hierarchy, values: Sequence, n: int) -> _Column:
    column, height = hierarchy.column, len(hierarchy.level_names)
    if height < 2:
        raise ValueError(f"{column}: a hierarchy needs the exact level and the top level")
    raw_codes, raws = _codes(values, n)
    exact_labels = [str(hierarchy.generalise(raw, 0)) for raw in raws]
    names, exact = np.unique(np.array(exact_labels, dtype=object), return_inverse=True)
    labels = [[str(name) for name in names]]
    to_level, step = [np.arange(len(names))], [np.arange(len(names))]
    for level in range(1, height):
        level_labels = [str(hierarchy.generalise(raw, level)) for raw in raws]
        names_here, mapped = _level_codes(column, level, level_labels, exact)
        labels.append(names_here)
        step.append(_step(column, level, to_level[-1], mapped, len(labels[-2])))
        to_level.append(mapped)
    if len(labels[-1]) > 1:
        raise ValueError(f"{column}: the last level must release nothing ({TOP!r})")
    records = exact[raw_codes]
    per_value = np.bincount(records, minlength=len(names))
    penalty = [
        np.bincount(codes, minlength=len(level_labels)) - 1
        for codes, level_labels in zip(to_level, labels, strict=True)
    ]
    total = [int(per_value @ pen[codes]) for pen, codes in zip(penalty, to_level, strict=True)]
    return _Column(column, records, labels, to_level, step, penalty, total)


def _step(column: str, level: int, below: np.ndarray, mapped: np.ndarray, size: int):
    """Level ``level`` codes of level ``level - 1`` codes; each group of the level below
    must fall in one group of this level (a tree), else a coarser node could separate
    records a finer one keeps together and feasibility would not be monotone."""
    step = np.full(size, -1, np.int64)
    step[below] = mapped
    if not np.array_equal(step[below], mapped):
        raise ValueError(f"{column}: level {level} splits a group of level {level - 1}")
    return step


def _pack(codes: list[np.ndarray], strides: list[int], n: int) -> np.ndarray:
    """One int64 key per record from its codes, in mixed radix."""
    keys = np.zeros(n, np.int64)
    for code, stride in zip(codes, strides, strict=True):
        keys += code * stride
    return keys


# --- the search ------------------------------------------------------------------------


class _Search:
    """Depth-first over the lattice; every node but the all-top one is a candidate.

    A node's classes are kept as (key, count) pairs: the key packs the codes of the
    node's levels in a fixed mixed radix (each column's level-0 cardinality), so a child
    that generalises column j recodes one digit and merges equal keys.

    Losses are exact integers: ``scale`` is the least common multiple of every column's
    (distinct values - 1), so each column's penalty sum times ``weight`` is a whole
    number and a suppressed record costs ``scale`` per column. Loss = total / (scale·n·m).
    """

    def __init__(self, columns: list[_Column], n: int, k: int, max_suppressed: float):
        self.columns, self.n, self.k = columns, n, k
        self.max_suppressed = max_suppressed
        self.radix = [max(column.distinct, 1) for column in columns]
        self.stride = [math.prod(self.radix[:i]) for i in range(len(columns))]
        if math.prod(self.radix) >= 2**63:
            raise ValueError("too many combinations of exact values to pack in 64 bits")
        spans = [column.distinct - 1 for column in columns if column.distinct > 1]
        self.scale = math.lcm(*spans) if spans else 1
        self.weight = [self.scale // max(column.distinct - 1, 1) for column in columns]
        self.top = tuple(column.top for column in columns)
        self.best: tuple[int, int, tuple[int, ...]] | None = None
        self.least_suppressed = n

    def run(self) -> None:
        keys = _pack([column.records for column in self.columns], self.stride, self.n)
        keys, counts = np.unique(keys, return_counts=True)
        self._visit((0,) * len(self.columns), keys, counts, 0)

    def bound(self, levels: tuple[int, ...]) -> int:
        """The loss from generalisation alone: a lower bound on the node's loss (a
        suppressed record costs at least as much as its penalty), growing with each level
        (a coarser label covers at least as many exact values)."""
        parts = zip(self.weight, self.columns, levels, strict=True)
        return sum(weight * column.total[level] for weight, column, level in parts)

    def _visit(self, levels: tuple[int, ...], keys, counts, last: int) -> None:
        self._consider(levels, keys, counts)
        # Children generalise column ``last`` or a later one: each node has one parent.
        for j in range(last, len(levels)):
            if levels[j] == self.top[j]:
                continue
            child = (*levels[:j], levels[j] + 1, *levels[j + 1 :])
            if child == self.top:
                continue
            if self.best is not None and self.bound(child) > self.best[0]:
                continue  # nor can anything above it beat the best
            self._visit(child, *self._roll_up(keys, counts, j, child[j]), j)

    def _roll_up(self, keys, counts, j: int, level: int):
        stride, radix = self.stride[j], self.radix[j]
        digit = (keys // stride) % radix
        keys = keys + (self.columns[j].step[level][digit] - digit) * stride
        keys, merged = np.unique(keys, return_inverse=True)
        counts = np.bincount(merged, weights=counts, minlength=len(keys)).astype(np.int64)
        return keys, counts

    def _consider(self, levels: tuple[int, ...], keys, counts) -> None:
        small = counts < self.k
        suppressed = int(counts[small].sum())
        self.least_suppressed = min(self.least_suppressed, suppressed)
        if suppressed > self.max_suppressed or suppressed == self.n:
            return
        loss = self.bound(levels) - self._penalty(levels, keys[small], counts[small])
        loss += suppressed * len(levels) * self.scale
        candidate = (loss, sum(levels), levels)
        if self.best is None or candidate < self.best:
            self.best = candidate

    def _penalty(self, levels, keys, counts) -> int:
        """The generalisation penalty of the given classes (those suppressed)."""
        total = 0
        for column, level, stride, radix, weight in zip(
            self.columns, levels, self.stride, self.radix, self.weight, strict=True
        ):
            digit = (keys // stride) % radix
            total += weight * int(counts @ column.penalty[level][digit])
        return total


# --- ℓ-diversity -----------------------------------------------------------------------


def _diversify(values: Sequence, classes: np.ndarray, kept: np.ndarray, min_l: int):
    """Blank the outcome of every released class with fewer than ``min_l`` distinct
    non-blank outcomes; return the blanked mask and the smallest distinct count left."""
    n = len(kept)
    index: dict = {}
    codes = np.fromiter(
        (-1 if _is_blank(v) else index.setdefault(v, len(index)) for v in values), np.int64, n
    )
    shown = kept & (codes >= 0)
    pairs = np.unique(classes[shown] * (len(index) + 1) + codes[shown])
    n_classes = int(classes.max(initial=-1)) + 1
    distinct = np.bincount(pairs // (len(index) + 1), minlength=n_classes)
    blanked = kept & (distinct < min_l)[classes]
    released = distinct[np.unique(classes[kept])]
    left = released[released >= min_l]
    return blanked, int(left.min()) if left.size else 0


# --- the entry point -------------------------------------------------------------------


def _check(columns, hierarchies, k: int, sensitive, min_l: int, share: float) -> int:
    if k < 2:
        raise ValueError(f"k must be at least 2, not {k}")
    if min_l < 1:
        raise ValueError(f"min_l must be at least 1, not {min_l}")
    if not 0 <= share <= 1:
        raise ValueError(f"max_suppressed_share must be between 0 and 1, not {share}")
    names = [h.column for h in hierarchies]
    if len(set(names)) != len(names):
        raise ValueError(f"a column has two hierarchies: {names}")
    missing = [name for name in (*names, *sensitive) if name not in columns]
    if missing:
        raise ValueError(f"columns missing: {missing}")
    lengths = {len(columns[name]) for name in (*names, *sensitive)}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def _unreachable(n: int, k: int, least_suppressed: int, share: float) -> str:
    percent = 100 * least_suppressed / n if n else 100.0
    return (
        f"k={k} cannot be reached without suppressing {percent:.1f}% of the records "
        f"({n} records; at most {100 * share:.1f}% may be suppressed)."
    )


def _refusal(hierarchies, n: int, k: int, reason: str, sensitive) -> Anonymised:
    return Anonymised(
        levels={h.column: len(h.level_names) - 1 for h in hierarchies},
        level_names={h.column: h.level_names[-1] for h in hierarchies},
        kept=np.zeros(n, bool),
        values={h.column: [TOP] * n for h in hierarchies},
        blanked={name: np.zeros(n, bool) for name in sensitive},
        k_required=k,
        k_achieved=0,
        records=n,
        suppressed=n,
        information_loss=1.0,
        l_diversity=dict.fromkeys(sensitive, 0),
        refused=reason,
    )


def anonymise(
    columns: Mapping[str, Sequence],
    hierarchies: Sequence[Hierarchy],
    *,
    k: int,
    sensitive: Sequence[str] = (),
    min_l: int = 2,
    max_suppressed_share: float = 0.05,
) -> Anonymised:
    """Generalise the quasi-identifiers (one level per column) and suppress records in
    classes smaller than ``k``, at most ``max_suppressed_share`` of them, choosing the
    least information loss (ties: lower total height, then smaller level tuple).

    Information loss is the normalised certainty penalty averaged over records and
    quasi-identifiers: a released value costs (exact values in the input under its
    label - 1) / (exact values in the input - 1), a suppressed record costs 1 per column.
    ``values`` holds every record's labels, suppressed records included (``kept`` says
    which are released); ``blanked`` marks only released records. When nothing but the
    all-"*" node would do, or there are fewer than ``k`` records, nothing is released and
    ``refused`` says why."""
    share = max_suppressed_share
    n = _check(columns, hierarchies, k, sensitive, min_l, share)
    sensitive = list(sensitive)
    if not hierarchies:
        # The only node would be the all-"*" one, which the search never takes.
        reason = "No quasi-identifier column was given, so there is no generalisation to choose."
        return _refusal(hierarchies, n, k, reason, sensitive)
    if n < k:
        return _refusal(hierarchies, n, k, _unreachable(n, k, n, share), sensitive)
    encoded = [_encode(h, columns[h.column], n) for h in hierarchies]
    # The share times n can land a hair below a whole number (0.29 * 100 = 28.999...).
    search = _Search(encoded, n, k, math.floor(share * n + 1e-9))
    search.run()
    if search.best is None:
        reason = _unreachable(n, k, search.least_suppressed, share)
        return _refusal(hierarchies, n, k, reason, sensitive)
    loss, _, levels = search.best
    return _release(hierarchies, encoded, columns, levels, k, sensitive, min_l, search, loss)


def _release(hierarchies, encoded, columns, levels, k, sensitive, min_l, search, loss):
    """The chosen node applied to the records, then ℓ-diversity on the released ones."""
    n = search.n
    chosen = list(zip(encoded, levels, strict=True))
    named = zip(hierarchies, chosen, strict=True)
    codes = [column.to_level[level][column.records] for column, level in chosen]
    keys = _pack(codes, search.stride, n)
    _, classes, counts = np.unique(keys, return_inverse=True, return_counts=True)
    kept = counts[classes] >= k
    blanked, diversity = {}, {}
    for name in sensitive:
        blanked[name], diversity[name] = _diversify(columns[name], classes, kept, min_l)
    return Anonymised(
        levels={column.name: level for column, level in chosen},
        level_names={h.column: h.level_names[level] for h, (_, level) in named},
        kept=kept,
        values={
            column.name: np.array(column.labels[level], dtype=object)[code].tolist()
            for (column, level), code in zip(chosen, codes, strict=True)
        },
        blanked=blanked,
        k_required=k,
        k_achieved=int(counts[counts >= k].min()),
        records=n,
        suppressed=int(n - kept.sum()),
        information_loss=loss / (search.scale * n * len(levels)),
        l_diversity=diversity,
        refused=None,
    )
