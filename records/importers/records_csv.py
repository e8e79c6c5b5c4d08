"""Records CSV import: the student records OneRoster does not carry.

``import_records(path, district=...)`` reads ``attendance.csv``, ``assessments.csv``,
``programs.csv``, ``health.csv``, ``discipline.csv`` and ``transportation.csv`` from a
folder or a .zip (at its root or inside one folder), every row keyed by the student's
OneRoster ``sourcedId`` in the district. The formats are in ``docs/import-formats.md``.

The rules, shared with the OneRoster importer:

- All or nothing. Every file is read and every row checked before anything is written;
  a single error rejects the run and nothing changes. Every problem is placed by file,
  line and column.
- A row naming a student, school or class the district does not have is skipped with a
  warning and the rest is applied; ``strict`` makes those warnings errors.
- Rows are upserted by their natural key and nothing is deleted, so importing the same
  files again changes nothing.
- The run is stored as an ``ImportRun`` whatever its outcome, outside the transaction
  that a failure rolls back.
- Bounded: a file larger than the district's limit, or of more rows than the import
  limit, refuses the run before it is read (``limits.py``).

Messages never quote a cell's value, which may be a student's health or discipline
detail; they quote sourcedIds only, and an enum value only once it is known to be one
of the allowed words.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import traceback
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from functools import partial
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from records import cache_epochs
from records.importers.analyze import analyze_tables, changed_tables
from records.importers.limits import (
    ImportLimits,
    ReadBudget,
    open_zip,
    too_many_rows_message,
)
from records.importers.report import ImportReport, Issue
from records.importers.runs import file_sha256
from records.models import (
    AssessmentResult,
    AttendanceRecord,
    DisciplineIncident,
    District,
    HealthRecord,
    ImportRun,
    ProgramParticipation,
    School,
    Section,
    Student,
    TransportationAssignment,
)
from records.tenancy import tenant_scope

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

PROGRESS_EVERY = 1000
# Ids per query when loading existing rows (SQLite caps a statement's parameters).
IDS_PER_QUERY = 10_000


class Invalid(ValueError):
    """A cell that cannot be read; the message says what was expected, not what was found."""


# Cell readers. Each takes the stripped, non-empty text of a cell.


def text(max_length: int) -> Callable[[str], str]:
    def read(raw: str) -> str:
        if len(raw) > max_length:
            raise Invalid(f"too long: {len(raw)} characters, at most {max_length}")
        return raw

    return read


DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
INTEGER_RE = re.compile(r"[+-]?\d+")


def iso_date(raw: str) -> date:
    if not DATE_RE.fullmatch(raw):
        raise Invalid("not a date: expected YYYY-MM-DD")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid("not a calendar date (YYYY-MM-DD)") from None


def clock_time(raw: str) -> time:
    match = TIME_RE.fullmatch(raw)
    if not match:
        raise Invalid("not a time: expected HH:MM or HH:MM:SS, 24-hour")
    hour, minute, second = (int(part or 0) for part in match.groups())
    try:
        return time(hour, minute, second)
    except ValueError:
        raise Invalid("not a time of day (00:00 to 23:59:59)") from None


def number(max_digits: int, places: int, minimum: Decimal | None = None):
    bound = Decimal(10) ** (max_digits - places)
    step = Decimal(10) ** -places

    def read(raw: str) -> Decimal:
        if not NUMBER_RE.fullmatch(raw):
            raise Invalid("not a number: digits with an optional decimal point, e.g. 12.5")
        value = Decimal(raw)
        if abs(value) >= bound:
            raise Invalid(f"out of range: must be less than {bound}")
        if minimum is not None and value < minimum:
            raise Invalid(f"out of range: must be at least {minimum}")
        if value != value.quantize(step):
            raise Invalid(f"more than {places} decimal place{'s' if places > 1 else ''}")
        return value

    return read


def integer(minimum: int, maximum: int) -> Callable[[str], int]:
    def read(raw: str) -> int:
        if not INTEGER_RE.fullmatch(raw):
            raise Invalid("not a whole number")
        value = int(raw)
        if not minimum <= value <= maximum:
            raise Invalid(f"out of range: must be {minimum} to {maximum}")
        return value

    return read


SOURCED_ID = text(255)
FREE_TEXT = text(10_000)


@dataclass(frozen=True)
class Column:
    """One CSV column and the model field it fills.

    A ``reference`` column holds a sourcedId that is looked up in the district and
    fills the foreign key ``field``. A ``choices`` column accepts those values in any
    letter case (with a warning when the case differs).
    """

    name: str
    field: str
    required: bool = False
    read: Callable[[str], object] = FREE_TEXT
    empty: object = ""
    reference: type | None = None
    choices: tuple[str, ...] = ()


def reference(name: str, field: str, model: type, *, required: bool) -> Column:
    return Column(name, field, required, SOURCED_ID, None, model)


def choice(name: str, field: str, values: Iterable[str], *, required: bool, empty="") -> Column:
    return Column(name, field, required, str, empty, choices=tuple(values))


@dataclass(frozen=True)
class RecordFile:
    """One records file: its columns, its model and the natural key rows are upserted by."""

    name: str
    entity: str
    model: type
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # A date in the key: existing rows are loaded only over the file's date range.
    key_date: str | None = None

    @property
    def by_name(self) -> dict[str, Column]:
        return {column.name: column for column in self.columns}


STUDENT = reference("studentSourcedId", "student", Student, required=True)
IMMUNIZATION = [value for value, _ in HealthRecord._meta.get_field("immunization_status").choices]

RECORD_FILES: dict[str, RecordFile] = {
    spec.name: spec
    for spec in (
        RecordFile(
            "attendance.csv",
            "attendance",
            AttendanceRecord,
            (
                STUDENT,
                Column("date", "date", True, iso_date, None),
                choice("status", "status", AttendanceRecord.Status.values, required=True),
                reference("classSourcedId", "section", Section, required=False),
                Column("reason", "reason", read=text(100)),
            ),
            key=("student", "date", "section"),
            key_date="date",
        ),
        RecordFile(
            "assessments.csv",
            "assessments",
            AssessmentResult,
            (
                STUDENT,
                Column("assessment", "assessment", True, text(200)),
                Column("subject", "subject", True, text(100)),
                Column("score", "score", read=number(7, 2), empty=None),
                Column("performanceLevel", "performance_level", False, integer(0, 32767), None),
                Column("performanceLabel", "performance_label", read=text(64)),
                Column("administeredOn", "administered_on", True, iso_date, None),
            ),
            key=("student", "assessment", "subject", "administered_on"),
            key_date="administered_on",
        ),
        RecordFile(
            "programs.csv",
            "programs",
            ProgramParticipation,
            (
                STUDENT,
                choice("program", "program", ProgramParticipation.Program.values, required=True),
                Column("beginDate", "begin_date", False, iso_date, None),
                Column("endDate", "end_date", False, iso_date, None),
                Column("accommodations", "accommodations"),
            ),
            key=("student", "program", "begin_date"),
        ),
        RecordFile(
            "health.csv",
            "health",
            HealthRecord,
            (
                STUDENT,
                Column("conditions", "conditions"),
                Column("allergies", "allergies"),
                Column("medications", "medications"),
                choice(
                    "immunizationStatus",
                    "immunization_status",
                    IMMUNIZATION,
                    required=False,
                    empty="unknown",
                ),
            ),
            key=("student",),
        ),
        RecordFile(
            "discipline.csv",
            "discipline",
            DisciplineIncident,
            (
                STUDENT,
                reference("schoolSourcedId", "school", School, required=True),
                Column("occurredOn", "occurred_on", True, iso_date, None),
                Column("incidentType", "incident_type", True, text(100)),
                Column("actionTaken", "action_taken", read=text(100)),
                Column(
                    "daysRemoved",
                    "days_removed",
                    read=number(4, 1, minimum=Decimal(0)),
                    empty=Decimal(0),
                ),
                Column("description", "description"),
            ),
            key=("student", "occurred_on", "incident_type"),
            key_date="occurred_on",
        ),
        RecordFile(
            "transportation.csv",
            "transportation",
            TransportationAssignment,
            (
                STUDENT,
                Column("route", "route", True, text(64)),
                Column("stop", "stop", True, text(200)),
                Column("pickupTime", "pickup_time", False, clock_time, None),
                Column("dropoffTime", "dropoff_time", False, clock_time, None),
            ),
            key=("student",),
        ),
    )
}

REFERENCE_LABELS = {Student: "student", School: "school", Section: "class"}
# The table each counted entity writes: these are analyzed after an import changed them.
ENTITY_MODELS = {spec.entity: (spec.model,) for spec in RECORD_FILES.values()}


# Reading the input: a folder or a zip, into the records files' bytes.


@dataclass
class Source:
    name: str
    files: dict[str, bytes] = field(default_factory=dict)


def _ignored(name: str) -> bool:
    """Files that archivers and desktops add on their own."""
    return name.startswith("__MACOSX/") or Path(name).name.startswith(".")


def read_source(path: Path, report: ImportReport, budget: ReadBudget) -> Source:
    """The records files' bytes; none once a file is over the ``budget`` (an error)."""
    source = Source(name=path.name)
    if path.is_dir():
        _read_folder(path, source, budget, report)
    elif path.is_file():
        _read_zip(path, source, budget, report)
    else:
        report.error(path.name, message="no such folder or .zip file")
        return source
    if not source.files and report.ok:
        report.error(
            source.name,
            message=f"no records files found; expected any of {', '.join(RECORD_FILES)}",
        )
    return source


