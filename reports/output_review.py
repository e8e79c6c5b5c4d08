"""Review of a study's result table before it is published: parse the CSV a researcher
uploads, then run the public reports' small-cell audit (``reports/suppression.py``) on it.

Hiding the small counts of a table is not enough. Its margins give a hidden cell away
(a row total less the row's shown cells), and so do the tables the same study published
before: they describe the same students, so a cell with the same labels and count in an
earlier table, or a shared row total or grand total, is one more equation an attacker can
difference against. The review therefore audits the new table linked to every earlier
approved table of the study (fixed as published, their hidden cells still hidden), hides
the cells below the minimum n and enough complementary cells that the interval an
attacker can prove for each small count is at least the required width, and keeps the
small counts the earlier tables hid as safe as they were.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from reports.suppression import (
    Interval,
    Table,
    attacker_intervals,
    below_n_mark,
    is_primary,
    protect,
    unsafe_cells,
)
from studentdata.spreadsheets import safe_cell

MAX_BYTES = 2_000_000
MAX_ROWS = 2_000  # rows of counts under the header, the total row included
MAX_COLUMNS = 200  # columns of counts after the row labels, the total column included
MAX_COUNT = 1_000_000_000  # far above any study's students; keeps the LP's floats exact
MAX_PROBLEMS = 100  # listed in full; the rest are counted in one last problem
TOTAL = "Total"  # the label of a margin, whatever the file called it
TOTAL_NAMES = frozenset({"total", "all"})
DELIMITERS = ",;\t"
SNIFF_CHARS = 8192
COMPLEMENTARY_MARK = "*"

Key = tuple[str, str]  # (row label, column label) of a cell; margins use TOTAL


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based line of the file
    column: int  # 1-based CSV column (a character column for bytes that are not UTF-8)
    message: str


class ResultTableError(ValueError):
    """The uploaded file is not a readable result table: every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        listed = "; ".join(f"line {p.line}, column {p.column}: {p.message}" for p in problems[:5])
        super().__init__(f"{len(self.problems)} problem(s) in the result table: {listed}")


@dataclass(frozen=True)
class ResultTable:
    name: str
    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    row_totals: tuple[int, ...] | None
    column_totals: tuple[int, ...] | None
    grand_total: int | None
    row_heading: str = ""  # the header's first cell, written back by ``published_csv``

    def __post_init__(self) -> None:
        rows, columns = len(self.row_labels), len(self.column_labels)
        shaped = (
            len(self.counts) == rows
            and all(len(row) == columns for row in self.counts)
            and (self.row_totals is None or len(self.row_totals) == rows)
            and (self.column_totals is None or len(self.column_totals) == columns)
            and (self.grand_total is None)
            == (self.row_totals is None or self.column_totals is None)
        )
        if not shaped:
            raise ValueError(f"{self.name}: the counts and totals do not match the labels")

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "row_heading": self.row_heading,
            "row_labels": list(self.row_labels),
            "column_labels": list(self.column_labels),
            "counts": [list(row) for row in self.counts],
            "row_totals": None if self.row_totals is None else list(self.row_totals),
            "column_totals": None if self.column_totals is None else list(self.column_totals),
            "grand_total": self.grand_total,
        }

    @classmethod
    def from_json(cls, data: dict) -> ResultTable:
        def ints(values):
            return None if values is None else tuple(int(value) for value in values)

        grand = data.get("grand_total")
        return cls(
            name=str(data["name"]),
            row_labels=tuple(str(label) for label in data["row_labels"]),
            column_labels=tuple(str(label) for label in data["column_labels"]),
            counts=tuple(ints(row) for row in data["counts"]),
            row_totals=ints(data.get("row_totals")),
            column_totals=ints(data.get("column_totals")),
            grand_total=None if grand is None else int(grand),
            row_heading=str(data.get("row_heading", "")),
        )


# Parsing ------------------------------------------------------------------------------


