"""The family portal's reach: the only place that decides what a family member sees.

A family member is a guardian (through a guardian link with data access) or an
eligible student (themself). Only those two routes count here, whatever staff roles
the same person also holds: the family pages show what the family may see, and log
it as a family read. Every query names the viewer's district.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Min, Q, QuerySet
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
    district_id = viewer.district_id
    touched = AccessEventStudent.unscoped.filter(
        district_id=district_id, student_id=child.student.pk
    ).values("event_id")
    events = AccessEvent.unscoped.filter(district_id=district_id, pk__in=touched).exclude(
        actor_id=viewer.user.pk
    )
    if category is not None:
        if category not in ALL_CATEGORIES:
            return events.none()
        events = events.filter(categories__contains=[category])
    zone = viewer.district.zone
    if since is not None:
        events = events.filter(occurred_at__gte=datetime.combine(since, time.min, tzinfo=zone))
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone)
        events = events.filter(occurred_at__lt=end)
    return events.order_by("-occurred_at", "-sequence")


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
        .order_by()
        .values("study_id", "study__title", "study__approved_version__institution", "categories")
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
            institution=row["study__approved_version__institution"],
            first_day=min(row["first"], line.first_day) if line else row["first"],
            last_day=max(row["last"], line.last_day) if line else row["last"],
            extracts=row["extracts"] + (line.extracts if line else 0),
        )
    return sorted(merged.values(), key=lambda line: (line.last_day, line.title), reverse=True)
