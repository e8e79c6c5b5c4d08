"""The pages of OneRoster CSV deliveries: a provider's list and requests, the district's
list, a delivery's progress (page and JSON), and the expiring download.

A provider's signed-in person sees their provider's deliveries; a district admin sees
every delivery of the district and may ask for one on a provider's behalf. Anyone else
signed in gets 403 on the lists and 404 on a delivery (missing and not yours alike).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from access import deliveries
from access.districts import may_manage_district
from access.models import CsvDelivery

PER_PAGE = 25


def _is_admin(request) -> bool:
    return may_manage_district(request.viewer)


def _list_context(request, *, error: str = "") -> dict:
    page = Paginator(deliveries.deliveries_visible(request.user, request.viewer), PER_PAGE)
    return {
        "page": page.get_page(request.GET.get("page")),
        "grants": deliveries.grants_requestable(request.user, request.viewer),
        "error": error,
        "days": settings.PROVIDER_DELIVERY_DAYS,
    }


@never_cache
@require_safe
@login_required
def delivery_list(request):
    """``/provider/deliveries/``: a provider's grants in force and its deliveries."""
    if not deliveries.member_provider_ids(request.user):
        if _is_admin(request):
            return redirect("deliveries:district-list")
        raise PermissionDenied
    return render(request, "access/deliveries/list.html", _list_context(request))


@never_cache
@require_safe
@login_required
def district_list(request):
    """``/district/deliveries/``: every delivery of the district, and a request form."""
    if not _is_admin(request):
        raise PermissionDenied
    return render(request, "access/deliveries/district_list.html", _list_context(request))


@never_cache
@require_POST
@login_required
def delivery_request(request):
    """Ask for a bundle of one grant (form field ``grant``); then follow its progress."""
    admin = _is_admin(request)
    if not admin and not deliveries.member_provider_ids(request.user):
        raise PermissionDenied
    grant = deliveries.grant_by_id(request.user, request.viewer, request.POST.get("grant"))
    try:
        delivery = deliveries.delivery_request(actor=request.user, grant=grant)
    except deliveries.DeliveryRefused as refused:
        template = (
            "access/deliveries/district_list.html" if admin else "access/deliveries/list.html"
        )
        return render(request, template, _list_context(request, error=str(refused)), status=400)
    return redirect("deliveries:progress", delivery_id=delivery.pk)


def _progress(delivery: CsvDelivery) -> dict:
    return {"status": delivery.status, "progress": delivery.progress}


@never_cache
@require_safe
@login_required
def delivery_progress(request, delivery_id):
    """``/provider/deliveries/<id>/``: the delivery's state; ``?format=json`` for the bar."""
    delivery = deliveries.delivery_by_id(request.user, request.viewer, delivery_id)
    if request.GET.get("format") == "json":
        return JsonResponse(_progress(delivery))
    gone = (
        deliveries.delivery_gone_reason(delivery)
        if delivery.status == CsvDelivery.Status.READY
        else None
    )
    context = {
        "delivery": delivery,
        "grant": delivery.grant,
        "building": delivery.status in deliveries.IN_PROGRESS,
        "gone": gone,
        "is_admin": _is_admin(request),
        "zone": delivery.district.zone,
    }
    return render(request, "access/deliveries/progress.html", context)


@never_cache
@require_safe
@login_required
def delivery_download(request, delivery_id):
    """The expiring link: the zip while the grant is in force and the link not expired
    (else 410); each download is one disclosure."""
    delivery = deliveries.delivery_by_id(request.user, request.viewer, delivery_id)
    if delivery.status != CsvDelivery.Status.READY:
        return redirect("deliveries:progress", delivery_id=delivery.pk)
    gone = deliveries.delivery_gone_reason(delivery)
    if gone is not None:
        context = {"delivery": delivery, "gone": gone, "zone": delivery.district.zone}
        return render(request, "access/deliveries/gone.html", context, status=410)
    try:
        handle = delivery.file.open("rb")
    except FileNotFoundError:
        context = {"delivery": delivery, "gone": "expired", "zone": delivery.district.zone}
        return render(request, "access/deliveries/gone.html", context, status=410)
    deliveries.delivery_download_record(delivery=delivery, user=request.user)
    stamp = timezone.localtime(delivery.finished_at, delivery.district.zone).strftime("%Y%m%d")
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"oneroster-{delivery.district.slug}-grant{delivery.grant_id}-{stamp}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "no-store"
    return response
