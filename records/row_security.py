"""PostgreSQL row-level security: the database's own copy of the tenant rule.

Every tenant table (records.tenancy.TenantModel) has row-level security enabled and
forced, with one policy: a row is visible, and may be written, only when its
``district_id`` is the session's ``app.district_id``, or when ``app.system`` is
``on``. With neither set, no rows: it fails closed, as the ORM's default manager does.
A query that forgets its district filter (``Model.unscoped`` in a view, raw SQL) still
sees only the viewer's district.

The two settings follow the Python context (``tenant_scope``, ``system_scope``): the
database backend (studentdata/db/postgresql) compares them with what the session
holds before each statement and, when they differ, sets them in the same round trip.
A superuser, or a role with BYPASSRLS, is not subject to any of this: production's
application role is neither (access/database_roles.py).

New tenant tables get their policy from a migration operation, ``EnableRowSecurity``;
tests/test_row_security.py fails for any tenant table of the live database without it.
"""

from __future__ import annotations

from django.apps import apps
from django.db import migrations

from records.tenant_context import current_district_id, current_system_reason

DISTRICT_SETTING = "app.district_id"
SYSTEM_SETTING = "app.system"
POLICY_NAME = "tenant_isolation"

# Each setting is read once per statement (a sub-select becomes an InitPlan), not once
# per row: a scan then pays one comparison a row (a full scan of 16 million attendance
# rows: 0.70 s against 0.42 s without the policy; 1.3 s reading the settings per row).
# Existing databases keep the condition they were migrated with: a change here needs a
# migration that alters their policies.
POLICY_CONDITION = (
    f"district_id = (SELECT NULLIF(current_setting('{DISTRICT_SETTING}', true), '')::bigint) "
    f"OR (SELECT current_setting('{SYSTEM_SETTING}', true) = 'on')"
)

# What a new database session holds: neither setting.
UNSET = (None, False)


def wanted_settings() -> tuple[int | None, bool]:
    """The (district, system) pair the running code's context asks of the session."""
    return current_district_id(), current_system_reason() is not None


def settings_sql(wanted: tuple[int | None, bool]) -> str:
    """One statement putting ``wanted`` into the session (not only the transaction)."""
    district_id, system = wanted
    district = "" if district_id is None else str(int(district_id))
    return (
        f"SELECT set_config('{DISTRICT_SETTING}', '{district}', false), "
        f"set_config('{SYSTEM_SETTING}', '{'on' if system else 'off'}', false)"
    )


def tenant_tables() -> list[str]:
    """Every installed tenant model's table."""
    from records.tenancy import TenantModel

    return sorted(
        model._meta.db_table
        for model in apps.get_models()
        if issubclass(model, TenantModel) and not model._meta.proxy
    )


_ENABLE = (
    "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
    f"CREATE POLICY {POLICY_NAME} ON {{table}} USING ({POLICY_CONDITION})",
)
_DISABLE = (
    f"DROP POLICY IF EXISTS {POLICY_NAME} ON {{table}}",
    "ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
    "ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
)


class EnableRowSecurity(migrations.operations.base.Operation):
    """Enable and force row-level security on ``table`` with the tenant policy.

    PostgreSQL only: the embedded SQLite of the demo has no such thing."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, table: str):
        self.table = table

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._run(schema_editor, _ENABLE)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._run(schema_editor, _DISABLE)

    def _run(self, schema_editor, statements: tuple[str, ...]) -> None:
        if schema_editor.connection.vendor == "postgresql":
            table = schema_editor.quote_name(self.table)
            for statement in statements:
                schema_editor.execute(statement.format(table=table))

    def describe(self) -> str:
        return f"Row-level security on {self.table}"

    def deconstruct(self):
        return self.__class__.__name__, [self.table], {}
