"""Where cached access results live.

Two tiers. **Shared** (Django's default cache: Redis in production) holds access
decisions only: a viewer's routes and a page's student ids with what is allowed of
each, never a student's record. Each value is pickled and signed with ``SECRET_KEY``
(HMAC-SHA256) with its expiry, so an entry planted in Redis by anyone without the key
is ignored, never unpickled. **Local** (each process's memory) holds the same
decisions once read, for their remaining lifetime, and is the only place projected
students and rendered pages are kept: student records never leave the process for
the cache.

Keys name the cache epochs they were computed under (access/epochs.py), so an entry
is never stale, only unused. Without Redis both tiers are this process's memory.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import pickle
import time

from django.conf import settings
from django.core.cache import caches

SHARED, LOCAL = "default", "access-local"


def _mac(payload: bytes) -> bytes:
    return hmac.new(_key(settings.SECRET_KEY), payload, hashlib.sha256).digest()


@functools.cache
def _key(secret: str) -> bytes:
    """This module's own key, derived from the secret (not the secret itself)."""
    return hashlib.sha256(b"studentdata.access.caches" + secret.encode()).digest()


def _sealed(value, seconds: int) -> bytes:
    payload = pickle.dumps((time.time() + seconds, value), protocol=pickle.HIGHEST_PROTOCOL)
    return _mac(payload) + payload


def _opened(sealed) -> tuple[float, object] | None:
    """The value and its expiry, if ``sealed`` is ours and unexpired; else None."""
    if not isinstance(sealed, bytes) or len(sealed) < 32:
        return None
    mac, payload = sealed[:32], sealed[32:]
    if not hmac.compare_digest(mac, _mac(payload)):
        return None
    expires, value = pickle.loads(payload)  # noqa: S301 - signed by us, checked above
    return (expires, value) if expires > time.time() else None


def get(key: str):
    """A decision from this process's memory, else from the shared cache (kept locally
    for the rest of its lifetime, not longer)."""
    value = caches[LOCAL].get(key)
    if value is not None:
        return value
    opened = _opened(caches[SHARED].get(key))
    if opened is None:
        return None
    expires, value = opened
    caches[LOCAL].set(key, value, max(1, int(expires - time.time())))
    return value


def put(key: str, value, seconds: int) -> None:
    """An access decision (no student record) into both tiers."""
    caches[SHARED].set(key, _sealed(value, seconds), seconds)
    caches[LOCAL].set(key, value, seconds)


def get_local(key: str):
    return caches[LOCAL].get(key)


def get_many_local(keys: list[str]) -> dict:
    return caches[LOCAL].get_many(keys)


def put_local(key: str, value, seconds: int) -> None:
    """Student records (projected, rendered): this process's memory only."""
    caches[LOCAL].set(key, value, seconds)


def put_many_local(values: dict, seconds: int) -> None:
    caches[LOCAL].set_many(values, seconds)
