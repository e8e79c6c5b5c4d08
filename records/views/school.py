"""A school official's sections and staff: ``/school/sections/``, one section's page,
and ``/school/staff/``.

The same people as ``/school/`` (school officials and district administrators; anyone
else signed in: 403; an anonymous visitor signs in first). Sections, rosters and staff
come from ``access.school``; a section's page records the students it showed in the
access log. Only opaque ids are in URLs.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from access.audit import reads_of_page, record_reads
from access.categories import Category
from access.school import (
    official_school_ids,
    official_schools,
    school_section,
    school_sections,
    section_students,
)
from access.scoping import Allowed, allowed_for
from access.staff import as_school_official, has_school_view, may_see_attendance
from access.substitutes import (
    assign_substitute,
    end_assignment,
    may_manage_substitutes,
    section_substitutes,
)
from accounts import selectors as accounts_selectors
from records import selectors
from records.models import SubstituteAssignment
from records.views import reasons
from records.views.gates import gated_pages
from records.views.staff import _row, school_rows

SECTIONS_PER_PAGE = 50
STAFF_PER_PAGE = 50


# Signed in as a school official or district administrator; anyone else: 403.
_school_officials_only = gated_pages(has_school_view, PermissionDenied)


class SubstituteForm(forms.Form):
    """Who covers a section, and from when to when (both days included)."""

    substitute = forms.CharField(
        label=_("Substitute's username or email"),
        max_length=254,
        help_text=_("They must hold a teacher role in the district."),
    )
    begin_date = forms.DateField(
        label=_("First day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end_date = forms.DateField(
        label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def describe_errors(self) -> None:
        """Tie each input to its hint and errors, so a screen reader reads them."""
        for name, field in self.fields.items():
            described = [f"{name}-hint"] if field.help_text else []
            if name in self.errors:
                described.append(f"{name}-errors")
                field.widget.attrs["aria-invalid"] = "true"
            if described:
                field.widget.attrs["aria-describedby"] = " ".join(described)


class SchoolFilter(forms.Form):
    """One of the viewer's schools, or all of them: plain GET, no JavaScript needed."""

    school = forms.TypedChoiceField(label=_("School"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, schools, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["school"].choices = [
            ("", _("All schools")),
            *((school.pk, school.name) for school in schools),
        ]


def _filtered(request, schools) -> tuple[SchoolFilter, int | None, str]:
    """The school filter, the school asked for (``None``: all; so is a bad value, which
    the form reports), and the query string to keep across pages."""
    form = SchoolFilter(request.GET or None, schools=schools)
    school_id = None
    if form.is_bound and form.is_valid():
        school_id = form.cleaned_data["school"]
    query = request.GET.copy()
    query.pop("page", None)
    return form, school_id, query.urlencode()


def _school_listing(request, listing, per_page: int):
    """A page of ``listing(viewer, school_id=…)`` under the school filter, and the
    context both list pages share."""
    viewer = request.viewer
    schools = list(official_schools(viewer))
    form, school_id, query = _filtered(request, schools)
    rows = listing(viewer, school_id=school_id)
    page = Paginator(rows, per_page).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "several_schools": len(schools) > 1,
        "page": page,
        "filtered": school_id is not None,
        "query": query,
    }
    return page, context


def _person(user) -> str:
    return user.get_full_name() or user.username


@_school_officials_only
def section_list(request):
    """``/school/sections/``: the sections of the viewer's schools this term, 50 a page."""
    page, context = _school_listing(request, school_sections, SECTIONS_PER_PAGE)
    context["sections"] = [
        {
            "section": section,
            "teachers": [_person(row.teacher) for row in section.current_teachers],
            "substitutes": [_person(a.substitute) for a in section.current_substitutes],
        }
        for section in page.object_list
    ]
    return render(request, "records/staff/sections.html", context)


@_school_officials_only
def section_detail(request, section_id: int):
    """``/school/sections/<id>/``: one section of the viewer's schools, its substitutes,
    and its roster as the school official sees it; every student shown is recorded in
    the access log."""
    section = school_section(request.viewer, section_id)
    return _section_page(request, section, SubstituteForm())


def _section_page(request, section, substitute_form: SubstituteForm, *, status: int = 200):
    viewer = request.viewer
    rows, shown = _section_roster_rows(viewer, section)
    record_reads(viewer, reads_of_page(shown))
    manages = may_manage_substitutes(viewer, section)
    substitute_form.describe_errors()
    context = {
        "section": section,
        "teachers": [_person(row.teacher) for row in section.current_teachers],
        "rows": [_row(row) for row in rows],
        "shows_attendance": may_see_attendance(viewer),
        "manages_substitutes": manages,
        "substitutes": [
            {
                "id": a.pk,
                "name": _person(a.substitute),
                "username": a.substitute.username,
                "begin_date": a.begin_date,
                "end_date": a.end_date,
                "active": a.begin_date <= viewer.today <= a.end_date,
            }
            for a in (section_substitutes(viewer, section) if manages else ())
        ],
        "substitute_form": substitute_form,
    }
    return render(request, "records/staff/section.html", context, status=status)


@_school_officials_only(methods=("POST",))
def substitute_assign(request, section_id: int):
    """``POST /school/sections/<id>/substitutes/``: assign a substitute for some days."""
    viewer = request.viewer
    section = school_section(viewer, section_id)
    if not may_manage_substitutes(viewer, section):
        raise PermissionDenied
    form = SubstituteForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            assignment = assign_substitute(
                viewer,
                section,
                who=data["substitute"],
                begin=data["begin_date"],
                end=data["end_date"],
            )
        except ValidationError as refused:
            for field, errors in refused.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                _("%(name)s covers this class from %(start)s to %(end)s.")
                % {
                    "name": _person(assignment.substitute),
                    "start": date_format(assignment.begin_date),
                    "end": date_format(assignment.end_date),
                },
            )
            return redirect(reverse("records:school-section", args=[section.pk]) + "#substitutes")
    return _section_page(request, section, form, status=400)


