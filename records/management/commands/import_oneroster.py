"""``manage.py import_oneroster``: a OneRoster CSV bundle into one district."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.text import slugify

from records.importers.oneroster import import_oneroster
from records.importers.report import ACTIONS, ImportReport, omitted_message
from records.importers.runs import file_sha256, import_run_store
from records.models import ImportRun
from records.tenancy import tenant_scope


class Command(BaseCommand):
    help = (
        "Import a OneRoster 1.1 or 1.2 CSV bundle (a folder or a .zip; bulk or delta, as its "
        "manifest says) into the district SLUG, creating the district if missing. The run is "
        "all or nothing: any error — a missing file or column, an unknown value, a duplicate "
        "sourcedId, a row that does not parse — rejects it and changes nothing, and every "
        "error is listed with file, line and column. A reference to something that does not "
        "exist skips that row with a warning (--strict makes warnings errors). Records a bulk "
        "file no longer lists are ended, never deleted. Importing the same bundle twice "
        "changes nothing the second time. A file larger than the district's limit "
        "(IMPORT_MAX_FILE_MB while the district does not exist yet) or of more rows than "
        "IMPORT_MAX_ROWS rejects the run before it is read. The first 1,000 errors and "
        "warnings are listed, and the rest counted."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="A bundle folder or .zip file.")
        parser.add_argument("--district", required=True, help="The district's slug.")
        parser.add_argument("--district-name", help="The district's name, if it is created.")
        parser.add_argument("--strict", action="store_true", help="Treat warnings as errors.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and count, change nothing."
        )

    def handle(self, *args, path, district, district_name, strict, dry_run, **options):
        if slugify(district) != district:
            raise CommandError(f"--district must be a slug (lowercase, dashes), got {district!r}")
        source = Path(path)
        started_at = timezone.now()
        report, the_district = import_oneroster(
            source,
            district_slug=district,
            district_name=district_name,
            strict=strict,
            dry_run=dry_run,
        )
        if the_district is not None and source.exists():
            with tenant_scope(the_district):
                import_run_store(
                    district=the_district,
                    kind=ImportRun.Kind.ONEROSTER,
                    report=report,
                    file_name=source.name,
                    sha256=file_sha256(source),
                    started_at=started_at,
                    dry_run=dry_run,
                    strict=strict,
                )
        self.print_report(report, dry_run=dry_run)
        if not report.ok:
            raise CommandError(
                f"Rejected: {report.error_count} error(s), nothing was changed.", returncode=1
            )

    def print_report(self, report: ImportReport, *, dry_run: bool) -> None:
        write = self.stdout.write
        if report.ok:
            verb = "Would change" if dry_run else "Changed"
            write(f"{verb} {report.changes} row(s) from {report.rows_total} row(s) read.")
            write(f"  {'entity':<20}" + "".join(f"{a:>11}" for a in ACTIONS))
            for entity, counts in sorted(report.counts.items()):
                write(f"  {entity:<20}" + "".join(f"{counts[a]:>11}" for a in ACTIONS))
        for issue in report.warnings:
            write(f"warning: {issue}")
        if report.warnings_omitted:
            write(omitted_message(report.warnings_omitted, "warning"))
        for issue in report.errors:
            self.stderr.write(f"error: {issue}")
        if report.errors_omitted:
            self.stderr.write(omitted_message(report.errors_omitted, "error"))
