"""Writing a OneRoster 1.1 CSV bulk bundle: the files' columns, in the standard's order,
and a zip written member by member.

Only already-decided values arrive here: ``access/deliveries.py`` reads what a grant
reaches and projects each student to the categories allowed, then hands over plain
rows. Nothing here reads students.

Each file is written straight into its zip member as rows arrive, and the zip itself
into a temporary file, so memory stays flat whatever the district's size. A bulk file
leaves ``status`` and ``dateLastModified`` blank, as OneRoster 1.1 asks of bulk files.
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from datetime import date
from typing import IO

ORGS = ("sourcedId", "status", "dateLastModified", "name", "type", "identifier",
        "parentSourcedId")  # fmt: skip
ACADEMIC_SESSIONS = ("sourcedId", "status", "dateLastModified", "title", "type", "startDate",
                     "endDate", "parentSourcedId", "schoolYear")  # fmt: skip
COURSES = ("sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title",
           "courseCode", "grades", "orgSourcedId", "subjects", "subjectCodes")  # fmt: skip
CLASSES = ("sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
           "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds",
           "subjects", "subjectCodes", "periods")  # fmt: skip
USERS = ("sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role",
         "username", "userIds", "givenName", "familyName", "middleName", "identifier",
         "email", "sms", "phone", "agentSourcedIds", "grades", "password")  # fmt: skip
ENROLLMENTS = ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role",
               "status", "dateLastModified", "primary", "beginDate", "endDate")  # fmt: skip
DEMOGRAPHICS = ("sourcedId", "status", "dateLastModified", "birthDate", "sex",
                "americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
                "nativeHawaiianOrOtherPacificIslander", "white",
                "demographicRaceTwoOrMoreRaces", "hispanicOrLatinoEthnicity",
                "countryOfBirthCode", "stateOfBirthAbbreviation", "cityOfBirth",
                "publicSchoolResidenceStatus")  # fmt: skip

COLUMNS: dict[str, tuple[str, ...]] = {
    "orgs": ORGS,
    "academicSessions": ACADEMIC_SESSIONS,
    "courses": COURSES,
    "classes": CLASSES,
    "users": USERS,
    "enrollments": ENROLLMENTS,
    "demographics": DEMOGRAPHICS,
}
# Every file a 1.1 manifest names: those not written are declared absent.
MANIFEST_FILES = ("academicSessions", "categories", "classes", "classResources", "courses",
                  "courseResources", "demographics", "enrollments", "lineItems", "orgs",
                  "resources", "results", "users")  # fmt: skip

# studentdata's codes → OneRoster 1.1 values.
SEX = {"F": "female", "M": "male", "X": "other"}
RACES = {
    "american_indian_or_alaska_native": "americanIndianOrAlaskaNative",
    "asian": "asian",
    "black_or_african_american": "blackOrAfricanAmerican",
    "native_hawaiian_or_pacific_islander": "nativeHawaiianOrOtherPacificIslander",
    "white": "white",
}


def boolean(value: bool | None) -> str:
    """OneRoster's booleans; unknown is blank."""
    return "" if value is None else ("true" if value else "false")


def day(value: date | None) -> str:
    return value.isoformat() if value else ""


def id_list(values: Iterable[str]) -> str:
    return ",".join(values)


def manifest_rows(written: Iterable[str], *, system_name: str) -> list[tuple[str, str]]:
    """The bulk manifest: every file written is ``bulk``, every other one ``absent``."""
    written = set(written)
    rows = [("manifest.version", "1.0"), ("oneroster.version", "1.1")]
    rows += [(f"file.{name}", "bulk" if name in written else "absent") for name in MANIFEST_FILES]
    rows += [("source.systemName", system_name), ("source.systemCode", "studentdata")]
    return rows


class CsvMember:
    """One file of the bundle being written: rows go into it as dicts by column name; a
    column a row does not name is written empty."""

    def __init__(self, handle: IO[str], columns: tuple[str, ...]):
        self.columns = columns
        self.writer = csv.writer(handle, lineterminator="\r\n")
        self.writer.writerow(columns)
        self.rows = 0

    def write(self, row: Mapping[str, str]) -> None:
        self.writer.writerow([row.get(column, "") for column in self.columns])
        self.rows += 1


class BundleZip:
    """A zip being written to a temporary file, one member at a time (zipfile allows one
    open member); ``spill`` holds a file whose rows arrive while another is open."""

    def __init__(self):
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish's caller or discard
        self.archive = zipfile.ZipFile(self.file, "w", compression=zipfile.ZIP_DEFLATED)
        self.written: list[str] = []

    @contextmanager
    def member(self, name: str, columns: tuple[str, ...] | None = None):
        """Write ``name``.csv: yields a ``CsvMember`` (or the raw text handle without
        ``columns``)."""
        raw = self.archive.open(f"{name}.csv", "w", force_zip64=True)
        with io.TextIOWrapper(raw, encoding="utf-8", newline="") as handle:
            yield CsvMember(handle, columns) if columns is not None else handle
        self.written.append(name)

    @staticmethod
    @contextmanager
    def spill(columns: tuple[str, ...]):
        """A file written aside (on disk), to be copied in with ``copy_in`` later."""
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as handle:
            yield CsvMember(handle, columns), handle

    def copy_in(self, name: str, handle: IO[str]) -> None:
        handle.seek(0)
        with self.member(name) as target:
            shutil.copyfileobj(handle, target, length=1 << 20)

    def write_manifest(self, files: Iterable[str], *, system_name: str) -> None:
        with self.member("manifest") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(("propertyName", "value"))
            writer.writerows(manifest_rows(files, system_name=system_name))

    def finish(self) -> IO[bytes]:
        """Close the zip; the temporary file, rewound, holds it (the caller closes it)."""
        self.archive.close()
        self.file.seek(0)
        return self.file

    def discard(self) -> None:
        with contextlib.suppress(OSError, ValueError, zipfile.BadZipFile):
            self.archive.close()  # a half-written zip is thrown away anyway
        self.file.close()
