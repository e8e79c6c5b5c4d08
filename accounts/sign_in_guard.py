"""Failed sign-ins, throttled two ways, with backoff instead of a fixed lock.

- Per account, whatever the address: ``SIGN_IN_ACCOUNT_FAILURES`` failures hold the
  account back, so guessing one person's password from many addresses is slow.
- Per client address, whatever the username: ``SIGN_IN_NETWORK_FAILURES`` failures hold
  the address back, so trying one password on many usernames (spraying) is slow. The
  limit is higher: a school's staff share one address.

A hold is short and grows: ``SIGN_IN_BACKOFF_SECONDS`` after the failure that reaches
the limit, doubled by each failure after it, never more than
``SIGN_IN_BACKOFF_MAX_MINUTES``. While held, the password is not checked at all (a right
one is refused too, so a hold tells nothing). Failures are forgotten after
``SIGN_IN_FORGET_MINUTES`` without one; a successful sign-in forgets the account's (not
the address's: an attacker's own account must not clear the address). A district admin
can release an account (``release``: the staff page, ``manage.py release_sign_in``).
Whoever signs in after failures on their account is told how many there were.

``SignInGuardBackend`` (first in ``AUTHENTICATION_BACKENDS``) refuses a held sign-in
before any password is checked, whichever form asked; the ``user_login_failed`` and
``user_logged_in`` signals count and forget. Counts live in the shared cache (Redis in
production): a hold binds every web process.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.utils.translation import ngettext

ACCOUNT, NETWORK = "account", "network"


@dataclass(frozen=True)
class Hold:
    """Why sign-in is held back (``ACCOUNT`` or ``NETWORK``) and for how long."""

    reason: str
    seconds: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.seconds / 60))


def hold_for(username: str, address: str) -> Hold | None:
    """The longer hold on this username or this address now, if either is held."""
    now = time.time()
    holds = [
        Hold(reason, math.ceil(wait))
        for reason, key, limit in _counters(username, address)
        if (wait := _wait(key, limit, now)) > 0
    ]
    return max(holds, key=lambda hold: hold.seconds, default=None)


def record_failure(username: str, address: str) -> None:
    """One more failed sign-in for this username and for this address."""
    forget = settings.SIGN_IN_FORGET_MINUTES * 60
    now = time.time()
    for _, key, _ in _counters(username, address):
        if not cache.add(f"{key}:n", 1, forget):
            try:
                cache.incr(f"{key}:n")
            except ValueError:  # forgotten between the two calls
                cache.set(f"{key}:n", 1, forget)
            cache.touch(f"{key}:n", forget)
        cache.set(f"{key}:at", now, forget)


def failures_of(username: str) -> int:
    """The failed sign-ins of this username not yet forgotten."""
    return cache.get(f"{_account_key(username)}:n") or 0


def release(username: str) -> None:
    """Forget the account's failures: it may sign in at once (from an address not held)."""
    key = _account_key(username)
    cache.delete_many([f"{key}:n", f"{key}:at"])


def release_network(address: str) -> None:
    """Forget a client address's failures (an operator's decision: ``release_sign_in``)."""
    key = _network_key(address)
    cache.delete_many([f"{key}:n", f"{key}:at"])


def account_holds(usernames) -> dict[str, Hold]:
    """The accounts among ``usernames`` held back now, in one cache round trip."""
    keys = {username: _account_key(username) for username in usernames}
    found = cache.get_many([f"{key}:{part}" for key in keys.values() for part in ("n", "at")])
    now, limit = time.time(), settings.SIGN_IN_ACCOUNT_FAILURES
    holds = {}
    for username, key in keys.items():
        wait = _remaining(found.get(f"{key}:n") or 0, found.get(f"{key}:at", now), limit, now)
        if wait > 0:
            holds[username] = Hold(ACCOUNT, math.ceil(wait))
    return holds


def backoff_seconds(excess: int) -> float:
    """The hold after the failure ``excess`` failures past the one reaching the limit."""
    ceiling = settings.SIGN_IN_BACKOFF_MAX_MINUTES * 60
    return min(settings.SIGN_IN_BACKOFF_SECONDS * 2 ** min(excess, 32), ceiling)


def _wait(key: str, limit: int, now: float) -> float:
    found = cache.get_many([f"{key}:n", f"{key}:at"])
    return _remaining(found.get(f"{key}:n") or 0, found.get(f"{key}:at", now), limit, now)


def _remaining(failures: int, last_failure: float, limit: int, now: float) -> float:
    """Seconds of hold left after ``failures``, the last at ``last_failure``."""
    if failures < limit:
        return 0.0
    return backoff_seconds(failures - limit) - (now - last_failure)


def _counters(username: str, address: str) -> list[tuple[str, str, int]]:
    return [
        (ACCOUNT, _account_key(username), settings.SIGN_IN_ACCOUNT_FAILURES),
        (NETWORK, _network_key(address), settings.SIGN_IN_NETWORK_FAILURES),
    ]


def _account_key(username: str) -> str:
    # Hashed: a username is often a student's name, and cache keys show in tools.
    return "sign-in:account:" + hashlib.sha256(username.strip().lower().encode()).hexdigest()


def _network_key(address: str) -> str:
    return f"sign-in:network:{address}"


def client_address(request) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind ``FORWARDED_PROXY_COUNT`` proxies
    that each append the address they were reached from to ``X-Forwarded-For``, the
    entry the outermost of them appended (what a client writes there itself comes
    earlier, and is never trusted)."""
    proxies = settings.FORWARDED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    if not proxies:
        return remote
    chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    chain = [part for part in chain if part]
    return chain[-proxies] if len(chain) >= proxies else remote


class SignInGuardBackend:
    """Refuses a held username or address before any backend checks a password. It has
    no ``get_user``: it never signs anyone in, so no session names it as its backend."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or username is None:
            return None
        hold = hold_for(username, client_address(request))
        if hold is not None:
            request.sign_in_hold = hold
            raise PermissionDenied  # ends authenticate(): no other backend is asked
        return None


@receiver(user_login_failed)
def _count_failure(sender, credentials, request=None, **kwargs):
    username = credentials.get("username")
    if request is None or username is None or getattr(request, "sign_in_hold", None):
        return  # a refusal while held is no new failure
    address = client_address(request)
    record_failure(username, address)
    # The failure that reaches a limit already answers with the hold.
    request.sign_in_hold = hold_for(username, address)


@receiver(user_logged_in)
def _forget_failures(sender, request, user, **kwargs):
    username = user.get_username()
    failures = failures_of(username)
    if not failures:
        return
    release(username)
    if request is not None:
        messages.warning(
            request,
            ngettext(
                "Before this sign-in, %(count)d attempt to sign in to your account failed. "
                "If it was not you, change your password.",
                "Before this sign-in, %(count)d attempts to sign in to your account failed. "
                "If they were not yours, change your password.",
                failures,
            )
            % {"count": failures},
            fail_silently=True,
        )
