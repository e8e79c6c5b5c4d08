"""Django's PostgreSQL compilers, grouping a tenant table's rows by its database key.

Django groups an aggregate's rows by the primary key of each model selected and leaves
out the model's other columns, which PostgreSQL accepts when they depend on the table's
primary key. A tenant table's primary key in the database is ``(district_id, id)``
(records/distribution.py) while the model's is ``id``: the group keeps ``district_id``
beside ``id``, so the other columns still depend on the key.
"""

from __future__ import annotations

from django.db.backends.postgresql import compiler
from django.db.backends.postgresql.compiler import (  # noqa: F401 - the module's API
    SQLAggregateCompiler,
    SQLDeleteCompiler,
    SQLInsertCompiler,
    SQLUpdateCompiler,
)


class SQLCompiler(compiler.SQLCompiler):
    def collapse_group_by(self, expressions, having):
        kept = super().collapse_group_by(expressions, having)
        if not self.connection.features.allows_group_by_selected_pks:
            return kept
        keys = []
        for expression in kept:
            target = getattr(expression, "target", None)
            if target is None or not target.primary_key or not _keyed_by_district(target.model):
                continue
            district = target.model._meta.get_field("district").get_col(expression.alias)
            if district not in kept and district not in keys:
                keys.append(district)
        return [*kept, *keys]


def _keyed_by_district(model) -> bool:
    from records.tenancy import TenantModel

    return issubclass(model, TenantModel)
