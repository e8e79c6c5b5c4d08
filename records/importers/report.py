"""What an import found and did: issues with their place, and counts per entity."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

ACTIONS = ("created", "updated", "ended", "unchanged")
# Issues kept of each kind; the rest are only counted. A file of a million bad rows
# would otherwise carry a million messages into memory, the stored run and the page.
MAX_ISSUES = 1_000


@dataclass(frozen=True)
class Issue:
    """One problem, placed: file, line (1-based, the header is line 1) and column.

    ``column`` is the column's 1-based position and ``column_name`` its header; both
    are ``None`` for a problem with a whole file or row.
    """

    file: str
    line: int | None
    column: int | None
    column_name: str | None
    message: str

    def __str__(self) -> str:
        place = self.file
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        if self.column_name:
            place += f" ({self.column_name})"
        return f"{place}: {self.message}"

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "column_name": self.column_name,
            "message": self.message,
        }


@dataclass
class ImportReport:
    """Errors reject the run; warnings skip a row and are applied around.

    The first ``MAX_ISSUES`` of each kind are kept; ``errors_omitted`` and
    ``warnings_omitted`` count the rest.
    """

    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(ACTIONS, 0))
    )
    rows_total: int = 0
    applied: bool = False
    errors_omitted: int = 0
    warnings_omitted: int = 0

    def error(self, file, line=None, column=None, column_name=None, *, message: str) -> None:
        self._add_error(Issue(file, line, column, column_name, message))

    def warning(self, file, line=None, column=None, column_name=None, *, message: str) -> None:
        if len(self.warnings) < MAX_ISSUES:
            self.warnings.append(Issue(file, line, column, column_name, message))
        else:
            self.warnings_omitted += 1

    def _add_error(self, issue: Issue) -> None:
        if len(self.errors) < MAX_ISSUES:
            self.errors.append(issue)
        else:
            self.errors_omitted += 1

    def warnings_become_errors(self) -> None:
        """``--strict``: every warning, the counted ones too, is an error."""
        for issue in self.warnings:
            self._add_error(issue)
        self.errors_omitted += self.warnings_omitted
        self.warnings, self.warnings_omitted = [], 0

    def count(self, entity: str, action: str, n: int = 1) -> None:
        self.counts[entity][action] += n

    @property
    def ok(self) -> bool:
        return not self.errors and not self.errors_omitted

    @property
    def error_count(self) -> int:
        return len(self.errors) + self.errors_omitted

    @property
    def warning_count(self) -> int:
        return len(self.warnings) + self.warnings_omitted

    @property
    def changes(self) -> int:
        return sum(c["created"] + c["updated"] + c["ended"] for c in self.counts.values())

    def as_dict(self) -> dict:
        """What an ``ImportRun`` stores: at most ``MAX_ISSUES`` issues of each kind, each
        list ending, when some were left out, with one entry that counts them."""
        return {
            "ok": self.ok,
            "applied": self.applied,
            "rows_total": self.rows_total,
            "changes": self.changes,
            "counts": {entity: dict(c) for entity, c in sorted(self.counts.items())},
            "errors": stored_issues(self.errors, self.errors_omitted, "error"),
            "warnings": stored_issues(self.warnings, self.warnings_omitted, "warning"),
        }


def omitted_message(omitted: int, noun: str) -> str:
    return f"... and {omitted:,} more {noun}{'' if omitted == 1 else 's'}"


def stored_issues(issues: list[Issue], omitted: int, noun: str) -> list[dict]:
    """Issues as stored on a run; the ones left out become one last entry with their count.

    That entry is an issue without a place, so anything that lists a run's issues shows
    it as a sentence; ``omitted`` lets the run's page tell it from the others.
    """
    stored = [issue.as_dict() for issue in issues]
    if omitted:
        summary = Issue("", None, None, None, omitted_message(omitted, noun)).as_dict()
        stored.append({**summary, "omitted": omitted})
    return stored


def split_stored_issues(stored: list[dict]) -> tuple[list[dict], int]:
    """A run's stored issues as (the listed ones, how many more were left out)."""
    listed = [issue for issue in stored if "omitted" not in issue]
    return listed, sum(issue.get("omitted", 0) for issue in stored)
