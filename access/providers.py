"""Service providers: the viewer of an API client, what its grants reach, and the
record of what it received.

A provider is a school official only under a grant the district made (REQUIREMENTS
8): each active grant of the provider, within its dates, is one route of kind
``PROVIDER`` — its categories, its population — and nothing else reaches a student.
A revoked grant, one not yet started or one past its end date makes no route, so
the next request answers 403 with no write needed. The viewer is built anew on every
request (one query) and never cached.

Every provider read is a disclosure (99.32): one event per read, naming the grant,
the party, the legal basis and the purpose, with the students returned kept as one id
array on the event.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from access import policy
from access.audit import Disclosure, Read, reads_of_page, record_disclosures, record_reads
from access.categories import ALL_CATEGORIES, SENSITIVE_CATEGORIES, Category
from access.models import ApiClient, Grant
from access.scoping import (
    Allowed,
    allowed_for,
    granted_schools,
    granted_sections,
    reached_student_count,
    reached_students,
    released,
    sourced_id_walk,
)
from access.viewer import NO_ACCESS, GrantTerms, Population, Route, RouteKind, Viewer
from accounts.models import User
from records import cache_epochs
from records.models import (
    AcademicSession,
    Course,
    District,
    Enrollment,
    School,
    SchoolMembership,
    Section,
    SectionTeacher,
    Student,
    active_on_q,
)
from studentdata import prepared

GRANT_LABEL = "grant {}"


def active_grants(district: District, provider_id: int, today) -> QuerySet[Grant]:
    """The provider's grants in force today: activated, not revoked, within their dates
    and within the term of the agreement they fall under (no agreement, no school official)."""
    return Grant.unscoped.filter(
        district=district,
        provider_id=provider_id,
        status=Grant.Status.ACTIVE,
        starts_on__lte=today,
        ends_on__gte=today,
        agreement__district=district,
        agreement__term_start__lte=today,
        agreement__term_end__gte=today,
    )


@functools.lru_cache(maxsize=256)
def _grants_in_force(district_id: int, provider_id: int, today) -> tuple[str, tuple]:
    """``active_grants`` as SQL and parameters, compiled once per client and day: a
    provider's every request reads its grants anew, and building the query cost more
    than running it."""
    district = District(pk=district_id)
    # Every column of the grant, in field order (what ``from_db`` is given).
    sql, params = active_grants(district, provider_id, today).query.sql_with_params()
    return sql, tuple(params)


# Stands for the day among the parameters of ``client_grants_in_force``.
_DAY = date(1, 1, 1)


@functools.cache
def client_grants_in_force() -> tuple[str, tuple]:
    """``active_grants`` of the API client aliased ``c`` in a statement that reads it,
    as SQL and parameters, ``_DAY`` among them standing for the day: the token check
    reads a client's grants in force in its own statement (studentdata/authentication.py)."""
    district, provider = RawSQL('"c"."district_id"', ()), RawSQL('"c"."provider_id"', ())
    sql, params = active_grants(district, provider, _DAY).query.sql_with_params()
    return sql, tuple(params)


def on_day(params: tuple, day) -> list:
    """``client_grants_in_force``'s parameters for ``day``."""
    return [day if param == _DAY else param for param in params]


def grant_from_row(row, at: int) -> Grant | None:
    """The grant whose columns start at ``at`` in ``row`` (None: the columns are empty)."""
    return None if row[at] is None else prepared.instance(Grant, row, at)


def grant_categories(grant: Grant) -> frozenset[str]:
    """What a grant opens, failing closed: known categories only; a sensitive one only
    when confirmed with a reason; under the directory basis, directory information only."""
    categories = frozenset(grant.categories) & ALL_CATEGORIES
    if not (grant.sensitive_confirmed_by_id and grant.sensitive_reason.strip()):
        categories -= SENSITIVE_CATEGORIES
    if grant.legal_basis == Grant.LegalBasis.DIRECTORY:
        categories &= policy.DIRECTORY_BASIS_CATEGORIES
    elif grant.legal_basis not in policy.PROVIDER_LEGAL_BASES:
        return frozenset()
    return categories


def grant_route(grant: Grant, *, party: str | None = None) -> Route:
    """A grant as a route: its categories (``grant_categories``), its population."""
    return Route(
        kind=RouteKind.PROVIDER,
        label=GRANT_LABEL.format(grant.pk),
        categories=grant_categories(grant),
        outside_school=True,
        grant_id=grant.pk,
        terms=GrantTerms(
            party=(grant.provider.name if party is None else party)[:200],
            legal_basis=policy.PROVIDER_LEGAL_BASES.get(grant.legal_basis, ""),
            purpose=grant.purpose,
        ),
        population=Population(
            kind=grant.population,
            school_ids=tuple(sorted(int(pk) for pk in grant.school_ids)),
            section_ids=tuple(sorted(int(pk) for pk in grant.section_ids)),
            course_title_contains=grant.course_title_contains,
            grade_levels=tuple(sorted(grant.grade_levels)),
            shares_staff=grant.shares_staff,
        ),
    )


