"""Reading a OneRoster CSV bundle: a folder or a .zip, its manifest and its tables.

Tolerant where the standard's producers differ harmlessly — UTF-8 with or without
BOM, CRLF/LF/CR, quoted or not, ``metadata.*`` extension columns, column names in
another case or plainly misspelt (read as the column they unambiguously mean, with
a warning) — and strict where data would be lost: a missing required column, an
unreadable encoding or a row that does not parse is an error with its place.

Bounded: every file's size is checked against the import's limits before any is read,
and a file of more rows than the limit is refused before its rows are parsed.
"""

from __future__ import annotations

import csv
import difflib
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from records.importers.limits import (
    ImportLimits,
    ReadBudget,
    open_zip,
    too_many_rows_message,
)
from records.importers.oneroster import spec
from records.importers.report import ImportReport


class Row:
    __slots__ = ("line", "values")

    def __init__(self, line: int, values: dict[str, str]):
        self.line, self.values = line, values

    def get(self, column: str) -> str:
        return self.values.get(column, "").strip()


@dataclass
class Table:
    """One file: its header checked, its rows read on demand (a million rows stay text)."""

    file: str  # the name in the bundle, e.g. "users.csv"
    mode: str  # bulk or delta
    columns: dict[str, int]  # spec column -> 1-based position
    text: str = ""
    width: int = 0
    row_count: int = 0

    def column(self, name: str) -> int | None:
        return self.columns.get(name)

    def records(self, on_error: Callable[[int, csv.Error], None] | None = None):
        """``(line, values)`` of each row after the header (checked when the table was
        read); a row that does not parse goes to ``on_error``, not out."""
        reader = csv.reader(io.StringIO(self.text, newline=""), strict=True)
        next(reader, None)
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if on_error is not None:
                    on_error(reader.line_num, exc)
                continue
            yield reader.line_num, record

    def rows(self, report: ImportReport) -> Iterator[Row]:
        """Each non-blank row once; rows that do not parse are reported, not yielded."""

        def unparsed(line: int, exc: csv.Error) -> None:
            report.error(self.file, line, message=f"the row does not parse: {exc}")

        positions = list(self.columns.items())
        for line, record in self.records(unparsed):
            if not any(value.strip() for value in record):
                continue
            self.row_count += 1
            if len(record) > self.width and any(v.strip() for v in record[self.width :]):
                report.error(
                    self.file,
                    line,
                    self.width + 1,
                    message=f"the row has {len(record)} values but the header has "
                    f"{self.width} columns",
                )
                continue
            values = {
                column: record[position - 1] if position <= len(record) else ""
                for column, position in positions
            }
            yield Row(line, values)


@dataclass
class Bundle:
    version: str
    tables: dict[str, Table]

    def table(self, name: str) -> Table | None:
        return self.tables.get(name)

    def named_ids(self, columns: dict[str, tuple[str, ...]], most: int) -> set[str] | None:
        """Every value of ``columns`` (by file): whole, and a list column's items as rows
        read them; None past ``most`` of them (a bulk of a whole district: read what the
        district holds whole rather than hold and send them). Rows that do not parse are
        skipped here (reading them reports them); a value holding a NUL names nothing the
        database could hold."""
        named: set[str] = set()
        for name, wanted in columns.items():
            table = self.tables.get(name)
            if table is None:
                continue
            positions = [(table.columns[c] - 1, c.endswith("Ids")) for c in wanted
                         if c in table.columns]  # fmt: skip
            for _, record in table.records():
                for at, listed in positions:
                    if at < len(record):
                        value = record[at]
                        named.add(value.strip())
                        if listed:
                            named.update(part.strip() for part in value.split(","))
                if len(named) > most + 1:  # the empty value may be among them
                    return None
        named = {value for value in named if value and "\x00" not in value}
        return named if len(named) <= most else None

    @property
    def rows_total(self) -> int:
        """Rows read so far (all of them, once the bundle has been parsed)."""
        return sum(t.row_count for t in self.tables.values())


