"""Staff pages: a school official's list of their school's students, and a student's page.

Every student read goes through ``access.staff`` and is recorded in the access log.
``/school/`` is for school officials and district administrators (anyone else signed
in: 403); ``/students/<id>/`` for any staff member who reaches the student (anyone
else: 404, alike for a student who does not exist). An anonymous visitor signs in first.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from access import emergency
from access.audit import reads_of_page, record_reads
from access.categories import Category
from access.models import EmergencyAccess
from access.projection import project_students
from access.purposes import DETAIL_MAX, PURPOSE_CHOICES, Purpose, declare_purpose, declared_purpose
from access.scoping import Allowed, StudentAccess, allowed_for, record_id
from access.staff import (
    as_school_official,
    has_school_view,
    may_list_readers,
    may_search_identifiers,
    may_see_attendance,
    staff_student,
    staff_students,
    visible_programs,
    who_can_see,
    why_visible,
)
from records import selectors
from records.models import GradeLevel
from records.views import reasons
from records.views.family import CATEGORY_NAMES, PROGRAM_NAMES, _grade_name, _name, _sections

STUDENTS_PER_PAGE = 50


class SchoolSearch(forms.Form):
    """The search and filters of ``/school/``: plain GET, so it works without JavaScript."""

    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    grade = forms.ChoiceField(label=_("Grade"), required=False)
    program = forms.ChoiceField(label=_("Program"), required=False)
    attendance_below = forms.IntegerField(
        label=_("Attendance below (%)"), required=False, min_value=1, max_value=100
    )

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].help_text = (
            _("A name, or a state or local student ID")
            if may_search_identifiers(viewer)
            else _("A given, family or preferred name")
        )
        self.fields["grade"].choices = [
            ("", _("All grades")),
            *((code, _grade_name(code)) for code in GradeLevel.values),
        ]
        self.fields["program"].choices = [
            ("", _("All students")),
            *((kind, PROGRAM_NAMES.get(kind, kind)) for kind in visible_programs(viewer)),
        ]
        if not may_see_attendance(viewer):
            del self.fields["attendance_below"]


@never_cache
@login_required
@require_safe
def school_students(request):
    """``/school/``: the students of the viewer's schools, searched and filtered, 50 a page."""
    viewer = request.viewer
    if not has_school_view(viewer):
        raise PermissionDenied
    form = SchoolSearch(request.GET or None, viewer=viewer)
    filters = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = {
            "query": data["q"].strip() or None,
            "grade": data["grade"] or None,
            "program": data["program"] or None,
            "attendance_below": data.get("attendance_below"),
        }
    students = staff_students(viewer, **filters)
    page = Paginator(students, STUDENTS_PER_PAGE).get_page(request.GET.get("page"))
    rows, shown = school_rows(viewer, list(page.object_list))
    record_reads(viewer, reads_of_page(shown))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": [_row(row) for row in rows],
        "shows_attendance": may_see_attendance(viewer),
        "filtered": any(value not in (None, "") for value in filters.values()),
        "query": query.urlencode(),
    }
    return render(request, "records/staff/school.html", context)


def _local(moment, viewer) -> str:
    """A moment as the district's clock shows it, e.g. "14:02 on 30 November 2026"."""
    local = timezone.localtime(moment, viewer.district.zone)
    return _("%(time)s on %(date)s") % {
        "time": date_format(local, "TIME_FORMAT"),
        "date": date_format(local.date()),
    }


def _row(row: dict) -> dict:
    directory = row.get("directory") or {}
    schools = directory.get("schools") or []
    attendance = row.get("attendance")
    return {
        "id": row["id"],
        "name": _name(row),
        "sort_name": ", ".join(
            part for part in (directory.get("family_name"), directory.get("given_name")) if part
        ),
        "preferred_name": directory.get("preferred_name"),
        "grade": _grade_name(directory.get("grade_level") or ""),
        "school": ", ".join(school["name"] for school in schools),
        "shows_attendance": attendance is not None,
        "rate": attendance.get("rate_percent") if attendance else None,
    }


# What a row of the school list shows of a student, and so what its read records.
LIST_CATEGORIES = frozenset({Category.DIRECTORY, Category.ATTENDANCE})


def school_rows(viewer, students) -> tuple[list[dict], dict[int, Allowed]]:
    """One page of the school list projected to what a row shows, and what it showed of
    each student (for the access log). A fixed number of queries, whatever the page."""
    official = as_school_official(viewer)
    allowed = allowed_for(official, students)
    shown = {pk: a.narrowed(LIST_CATEGORIES) for pk, a in allowed.items()}
    shown = {pk: a for pk, a in shown.items() if a.categories}
    rows = project_students(official, [s for s in students if s.pk in shown], shown)
    rates = {s.pk: getattr(s, "attendance_rate", None) for s in students}
    for row in rows:
        if Category.ATTENDANCE in row:
            row[Category.ATTENDANCE]["rate_percent"] = rates.get(row["id"])
    return rows, shown


