"""Codes an authenticator app would show, for tests that sign in through the forms."""

from __future__ import annotations

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import second_factor


def app_code(device: TOTPDevice) -> str:
    """The code the app shows now. The device refuses a code it has accepted before, and
    waits after a wrong one: each call forgets both (as if the next 30 seconds had begun
    and the wait were over)."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        last_t=-1, throttling_failure_count=0, throttling_failure_timestamp=None
    )
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{code:0{device.digits}d}"


def enrolled(user) -> tuple[TOTPDevice, list[str]]:
    """``user`` with an authenticator app set up: the device and its recovery codes."""
    device = second_factor.enrolment_device(user)
    codes = second_factor.confirm_enrolment(device, app_code(device))
    device.refresh_from_db()
    return device, codes
