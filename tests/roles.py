"""Acting as another database role inside a test (tests/conftest.py makes the suite's
connections act as a role that is neither superuser nor owner)."""

from __future__ import annotations

import contextlib

from django.db import connection


@contextlib.contextmanager
def acting_as(role: str):
    """Run the block as ``role`` ("NONE": the configured user, who owns the tables)."""
    name = role if role == "NONE" else connection.ops.quote_name(role)
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {name}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")  # back to the role the connection started as


def as_owner():
    """The configured user: the tables' owner (and, here, a superuser)."""
    return acting_as("NONE")
