"""What an import found and did: issues with their place, and counts per entity."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

ACTIONS = ("created", "updated", "ended", "unchanged")


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
    """Errors reject the run; warnings skip a row and are applied around."""

    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(ACTIONS, 0))
    )
    rows_total: int = 0
    applied: bool = False

    def error(self, file, line=None, column=None, column_name=None, *, message: str) -> None:
        self.errors.append(Issue(file, line, column, column_name, message))

    def warning(self, file, line=None, column=None, column_name=None, *, message: str) -> None:
        self.warnings.append(Issue(file, line, column, column_name, message))

    def count(self, entity: str, action: str, n: int = 1) -> None:
        self.counts[entity][action] += n

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changes(self) -> int:
        return sum(c["created"] + c["updated"] + c["ended"] for c in self.counts.values())

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "applied": self.applied,
            "rows_total": self.rows_total,
            "changes": self.changes,
            "counts": {entity: dict(c) for entity, c in sorted(self.counts.items())},
            "errors": [issue.as_dict() for issue in self.errors],
            "warnings": [issue.as_dict() for issue in self.warnings],
        }
