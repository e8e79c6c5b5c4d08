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

from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from access import policy
from access.audit import Disclosure, Read, reads_of_page, record_reads
from access.categories import ALL_CATEGORIES, SENSITIVE_CATEGORIES, Category
from access.models import ApiClient, Grant
from access.scoping import (
    Allowed,
    allowed_for,
    provider_sections,
    reached_students,
    released,
)
from access.viewer import NO_ACCESS, Population, Route, RouteKind, Viewer
from accounts.models import User
from records.models import (
    AcademicSession,
    Course,
    District,
    Enrollment,
    School,
    Section,
    SectionTeacher,
    Student,
    active_on_q,
)

GRANT_LABEL = "grant {}"


def active_grants(district: District, provider_id: int, today) -> QuerySet[Grant]:
    """The provider's grants in force today: activated, not revoked, within their dates."""
    return Grant.unscoped.filter(
        district=district,
        provider_id=provider_id,
        status=Grant.Status.ACTIVE,
        starts_on__lte=today,
        ends_on__gte=today,
        agreement__district=district,
    )


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


def grant_route(grant: Grant) -> Route:
    """A grant as a route: its categories (``grant_categories``), its population."""
    return Route(
        kind=RouteKind.PROVIDER,
        label=GRANT_LABEL.format(grant.pk),
        categories=grant_categories(grant),
        outside_school=True,
        grant_id=grant.pk,
        population=Population(
            kind=grant.population,
            school_ids=tuple(sorted(int(pk) for pk in grant.school_ids)),
            section_ids=tuple(sorted(int(pk) for pk in grant.section_ids)),
            course_title_contains=grant.course_title_contains,
            grade_levels=tuple(sorted(grant.grade_levels)),
            shares_staff=grant.shares_staff,
        ),
    )


def viewer_for_client(client: ApiClient | None, *, today=None) -> Viewer:
    """The viewer of a provider's API client: one route per grant in force; a disabled
    client, an inactive provider or no grant in force: NO_ACCESS."""
    if client is None or not client.is_active:
        return NO_ACCESS
    district = client.district
    if not client.provider.is_active or client.provider.district_id != district.pk:
        return NO_ACCESS
    return viewer_for_grants(
        active_grants(district, client.provider_id, today or district.today()),
        district,
        today=today,
        client_name=f"client {client.application.client_id}"[:150],
    )


def viewer_for_grants(grants, district: District, *, today=None, client_name: str) -> Viewer:
    """The viewer these grants make: what the provider's API and CSV will carry (the
    console's preview uses it for a grant not yet active)."""
    routes = tuple(grant_route(grant) for grant in grants if grant.district_id == district.pk)
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

    def students(self) -> QuerySet[Student]:
        """The students the grants reach, each row flagged for ``allowed``."""
        return reached_students(self.viewer)

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
        routes = [route for route in self.routes if Category.ENROLLMENT in route.categories]
        if not routes:
            return self._in_district(Section).none()
        matched = Q(pk__in=[])
        for route in routes:
            matched |= Q(pk__in=provider_sections(self.viewer, route).values("pk"))
        return self._in_district(Section).filter(matched)

    def schools(self) -> QuerySet[School]:
        """The schools the grants cover: all for a district grant, else those named and
        those of the chosen or matched sections."""
        if any(route.population.kind == "district" for route in self.routes):
            return self._in_district(School)
        named = {pk for route in self.routes for pk in route.population.school_ids}
        matched = Q(pk__in=sorted(named))
        for route in self.routes:
            if route.population.kind == "sections" or route.population.course_title_contains:
                matched |= Q(pk__in=provider_sections(self.viewer, route).values("school_id"))
            elif route.population.kind == "rules" and not route.population.school_ids:
                return self._in_district(School)
        return self._in_district(School).filter(matched)

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


def _grant_of(read: Read) -> int | None:
    ids = sorted(
        int(label.removeprefix("grant "))
        for label in read.roles
        if label.startswith("grant ") and label.removeprefix("grant ").isdigit()
    )
    return ids[0] if ids else None


def record_provider_reads(
    viewer: Viewer, allowed_by_id: Mapping[int, Allowed], *, channel: str
) -> None:
    """One disclosure per group of students read alike, under the grant that reached
    them (the lowest-numbered where several did): the party, the grant's legal basis and
    purpose, the categories, the students as one id array. ``channel`` says how
    (``OneRoster REST``, ``OneRoster CSV``, ``API``)."""
    grants = {route.grant_id: route for route in viewer.routes if route.grant_id is not None}
    if not grants:
        return
    details = {
        grant.pk: grant
        for grant in Grant.unscoped.filter(
            district_id=viewer.district_id, pk__in=sorted(grants)
        ).select_related("provider")
    }
    groups: dict[tuple, list[int]] = {}
    for student_id, allowed in allowed_by_id.items():
        if allowed.categories:
            groups.setdefault((allowed.categories, allowed.via), []).append(student_id)
    for (categories, via), ids in groups.items():
        read = Read(tuple(sorted(ids)), categories, via)
        grant = details.get(_grant_of(read))
        if grant is None:
            continue
        read = Read(read.student_ids, categories, via, f"{grant.purpose} ({channel})"[:200])
        disclosure = Disclosure(
            party=grant.provider.name[:200],
            legal_basis=policy.PROVIDER_LEGAL_BASES[grant.legal_basis],
            grant_id=grant.pk,
        )
        record_reads(viewer, [read], disclosure=disclosure)


def record_page_reads(
    viewer: Viewer, allowed_by_id: Mapping[int, Allowed], *, purpose: str, channel: str
) -> None:
    """The log entries of one page read: disclosures for a provider, access events with
    ``purpose`` for anyone else."""
    if viewer.has_route({RouteKind.PROVIDER}):
        record_provider_reads(viewer, allowed_by_id, channel=channel)
    else:
        record_reads(viewer, reads_of_page(allowed_by_id, purpose=purpose))
