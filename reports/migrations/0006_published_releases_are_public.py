"""A published release is public: anyone may read it, whatever district is in force
(the public pages, the state's aggregates). Previews and discarded builds stay their
district's alone, under the tenant policy of 0005. Read only: writing still needs the
district (or the system context)."""

from django.db import migrations

POLICY = "published_releases_are_public"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE POLICY {POLICY} ON reports_release FOR SELECT USING (status = 'published')"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY} ON reports_release")


class Migration(migrations.Migration):
    dependencies = [("reports", "0005_row_security")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
