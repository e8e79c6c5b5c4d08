"""The family portal's reach: the only place that decides what a family member sees.

A family member is a guardian (through a guardian link with data access) or an
eligible student (themself). Only those two routes count here, whatever staff roles
the same person also holds: the family pages show what the family may see, and log
it as a family read. Every query names the viewer's district.
"""

from __future__ import annotations

import json
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    F,
    FilteredRelation,
    JSONField,
    Max,
    Min,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncDate

from access.categories import ALL_CATEGORIES, DESIGNATABLE_DIRECTORY_FIELDS, Category
from access.models import AccessEvent, AccessEventStudent
from access.scoping import (
    Allowed,
    StudentAccess,
    StudentNotFound,
    allowed_for,
    one_by_id,
    visible_students,
)
from access.viewer import FAMILY_ROUTES, RouteKind, Viewer, eligibility_cutoff
from records.models import GuardianLink, Student, active_on_q


def as_family(viewer: Viewer) -> Viewer:
    """The same person reaching students through their family routes only."""
    return viewer.through(FAMILY_ROUTES)


def has_family_portal(viewer: Viewer) -> bool:
    """Whether this viewer is a parent, guardian or eligible student at all."""
    return viewer.has_route(FAMILY_ROUTES)


def family_children(viewer: Viewer) -> QuerySet[Student]:
    """The students the viewer reaches as family, by name; one query, each row flagged
    with the family routes that reach it (read by ``family_allowed``)."""
    return visible_students(as_family(viewer))


def family_allowed(viewer: Viewer, student: Student) -> Allowed:
    """What of a student fetched by ``family_children`` the viewer may see."""
    return allowed_for(as_family(viewer), [student])[student.pk]


def family_child(viewer: Viewer, student_id) -> StudentAccess:
    """One child and what the viewer may see of them; 404 alike for missing and not theirs."""
    student = one_by_id(family_children(viewer), student_id, StudentNotFound)
    allowed = family_allowed(viewer, student)
    if not allowed.categories:
        raise StudentNotFound()
    return StudentAccess(student=student, allowed=allowed)


def children_who_hold_their_own_rights(viewer: Viewer) -> list[dict]:
    """The guardian's children whose FERPA rights have passed to them (99.5).

    Eligible students (of age, or postsecondary) who are not tax dependents: the
    parent no longer sees their record, only a plain explanation with the first name.
    """
    if viewer.route(RouteKind.GUARDIAN) is None or viewer.district is None:
        return []
    links = (
        GuardianLink.unscoped.filter(
            district_id=viewer.district_id, guardian=viewer.user, has_data_access=True
        )
        .filter(active_on_q(viewer.today))
        .values("student_id")
    )
    cutoff = eligibility_cutoff(viewer.district, viewer.today)
    rows = (
        Student.unscoped.filter(district_id=viewer.district_id, pk__in=links)
        .filter(Q(is_postsecondary=True) | Q(birth_date__lte=cutoff))
        .filter(is_tax_dependent=False)
        .exclude(pk__in=viewer.fully_restricted_student_ids)
        .order_by("given_name", "id")
        .values("pk", "given_name", "preferred_name")
    )
    return [
        {"id": row["pk"], "first_name": row["preferred_name"] or row["given_name"]} for row in rows
    ]


def child_access_log(
    viewer: Viewer,
    student_id,
    *,
    category: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AccessEvent]:
    """Who read this child's record, newest first, the viewer's own reads left out.

    Dates are whole days in the district's time zone. Only for a child the viewer
    reaches as family; anyone else gets ``StudentNotFound``.
    """
    child = family_child(viewer, student_id)
    return _child_reads(viewer, child.student.pk, category=category, since=since, until=until)