def _read_folder(path: Path, source: Source, budget: ReadBudget, report: ImportReport) -> None:
    found = []
    for entry in sorted(path.iterdir(), key=lambda p: p.name):
        if _ignored(entry.name):
            continue
        # Regular files only: a link to a device or a pipe is no records file.
        if entry.name in RECORD_FILES and entry.is_file():
            found.append(entry)
        else:
            kind = "folder" if entry.is_dir() else "file"
            report.warning(entry.name, message=f"not a records file; this {kind} is ignored")
    # Every size is checked before any file is read.
    admitted = [budget.admit(entry.name, entry.stat().st_size, report) for entry in found]
    if not all(admitted):
        return
    for entry in found:
        with entry.open("rb") as handle:
            data = budget.read(entry.name, handle, report)
        if data is None:
            source.files.clear()
            return
        source.files[entry.name] = data


def _read_zip(path: Path, source: Source, budget: ReadBudget, report: ImportReport) -> None:
    try:
        archive = open_zip(path, path.name, report)
    except (zipfile.BadZipFile, OSError):
        report.error(path.name, message="not a folder or a readable .zip file")
        return
    if archive is None:
        return
    with archive:
        members = [
            info for info in archive.infolist() if not info.is_dir() and not _ignored(info.filename)
        ]
        at_root = [info for info in members if "/" not in info.filename]
        folders = {info.filename.split("/", 1)[0] for info in members if "/" in info.filename}
        if at_root or not folders:
            base = ""
        elif len(folders) == 1:
            base = f"{folders.pop()}/"
        else:
            report.error(
                path.name,
                message="files are in more than one folder; put them at the root of the zip "
                "or inside one folder",
            )
            return
        found: dict[str, zipfile.ZipInfo] = {}
        for info in members:
            name = info.filename[len(base) :] if info.filename.startswith(base) else ""
            if name not in RECORD_FILES:
                report.warning(info.filename, message="not a records file; ignored")
            elif name in found:
                report.error(info.filename, message="appears twice in the zip")
            else:
                found[name] = info
        # Every declared size is checked before any member is read.
        admitted = [budget.admit(name, info.file_size, report) for name, info in found.items()]
        if not all(admitted):
            return
        for name, info in found.items():
            try:
                with archive.open(info) as member:
                    data = budget.read(name, member, report)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError):
                report.error(name, message="cannot be read from the zip (damaged or encrypted)")
                continue
            if data is None:
                source.files.clear()
                return
            source.files[name] = data


