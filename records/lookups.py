"""``field__any=[...]``: membership in a list of ids passed as ONE parameter.

On PostgreSQL it is ``field = ANY(%s)`` with the list sent as an array, which
spares Django preparing and the driver quoting each of a page's hundreds of ids;
elsewhere it is the ordinary ``IN (...)``.
"""

from __future__ import annotations

from django.db.models import ForeignKey, IntegerField, Lookup
from django.db.models.fields import BigAutoField, BigIntegerField


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids = [int(item) for item in self.rhs]
        return f"{lhs} = ANY(%s::bigint[])", [*lhs_params, ids]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids = [int(item) for item in self.rhs]
        if not ids:
            return "1 = 0", []
        placeholders = ", ".join(["%s"] * len(ids))
        return f"{lhs} IN ({placeholders})", [*lhs_params, *ids]


for field_class in (IntegerField, BigIntegerField, BigAutoField, ForeignKey):
    field_class.register_lookup(AnyOf)
