"""django-axes is gone (sign-in throttling is accounts/sign_in_guard.py): its tables, which
hold past sign-in attempts with usernames and addresses, are dropped where an earlier
version made them. Nothing to do on a database that never had them."""

from django.db import migrations

AXES_TABLES = (
    "axes_accessattempt",
    "axes_accessattemptexpiration",
    "axes_accessfailurelog",
    "axes_accesslog",
)


def drop_axes_tables(apps, schema_editor):
    existing = set(schema_editor.connection.introspection.table_names())
    quote = schema_editor.quote_name
    cascade = " CASCADE" if schema_editor.connection.vendor == "postgresql" else ""
    for table in AXES_TABLES:
        if table in existing:
            schema_editor.execute(f"DROP TABLE {quote(table)}{cascade}")
    schema_editor.execute("DELETE FROM django_migrations WHERE app = 'axes'")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0007_role_changes")]

    operations = [migrations.RunPython(drop_axes_tables, migrations.RunPython.noop)]
