"""Tenant scoping: every query on a district's rows names the district.

The district in force is held in a context variable set per request (by the
viewer middleware) or per job (``with tenant_scope(district):``). The default
manager of every tenant model filters by it, and with no district in context it
answers no rows: tenant code fails closed, never open.

``Model.unscoped`` is the explicit escape hatch for code that is deliberately
cross-tenant (migrations, the importer's district lookup, benchmarks); its name
makes every such use visible in review.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from django.db import models

_current_district_id: ContextVar[int | None] = ContextVar("current_district_id", default=None)


def current_district_id() -> int | None:
    return _current_district_id.get()


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


class TenantQuerySet(models.QuerySet):
    def for_district(self, district) -> TenantQuerySet:
        return self.filter(district_id=getattr(district, "pk", district))


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Default manager of tenant models: rows of the district in context, or none."""

    def get_queryset(self) -> TenantQuerySet:
        queryset = super().get_queryset()
        district_id = current_district_id()
        if district_id is None:
            return queryset.none()
        return queryset.filter(district_id=district_id)


class UnscopedManager(models.Manager.from_queryset(TenantQuerySet)):
    """Every district's rows. Only for code that is cross-tenant on purpose."""


def tenant_constraints(*extra: models.BaseConstraint) -> list[models.BaseConstraint]:
    """A tenant model's constraints: ``UNIQUE (district, id)`` plus its own."""
    return [
        models.UniqueConstraint(
            fields=["district", "id"], name="%(app_label)s_%(class)s_district_id_key"
        ),
        *extra,
    ]


class TenantModel(models.Model):
    """Base of every tenant table: carries ``district`` and ``UNIQUE (district, id)``.

    The composite unique key is what the composite foreign keys of
    ``records/migrations/0002_tenant_keys.py`` point at, so the database itself
    refuses a row tying two districts together.
    """

    # No single-column index: UNIQUE (district, id) and every composite index lead with it.
    district = models.ForeignKey(
        "records.District", on_delete=models.PROTECT, related_name="+", db_index=False
    )

    objects = TenantManager()
    unscoped = UnscopedManager()

    class Meta:
        abstract = True
        # Related-object access (student.district, enrollment.section) follows a key
        # already scoped by the row it starts from, so it need not consult the context.
        base_manager_name = "unscoped"
        constraints = tenant_constraints()
