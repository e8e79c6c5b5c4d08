"""The viewer: who is reading, in which district, through which routes.

Built once per request (or per job) from the user, and carried on the request.
Its default is ``NO_ACCESS``, never ``None``: a viewer without routes sees nothing.
A Django superuser is not a data role; only roles and relationships make routes.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType

from django.conf import settings
from django.db.models import Exists, FilteredRelation, OuterRef, Q
from django.utils import timezone

from access import cache, grants, policy
from access.categories import ALL_CATEGORIES, SENSITIVE_CATEGORIES, Category
from access.errors import AccessDenied
from access.models import EmergencyAccess
from accounts.models import Role, RoleMembership, User
from records import cache_epochs
from records.models import (
    AcademicSession,
    CustodyRestriction,
    District,
    GuardianLink,
    Section,
    SectionTeacher,
    SubstituteAssignment,
    active_on_q,
)

logger = logging.getLogger(__name__)


class RouteKind(StrEnum):
    """The relationships through which a viewer reaches students (docs/access-model.md §1)."""

    GUARDIAN = "guardian"
    ELIGIBLE_STUDENT = "eligible_student"
    TEACHER = "teacher"
    SUBSTITUTE = "substitute"
    EMERGENCY = "emergency"
    SCHOOL_STAFF = "school_staff"
    DISTRICT_ADMIN = "district_admin"
    PROVIDER = "provider"  # a service provider's grant (access/providers.py)


FAMILY_ROUTES = frozenset({RouteKind.GUARDIAN, RouteKind.ELIGIBLE_STUDENT})
SCHOOL_OFFICIAL_ROUTES = frozenset({RouteKind.SCHOOL_STAFF, RouteKind.DISTRICT_ADMIN})
STAFF_ROUTES = SCHOOL_OFFICIAL_ROUTES | {
    RouteKind.TEACHER,
    RouteKind.SUBSTITUTE,
    RouteKind.EMERGENCY,
}
# Routes whose sensitive categories open only for a declared purpose (access/purposes.py):
# every staff route but break-glass, which carries its reason as its purpose (a family
# reads its own record).
PURPOSE_ROUTES = STAFF_ROUTES - {RouteKind.EMERGENCY}


@dataclass(frozen=True)
class Population:
    """Whom a provider's grant covers, as clients know it: the whole district, chosen
    schools, chosen sections (fixed), or rules that follow the rosters (sections whose
    course title contains some text, at some schools; students in some grades)."""

    kind: str  # access.models.Grant.Population
    school_ids: tuple[int, ...] = ()
    section_ids: tuple[int, ...] = ()
    course_title_contains: str = ""
    grade_levels: tuple[str, ...] = ()
    shares_staff: bool = False


@dataclass(frozen=True)
class GrantTerms:
    """What a read under a provider's grant is recorded with (99.32): the party, the
    legal basis (the 99.31 paragraph) and the grant's purpose in words."""

    party: str
    legal_basis: str
    purpose: str


@dataclass(frozen=True)
class Route:
    """One relationship through which a viewer reaches students.

    ``kind`` decides which students (access/scoping.py); ``categories`` what of
    them. ``label`` is the role written to the access log.
    """

    kind: RouteKind
    label: str
    categories: frozenset[str]
    school_ids: frozenset[int] = frozenset()  # staff and teachers: the schools they serve
    student_id: int | None = None  # eligible student: themself
    student_ids: frozenset[int] = frozenset()  # emergency access: the students granted
    # teacher: the sections taught today (or within the grace period); substitute: the
    # sections granted today
    section_ids: frozenset[int] = frozenset()
    program_kinds: frozenset[str] | None = None  # None: every program in the category
    outside_school: bool = False  # a party other than the family and school officials
    # A provider's grant: its id, whom it covers, and the terms its reads are disclosed
    # under (access/providers.py).
    grant_id: int | None = None
    population: Population | None = None
    terms: GrantTerms | None = None

    @property
    def needs_purpose(self) -> frozenset[str]:
        """The categories of this route that stay closed until a purpose is declared."""
        if self.kind not in PURPOSE_ROUTES:
            return frozenset()
        return self.categories & SENSITIVE_CATEGORIES