# Parsing: bytes to text to checked rows.


def decode(name: str, data: bytes, report: ImportReport) -> str | None:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        report.error(name, message="is UTF-16; save it as UTF-8")
        return None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = len(re.split(rb"\r\n|\r|\n", data[: exc.start]))
        report.error(name, line, message="not UTF-8 text; save the file as UTF-8")
        return None


def csv_rows(
    name: str, text_: str, report: ImportReport, budget: ReadBudget | None = None
) -> Iterator[tuple[int, list[str]]]:
    """(line where the row starts, its stripped cells); blank rows are left out.

    With a ``budget``, a file of more rows after its header than the limit is an error
    at the first one too many, and no row after it is read.
    """
    reader = csv.reader(io.StringIO(text_, newline=""), strict=True)
    line = 1
    allowed = budget.limits.rows + 1 if budget is not None else None  # the header too
    rows = 0
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows += 1
                if allowed is not None and rows > allowed:
                    report.error(name, line, message=too_many_rows_message(budget.limits.rows))
                    budget.refused = True
                    return
                yield line, [cell.strip() for cell in cells]
            line = reader.line_num + 1
    except csv.Error as exc:
        detail = str(exc).replace("field larger than field limit", "a field is too long")
        report.error(name, line, message=f"not readable as CSV: {detail}")


