"""The second factor at sign-in: a time-based code from an authenticator app (TOTP,
django-otp), with single-use recovery codes.

Required of district admins, principals, school admins, counselors, nurses and
special-ed staff, of teachers where their district asks (``District.
teachers_need_second_factor``), and of anyone who may open Django's admin (``is_staff``:
accounts/middleware.py); offered to everyone else. Whether a person needs one is
read from their viewer's routes on every request, so a role given mid-session asks for
it at the next page. A session is verified once per sign-in (``django_otp.login``
records the device in the session); pages read that from the session alone, with no
query (django-otp's own middleware would load the device on every request).
"""

from __future__ import annotations

import time

import django_otp
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from access.studies import is_researcher
from access.viewer import RouteKind, Viewer
from accounts.models import Role, end_sessions

REQUIRED_SCHOOL_ROLES = frozenset(
    {Role.PRINCIPAL, Role.SCHOOL_ADMIN, Role.COUNSELOR, Role.NURSE, Role.SPECIAL_EDUCATION}
)
RECOVERY_CODES = 10
APP_DEVICE, RECOVERY_DEVICE = "authenticator app", "recovery codes"
# The session remembers, from sign-in, whether the person has a second factor to give,
# and when it last saw them (staff are signed out when idle: accounts/middleware.py).
ENROLLED_SESSION_KEY = "second_factor_enrolled"
LAST_SEEN_SESSION_KEY = "last_seen"


def required_for(viewer: Viewer) -> bool:
    """Whether this viewer's roles require a second factor. A researcher too: they
    download student-level extracts, which a stolen password alone must not open."""
    if not viewer.routes and viewer.user is not None:
        return is_researcher(viewer.user)
    for route in viewer.routes:
        if route.kind == RouteKind.DISTRICT_ADMIN:
            return True
        if route.kind == RouteKind.SCHOOL_STAFF and route.label in REQUIRED_SCHOOL_ROLES:
            return True
        if route.kind in (RouteKind.TEACHER, RouteKind.SUBSTITUTE) and (
            viewer.district is not None and viewer.district.teachers_need_second_factor
        ):
            return True
    return False


def is_verified(request) -> bool:
    """Whether this session gave its second factor since signing in."""
    return DEVICE_ID_SESSION_KEY in request.session


def is_enrolled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def enrolled_among(users) -> set[int]:
    """The ids of those among ``users`` with an authenticator app, in one query."""
    ids = [user.pk for user in users]
    confirmed = TOTPDevice.objects.filter(user_id__in=ids, confirmed=True)
    return set(confirmed.values_list("user_id", flat=True))


def enrolment_device(user) -> TOTPDevice:
    """The authenticator being set up: the person's unconfirmed one, or a new one."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name=APP_DEVICE, confirmed=False)


def qr_code(device: TOTPDevice) -> str:
    """The device's ``otpauth://`` address as a QR code, an SVG ``data:`` URI (the page's
    policy allows images from ``data:``, never inline script or style)."""
    import segno

    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)


def secret_for_typing(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for an app that cannot scan."""
    from base64 import b32encode

    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[at : at + 4] for at in range(0, len(text), 4))


@transaction.atomic
def confirm_enrolment(device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the app with a code it shows; its other devices go, fresh recovery codes
    come. The codes (shown once), or ``None`` if the code was wrong."""
    if not device.verify_token(_digits(code)):
        return None
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return new_recovery_codes(device.user)


@transaction.atomic
def new_recovery_codes(user) -> list[str]:
    """Ten new single-use codes; the earlier ones stop working."""
    device, _ = StaticDevice.objects.get_or_create(user=user, name=RECOVERY_DEVICE)
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def verify(user, code: str):
    """The device that accepts ``code`` (an app's 6 digits, or a recovery code, used up),
    or ``None``; and whether that device was refusing attempts for now already. Each
    device throttles its own failures (django-otp: a wait that doubles), so a mistyped
    app code does not hold back the recovery codes, nor the reverse."""
    token, devices = _token_and_devices(user, code)
    throttled = any(not device.verify_is_allowed()[0] for device in devices)
    for device in devices:
        accepted = django_otp.verify_token(user, device.persistent_id, token)
        if accepted is not None:
            return accepted, throttled
    return None, throttled


def _token_and_devices(user, code: str):
    token = _digits(code)
    if token.isdigit():
        return token, list(TOTPDevice.objects.filter(user=user, confirmed=True))
    return token.lower(), list(StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE))


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__name=RECOVERY_DEVICE).count()


def remove(user) -> None:
    """Forget the person's app and recovery codes (they set up a new one at sign-in)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


@transaction.atomic
def reset(user) -> None:
    """A district admin's reset (a lost phone): the factor goes, and every session it
    verified ends with it, the one on the lost phone among them."""
    remove(user)
    end_sessions(user)


def _digits(code: str) -> str:
    return "".join(code.split())


@receiver(user_logged_in)
def _remember_enrolment(sender, request, user, **kwargs):
    """At sign-in: whether this session must give a second factor before anything else
    (``login`` has just started a new session: nothing is verified yet)."""
    if request is not None and hasattr(request, "session"):
        request.session[ENROLLED_SESSION_KEY] = is_enrolled(user)
        request.session[LAST_SEEN_SESSION_KEY] = time.time()
