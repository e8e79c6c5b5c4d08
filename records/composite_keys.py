"""Composite tenant foreign keys: ``(district_id, x_id) → parent (district_id, id)``.

Django's own foreign key checks that the parent row exists; this second key checks
that it is in the same district, so the database refuses any row that ties two
districts together (DESIGN section 4). PostgreSQL only: the SQLite demo relies on
the application's checks. Migrations call ``add_composite_tenant_keys`` for the
models they create; ``tests/test_tenancy.py`` fails if a tenant link lacks its key.
"""

from __future__ import annotations

from django.db import migrations, models


def tenant_links(model) -> list[models.ForeignKey]:
    """The foreign keys of ``model`` that join two rows which both carry a district."""
    if not any(f.name == "district" for f in model._meta.concrete_fields):
        return []
    links = []
    for field in model._meta.concrete_fields:
        if not isinstance(field, models.ForeignKey) or field.name == "district":
            continue
        target = field.remote_field.model
        if any(f.name == "district" for f in target._meta.concrete_fields):
            links.append(field)
    return links


def constraint_name(model, field) -> str:
    return f"{model._meta.db_table}_{field.column}_tenant_fk"[:63]


def add_composite_tenant_keys(
    *model_labels: str, only: tuple[str, ...] = ()
) -> migrations.RunPython:
    """The composite keys of the models' tenant links (``only``: of those fields alone,
    for a link added to an existing model)."""

    def links(model):
        return [f for f in tenant_links(model) if not only or f.name in only]

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for label in model_labels:
            model = apps.get_model(label)
            for field in links(model):
                target = field.remote_field.model._meta.db_table
                schema_editor.execute(
                    f'ALTER TABLE "{model._meta.db_table}" '
                    f'ADD CONSTRAINT "{constraint_name(model, field)}" '
                    f'FOREIGN KEY ("district_id", "{field.column}") '
                    f'REFERENCES "{target}" ("district_id", "id") '
                    "DEFERRABLE INITIALLY DEFERRED"
                )

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for label in model_labels:
            model = apps.get_model(label)
            for field in links(model):
                schema_editor.execute(
                    f'ALTER TABLE "{model._meta.db_table}" '
                    f'DROP CONSTRAINT IF EXISTS "{constraint_name(model, field)}"'
                )

    return migrations.RunPython(forwards, backwards, elidable=False)