@dataclass
class Row:
    line: int
    values: dict[str, object]
    # Reference field → sourcedId, replaced by the ``<field>_id`` value once resolved.
    refs: dict[str, str]


@dataclass
class ParsedFile:
    spec: RecordFile
    positions: dict[str, int] = field(default_factory=dict)  # column name → 0-based index
    rows: list[Row] = field(default_factory=list)

    @property
    def present(self) -> tuple[Column, ...]:
        return tuple(column for column in self.spec.columns if column.name in self.positions)


def parse_file(
    spec: RecordFile,
    rows: Sequence[tuple[int, list[str]]],
    report: ImportReport,
    tick: Callable[[], None],
) -> ParsedFile:
    parsed = ParsedFile(spec)
    if not rows:
        report.error(spec.name, 1, message="empty file: the header row is missing")
        return parsed
    header_line, header = rows[0]
    positions = _read_header(spec, header_line, header, report)
    if positions is None:
        return parsed
    parsed.positions = positions
    seen_keys: dict[tuple, int] = {}
    case_changes: dict[tuple[str, str], list[int]] = {}
    for line, cells in rows[1:]:
        tick()
        row = _parse_row(spec, line, cells, header, positions, report, case_changes)
        if row is None:
            continue
        key = tuple(row.refs.get(name, row.values.get(name)) for name in spec.key)
        if key in seen_keys:
            report.error(
                spec.name,
                line,
                message=f"same {_key_label(spec)} as line {seen_keys[key]}; keep one of them",
            )
            continue
        seen_keys[key] = line
        parsed.rows.append(row)
    for (name, raw), lines in case_changes.items():
        more = f"; {len(lines)} rows in this file" if len(lines) > 1 else ""
        report.warning(
            spec.name,
            lines[0],
            positions[name] + 1,
            name,
            message=f"{raw!r} read as {raw.lower()!r}: values are lower case{more}",
        )
    return parsed


def _key_label(spec: RecordFile) -> str:
    names = {column.field: column.name for column in spec.columns}
    return ", ".join(names[name] for name in spec.key if name in names)


def _read_header(
    spec: RecordFile, line: int, header: list[str], report: ImportReport
) -> dict[str, int] | None:
    positions: dict[str, int] = {}
    ok = True
    known = spec.by_name
    lowered = {name.lower(): name for name in known}
    for index, name in enumerate(header):
        if name in positions:
            report.error(spec.name, line, index + 1, name, message="column appears twice")
            ok = False
        elif name in known:
            positions[name] = index
        else:
            hint = f"; did you mean {lowered[name.lower()]!r}?" if name.lower() in lowered else ""
            report.warning(
                spec.name, line, index + 1, name or None, message=f"unknown column; ignored{hint}"
            )
    for column in spec.columns:
        if column.required and column.name not in positions:
            report.error(spec.name, line, None, column.name, message="required column is missing")
            ok = False
    return positions if ok else None


def _parse_row(
    spec: RecordFile,
    line: int,
    cells: list[str],
    header: list[str],
    positions: dict[str, int],
    report: ImportReport,
    case_changes: dict,
) -> Row | None:
    if len(cells) != len(header):
        report.error(
            spec.name,
            line,
            message=f"has {len(cells)} fields; the header has {len(header)}",
        )
        return None
    row = Row(line, {}, {})
    ok = True
    for column in spec.columns:
        index = positions.get(column.name)
        raw = cells[index] if index is not None else ""
        if index is None and column.field not in spec.key:
            continue  # a column left out leaves that field as it is
        if not raw:
            if column.required:
                report.error(spec.name, line, index + 1, column.name, message="required; empty")
                ok = False
            elif column.reference:
                row.values[f"{column.field}_id"] = None
            else:
                row.values[column.field] = column.empty
            continue
        if column.choices:
            if raw in column.choices:
                row.values[column.field] = raw
            elif raw.lower() in column.choices:
                row.values[column.field] = raw.lower()
                case_changes.setdefault((column.name, raw), []).append(line)
            else:
                report.error(
                    spec.name,
                    line,
                    index + 1,
                    column.name,
                    message=f"not one of {', '.join(column.choices)}",
                )
                ok = False
            continue
        try:
            value = column.read(raw)
        except Invalid as exc:
            report.error(spec.name, line, index + 1, column.name, message=str(exc))
            ok = False
            continue
        if column.reference:
            row.refs[column.field] = value
        else:
            row.values[column.field] = value
    begin, end = row.values.get("begin_date"), row.values.get("end_date")
    if begin and end and end < begin:
        column = spec.by_name["endDate"]
        report.error(
            spec.name,
            line,
            positions[column.name] + 1,
            column.name,
            message="before beginDate",
        )
        ok = False
    return row if ok else None


