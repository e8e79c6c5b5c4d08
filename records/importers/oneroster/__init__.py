"""Import a OneRoster 1.1 or 1.2 CSV bundle (bulk or delta) into one district.

``import_oneroster`` reads and checks the whole bundle first; any error rejects the
run and nothing changes. Otherwise it applies everything in one transaction, under
a per-district lock so that a second import of the same district waits for the
first. The same bundle imported twice changes nothing the second time.

A file larger than the district's limits refuses the run before it is read
(``limits.py``); once committed, the tables the run changed are analyzed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from django.db import connection, transaction
from django.db.models.functions import Lower

from accounts.models import RoleMembership, User
from records import cache_epochs
from records.importers.analyze import analyze_tables, changed_tables
from records.importers.limits import ImportLimits
from records.importers.oneroster.apply import Applier
from records.importers.oneroster.bundle import read_bundle
from records.importers.oneroster.parse import REFERENCE_COLUMNS, Known, Parsed, parse_bundle
from records.importers.report import ImportReport
from records.models import (
    AcademicSession,
    Course,
    District,
    Enrollment,
    Grade,
    GuardianLink,
    School,
    SchoolMembership,
    Section,
    SectionTeacher,
    Student,
)
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
    bundle = read_bundle(Path(path), report, ImportLimits.of(district))
    parsed = None
    if bundle is not None:
        named = bundle.named_ids(REFERENCE_COLUMNS, KNOWN_LOOKUP_LIMIT)
        parsed = parse_bundle(bundle, _known(district, named), report)
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
            Applier(parsed, district, report, today=district.today(), progress=progress).run()
        if dry_run:
            transaction.set_rollback(True)
    report.applied = not dry_run
    if report.applied:
        # After commit: ANALYZE sees the committed rows and holds no lock of the import.
        transaction.on_commit(partial(analyze_tables, changed_tables(report, ENTITY_MODELS)))
    return report, district


# The tables each counted entity writes. After a load the planner's statistics describe
# the tables as they were; with them a district's first reads (or its next import) can
# pick plans for empty tables, so the tables an import changed are analyzed after it.
ENTITY_MODELS = {
    "schools": (School,),
    "academic_sessions": (AcademicSession,),
    "courses": (Course,),
    "sections": (Section,),
    "users": (User,),
    "students": (Student,),
    "role_memberships": (RoleMembership,),
    "school_memberships": (SchoolMembership,),
    "guardian_links": (GuardianLink,),
    "enrollments": (Enrollment,),
    "section_teachers": (SectionTeacher,),
    "demographics": (Student,),
    "grades": (Grade,),
}


# Beyond this many sourcedIds named (a district's whole roster, in bulk), the district's
# every sourcedId is read instead: one plain read each, no list of values to send.
KNOWN_LOOKUP_LIMIT = 10_000


def _known(district: District | None, named: set[str] | None) -> Known:
    """Which sourcedIds the bundle refers to (``named``; None: too many to list) the
    district already holds: a delta may refer to them. A delta's few are looked up, not
    the district's every sourcedId."""
    if district is None:
        return Known()
    with tenant_scope(district):
        return _known_in(district, sorted(named) if named is not None else None)


def _known_in(district: District, named: list[str] | None) -> Known:
    def ids(rows):
        rows = rows.filter(sourced_id__isnull=False)
        if named is not None:
            rows = rows.filter(sourced_id__in=named)
        return set(rows.values_list("sourced_id", flat=True))

    def held(model):
        return ids(model.unscoped.filter(district=district))

    staff = RoleMembership.unscoped.filter(district=district, user__sourced_id__isnull=False)
    if named is not None:
        staff = staff.filter(user__sourced_id__in=named)
    return Known(
        schools=held(School),
        sessions=held(AcademicSession),
        courses=held(Course),
        sections=held(Section),
        students=held(Student),
        users=ids(User.objects.filter(district=district)),
        # From the (small) role table to its users by primary key: no plan can go wrong.
        staff=set(staff.values_list("user__sourced_id", flat=True).distinct()),
    )


def _check_usernames(parsed: Parsed, district, bundle, report: ImportReport) -> None:
    """Usernames are unique across districts whatever their case: one held by any other
    account, or two rows of the bundle that differ only in case, is an error."""
    table = bundle.table("users")

    flagged: set[int] = set()  # lines already reported: one error per row

    def error(line: int, message: str) -> None:
        if line not in flagged:
            flagged.add(line)
            report.error(table.file, line, table.column("username"), "username", message=message)

    people = sorted(parsed.people.items(), key=lambda item: item[1].line)
    if not people:
        return
    # Lowered by the database, as its unique index on lower(username) lowers them.
    with connection.cursor() as cursor:
        names = [person.username for _sid, person in people]
        if connection.vendor == "postgresql":
            cursor.execute("SELECT name, lower(name) FROM unnest(%s::text[]) AS name", [names])
            folds = dict(cursor.fetchall())
        else:
            folds = {name: name.lower() for name in names}
    rows: dict[str, list] = {}  # lowered username -> [(sourcedId, person)], by line
    for sid, person in people:
        rows.setdefault(folds[person.username], []).append((sid, person))
    for same in rows.values():
        first = same[0][1]
        for _sid, person in same[1:]:
            error(
                person.line,
                f"username {person.username!r} differs only in case from "
                f"{first.username!r} on line {first.line}",
            )
    holders = (
        User.objects.annotate(folded=Lower("username"))
        .filter(folded__in=list(rows))
        .values_list("folded", "username", "district_id", "sourced_id")
    )
    for folded, username, district_id, sourced_id in holders:
        for sid, person in rows[folded]:
            if district is not None and district_id == district.pk and sourced_id == sid:
                continue  # the same person, imported before (perhaps spelt in another case)
            if person.username == username:
                message = f"username {username!r} already belongs to another account"
            else:
                message = (
                    f"username {person.username!r} differs only in case from another "
                    "account's username"
                )
            error(person.line, message)


def _warnings_become_errors(report: ImportReport) -> None:
    report.warnings_become_errors()


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
