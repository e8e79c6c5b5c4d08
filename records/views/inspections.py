"""The staff queue of families' requests to inspect records (FERPA 99.10).

District admins see their district's requests, principals and school admins those
of their school's students (``access.requests``); anyone else signed in gets 403,
and a request outside the viewer's queue answers 404 whether or not it exists.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from access.audit import reads_of_page, record_reads
from access.requests import (
    inspection_queue,
    inspection_request_for_review,
    may_review_inspections,
    queue_reads,
)
from records.models import InspectionRequest
from records.rights import inspection_request_close
from records.views.family_requests import PREFERENCE_NAMES, REQUEST_STATUS_NAMES

CLOSED_SHOWN = 25  # the most recently closed requests listed under the open ones


def _describe(item: InspectionRequest, today) -> dict:
    requester = item.requested_by
    return {
        "item": item,
        "student_name": item.student.display_name,
        "requested_by": (requester.get_full_name() or requester.get_username())
        if requester
        else "",
        "preference": PREFERENCE_NAMES.get(item.preference, item.preference),
        "status": REQUEST_STATUS_NAMES.get(item.status, item.status),
        "overdue": item.status == InspectionRequest.Status.OPEN and item.due_on < today,
    }


@never_cache
@login_required
@require_safe
def inspection_list(request):
    """``/district/inspections/``: open requests by due date, overdue ones marked."""
    viewer = request.viewer
    if not may_review_inspections(viewer):
        raise PermissionDenied
    queue = inspection_queue(viewer)
    open_items = list(queue.filter(status=InspectionRequest.Status.OPEN))
    closed_items = list(
        queue.exclude(status=InspectionRequest.Status.OPEN).order_by("-closed_at", "-id")[
            :CLOSED_SHOWN
        ]
    )
    record_reads(viewer, reads_of_page(queue_reads(viewer, open_items + closed_items)))
    today = viewer.today
    context = {
        "open_items": [_describe(item, today) for item in open_items],
        "closed_items": [_describe(item, today) for item in closed_items],
        "overdue_count": sum(1 for item in open_items if item.due_on < today),
    }
    return render(request, "records/inspections/list.html", context)


class CloseRequestForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Outcome"),
        choices=[
            (
                InspectionRequest.Status.FULFILLED,
                _("Fulfilled: the family has reviewed the records"),
            ),
            (InspectionRequest.Status.DECLINED, _("Declined")),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Note to the family"),
        help_text=_("What was shown or sent, or why the request was declined."),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def inspection_detail(request, request_id: int):
    """``/district/inspections/<id>/``: one request, and closing it with a note."""
    viewer = request.viewer
    if not may_review_inspections(viewer):
        raise PermissionDenied
    item = inspection_request_for_review(viewer, request_id)
    is_open = item.status == InspectionRequest.Status.OPEN
    form = CloseRequestForm(request.POST or None) if is_open else None
    if request.method == "POST":
        if form is None:
            messages.error(request, _("This request is already closed."))
            return redirect("records:inspection-detail", request_id=item.pk)
        if form.is_valid():
            try:
                inspection_request_close(
                    actor=viewer.user,
                    district_id=viewer.district_id,
                    request_id=item.pk,
                    status=form.cleaned_data["status"],
                    note=form.cleaned_data["note"],
                )
            except ValidationError:
                messages.error(request, _("This request is already closed."))
            else:
                messages.success(
                    request, _("The request is closed. The family can see the outcome.")
                )
            return redirect("records:inspection-detail", request_id=item.pk)
    record_reads(viewer, reads_of_page(queue_reads(viewer, [item])))
    context = {"entry": _describe(item, viewer.today), "form": form}
    return render(request, "records/inspections/detail.html", context)
