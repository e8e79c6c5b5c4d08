"""``manage.py import_records PATH --district SLUG``: the records CSVs OneRoster does not carry."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from records.importers.records_csv import RECORD_FILES, import_records
from records.importers.report import ImportReport, omitted_message
from records.models import District, ImportRun


class Command(BaseCommand):
    help = (
        "Import student records into an existing district from PATH, a folder or a .zip "
        f"holding any of {', '.join(RECORD_FILES)} (formats: docs/import-formats.md). "
        "All or nothing: every file is checked first, and any error rejects the whole run "
        "with nothing changed and every error listed by file, line and column. Rows are "
        "upserted by their natural key and nothing is deleted, so importing the same files "
        "twice changes nothing. A row naming a student, school or class the district does "
        "not have is skipped with a warning; --strict rejects the run instead. A file "
        "larger than the district's limit or of more rows than IMPORT_MAX_ROWS rejects the "
        "run before it is read. Every run, rejected ones too, is stored as an import run "
        "(with its first 1,000 errors and warnings, and a count of the rest)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="A folder or a .zip of records CSV files.")
        parser.add_argument("--district", required=True, help="The district's slug.")
        parser.add_argument(
            "--strict", action="store_true", help="Treat warnings as errors: reject the run."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and count only; change nothing."
        )

    def handle(self, *args, path, district, strict, dry_run, **options):
        try:
            tenant = District.objects.get(slug=district)
        except District.DoesNotExist:
            raise CommandError(
                f"No district with slug {district!r}; import its OneRoster roster first "
                "(import_oneroster creates it)."
            ) from None
        source = Path(path)
        if not source.exists():
            raise CommandError(f"{path}: no such folder or .zip file")
        try:
            report, run = import_records(source, district=tenant, strict=strict, dry_run=dry_run)
        except Exception as exc:
            # Its message may quote a row; the log has where it failed, the run its outcome.
            raise CommandError(
                f"The import failed ({type(exc).__name__}); nothing changed."
            ) from None
        self._print(report, run, tenant)
        if not report.ok:
            raise CommandError(
                f"Rejected: {report.error_count} error(s); nothing changed (import run {run.pk})."
            )

    def _print(self, report: ImportReport, run: ImportRun, district: District) -> None:
        if not report.ok:
            outcome = "REJECTED, nothing changed"
        elif run.dry_run:
            outcome = "dry run, nothing changed: these are the changes an import would make"
        else:
            outcome = "imported"
        self.stdout.write(
            f"Records import into {district.slug!r} from {run.file_name} "
            f"(sha256 {run.file_sha256 or '-'}): {outcome}."
        )
        self.stdout.write(f"{report.rows_total} data rows read; import run {run.pk}.")
        if report.counts:
            width = max(len("entity"), *(len(entity) for entity in report.counts))
            actions = ("created", "updated", "unchanged")
            self.stdout.write("")
            self.stdout.write(
                f"  {'entity':<{width}}" + "".join(f"  {action:>9}" for action in actions)
            )
            for entity, counts in sorted(report.counts.items()):
                self.stdout.write(
                    f"  {entity:<{width}}" + "".join(f"  {counts[a]:>9}" for a in actions)
                )
        for title, issues, omitted in (
            ("Warnings", report.warnings, report.warnings_omitted),
            ("Errors", report.errors, report.errors_omitted),
        ):
            if issues:
                self.stdout.write("")
                self.stdout.write(f"{title} ({len(issues) + omitted:,}):")
                for issue in issues:
                    self.stdout.write(f"  {issue}")
                if omitted:
                    self.stdout.write(f"  {omitted_message(omitted, title.lower()[:-1])}")
        if run.strict and not report.ok:
            self.stdout.write("(--strict: warnings count as errors.)")