def _child_reads(
    viewer: Viewer,
    child_pk: int,
    *,
    category: str | None,
    since: date | None,
    until: date | None,
    after: datetime | None = None,
    before: datetime | None = None,
) -> QuerySet[AccessEvent]:
    """``child_access_log`` of a child already found, also kept to ``after <=
    occurred_at < before``: on the child's rows of the log too, so that only that
    stretch of them is read."""
    touched = _child_rows(viewer, child_pk, after, before).values("event_id")
    events = AccessEvent.unscoped.filter(district_id=viewer.district_id, pk__in=touched).exclude(
        actor_id=viewer.user.pk
    )
    events = _reads_between(events, after, before)
    if category is not None:
        if category not in ALL_CATEGORIES:
            return events.none()
        if connection.vendor == "postgresql":
            events = events.filter(categories__contains=[category])
        else:  # the SQLite demo has no JSON containment: the array's text holds the name
            events = events.filter(categories__icontains=f'"{category}"')
    zone = viewer.district.zone
    if since is not None:
        events = events.filter(occurred_at__gte=datetime.combine(since, time.min, tzinfo=zone))
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone)
        events = events.filter(occurred_at__lt=end)
    return events.order_by("-occurred_at", "-sequence")


def _child_rows(viewer: Viewer, child_pk: int, after, before) -> QuerySet[AccessEventStudent]:
    """The child's rows of the log (a row per read of them), ``after <= occurred_at <
    before``."""
    rows = AccessEventStudent.unscoped.filter(district_id=viewer.district_id, student_id=child_pk)
    return _reads_between(rows, after, before)


def _reads_between(rows: QuerySet, after: datetime | None, before: datetime | None) -> QuerySet:
    if after is not None:
        rows = rows.filter(occurred_at__gte=after)
    if before is not None:
        rows = rows.filter(occurred_at__lt=before)
    return rows


@dataclass(frozen=True)
class LineKey:
    """Where a line of ``child_reader_days`` sits in its order: the moment of its first
    read, then that read's place in the district's log (unique, so two lines that begin
    at the same instant still come in one order)."""

    first_at: datetime
    sequence: int


@dataclass(frozen=True)
class ReaderDay:
    """One reader's reads of a child on one day (the district's date), however many:
    a teacher opening the roster ten times that day is one line."""

    day: date
    actor_id: int | None
    # The recorded name of a reader without an account (a job, a client); else empty.
    reader_name: str
    roles: tuple[str, ...]
    is_disclosure: bool
    party: str
    legal_basis: str
    purposes: tuple[str, ...]
    categories: tuple[str, ...]  # every kind of information read that day, in registry order
    reads: int
    first_at: datetime
    last_at: datetime
    key: LineKey


@dataclass(frozen=True)
class ReaderDays:
    """A page of lines, newest first, and whether lines lie beyond it either way."""

    lines: list[ReaderDay]
    has_newer: bool
    has_older: bool


class _DistinctValues(Aggregate):
    """A group's distinct values as one JSON list (PostgreSQL and the SQLite demo)."""

    function = "JSONB_AGG"
    allow_distinct = True
    output_field = JSONField()

    def __init__(self, expression, **extra):
        super().__init__(expression, distinct=True, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra)


def child_reader_days(
    viewer: Viewer,
    student_id,
    *,
    category: str | None = None,
    since: date | None = None,
    until: date | None = None,
    older_than: LineKey | None = None,
    newer_than: LineKey | None = None,
    limit: int = 25,
) -> ReaderDays:
    """Who read this child's record, one line per reader and day, newest first: the
    reads of ``child_access_log`` (same filters, the viewer's own left out) grouped in
    SQL, with their count, first and last time, and every role, purpose and category.

    A reader is the person who read (or, for a read without an account, its recorded
    name) in one capacity: their reads as a school official, and each disclosure's
    party and legal basis, are lines of their own. Lines come in the order of their
    ``LineKey``, newest first: a day's lines all come before the day before's. Pages go
    by key, ``older_than`` or ``newer_than`` a line already shown. Two queries, whatever
    the child's reads: where the newest thousand of them on that side of the key begin
    (by the index of the child's reads by time), then the lines of those whole days;
    more only when those hold less than a page. Nothing counts all the reads.
    """
    if older_than is not None and newer_than is not None:
        raise ValueError("one direction at a time")
    child_pk = family_child(viewer, student_id).student.pk
    zone = viewer.district.zone
    # A line's reads all fall on the day of its first, so whole days beyond the key's
    # hold none of the lines asked for (a cut inside a day would split a line).
    after = before = None
    if older_than is not None:
        before = _midnight(older_than.first_at.astimezone(zone).date() + timedelta(days=1), zone)
    if newer_than is not None:
        after = _midnight(newer_than.first_at.astimezone(zone).date(), zone)
    if since is not None:
        after = max(filter(None, (after, _midnight(since, zone))))
    if until is not None:
        before = min(filter(None, (before, _midnight(until + timedelta(days=1), zone))))
    window = READS_WINDOW
    while True:
        # The newest (going older) or oldest (going newer) ``window`` reads of the child
        # on this side of the key, widened to whole days: their lines are complete.
        edge = _window_edge(viewer, child_pk, after, before, window, older=newer_than is None)
        bounds = {"after": after, "before": before}
        if edge is not None and newer_than is None:
            bounds["after"] = _midnight(edge.astimezone(zone).date(), zone)
        elif edge is not None:
            bounds["before"] = _midnight(edge.astimezone(zone).date() + timedelta(days=1), zone)
        rows = _reader_day_rows(
            _child_reads(viewer, child_pk, category=category, since=None, until=None, **bounds),
            zone,
            older_than,
            newer_than,
            limit,
        )
        # A page's worth of lines, or every read: done. Else a few readers read the child
        # very often (or the viewer did): a wider window.
        if len(rows) > limit or edge is None:
            break
        window *= WINDOW_GROWTH
    beyond = len(rows) > limit
    page = [_reader_day(row) for row in rows[:limit]]
    if newer_than is not None:
        page.reverse()
        return ReaderDays(lines=page, has_newer=beyond, has_older=True)
    return ReaderDays(lines=page, has_newer=older_than is not None, has_older=beyond)


