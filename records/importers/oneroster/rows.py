"""Turning a table's rows into checked values, each problem placed by line and column."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from records.importers.oneroster.bundle import Row, Table
from records.importers.report import ImportReport


class RowReader:
    """Typed access to one row's values; every failure is reported at its cell."""

    def __init__(self, table: Table, row: Row, report: ImportReport):
        self.table, self.row, self.report = table, row, report
        self.ok = True

    def _error(self, column: str, message: str) -> None:
        self.ok = False
        self.report.error(
            self.table.file, self.row.line, self.table.column(column), column, message=message
        )

    def warn(self, column: str | None, message: str) -> None:
        self.report.warning(
            self.table.file,
            self.row.line,
            self.table.column(column) if column else None,
            column,
            message=message,
        )

    def text(self, column: str, *, required: bool = False) -> str:
        value = self.row.get(column)
        if required and not value:
            self._error(column, "a value is required")
        return value

    def choice(self, column: str, allowed, *, required: bool = True, default: str = "") -> str:
        """One of ``allowed`` (a sequence, or a mapping from accepted spelling to value)."""
        raw = self.row.get(column)
        if not raw:
            if required:
                self._error(column, "a value is required")
            return default
        mapping = allowed if isinstance(allowed, dict) else {v: v for v in allowed}
        if raw in mapping:
            return mapping[raw]
        folded = {k.lower(): v for k, v in mapping.items()}
        if raw.lower() in folded:
            value = folded[raw.lower()]
            self.warn(column, f"{raw!r} read as {value!r} (case differs from the standard)")
            return value
        names = ", ".join(dict.fromkeys(mapping))
        self._error(column, f"unknown value {raw!r}; expected one of: {names}")
        return default

    def day(self, column: str, *, required: bool = False) -> date | None:
        raw = self.row.get(column)
        if not raw:
            if required:
                self._error(column, "a date is required")
            return None
        try:
            return date.fromisoformat(raw[:10]) if len(raw) >= 10 else date.fromisoformat(raw)
        except ValueError:
            try:
                return datetime.fromisoformat(raw.replace("Z", "+00:00")).date()
            except ValueError:
                self._error(column, f"not a date (YYYY-MM-DD): {raw!r}")
                return None

    def year(self, column: str) -> int | None:
        raw = self.row.get(column)
        if not raw.isdigit() or not 1900 <= int(raw) <= 2200:
            self._error(column, f"not a year (YYYY): {raw!r}")
            return None
        return int(raw)

    def boolean(self, column: str, *, default: bool = False) -> bool:
        raw = self.row.get(column).lower()
        if not raw:
            return default
        if raw in ("true", "1", "yes"):
            return True
        if raw in ("false", "0", "no"):
            return False
        self._error(column, f"not true or false: {self.row.get(column)!r}")
        return default

    def number(self, column: str) -> Decimal | None:
        raw = self.row.get(column)
        if not raw:
            return None
        try:
            return Decimal(raw)
        except InvalidOperation:
            self._error(column, f"not a number: {raw!r}")
            return None

    def id_list(self, column: str) -> list[str]:
        return [part.strip() for part in self.row.get(column).split(",") if part.strip()]
