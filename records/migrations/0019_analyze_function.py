"""``studentdata_analyze(table)``: ANALYZE one of the schema's tables with its owner's
rights. Only a table's owner may ANALYZE it, and the application's role owns nothing
(access/database_roles.py), yet an import must refresh the planner's statistics of the
tables it changed (records/importers/analyze.py). SECURITY DEFINER with a fixed
search_path, for tables of this schema only; EXECUTE is granted by grant_app_role."""

from django.db import migrations

CREATE = """
CREATE FUNCTION studentdata_analyze(target regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found record;
BEGIN
    SELECT n.nspname, c.relname INTO found FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = target AND c.relkind IN ('r', 'p');
    IF found IS NULL OR found.nspname <> '{schema}' THEN
        RAISE EXCEPTION 'studentdata_analyze: % is not a table of this schema', target;
    END IF;
    EXECUTE format('ANALYZE %I.%I', found.nspname, found.relname);
END $$;
REVOKE ALL ON FUNCTION studentdata_analyze(regclass) FROM PUBLIC;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT current_schema()")
            [schema] = cursor.fetchone()
        schema_editor.execute(CREATE.replace("{schema}", schema), None)  # None: no % escapes


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS studentdata_analyze(regclass)")


class Migration(migrations.Migration):
    dependencies = [("records", "0018_row_security")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
