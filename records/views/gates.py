"""Who may open a group of pages: one decorator factory for every portal.

Each portal's pages share a gate (a question to ``access/``) and a refusal: the family
pages and a teacher's classes answer 404 (there is no such page for you), the school
officials' pages 403. Every gated page is signed-in only and never cached, and shows
times (and reads dates typed in forms) in its district's time zone.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods


def gated_pages(may_open: Callable, refusal: type[Exception]):
    """A decorator for pages that ``may_open(request.viewer)`` decides; anyone else gets
    ``refusal``. Use it bare, or with ``methods=`` for a page that also takes a form."""

    def pages(view=None, *, methods=("GET", "HEAD")):
        def decorate(view):
            @never_cache
            @login_required
            @require_http_methods(list(methods))
            @wraps(view)
            def wrapper(request, *args, **kwargs):
                viewer = request.viewer
                if not may_open(viewer):
                    raise refusal
                with timezone.override(viewer.district.zone):
                    return view(request, *args, **kwargs)

            return wrapper

        return decorate(view) if view is not None else decorate

    return pages
