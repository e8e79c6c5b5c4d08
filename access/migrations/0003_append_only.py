"""The access log is append-only: PostgreSQL refuses UPDATE, DELETE and TRUNCATE on it.

TRUNCATE is let through only in a database whose ``studentdata.allow_truncate``
setting is ``on``: the test databases, which Django empties between transactional
tests. No production database sets it.
"""

from django.db import migrations

TABLES = ("access_accessevent", "access_accesseventstudent")

FUNCTION = """
CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND coalesce(current_setting('studentdata.allow_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the access log is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
            "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()"
        )
        schema_editor.execute(
            f'CREATE TRIGGER "{table}_no_truncate" BEFORE TRUNCATE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"')
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_no_truncate" ON "{table}"')
    schema_editor.execute("DROP FUNCTION IF EXISTS access_log_append_only()")


class Migration(migrations.Migration):
    dependencies = [("access", "0002_initial"), ("records", "0002_tenant_keys")]

    operations = [migrations.RunPython(forwards, backwards)]
