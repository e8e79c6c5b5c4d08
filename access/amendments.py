"""Amendment requests (FERPA 99.20–99.22): who may ask, who may decide, who sees what.

A family member (guardian or eligible student) may ask to correct a field of their
child's record when they may see that field's category. District admins decide for
the whole district; principals and school admins for the students currently at their
school. Statements of disagreement travel with their field: a reader sees one only
when they may see its category. Every set is one SQL query naming the district.
"""

from __future__ import annotations

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import Http404

from access.categories import STUDENT_FIELDS, Category
from access.districts import as_records_officer, records_officer_routes
from access.scoping import StudentAccess, category_reach, one_by_id, reached_students
from access.viewer import RouteKind, Viewer
from records import selectors
from records.models import (
    AmendmentRequest,
    GuardianLink,
    active_on_q,
)

# The fields a family may ask to correct from the child page, with their category.
# "school" is not a student column: a correction of it is a record description that
# staff apply by hand, so accepting it changes no column.
CORRECTABLE_FIELDS: dict[str, str] = {
    **{
        name: STUDENT_FIELDS[name]
        for name in (
            "given_name",
            "middle_name",
            "family_name",
            "preferred_name",
            "grade_level",
            "enrollment_status",
            "address_line",
            "city",
            "state",
            "postal_code",
            "phone",
            "email",
            "birth_date",
            "home_language",
        )
    },
    "school": Category.DIRECTORY,
}


def is_student_column(field: str) -> bool:
    return field in STUDENT_FIELDS


# Record rows a family may ask to correct, named ``<table>:<row id>`` in ``field``
# (the health record, one per student, is named by its field: ``health:allergies``).
# Accepting such a request changes nothing here: the district corrects the row in its
# student information system and the next import brings the correction in.
ROW_TABLES: dict[str, str] = {
    "grade": Category.GRADES,
    "attendance": Category.ATTENDANCE,
    "assessment": Category.ASSESSMENTS,
    "program": Category.PROGRAMS,
    "health": Category.HEALTH,
    "discipline": Category.DISCIPLINE,
    "transportation": Category.TRANSPORTATION,
}
HEALTH_ROW_FIELDS = ("conditions", "allergies", "medications", "immunization_status")


def split_row_field(field: str) -> tuple[str, str] | None:
    """``("grade", "123")`` for ``"grade:123"``; None for anything not naming a row."""
    table, sep, key = (field or "").partition(":")
    if not sep or table not in ROW_TABLES:
        return None
    if table == "health":
        return (table, key) if key in HEALTH_ROW_FIELDS else None
    if not key.isascii() or not key.isdigit() or not 0 < int(key) < 2**63 or key[0] == "0":
        return None
    return table, key


def is_record_row(field: str) -> bool:
    return split_row_field(field) is not None


def row_field(table: str, key) -> str:
    return f"{table}:{key}"


def requestable_row(viewer: Viewer, child: StudentAccess, field: str) -> tuple[str, str] | None:
    """``(category, snapshot)`` when ``field`` names a row of ``child`` the family may see.

    The row must be the child's, in the viewer's district, in a category (and, for a
    program, a kind) the viewer may see; anything else is None, which callers answer
    with 404 alike. One query.
    """
    parsed = split_row_field(field)
    if parsed is None or viewer.district_id is None:
        return None
    table, key = parsed
    category = ROW_TABLES[table]
    if category not in child.categories:
        return None
    snapshot = selectors.record_row_text(
        district_id=viewer.district_id,
        student_id=child.student.pk,
        table=table,
        key=key,
        program_kinds=child.allowed.program_kinds,
    )
    return (str(category), snapshot) if snapshot is not None else None


def requestable_category(child: StudentAccess, field: str) -> str | None:
    """The field's category if the family viewer of ``child`` may ask to correct it."""
    category = CORRECTABLE_FIELDS.get(field)
    if category is None or category not in child.categories:
        return None
    return str(category)


