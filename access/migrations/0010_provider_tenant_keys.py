from django.db import migrations

from records.composite_keys import add_composite_tenant_keys

# Provider grants decide who sees whom, but a provider's viewer is built on every request
# and never cached: these tables are in records.cache_epochs.UNCACHED_TABLES.


def compact_disclosure_index(apps, schema_editor):
    """A family finds its child's provider disclosures in the events' id arrays."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX access_event_disclosed_idx ON access_accessevent "
        "USING gin (disclosed_student_ids jsonb_path_ops) "
        "WHERE grant_id IS NOT NULL"
    )


def drop_compact_disclosure_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS access_event_disclosed_idx")


class Migration(migrations.Migration):
    dependencies = [("access", "0009_providers")]

    operations = [
        add_composite_tenant_keys(
            "access.ProviderContact",
            "access.ProviderMember",
            "access.ApiClient",
            "access.Agreement",
            "access.Grant",
            "access.DispositionAttestation",
            "access.CsvDelivery",
        ),
        add_composite_tenant_keys("access.AccessEvent", only=("grant",)),
        migrations.RunPython(compact_disclosure_index, drop_compact_disclosure_index),
    ]
