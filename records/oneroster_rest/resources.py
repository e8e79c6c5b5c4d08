"""The 41 read operations: for each, the resource, the kinds of row it lists, the scopes
that open it, and how its rows follow from the grants (``ProviderScope``) and from the
objects named in its path. A parent outside the grants is ``unknownobject``, like one
that does not exist."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q

from access.categories import Category
from records.models import District
from records.oneroster_rest.errors import unknown_object
from records.oneroster_rest.fields import (
    CLASS,
    COURSE,
    DISTRICT,
    ENROLLMENT,
    RESOURCE_FIELDS,
    SCHOOL,
    SESSION,
    STUDENT,
    TEACHER,
    TEACHING,
    Context,
)
from records.oneroster_rest.query import Source

CORE, ROSTER, DEMOGRAPHICS = (
    "roster-core.readonly",
    "roster.readonly",
    "roster-demographics.readonly",
)
READ = frozenset({CORE, ROSTER})

RESOURCE_OF_KIND = {
    STUDENT: "users",
    TEACHER: "users",
    DISTRICT: "orgs",
    SCHOOL: "orgs",
    SESSION: "academicSessions",
    COURSE: "courses",
    CLASS: "classes",
    ENROLLMENT: "enrollments",
    TEACHING: "enrollments",
}
KEYS = {
    "users": ("users", "user"),
    "demographics": ("demographics", "demographics"),
    "orgs": ("orgs", "org"),
    "academicSessions": ("academicSessions", "academicSession"),
    "courses": ("courses", "course"),
    "classes": ("classes", "class"),
    "enrollments": ("enrollments", "enrollment"),
}


def rows_of(ctx: Context, kind: str):
    """The grants' rows of one kind: the base every filter narrows."""
    scope = ctx.scope
    if kind == DISTRICT:
        return District.objects.filter(pk=scope.viewer.district_id)
    return {
        STUDENT: scope.students,
        TEACHER: scope.teachers,
        SCHOOL: scope.schools,
        SESSION: scope.academic_sessions,
        COURSE: scope.courses,
        CLASS: scope.sections,
        ENROLLMENT: scope.enrollments,
        TEACHING: scope.teaching,
    }[kind]()


def find(ctx: Context, kind: str, sourced_id: str, rows=None):
    """The row of ``kind`` with this sourcedId among the grants' rows, else 404."""
    rows = rows_of(ctx, kind) if rows is None else rows
    spec = next(f for f in RESOURCE_FIELDS[RESOURCE_OF_KIND[kind]] if f.name == "sourcedId")
    row = rows.annotate(or_sid=spec.sources[kind](ctx)).filter(or_sid=sourced_id).first()
    if row is None:
        raise unknown_object()
    return row


@dataclass
class Plan:
    """The sources of one request's rows; a student whose enrollment the answer
    discloses (``/students/{id}/classes``); and what being on the list tells of each
    student it names (a class's students: their enrollment; a school's: their school)."""

    sources: list[Source]
    student_id: int | None = None
    discloses: frozenset[str] = frozenset()


def plain(*kinds: str, **filters: Q) -> Callable[[Context, dict], Plan]:
    """Sources of the given kinds, each optionally narrowed by a Q (keyed by kind)."""

    def plan(ctx: Context, kwargs: dict) -> Plan:
        sources = []
        for kind in kinds:
            rows = rows_of(ctx, kind)
            if kind in filters:
                rows = rows.filter(filters[kind])
            sources.append(Source(kind, rows, whole_reach=kind == STUDENT and kind not in filters))
        return Plan(sources)

    return plan


def _demographics(ctx: Context, kwargs: dict) -> Plan:
    rows = rows_of(ctx, STUDENT).filter(ctx.scope.readable(Category.DEMOGRAPHICS))
    return Plan([Source(STUDENT, rows)])


def _class_at(ctx: Context, kwargs: dict):
    rows = rows_of(ctx, CLASS)
    if "school_id" in kwargs:
        rows = rows.filter(school=find(ctx, SCHOOL, kwargs["school_id"]))
    return find(ctx, CLASS, kwargs["class_id"], rows)