class _Problems:
    """Problems in file order; past ``MAX_PROBLEMS`` only counted."""

    def __init__(self) -> None:
        self.listed: list[Problem] = []
        self.more = 0

    @property
    def full(self) -> bool:
        return len(self.listed) >= MAX_PROBLEMS

    def add(self, line: int, column: int, message: str) -> None:
        if self.full:
            self.more += 1
        else:
            self.listed.append(Problem(line, column, message))

    def raise_any(self) -> None:
        if not self.listed:
            return
        problems = list(self.listed)
        if self.more:
            last = problems[-1]
            problems.append(Problem(last.line, last.column, f"and {self.more} more problems"))
        raise ResultTableError(problems)


@dataclass
class _Record:
    line: int  # where the record starts
    fields: list[str]
    raw: str  # the record's text, to tell a quoted field from a bare one
    delimiter: str


@dataclass
class _Row:
    line: int
    label: str
    cells: list[int | None]  # one per column of counts; None when missing or unreadable


@dataclass
class _Layout:
    """Which columns and rows of the file are counts and which are totals."""

    heading: str = ""
    columns: list[str] = field(default_factory=list)  # every column of counts, as labelled
    interior: list[int] = field(default_factory=list)  # their positions that are not totals
    total_column: int | None = None
    rows: list[_Row] = field(default_factory=list)
    total_row: _Row | None = None


def parse_result_table(data: bytes, *, name: str) -> ResultTable:
    """The table in ``data`` (a CSV of counts), or ResultTableError listing every problem."""
    if len(data) > MAX_BYTES:
        raise ResultTableError([Problem(1, 1, f"the file is larger than {MAX_BYTES:,} bytes")])
    text = _decoded(data)
    problems = _Problems()
    records = _records(text, problems)
    header = next(records, None)
    if header is None:
        if not problems.listed:  # else the file could not be read as CSV
            problems.add(1, 1, "the file is empty")
        problems.raise_any()
    layout = _Layout()
    if not _read_header(header, layout, problems):
        problems.raise_any()  # too wide: its rows are never read
    _read_rows(records, header, layout, problems)
    _check_totals(layout, problems)
    problems.raise_any()
    return _built(layout, name)


_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that are not UTF-8, as surrogateescape


