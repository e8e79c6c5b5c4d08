"""Which district is in force, and whether the system context is: context variables set
per request and per job (records/tenancy.py explains the rule). No Django models here:
the database backend reads these before any model is loaded.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

_current_district_id: ContextVar[int | None] = ContextVar("current_district_id", default=None)
_system_reason: ContextVar[str | None] = ContextVar("system_reason", default=None)

system_log = logging.getLogger("studentdata.system_context")


def current_district_id() -> int | None:
    return _current_district_id.get()


def current_system_reason() -> str | None:
    """Why the code running now may read every district's rows, or None."""
    return _system_reason.get()


@contextlib.contextmanager
def system_scope(reason: str, *, every_request: bool = False) -> Iterator[None]:
    """Run the block in the system context: row-level security lets it read and write
    every district's rows. ``reason`` names the cross-district work for the log; a step
    of ``every_request`` (finding whose a credential is) logs at DEBUG, not INFO."""
    if not reason:
        raise ValueError("system_scope needs a reason")
    system_log.log(logging.DEBUG if every_request else logging.INFO, "system context: %s", reason)
    token = _system_reason.set(reason)
    try:
        yield
    finally:
        _system_reason.reset(token)


@contextlib.contextmanager
def entry_scope() -> Iterator[None]:
    """Run the block as an entry point does: no district and no system context in force."""
    district_token = _current_district_id.set(None)
    system_token = _system_reason.set(None)
    try:
        yield
    finally:
        _system_reason.reset(system_token)
        _current_district_id.reset(district_token)


def in_current_context(iterable: Iterable) -> Iterator:
    """``iterable``'s items, each produced in the context in force now (district and
    system context): for a streamed response's body, which the server reads after the
    view and its scopes have returned."""
    return _run_each_in(contextvars.copy_context(), iter(iterable))  # copied now, not later


def _run_each_in(context: contextvars.Context, iterator: Iterator) -> Iterator:
    while True:
        try:
            item = context.run(next, iterator)
        except StopIteration:
            return
        yield item


@contextlib.contextmanager
def tenant_scope(district) -> Iterator[None]:
    """Run the block with ``district`` (a District or its id) as the tenant in force."""
    district_id = getattr(district, "pk", district)
    if district_id is None:
        raise ValueError("tenant_scope needs a saved district")
    token = _current_district_id.set(district_id)
    try:
        yield
    finally:
        _current_district_id.reset(token)
