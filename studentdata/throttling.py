"""Counting requests in fixed windows in the shared cache: the rate limit of providers'
API clients (``PROVIDER_RATE_PER_MINUTE``) and of password resets (accounts/views.py)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

from studentdata.authentication import ProviderClient

WINDOW_SECONDS = 60


class ProviderClientThrottle(BaseThrottle):
    """``PROVIDER_RATE_PER_MINUTE`` requests per API client per clock minute, counted
    in the shared cache so that every web process counts together. One increment a
    request, whatever the rate (DRF's own throttles keep and rewrite every request's
    time, which costs a client allowed thousands a minute more than its reads). A
    client over the limit waits for the next minute; people are not limited here."""

    wait_seconds = 0.0

    def allow_request(self, request, view) -> bool:
        if not isinstance(request.user, ProviderClient):
            return True
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        key = f"throttle:provider-client:{request.user.api_client.pk}:{window}"
        count = count_in_window(key, WINDOW_SECONDS)
        self.wait_seconds = WINDOW_SECONDS - now % WINDOW_SECONDS
        return count <= settings.PROVIDER_RATE_PER_MINUTE

    def wait(self) -> float:
        return self.wait_seconds


# INCR starts a missing key at 1; the window's first request sets its expiry. Atomic,
# so a count can never be left without one.
_COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def count_in_window(key: str, window_seconds: int) -> int:
    """Add one to the count under ``key`` (which names its window) and return it; the
    count outlives its window, then expires. On Redis one script call, one round trip
    (Django's ``cache.incr`` asks whether the key exists first, and builds a new client
    each time)."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        script = _script(backend)
        return script(keys=[backend.make_and_validate_key(key)], args=[window_seconds * 2])
    try:
        return cache.incr(key)
    except ValueError:  # the window's first request
        cache.add(key, 0, window_seconds * 2)
        return cache.incr(key)


def over_hourly_limit(name: str, limit: int) -> bool:
    """Whether this request, counted under ``name`` in the current clock hour, is over
    ``limit``."""
    hour = int(time.time() // 3600)
    return count_in_window(f"throttle:{name}:{hour}", 3600) > limit


def _script(backend: RedisCache):
    """The counting script on a client kept with the cache backend (one per process)."""
    script = getattr(backend, "_provider_count_script", None)
    if script is None:
        client = backend._cache.get_client(write=True)
        script = backend._provider_count_script = client.register_script(_COUNT_SCRIPT)
    return script
