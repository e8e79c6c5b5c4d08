"""Storing an import run, whatever its outcome (who, when, what file, what happened)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from django.utils import timezone

from records.importers.report import ImportReport
from records.models import District, ImportRun


def file_sha256(path: Path) -> str:
    """The checksum of a file, or of a folder's files in name order."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def status_of(report: ImportReport) -> str:
    return ImportRun.Status.SUCCEEDED if report.ok else ImportRun.Status.REJECTED


def import_run_store(
    *,
    district: District,
    kind: str,
    report: ImportReport,
    file_name: str,
    sha256: str,
    actor=None,
    started_at: datetime,
    dry_run: bool = False,
    strict: bool = False,
) -> ImportRun:
    """Record a finished command-line run (the browser's runs are created when queued)."""
    outcome = report.as_dict()
    return ImportRun.unscoped.create(
        district=district,
        kind=kind,
        status=status_of(report),
        started_by=actor,
        file_name=file_name[:255],
        file_sha256=sha256,
        dry_run=dry_run,
        strict=strict,
        rows_total=report.rows_total,
        rows_done=report.rows_total if report.ok else 0,
        counts=outcome["counts"],
        warnings=outcome["warnings"],
        errors=outcome["errors"],
        started_at=started_at,
        finished_at=timezone.now(),
    )
