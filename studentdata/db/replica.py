"""Reads a streaming replica may serve (``DATABASE_REPLICA_URL``; docs/operations.md,
"Read replica"), and the router that sends them there.

What goes to the replica: reads made inside ``replica_reads(reason)`` (a context manager
and decorator; a context variable, so each thread and task has its own) of the tables in
``SERVED_BY_REPLICA``: published report cards and the districts and schools that locate
them, for the public pages and the state analysts' page; the program, attendance and
assessment rows a research extract counts. Everything else reads the primary: any read
outside such a block, any other table inside one, and any read while the primary's
connection is inside a transaction (it may need that transaction's own writes). Writes
always go to the primary; the replica refuses them anyway (a hot standby is read-only).

Access decisions stay on the primary, twice over. The blocks wrap only the reads of
published or counted data, after the view or job has decided who may see it (the state
page asks ``access.aggregates`` before its block; an extract checks the study and its
requester before, and again under a lock after). And the tables that decide access (users,
roles, grants, studies, analysts, students, school memberships, guardian links, the access
log) are not in ``SERVED_BY_REPLICA``: an access check that ran inside a block, such as a
template touching ``request.user``, still reads the primary. So an extract's population,
which students it may hold, is read on the primary (``reports.selectors.extract_records``
reads it from ``SchoolMembership``); the replica reads those students' records, narrowed
by its own copy of the population, and only the primary's students are kept.

The replica lags the primary by its replay delay (usually well under a second). Reads that
tolerate it are the only ones routed: a report card published a moment ago may show a
moment later; published releases never change, so what the replica holds of one is right.
Where lag would be wrong, not late, the read asks again on the primary:
``primary_when_missing`` reads the primary when the replica found nothing (a release or
school it has not replayed yet: a page must not 404 for it), and ``primary_reads`` puts the
primary back in force for a block (the process that just published reads the new release
from the primary, not the old one from the replica).

The replica's connections use the same backend as the primary's
(``studentdata.db.postgresql``): row-level security's settings (``app.district_id``,
``app.system``) are put into each session before its statements, as on the primary. A hot
standby accepts ``set_config``: session settings are not writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connections

PRIMARY = DEFAULT_DB_ALIAS
REPLICA = "replica"

# Tables whose rows, a moment old, decide nothing: what the routed blocks read.
SERVED_BY_REPLICA = frozenset(
    {
        "reports.release",
        "reports.staterelease",
        "records.district",
        "records.school",
        "records.programparticipation",
        "records.attendancerecord",
        "records.attendancemonth",
        "records.assessmentresult",
    }
)

_reason: ContextVar[str | None] = ContextVar("replica_reads", default=None)

T = TypeVar("T")


def replica_configured() -> bool:
    return REPLICA in connections.settings


@contextlib.contextmanager
def replica_reads(reason: str) -> Iterator[None]:
    """Let the block's reads of ``SERVED_BY_REPLICA`` be served by the replica, when one
    is configured. ``reason`` says what is read, and why a moment's lag is harmless."""
    if not reason:
        raise ValueError("replica_reads needs a reason")
    token = _reason.set(reason)
    try:
        yield
    finally:
        _reason.reset(token)


@contextlib.contextmanager
def primary_reads() -> Iterator[None]:
    """Read the primary in the block, inside a ``replica_reads`` block or not."""
    token = _reason.set(None)
    try:
        yield
    finally:
        _reason.reset(token)


def primary_when_missing(read: Callable[[], T | None]) -> T | None:
    """``read()``; when it found nothing and the replica may have answered, ``read()``
    again on the primary: the row may be committed there and not replayed yet."""
    found = read()
    if found is None and _reason.get() is not None and replica_configured():
        with primary_reads():
            found = read()
    return found


class ReplicaRouter:
    """``DATABASE_ROUTERS`` when ``DATABASE_REPLICA_URL`` is set (studentdata/settings.py)."""

    def db_for_read(self, model, **hints) -> str:
        if (
            _reason.get() is None
            or model._meta.label_lower not in SERVED_BY_REPLICA
            or connections[PRIMARY].in_atomic_block
            or not replica_configured()
        ):
            return PRIMARY  # never the replica by way of an instance read there
        return REPLICA

    def db_for_write(self, model, **hints) -> str:
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        if {obj1._state.db, obj2._state.db} <= {PRIMARY, REPLICA}:
            return True  # the same database, one of them a moment behind
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == PRIMARY  # the replica replays the primary's schema
