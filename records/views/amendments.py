"""Amendment requests (FERPA 99.20–99.22): the family asks, staff decide, the family may reply.

Family pages live under ``/family/<child>/corrections/``; the staff queue under
``/district/amendments/``. Who may do what is decided by ``access.amendments`` and
``access.family``; every page records the student data it shows in the access log.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from access.amendments import (
    amendment_for_decider,
    amendment_queue,
    child_amendment,
    child_amendments,
    current_value,
    decider_roles,
    is_record_row,
    is_student_column,
    may_add_statement,
    may_decide_any,
    requestable_category,
    requestable_row,
)
from access.audit import Read, record_reads
from access.family import (
    family_child,
    family_rights_child,
    has_family_portal,
    holds_family_rights,
)
from access.scoping import StudentAccess
from records.models import AmendmentRequest, GradeLevel, Student
from records.services import amendment_decide, amendment_request, disagreement_statement_add
from records.views.amendment_fields import field_name
from records.views.family import ENROLLMENT_NAMES, GRADE_NAMES, _grade_name, family_pages

REQUESTS_PER_PAGE = 25

STATUS_NAMES = {
    "open": _("Waiting for a decision"),
    "accepted": _("Corrected"),
    "refused": _("Not corrected"),
}


def shown_value(field: str, value: str) -> str:
    """A stored value as a reader would say it (grade and enrollment codes named)."""
    if not value:
        return "—"
    if field == "grade_level":
        return str(_grade_name(value))
    if field == "enrollment_status":
        return str(ENROLLMENT_NAMES.get(value, value))
    return value


def _first_name(child: StudentAccess) -> str:
    student = child.student
    if "directory" not in child.categories:
        return ""
    return student.preferred_name or student.given_name


def _log_family_read(viewer, child: StudentAccess, categories) -> None:
    categories = frozenset(categories) & child.categories
    if categories:
        read = Read((child.student.pk,), categories, child.allowed.via)
        record_reads(viewer, [read])


def _request_form_class(field: str):
    """The proposed value's input, shaped like the field so it can be applied as is."""
    if field == "birth_date":
        proposed = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    elif field == "grade_level":
        choices = [(code, _grade_name(code)) for code in _grade_codes()]
        proposed = forms.ChoiceField(choices=[("", "—"), *choices])
    elif field == "enrollment_status":
        proposed = forms.ChoiceField(choices=[("", "—"), *ENROLLMENT_NAMES.items()])
    elif field == "email":
        proposed = forms.EmailField(max_length=254)
    else:
        limit = Student._meta.get_field(field).max_length if is_student_column(field) else 200
        proposed = forms.CharField(max_length=limit)
    proposed.label = _("The correct value")

    class CorrectionForm(forms.Form):
        proposed_value = proposed
        reason = forms.CharField(
            label=_("Why is the record wrong?"),
            max_length=2000,
            widget=forms.Textarea(attrs={"rows": 4}),
        )

    return CorrectionForm


def _grade_codes() -> list[str]:
    return [code for code in GradeLevel.values if code in GRADE_NAMES or code.isdigit()]


@family_pages(methods=("GET", "HEAD", "POST"))
def correction_new(request, student_id: int):
    """``/family/<id>/corrections/new/?field=<name>``: ask for one field to be corrected."""
    viewer = request.viewer
    child = family_rights_child(viewer, student_id)  # 403 once the rights are the student's
    field = request.GET.get("field", "")
    if is_record_row(field):  # a record row: ``grade:123``, ``health:allergies``…
        found_row = requestable_row(viewer, child, field)
        if found_row is None:
            raise Http404
        category, now = found_row
    else:
        category = requestable_category(child, field)
        if category is None:
            raise Http404
        now = current_value(viewer, child, field)
    form = _request_form_class(field)(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            proposed = form.cleaned_data["proposed_value"]
            try:
                amendment_request(
                    actor=request.user,
                    student=child.student,
                    field=field,
                    category=category,
                    proposed_value=proposed.isoformat()
                    if hasattr(proposed, "isoformat")
                    else str(proposed),
                    reason=form.cleaned_data["reason"],
                    current_value=now,
                )
            except ValidationError as error:
                for name, messages in error.message_dict.items():
                    for message in messages:
                        form.add_error(name, message)
            else:
                return redirect(
                    reverse("family:corrections", kwargs={"student_id": child.student.pk})
                    + "?sent=1"
                )
        status = 400
    _log_family_read(viewer, child, {category, "directory"})
    context = {
        "child_id": child.student.pk,
        "first_name": _first_name(child),
        "field": field,
        "field_label": field_name(field),
        "current": shown_value(field, now),
        "is_record_row": is_record_row(field),
        "form": form,
    }
    return render(request, "records/family/correction_new.html", context, status=status)


class StatementForm(forms.Form):
    text = forms.CharField(
        label=_("Your statement of disagreement"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


def _describe(amendment: AmendmentRequest) -> dict:
    statement = getattr(amendment, "statement", None)
    return {
        "id": amendment.pk,
        "field": amendment.field,
        "field_label": field_name(amendment.field),
        "current": shown_value(amendment.field, amendment.current_value),
        "proposed": shown_value(amendment.field, amendment.proposed_value),
        "reason": amendment.reason,
        "status": amendment.status,
        "status_label": STATUS_NAMES.get(amendment.status, amendment.status),
        "created_at": amendment.created_at,
        "decided_at": amendment.decided_at,
        "decision_reason": amendment.decision_reason,
        "statement": statement,
    }


def _corrections_page(request, child: StudentAccess, *, statement_form=None, form_for=None):
    viewer = request.viewer
    amendments = list(child_amendments(viewer, child))
    holds_rights = holds_family_rights(viewer, child.student)
    entries = []
    for amendment in amendments:
        entry = _describe(amendment)
        entry["may_add_statement"] = (
            holds_rights and amendment.status == "refused" and entry["statement"] is None
        )
        entry["form"] = (
            statement_form
            if form_for == amendment.pk
            else StatementForm(auto_id=f"statement-{amendment.pk}-%s")
        )
        entries.append(entry)
    _log_family_read(viewer, child, {"directory", *(a.category for a in amendments)})
    context = {
        "child_id": child.student.pk,
        "first_name": _first_name(child),
        "entries": entries,
        "sent": request.GET.get("sent") == "1",
    }
    return render(
        request,
        "records/family/corrections.html",
        context,
        status=400 if form_for is not None else 200,
    )


@family_pages(methods=("GET", "HEAD", "POST"))
def corrections(request, student_id: int):
    """``/family/<id>/corrections/``: the child's correction requests and their outcomes."""
    if request.method == "POST":
        raise Http404
    return _corrections_page(request, family_child(request.viewer, student_id))


@never_cache
@login_required
@require_POST
def correction_statement(request, student_id: int, amendment_id: int):
    """Attach a statement of disagreement to a refused request, then back to the list."""
    viewer = request.viewer
    if not has_family_portal(viewer):
        raise Http404
    child = family_rights_child(viewer, student_id)
    amendment = child_amendment(viewer, child, amendment_id)
    if not may_add_statement(viewer, amendment) or hasattr(amendment, "statement"):
        raise PermissionDenied
    form = StatementForm(request.POST, auto_id=f"statement-{amendment.pk}-%s")
    if form.is_valid():
        try:
            disagreement_statement_add(
                actor=request.user, amendment=amendment, text=form.cleaned_data["text"]
            )
        except ValidationError as error:
            form.add_error("text", error.message_dict.get("text", error.messages))
        except ValueError:
            raise PermissionDenied from None
        else:
            return redirect("family:corrections", student_id=child.student.pk)
    return _corrections_page(request, child, statement_form=form, form_for=amendment.pk)


# Staff: the queue and one request.


class QueueFilter(forms.Form):
    status = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[("", _("All requests")), *STATUS_NAMES.items()],
    )


def _decider(request):
    if not may_decide_any(request.viewer):
        raise PermissionDenied
    return request.viewer


def _log_staff_read(viewer, amendments) -> None:
    """One event per group of students read with the same categories (one for most pages)."""
    by_categories: dict[frozenset[str], set[int]] = {}
    per_student: dict[int, set[str]] = {}
    for amendment in amendments:
        per_student.setdefault(amendment.student_id, {"directory"}).add(amendment.category)
    for student_id, categories in per_student.items():
        by_categories.setdefault(frozenset(categories), set()).add(student_id)
    roles = decider_roles(viewer)
    reads = [
        Read(tuple(sorted(ids)), categories, roles, purpose="deciding a request to amend a record")
        for categories, ids in sorted(by_categories.items(), key=lambda g: min(g[1]))
    ]
    record_reads(viewer, reads)


@never_cache
@login_required
@require_http_methods(["GET", "HEAD"])
def amendment_list(request):
    """``/district/amendments/``: the requests this staff member may decide, open ones first."""
    viewer = _decider(request)
    form = QueueFilter(request.GET or None)
    status = form.cleaned_data["status"] if form.is_bound and form.is_valid() else ""
    page = Paginator(amendment_queue(viewer, status=status or None), REQUESTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    _log_staff_read(viewer, page.object_list)
    rows = [
        {**_describe(amendment), "student_name": amendment.student.display_name}
        for amendment in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "rows": rows, "query": query.urlencode()}
    return render(request, "records/amendments/list.html", context)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            ("accept", _("Accept: correct the record")),
            ("refuse", _("Refuse: the record stays as it is")),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason for the decision"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Required when refusing. The family reads it."),
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == "refuse" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Write why the record is not corrected."))
        return data


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def amendment_detail(request, amendment_id: int):
    """``/district/amendments/<id>/``: read one request and, while open, decide it."""
    viewer = request.viewer
    if not may_decide_any(viewer):
        raise Http404
    amendment = amendment_for_decider(viewer, amendment_id)
    form = DecisionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if amendment.status != AmendmentRequest.Status.OPEN:
            raise PermissionDenied
        if form.is_valid():
            try:
                amendment_decide(
                    actor=request.user,
                    amendment=amendment,
                    accept=form.cleaned_data["decision"] == "accept",
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                for name, messages in error.message_dict.items():
                    form.add_error(name if name in form.fields else None, messages)
            except ValueError:
                raise PermissionDenied from None
            else:
                return redirect("records:amendment-detail", amendment_id=amendment.pk)
        status = 400
    _log_staff_read(viewer, [amendment])
    requester = amendment.requested_by
    context = {
        "amendment": _describe(amendment),
        "student_name": amendment.student.display_name,
        "requester": (requester.get_full_name() or requester.username) if requester else "",
        "decided_by": (
            (amendment.decided_by.get_full_name() or amendment.decided_by.username)
            if amendment.decided_by
            else ""
        ),
        "is_open": amendment.status == AmendmentRequest.Status.OPEN,
        "applies": is_student_column(amendment.field),
        "is_record_row": is_record_row(amendment.field),
        "form": form,
    }
    return render(request, "records/amendments/detail.html", context, status=status)