def viewer_for_client(client: ApiClient | None, *, today=None, epoch=cache_epochs.UNREAD) -> Viewer:
    """The viewer of a provider's API client: one route per grant in force; a disabled
    client, an inactive provider or no grant in force: NO_ACCESS. ``epoch``: the
    district's cache epoch if read with the token (the viewer then names it)."""
    if client is None or not client.is_active:
        return NO_ACCESS
    district = client.district
    if not client.provider.is_active or client.provider.district_id != district.pk:
        return NO_ACCESS
    today = today or district.today()
    read_with_token = getattr(client, "grants_in_force", None)  # (day, grants)
    if read_with_token is not None and read_with_token[0] == today:
        grants = read_with_token[1]
    else:
        sql, params = _grants_in_force(district.pk, client.provider_id, today)
        grants = [
            prepared.instance(Grant, row)
            for row in prepared.fetch("provider_grants_in_force", sql, params)
        ]
    viewer = viewer_for_grants(
        grants,
        district,
        today=today,
        client_name=f"client {client.application.client_id}"[:150],
        party=client.provider.name,
    )
    if epoch is cache_epochs.UNREAD or not viewer.has_access:
        return viewer
    return replace(viewer, cache_epoch=cache_epochs.district_epoch(district.pk, value=epoch))


def viewer_for_grants(
    grants, district: District, *, today=None, client_name: str, party: str | None = None
) -> Viewer:
    """The viewer these grants make: what the provider's API and CSV will carry (the
    console's preview uses it for a grant not yet active). ``party``: the provider's
    name, when the caller has it (else read from each grant)."""
    routes = tuple(
        grant_route(grant, party=party) for grant in grants if grant.district_id == district.pk
    )
    if not routes:
        return NO_ACCESS
    return Viewer(
        user=None,
        district=district,
        today=today or district.today(),
        routes=routes,
        client_name=client_name,
    )


@dataclass(frozen=True)
class ProviderScope:
    """What a provider's viewer reaches, as querysets for its feeds (OneRoster REST and
    CSV, the native API): students through ``reached_students``, and the rostering
    objects around them. Tables hold only the district's rows; a provider sees staff
    only under a grant that shares them."""

    viewer: Viewer

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(r for r in self.viewer.routes if r.kind == RouteKind.PROVIDER)

    @property
    def categories(self) -> frozenset[str]:
        """Every category some grant gives: a field outside them does not exist here."""
        return frozenset().union(*(route.categories for route in self.routes))

    @property
    def shares_staff(self) -> bool:
        return any(route.population.shares_staff for route in self.routes)

    def _in_district(self, model) -> QuerySet:
        return model.unscoped.filter(district_id=self.viewer.district_id)

    def students(self, among: Sequence[int] | None = None) -> QuerySet[Student]:
        """The students the grants reach, each row flagged for ``allowed``. ``among``: of
        these (a page's keys) only, each looked up by key (``reached_students``)."""
        return reached_students(self.viewer, among)

    def student_total(self) -> int | None:
        """How many ``students()`` gives, where it can be known without counting them
        (``reached_student_count``); None: count them."""
        return reached_student_count(self.viewer)

    def sourced_id_walk(self, *, start: str | None, descending: bool, wanted: int):
        """The grants' students in sourcedId order from ``start``, part by part, where
        they are most of the district (``scoping.sourced_id_walk``); None: query
        ``students()`` in order."""
        return sourced_id_walk(self.viewer, start=start, descending=descending, wanted=wanted)

    def allowed(self, students) -> dict[int, Allowed]:
        return allowed_for(self.viewer, list(students))

    def readable(self, category: str, field: str | None = None) -> Q:
        """Students of whom the provider may read ``field`` (of ``category``): reached by
        a grant of that category and, for a directory field, released — designated by
        the district and not opted out of. A filter or sort on the field narrows only
        among them, so neither can reveal a value the object would not show."""
        routes = [route for route in self.routes if category in route.categories]
        if not routes:
            return Q(pk__in=[])
        reach = Q()
        if len(routes) < len(self.routes):
            reach = Q(pk__in=reached_students(self.viewer.only(routes)).values("pk"))
        if category == Category.DIRECTORY and field is not None:
            reach &= released(self.viewer, "school" if field == "schools" else field)
        return reach

    def sections(self) -> QuerySet[Section]:
        """The classes of the grants that carry enrollment: none without it."""
        return granted_sections(self.viewer)

    def schools(self) -> QuerySet[School]:
        return granted_schools(self.viewer)

    def memberships(self) -> QuerySet[SchoolMembership]:
        """Current school memberships at the schools the grants cover: what a user's
        orgs (1.1) and roles (1.2) name. A school outside the grants is never named, so
        a filter on it matches nothing, exactly as an org that does not exist."""
        return self._in_district(SchoolMembership).filter(
            self.current_enrollment_q(), school_id__in=self.schools().values("pk")
        )

    def courses(self) -> QuerySet[Course]:
        return self._in_district(Course).filter(pk__in=self.sections().values("course_id"))

    def academic_sessions(self) -> QuerySet[AcademicSession]:
        """The district's calendar: no student data, shared with every grant."""
        return self._in_district(AcademicSession)

    def enrollments(self) -> QuerySet[Enrollment]:
        """Students' enrollments in the grants' classes, for students whose enrollment
        the provider may read."""
        students = self.students().filter(self.readable(Category.ENROLLMENT)).values("pk")
        return self._in_district(Enrollment).filter(
            section_id__in=self.sections().values("pk"), student_id__in=students
        )

    def teaching(self) -> QuerySet[SectionTeacher]:
        """Teachers' places in the grants' classes, only under a grant sharing staff."""
        if not self.shares_staff:
            return self._in_district(SectionTeacher).none()
        return self._in_district(SectionTeacher).filter(section_id__in=self.sections().values("pk"))

    def teachers(self) -> QuerySet[User]:
        """Staff teaching the grants' classes (or, for a district grant, every teacher
        of the district), only under a grant sharing staff."""
        if not self.shares_staff:
            return User.objects.none()
        return User.objects.filter(
            district_id=self.viewer.district_id,
            pk__in=self.teaching().values("teacher_id"),
        )

    def current_enrollment_q(self, prefix: str = "") -> Q:
        return active_on_q(self.viewer.today, prefix)