class _Source:
    """The bundle's files by lower-cased name, from a folder or a zip (root or one folder).

    Nothing is read when it is made: ``files`` holds each file's size (on disk, or as the
    zip declares it), ``admit`` checks them all and ``read`` reads one within the budget.
    """

    def __init__(self, path: Path | BinaryIO, report: ImportReport, *, name: str = ""):
        self.folder = isinstance(path, Path) and path.is_dir()
        self.archive: zipfile.ZipFile | None = None
        # lower-cased name -> (name as written, size, the zip member or the folder's file)
        self.files: dict[str, tuple[str, int, zipfile.ZipInfo | Path]] = {}
        if self.folder:
            # Regular files only: a link to a device or a pipe is no bundle file.
            found = [p for p in path.rglob("*.csv") if p.is_file()]
            root = _root_of([p.relative_to(path).as_posix() for p in found])
            for file in sorted(found):
                relative = file.relative_to(path).as_posix()
                if PurePosixPath(relative).parent.as_posix() == root:
                    self.files[file.name.lower()] = (file.name, file.stat().st_size, file)
        else:
            self.archive = open_zip(path, name or path.name, report)
            if self.archive is None:
                return
            infos = [
                i for i in self.archive.infolist()
                if not i.filename.startswith("__MACOSX/") and not i.is_dir()
            ]  # fmt: skip
            root = _root_of([i.filename for i in infos if i.filename.lower().endswith(".csv")])
            for info in infos:
                pure = PurePosixPath(info.filename)
                if pure.suffix.lower() == ".csv" and pure.parent.as_posix() == root:
                    self.files[pure.name.lower()] = (pure.name, info.file_size, info)

    @property
    def readable(self) -> bool:
        return self.folder or self.archive is not None

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()

    def admit(self, names: list[str], budget: ReadBudget, report: ImportReport) -> bool:
        """Check the sizes of the files that would be read, before reading any."""
        ok = True
        for name in names:
            found = self.files.get(f"{name.lower()}.csv")
            if found is not None:
                ok = budget.admit(found[0], found[1], report) and ok
        return ok

    def read(
        self, name: str, budget: ReadBudget, report: ImportReport
    ) -> tuple[str, bytes | None] | None:
        """None when absent; ``(name, None)`` when refused (the report says why)."""
        found = self.files.get(f"{name.lower()}.csv")
        if found is None:
            return None
        display, _size, where = found
        if isinstance(where, Path):
            with where.open("rb") as handle:
                return display, budget.read(display, handle, report)
        try:
            with self.archive.open(where) as handle:
                return display, budget.read(display, handle, report)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError):
            report.error(display, message="cannot be read from the zip (damaged or encrypted)")
            return display, None


BUNDLE_FILES = ["manifest", *(f.name for f in spec.FILES)]


def _root_of(csv_names: list[str]) -> str:
    """The folder holding manifest.csv: the root, or the one folder the files sit in."""
    for name in csv_names:
        pure = PurePosixPath(name)
        if pure.name.lower() == "manifest.csv":
            return pure.parent.as_posix()
    folders = {PurePosixPath(n).parent.as_posix() for n in csv_names}
    return folders.pop() if len(folders) == 1 else "."


def read_bundle(
    path: Path, report: ImportReport, limits: ImportLimits | None = None
) -> Bundle | None:
    """Read and check the bundle's structure; None when it cannot be read at all.

    A file over the ``limits`` refuses the bundle (None); sizes are checked before any
    file is read.
    """
    if not path.exists():
        report.error(str(path), message="no such file or folder")
        return None
    try:
        source = _Source(path, report)
    except (zipfile.BadZipFile, OSError):
        report.error(path.name, message="not a folder or a .zip file")
        return None
    try:
        return _read_source(source, ReadBudget(limits or ImportLimits.of(None)), report)
    finally:
        source.close()


def upload_admits(upload: BinaryIO, name: str, limits: ImportLimits, report: ImportReport) -> bool:
    """Do the sizes an uploaded zip declares fit the ``limits``? Nothing but its directory
    is read; a zip that is not readable is left to the upload's own checks (True)."""
    position = upload.tell()
    try:
        source = _Source(upload, report, name=name)
    except (zipfile.BadZipFile, OSError):
        return True
    finally:
        upload.seek(position)
    try:
        return source.readable and source.admit(BUNDLE_FILES, ReadBudget(limits), report)
    finally:
        source.close()
        upload.seek(position)


def _read_source(source: _Source, budget: ReadBudget, report: ImportReport) -> Bundle | None:
    if not source.readable:
        return None
    if not source.admit(BUNDLE_FILES, budget, report):
        return None
    manifest = _read_manifest(source, budget, report)
    if manifest is None:
        return None
    version, modes = manifest
    tables = {}
    for file_spec in spec.FILES:
        mode = modes.get(file_spec.name)
        if mode == "absent" or mode is None:
            present = source.files.get(f"{file_spec.name.lower()}.csv")
            if present is not None:
                report.warning(
                    present[0],
                    message=f"present but the manifest says {mode or 'nothing'} about it: ignored",
                )
            continue
        found = source.read(file_spec.name, budget, report)
        if found is None:
            report.error(
                f"{file_spec.name}.csv",
                message=f"missing: the manifest lists it as {mode}",
            )
            continue
        name, raw = found
        del found
        if raw is None:
            if budget.refused:
                return None
            continue  # unreadable: the report says why
        used_spec = spec.USERS_12 if (file_spec.name == "users" and version == "1.2") else file_spec
        table = _read_table(name, raw, used_spec, mode, budget, report)
        del raw  # the table keeps the text
        if budget.refused:
            return None
        if table is not None:
            tables[file_spec.name] = table
    if version == "1.2" and "users" in tables and "roles" not in tables:
        report.warning("manifest.csv", message="a OneRoster 1.2 bundle without roles.csv")
    return Bundle(version=version, tables=tables)