def _class_students(ctx: Context, kwargs: dict) -> Plan:
    section = _class_at(ctx, kwargs)
    enrolled = ctx.scope.enrollments().filter(section=section).values("student_id")
    rows = rows_of(ctx, STUDENT).filter(pk__in=enrolled)
    return Plan([Source(STUDENT, rows)], discloses=frozenset({Category.ENROLLMENT}))


def _class_teachers(ctx: Context, kwargs: dict) -> Plan:
    section = _class_at(ctx, kwargs)
    teaching = ctx.scope.teaching().filter(section=section).values("teacher_id")
    return Plan([Source(TEACHER, rows_of(ctx, TEACHER).filter(pk__in=teaching))])


def _class_enrollments(ctx: Context, kwargs: dict) -> Plan:
    section = _class_at(ctx, kwargs)
    return Plan(
        [
            Source(ENROLLMENT, rows_of(ctx, ENROLLMENT).filter(section=section)),
            Source(TEACHING, rows_of(ctx, TEACHING).filter(section=section)),
        ]
    )


def _course_classes(ctx: Context, kwargs: dict) -> Plan:
    course = find(ctx, COURSE, kwargs["course_id"])
    return Plan([Source(CLASS, rows_of(ctx, CLASS).filter(course=course))])


def _school_classes(ctx: Context, kwargs: dict) -> Plan:
    school = find(ctx, SCHOOL, kwargs["school_id"])
    return Plan([Source(CLASS, rows_of(ctx, CLASS).filter(school=school))])


def _school_courses(ctx: Context, kwargs: dict) -> Plan:
    school = find(ctx, SCHOOL, kwargs["school_id"])
    taught = rows_of(ctx, CLASS).filter(school=school).values("course_id")
    return Plan([Source(COURSE, rows_of(ctx, COURSE).filter(pk__in=taught))])


def _school_enrollments(ctx: Context, kwargs: dict) -> Plan:
    school = find(ctx, SCHOOL, kwargs["school_id"])
    at_school = {"section__school": school, "section__district_id": ctx.district.pk}
    return Plan(
        [
            Source(ENROLLMENT, rows_of(ctx, ENROLLMENT).filter(**at_school)),
            Source(TEACHING, rows_of(ctx, TEACHING).filter(**at_school)),
        ]
    )


def _school_students(ctx: Context, kwargs: dict) -> Plan:
    """A school's students: its current members, among those whose school the provider
    may read (a directory field: designated, not opted out of)."""
    school = find(ctx, SCHOOL, kwargs["school_id"])
    scope = ctx.scope
    members = scope.students().filter(
        scope.current_enrollment_q("memberships__"),
        memberships__school=school,
        memberships__district_id=ctx.district.pk,  # the joined table in the district too
    )
    rows = rows_of(ctx, STUDENT).filter(
        Q(pk__in=members.values("pk")) & scope.readable(Category.DIRECTORY, "school")
    )
    return Plan([Source(STUDENT, rows)], discloses=frozenset({Category.DIRECTORY}))


def _school_teachers(ctx: Context, kwargs: dict) -> Plan:
    school = find(ctx, SCHOOL, kwargs["school_id"])
    teaching = (
        ctx.scope.teaching()
        .filter(section__school=school, section__district_id=ctx.district.pk)
        .values("teacher_id")
    )
    return Plan([Source(TEACHER, rows_of(ctx, TEACHER).filter(pk__in=teaching))])


def _school_terms(ctx: Context, kwargs: dict) -> Plan:
    # Sessions are the district's calendar: every school keeps the district's terms.
    find(ctx, SCHOOL, kwargs["school_id"])
    return Plan([Source(SESSION, rows_of(ctx, SESSION).filter(kind="term"))])


def _student_classes(ctx: Context, student) -> Plan:
    enrolled = ctx.scope.enrollments().filter(student=student).values("section_id")
    return Plan([Source(CLASS, rows_of(ctx, CLASS).filter(pk__in=enrolled))], student.pk)