@dataclass(frozen=True)
class StaffRecord:
    """A student's page for a staff member: what it shows, and what it keeps closed."""

    access: StudentAccess
    shown: Allowed  # what the page shows, and so what its read records
    record: dict
    term: tuple | None  # the current term's dates, where attendance shows
    closed: frozenset[str]  # sensitive categories waiting for a declared purpose
    declared: Purpose | None  # the purpose declared for this student this session
    emergency: EmergencyAccess | None  # the break-glass grant this page is read under

    @property
    def purpose(self) -> str:
        """What the access log records as the purpose ("" = the roles' own). A read under
        break-glass records the emergency's reasons whatever was declared
        (access.audit, 99.32(a)(5))."""
        return self.declared.log_text if self.declared is not None else ""


def _staff_record(viewer, student_id, *, session) -> StaffRecord:
    """A student's record as this staff member may see it.

    Sensitive categories (health, discipline, programs) stay closed until a purpose is
    declared for the student in this ``session`` (access/purposes.py); under emergency
    access the request's reason is the purpose.
    """
    pk = record_id(student_id)
    declared = declared_purpose(session, pk) if pk is not None else None
    access = staff_student(viewer, student_id, purpose=declared)
    grant = emergency.active_grant(viewer, pk) if "emergency" in access.allowed.via else None
    shown = access.allowed
    (record,) = project_students(viewer, [access.student], {pk: shown}, detail=True)
    term = None
    if Category.ATTENDANCE in shown.categories:
        term = selectors.current_term_bounds(district_id=viewer.district_id, today=viewer.today)
    return StaffRecord(access, shown, record, term, shown.withheld, declared, grant)


class PurposeForm(forms.Form):
    """Why a staff member opens a student's sensitive categories (access/purposes.py)."""

    purpose = forms.ChoiceField(
        label=_("Purpose"), choices=PURPOSE_CHOICES, widget=forms.RadioSelect
    )
    detail = forms.CharField(
        label=_("Describe the purpose"),
        required=False,
        max_length=DETAIL_MAX,
        help_text=_("Needed for “Other”."),
    )


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def student_record(request, student_id: int):
    """``/students/<id>/``: what the viewer's roles allow of one student, and why.

    Sensitive categories open once the viewer declares a purpose (POST here); the
    purpose is kept for the session and written to the access log with each read.
    """
    viewer = request.viewer
    form = PurposeForm()
    if request.method == "POST":
        access = staff_student(viewer, student_id)  # 404 before anything is kept
        form = PurposeForm(request.POST)
        if form.is_valid():
            try:
                declare_purpose(
                    request.session,
                    access.student.pk,
                    form.cleaned_data["purpose"],
                    form.cleaned_data["detail"],
                )
            except ValidationError as refused:
                for field, errors in refused.message_dict.items():
                    form.add_error(field, errors)
            else:
                return redirect(reverse("records:student", args=[access.student.pk]) + "#record")
    page = _staff_record(viewer, student_id, session=request.session)
    student = page.access.student
    record_reads(viewer, reads_of_page({student.pk: page.shown}, purpose=page.purpose))
    context = {
        "student_id": student.pk,
        "name": _name(page.record) or _("Student"),
        "record": page.record,
        "identifiers": page.record.get("identifiers"),
        "sections": _sections(page.record, viewer.today, page.term),
        "categories": [CATEGORY_NAMES[c] for c in Category.values if c in page.shown.categories],
        "closed": [CATEGORY_NAMES[c] for c in Category.values if c in page.closed],
        "purpose_form": form,
        "declared": page.declared,
        "emergency": page.emergency,
        "emergency_until": _local(page.emergency.expires_at, viewer) if page.emergency else None,
        "reasons": reasons.sentences(why_visible(viewer, student), zone=viewer.district.zone),
        "from_school": has_school_view(viewer),
        "may_list_readers": may_list_readers(viewer, student),
    }
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "records/staff/student.html", context, status=status)


@never_cache
@login_required
@require_safe
def student_readers(request, student_id: int):
    """``/students/<id>/readers/``: who can see this student, why, and what of them.

    For district administrators and the principals and school administrators of the
    student's school; other staff who reach the student get 403, anyone else 404.
    The page shows the student's name, and is recorded as a read of their directory.
    """
    viewer = request.viewer
    access = staff_student(viewer, student_id)
    if not may_list_readers(viewer, access.student):
        raise PermissionDenied
    shown = Allowed(
        access.categories & {Category.DIRECTORY},
        access.allowed.program_kinds,
        access.allowed.outside_school,
        access.allowed.via,
    )
    (record,) = project_students(viewer, [access.student], {access.student.pk: shown})
    readers = who_can_see(viewer, access.student)
    record_reads(viewer, reads_of_page({access.student.pk: shown}))
    context = {
        "student_id": access.student.pk,
        "name": _name(record) or _("Student"),
        "readers": [
            {
                **reader,
                "roles": [reasons.role_name(label) for label in reader["roles"]],
                "reasons": reasons.sentences(
                    reader["reasons"], zone=viewer.district.zone, of_another=True
                ),
                "categories": [CATEGORY_NAMES[c] for c in reader["categories"]],
            }
            for reader in readers
        ],
    }
    return render(request, "records/staff/readers.html", context)
