"""OneRoster's error body (``imsx_StatusInfo``) and the handler that gives every error
of the OneRoster roots that body — an unexpected one included, never a bare 500 page."""

from __future__ import annotations

import logging
import math

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions

logger = logging.getLogger(__name__)

INVALID_FILTER_FIELD = "invalid_filter_field"
INVALID_SELECTION_FIELD = "invalid_selection_field"
INVALID_SORT_FIELD = "invalid_sort_field"
UNAUTHORISED = "unauthorisedrequest"
FORBIDDEN = "forbidden"
UNKNOWN_OBJECT = "unknownobject"
INVALID_DATA = "invaliddata"
SERVER_BUSY = "server_busy"
INTERNAL = "internal_server_error"


class OneRosterError(Exception):
    """An answer with an ``imsx_StatusInfo`` body: an HTTP status, a code (the
    ``imsx_codeMinorFieldValue``) and a description for the client's developer."""

    def __init__(self, status: int, code: str, description: str, *, major: str = "failure"):
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.major = major


def bad_filter(description: str) -> OneRosterError:
    return OneRosterError(400, INVALID_FILTER_FIELD, description)


def bad_selection(description: str) -> OneRosterError:
    return OneRosterError(400, INVALID_SELECTION_FIELD, description)


def unknown_object() -> OneRosterError:
    # One answer for "does not exist" and "not in your grants".
    return OneRosterError(404, UNKNOWN_OBJECT, "The requested object does not exist.")


def forbidden(description: str) -> OneRosterError:
    return OneRosterError(403, FORBIDDEN, description)


def status_info(code: str, description: str, *, major: str = "failure") -> dict:
    """The body of an error, exactly as the OneRoster REST binding spells it."""
    return {
        "imsx_codeMajor": major,
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code}
            ]
        },
    }


def error_response(error: OneRosterError) -> JsonResponse:
    response = JsonResponse(
        status_info(error.code, error.description, major=error.major), status=error.status
    )
    response["Cache-Control"] = "no-store"
    return response


def as_oneroster_error(exc: Exception) -> tuple[OneRosterError, dict[str, str]]:
    """The OneRoster answer to an exception, and the headers it needs."""
    if isinstance(exc, OneRosterError):
        return exc, {}
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        error = OneRosterError(
            401, UNAUTHORISED, "A valid OAuth 2 bearer token (client credentials) is required."
        )
        return error, {"WWW-Authenticate": 'Bearer realm="oneroster"'}
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, math.ceil(exc.wait or 60))
        error = OneRosterError(
            429, SERVER_BUSY, f"Too many requests from this client: retry in {wait} seconds."
        )
        return error, {"Retry-After": str(wait)}
    if isinstance(exc, exceptions.PermissionDenied | PermissionDenied):
        detail = getattr(exc, "detail", None) or "This client may not read this resource."
        return forbidden(str(detail)), {}
    if isinstance(exc, exceptions.NotFound | Http404):
        return unknown_object(), {}
    if isinstance(exc, exceptions.MethodNotAllowed):
        error = OneRosterError(
            405,
            INVALID_DATA,
            "Only GET is supported: the rostering service is read-only.",
            major="unsupported",
        )
        return error, {"Allow": "GET, HEAD, OPTIONS"}
    if isinstance(exc, exceptions.APIException):
        return OneRosterError(exc.status_code, INVALID_DATA, str(exc.detail)), {}
    # The type only: an exception's text may quote request data.
    logger.error("OneRoster request failed: %s", type(exc).__name__, exc_info=exc)
    return OneRosterError(500, INTERNAL, "The server could not answer this request."), {}


def exception_handler(exc, context):
    """DRF's exception handler for the OneRoster views."""
    error, headers = as_oneroster_error(exc)
    response = error_response(error)
    for name, value in headers.items():
        response[name] = value
    return response