# How many of a child's reads one page's query groups at first: the newest thousand
# (widened to whole days) hold a page of 25 lines unless a few readers read the child
# several times an hour; then eight times as many, and so on, until a page or every read.
READS_WINDOW = 1000
WINDOW_GROWTH = 8


def _midnight(day: date, zone) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _window_edge(viewer, child_pk: int, after, before, reads: int, *, older: bool):
    """The time of the child's ``reads``-th read from the key (newest first when going
    older, oldest first when going newer), all readers alike; None: fewer reads."""
    order = "-occurred_at" if older else "occurred_at"
    times = _child_rows(viewer, child_pk, after, before).order_by(order)
    found = times.values_list("occurred_at", flat=True)[reads - 1 : reads]
    return next(iter(found), None)


def _reader_day_rows(events, zone, older_than, newer_than, limit) -> list[dict]:
    """``events`` grouped into lines, the ``limit + 1`` nearest beyond the key."""
    lines = (
        events.order_by()
        .annotate(
            day=TruncDate("occurred_at", tzinfo=zone),
            reader_name=Case(When(actor__isnull=True, then=F("actor_username")), default=Value("")),
        )
        .values("day", "actor_id", "reader_name", "is_disclosure", "party", "legal_basis")
        .annotate(
            reads=Count("pk"),
            first_at=Min("occurred_at"),
            last_at=Max("occurred_at"),
            first_sequence=Min("sequence"),
            role_lists=_DistinctValues("actor_roles"),
            purpose_list=_DistinctValues("purpose"),
            category_lists=_DistinctValues("categories"),
        )
    )
    newest_first = ("-first_at", "-first_sequence")
    if older_than is not None:
        key = older_than
        lines = lines.filter(
            Q(first_at__lt=key.first_at) | Q(first_at=key.first_at, first_sequence__lt=key.sequence)
        ).order_by(*newest_first)
    elif newer_than is not None:
        key = newer_than
        lines = lines.filter(
            Q(first_at__gt=key.first_at) | Q(first_at=key.first_at, first_sequence__gt=key.sequence)
        ).order_by("first_at", "first_sequence")
    else:
        lines = lines.order_by(*newest_first)
    return list(lines[: limit + 1])


def _json_list(values) -> list:
    """A ``_DistinctValues`` list (SQLite returns it as text)."""
    return json.loads(values) if isinstance(values, str) else list(values or ())


def _reader_day(row: dict) -> ReaderDay:
    # SQLite gives a JSON column's values in the list as their text.
    read = {
        category
        for categories in _json_list(row["category_lists"])
        for category in (json.loads(categories) if isinstance(categories, str) else categories)
    }
    roles = {r for listed in _json_list(row["role_lists"]) for r in listed.split(",") if r}
    return ReaderDay(
        day=row["day"],
        actor_id=row["actor_id"],
        reader_name=row["reader_name"],
        roles=tuple(sorted(roles)),
        is_disclosure=row["is_disclosure"],
        party=row["party"],
        legal_basis=row["legal_basis"],
        purposes=tuple(sorted(p for p in _json_list(row["purpose_list"]) if p)),
        categories=tuple(
            [c for c in Category.values if c in read] + sorted(read - set(Category.values))
        ),
        reads=row["reads"],
        first_at=row["first_at"],
        last_at=row["last_at"],
        key=LineKey(row["first_at"], row["first_sequence"]),
    )