@dataclass(frozen=True)
class Viewer:
    user: User | None
    district: District | None
    today: date
    routes: tuple[Route, ...] = field(default=())
    # Custody restrictions on this person, per student: the categories hidden from
    # them whatever route they read by. All categories hidden = the student is gone.
    restrictions: Mapping[int, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    # The district's cache epoch this viewer was built under (None: cache nothing for
    # it), and until when its routes hold: the next local midnight, or sooner an
    # emergency grant's start or end (records/cache_epochs.py).
    cache_epoch: str | None = None
    valid_until: datetime | None = None
    # The roles the person holds today, whether or not any reaches a student (a teacher
    # with no class yet): what they may ask for, such as emergency access, not what they see.
    roles: frozenset[str] = frozenset()
    # A reader without a user: a provider's API client, named as such in the log.
    client_name: str = ""

    @property
    def actor_name(self) -> str:
        return self.user.get_username() if self.user is not None else self.client_name

    @property
    def district_id(self) -> int | None:
        return self.district.pk if self.district is not None else None

    @property
    def has_access(self) -> bool:
        return bool(self.routes) and self.district is not None

    @property
    def role_labels(self) -> str:
        return ",".join(sorted({route.label for route in self.routes}))

    def route(self, kind: RouteKind) -> Route | None:
        return next((r for r in self.routes if r.kind == kind), None)

    def has_route(self, kinds) -> bool:
        """Whether any of the viewer's routes is of one of ``kinds``."""
        return self.has_access and any(route.kind in kinds for route in self.routes)

    def through(self, kinds) -> Viewer:
        """The same person reaching students through the routes of ``kinds`` only (their
        family routes for the family pages, their official ones for ``/school/``). Their
        restrictions still bind them; nothing computed for it is cached."""
        return self.only(route for route in self.routes if route.kind in kinds)

    def only(self, routes) -> Viewer:
        """The same person reaching students through ``routes`` (some of theirs) only."""
        kept = tuple(routes)
        if not set(kept) <= set(self.routes):
            raise AccessDenied("a viewer is narrowed only to routes it has")
        return replace(self, routes=kept, cache_epoch=None)

    @functools.cached_property
    def row_token(self) -> str:
        """Names the flags this viewer's queries put on rows (access/scoping.py), so a row
        fetched for one viewer never proves a route of another."""
        seen = (
            self.user.pk if self.user else self.client_name,
            self.district_id,
            self.today,
            self.routes,
        )
        return hashlib.blake2b(repr(seen).encode(), digest_size=6).hexdigest()

    @property
    def substitute_section_ids(self) -> frozenset[int]:
        """The sections this person teaches today as a substitute (granted and in dates)."""
        route = self.route(RouteKind.SUBSTITUTE)
        return route.section_ids if route is not None else frozenset()

    def cache_seconds(self) -> int:
        """How long an entry computed for this viewer may be kept: no longer than its
        routes hold, nor than the configured time."""
        holds = int((self.valid_until - timezone.now()).total_seconds())
        return max(1, min(settings.ACCESS_CACHE_SECONDS, holds))

    @property
    def fully_restricted_student_ids(self) -> list[int]:
        return sorted(s for s, hidden in self.restrictions.items() if hidden >= ALL_CATEGORIES)


NO_ACCESS = Viewer(user=None, district=None, today=date.min)


def eligibility_cutoff(district: District, today: date) -> date:
    """Students born on or before this date have reached the district's eligible age."""
    years = district.eligible_student_age
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February: the birthday is reached on 1 March
        return today.replace(year=today.year - years, month=2, day=28)


def viewer_for(user, *, today: date | None = None) -> Viewer:
    """Build the viewer for ``user``; anyone without a district or a route gets NO_ACCESS.

    For today's viewer (no ``today`` given) the routes are kept in the cache under the
    district's cache epoch, so a request whose inputs did not change reuses them; any
    write that could change them moves the epoch and the next request rebuilds.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return NO_ACCESS
    if user.district_id is None:
        return NO_ACCESS
    if today is None:
        # An API token's user arrives with the epoch read in the same query.
        read = getattr(user, "cache_epoch_value", cache_epochs.UNREAD)
        epoch = cache_epochs.district_epoch(user.district_id, value=read)
        if epoch is not None:
            return _cached_viewer(user, epoch)
    return _build_viewer(user, today)


def _viewer_key(user, epoch: str) -> str:
    return f"viewer:{user.district_id}:{epoch}:{user.pk}"


def _cached_viewer(user, epoch: str) -> Viewer:
    key = _viewer_key(user, epoch)
    cached = cache.get(key)
    if isinstance(cached, Viewer) and cached.valid_until > timezone.now():
        # This request's user object (the same person), and restrictions read-only again.
        return replace(cached, user=user, restrictions=MappingProxyType(cached.restrictions))
    viewer = replace(_build_viewer(user, None), cache_epoch=epoch)
    if viewer.has_access:
        stored = replace(viewer, user=None, restrictions=dict(viewer.restrictions))
        cache.put(key, stored, viewer.cache_seconds())
    return viewer


def _build_viewer(user, today: date | None) -> Viewer:
    flags = _relationship_flags(user)
    if flags is None:
        return NO_ACCESS
    district = flags["district"]
    is_today = today is None
    today = today or district.today()
    memberships = _active_memberships(user, district, today)
    emergency, emergency_change = _emergency_routes(user, district, memberships, flags)
    routes = [
        *_staff_routes(memberships),
        *_teacher_routes(user, district, today, memberships, flags),
        *_substitute_routes(user, district, today, memberships, flags),
        *emergency,
        *_family_routes(flags, district, today),
    ]
    restrictions = _restrictions(user, district, today) if flags["guards"] else {}
    valid_until = None
    if is_today:
        midnight = datetime.combine(today + timedelta(days=1), time.min, district.zone)
        valid_until = min(filter(None, (midnight, emergency_change)))
    return Viewer(
        user=user,
        district=district,
        today=today,
        routes=tuple(routes),
        restrictions=MappingProxyType(restrictions),
        valid_until=valid_until,
        roles=frozenset(memberships),
    )


def _active_memberships(user, district: District, today: date) -> dict[str, set[int | None]]:
    schools_by_role: dict[str, set[int | None]] = {}
    rows = (
        RoleMembership.unscoped.filter(district=district, user=user)
        .filter(active_on_q(today))
        .values_list("role", "school_id")
    )
    for role, school_id in rows:
        schools_by_role.setdefault(role, set()).add(school_id)
    return schools_by_role


def _staff_routes(memberships: dict[str, set[int | None]]) -> list[Route]:
    routes = [
        Route(
            kind=RouteKind.SCHOOL_STAFF,
            label=role,
            categories=policy.SCHOOL_ROLE_CATEGORIES[role],
            school_ids=frozenset(schools),
        )
        for role, schools in sorted(memberships.items())
        if role in policy.SCHOOL_ROLE_CATEGORIES
    ]
    if Role.DISTRICT_ADMIN in memberships:
        routes.append(
            Route(
                kind=RouteKind.DISTRICT_ADMIN,
                label=Role.DISTRICT_ADMIN,
                categories=policy.DISTRICT_ADMIN_CATEGORIES,
            )
        )
    return routes


def _teacher_routes(user, district, today, memberships, flags: dict) -> list[Route]:
    """Teachers reach their rosters only while they hold the teacher role at that school.

    The sections are fixed when the viewer is built (and kept with it: every write to
    sections, teaching rows or terms moves the district's cache epoch), so the roster
    queries start from a handful of known sections whatever the planner's statistics say:
    a district just imported, not yet analyzed, plans them as well as an old one."""
    schools = memberships.get(Role.TEACHER)
    if not schools or not flags["teaches"]:
        return []
    since = today - timedelta(days=district.roster_grace_days)
    terms = AcademicSession.unscoped.filter(
        district=district, start_date__lte=today, end_date__gte=since
    )
    taught = (
        SectionTeacher.unscoped.filter(district=district, teacher=user)
        .filter(Q(begin_date__isnull=True) | Q(begin_date__lte=today))
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=since))
    )
    sections = Section.unscoped.filter(
        district=district,
        pk__in=taught.values("section_id"),
        term_id__in=terms.values("pk"),
        school_id__in=sorted(pk for pk in schools if pk is not None),
    ).values_list("pk", flat=True)
    return [
        Route(
            kind=RouteKind.TEACHER,
            label=Role.TEACHER,
            categories=policy.TEACHER_CATEGORIES,
            school_ids=frozenset(schools),
            section_ids=frozenset(sections),
            program_kinds=policy.TEACHER_PROGRAMS,
        )
    ]


def _substitute_routes(user, district, today, memberships, flags) -> list[Route]:
    """A substitute reaches a section's roster while both the guardian permission on the
    section and an assignment covering today stand, and they hold a teacher role."""
    if not flags["substitutes"] or not memberships.get(Role.TEACHER):
        return []
    sections = grants.substitute_sections(user, district, today)
    if not sections:
        return []
    return [
        Route(
            kind=RouteKind.SUBSTITUTE,
            label="substitute",
            categories=policy.SUBSTITUTE_CATEGORIES,
            program_kinds=policy.SUBSTITUTE_PROGRAMS,
            section_ids=frozenset(sections),
        )
    ]


def _emergency_routes(user, district, memberships, flags) -> tuple[list[Route], datetime | None]:
    """Break-glass: the students of this staff member's unexpired emergency grants, and
    when the next of their grants starts or ends (the routes change then)."""
    if not flags["emergencies"] or not memberships:
        return [], None
    now = timezone.now()
    grants_now = EmergencyAccess.unscoped.filter(
        district=district, requested_by=user, expires_at__gt=now
    ).values_list("student_id", "granted_at", "expires_at")
    student_ids, changes = set(), []
    for student_id, granted_at, expires_at in grants_now:
        if granted_at <= now:
            student_ids.add(student_id)
            changes.append(expires_at)
        else:
            changes.append(granted_at)
    next_change = min(changes, default=None)
    if not student_ids:
        return [], next_change
    route = Route(
        kind=RouteKind.EMERGENCY,
        label="emergency",
        categories=policy.EMERGENCY_CATEGORIES,
        program_kinds=policy.EMERGENCY_PROGRAMS,
        student_ids=frozenset(student_ids),
    )
    return [route], next_change


def _relationship_flags(user) -> dict | None:
    """The user's district, own student record, and whether they teach, substitute, guard
    or hold emergency access: one query."""
    district_id = user.district_id
    row = (
        User.objects.filter(pk=user.pk, district_id=district_id, is_active=True)
        # The student record joined within the district (the shape Citus keeps on one node).
        .annotate(
            own_record=FilteredRelation(
                "student_record", condition=Q(student_record__district_id=district_id)
            )
        )
        .select_related("district", "own_record")
        .annotate(
            teaches=Exists(
                SectionTeacher.unscoped.filter(district_id=district_id, teacher_id=OuterRef("pk"))
            ),
            guards=Exists(
                GuardianLink.unscoped.filter(district_id=district_id, guardian_id=OuterRef("pk"))
            ),
            substitutes=Exists(
                SubstituteAssignment.unscoped.filter(
                    district_id=district_id, substitute_id=OuterRef("pk"), ended_at__isnull=True
                )
            ),
            emergencies=Exists(
                EmergencyAccess.unscoped.filter(
                    district_id=district_id,
                    requested_by_id=OuterRef("pk"),
                    expires_at__gt=timezone.now(),
                )
            ),
        )
        .first()
    )
    if row is None:
        return None
    own = getattr(row, "own_record", None)
    if own is not None and own.district_id != district_id:
        own = None  # the composite key forbids it; never trust a cross-district link
    return {
        "district": row.district,
        "teaches": row.teaches,
        "guards": row.guards,
        "substitutes": row.substitutes,
        "emergencies": row.emergencies,
        "own_student_id": own.pk if own else None,
        "own_birth_date": own.birth_date if own else None,
        "own_postsecondary": own.is_postsecondary if own else False,
    }


def _family_routes(flags: dict, district: District, today: date) -> list[Route]:
    routes = []
    if flags["guards"]:
        routes.append(
            Route(kind=RouteKind.GUARDIAN, label="guardian", categories=policy.GUARDIAN_CATEGORIES)
        )
    if flags["own_student_id"] is not None:
        birth_date = flags["own_birth_date"]
        of_age = birth_date is not None and birth_date <= eligibility_cutoff(district, today)
        if of_age or flags["own_postsecondary"]:
            routes.append(
                Route(
                    kind=RouteKind.ELIGIBLE_STUDENT,
                    label="eligible_student",
                    categories=policy.ELIGIBLE_STUDENT_CATEGORIES,
                    student_id=flags["own_student_id"],
                )
            )
    return routes


def restriction_hides(scope: str, categories) -> frozenset[str]:
    """What one restriction hides. Anything unreadable hides everything (fails closed)."""
    if scope != CustodyRestriction.Scope.CATEGORIES:
        return ALL_CATEGORIES
    if not isinstance(categories, list) or not categories:
        return ALL_CATEGORIES
    named = frozenset(categories)
    if not named <= ALL_CATEGORIES:
        return ALL_CATEGORIES
    # Where the child's bus stops and when says where the child is: hiding the address
    # and phone hides the route to school with them.
    if Category.CONTACT in named:
        named |= {Category.TRANSPORTATION}
    return named


def _restrictions(user, district: District, today: date) -> dict[int, frozenset[str]]:
    """Active custody restrictions on this person, per student."""
    links = GuardianLink.unscoped.filter(district=district, guardian=user)
    rows = (
        CustodyRestriction.unscoped.filter(
            district=district, guardian_link__in=links, guardian_link__district=district
        )
        .filter(active_on_q(today))
        .values_list("guardian_link__student_id", "scope", "categories")
    )
    hidden: dict[int, frozenset[str]] = {}
    for student_id, scope, categories in rows:
        hidden[student_id] = hidden.get(student_id, frozenset()) | restriction_hides(
            scope, categories
        )
    return hidden
