"""The second factor's pages: giving it at sign-in (``/two-factor/verify/``), setting it
up (``/two-factor/setup/``), the recovery codes shown once, and the person's own
security page (``/account/security/``). The rules are accounts/second_factor.py."""

from __future__ import annotations

from urllib.parse import urlencode

import django_otp
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_static.models import StaticDevice

from accounts import second_factor

# After a wrong code, each device waits a moment before the next (django-otp).
TOO_MANY = gettext_lazy(
    "Too many wrong codes in a row. Wait a few seconds, then try the newest code."
)
NOT_RIGHT = gettext_lazy("That code is not right, or it has been used. Try again.")
NOT_RIGHT_AT_SETUP = gettext_lazy(
    "That code is not right. Check the time on your phone, then try the newest code."
)
# The codes just made, kept in the session until the page that shows them once.
NEW_CODES_SESSION_KEY = "second_factor_new_codes"


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=64,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe and target.startswith("/") else "/"


def _code_page(view):
    """A page with a code form: never cached, signed in only, the code kept out of error
    reports."""
    view = require_http_methods(["GET", "HEAD", "POST"])(view)
    return never_cache(sensitive_post_parameters("code")(login_required(view)))


def _with_next(name: str, target: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': target})}"


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


@_code_page
def verify(request):
    """Sign-in's second step: a code from the app, or a recovery code."""
    user = request.user
    if second_factor.is_verified(request):
        return redirect(_next(request))
    if not second_factor.is_enrolled(user):  # removed meanwhile (an admin's reset)
        request.session[second_factor.ENROLLED_SESSION_KEY] = False
        return redirect(_next(request))
    form = CodeForm(request.POST or None)
    if form.is_valid():
        code = form.cleaned_data["code"]
        device, throttled = second_factor.verify(user, code)
        if device is not None:
            django_otp.login(request, device)
            if isinstance(device, StaticDevice):
                left = second_factor.recovery_codes_left(user)
                messages.warning(request, _used_recovery_code(left))
            return redirect(_next(request))
        form.add_error("code", TOO_MANY if throttled else NOT_RIGHT)
    status = 400 if form.is_bound else 200
    context = {"form": form, "next": _next(request)}
    return _no_store(render(request, "accounts/two_factor_verify.html", context, status=status))


def _used_recovery_code(left: int) -> str:
    return ngettext(
        "You signed in with a recovery code; %(count)d is left. If you lost your "
        "authenticator app, set up a new one on your security page.",
        "You signed in with a recovery code; %(count)d are left. If you lost your "
        "authenticator app, set up a new one on your security page.",
        left,
    ) % {"count": left}


@_code_page
def setup(request):
    """Set up an authenticator app: scan (or type) its secret, confirm with a code."""
    user = request.user
    if second_factor.is_enrolled(user) and not second_factor.is_verified(request):
        return redirect(_with_next("accounts:two-factor-verify", _next(request)))
    device = second_factor.enrolment_device(user)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        throttled = not device.verify_is_allowed()[0]
        codes = second_factor.confirm_enrolment(device, form.cleaned_data["code"])
        if codes is not None:
            django_otp.login(request, device)
            request.session[second_factor.ENROLLED_SESSION_KEY] = True
            request.session[NEW_CODES_SESSION_KEY] = codes
            return redirect(_with_next("accounts:two-factor-codes", _next(request)))
        form.add_error("code", TOO_MANY if throttled else NOT_RIGHT_AT_SETUP)
    context = {
        "form": form,
        "next": _next(request),
        "qr_code": second_factor.qr_code(device),
        "secret": second_factor.secret_for_typing(device),
        "required": second_factor.required_for(request.viewer),
    }
    status = 400 if form.is_bound else 200
    return _no_store(render(request, "accounts/two_factor_setup.html", context, status=status))


@never_cache
@login_required
def recovery_codes(request):
    """The recovery codes just made, shown this once."""
    codes = request.session.pop(NEW_CODES_SESSION_KEY, None)
    if not codes:
        return redirect("accounts:security")
    context = {"codes": codes, "next": _next(request)}
    return _no_store(render(request, "accounts/two_factor_codes.html", context))


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def security(request):
    """The person's own second factor: set it up, make new recovery codes, or (where
    their roles do not require it) turn it off."""
    user = request.user
    enrolled = second_factor.is_enrolled(user)
    required = second_factor.required_for(request.viewer)
    action = request.POST.get("action")
    if request.method == "POST" and enrolled and action == "new-codes":
        request.session[NEW_CODES_SESSION_KEY] = second_factor.new_recovery_codes(user)
        return redirect(_with_next("accounts:two-factor-codes", reverse("accounts:security")))
    if request.method == "POST" and enrolled and action == "turn-off" and not required:
        second_factor.remove(user)
        request.session[second_factor.ENROLLED_SESSION_KEY] = False
        messages.success(
            request, _("The second factor is off. You sign in with your password alone.")
        )
        return redirect("accounts:security")
    context = {
        "enrolled": enrolled,
        "required": required,
        "codes_left": second_factor.recovery_codes_left(user) if enrolled else 0,
    }
    return _no_store(render(request, "accounts/security.html", context))
