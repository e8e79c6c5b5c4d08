"""The console's gate and its object look-ups.

Only an active district admin opens the console (anyone else signed in: 403; a
visitor: the sign-in page). Every object is fetched within the admin's district, so
an id of another district answers 404 exactly like an id that does not exist.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from access.districts import may_manage_district
from access.models import Agreement, ApiClient, Grant, Provider
from records.views.gates import gated_pages

admin_pages = gated_pages(may_manage_district, PermissionDenied)


def provider_by_id(request, provider_id: int) -> Provider:
    return get_object_or_404(Provider.unscoped, district=request.viewer.district, pk=provider_id)


def client_by_id(request, client_id: int) -> ApiClient:
    return get_object_or_404(
        ApiClient.unscoped.select_related("provider", "application"),
        district=request.viewer.district,
        pk=client_id,
    )


def agreement_by_id(request, agreement_id: int) -> Agreement:
    return get_object_or_404(
        Agreement.unscoped.select_related("provider"),
        district=request.viewer.district,
        pk=agreement_id,
    )


def grant_by_id(request, grant_id: int) -> Grant:
    return get_object_or_404(
        Grant.unscoped.select_related("agreement", "provider", "district"),
        district=request.viewer.district,
        pk=grant_id,
    )


def apply_errors(form, refused) -> None:
    """A service's ValidationError shown on the form's fields (or above them)."""
    if hasattr(refused, "error_dict"):
        for field, errors in refused.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, refused.messages)
