"""Custom lookups. ``field__any=[...]``: membership in a list of ids passed as ONE parameter.

On PostgreSQL it is ``field = ANY(%s)`` with the list sent as an array, which
spares Django preparing and the driver quoting each of a page's hundreds of ids;
elsewhere it is the ordinary ``IN (...)``.

``field__any=<a one-column QuerySet>`` is ``field = ANY(ARRAY(subquery))`` on
PostgreSQL: the subquery runs once, first, and its ids are then looked up by index.
Unlike ``IN (subquery)``, which the planner may turn into any join, that shape keeps a
good plan when the tables have no statistics yet (a district just imported). For small
sets only: a roster, a family. Elsewhere it is ``IN (subquery)``.
"""

from __future__ import annotations

from django.db.models import ForeignKey, IntegerField, JSONField, Lookup
from django.db.models.fields import BigAutoField, BigIntegerField


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def _is_subquery(self) -> bool:
        return hasattr(self.rhs, "as_sql")

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if self._is_subquery():
            rhs, rhs_params = self.process_rhs(compiler, connection)
            return f"{lhs} = ANY(ARRAY{rhs})", [*lhs_params, *rhs_params]
        ids = [int(item) for item in self.rhs]
        return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, ids]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if self._is_subquery():
            rhs, rhs_params = self.process_rhs(compiler, connection)
            return f"{lhs} IN {rhs}", [*lhs_params, *rhs_params]
        ids = [int(item) for item in self.rhs]
        if not ids:
            return "1 = 0", []
        placeholders = ", ".join(["%s"] * len(ids))
        return f"{lhs} IN ({placeholders})", [*lhs_params, *ids]


for field_class in (IntegerField, BigIntegerField, BigAutoField, ForeignKey):
    field_class.register_lookup(AnyOf)


class HoldsId(Lookup):
    """``json_field__holds_id=5``: a JSON array of ids holds this one (a provider
    disclosure's students). PostgreSQL: ``@>``, served by a GIN index; SQLite (the demo):
    a scan of the array with ``json_each``."""

    lookup_name = "holds_id"
    prepare_rhs = False

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} @> %s::jsonb", [*lhs_params, f"[{int(self.rhs)}]"]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return (
            f"EXISTS (SELECT 1 FROM json_each({lhs}) WHERE json_each.value = %s)",  # noqa: S608
            [*lhs_params, int(self.rhs)],
        )


JSONField.register_lookup(HoldsId)
