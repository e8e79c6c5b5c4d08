"""Cache epochs, the writing side: for long transactions that change a district.

The triggers of access/migrations/0007_cache_epochs.py move a district's epoch on every
write that could change what a cached access decision or student shows (read side and
the why: access/epochs.py). Each bump locks the district's epoch row until commit, so
an import holding it for its whole run would make every other writer of the district
wait. Importers run inside ``deferred`` instead: the triggers stand aside and the
epoch moves once, just before commit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import DatabaseError, connection

DEFER_SETTING = "studentdata.defer_cache_epochs"


def bump_district(district_id: int) -> None:
    """Move the district's epoch forward: every cached result of it misses from now."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO access_cacheepoch (district_id, value) "
            "VALUES (%s, nextval('access_cache_epoch_seq')) "
            "ON CONFLICT (district_id) DO UPDATE SET value = EXCLUDED.value",
            [district_id],
        )


@contextlib.contextmanager
def deferred(district_id: int) -> Iterator[None]:
    """Inside ``transaction.atomic``: the triggers stand aside for the block and the
    district's epoch moves once at its end, whether the block finished or failed (a
    caller may catch the failure and commit what was written before it)."""
    if connection.vendor != "postgresql":
        yield
        return
    _set_deferred("on")
    try:
        yield
    except BaseException:
        # An aborted transaction refuses every statement and will roll back anyway.
        with contextlib.suppress(DatabaseError):
            _set_deferred("")
            bump_district(district_id)
        raise
    _set_deferred("")
    bump_district(district_id)


def _set_deferred(value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [DEFER_SETTING, value])