def _teacher_classes(ctx: Context, teacher) -> Plan:
    taught = ctx.scope.teaching().filter(teacher=teacher).values("section_id")
    return Plan([Source(CLASS, rows_of(ctx, CLASS).filter(pk__in=taught))])


def _students_classes(ctx: Context, kwargs: dict) -> Plan:
    return _student_classes(ctx, find(ctx, STUDENT, kwargs["student_id"]))


def _teachers_classes(ctx: Context, kwargs: dict) -> Plan:
    return _teacher_classes(ctx, find(ctx, TEACHER, kwargs["teacher_id"]))


def _users_classes(ctx: Context, kwargs: dict) -> Plan:
    sourced = kwargs["user_id"]
    student = rows_of(ctx, STUDENT).filter(sourced_id=sourced).first()
    if student is not None:
        return _student_classes(ctx, student)
    return _teacher_classes(ctx, find(ctx, TEACHER, sourced))


def _term_classes(ctx: Context, kwargs: dict) -> Plan:
    term = find(ctx, SESSION, kwargs["term_id"], rows_of(ctx, SESSION).filter(kind="term"))
    return Plan([Source(CLASS, rows_of(ctx, CLASS).filter(term=term))])


def _term_grading_periods(ctx: Context, kwargs: dict) -> Plan:
    term = find(ctx, SESSION, kwargs["term_id"], rows_of(ctx, SESSION).filter(kind="term"))
    rows = rows_of(ctx, SESSION).filter(kind="gradingPeriod", parent=term)
    return Plan([Source(SESSION, rows)])


@dataclass(frozen=True)
class Endpoint:
    route: str  # the path below the version root, Django path syntax
    name: str
    resource: str
    kinds: frozenset[str]
    plan: Callable[[Context, dict], Plan]
    scopes: frozenset[str] = READ
    single: bool = False
    summary: str = ""

    @property
    def keys(self) -> tuple[str, str]:
        return KEYS[self.resource]


def _collection(name, resource, kinds, plan, summary, scopes=READ):
    single_route = f"{name}/<str:sourced_id>"
    return [
        Endpoint(name, name, resource, frozenset(kinds), plan, scopes, summary=summary),
        Endpoint(
            single_route,
            f"{name}-one",
            resource,
            frozenset(kinds),
            plan,
            scopes,
            single=True,
            summary=summary.replace("All ", "One of the ").rstrip("."),
        ),
    ]


_TERM, _GRADING = Q(kind="term"), Q(kind="gradingPeriod")
DEMOGRAPHIC_SCOPES = frozenset({DEMOGRAPHICS})
NESTED = frozenset({ROSTER})

