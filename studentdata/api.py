"""API plumbing shared by every app: the base view, pagination, error handling."""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, Window
from django.http import Http404, HttpResponse
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from access.middleware import in_district_to_the_end
from access.providers import viewer_for_client
from access.viewer import NO_ACCESS, viewer_for
from records.tenant_context import _current_district_id
from studentdata.authentication import ProviderClient
from studentdata.throttling import ProviderClientThrottle


def exception_handler(exc, context):
    """Django's own errors become API errors with reasons, never a 500."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    return drf_exception_handler(exc, context)


class StandardPagination(PageNumberPagination):
    """``{count, next, previous, results}``; ``?page_size=`` up to 500."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class CountInPagePagination(StandardPagination):
    """Counts with ``COUNT(*) OVER ()`` in the page query itself: one query, not two.

    Only for sets the database sorts whole anyway (a school, a roster, a family):
    over a whole district the window would forbid the index walk that keeps a page
    cheap, so callers pass ``count_in_page=False`` there and get the usual count.
    """

    def paginate_queryset(self, queryset, request, view=None, *, count_in_page: bool = True):
        if not count_in_page:
            return super().paginate_queryset(queryset, request, view)
        self.request = request
        page_size = self.get_page_size(request)
        try:
            number = int(request.query_params.get(self.page_query_param, 1))
        except ValueError:
            raise exceptions.NotFound("Invalid page.") from None
        offset = (number - 1) * page_size
        rows = list(queryset.annotate(_total=Window(Count("*")))[offset : offset + page_size])
        paginator = Paginator(queryset, page_size)
        paginator.count = rows[0]._total if rows else queryset.count()
        if number < 1 or (not rows and number > 1):
            raise exceptions.NotFound("Invalid page.")
        self.page = Page(rows, number, paginator)
        return rows

    def get_paginated_json(self, results: bytes) -> HttpResponse:
        """``get_paginated_response``'s envelope around results already rendered as JSON."""
        envelope = {
            "count": self.page.paginator.count,
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
        }
        head = json.dumps(envelope, separators=(",", ":")).encode()
        return HttpResponse(
            head[:-1] + b',"results":' + results + b"}", content_type="application/json"
        )

    def restore(self, request, rows: list, *, number: int, count: int) -> None:
        """Stand as if ``rows`` had just been paginated (a page kept in the cache), so
        the response's count and links are the same."""
        self.request = request
        paginator = Paginator(range(count), self.get_page_size(request))
        self.page = Page(rows, number, paginator)


def viewer_of(principal):
    """A person's viewer, or a provider client's (its grants in force today)."""
    if isinstance(principal, ProviderClient):
        return viewer_for_client(principal.api_client, epoch=principal.cache_epoch_value)
    return viewer_for(principal)


class ViewerApiView(APIView):
    """An authenticated API view that carries the request's viewer.

    Token authentication happens inside DRF, after the middleware, so the viewer
    and the tenant in force are set here once the user is known.
    """

    viewer = NO_ACCESS
    throttle_classes = [ProviderClientThrottle]  # providers' clients only

    def perform_authentication(self, request):
        super().perform_authentication(request)
        # The principal's district is in force from here on: its roles and grants are
        # read under it (row-level security shows no other district's rows).
        district_id = getattr(request.user, "district_id", None)
        if district_id is not None:
            self._tenant_token = _current_district_id.set(district_id)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.viewer = viewer_of(request.user)
        if isinstance(request.user, ProviderClient) and not self.viewer.has_access:
            # No grant in force (revoked, ended, not yet begun): refused, not an empty list.
            raise exceptions.PermissionDenied("No grant of this provider is in force.")
        request.viewer = self.viewer

    def finalize_response(self, request, response, *args, **kwargs):
        response = in_district_to_the_end(response)
        token = getattr(self, "_tenant_token", None)
        if token is not None:
            _current_district_id.reset(token)
            self._tenant_token = None
        response = super().finalize_response(request, response, *args, **kwargs)
        # Responses may carry student PII: never cached by browsers or proxies.
        response["Cache-Control"] = "no-store"
        return response