def _read_manifest(
    source: _Source, budget: ReadBudget, report: ImportReport
) -> tuple[str, dict[str, str]] | None:
    found = source.read("manifest", budget, report)
    if found is None:
        report.error("manifest.csv", message="missing: every OneRoster bundle needs a manifest")
        return None
    name, raw = found
    if raw is None:
        return None
    text = _decode(name, raw, report)
    if text is None:
        return None
    properties: dict[str, tuple[int, str]] = {}
    reader = csv.reader(io.StringIO(text, newline=""))
    for index, record in enumerate(reader):
        if index == 0 or not any(v.strip() for v in record):
            continue
        if len(record) < 2:
            report.error(
                name, reader.line_num, message="a manifest row needs a property and a value"
            )
            continue
        properties[record[0].strip()] = (reader.line_num, record[1].strip())
    version = properties.get("oneroster.version", (None, ""))[1]
    if version not in ("1.0", "1.1", "1.2"):
        line = properties.get("oneroster.version", (None, ""))[0]
        report.error(
            name, line, 2, "value", message=f"oneroster.version must be 1.1 or 1.2, got {version!r}"
        )
        return None
    known = {f.name.lower(): f.name for f in spec.FILES}
    modes: dict[str, str] = {}
    for prop, (line, value) in properties.items():
        if prop.startswith("file."):
            file_name = prop.removeprefix("file.")
            mode = value.lower()
            if mode and mode not in spec.MODES:
                report.error(name, line, 2, "value", message=f"{prop}: unknown mode {value!r} "
                             "(bulk, delta or absent)")  # fmt: skip
            elif file_name.lower() in known:
                modes[known[file_name.lower()]] = mode or "absent"
        elif prop not in ("manifest.version", "oneroster.version") and not prop.startswith(
            "source."
        ):
            report.warning(name, line, 1, "propertyName", message=f"unknown property {prop!r}")
    return ("1.1" if version == "1.0" else version), modes


def _decode(name: str, raw: bytes, report: ImportReport) -> str | None:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        report.error(name, line, message=f"not UTF-8 text (byte {exc.start + 1}): save it as UTF-8")
        return None


def _map_header(
    name: str, header: list[str], file_spec: spec.FileSpec, report: ImportReport
) -> dict[str, int] | None:
    """Spec column -> position; warns about what it reads loosely, errors on what is missing."""
    columns: dict[str, int] = {}
    by_lower = {c.lower(): c for c in file_spec.columns}
    unknown: list[tuple[int, str]] = []
    for position, raw in enumerate(header, start=1):
        title = raw.strip()
        if not title or title.lower().startswith("metadata."):
            continue
        canonical = title if title in file_spec.columns else by_lower.get(title.lower())
        if canonical is None:
            unknown.append((position, title))
            continue
        if canonical in columns:
            report.error(name, 1, position, title, message="the column appears twice")
            return None
        if canonical != title:
            report.warning(name, 1, position, title, message=f"read as {canonical!r}")
        columns[canonical] = position
    for position, title in unknown:
        missing = [c for c in file_spec.columns if c not in columns]
        match = difflib.get_close_matches(title, missing, n=2, cutoff=0.85)
        if len(match) == 1:
            columns[match[0]] = position
            report.warning(name, 1, position, title, message=f"misspelt: read as {match[0]!r}")
        else:
            hint = difflib.get_close_matches(title, missing, n=1, cutoff=0.5)
            also = f" (did you mean {hint[0]!r}?)" if hint else ""
            report.warning(
                name, 1, position, title, message=f"not a OneRoster column: ignored{also}"
            )
    missing_required = [c for c in file_spec.required if c not in columns]
    for column in missing_required:
        hint = difflib.get_close_matches(column, [t for _, t in unknown], n=1, cutoff=0.5)
        found = f"; found {hint[0]!r} instead" if hint else ""
        report.error(name, 1, None, column, message=f"required column is missing{found}")
    return None if missing_required else columns


def _read_table(
    name: str,
    raw: bytes,
    file_spec: spec.FileSpec,
    mode: str,
    budget: ReadBudget,
    report: ImportReport,
) -> Table | None:
    text = _decode(name, raw, report)
    if text is None:
        return None
    if _too_many_rows(name, text, budget.limits.rows, report):
        budget.refused = True
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        report.error(name, 1, message=f"the header does not parse: {exc}")
        return None
    if header is None:
        report.error(name, 1, message="empty file: a header row is required")
        return None
    columns = _map_header(name, header, file_spec, report)
    if columns is None:
        return None
    return Table(file=name, mode=mode, columns=columns, text=text, width=len(header))


def _too_many_rows(name: str, text: str, limit: int, report: ImportReport) -> bool:
    """More non-blank rows after the header than ``limit``? Reported at the first too many.

    A row ends at a line break, so a file with fewer line breaks than the limit is within
    it, and only a file that might not be is counted (and only up to the limit).
    """
    if text.count("\n") + text.count("\r") < limit:
        return False
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = -1  # the header
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return False
        except csv.Error:
            continue  # reported with its place when the rows are read, as Table.rows does
        if any(value.strip() for value in record):
            rows += 1
            if rows > limit:
                report.error(name, reader.line_num, message=too_many_rows_message(limit))
                return True
