"""The access layer's own refusal."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


class AccessDenied(PermissionDenied):
    """An authorization refusal: the viewer may not do this (403 on a page or the API)."""
