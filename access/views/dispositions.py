"""Disposition of ended grants: the district's list of attestations due, the form that
records one (by the district on the provider's behalf, or by the provider's own people),
and the provider's page ``/provider/``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from access import console
from access.forms import AttestationForm
from access.models import CsvDelivery, DispositionAttestation, Grant, ProviderMember
from access.views.common import admin_pages, apply_errors, grant_by_id


def _ended(district, **narrow):
    today = district.today()
    return (
        Grant.unscoped.filter(district=district, **narrow)
        .filter(Q(status=Grant.Status.REVOKED) | Q(status=Grant.Status.ACTIVE, ends_on__lt=today))
        .filter(provider__district=district, agreement__district=district)
        .select_related("provider", "agreement", "district")
        .order_by("ends_on", "pk")
    )


def _items(district, grants):
    today = district.today()
    attested = {
        a.grant_id: a
        for a in DispositionAttestation.unscoped.filter(
            district=district, grant__in=[g.pk for g in grants]
        )
    }
    items = []
    for grant in grants:
        due = console.disposition_due(grant, district)
        attestation = attested.get(grant.pk)
        items.append(
            {
                "grant": grant,
                "ended_on": console.grant_ended_on(grant),
                "due": due,
                "attestation": attestation,
                "overdue": attestation is None and due is not None and due < today,
            }
        )
    return items


def attestations_due(district) -> list[dict]:
    """Ended grants whose provider has not attested disposition yet."""
    return [item for item in _items(district, list(_ended(district))) if not item["attestation"]]


@admin_pages
def disposition_list(request):
    """``/district/dispositions/``: ended grants, their due dates, open, overdue, attested."""
    district = request.viewer.district
    show = request.GET.get("show") if request.GET.get("show") in ("open", "all") else "open"
    items = _items(district, list(_ended(district)))
    if show == "open":
        items = [item for item in items if not item["attestation"]]
    context = {
        "items": items,
        "show": show,
        "overdue": sum(1 for item in items if item["overdue"]),
    }
    return render(request, "access/dispositions.html", context)


def _record(request, grant, *, on_behalf: bool, back):
    form = AttestationForm(
        request.POST or None,
        request.FILES or None,
        initial={"method": grant.agreement.disposition},
    )
    existing = DispositionAttestation.unscoped.filter(
        district_id=grant.district_id, grant=grant
    ).first()
    if form.is_valid() and existing is None:
        data = dict(form.cleaned_data)
        try:
            console.attestation_record(
                actor=request.user,
                grant=grant,
                on_behalf_of_provider=on_behalf,
                file=data.pop("file"),
                **data,
            )
        except ValidationError as refused:
            apply_errors(form, refused)
        else:
            messages.success(request, _("The attestation is recorded."))
            return redirect(back)
    context = {
        "grant": grant,
        "form": form,
        "existing": existing,
        "due": console.disposition_due(grant, grant.district),
        "ended_on": console.grant_ended_on(grant),
        "on_behalf": on_behalf,
        "back": back,
    }
    status = 400 if form.is_bound else 200
    return render(request, "access/attestation_form.html", context, status=status)


@admin_pages(methods=("GET", "HEAD", "POST"))
def attestation_record(request, grant_id: int):
    """``/district/grants/<id>/attestation/``: recorded on the provider's behalf."""
    grant = grant_by_id(request, grant_id)
    if console.grant_ended_on(grant) is None:
        messages.error(request, _("This grant has not ended."))
        return redirect("access:grant", grant_id=grant.pk)
    return _record(request, grant, on_behalf=True, back="access:dispositions")


def _memberships(request):
    user = request.user
    if user.district_id is None:
        return ProviderMember.unscoped.none()
    return ProviderMember.unscoped.filter(
        district_id=user.district_id, user=user, provider__is_active=True
    ).select_related("provider")


def _provider_pages(view):
    @never_cache
    @login_required
    @require_http_methods(["GET", "HEAD", "POST"])
    def wrapper(request, *args, **kwargs):
        memberships = list(_memberships(request))
        if not memberships:
            raise PermissionDenied
        request.provider_ids = [m.provider_id for m in memberships]
        return view(request, memberships, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@_provider_pages
def provider_home(request, memberships):
    """``/provider/``: a provider's people see their grants, the attestations due and
    their CSV deliveries."""
    district = request.user.district
    narrow = {"provider_id__in": request.provider_ids}
    grants = (
        Grant.unscoped.filter(district=district, **narrow)
        .exclude(status=Grant.Status.DRAFT)
        .select_related("agreement", "provider")
        .order_by("-starts_on", "pk")
    )
    due = [
        item
        for item in _items(district, list(_ended(district, **narrow)))
        if not item["attestation"]
    ]
    deliveries = (
        CsvDelivery.unscoped.filter(district=district, grant__provider_id__in=request.provider_ids)
        .select_related("grant")
        .order_by("-requested_at")[:20]
    )
    context = {
        "providers": [m.provider for m in memberships],
        "grants": grants,
        "due": due,
        "deliveries": deliveries,
    }
    return render(request, "access/provider_home.html", context)


@_provider_pages
def provider_attestation(request, memberships, grant_id: int):
    """``/provider/grants/<id>/attestation/``: the provider attests for itself."""
    grant = get_object_or_404(
        Grant.unscoped.select_related("agreement", "provider", "district"),
        district_id=request.user.district_id,
        provider_id__in=request.provider_ids,
        pk=grant_id,
    )
    if console.grant_ended_on(grant) is None:
        raise PermissionDenied
    return _record(request, grant, on_behalf=False, back="access:provider-home")