@_school_officials_only(methods=("POST",))
def substitute_end(request, section_id: int, assignment_id: int):
    """``POST /school/sections/<id>/substitutes/<a>/end/``: withdraw an assignment now."""
    viewer = request.viewer
    section = school_section(viewer, section_id)
    if not may_manage_substitutes(viewer, section):
        raise PermissionDenied
    try:
        assignment = end_assignment(viewer, section, assignment_id)
    except SubstituteAssignment.DoesNotExist:
        raise Http404 from None
    messages.success(
        request,
        _("%(name)s no longer has access to this class.")
        % {"name": _person(assignment.substitute)},
    )
    return redirect(reverse("records:school-section", args=[section.pk]) + "#substitutes")


def _section_roster_rows(viewer, section) -> tuple[list[dict], dict[int, Allowed]]:
    """The section's roster as a school official sees it, projected like a row of
    ``/school/``, and what the page showed of each student (for the access log).

    Students come from ``access.school.section_students``. Being listed on a roster
    tells the student's enrollment, so the log records that too wherever the viewer may
    see it. A fixed number of queries.
    """
    official = as_school_official(viewer)
    students = section_students(viewer, section)
    if may_see_attendance(official):
        students = students.annotate(
            attendance_rate=selectors.attendance_rate_this_year(
                district_id=viewer.district_id, today=viewer.today
            )
        )
    students = list(students)
    rows, shown = school_rows(viewer, students)
    # A line without a name shows nothing of the student, as on a teacher's roster.
    rows = [row for row in rows if Category.DIRECTORY in row]
    allowed = allowed_for(official, students)
    shown = {row["id"]: _with_enrollment(shown[row["id"]], allowed[row["id"]]) for row in rows}
    return rows, shown


def _with_enrollment(shown: Allowed, allowed: Allowed) -> Allowed:
    categories = shown.categories | (allowed.categories & {Category.ENROLLMENT})
    return Allowed(categories, shown.program_kinds, shown.outside_school, shown.via)


@_school_officials_only
def staff_list(request):
    """``/school/staff/``: the active staff of the viewer's schools, their roles and the
    sections they teach this term, 50 a page."""
    page, context = _school_listing(request, _staff_of, STAFF_PER_PAGE)
    context["people"] = [_staff_row(request.viewer, user) for user in page.object_list]
    return render(request, "records/staff/staff.html", context)


def _staff_of(viewer, *, school_id):
    """The staff list of the schools access gives the viewer (or the one chosen of them)."""
    # The filter offers only the viewer's own schools.
    school_ids = [school_id] if school_id is not None else official_school_ids(viewer)
    return accounts_selectors.staff_list(
        district_id=viewer.district_id, school_ids=school_ids, today=viewer.today
    )


def _roles_by_place(user) -> list:
    """A fetched staff member's roles grouped by school (``None``: district-wide),
    district-wide roles first, then schools by name."""
    grouped: dict = {}
    for membership in user.current_roles:
        _, roles = grouped.setdefault(membership.school_id, (membership.school, []))
        roles.append(membership.role)
    return sorted(grouped.values(), key=lambda pair: pair[0] is not None)


def _staff_row(viewer, user) -> dict:
    return {
        "name": _person(user),
        "sort_name": ", ".join(part for part in (user.last_name, user.first_name) if part)
        or user.username,
        "email": user.email,
        "roles": [
            {
                "place": school.name if school is not None else viewer.district.name,
                "roles": ", ".join(reasons.role_name(role) for role in roles),
            }
            for school, roles in _roles_by_place(user)
        ],
        "sections": [row.section for row in user.current_sections],
    }
