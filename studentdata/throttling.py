"""The rate limit of providers' API clients (``PROVIDER_RATE_PER_MINUTE``)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
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
        try:
            count = cache.incr(key)
        except ValueError:  # the window's first request
            cache.add(key, 0, WINDOW_SECONDS * 2)
            count = cache.incr(key)
        self.wait_seconds = WINDOW_SECONDS - now % WINDOW_SECONDS
        return count <= settings.PROVIDER_RATE_PER_MINUTE

    def wait(self) -> float:
        return self.wait_seconds
