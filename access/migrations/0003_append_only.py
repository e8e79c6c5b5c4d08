"""The access log is append-only, and its chain head only moves forward.

PostgreSQL refuses UPDATE, DELETE and TRUNCATE on the events and their students,
and any change to a district's chain head other than advancing it by exactly one
event. Together with the hash chain (access/audit.py) this makes the log
tamper-evident to anyone but a database owner who drops the triggers.
"""

from django.db import migrations

LOG_TABLES = ("access_accessevent", "access_accesseventstudent")
CHAIN_TABLE = "access_auditchain"

FUNCTIONS = """
CREATE OR REPLACE FUNCTION access_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION access_chain_forward_only() RETURNS trigger AS $$
BEGIN
    IF NEW.district_id <> OLD.district_id OR NEW.last_sequence <> OLD.last_sequence + 1 THEN
        RAISE EXCEPTION 'the access log chain head only moves forward by one event';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def triggers(table: str) -> list[tuple[str, str, str]]:
    """(name, timing and events, function) of each trigger on ``table``."""
    if table == CHAIN_TABLE:
        return [
            (f"{table}_forward_only", "BEFORE UPDATE", "access_chain_forward_only() "),
            (f"{table}_no_delete", "BEFORE DELETE", "access_log_append_only() "),
            (f"{table}_no_truncate", "BEFORE TRUNCATE", "access_log_append_only() "),
        ]
    return [
        (f"{table}_append_only", "BEFORE UPDATE OR DELETE", "access_log_append_only() "),
        (f"{table}_no_truncate", "BEFORE TRUNCATE", "access_log_append_only() "),
    ]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTIONS, params=None)
    for table in (*LOG_TABLES, CHAIN_TABLE):
        for name, when, function in triggers(table):
            level = "STATEMENT" if "TRUNCATE" in when else "ROW"
            schema_editor.execute(
                f'CREATE TRIGGER "{name}" {when} ON "{table}" '
                f"FOR EACH {level} EXECUTE FUNCTION {function.strip()}"
            )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in (*LOG_TABLES, CHAIN_TABLE):
        for name, _, _ in triggers(table):
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"')
    schema_editor.execute("DROP FUNCTION IF EXISTS access_log_append_only()")
    schema_editor.execute("DROP FUNCTION IF EXISTS access_chain_forward_only()")


class Migration(migrations.Migration):
    dependencies = [("access", "0002_initial"), ("records", "0002_tenant_keys")]

    operations = [migrations.RunPython(forwards, backwards)]