def _grant_ids(roles: frozenset[str]) -> list[int]:
    """The grants among a read's route labels, lowest first."""
    labels = (label.removeprefix("grant ") for label in roles if label.startswith("grant "))
    return sorted(int(label) for label in labels if label.isascii() and label.isdigit())


def _per_grant(
    categories: frozenset[str], roles: frozenset[str], routes: Mapping[int, Route]
) -> list[tuple[int, frozenset[str]]]:
    """What each grant that reached a student gave of ``categories``: a category two
    grants give is told under the lower-numbered one, so it is disclosed once."""
    remaining, shares = categories, []
    for grant_id in _grant_ids(roles):
        given = remaining & routes[grant_id].categories if grant_id in routes else frozenset()
        if given:
            shares.append((grant_id, given))
            remaining -= given
    return shares


def record_provider_reads(
    viewer: Viewer, allowed_by_id: Mapping[int, Allowed], *, channel: str
) -> None:
    """One disclosure per grant and set of categories it gave: the party, the grant's
    legal basis and purpose, the categories, the students as one id array. A student
    reached by two grants is told under each for what that grant gave. ``channel`` says
    how (``OneRoster REST``, ``OneRoster CSV``, ``API``)."""
    alike: dict[Allowed, list[int]] = {}
    for student_id, allowed in allowed_by_id.items():
        alike.setdefault(allowed, []).append(student_id)
    record_provider_groups(viewer, alike.items(), channel=channel)


def record_provider_groups(
    viewer: Viewer, groups: Iterable[tuple[Allowed, Sequence[int]]], *, channel: str
) -> None:
    """``record_provider_reads`` for students already grouped by what was disclosed of
    them (a kept OneRoster page keeps them so)."""
    routes = {route.grant_id: route for route in viewer.routes if route.grant_id is not None}
    if not routes:
        return
    by_share: dict[tuple[int, frozenset[str]], list[int]] = {}
    for allowed, ids in groups:
        for share in _per_grant(allowed.categories, allowed.via, routes):
            by_share.setdefault(share, []).extend(ids)
    disclosed = []
    for (grant_id, categories), ids in sorted(by_share.items(), key=lambda g: (g[0][0], min(g[1]))):
        terms = routes[grant_id].terms
        read = Read(
            tuple(sorted(ids)),
            categories,
            frozenset({GRANT_LABEL.format(grant_id)}),
            f"{terms.purpose} ({channel})"[:200],
        )
        disclosure = Disclosure(party=terms.party, legal_basis=terms.legal_basis, grant_id=grant_id)
        disclosed.append((read, disclosure))
    record_disclosures(viewer, disclosed)


def record_page_reads(
    viewer: Viewer, allowed_by_id: Mapping[int, Allowed], *, purpose: str, channel: str
) -> None:
    """The log entries of one page read: disclosures for a provider, access events with
    ``purpose`` for anyone else."""
    if viewer.has_route({RouteKind.PROVIDER}):
        record_provider_reads(viewer, allowed_by_id, channel=channel)
    else:
        record_reads(viewer, reads_of_page(allowed_by_id, purpose=purpose))
