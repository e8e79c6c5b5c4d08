"""The OneRoster query grammar: ``filter``, ``sort``/``orderBy`` and ``fields``.

``filter`` is ``<field><op>'<value>'``, or two such clauses joined by `` AND `` or
`` OR `` (uppercase, one space each side; never mixed: the binding allows at most two
clauses). Operators ``= != > >= < <= ~`` (``~`` is "contains"). Values sit in single
quotes and cannot themselves hold one, nor a control character (PostgreSQL refuses NUL in
text, and no stored value holds one). Field names are letters and digits, dotted for a
reference (``roles.org.sourcedId``). Text only ever becomes a parsed ``Clause``: what a
field means and which values it takes is decided against a whitelist (``fields.py``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from records.oneroster_rest.errors import bad_filter, bad_selection

OPERATORS = ("!=", ">=", "<=", "=", ">", "<", "~")  # longest first
JOINERS = (" AND ", " OR ")
MAX_CLAUSES = 2
MAX_FILTER_LENGTH = 2000
FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*")


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str


@dataclass(frozen=True)
class Filter:
    clauses: tuple[Clause, ...]
    joiner: str = "AND"  # "AND" or "OR"; irrelevant for one clause


def _clause(text: str, start: int) -> tuple[Clause, int]:
    """One clause from ``text[start:]``, and where it ended."""
    match = FIELD_NAME.match(text, start)
    if match is None:
        raise bad_filter(
            f"Filter clause at character {start + 1} does not start with a field name."
        )
    field, position = match.group(), match.end()
    op = next((op for op in OPERATORS if text.startswith(op, position)), None)
    if op is None:
        raise bad_filter(
            f"Filter field {field!r} must be followed by one of = != > >= < <= ~ "
            "(no spaces around the operator)."
        )
    position += len(op)
    if not text.startswith("'", position):
        raise bad_filter(f"The value for filter field {field!r} must be in single quotes.")
    end = text.find("'", position + 1)
    if end == -1:
        raise bad_filter(f"The value for filter field {field!r} has no closing quote.")
    return Clause(field, op, text[position + 1 : end]), end + 1


def control_character_at(text: str) -> int | None:
    """The index of the first control character (NUL, newline, DEL, ...) in ``text``."""
    return next((i for i, char in enumerate(text) if unicodedata.category(char) == "Cc"), None)


def parse_filter(text: str) -> Filter:
    """``text`` parsed, or ``invalid_filter_field`` saying what is wrong with it."""
    if len(text) > MAX_FILTER_LENGTH:
        raise bad_filter(f"The filter is longer than {MAX_FILTER_LENGTH} characters.")
    control = control_character_at(text)
    if control is not None:
        raise bad_filter(f"The filter holds a control character at character {control + 1}.")
    if not text.strip():
        raise bad_filter("The filter is empty.")
    clauses, joiners, position = [], [], 0
    while True:
        clause, position = _clause(text, position)
        clauses.append(clause)
        if position == len(text):
            break
        joiner = next((j for j in JOINERS if text.startswith(j, position)), None)
        if joiner is None:
            raise bad_filter(
                f"Unexpected text after the clause on {clause.field!r}: clauses are joined "
                "by ' AND ' or ' OR ' (uppercase, one space each side)."
            )
        joiners.append(joiner.strip())
        position += len(joiner)
        if len(clauses) == MAX_CLAUSES:
            raise bad_filter(f"A filter has at most {MAX_CLAUSES} clauses.")
    if len(set(joiners)) > 1:
        raise bad_filter("AND and OR cannot be mixed in one filter.")
    return Filter(tuple(clauses), joiners[0] if joiners else "AND")


def parse_fields(text: str) -> list[str]:
    """A comma-separated list of field names (``fields``), each checked for shape."""
    names = [name.strip() for name in text.split(",")]
    for name in names:
        if not name:
            raise bad_selection("The fields parameter has an empty entry.")
        if FIELD_NAME.fullmatch(name) is None or "." in name:
            raise bad_selection(f"Unknown field {name!r} in the fields parameter.")
    return list(dict.fromkeys(names))
