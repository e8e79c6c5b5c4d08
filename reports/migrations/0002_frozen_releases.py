"""A published release never changes (REQUIREMENTS 15): PostgreSQL refuses an UPDATE or
DELETE of a published row, and a release's links stay within its district."""

from django.db import migrations

from records.composite_keys import add_composite_tenant_keys

FUNCTION = """
CREATE OR REPLACE FUNCTION reports_release_frozen() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'published' THEN
        RAISE EXCEPTION 'a published release never changes (% of release %)', TG_OP, OLD.id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    schema_editor.execute(
        'CREATE TRIGGER "reports_release_frozen" BEFORE UPDATE OR DELETE ON "reports_release" '
        "FOR EACH ROW EXECUTE FUNCTION reports_release_frozen()"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute('DROP TRIGGER IF EXISTS "reports_release_frozen" ON "reports_release"')
    schema_editor.execute("DROP FUNCTION IF EXISTS reports_release_frozen()")


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]

    operations = [
        add_composite_tenant_keys("reports.Release"),
        migrations.RunPython(forwards, backwards),
    ]