def _decoded(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    text = data.decode("utf-8", "surrogateescape")
    problems = _Problems()
    for match in _UNDECODED.finditer(text):
        if problems.full:
            problems.more += 1
            continue
        at = match.start()
        line = text.count("\n", 0, at) + 1
        column = at - text.rfind("\n", 0, at)
        byte = ord(text[at]) - 0xDC00
        problems.add(line, column, f"not UTF-8 text (byte 0x{byte:02x})")
    problems.raise_any()
    return text


def _delimiter(text: str) -> str:
    """The header line's delimiter: the header alone fixes the columns, and data rows
    that are ragged or hold "1,234" would throw the sniffer off."""
    header = text[:SNIFF_CHARS].split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(header, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _records(text: str, problems: _Problems) -> Iterator[_Record]:
    """The file's records with the line each starts on, blank ones skipped."""
    delimiter = _delimiter(text)
    raw: list[str] = []

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            raw.append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter, quotechar='"', skipinitialspace=True)
    end = 0
    try:
        for fields in reader:
            start, end = end + 1, reader.line_num
            record = "".join(raw)
            raw.clear()
            if any(value.strip() for value in fields):
                yield _Record(start, fields, record, delimiter)
    except csv.Error as error:
        problems.add(end + 1, 1, f"unreadable CSV: {error}")


def _is_total(label: str) -> bool:
    return label.strip().casefold() in TOTAL_NAMES


def _read_header(header: _Record, layout: _Layout, problems: _Problems) -> bool:
    """The columns the header names; False when there are too many to read on."""
    fields = _without_trailing_blanks(header.fields, 1)  # a spreadsheet's empty columns
    layout.heading = fields[0].strip()
    layout.columns = [label.strip() for label in fields[1:]]
    if len(layout.columns) > MAX_COLUMNS:
        problems.add(header.line, MAX_COLUMNS + 2, f"more than {MAX_COLUMNS} columns of counts")
        return False
    seen: dict[str, int] = {}
    for at, label in enumerate(layout.columns):
        column = at + 2
        if not label:
            problems.add(header.line, column, "a blank column label")
        elif _is_total(label):
            if layout.total_column is None:
                layout.total_column = at
            else:
                problems.add(header.line, column, "a second total column")
            continue
        elif label in seen:
            problems.add(header.line, column, f"column {label!r} repeats column {seen[label]}")
        else:
            seen[label] = column
        layout.interior.append(at)
    if not layout.interior:
        problems.add(header.line, 2, "the header names no column of counts")
    return True


def _read_rows(
    records: Iterator[_Record], header: _Record, layout: _Layout, problems: _Problems
) -> None:
    seen: dict[str, int] = {}
    last = header.line
    for record in records:
        if len(layout.rows) + (layout.total_row is not None) >= MAX_ROWS:
            problems.add(record.line, 1, f"more than {MAX_ROWS} rows of counts: not read further")
            return  # the rest of a hostile file is never read
        last = record.line
        row = _read_row(record, 1 + len(layout.columns), problems)
        if not row.label:
            problems.add(row.line, 1, "a blank row label")
        if _is_total(row.label):
            if layout.total_row is None:
                layout.total_row = row
            else:
                problems.add(row.line, 1, "a second total row")
            continue
        if row.label in seen:
            problems.add(row.line, 1, f"row {row.label!r} repeats line {seen[row.label]}")
        seen.setdefault(row.label, row.line)
        layout.rows.append(row)
    if not layout.rows:
        problems.add(last + 1, 1, "no row of counts under the header")


def _read_row(record: _Record, width: int, problems: _Problems) -> _Row:
    fields = _without_trailing_blanks(record.fields, width)
    if len(fields) != width:
        column = min(len(fields), width) + 1
        problems.add(record.line, column, f"{len(fields)} cells where the header has {width}")
    row = _Row(record.line, fields[0].strip(), [])
    for at in range(1, width):
        if at >= len(fields):
            row.cells.append(None)
            continue
        count = _count(fields[at], lambda at=at: _quoted(record, at))
        if isinstance(count, str):
            problems.add(record.line, at + 1, count)
            count = None
        row.cells.append(count)
    return row


def _without_trailing_blanks(fields: list[str], keep: int) -> list[str]:
    """``fields`` less the blank ones at the end, beyond the first ``keep``."""
    end = len(fields)
    while end > keep and not fields[end - 1].strip():
        end -= 1
    return fields[:end]


_DIGITS = re.compile(r"[0-9]+")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_NEGATIVE = re.compile(r"-\s*[0-9][0-9,]*")


def _count(value: str, quoted: Callable[[], bool]) -> int | str:
    """The count in a cell, or what is wrong with it. ``quoted()`` says whether the
    cell was quoted (a thousands separator is accepted only then)."""
    value = value.strip()
    if not value:
        return "a blank count"
    if _NEGATIVE.fullmatch(value):
        return f"a negative count: {_shown(value)}"
    digits = value
    if _THOUSANDS.fullmatch(value):
        if not quoted():
            return f"{value}: a count with a thousands separator must be quoted"
        digits = value.replace(",", "")
    if not _DIGITS.fullmatch(digits):
        return f"not a whole number: {_shown(value)!r}"
    if len(digits.lstrip("0")) > len(str(MAX_COUNT)) or int(digits) > MAX_COUNT:
        return f"a count above {MAX_COUNT:,}: {_shown(value)}"
    return int(digits)


def _shown(value: str) -> str:
    return value if len(value) <= 20 else value[:20] + "…"


def _quoted(record: _Record, at: int) -> bool:
    """Whether field ``at`` of the record was quoted. Only a quoted field holds the
    delimiter, so in a comma file a count with a comma was; else the raw text is read."""
    if record.delimiter == ",":
        return True
    flags = _quoted_fields(record.raw, record.delimiter)
    return at < len(flags) and flags[at]


def _quoted_fields(raw: str, delimiter: str) -> list[bool]:
    """For each field of one record's raw text, whether it starts with a quote (after
    spaces, as ``skipinitialspace`` reads it)."""
    flags: list[bool] = []
    at, end = 0, len(raw.rstrip("\r\n"))
    while True:
        while at < end and raw[at] == " ":
            at += 1
        quoted = at < end and raw[at] == '"'
        flags.append(quoted)
        if quoted:
            at += 1
            while at < end and not (raw[at] == '"' and raw[at + 1 : at + 2] != '"'):
                at += 2 if raw[at] == '"' else 1
            at += 1
        next_delimiter = raw.find(delimiter, at, end)
        if next_delimiter < 0:
            return flags
        at = next_delimiter + 1


def _check_totals(layout: _Layout, problems: _Problems) -> None:
    """Each total against its parts, where every one of them could be read."""
    total_column, total_row = layout.total_column, layout.total_row
    if not layout.rows or not layout.interior:
        return
    if total_column is not None:
        for row in layout.rows:
            parts = [row.cells[at] for at in layout.interior]
            total = row.cells[total_column]
            _check(problems, row.line, total_column, total, parts, "the row's counts")
    if total_row is None:
        return
    for at in layout.interior:
        parts = [row.cells[at] for row in layout.rows]
        _check(problems, total_row.line, at, total_row.cells[at], parts, "the column's counts")
    if total_column is not None:
        grand = total_row.cells[total_column]
        row_totals = [row.cells[total_column] for row in layout.rows]
        column_totals = [total_row.cells[at] for at in layout.interior]
        _check(problems, total_row.line, total_column, grand, row_totals, "the row totals")
        _check(problems, total_row.line, total_column, grand, column_totals, "the column totals")


def _check(
    problems: _Problems, line: int, at: int, total: int | None, parts: list, what: str
) -> None:
    if total is None or None in parts or total == sum(parts):
        return
    message = f"the total {total} is not the sum of {what}, {sum(parts)}"
    problems.add(line, at + 2, message)


def _built(layout: _Layout, name: str) -> ResultTable:
    rows, interior, total_column = layout.rows, layout.interior, layout.total_column
    total_row = layout.total_row
    return ResultTable(
        name=name,
        row_labels=tuple(row.label for row in rows),
        column_labels=tuple(layout.columns[at] for at in interior),
        counts=tuple(tuple(row.cells[at] for at in interior) for row in rows),
        row_totals=None if total_column is None else tuple(row.cells[total_column] for row in rows),
        column_totals=None if total_row is None else tuple(total_row.cells[at] for at in interior),
        grand_total=None
        if total_row is None or total_column is None
        else total_row.cells[total_column],
        row_heading=layout.heading,
    )


# Review -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellVerdict:
    row: str  # the row label, TOTAL for the total row
    column: str  # the column label, TOTAL for the total column
    count: int
    status: str  # "shown" | "primary" | "complementary"
    low: float | None  # for a hidden cell, the interval an attacker can still prove
    high: float | None

    @property
    def hidden(self) -> bool:
        return self.status != "shown"


@dataclass(frozen=True)
class Review:
    table: ResultTable
    cells: list[CellVerdict]  # row-major, each row's total last, the total row last
    hidden: int
    primary: int
    complementary: int
    gave_up: bool = False  # the audit found no pattern: every interior cell is hidden

    def grid(self) -> list[list[CellVerdict]]:
        """The cells row by row (the total column last, the total row last)."""
        width = len(self.table.column_labels) + (self.table.row_totals is not None)
        return [self.cells[at : at + width] for at in range(0, len(self.cells), width)]

    def published_csv(self, minimum_n: int) -> str:
        """The table as it may be published: a hidden count is never written, a primary
        one as ``n<{minimum_n}`` and a complementary one as ``*``."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        totals = [TOTAL] if self.table.row_totals is not None else []
        labels = [self.table.row_heading, *self.table.column_labels, *totals]
        writer.writerow([safe_cell(label) for label in labels])
        for row in self.grid():
            writer.writerow([safe_cell(row[0].row), *(_published(c, minimum_n) for c in row)])
        return out.getvalue()


def recorded_review(table: ResultTable, hidden: Collection[Key], minimum_n: int) -> Review:
    """A decided table as it was decided: its stored hidden cells, not a new audit (the
    published pattern never changes, whatever the district's width becomes)."""
    cells = [
        CellVerdict(
            row, column, count,
            "shown" if (row, column) not in hidden
            else "primary" if count < minimum_n else "complementary",
            None, None,
        )
        for (row, column), count in _keyed_cells(table)
    ]  # fmt: skip
    primary = sum(cell.status == "primary" for cell in cells)
    complementary = sum(cell.status == "complementary" for cell in cells)
    return Review(table, cells, primary + complementary, primary, complementary)


def _published(cell: CellVerdict, minimum_n: int) -> str:
    if cell.status == "primary":
        return below_n_mark(minimum_n)
    if cell.status == "complementary":
        return COMPLEMENTARY_MARK
    return str(cell.count)


def _keyed_cells(table: ResultTable) -> list[tuple[Key, int]]:
    """Every cell of the table by its labels, in the order of ``Review.cells``."""
    cells: list[tuple[Key, int]] = []
    for at, row in enumerate(table.row_labels):
        counts = zip(table.column_labels, table.counts[at], strict=True)
        cells += [((row, column), count) for column, count in counts]
        if table.row_totals is not None:
            cells.append(((row, TOTAL), table.row_totals[at]))
    if table.column_totals is not None:
        totals = zip(table.column_labels, table.column_totals, strict=True)
        cells += [((TOTAL, column), count) for column, count in totals]
    if table.grand_total is not None:
        cells.append(((TOTAL, TOTAL), table.grand_total))
    return cells


def _table_sums(table: ResultTable, at: dict[Key, int]) -> list[tuple[int, list[int]]]:
    rows, columns = table.row_labels, table.column_labels
    sums = []
    if table.row_totals is not None:
        sums += [(at[row, TOTAL], [at[row, column] for column in columns]) for row in rows]
    if table.column_totals is not None:
        sums += [(at[TOTAL, column], [at[row, column] for row in rows]) for column in columns]
    if table.grand_total is not None:
        sums.append((at[TOTAL, TOTAL], [at[row, TOTAL] for row in rows]))
        sums.append((at[TOTAL, TOTAL], [at[TOTAL, column] for column in columns]))
    return sums


def linked_table(tables: Sequence[ResultTable]) -> tuple[Table, list[dict[Key, int]]]:
    """One audit table holding every cell of ``tables`` with each table's sums, and each
    cell's position by its labels, table by table. Two tables' cells with the same labels
    and the same count (a shared row total, the grand total, a repeated cell) are taken
    for the same students: an attacker can difference one against the other."""
    counts: list[int] = []
    sums: list[tuple[int, list[int]]] = []
    places: list[dict[Key, int]] = []
    for table in tables:
        at: dict[Key, int] = {}
        for key, count in _keyed_cells(table):
            at[key] = len(counts)
            counts.append(count)
        sums += _table_sums(table, at)
        places.append(at)
    for first, second in combinations(places, 2):
        sums += [(cell, [second[key]]) for key, cell in first.items()
                 if key in second and counts[cell] == counts[second[key]]]  # fmt: skip
    return Table(counts, sums), places


def review_table(
    table: ResultTable,
    *,
    minimum_n: int,
    width: float,
    earlier: Sequence[tuple[ResultTable, Collection[Key]]] = (),
) -> Review:
    """Which cells of ``table`` may be shown, given the study's ``earlier`` approved
    tables (each with the cells it hid): the new table's counts below ``minimum_n`` are
    hidden with complementary cells until the audit proves each at least ``width``
    wide, and an earlier table's hidden small count that was that wide stays so."""
    earlier = list(earlier)
    combined, places = linked_table([table, *(old for old, _ in earlier)])
    new = places[0]
    start = _hidden_cells(earlier, places[1:])
    primary = {cell for cell in new.values() if is_primary(combined.counts[cell], minimum_n)}
    guarded = primary | _safe_earlier_primaries(earlier, places[1:], minimum_n, width)
    fixed = set(range(len(combined.counts))) - set(new.values())
    try:
        hidden, intervals = protect(combined, guarded, width, start=start, fixed=fixed)
    except RuntimeError:  # nothing left that may be hidden: hide the whole table
        hidden, intervals = _hide_everything(combined, new, guarded | start, guarded, width)
        return _review(table, new, combined, primary, hidden, intervals, gave_up=True)
    return _review(table, new, combined, primary, hidden, intervals)


def _hidden_cells(
    earlier: Sequence[tuple[ResultTable, Collection[Key]]], places: Sequence[dict[Key, int]]
) -> set[int]:
    cells = set()
    for (old, hidden), at in zip(earlier, places, strict=True):
        unknown = [key for key in hidden if key not in at]
        if unknown:
            raise ValueError(f"{old.name} has no cell {unknown[0]}")
        cells |= {at[key] for key in hidden}
    return cells


def _safe_earlier_primaries(
    earlier: Sequence[tuple[ResultTable, Collection[Key]]],
    places: Sequence[dict[Key, int]],
    minimum_n: int,
    width: float,
) -> set[int]:
    """The earlier tables' hidden small counts that they keep safe on their own (at
    their positions in ``places``): the new table must not narrow them. One already
    narrow is not the new table's doing, and no complement of it could widen it."""
    if not earlier:
        return set()
    alone, alone_places = linked_table([old for old, _ in earlier])
    hidden = _hidden_cells(earlier, alone_places)
    small = {cell for cell in hidden if is_primary(alone.counts[cell], minimum_n)}
    if not small:
        return set()
    safe = small - set(unsafe_cells(attacker_intervals(alone, hidden), small, width))
    return {at[key] for at, there in zip(places, alone_places, strict=True)
            for key, cell in there.items() if cell in safe}  # fmt: skip


def _hide_everything(
    table: Table, new: dict[Key, int], hidden: set[int], guarded: set[int], width: float
) -> tuple[set[int], dict[int, Interval]]:
    """Every interior cell of the new table hidden, and its margins too when the
    interior alone still leaves a small count narrow."""
    hidden = hidden | {cell for key, cell in new.items() if TOTAL not in key}
    intervals = attacker_intervals(table, hidden)
    if unsafe_cells(intervals, guarded, width):
        hidden |= set(new.values())
        intervals = attacker_intervals(table, hidden)
    return hidden, intervals


def _review(
    table: ResultTable,
    new: dict[Key, int],
    combined: Table,
    primary: set[int],
    hidden: set[int],
    intervals: dict[int, Interval],
    *,
    gave_up: bool = False,
) -> Review:
    cells = []
    for (row, column), cell in new.items():
        status = "primary" if cell in primary else "complementary" if cell in hidden else "shown"
        low = high = None
        if status != "shown":
            low, high = intervals[cell].low, intervals[cell].high
        cells.append(CellVerdict(row, column, combined.counts[cell], status, low, high))
    primaries = sum(cell.status == "primary" for cell in cells)
    complements = sum(cell.status == "complementary" for cell in cells)
    return Review(table, cells, primaries + complements, primaries, complements, gave_up)
