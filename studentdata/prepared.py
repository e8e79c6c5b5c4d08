"""Statements prepared once per database session, for the few that run on every
request of a provider's client: PostgreSQL then skips parsing and planning them, which
for a short join costs more than running it (1.3 ms against 0.2 ms for the token check).

Needs session-level connections, as Django's are (a pooler in transaction mode would
lose them); a new connection forgets them (``forget``, connected in AccessConfig). On
SQLite (the demo) the statement simply runs.
"""

from __future__ import annotations

import re

from django.db import connection

_PLACEHOLDER = re.compile(r"%s")


def fetch(name: str, sql: str, params) -> list[tuple]:
    """The rows of ``sql`` (``%s`` placeholders, no literal ``%``) for ``params``, run
    as the session's prepared statement ``name``: one ``name`` per SQL text."""
    params = list(params)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(sql, params)
            return cursor.fetchall()
        prepared = getattr(connection, "prepared_statements", None)
        if prepared is None:
            prepared = connection.prepared_statements = {}
        if prepared.get(name) != sql:
            if name in prepared:
                cursor.execute(f"DEALLOCATE {name}")
            numbered = iter(range(1, len(params) + 1))
            statement = _PLACEHOLDER.sub(lambda _: f"${next(numbered)}", sql)
            cursor.execute(f"PREPARE {name} AS {statement}")
            prepared[name] = sql
        arguments = f" ({', '.join(['%s'] * len(params))})" if params else ""
        cursor.execute(f"EXECUTE {name}{arguments}", params)
        return cursor.fetchall()


def forget(sender, connection, **kwargs) -> None:
    """A new database session has no prepared statement."""
    connection.prepared_statements = {}


def _converters(field) -> tuple:
    """The converters the ORM applies to ``field``'s column on this connection: the
    backend's, then the field's (JSON parsed, a datetime made aware on SQLite …)."""
    column = field.get_col(field.model._meta.db_table)
    converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
    return tuple((converter, column) for converter in converters)


# Worked out once per (field or model, backend): the token check converts every request.
_field_converters: dict[tuple, tuple] = {}
_model_columns: dict[tuple, tuple] = {}


def _converters_cached(field) -> tuple:
    key = (field, connection.vendor)
    found = _field_converters.get(key)
    if found is None:
        found = _field_converters[key] = _converters(field)
    return found


def convert(field, value):
    """A column's raw value as the ORM would give it for ``field``."""
    for converter, column in _converters_cached(field):
        value = converter(value, column, connection)
    return value


def _columns_of(model) -> tuple[list[str], list[tuple]]:
    """``model``'s attribute names in column order, and the converters of the columns
    that have any, by offset."""
    key = (model, connection.vendor)
    found = _model_columns.get(key)
    if found is None:
        fields = model._meta.concrete_fields
        found = _model_columns[key] = (
            [field.attname for field in fields],
            [
                (offset, converters)
                for offset, field in enumerate(fields)
                if (converters := _converters_cached(field))
            ],
        )
    return found


def instance(model, row, at: int = 0):
    """A ``model`` instance from its concrete fields' columns in ``row`` (from ``at``),
    converted as the ORM would."""
    names, converted = _columns_of(model)
    values = list(row[at : at + len(names)])
    for offset, converters in converted:
        for converter, column in converters:
            values[offset] = converter(values[offset], column, connection)
    return model.from_db(connection.alias, names, values)
