"""Reading a OneRoster CSV bundle: a folder or a .zip, its manifest and its tables.

Tolerant where the standard's producers differ harmlessly — UTF-8 with or without
BOM, CRLF/LF/CR, quoted or not, ``metadata.*`` extension columns, column names in
another case or plainly misspelt (read as the column they unambiguously mean, with
a warning) — and strict where data would be lost: a missing required column, an
unreadable encoding or a row that does not parse is an error with its place.
"""

from __future__ import annotations

import csv
import difflib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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

    def rows(self, report: ImportReport) -> Iterator[Row]:
        """Each non-blank row once; rows that do not parse are reported, not yielded."""
        reader = csv.reader(io.StringIO(self.text, newline=""), strict=True)
        next(reader, None)  # the header, checked when the table was read
        positions = list(self.columns.items())
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                report.error(self.file, reader.line_num, message=f"the row does not parse: {exc}")
                continue
            if not any(value.strip() for value in record):
                continue
            self.row_count += 1
            if len(record) > self.width and any(v.strip() for v in record[self.width :]):
                report.error(
                    self.file,
                    reader.line_num,
                    self.width + 1,
                    message=f"the row has {len(record)} values but the header has "
                    f"{self.width} columns",
                )
                continue
            values = {
                column: record[position - 1] if position <= len(record) else ""
                for column, position in positions
            }
            yield Row(reader.line_num, values)


@dataclass
class Bundle:
    version: str
    tables: dict[str, Table]

    def table(self, name: str) -> Table | None:
        return self.tables.get(name)

    @property
    def rows_total(self) -> int:
        """Rows read so far (all of them, once the bundle has been parsed)."""
        return sum(t.row_count for t in self.tables.values())


class _Source:
    """The bundle's files by lower-cased name, from a folder or a zip (root or one folder)."""

    def __init__(self, path: Path):
        self.path = path
        self.files: dict[str, tuple[str, callable]] = {}
        if path.is_dir():
            root = _root_of([p.relative_to(path).as_posix() for p in path.rglob("*.csv")])
            for name in sorted(path.rglob("*.csv")):
                relative = name.relative_to(path).as_posix()
                if PurePosixPath(relative).parent.as_posix() == root:
                    self.files[name.name.lower()] = (name.name, name.read_bytes)
        else:
            archive = zipfile.ZipFile(path)
            names = [n for n in archive.namelist() if not n.startswith("__MACOSX/")]
            root = _root_of([n for n in names if n.lower().endswith(".csv")])
            for name in names:
                pure = PurePosixPath(name)
                if pure.suffix.lower() == ".csv" and pure.parent.as_posix() == root:
                    self.files[pure.name.lower()] = (pure.name, lambda n=name: archive.read(n))

    def read(self, name: str) -> tuple[str, bytes] | None:
        found = self.files.get(f"{name.lower()}.csv")
        if found is None:
            return None
        display, reader = found
        return display, reader()


def _root_of(csv_names: list[str]) -> str:
    """The folder holding manifest.csv: the root, or the one folder the files sit in."""
    for name in csv_names:
        pure = PurePosixPath(name)
        if pure.name.lower() == "manifest.csv":
            return pure.parent.as_posix()
    folders = {PurePosixPath(n).parent.as_posix() for n in csv_names}
    return folders.pop() if len(folders) == 1 else "."


def read_bundle(path: Path, report: ImportReport) -> Bundle | None:
    """Read and check the bundle's structure; None when it cannot be read at all."""
    if not path.exists():
        report.error(str(path), message="no such file or folder")
        return None
    try:
        source = _Source(path)
    except zipfile.BadZipFile:
        report.error(path.name, message="not a folder or a .zip file")
        return None
    manifest = _read_manifest(source, report)
    if manifest is None:
        return None
    version, modes = manifest
    tables = {}
    for file_spec in spec.FILES:
        mode = modes.get(file_spec.name)
        found = source.read(file_spec.name)
        if mode == "absent" or mode is None:
            if found is not None:
                report.warning(
                    found[0],
                    message=f"present but the manifest says {mode or 'nothing'} about it: ignored",
                )
            continue
        if found is None:
            report.error(
                f"{file_spec.name}.csv",
                message=f"missing: the manifest lists it as {mode}",
            )
            continue
        used_spec = spec.USERS_12 if (file_spec.name == "users" and version == "1.2") else file_spec
        table = _read_table(found[0], found[1], used_spec, mode, report)
        if table is not None:
            tables[file_spec.name] = table
    if version == "1.2" and "users" in tables and "roles" not in tables:
        report.warning("manifest.csv", message="a OneRoster 1.2 bundle without roles.csv")
    return Bundle(version=version, tables=tables)


def _read_manifest(source: _Source, report: ImportReport) -> tuple[str, dict[str, str]] | None:
    found = source.read("manifest")
    if found is None:
        report.error("manifest.csv", message="missing: every OneRoster bundle needs a manifest")
        return None
    name, raw = found
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
    name: str, raw: bytes, file_spec: spec.FileSpec, mode: str, report: ImportReport
) -> Table | None:
    text = _decode(name, raw, report)
    if text is None:
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
