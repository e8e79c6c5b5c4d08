"""What the report tests share: data built once per module, and the process-wide caches
of published releases emptied before each test (a test's releases roll back with it)."""

from __future__ import annotations

import pytest

from records.seeding import delete_district
from reports import published
from tests.roles import as_owner


@pytest.fixture(autouse=True)
def fresh_published_caches():
    published.forget_everything()


def module_districts(django_db_blocker, build):
    """Run ``build`` (which returns its districts first) outside any test's transaction,
    yield what it made, and delete its districts after the module."""
    with django_db_blocker.unblock():
        made = build()
    yield made
    with django_db_blocker.unblock():
        for district in made[0]:
            with as_owner():
                delete_district(district)
