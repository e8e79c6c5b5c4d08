"""The viewer: who is reading, in which district, through which routes.

Built once per request (or per job) from the user, and carried on the request.
Its default is ``NO_ACCESS``, never ``None``: a viewer without routes sees nothing.
A Django superuser is not a data role; only roles and relationships make routes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from access import policy
from accounts.models import Role, RoleMembership, User
from records.models import District, GuardianLink, SectionTeacher, Student, active_on_q


@dataclass(frozen=True)
class Route:
    """One relationship through which a viewer reaches students.

    ``kind`` decides which students (access/scoping.py); ``categories`` what of
    them. ``label`` is the role written to the access log.
    """

    kind: str
    label: str
    categories: frozenset[str]
    school_ids: frozenset[int] = frozenset()  # school staff: the schools they serve
    student_id: int | None = None  # eligible student: themself
    program_kinds: frozenset[str] | None = None  # None: every program in the category
    outside_school: bool = False  # a party other than the family and school officials


@dataclass(frozen=True)
class Viewer:
    user: User | None
    district: District | None
    today: date
    routes: tuple[Route, ...] = field(default=())

    @property
    def district_id(self) -> int | None:
        return self.district.pk if self.district is not None else None

    @property
    def has_access(self) -> bool:
        return bool(self.routes) and self.district is not None

    @property
    def role_labels(self) -> str:
        return ",".join(sorted({route.label for route in self.routes}))

    def route(self, kind: str) -> Route | None:
        return next((r for r in self.routes if r.kind == kind), None)


NO_ACCESS = Viewer(user=None, district=None, today=date.min)


def district_today(district: District) -> date:
    return timezone.localdate(timezone=ZoneInfo(district.timezone))


def eligibility_cutoff(district: District, today: date) -> date:
    """Students born on or before this date have reached the district's eligible age."""
    years = district.eligible_student_age
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February: the birthday is reached on 1 March
        return today.replace(year=today.year - years, month=2, day=28)


def viewer_for(user, *, today: date | None = None) -> Viewer:
    """Build the viewer for ``user``; anyone without a district or a route gets NO_ACCESS."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NO_ACCESS
    if user.district_id is None:
        return NO_ACCESS
    district = District.objects.get(pk=user.district_id)
    today = today or district_today(district)
    routes = [*_staff_routes(user, district, today), *_relationship_routes(user, district, today)]
    return Viewer(user=user, district=district, today=today, routes=tuple(routes))


def _staff_routes(user, district: District, today: date) -> list[Route]:
    memberships = (
        RoleMembership.unscoped.filter(district=district, user=user)
        .filter(active_on_q(today))
        .values_list("role", "school_id")
    )
    schools_by_role: dict[str, set[int]] = {}
    is_district_admin = False
    for role, school_id in memberships:
        if role == Role.DISTRICT_ADMIN:
            is_district_admin = True
        elif role in policy.SCHOOL_ROLE_CATEGORIES:
            schools_by_role.setdefault(role, set()).add(school_id)
    routes = [
        Route(
            kind="school_staff",
            label=role,
            categories=policy.SCHOOL_ROLE_CATEGORIES[role],
            school_ids=frozenset(schools),
        )
        for role, schools in sorted(schools_by_role.items())
    ]
    if is_district_admin:
        routes.append(
            Route(
                kind="district_admin",
                label=Role.DISTRICT_ADMIN,
                categories=policy.DISTRICT_ADMIN_CATEGORIES,
            )
        )
    return routes


def _relationship_routes(user, district: District, today: date) -> list[Route]:
    """Teacher, guardian and eligible-student routes, found in one query."""
    own_student = Student.unscoped.filter(district=district, user_id=OuterRef("pk"))
    flags = (
        User.objects.filter(pk=user.pk)
        .annotate(
            teaches=Exists(SectionTeacher.unscoped.filter(district=district, teacher=user)),
            guards=Exists(GuardianLink.unscoped.filter(district=district, guardian=user)),
            own_student_id=Subquery(own_student.values("pk")[:1]),
            own_birth_date=Subquery(own_student.values("birth_date")[:1]),
            own_postsecondary=Subquery(own_student.values("is_postsecondary")[:1]),
        )
        .values("teaches", "guards", "own_student_id", "own_birth_date", "own_postsecondary")
        .first()
    )
    routes = []
    if flags is None:
        return routes
    if flags["teaches"]:
        routes.append(
            Route(
                kind="teacher",
                label=Role.TEACHER,
                categories=policy.TEACHER_CATEGORIES,
                program_kinds=policy.TEACHER_PROGRAMS,
            )
        )
    if flags["guards"]:
        routes.append(
            Route(kind="guardian", label="guardian", categories=policy.GUARDIAN_CATEGORIES)
        )
    if flags["own_student_id"] is not None:
        birth_date = flags["own_birth_date"]
        of_age = birth_date is not None and birth_date <= eligibility_cutoff(district, today)
        if of_age or flags["own_postsecondary"]:
            routes.append(
                Route(
                    kind="eligible_student",
                    label="eligible_student",
                    categories=policy.ELIGIBLE_STUDENT_CATEGORIES,
                    student_id=flags["own_student_id"],
                )
            )
    return routes
