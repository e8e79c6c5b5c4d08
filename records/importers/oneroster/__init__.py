"""Import a OneRoster 1.1 or 1.2 CSV bundle (bulk or delta) into one district.

``import_oneroster`` reads and checks the whole bundle first; any error rejects the
run and nothing changes. Otherwise it applies everything in one transaction, under
a per-district lock so that a second import of the same district waits for the
first. The same bundle imported twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import RoleMembership, User
from records import cache_epochs
from records.importers.oneroster.apply import Applier
from records.importers.oneroster.bundle import read_bundle
from records.importers.oneroster.parse import Known, Parsed, parse_bundle
from records.importers.report import ImportReport
from records.models import AcademicSession, Course, District, School, Section, Student
from records.tenancy import tenant_scope

Progress = Callable[[str, int, int], None]


def _no_progress(phase: str, done: int, total: int) -> None:
    pass


def import_oneroster(
    path,
    *,
    district_slug: str,
    district_name: str | None = None,
    actor=None,
    strict: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> tuple[ImportReport, District | None]:
    """Import the bundle at ``path``; the report says what was found and done."""
    progress = progress or _no_progress
    report = ImportReport()
    progress("reading", 0, 0)
    district = District.objects.filter(slug=district_slug).first()
    bundle = read_bundle(Path(path), report)
    parsed = None
    if bundle is not None:
        parsed = parse_bundle(bundle, _known(district), report)
        report.rows_total = bundle.rows_total
        _check_usernames(parsed, district, bundle, report)
    if strict:
        _warnings_become_errors(report)
    if not report.ok or parsed is None:
        return report, district
    del bundle  # the files' text is no longer needed
    with transaction.atomic():
        _lock_district(district_slug, on_wait=lambda: progress("waiting", 0, report.rows_total))
        district = _district(district_slug, district_name, parsed)
        # One cache epoch move at the end, not a lock on it for the whole run.
        with tenant_scope(district), cache_epochs.deferred(district.pk):
            Applier(parsed, district, report, today=timezone.localdate(), progress=progress).run()
        if dry_run:
            transaction.set_rollback(True)
    report.applied = not dry_run
    if report.applied and report.changes > ANALYZE_AFTER_CHANGES:
        _analyze()
    return report, district


# After a large load the planner's statistics describe the tables as they were; with
# them a district's next import (or its first reads) can pick plans for empty tables.
ANALYZE_AFTER_CHANGES = 10_000
ANALYZED_TABLES = (
    "accounts_user",
    "accounts_rolemembership",
    "records_school",
    "records_academicsession",
    "records_course",
    "records_section",
    "records_student",
    "records_schoolmembership",
    "records_guardianlink",
    "records_enrollment",
    "records_sectionteacher",
    "records_grade",
)


def _analyze() -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in ANALYZED_TABLES:
            cursor.execute(f'ANALYZE "{table}"')


def _known(district: District | None) -> Known:
    """sourcedIds the district already holds: a delta may refer to them."""
    if district is None:
        return Known()

    def ids(model):
        return set(
            model.unscoped.filter(district=district, sourced_id__isnull=False).values_list(
                "sourced_id", flat=True
            )
        )

    return Known(
        schools=ids(School),
        sessions=ids(AcademicSession),
        courses=ids(Course),
        sections=ids(Section),
        students=ids(Student),
        users=set(
            User.objects.filter(district=district, sourced_id__isnull=False).values_list(
                "sourced_id", flat=True
            )
        ),
        # From the (small) role table to its users by primary key: no plan can go wrong.
        staff=set(
            RoleMembership.unscoped.filter(district=district, user__sourced_id__isnull=False)
            .values_list("user__sourced_id", flat=True)
            .distinct()
        ),
    )


def _check_usernames(parsed: Parsed, district, bundle, report: ImportReport) -> None:
    """Usernames are unique across districts: one held by any other account is an error."""
    wanted = {p.username: (sid, p.line) for sid, p in parsed.people.items()}
    table = bundle.table("users")
    holders = User.objects.filter(username__in=list(wanted)).values_list(
        "username", "district_id", "sourced_id"
    )
    for username, district_id, sourced_id in holders:
        sid, line = wanted[username]
        if district is not None and district_id == district.pk and sourced_id == sid:
            continue  # the same person, imported before
        report.error(
            table.file,
            line,
            table.column("username"),
            "username",
            message=f"username {username!r} already belongs to another account",
        )


def _warnings_become_errors(report: ImportReport) -> None:
    report.errors.extend(report.warnings)
    report.warnings = []


def _lock_district(slug: str, *, on_wait: Callable[[], None]) -> None:
    """Serialise imports of one district: a second waits here for the first to commit.

    SQLite (the demo) serialises every writing transaction anyway.
    """
    if connection.vendor != "postgresql":
        return
    key = [f"import:{slug}"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", key)
        if cursor.fetchone()[0]:
            return
        on_wait()
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", key)


def _district(slug: str, name: str | None, parsed: Parsed) -> District:
    district = District.objects.filter(slug=slug).first()
    org_name = parsed.district_org[1].name if parsed.district_org else None
    if district is None:
        return District.objects.create(slug=slug, name=(name or org_name or slug)[:200])
    if name and district.name != name:
        district.name = name[:200]
        district.save(update_fields=["name"])
    return district
