"""Tenant scoping: every query on a district's rows names the district.

The district in force is held in a context variable set per request (by the
viewer middleware) or per job (``with tenant_scope(district):``). The default
manager of every tenant model filters by it, and with no district in context it
answers no rows: tenant code fails closed, never open.

``Model.unscoped`` is the explicit escape hatch for code that needs no default
filter: it still sees only the district in force, because PostgreSQL's row-level
security (records/row_security.py) applies the same rule below the ORM. Code that
is cross-district on purpose (sign-in, a provider's token check, state releases,
migrations) says so with ``with system_scope(reason):``, which is logged.

Every entry point (a request, a Celery task) starts from ``entry_scope()``: no
district and no system context, whatever its caller had in force.
"""

from __future__ import annotations

from django.db import models

from records.tenant_context import (  # noqa: F401  (the tenancy API, used from here)
    current_district_id,
    current_system_reason,
    entry_scope,
    in_current_context,
    system_scope,
    tenant_scope,
)


def district_of(model: type[TenantModel], pk) -> int | None:
    """The district of one tenant row, read in the system context: how a job given a
    row's id learns which district to work in. None if there is no such row."""
    with system_scope(f"find the district of {model._meta.label} {pk}"):
        return model.unscoped.filter(pk=pk).values_list("district_id", flat=True).first()


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
