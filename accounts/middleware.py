"""What a signed-in session must do before anything else: give its second factor, or set
one up when its roles require it (accounts/second_factor.py); and staff sessions end
after the district's idle time."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _

from access.staff import has_staff_view
from accounts import second_factor

# Pages a session reaches before its second factor: the factor's own, signing out,
# the language switch, and what needs no sign-in.
OPEN_PREFIXES = ("/two-factor/", "/sign-out/", "/i18n/", "/static/", "/healthz/", "/reports/")
# The last-seen time is written at most this often (a session write is a database write).
LAST_SEEN_GRANULARITY = 60


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.path.startswith(OPEN_PREFIXES):
            return self.get_response(request)
        idle = _idle_too_long(request)
        if idle:
            return idle
        if not second_factor.is_verified(request):
            if request.session.get(second_factor.ENROLLED_SESSION_KEY):
                return _to("accounts:two-factor-verify", request)
            if second_factor.required_for(request.viewer) or user.is_staff:
                return _to("accounts:two-factor-setup", request)
        return self.get_response(request)


def _to(name: str, request):
    return redirect(f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}")


def _idle_too_long(request):
    """Signs a staff member out after the district's idle minutes; keeps the time seen."""
    viewer = request.viewer
    if viewer.district is None or not has_staff_view(viewer):
        return None
    now, session = time.time(), request.session
    last = session.get(second_factor.LAST_SEEN_SESSION_KEY)
    limit = viewer.district.staff_idle_minutes * 60
    if last is not None and now - last > limit:
        logout(request)
        messages.info(
            request,
            _("You were signed out after %(minutes)d minutes without activity.")
            % {"minutes": viewer.district.staff_idle_minutes},
        )
        sign_in = resolve_url(settings.LOGIN_URL)
        return redirect(f"{sign_in}?{urlencode({'next': request.get_full_path()})}")
    if last is None or now - last >= LAST_SEEN_GRANULARITY:
        session[second_factor.LAST_SEEN_SESSION_KEY] = now
    return None
