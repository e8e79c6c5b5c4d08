"""How much one import may read, and reading no more than that.

A 600 KB zip can hold a 200 MB file. So sizes are checked before anything is read (a
zip member's declared size, a folder file's size on disk), and every read is bounded
besides, so that a zip whose directory lies or a file that grows cannot hand over
more. What is refused is an error of the import: the run is refused, nothing changes.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from records.importers.report import ImportReport

MIB = 1024 * 1024
# A bundle is a dozen files. A zip listing more is not one, and its directory alone
# (read whole when the zip is opened) could fill memory, so it is counted first.
MAX_MEMBERS = 1_000


@dataclass(frozen=True)
class ImportLimits:
    """Bytes per file (uncompressed), bytes of all the files read, rows per file."""

    file_bytes: int
    total_bytes: int
    rows: int

    @classmethod
    def of(cls, district) -> ImportLimits:
        """The district's limit per file; the settings' when there is no district yet."""
        file_mb = (
            district.import_max_file_mb if district is not None else settings.IMPORT_MAX_FILE_MB
        )
        return cls(
            file_bytes=file_mb * MIB,
            total_bytes=settings.IMPORT_MAX_TOTAL_MB * MIB,
            rows=settings.IMPORT_MAX_ROWS,
        )


def megabytes(size: int) -> str:
    return f"{size / MIB:,.1f} MB" if size % MIB else f"{size // MIB:,} MB"


def too_many_rows_message(limit: int) -> str:
    return (
        f"more than {limit:,} rows, the most one file may hold: the import was refused "
        "and the rest of the file not read. Split it into smaller imports"
    )


class ReadBudget:
    """One import's reading, within its limits.

    ``admit`` checks a size before the file is read; ``read`` then reads at most what
    is left of the budget plus one byte, so a file turning out larger than it said is
    refused too. ``refused`` says whether anything was.
    """

    def __init__(self, limits: ImportLimits):
        self.limits = limits
        self.declared = 0  # bytes admitted
        self.used = 0  # bytes read
        self.refused = False

    def admit(self, name: str, size: int, report: ImportReport) -> bool:
        """May a file of ``size`` bytes (as the zip or the disk says) be read?"""
        limits = self.limits
        if size > limits.file_bytes:
            report.error(
                name,
                message=f"{megabytes(size)} uncompressed, over the limit of "
                f"{megabytes(limits.file_bytes)} per file: the import was refused without "
                "reading it. Split it into smaller imports",
            )
        elif self.declared + size > limits.total_bytes:
            report.error(
                name,
                message=f"with this file the import holds {megabytes(self.declared + size)} "
                f"uncompressed, over the limit of {megabytes(limits.total_bytes)} for one "
                "import: it was refused without reading it. Split it into smaller imports",
            )
        else:
            self.declared += size
            return True
        self.refused = True
        return False

    def read(self, name: str, handle: BinaryIO, report: ImportReport) -> bytes | None:
        """The file's bytes, or None (and an error) when it holds more than it may."""
        room = max(min(self.limits.file_bytes, self.limits.total_bytes - self.used), 0)
        data = handle.read(room + 1)
        if len(data) > room:
            report.error(
                name,
                message=f"larger than it said and over the limit of {megabytes(room)}: the "
                "import was refused and the rest of the file not read",
            )
            self.refused = True
            return None
        self.used += len(data)
        return data

    def read_path(self, name: str, path: Path, report: ImportReport) -> bytes | None:
        """A folder's file: its size on disk admitted, then a bounded read."""
        if not self.admit(name, path.stat().st_size, report):
            return None
        with path.open("rb") as handle:
            return self.read(name, handle, report)

    def read_member(
        self, name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, report: ImportReport
    ) -> bytes | None:
        """A zip member: its declared size admitted, then a bounded read."""
        if not self.admit(name, info.file_size, report):
            return None
        with archive.open(info) as handle:
            return self.read(name, handle, report)


def open_zip(source: Path | BinaryIO, name: str, report: ImportReport) -> zipfile.ZipFile | None:
    """The zip, once its entries are counted; None (and an error) when it lists too many.

    Raises ``zipfile.BadZipFile`` (or ``OSError``) for what is not a readable zip.
    """
    entries = zip_entry_count(source)
    if entries > MAX_MEMBERS:
        report.error(
            name,
            message=f"the zip lists {entries:,} files; a bundle has at most {MAX_MEMBERS:,}: "
            "the import was refused without reading them",
        )
        return None
    return zipfile.ZipFile(source)


def zip_entry_count(source: Path | BinaryIO) -> int:
    """The number of entries the zip's end record announces, read before its directory."""
    if isinstance(source, Path):
        with source.open("rb") as handle:
            return zip_entry_count(handle)
    position = source.tell()
    try:
        # The end record is what ZipFile itself reads first (zip64 included).
        end = zipfile._EndRecData(source)
    finally:
        source.seek(position)
    if end is None:
        raise zipfile.BadZipFile("File is not a zip file")
    return end[zipfile._ECD_ENTRIES_TOTAL]