ENDPOINTS: tuple[Endpoint, ...] = (
    *_collection(
        "academicSessions", "academicSessions", [SESSION], plain(SESSION), "All academic sessions."
    ),
    *_collection("classes", "classes", [CLASS], plain(CLASS), "All classes."),
    *_collection("courses", "courses", [COURSE], plain(COURSE), "All courses."),
    *_collection(
        "demographics",
        "demographics",
        [STUDENT],
        _demographics,
        "All students' demographics.",
        DEMOGRAPHIC_SCOPES,
    ),
    *_collection(
        "enrollments",
        "enrollments",
        [ENROLLMENT, TEACHING],
        plain(ENROLLMENT, TEACHING),
        "All enrollments.",
    ),
    *_collection(
        "gradingPeriods",
        "academicSessions",
        [SESSION],
        plain(SESSION, session=_GRADING),
        "All grading periods.",
    ),
    *_collection("orgs", "orgs", [DISTRICT, SCHOOL], plain(DISTRICT, SCHOOL), "All orgs."),
    *_collection("schools", "orgs", [SCHOOL], plain(SCHOOL), "All schools."),
    *_collection("students", "users", [STUDENT], plain(STUDENT), "All students."),
    *_collection("teachers", "users", [TEACHER], plain(TEACHER), "All teachers."),
    *_collection(
        "terms", "academicSessions", [SESSION], plain(SESSION, session=_TERM), "All terms."
    ),
    *_collection("users", "users", [STUDENT, TEACHER], plain(STUDENT, TEACHER), "All users."),
    Endpoint(
        "classes/<str:class_id>/students",
        "class-students",
        "users",
        frozenset({STUDENT}),
        _class_students,
        NESTED,
        summary="The students of a class.",
    ),
    Endpoint(
        "classes/<str:class_id>/teachers",
        "class-teachers",
        "users",
        frozenset({TEACHER}),
        _class_teachers,
        NESTED,
        summary="The teachers of a class.",
    ),
    Endpoint(
        "courses/<str:course_id>/classes",
        "course-classes",
        "classes",
        frozenset({CLASS}),
        _course_classes,
        NESTED,
        summary="The classes of a course.",
    ),
    Endpoint(
        "schools/<str:school_id>/classes",
        "school-classes",
        "classes",
        frozenset({CLASS}),
        _school_classes,
        NESTED,
        summary="The classes of a school.",
    ),
    Endpoint(
        "schools/<str:school_id>/classes/<str:class_id>/enrollments",
        "school-class-enrollments",
        "enrollments",
        frozenset({ENROLLMENT, TEACHING}),
        _class_enrollments,
        NESTED,
        summary="The enrollments of a class of a school.",
    ),
    Endpoint(
        "schools/<str:school_id>/classes/<str:class_id>/students",
        "school-class-students",
        "users",
        frozenset({STUDENT}),
        _class_students,
        NESTED,
        summary="The students of a class of a school.",
    ),
    Endpoint(
        "schools/<str:school_id>/classes/<str:class_id>/teachers",
        "school-class-teachers",
        "users",
        frozenset({TEACHER}),
        _class_teachers,
        NESTED,
        summary="The teachers of a class of a school.",
    ),
    Endpoint(
        "schools/<str:school_id>/courses",
        "school-courses",
        "courses",
        frozenset({COURSE}),
        _school_courses,
        NESTED,
        summary="The courses taught at a school.",
    ),
    Endpoint(
        "schools/<str:school_id>/enrollments",
        "school-enrollments",
        "enrollments",
        frozenset({ENROLLMENT, TEACHING}),
        _school_enrollments,
        NESTED,
        summary="The enrollments of a school.",
    ),
    Endpoint(
        "schools/<str:school_id>/students",
        "school-students",
        "users",
        frozenset({STUDENT}),
        _school_students,
        NESTED,
        summary="The students of a school.",
    ),
    Endpoint(
        "schools/<str:school_id>/teachers",
        "school-teachers",
        "users",
        frozenset({TEACHER}),
        _school_teachers,
        NESTED,
        summary="The teachers of a school.",
    ),
    Endpoint(
        "schools/<str:school_id>/terms",
        "school-terms",
        "academicSessions",
        frozenset({SESSION}),
        _school_terms,
        NESTED,
        summary="The terms of a school.",
    ),
    Endpoint(
        "students/<str:student_id>/classes",
        "student-classes",
        "classes",
        frozenset({CLASS}),
        _students_classes,
        NESTED,
        summary="The classes of a student.",
    ),
    Endpoint(
        "teachers/<str:teacher_id>/classes",
        "teacher-classes",
        "classes",
        frozenset({CLASS}),
        _teachers_classes,
        NESTED,
        summary="The classes of a teacher.",
    ),
    Endpoint(
        "terms/<str:term_id>/classes",
        "term-classes",
        "classes",
        frozenset({CLASS}),
        _term_classes,
        NESTED,
        summary="The classes of a term.",
    ),
    Endpoint(
        "terms/<str:term_id>/gradingPeriods",
        "term-grading-periods",
        "academicSessions",
        frozenset({SESSION}),
        _term_grading_periods,
        NESTED,
        summary="The grading periods of a term.",
    ),
    Endpoint(
        "users/<str:user_id>/classes",
        "user-classes",
        "classes",
        frozenset({CLASS}),
        _users_classes,
        NESTED,
        summary="The classes of a user.",
    ),
)