# Resolving sourcedIds in the district.


def _ids_by_sourced_id(model: type) -> dict[str, int]:
    """The district's rows of ``model`` by sourcedId: one query (tenant scope in force)."""
    return dict(
        model.objects.filter(sourced_id__isnull=False).values_list("sourced_id", "id").iterator()
    )


def resolve_references(files: Sequence[ParsedFile], district: District, report: ImportReport):
    """Put ids in place of sourcedIds; a row whose reference is unknown is dropped, warned."""
    models_used = {
        column.reference
        for parsed in files
        for column in parsed.present
        if column.reference and any(column.field in row.refs for row in parsed.rows)
    }
    known = {model: _ids_by_sourced_id(model) for model in models_used}
    for parsed in files:
        columns = [column for column in parsed.present if column.reference]
        kept = []
        for row in parsed.rows:
            ok = True
            for column in columns:
                sourced_id = row.refs.get(column.field)
                if sourced_id is None:
                    continue
                found = known[column.reference].get(sourced_id)
                if found is None:
                    report.warning(
                        parsed.spec.name,
                        row.line,
                        parsed.positions[column.name] + 1,
                        column.name,
                        message=f"{REFERENCE_LABELS[column.reference]} {sourced_id!r} is not in "
                        f"district {district.slug!r}; row skipped",
                    )
                    ok = False
                row.values[f"{column.field}_id"] = found
            if ok:
                kept.append(row)
        parsed.rows = kept


# Applying: upsert by natural key, in bulk.


def _attname(model: type, name: str) -> str:
    return model._meta.get_field(name).attname


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing(spec: RecordFile, rows: Sequence[Row], key: tuple[str, ...]) -> dict[tuple, object]:
    """The district's rows of this file's students, by natural key (the oldest row wins)."""
    queryset = spec.model.objects.order_by("id")
    if spec.key_date:
        days = [row.values[spec.key_date] for row in rows]
        queryset = queryset.filter(**{f"{spec.key_date}__range": (min(days), max(days))})
    student_ids = sorted({row.values["student_id"] for row in rows})
    found: dict[tuple, object] = {}
    for chunk in _chunks(student_ids, IDS_PER_QUERY):
        for obj in queryset.filter(student_id__any=chunk):
            found.setdefault(tuple(getattr(obj, name) for name in key), obj)
    return found


def apply_file(
    parsed: ParsedFile, district: District, report: ImportReport, *, write: bool
) -> None:
    spec, model = parsed.spec, parsed.spec.model
    entity = spec.entity
    report.count(entity, "created", 0)  # an entity imported shows in the counts, even at 0
    if not parsed.rows:
        return
    key = tuple(_attname(model, name) for name in spec.key)
    fields = [
        column.field
        for column in parsed.present
        if column.field not in spec.key and column.field != "student"
    ]
    attnames = [_attname(model, name) for name in fields]
    existing = _existing(spec, parsed.rows, key)
    now = timezone.now()
    creates, updates = [], []
    for row in parsed.rows:
        obj = existing.get(tuple(row.values[name] for name in key))
        if obj is None:
            creates.append(model(district_id=district.pk, **row.values))
            continue
        changed = [name for name in attnames if getattr(obj, name) != row.values[name]]
        if not changed:
            report.count(entity, "unchanged")
            continue
        for name in changed:
            setattr(obj, name, row.values[name])
        if hasattr(obj, "updated_at"):
            obj.updated_at = now  # bulk_update does not run auto_now
        updates.append(obj)
    report.count(entity, "created", len(creates))
    report.count(entity, "updated", len(updates))
    if write:
        model.objects.bulk_create(creates, batch_size=1000)
        if updates:
            update_fields = fields + (["updated_at"] if hasattr(model, "updated_at") else [])
            model.objects.bulk_update(updates, update_fields, batch_size=1000)


