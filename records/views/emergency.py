"""Break-glass: a staff member's request for emergency access, and the review queue.

``/emergency/`` is for school staff and teachers (anyone else signed in: 403);
``/district/reviews/`` for principals and district administrators. Grants and their
reviews are decided by ``access.emergency``; the queue names students only as the
reviewer may see them, and records those reads in the access log.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access import emergency
from access.audit import reads_of_page, record_reads
from access.models import EmergencyAccess
from records.views.gates import gated_pages

GRANTS_PER_PAGE = 25
SHOW_CHOICES = {
    "open": gettext_lazy("To review"),
    "reviewed": gettext_lazy("Reviewed"),
    "all": gettext_lazy("All"),
}


class EmergencyForm(forms.Form):
    identifier = forms.CharField(
        label=gettext_lazy("Student's state or local ID"),
        max_length=64,
        help_text=gettext_lazy("The ID exactly as it appears on the student's records."),
    )
    reason = forms.CharField(
        label=gettext_lazy("What is the emergency?"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=emergency.REASON_MAX,
        help_text=gettext_lazy(
            "Describe the threat to the student's or others' health or safety. "
            "Your principal and the district will read it."
        ),
    )
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I understand that this access lasts 24 hours, that every read is recorded and "
            "shown to the family as a disclosure, and that it will be reviewed."
        )
    )


class ReviewForm(forms.Form):
    note = forms.CharField(required=False, max_length=emergency.REASON_MAX)


# School staff and teachers may ask; principals and district admins review; others: 403.
_requesters_only = gated_pages(emergency.may_request, PermissionDenied)
_reviewers_only = gated_pages(emergency.may_review, PermissionDenied)


@_requesters_only(methods=("GET", "HEAD", "POST"))
def request_emergency(request):
    """``/emergency/``: 24 hours of access to one student, for a written reason."""
    viewer = request.viewer
    # An empty POST is still a submission: it must answer 400 with errors, not a blank form.
    form = EmergencyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            grant = emergency.request_access(
                viewer,
                identifier=form.cleaned_data["identifier"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as refused:
            for field, errors in refused.message_dict.items():
                form.add_error(field, errors)
        else:
            until = timezone.localtime(grant.expires_at, viewer.district.zone)
            messages.success(
                request,
                _("Emergency access granted until %(time)s on %(date)s.")
                % {"time": date_format(until, "TIME_FORMAT"), "date": date_format(until.date())},
            )
            return redirect("records:student", student_id=grant.student_id)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "records/staff/emergency.html", {"form": form}, status=status)


@_reviewers_only
def review_queue(request):
    """``/district/reviews/``: emergency access waiting for review (or reviewed, or all)."""
    viewer = request.viewer
    show = request.GET.get("show") if request.GET.get("show") in SHOW_CHOICES else "open"
    grants = emergency.reviewable(viewer)
    if show == "open":
        grants = grants.filter(reviewed_at__isnull=True)
    elif show == "reviewed":
        grants = grants.filter(reviewed_at__isnull=False)
    page = Paginator(grants, GRANTS_PER_PAGE).get_page(request.GET.get("page"))
    items = list(page.object_list)
    names, shown = emergency.queue_names(viewer, items)
    record_reads(viewer, reads_of_page(shown))
    now = timezone.now()
    context = {
        "page": page,
        "show": show,
        "tabs": [
            {"key": key, "label": label, "url": "?" + urlencode({"show": key})}
            for key, label in SHOW_CHOICES.items()
        ],
        "grants": [_item(grant, names.get(grant.student_id), now, viewer) for grant in items],
        "query": urlencode({"show": show}),
        "zone": viewer.district.zone,
    }
    return render(request, "records/staff/reviews.html", context)


def _item(grant: EmergencyAccess, directory: dict | None, now, viewer) -> dict:
    requester = grant.requested_by
    reviewer = grant.reviewed_by
    return {
        "id": grant.pk,
        "student_id": grant.student_id if directory else None,
        "student": _student_name(directory) if directory else _("A student who has left"),
        "requested_by": requester.get_full_name() or requester.username,
        # A student the reviewer may not name (a custody order on them) shows no reason.
        "reason": grant.reason if directory else "",
        "granted_at": grant.granted_at,
        "expires_at": grant.expires_at,
        "active": grant.expires_at > now,
        "reviewed_at": grant.reviewed_at,
        "reviewed_by": (reviewer.get_full_name() or reviewer.username) if reviewer else "",
        "review_note": grant.review_note,
        "own": grant.requested_by_id == viewer.user.pk,
    }


def _student_name(directory: dict) -> str:
    given = directory.get("preferred_name") or directory.get("given_name") or ""
    return f"{given} {directory.get('family_name') or ''}".strip() or _("Student")


@_reviewers_only(methods=("POST",))
def mark_reviewed(request, grant_id: int):
    """``/district/reviews/<id>/``: mark one emergency access reviewed, with a note."""
    viewer = request.viewer
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(reverse("records:reviews"))
    try:
        emergency.mark_reviewed(viewer, grant_id, note=form.cleaned_data["note"])
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
    else:
        messages.success(request, _("Marked reviewed."))
    back = request.POST.get("show") if request.POST.get("show") in SHOW_CHOICES else "open"
    return redirect(reverse("records:reviews") + "?" + urlencode({"show": back}))
