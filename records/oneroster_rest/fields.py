"""What each OneRoster resource may be filtered, sorted and selected by: a whitelist.

Every name a client may use is declared here, with the data category it belongs to when
it is student data. A field whose category the client's grants do not open is not
declared for that client at all, so asking for it answers exactly as for a field that
never existed (the oracle rule, docs/oneroster-rest.md). For each source of rows
(students, staff, schools, ...) a name maps to an ORM expression (a column, a constant,
a sourcedId) or to a relation test; names and values never reach SQL as text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils.dateparse import parse_date, parse_datetime

from access.categories import Category
from access.providers import ProviderScope
from records.oneroster_rest.errors import INVALID_DATA, OneRosterError, bad_filter

V1P1, V1P2 = "v1p1", "v1p2"
BOTH = frozenset({V1P1, V1P2})

STUDENT, TEACHER = "student", "teacher"
DISTRICT, SCHOOL = "district", "school"
SESSION, COURSE, CLASS = "session", "course", "class"
ENROLLMENT, TEACHING = "enrollment", "teaching"

STRING, DATE, DATETIME, BOOL, INTEGER = "string", "date", "datetime", "bool", "integer"


def sourced_id(path: str, label: str, *, nullable: bool = False):
    """A row's OneRoster sourcedId: its imported one, else ``<label>-<id>`` (rows made
    in this app, never imported). ``path`` leads to the row (``"section__school__"``)."""
    expression = Coalesce(
        F(f"{path}sourced_id"),
        Concat(Value(f"{label}-"), Cast(F(f"{path}id"), output_field=CharField())),
        output_field=CharField(),
    )
    if nullable:
        return Case(
            When(**{f"{path.removesuffix('__')}__isnull": True}, then=Value(None)),
            default=expression,
            output_field=CharField(),
        )
    return expression


def fallback_sourced_id(row, label: str) -> str:
    """``sourced_id`` above, computed for a loaded row."""
    return row.sourced_id or f"{label}-{row.pk}"


@dataclass(frozen=True)
class Context:
    """What expressions need to know about the request."""

    scope: ProviderScope
    version: str

    @property
    def today(self) -> date:
        return self.scope.viewer.today

    @property
    def district(self):
        return self.scope.viewer.district

    @property
    def district_sourced_id(self) -> str:
        return fallback_sourced_id(self.district, "district")


@dataclass(frozen=True)
class Related:
    """A test through a relation with many rows (a student's schools): given the lookup
    suffix (``""``, ``"__gt"``, ...) and the value, the Q on the source's rows."""

    build: Callable[[Context, str, object], Q]


@dataclass(frozen=True)
class Field:
    """One name a client may use on a resource."""

    name: str
    kind: str = STRING
    # The student data category the name reveals (None: not student data).
    category: str | None = None
    # For a directory name: the student field whose release (designation, opt-out) rules it.
    directory_field: str | None = None
    # Also describes staff: present for a client that shares staff.
    staff: bool = False
    versions: frozenset[str] = BOTH
    output: bool = True  # may be asked for in ``fields``
    filter: bool = True
    sort: bool = True
    # Per source of rows: the expression (a factory taking the Context) or a Related.
    sources: dict[str, Callable[[Context], object] | Related] = field(default_factory=dict)
    # Values a client writes mapped onto stored ones (e.g. sex).
    values: dict[str, str] | None = None


def column(name: str):
    return lambda ctx: F(name)


def constant(value, output_field=None):
    return lambda ctx: Value(value, output_field=output_field or CharField())


def _member_of(ctx: Context, lookup: str, value) -> Q:
    """Students with a granted current school whose sourcedId passes ``lookup``."""
    memberships = ctx.scope.memberships().annotate(or_rel=sourced_id("school__", "school"))
    return Q(pk__in=memberships.filter(**{f"or_rel{lookup}": value}).values("student_id"))


def _primary_school(ctx: Context):
    """The sourcedId of a student's primaryOrg, as the object shows it: the first of the
    granted schools in the projection's order (primary membership first, then by name),
    else the district."""
    first = (
        ctx.scope.memberships()
        .filter(student_id=OuterRef("pk"))
        .order_by("-is_primary", "school__name")
        .values_list(sourced_id("school__", "school"))[:1]
    )
    return Coalesce(
        Subquery(first, output_field=CharField()),
        Value(ctx.district_sourced_id, output_field=CharField()),
        output_field=CharField(),
    )


def _teaching_schools(ctx: Context, lookup: str, value) -> Q:
    places = ctx.scope.teaching().annotate(or_rel=sourced_id("section__school__", "school"))
    return Q(pk__in=places.filter(**{f"or_rel{lookup}": value}).values("teacher_id"))


def _school_orgs() -> dict:
    return {STUDENT: Related(_member_of), TEACHER: Related(_teaching_schools)}


def _status_of_dated(ctx: Context):
    return Case(
        When(end_date__lt=ctx.today, then=Value("tobedeleted")),
        default=Value("active"),
        output_field=CharField(),
    )


_ACTIVE = constant("active")

USER_FIELDS = (
    Field(
        "sourcedId",
        sources={STUDENT: column("sourced_id"), TEACHER: lambda ctx: sourced_id("", "user")},
    ),
    Field("status", sources={STUDENT: _ACTIVE, TEACHER: _ACTIVE}),
    Field(
        "dateLastModified",
        DATETIME,
        sources={STUDENT: column("updated_at"), TEACHER: column("updated_at")},
    ),
    Field("username", sources={STUDENT: constant(""), TEACHER: column("username")}),
    Field(
        "enabledUser",
        BOOL,
        sources={STUDENT: constant(True, BooleanField()), TEACHER: column("is_active")},
    ),
    Field(
        "givenName",
        category=Category.DIRECTORY,
        directory_field="given_name",
        staff=True,
        sources={STUDENT: column("given_name"), TEACHER: column("first_name")},
    ),
    Field(
        "familyName",
        category=Category.DIRECTORY,
        directory_field="family_name",
        staff=True,
        sources={STUDENT: column("family_name"), TEACHER: column("last_name")},
    ),
    Field(
        "middleName",
        category=Category.DIRECTORY,
        directory_field="middle_name",
        sources={STUDENT: column("middle_name")},
    ),
    Field(
        "preferredFirstName",
        category=Category.DIRECTORY,
        directory_field="preferred_name",
        versions=frozenset({V1P2}),
        sources={STUDENT: column("preferred_name")},
    ),
    Field(
        "grades",
        category=Category.DIRECTORY,
        directory_field="grade_level",
        sources={STUDENT: column("grade_level")},
    ),
    Field(
        "role",
        versions=frozenset({V1P1}),
        sources={STUDENT: constant("student"), TEACHER: constant("teacher")},
    ),
    Field("orgs", versions=frozenset({V1P1}), filter=False, sort=False),
    Field(
        "orgs.sourcedId",
        category=Category.DIRECTORY,
        directory_field="school",
        staff=True,
        versions=frozenset({V1P1}),
        output=False,
        sort=False,
        sources=_school_orgs(),
    ),
    Field("roles", versions=frozenset({V1P2}), filter=False, sort=False),
    Field(
        "roles.role",
        versions=frozenset({V1P2}),
        output=False,
        sort=False,
        sources={STUDENT: constant("student"), TEACHER: constant("teacher")},
    ),
    Field(
        "roles.org.sourcedId",
        category=Category.DIRECTORY,
        directory_field="school",
        staff=True,
        versions=frozenset({V1P2}),
        output=False,
        sort=False,
        sources=_school_orgs(),
    ),
    Field("primaryOrg", versions=frozenset({V1P2}), filter=False, sort=False),
    Field(
        "primaryOrg.sourcedId",
        category=Category.DIRECTORY,
        directory_field="school",
        staff=True,
        versions=frozenset({V1P2}),
        output=False,
        sort=False,
        sources={STUDENT: _primary_school, TEACHER: Related(_teaching_schools)},
    ),
    Field(
        "email",
        category=Category.CONTACT,
        staff=True,
        sources={STUDENT: column("email"), TEACHER: column("email")},
    ),
    Field(
        "phone",
        category=Category.CONTACT,
        staff=True,
        sources={STUDENT: column("phone"), TEACHER: column("phone")},
    ),
    Field("identifier", category=Category.IDENTIFIERS, sources={STUDENT: column("local_id")}),
    Field("userIds", category=Category.IDENTIFIERS, filter=False, sort=False),
)

_RACES = {
    "americanIndianOrAlaskaNative": "american_indian_or_alaska_native",
    "asian": "asian",
    "blackOrAfricanAmerican": "black_or_african_american",
    "nativeHawaiianOrOtherPacificIslander": "native_hawaiian_or_pacific_islander",
    "white": "white",
}
SEX_VALUES = {"female": "F", "male": "M", "other": "X", "unspecified": ""}

DEMOGRAPHIC_FIELDS = (
    Field("sourcedId", sources={STUDENT: column("sourced_id")}),
    Field("status", sources={STUDENT: _ACTIVE}),
    Field("dateLastModified", DATETIME, sources={STUDENT: column("updated_at")}),
    Field(
        "birthDate", DATE, category=Category.DEMOGRAPHICS, sources={STUDENT: column("birth_date")}
    ),
    Field(
        "sex",
        category=Category.DEMOGRAPHICS,
        values=SEX_VALUES,
        sources={STUDENT: column("sex")},
    ),
    *(
        Field(name, BOOL, category=Category.DEMOGRAPHICS, sources={STUDENT: column(model_field)})
        for name, model_field in _RACES.items()
    ),
    Field(
        "demographicRaceTwoOrMoreRaces", category=Category.DEMOGRAPHICS, filter=False, sort=False
    ),
    Field(
        "hispanicOrLatinoEthnicity",
        BOOL,
        category=Category.DEMOGRAPHICS,
        sources={STUDENT: column("hispanic_or_latino")},
    ),
)


def _district_sid(ctx: Context):
    return Value(ctx.district_sourced_id, output_field=CharField())


ORG_FIELDS = (
    Field(
        "sourcedId",
        sources={
            DISTRICT: lambda ctx: sourced_id("", "district"),
            SCHOOL: lambda ctx: sourced_id("", "school"),
        },
    ),
    Field("status", sources={DISTRICT: _ACTIVE, SCHOOL: _ACTIVE}),
    Field(
        "dateLastModified",
        DATETIME,
        sources={DISTRICT: column("created_at"), SCHOOL: column("updated_at")},
    ),
    Field("name", sources={DISTRICT: column("name"), SCHOOL: column("name")}),
    Field("type", sources={DISTRICT: constant("district"), SCHOOL: constant("school")}),
    Field("identifier", sources={DISTRICT: column("nces_id"), SCHOOL: column("nces_id")}),
    Field("parent", filter=False, sort=False),
    Field(
        "parent.sourcedId",
        output=False,
        sort=False,
        sources={DISTRICT: constant(None), SCHOOL: _district_sid},
    ),
)

SESSION_FIELDS = (
    Field("sourcedId", sources={SESSION: lambda ctx: sourced_id("", "session")}),
    Field("status", sources={SESSION: _ACTIVE}),
    Field("dateLastModified", DATETIME, sources={SESSION: column("updated_at")}),
    Field("title", sources={SESSION: column("title")}),
    Field("type", sources={SESSION: column("kind")}),
    Field("startDate", DATE, sources={SESSION: column("start_date")}),
    Field("endDate", DATE, sources={SESSION: column("end_date")}),
    Field("schoolYear", INTEGER, sources={SESSION: column("school_year")}),
    Field("parent", filter=False, sort=False),
    Field(
        "parent.sourcedId",
        output=False,
        sort=False,
        sources={SESSION: lambda ctx: sourced_id("parent__", "session", nullable=True)},
    ),
)


def _course_org(ctx: Context):
    """A course's org: its school when the grants cover it, else the district."""
    return Case(
        When(
            school_id__in=ctx.scope.schools().values("pk"),
            then=sourced_id("school__", "school"),
        ),
        default=Value(ctx.district_sourced_id),
        output_field=CharField(),
    )


COURSE_FIELDS = (
    Field("sourcedId", sources={COURSE: lambda ctx: sourced_id("", "course")}),
    Field("status", sources={COURSE: _ACTIVE}),
    Field("dateLastModified", DATETIME, sources={COURSE: column("updated_at")}),
    Field("title", sources={COURSE: column("title")}),
    Field("courseCode", sources={COURSE: column("code")}),
    Field("subjects", sort=False, sources={COURSE: column("subject")}),
    Field("org", filter=False, sort=False),
    Field("org.sourcedId", output=False, sort=False, sources={COURSE: _course_org}),
)

CLASS_FIELDS = (
    Field("sourcedId", sources={CLASS: lambda ctx: sourced_id("", "class")}),
    Field("status", sources={CLASS: _ACTIVE}),
    Field("dateLastModified", DATETIME, sources={CLASS: column("updated_at")}),
    Field("title", sources={CLASS: column("title")}),
    Field("classType", sources={CLASS: constant("scheduled")}),
    Field("location", sources={CLASS: column("room")}),
    Field("periods", sort=False, sources={CLASS: column("period")}),
    Field("course", filter=False, sort=False),
    Field(
        "course.sourcedId",
        output=False,
        sort=False,
        sources={CLASS: lambda ctx: sourced_id("course__", "course")},
    ),
    Field("school", filter=False, sort=False),
    Field(
        "school.sourcedId",
        output=False,
        sort=False,
        sources={CLASS: lambda ctx: sourced_id("school__", "school")},
    ),
    Field("terms", filter=False, sort=False),
    Field(
        "terms.sourcedId",
        output=False,
        sort=False,
        sources={CLASS: lambda ctx: sourced_id("term__", "session")},
    ),
)

ENROLLMENT_FIELDS = (
    Field(
        "sourcedId",
        sources={
            ENROLLMENT: lambda ctx: sourced_id("", "enrollment"),
            TEACHING: lambda ctx: sourced_id("", "teaching"),
        },
    ),
    Field("status", sources={ENROLLMENT: _status_of_dated, TEACHING: _status_of_dated}),
    Field(
        "dateLastModified",
        DATETIME,
        sources={ENROLLMENT: column("updated_at"), TEACHING: column("updated_at")},
    ),
    Field("role", sources={ENROLLMENT: constant("student"), TEACHING: constant("teacher")}),
    Field(
        "primary",
        BOOL,
        sources={ENROLLMENT: constant(False, BooleanField()), TEACHING: column("is_primary")},
    ),
    Field(
        "beginDate",
        DATE,
        sources={ENROLLMENT: column("begin_date"), TEACHING: column("begin_date")},
    ),
    Field("endDate", DATE, sources={ENROLLMENT: column("end_date"), TEACHING: column("end_date")}),
    Field("user", filter=False, sort=False),
    Field(
        "user.sourcedId",
        output=False,
        sort=False,
        sources={
            ENROLLMENT: column("student__sourced_id"),
            TEACHING: lambda ctx: sourced_id("teacher__", "user"),
        },
    ),
    Field("class", filter=False, sort=False),
    Field(
        "class.sourcedId",
        output=False,
        sort=False,
        sources={
            ENROLLMENT: lambda ctx: sourced_id("section__", "class"),
            TEACHING: lambda ctx: sourced_id("section__", "class"),
        },
    ),
    Field("school", filter=False, sort=False),
    Field(
        "school.sourcedId",
        output=False,
        sort=False,
        sources={
            ENROLLMENT: lambda ctx: sourced_id("section__school__", "school"),
            TEACHING: lambda ctx: sourced_id("section__school__", "school"),
        },
    ),
)

RESOURCE_FIELDS: dict[str, tuple[Field, ...]] = {
    "users": USER_FIELDS,
    "demographics": DEMOGRAPHIC_FIELDS,
    "orgs": ORG_FIELDS,
    "academicSessions": SESSION_FIELDS,
    "courses": COURSE_FIELDS,
    "classes": CLASS_FIELDS,
    "enrollments": ENROLLMENT_FIELDS,
}


def available(resource: str, source_kinds: frozenset[str], ctx: Context) -> dict[str, Field]:
    """The names this client may use on this resource: a student data name only when a
    grant opens its category (or, for a name that also describes staff, when staff are
    shared and the resource carries them)."""
    granted = ctx.scope.categories
    staff = TEACHER in source_kinds and ctx.scope.shares_staff
    names = {}
    for spec in RESOURCE_FIELDS[resource]:
        if ctx.version not in spec.versions:
            continue
        if spec.category is not None:
            for_students = STUDENT in source_kinds and spec.category in granted
            if not (for_students or (spec.staff and staff)):
                continue
        names[spec.name] = spec
    return names


OPERATOR_LOOKUPS = {
    "=": "",
    "!=": "",
    ">": "__gt",
    ">=": "__gte",
    "<": "__lt",
    "<=": "__lte",
    "~": "__icontains",
}


def typed_value(spec: Field, op: str, raw: str):
    """The clause's value as the field's type; a value of the wrong type is 422."""
    if op == "~" and spec.kind != STRING:
        raise bad_filter(f"The ~ operator applies to text fields; {spec.name!r} is not one.")
    if spec.values is not None:
        return spec.values.get(raw, raw)
    if spec.kind == STRING:
        return raw
    if spec.kind == BOOL and raw in {"true", "false"}:
        return raw == "true"
    if spec.kind == INTEGER and raw.isascii() and raw.isdigit() and len(raw) < 10:
        return int(raw)
    if spec.kind == DATE:
        try:
            parsed = parse_date(raw)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed
    if spec.kind == DATETIME:
        moment = _moment(raw)
        if moment is not None:
            return moment
    expected = {
        BOOL: "'true' or 'false'",
        INTEGER: "a whole number",
        DATE: "a date (YYYY-MM-DD)",
        DATETIME: "an ISO 8601 date-time (2026-04-20T00:00:00Z) or date",
    }[spec.kind]
    raise OneRosterError(
        422, INVALID_DATA, f"The value for filter field {spec.name!r} must be {expected}."
    )


def _moment(raw: str) -> datetime | None:
    try:
        moment = parse_datetime(raw)
        if moment is None:
            day = parse_date(raw)
            moment = datetime.combine(day, time.min) if day is not None else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment
