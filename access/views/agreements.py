"""Agreements (the signed NDPA, field by field) and the grants under them: draft,
preview of what the provider would receive, activation and revocation."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from access import console
from access.agreements import CATEGORY_LABELS, ELEMENTS, FRAMEWORK_LABELS, element_categories
from access.audit import record_access
from access.forms import AgreementForm, GrantForm, RevokeForm
from access.models import Agreement, Grant
from access.projection import project_students
from access.providers import ProviderScope, grant_categories, viewer_for_grants
from access.views.common import (
    admin_pages,
    agreement_by_id,
    apply_errors,
    grant_by_id,
    provider_by_id,
)
from records.models import School, Section, active_on_q

PREVIEW_SAMPLE = 10
PREVIEW_PURPOSE = "provider grant preview"


@admin_pages
def agreement_list(request):
    """``/district/agreements/``: every agreement with its grants."""
    district = request.viewer.district
    agreements = (
        Agreement.unscoped.filter(district=district)
        .select_related("provider")
        .prefetch_related("grants")
        .order_by("provider__name", "-term_start", "pk")
    )
    return render(request, "access/agreements.html", {"agreements": agreements})


def _agreement_values(form) -> dict:
    data = dict(form.cleaned_data)
    data.pop("signed_file", None)
    return {k: data[k] for k in console.AGREEMENT_FIELDS if k in data}


@admin_pages(methods=("GET", "HEAD", "POST"))
def agreement_create(request, provider_id: int):
    provider = provider_by_id(request, provider_id)
    form = AgreementForm(request.POST or None, request.FILES or None)
    if form.is_valid():
        agreement = console.agreement_create(
            actor=request.user,
            provider=provider,
            signed_file=form.cleaned_data.get("signed_file"),
            **_agreement_values(form),
        )
        messages.success(request, _("Agreement saved."))
        return redirect("access:agreement", agreement_id=agreement.pk)
    status = 400 if form.is_bound else 200
    context = {"form": form, "provider": provider, "agreement": None}
    return render(request, "access/agreement_form.html", context, status=status)


@admin_pages(methods=("GET", "HEAD", "POST"))
def agreement_edit(request, agreement_id: int):
    agreement = agreement_by_id(request, agreement_id)
    form = AgreementForm(
        request.POST or None, request.FILES or None, initial=AgreementForm.initial_of(agreement)
    )
    if form.is_valid():
        narrowed = element_categories(form.cleaned_data["data_elements"])
        in_use = sorted(
            {
                category
                for grant in agreement.grants.exclude(status=Grant.Status.REVOKED)
                for category in grant.categories
            }
            - narrowed
        )
        if in_use:
            form.add_error(
                "data_elements",
                _("Grants under this agreement still carry: %(names)s. Revoke them first.")
                % {"names": ", ".join(str(CATEGORY_LABELS[c]) for c in in_use)},
            )
        else:
            try:
                console.agreement_update(
                    actor=request.user,
                    agreement=agreement,
                    signed_file=form.cleaned_data.get("signed_file"),
                    **_agreement_values(form),
                )
            except ValidationError as refused:
                apply_errors(form, refused)
            else:
                messages.success(request, _("Agreement saved."))
                return redirect("access:agreement", agreement_id=agreement.pk)
    status = 400 if form.is_bound else 200
    context = {"form": form, "provider": agreement.provider, "agreement": agreement}
    return render(request, "access/agreement_form.html", context, status=status)


@admin_pages
def agreement_detail(request, agreement_id: int):
    agreement = agreement_by_id(request, agreement_id)
    elements = [ELEMENTS[code] for code in agreement.data_elements if code in ELEMENTS]
    context = {
        "agreement": agreement,
        "elements": [{"label": e.label, "category": CATEGORY_LABELS[e.category]} for e in elements],
        "framework": FRAMEWORK_LABELS.get(agreement.security_framework, ""),
        "grants": agreement.grants.filter(district_id=agreement.district_id).order_by("-pk"),
    }
    return render(request, "access/agreement.html", context)


@admin_pages
def agreement_file(request, agreement_id: int):
    agreement = agreement_by_id(request, agreement_id)
    if not agreement.signed_file:
        raise Http404
    return FileResponse(
        agreement.signed_file.open("rb"),
        as_attachment=True,
        filename=f"agreement-{agreement.pk}.pdf",
        content_type="application/pdf",
    )


def _grant_form(request, agreement, *, initial=None):
    district = request.viewer.district
    schools = School.unscoped.filter(district=district).order_by("name")
    sections = (
        Section.unscoped.filter(district=district)
        .select_related("school", "course")
        .order_by("school__name", "title", "pk")
    )
    return GrantForm(
        request.POST or None,
        agreement=agreement,
        schools=schools,
        sections=sections,
        initial=initial,
    )


@admin_pages(methods=("GET", "HEAD", "POST"))
def grant_create(request, agreement_id: int):
    agreement = agreement_by_id(request, agreement_id)
    initial = {
        "categories": ["directory"],
        "population": Grant.Population.DISTRICT,
        "legal_basis": Grant.LegalBasis.SCHOOL_OFFICIAL,
        "starts_on": agreement.term_start,
        "ends_on": agreement.term_end,
    }
    form = _grant_form(request, agreement, initial=initial)
    if form.is_valid():
        try:
            grant = console.grant_create(
                actor=request.user, agreement=agreement, **form.cleaned_data
            )
        except ValidationError as refused:
            apply_errors(form, refused)
        else:
            messages.success(request, _("Draft grant saved. Preview it, then activate it."))
            return redirect("access:grant", grant_id=grant.pk)
    return _grant_form_page(request, form, agreement, None)


def _grant_form_page(request, form, agreement, grant):
    context = {
        "form": form,
        "agreement": agreement,
        "grant": grant,
        "covered": sorted(
            str(CATEGORY_LABELS[c]) for c in element_categories(agreement.data_elements)
        ),
    }
    status = 400 if form.is_bound else 200
    return render(request, "access/grant_form.html", context, status=status)


@admin_pages(methods=("GET", "HEAD", "POST"))
def grant_edit(request, grant_id: int):
    grant = grant_by_id(request, grant_id)
    if grant.status != Grant.Status.DRAFT:
        messages.error(request, _("Only a draft grant can be changed."))
        return redirect("access:grant", grant_id=grant.pk)
    form = _grant_form(request, grant.agreement, initial=GrantForm.initial_of(grant))
    if form.is_valid():
        try:
            console.grant_update(actor=request.user, grant=grant, **form.cleaned_data)
        except ValidationError as refused:
            apply_errors(form, refused)
        else:
            messages.success(request, _("Draft grant saved."))
            return redirect("access:grant", grant_id=grant.pk)
    return _grant_form_page(request, form, grant.agreement, grant)


def _population_names(grant: Grant) -> dict:
    district_id = grant.district_id
    return {
        "schools": list(
            School.unscoped.filter(district_id=district_id, pk__in=grant.school_ids)
            .order_by("name")
            .values_list("name", flat=True)
        ),
        "sections": [
            str(section)
            for section in Section.unscoped.filter(
                district_id=district_id, pk__in=grant.section_ids
            ).select_related("course")
        ],
    }


@admin_pages
def grant_detail(request, grant_id: int):
    grant = grant_by_id(request, grant_id)
    context = {
        "grant": grant,
        "categories": [str(CATEGORY_LABELS[c]) for c in grant.categories if c in CATEGORY_LABELS],
        "population": _population_names(grant),
        "revoke_form": RevokeForm(),
    }
    return render(request, "access/grant.html", context)


@admin_pages
def grant_preview(request, grant_id: int):
    """What the provider will receive under this grant alone, built by the very code its
    feeds use: its viewer, its scope, the one projection. Showing sample students is a
    read of their records by the district admin, and is logged as such."""
    grant = grant_by_id(request, grant_id)
    district = request.viewer.district
    viewer = viewer_for_grants([grant], district, client_name=f"preview of grant {grant.pk}")
    scope = ProviderScope(viewer)
    students = scope.students()
    today = viewer.today
    reached = students.values("pk")
    per_school = (
        School.unscoped.filter(district=district)
        .annotate(
            students=Count(
                "memberships__student",
                filter=Q(
                    memberships__district=district,
                    memberships__student__in=reached,
                )
                & active_on_q(today, "memberships__"),
                distinct=True,
            )
        )
        .filter(students__gt=0)
        .order_by("name")
    )
    total = students.count()
    sample = list(students.order_by("family_name", "given_name", "pk")[:PREVIEW_SAMPLE])
    allowed = scope.allowed(sample)
    projected = project_students(viewer, sample, allowed)
    shown = frozenset().union(*(a.categories for a in allowed.values())) if allowed else ()
    record_access(
        request.viewer,
        student_ids=[student.pk for student in sample],
        categories=shown,
        purpose=PREVIEW_PURPOSE,
    )
    context = {
        "grant": grant,
        "categories": [str(CATEGORY_LABELS[c]) for c in sorted(grant_categories(grant))],
        "per_school": per_school,
        "total": total,
        "samples": [_rows(item) for item in projected],
        "sample_size": len(sample),
    }
    return render(request, "access/grant_preview.html", context)


def _rows(item: dict) -> dict:
    """One projected student as label/value rows: the object, flattened."""
    rows = []

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for n, inner in enumerate(value):
                walk(f"{prefix}[{n}]", inner)
        else:
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            rows.append((prefix, "" if value is None else str(value)))

    for key, value in item.items():
        if key not in ("id",):
            walk(key, value)
    return {"id": item["id"], "sourced_id": item["sourced_id"], "rows": rows}


@admin_pages(methods=("POST",))
def grant_activate(request, grant_id: int):
    grant = grant_by_id(request, grant_id)
    try:
        console.grant_activate(actor=request.user, grant=grant)
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
    else:
        messages.success(request, _("The grant is active."))
    return redirect("access:grant", grant_id=grant.pk)


@admin_pages(methods=("POST",))
def grant_revoke(request, grant_id: int):
    grant = grant_by_id(request, grant_id)
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            console.grant_revoke(
                actor=request.user, grant=grant, reason=form.cleaned_data["reason"]
            )
        except ValidationError as refused:
            apply_errors(form, refused)
        else:
            messages.success(
                request, _("The grant is revoked: the provider's next request is refused.")
            )
            return redirect("access:grant", grant_id=grant.pk)
    context = {
        "grant": grant,
        "categories": [str(CATEGORY_LABELS[c]) for c in grant.categories if c in CATEGORY_LABELS],
        "population": _population_names(grant),
        "revoke_form": form,
    }
    return render(request, "access/grant.html", context, status=400)