def _lock_district(district: District) -> None:
    """Serialise imports of one district, records and OneRoster alike.

    The natural keys are not database constraints, so two imports at once would both
    create the same rows. The key is the OneRoster importer's, so a roster import and
    a records import of one district wait for each other too.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"import:{district.slug}"]
            )


# The whole run.


def _sorted(issues: list[Issue]) -> list[Issue]:
    order = {name: index for index, name in enumerate(RECORD_FILES)}
    return sorted(issues, key=lambda i: (order.get(i.file, -1), i.line or 0, i.column or 0, i.file))


def check_records(
    path: Path, *, district: District, strict: bool, progress: Progress | None = None
) -> tuple[ImportReport, list[ParsedFile]]:
    """Read and check everything; nothing is written. Errors in the report reject the run."""
    report = ImportReport()
    budget = ReadBudget(ImportLimits.of(district))
    source = read_source(path, report, budget)
    rows_by_file: dict[str, list[tuple[int, list[str]]]] = {}
    for name in RECORD_FILES:
        if name in source.files:
            decoded = decode(name, source.files.pop(name), report)
            if decoded is not None:
                rows_by_file[name] = list(csv_rows(name, decoded, report, budget))
            if budget.refused:
                return report, []  # too many rows: the run is refused, nothing more is read
    report.rows_total = sum(max(len(rows) - 1, 0) for rows in rows_by_file.values())
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress and done % PROGRESS_EVERY == 0:
            progress(done, report.rows_total)

    files = [
        parse_file(RECORD_FILES[name], rows, report, tick) for name, rows in rows_by_file.items()
    ]
    with tenant_scope(district):
        resolve_references(files, district, report)
    if strict:
        report.warnings_become_errors()
    report.errors = _sorted(report.errors)
    report.warnings = _sorted(report.warnings)
    return report, files


def import_records(
    path,
    *,
    district: District,
    actor=None,
    strict: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    run: ImportRun | None = None,
) -> tuple[ImportReport, ImportRun]:
    """Check the records files at ``path`` and, if nothing is wrong, upsert them.

    ``run`` is an ``ImportRun`` made earlier (the web flow makes one at upload); without
    it one is made here. Either way it ends up holding the outcome.
    """
    with tenant_scope(district):
        return _import_records(Path(path), district, actor, strict, dry_run, progress, run)


def _import_records(path, district, actor, strict, dry_run, progress, run):
    started = timezone.now()
    if run is None:
        run = ImportRun(district=district, kind=ImportRun.Kind.RECORDS)
    run.started_by = actor if actor is not None else run.started_by
    run.status = ImportRun.Status.RUNNING
    run.strict, run.dry_run = strict, dry_run
    run.started_at = run.started_at or started
    run.file_name = run.file_name or path.name[:255]
    run.save()
    report = None
    try:
        report, files = check_records(path, district=district, strict=strict, progress=progress)
        run.file_sha256 = file_sha256(path) if path.exists() else ""
        if report.ok:
            # One cache epoch move at the end, not a lock on it for the whole run.
            with transaction.atomic(), cache_epochs.deferred(district.pk):
                if not dry_run:
                    _lock_district(district)
                for parsed in files:
                    apply_file(parsed, district, report, write=not dry_run)
            report.applied = not dry_run
        if report.applied:
            # After commit: ANALYZE sees the committed rows and holds no lock of the import.
            transaction.on_commit(partial(analyze_tables, changed_tables(report, ENTITY_MODELS)))
        if progress:
            progress(report.rows_total, report.rows_total)
        outcome = report.as_dict()
        run.status = ImportRun.Status.SUCCEEDED if report.ok else ImportRun.Status.REJECTED
        run.rows_total = report.rows_total
        run.rows_done = report.rows_total if report.ok else 0
        run.counts = outcome["counts"]
        run.warnings = outcome["warnings"]
        run.errors = outcome["errors"]
        run.finished_at = timezone.now()
        run.save()
    except Exception as exc:
        # A database error's message can quote a row ("Failing row contains ..."): log
        # where it failed and its type, never its message.
        logger.error(
            "records import %s for district %s failed with %s:\n%s",
            run.pk,
            district.slug,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        applied = report is not None and report.applied
        message = (
            "internal error after the changes were saved; they were kept"
            if applied
            else "internal error; nothing changed"
        )
        run.status = ImportRun.Status.FAILED
        run.errors = [Issue(run.file_name, None, None, None, message).as_dict()]
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "errors", "finished_at", "file_sha256"])
        raise
    logger.info(
        "records import %s for district %s: %s, %d changes, %d errors, %d warnings%s",
        run.pk,
        district.slug,
        run.status,
        report.changes,
        report.error_count,
        report.warning_count,
        " (dry run)" if dry_run else "",
    )
    return report, run