# How far back the providers' list reaches on one page: a year and a month, so last
# year's same month is still in view; older ones are a "show older" link away.
PROVIDER_WINDOW_MONTHS = 13


@dataclass(frozen=True)
class ProviderDisclosureDay:
    """One provider's deliveries of a child's data on one day, read alike: a nightly sync
    or a client paging through a hundred requests is one line."""

    day: date
    party: str
    purpose: str
    legal_basis: str
    categories: tuple[str, ...]
    deliveries: int


@dataclass(frozen=True)
class ProviderDisclosures:
    """The lines of a window of days (``since`` to ``until``, the district's dates),
    newest first, and whether any older delivery is left out of it."""

    lines: list[ProviderDisclosureDay]
    since: date
    until: date
    has_older: bool


def months_before(day: date, months: int) -> date:
    """The same day ``months`` earlier (the month's last day where it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def child_provider_disclosures(
    viewer: Viewer,
    student_id,
    *,
    category: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> ProviderDisclosures:
    """What service providers received of this child, one line per provider, day,
    purpose, legal basis and categories; the last 13 months up to ``until`` (today by
    default), no earlier than ``since``.

    Only for a child the viewer reaches as family (``StudentNotFound`` otherwise). A
    category the viewer may not see (a custody restriction) is never named: it is taken
    out of each line, and a line left with nothing is dropped. One query for the lines
    (grouped in SQL, so it does not grow with the deliveries), one for older ones.
    """
    child = family_child(viewer, student_id)
    district_id = viewer.district_id
    zone = viewer.district.zone
    until = min(until or viewer.today, viewer.today)
    window_start = months_before(until, PROVIDER_WINDOW_MONTHS) + timedelta(days=1)
    start_day = max(since or window_start, window_start)
    visible = child.allowed.categories
    if category is not None:
        visible = visible & {category}
    if not visible or start_day > until:
        return ProviderDisclosures(lines=[], since=start_day, until=until, has_older=False)
    # A provider's read lists its students in the event's id array, never in
    # AccessEventStudent, so these events are not in ``child_access_log`` as well.
    events = AccessEvent.unscoped.filter(
        district_id=district_id,
        grant__district_id=district_id,
        disclosed_student_ids__holds_id=child.student.pk,
    ).order_by()
    start = datetime.combine(start_day, time.min, tzinfo=zone)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone)
    rows = (
        events.filter(occurred_at__gte=start, occurred_at__lt=end)
        .annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .values("day", "party", "legal_basis", "categories", "purpose", "grant__purpose")
        .annotate(deliveries=Count("pk"))
    )
    merged: dict[tuple, int] = {}
    for row in rows:
        shown = tuple(c for c in Category.values if c in row["categories"] and c in visible)
        if not shown:
            continue
        key = (row["day"], row["party"], _recorded_purpose(row), row["legal_basis"], shown)
        merged[key] = merged.get(key, 0) + row["deliveries"]
    lines = sorted(
        (ProviderDisclosureDay(*key, deliveries=n) for key, n in merged.items()),
        key=lambda line: (line.party, line.purpose, line.legal_basis, line.categories),
    )
    lines.sort(key=lambda line: line.day, reverse=True)
    older = events.filter(occurred_at__lt=start)
    if since is not None:
        older = older.filter(occurred_at__gte=datetime.combine(since, time.min, tzinfo=zone))
    has_older = since is None or since < start_day
    return ProviderDisclosures(
        lines=lines,
        since=start_day,
        until=until,
        has_older=has_older and _names_any(older, visible),
    )


def _recorded_purpose(row: dict) -> str:
    """The purpose as the event recorded it, without the channel the read came by
    (``<grant's purpose> (OneRoster REST)``): one line, whichever way it was delivered."""
    purpose, granted = row["purpose"], row["grant__purpose"]
    if granted and purpose.startswith(f"{granted} (") and purpose.endswith(")"):
        return granted
    return purpose


# Older deliveries are looked at by their kinds of data alone, a few sets at most.
_OLDER_CATEGORY_SETS = 50


def _names_any(events: QuerySet[AccessEvent], visible: frozenset[str]) -> bool:
    """Whether any of these events carried a category in ``visible``."""
    if visible >= ALL_CATEGORIES:
        return events.exists()
    sets = events.values_list("categories", flat=True).distinct()[:_OLDER_CATEGORY_SETS]
    return any(visible.intersection(categories) for categories in sets)


def family_only(viewer: Viewer) -> bool:
    """Whether the family portal is all this viewer has (a staff member who is also a
    parent keeps the staff home, which links to the portal)."""
    kinds = {route.kind for route in viewer.routes}
    return bool(kinds) and kinds <= FAMILY_ROUTES


def is_eligible_student(viewer: Viewer, student: Student) -> bool:
    """Whether the student's FERPA rights have passed to them (of age, or postsecondary)."""
    if student.is_postsecondary:
        return True
    cutoff = eligibility_cutoff(viewer.district, viewer.today)
    return student.birth_date is not None and student.birth_date <= cutoff


def holds_family_rights(viewer: Viewer, student: Student) -> bool:
    """Whether the viewer, reaching ``student`` as family, may exercise the rights of 99.10–99.37.

    Rights pass to an eligible student (99.5): a tax dependent's parent may still read
    the record, but only the student opts out or asks to inspect.
    """
    own = viewer.route(RouteKind.ELIGIBLE_STUDENT)
    if own is not None and own.student_id == student.pk:
        return True
    return viewer.route(RouteKind.GUARDIAN) is not None and not is_eligible_student(viewer, student)


def family_rights_child(viewer: Viewer, student_id) -> StudentAccess:
    """A child whose rights this viewer holds; 404 if not theirs, 403 if the rights are the
    student's own now."""
    child = family_child(viewer, student_id)
    if not holds_family_rights(viewer, child.student):
        raise PermissionDenied
    return child


def designated_directory_fields(district) -> list[str]:
    """The district's directory fields (99.37), in the registry's order; never anything else."""
    chosen = set(district.directory_fields or [])
    return [name for name in DESIGNATABLE_DIRECTORY_FIELDS if name in chosen]


@dataclass(frozen=True)
class StudyRelease:
    """A research study that received this child's data de-identified: one line per
    study, however many extracts it took."""

    title: str
    institution: str
    first_day: date
    last_day: date
    extracts: int


def child_study_releases(viewer: Viewer, student_id) -> list[StudyRelease]:
    """The studies that included this child in a de-identified extract, newest first.

    Only for a child the viewer reaches as family (``StudentNotFound`` otherwise); a
    release of categories all hidden from the viewer (a custody restriction) is left
    out, like a provider's. One query, grouped in SQL by study."""
    child = family_child(viewer, student_id)
    visible = child.allowed.categories
    zone = viewer.district.zone
    rows = (
        AccessEvent.unscoped.filter(
            district_id=viewer.district_id,
            study__district_id=viewer.district_id,
            disclosed_student_ids__holds_id=child.student.pk,
        )
        # The study's approved version joined within the district, in the join itself.
        .annotate(
            approved=FilteredRelation(
                "study__approved_version",
                condition=Q(study__approved_version__district_id=viewer.district_id),
            )
        )
        .order_by()
        .values("study_id", "study__title", "approved__institution", "categories")
        .annotate(
            first=Min(TruncDate("occurred_at", tzinfo=zone)),
            last=Max(TruncDate("occurred_at", tzinfo=zone)),
            extracts=Count("pk"),
        )
    )
    merged: dict[int, StudyRelease] = {}
    for row in rows:
        if not visible.intersection(row["categories"]):
            continue
        line = merged.get(row["study_id"])
        merged[row["study_id"]] = StudyRelease(
            title=row["study__title"],
            institution=row["approved__institution"],
            first_day=min(row["first"], line.first_day) if line else row["first"],
            last_day=max(row["last"], line.last_day) if line else row["last"],
            extracts=row["extracts"] + (line.extracts if line else 0),
        )
    return sorted(merged.values(), key=lambda line: (line.last_day, line.title), reverse=True)
