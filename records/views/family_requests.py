"""A family's FERPA requests: directory-information choices (99.37) and requests to
inspect records not shown online (99.10).

Only the holder of the child's rights reaches these pages (``access.family``): a
parent or guardian of a child who is not yet an eligible student, or the eligible
student themself. Each page shows the child's name, and records that read.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from access.audit import reads_of_page, record_reads
from access.family import designated_directory_fields, family_rights_child
from access.scoping import Allowed, StudentAccess
from records.models import DirectoryOptOut, InspectionRequest
from records.rights import (
    directory_opt_out_list,
    directory_opt_outs_set,
    inspection_request_create,
    inspection_request_list,
)
from records.views.family import family_pages

# Directory fields as a parent would name them.
DIRECTORY_FIELD_NAMES = {
    "given_name": _("First name"),
    "middle_name": _("Middle name"),
    "family_name": _("Last name"),
    "preferred_name": _("Preferred name"),
    "grade_level": _("Grade"),
    "enrollment_status": _("Whether enrolled"),
    "school": _("School"),
}
PREFERENCE_NAMES = {
    InspectionRequest.Preference.IN_PERSON: _("Review them in person at the school"),
    InspectionRequest.Preference.COPIES: _("Receive copies"),
}
REQUEST_STATUS_NAMES = {
    InspectionRequest.Status.OPEN: _("Open"),
    InspectionRequest.Status.FULFILLED: _("Fulfilled"),
    InspectionRequest.Status.DECLINED: _("Declined"),
}
ALL = DirectoryOptOut.ALL_FIELDS


def _first_name(child: StudentAccess) -> str:
    if "directory" not in child.categories:
        return ""
    return child.student.preferred_name or child.student.given_name


def _record_name_read(viewer, child: StudentAccess) -> None:
    if "directory" in child.categories:
        shown = Allowed(frozenset({"directory"}), None, False, child.allowed.via)
        record_reads(viewer, reads_of_page({child.student.pk: shown}))


class DirectoryChoicesForm(forms.Form):
    """A checkbox per designated field, ticked when the child is opted out of it."""

    opt_out_all = forms.BooleanField(
        label=_("Opt out of all directory information"),
        required=False,
        help_text=_(
            "Nothing is released as directory information, now or if the district adds "
            "fields later."
        ),
    )

    def __init__(self, *args, designated: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.designated = designated
        for name in designated:
            self.fields[f"opt_out_{name}"] = forms.BooleanField(
                label=DIRECTORY_FIELD_NAMES.get(name, name), required=False
            )

    def field_rows(self):
        return [self[f"opt_out_{name}"] for name in self.designated]

    def opted_out(self) -> set[str]:
        chosen = {name for name in self.designated if self.cleaned_data[f"opt_out_{name}"]}
        return chosen | ({ALL} if self.cleaned_data["opt_out_all"] else set())


@family_pages(methods=("GET", "HEAD", "POST"))
def directory_choices(request, student_id: int):
    """``/family/<id>/directory/``: what the district may release, and the family's opt-outs."""
    viewer = request.viewer
    child = family_rights_child(viewer, student_id)
    district_id, pk = viewer.district_id, child.student.pk
    designated = designated_directory_fields(viewer.district)
    current = directory_opt_out_list(district_id=district_id, student_id=pk)
    if request.method == "POST":
        form = DirectoryChoicesForm(request.POST, designated=designated)
        if form.is_valid():
            changes = directory_opt_outs_set(
                actor=viewer.user,
                district_id=district_id,
                student_id=pk,
                offered=[*designated, ALL],
                opted_out=form.opted_out(),
            )
            if changes:
                messages.success(request, _("Your choices are saved and apply from now on."))
            else:
                messages.info(request, _("Nothing changed."))
            return redirect("family:directory", student_id=pk)
    else:
        initial = {f"opt_out_{name}": name in current for name in designated}
        form = DirectoryChoicesForm(
            initial={**initial, "opt_out_all": ALL in current}, designated=designated
        )
    _record_name_read(viewer, child)
    rows = [
        {
            "label": DIRECTORY_FIELD_NAMES.get(name, name),
            "opted_out": name in current or ALL in current,
        }
        for name in designated
    ]
    context = {
        "child_id": pk,
        "first_name": _first_name(child),
        "form": form,
        "rows": rows,
        "all_opted_out": ALL in current,
    }
    return render(request, "records/family/directory.html", context)


class InspectionRequestForm(forms.Form):
    description = forms.CharField(
        label=_("Which records would you like to see?"),
        help_text=_("For example: the psychologist's evaluation from last spring."),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    preference = forms.ChoiceField(
        label=_("How would you like to review them?"),
        choices=list(PREFERENCE_NAMES.items()),
        widget=forms.RadioSelect,
    )


@family_pages(methods=("GET", "HEAD", "POST"))
def inspection_requests(request, student_id: int):
    """``/family/<id>/inspection/``: requests to inspect records, and a form for a new one."""
    viewer = request.viewer
    child = family_rights_child(viewer, student_id)
    pk = child.student.pk
    if request.method == "POST":
        form = InspectionRequestForm(request.POST)
        if form.is_valid():
            created = inspection_request_create(
                actor=viewer.user,
                district=viewer.district,
                student_id=pk,
                description=form.cleaned_data["description"],
                preference=form.cleaned_data["preference"],
            )
            messages.success(
                request,
                _("Your request is sent. The school must answer by %(date)s.")
                % {"date": date_format(created.due_on, "DATE_FORMAT")},
            )
            return redirect("family:inspection", student_id=pk)
    else:
        form = InspectionRequestForm()
    _record_name_read(viewer, child)
    items = [
        {
            "item": item,
            "preference": PREFERENCE_NAMES.get(item.preference, item.preference),
            "status": REQUEST_STATUS_NAMES.get(item.status, item.status),
            "by_you": item.requested_by_id == viewer.user.pk,
        }
        for item in inspection_request_list(district_id=viewer.district_id, student_id=pk)
    ]
    context = {
        "child_id": pk,
        "first_name": _first_name(child),
        "form": form,
        "items": items,
        "due_days": viewer.district.inspection_due_days,
    }
    return render(request, "records/family/inspection.html", context)
