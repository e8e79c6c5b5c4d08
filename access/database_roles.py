"""The application's own PostgreSQL role: neither superuser nor owner of any table, with
the privileges the web and worker processes need, and on the access log INSERT and
SELECT only.

The owner role (the one ``migrate`` runs as) owns the schema; the application connects
as another role (``manage.py grant_app_role``, run after each ``migrate`` by the compose
file's migrate service). The append-only triggers already refuse UPDATE and DELETE on
the log; without the privileges the application's role is refused before any trigger
runs, and a rewrite of the log needs the owner's credentials, which no web or worker
process holds.
"""

from __future__ import annotations

from django.db import connection

from access.models import AccessEvent, AccessEventStudent, AuditChain
from records import partitions

# Appended, never changed: INSERT and SELECT only.
APPEND_ONLY_TABLES = (AccessEvent._meta.db_table, AccessEventStudent._meta.db_table)
# The chain head is locked (SELECT ... FOR UPDATE) and advanced: UPDATE, never DELETE.
CHAIN_HEAD_TABLE = AuditChain._meta.db_table


def grant_application_role(role: str, *, password: str | None = None) -> list[str]:
    """Make ``role`` (if missing, and given a password, as a login role) and grant it the
    application's privileges on every table and sequence of the schema, as they are now.
    The statements run, for the operator's record."""
    quoted = connection.ops.quote_name(role)
    statements = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
        found = cursor.fetchone()
        if found is None:
            if password is None:
                raise ValueError(f"No role {role!r}: give a password to create it.")
            cursor.execute(f"CREATE ROLE {quoted} LOGIN PASSWORD %s", [password])
            statements.append(f"CREATE ROLE {quoted} LOGIN PASSWORD '…'")
        elif found[0]:
            raise ValueError(f"The role {role!r} is a superuser: the application's must not be.")
        for sql in _grants(quoted):
            cursor.execute(sql)
            statements.append(sql)
    return statements


def _grants(quoted: str) -> list[str]:
    log = ", ".join(connection.ops.quote_name(table) for table in APPEND_ONLY_TABLES)
    head = connection.ops.quote_name(CHAIN_HEAD_TABLE)
    return [
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {log} FROM {quoted}",
        f"REVOKE DELETE, TRUNCATE ON {head} FROM {quoted}",
        # ANALYZE after an import, with the owner's rights (records migration 0019).
        f"GRANT EXECUTE ON FUNCTION studentdata_analyze(regclass) TO {quoted}",
        # Partitions made ahead and expired reads dropped (records/partitions.py).
        *(f"GRANT EXECUTE ON FUNCTION {function} TO {quoted}" for function in partitions.FUNCTIONS),
        # Partitions are read and written through their parent alone (whose grants and
        # append-only rules apply): none by its own name.
        *(
            f"REVOKE ALL ON {connection.ops.quote_name(name)} FROM {quoted}"
            for name in _partitions()
        ),
    ]


def _partitions() -> list[str]:
    """Every partition of the schema, quoted."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relispartition AND c.relkind IN ('r', 'p') "
            "ORDER BY c.relname"
        )
        return [connection.ops.quote_name(name) for (name,) in cursor.fetchall()]
