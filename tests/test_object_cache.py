"""``studentdata.object_cache.ObjectCache``: LocMemCache semantics, values not copied."""

from __future__ import annotations

import time

import pytest

from studentdata.object_cache import ObjectCache


@pytest.fixture
def cache():
    store = ObjectCache("test-object-cache", {"OPTIONS": {"MAX_ENTRIES": 3}})
    store.clear()
    return store


def test_a_value_comes_back_as_the_same_object(cache):
    body = b"x" * 1000
    cache.set("page", body, 30)
    assert cache.get("page") is body
    assert cache.get("missing", "default") == "default"


def test_an_expired_value_is_gone_and_add_only_fills_a_missing_key(cache, monkeypatch):
    assert cache.add("k", 1, 30) and not cache.add("k", 2, 30)
    assert cache.get("k") == 1
    later = time.time() + 31
    monkeypatch.setattr(time, "time", lambda: later)
    assert cache.get("k") is None
    assert cache.add("k", 3, 30) and cache.get("k") == 3


def test_incr_and_the_entry_bound(cache):
    cache.set("n", 1, 30)
    assert cache.incr("n") == 2 and cache.get("n") == 2
    with pytest.raises(ValueError):
        cache.incr("absent")
    for i in range(10):
        cache.set(f"e{i}", i, 30)
    assert sum(cache.get(f"e{i}") is not None for i in range(10)) <= 3