def child_amendments(viewer: Viewer, child: StudentAccess) -> QuerySet[AmendmentRequest]:
    """The child's requests in categories the family viewer sees, newest first."""
    return (
        AmendmentRequest.unscoped.filter(
            district_id=viewer.district_id,
            student_id=child.student.pk,
            category__in=sorted(child.categories),
        )
        .select_related("statement")
        .order_by("-created_at", "-id")
    )


def child_amendment(viewer: Viewer, child: StudentAccess, amendment_id) -> AmendmentRequest:
    amendment = child_amendments(viewer, child).filter(pk=amendment_id).first()
    if amendment is None:
        raise Http404
    return amendment


def may_add_statement(viewer: Viewer, amendment: AmendmentRequest) -> bool:
    """Only the family: a current guardian with data access, or the eligible student."""
    if viewer.district_id is None or amendment.district_id != viewer.district_id:
        return False
    if amendment.status != AmendmentRequest.Status.REFUSED:
        return False
    own = viewer.route(RouteKind.ELIGIBLE_STUDENT)
    if own is not None and own.student_id == amendment.student_id:
        return True
    if viewer.route(RouteKind.GUARDIAN) is None:
        return False
    return (
        GuardianLink.unscoped.filter(
            district_id=viewer.district_id,
            guardian=viewer.user,
            student_id=amendment.student_id,
            has_data_access=True,
        )
        .filter(active_on_q(viewer.today))
        .exists()
    )


# Staff: the queue.


def may_decide_any(viewer: Viewer) -> bool:
    """Whether this viewer has an amendment queue at all."""
    return bool(records_officer_routes(viewer))


def amendment_queue(viewer: Viewer, *, status: str | None = None) -> QuerySet[AmendmentRequest]:
    """The requests this viewer may decide: open ones first, newest first; one query.

    A principal or school admin decides for students currently at their school, in
    the categories their role sees; a district admin for the whole district.
    """
    officer = as_records_officer(viewer)
    if not officer.routes:
        return AmendmentRequest.unscoped.none()
    requests = AmendmentRequest.unscoped.filter(district_id=viewer.district_id).filter(
        _decidable(officer)
    )
    if status:
        requests = requests.filter(status=status)
    return (
        requests.filter(student__district_id=viewer.district_id)
        .select_related("student", "requested_by", "decided_by", "statement")
        .annotate(
            waiting=Case(
                When(status=AmendmentRequest.Status.OPEN, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("waiting", "-created_at", "-id")
    )


def _decidable(officer: Viewer) -> Q:
    """Requests about a student the officer reaches through the same access decision as
    every page, in a category they may see of that student, whose name they may see."""
    by_categories: dict[frozenset[str], list] = {}
    for route in officer.routes:
        by_categories.setdefault(route.categories, []).append(route)
    named = Q(student_id__in=[])
    for categories, routes in by_categories.items():
        reach = officer.only(routes)
        students = reached_students(reach).filter(category_reach(reach, Category.DIRECTORY))
        named |= Q(category__in=sorted(categories), student_id__in=students.values("pk"))
    for student_id, hidden in officer.restrictions.items():
        named &= ~Q(student_id=student_id, category__in=sorted(hidden))
    return named


def amendment_for_decider(viewer: Viewer, amendment_id) -> AmendmentRequest:
    """One request of the viewer's queue; 404 alike for missing and not theirs."""
    return one_by_id(amendment_queue(viewer), amendment_id)


def decider_roles(viewer: Viewer) -> frozenset[str]:
    """The roles a decider reads through, for the access log."""
    return frozenset(route.label for route in as_records_officer(viewer).routes)


def current_value(viewer: Viewer, child: StudentAccess, field: str) -> str:
    """The field's value as text, for the request's snapshot (a field the caller has
    already checked with ``requestable_category``)."""
    return selectors.student_field_text(
        district_id=viewer.district_id, student=child.student, field=field, today=viewer.today
    )
