"""API plumbing shared by every app: the base view, pagination, error handling."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from access.viewer import NO_ACCESS, viewer_for
from records.tenancy import _current_district_id


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


class ViewerApiView(APIView):
    """An authenticated API view that carries the request's viewer.

    Token authentication happens inside DRF, after the middleware, so the viewer
    and the tenant in force are set here once the user is known.
    """

    viewer = NO_ACCESS

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.viewer = viewer_for(request.user)
        request.viewer = self.viewer
        if self.viewer.district_id is not None:
            self._tenant_token = _current_district_id.set(self.viewer.district_id)

    def finalize_response(self, request, response, *args, **kwargs):
        token = getattr(self, "_tenant_token", None)
        if token is not None:
            _current_district_id.reset(token)
            self._tenant_token = None
        response = super().finalize_response(request, response, *args, **kwargs)
        # Responses may carry student PII: never cached by browsers or proxies.
        response["Cache-Control"] = "no-store"
        return response
