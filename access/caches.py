"""Where cached access results live: this process's memory in front of the shared cache.

Keys name the cache epochs they were computed under (access/epochs.py), so an entry is
never stale, only unused: a copy kept in the process is as good as the shared one and
saves the round trip to Redis for a hot key (one teacher's roster, polled by an app).
Without Redis the shared cache is already this process's memory, and the local tier
is Django's dummy cache.
"""

from __future__ import annotations

from django.core.cache import caches

SHARED, LOCAL = "default", "access-local"


def get(key: str):
    value = caches[LOCAL].get(key)
    if value is None:
        value = caches[SHARED].get(key)
        if value is not None:
            caches[LOCAL].set(key, value)
    return value


def get_many(keys: list[str]) -> dict:
    found = caches[LOCAL].get_many(keys)
    missing = [key for key in keys if key not in found]
    if missing:
        shared = caches[SHARED].get_many(missing)
        caches[LOCAL].set_many(shared)
        found.update(shared)
    return found


def put(key: str, value, seconds: int) -> None:
    caches[SHARED].set(key, value, seconds)
    caches[LOCAL].set(key, value, seconds)


def put_many(values: dict, seconds: int) -> None:
    caches[SHARED].set_many(values, seconds)
    caches[LOCAL].set_many(values, seconds)
