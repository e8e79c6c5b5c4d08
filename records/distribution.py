"""Distributing by district (Citus): which table is which, and the keys that allows.

Citus shards a *distributed* table by one column and keeps a *reference* table whole on
every node; everything else stays a *local* table of the coordinator. Here every tenant
table (records.tenancy.TenantModel) is distributed by ``district_id``, all of them in one
colocation group, so one district's rows of every table live on the same node and a
query filtered by one district runs there alone (docs/scaling.md).

Citus needs the distribution column in every primary key, unique constraint and foreign
key between distributed tables. So, on PostgreSQL, ``DistributionKeys`` makes a tenant
table's primary key ``(district_id, id)`` — Django's model keeps ``id`` as its key: ids
come from one sequence and stay unique — and that key now serves the model's declared
``UNIQUE (district, id)`` (records.tenancy.tenant_constraints), which has no index of its
own any more. The links between tenant rows are the composite keys ``(district_id, x_id)
→ (district_id, id)`` (records/composite_keys.py) alone: Django's single-column keys
beside them are dropped, and their fields say ``db_constraint=False`` so that Django does
not make them again. A unique constraint that lacks ``district_id`` gets it in front:
for a link to a tenant row (a one-to-one field) that is the same rule, as the composite
key ties the row and its target to one district.

A new tenant model's migration, after its ``CreateModel``:

1. its links to other tenant rows declare ``db_constraint=False`` (its link to a user,
   a reference table, may keep its key);
2. ``add_composite_tenant_keys("app.Model")``;
3. ``DistributionKeys("app.Model")``;
4. ``EnableRowSecurity("app_model")``.

tests/test_distribution_schema.py fails, against the live catalogue, for a tenant table
that misses any of this, and for any table of the database not classified below.
"""

from __future__ import annotations

from django.apps import apps
from django.db import migrations, models

DISTRIBUTION_COLUMN = "district_id"
# The table whose colocation group every distributed table joins (the first distributed).
COLOCATION_ANCHOR = "records_student"

# Shared by every district, small, read beside tenant rows: a copy on every node, so a
# district's query joins them where it runs. Foreign keys from distributed tables may
# point at them (and at nothing else that is not distributed).
REFERENCE_TABLES = {
    # The tenants themselves, not distributed by their own id: every tenant row's
    # ``district_id`` refers to one, as does every user (a reference table, which may
    # only refer to reference tables); state releases and the sign-in read across them.
    "records_district": "the districts: every tenant row and every user refers to one",
    # A person's district is learned from the user row (sign-in by name, the session's
    # user), before any district is in force; tenant rows keep composite keys to
    # (district_id, id). Written at sign-in and by staff changes only.
    "accounts_user": "people: found before their district is known; tenant rows refer to them",
    "oauth2_provider_application": "OAuth clients: an API client (a tenant row) refers to one",
    "django_content_type": "Django's registry of models: object permissions refer to it",
    "auth_permission": "permission names: object permissions refer to them",
    "auth_group": "group names: group object permissions refer to them",
    # Object permissions (a substitute's section, a provider's school): a district's
    # query asks for them beside its sections and schools, in the same statement.
    "guardian_userobjectpermission": "object permissions, read in a district's statements",
    "guardian_groupobjectpermission": "object permissions, read in a district's statements",
    # The access log's months dropped by its retention (records/partitions.py): a month is
    # every district's, written by the function that drops it, read by the chain check.
    "access_prunedlogmonth": "months of the access log's reads dropped by the retention",
}

# Tables that are not TenantModel but carry a district and are distributed by it, each
# with its primary key including ``district_id``.
DISTRIBUTED_OTHER_TABLES = {
    # Written by triggers inside each tenant write, so they must live on its node.
    "access_cacheepoch": "a district's cache epoch: key (district_id)",
    "access_studentepoch": "a student's cache epoch: key (district_id, student_id)",
}

# On the coordinator only: never in a statement beside a distributed table (the query
# test checks the pages'); local tables may refer to reference tables.
LOCAL_TABLES = {
    "django_migrations": "Django's record of migrations",
    "django_session": "sessions: read by key before any district is known",
    "django_admin_log": "the admin's own log",
    "authtoken_token": "API tokens: read by key before any district is known",
    "oauth2_provider_accesstoken": "OAuth tokens: read by checksum before any district",
    "oauth2_provider_refreshtoken": "OAuth tokens (unused: client credentials only)",
    "oauth2_provider_grant": "OAuth codes (unused: client credentials only)",
    "oauth2_provider_idtoken": "OAuth ID tokens (unused: client credentials only)",
    "oauth2_provider_devicegrant": "OAuth device codes (unused: client credentials only)",
    "otp_totp_totpdevice": "second-factor devices: read at sign-in by user",
    "otp_static_staticdevice": "second-factor recovery codes: read at sign-in by user",
    "otp_static_statictoken": "second-factor recovery codes: read at sign-in by user",
    "accounts_user_groups": "Django's group links: read by user",
    "accounts_user_user_permissions": "Django's global permission links: read by user",
    "auth_group_permissions": "Django's group permissions: read by group",
    "reports_staterelease": "a state's report card: across districts by nature",
    "reports_stateanalyst": "who reads a state's pages: across districts by nature",
}

# Foreign keys from a table that is not distributed into a distributed one: a plain key
# to ``id`` needs ``UNIQUE (id)``, which Citus refuses on a distributed table. None
# today: object permissions name their section or school by a text ``object_pk`` with no
# database key, and every key into a tenant table comes from another tenant table.
# (table, column) → why it is safe without a database key.
KEYS_INTO_TENANT_TABLES_WITHOUT_CONSTRAINT: dict[tuple[str, str], str] = {}


def tenant_models() -> list:
    """Every installed tenant model (not proxies)."""
    from records.tenancy import TenantModel

    return [
        model
        for model in apps.get_models()
        if issubclass(model, TenantModel) and not model._meta.proxy
    ]


def distributed_tables() -> set[str]:
    """The tables distributed by ``district_id``: every tenant model's, and the few
    others named in ``DISTRIBUTED_OTHER_TABLES``."""
    return {model._meta.db_table for model in tenant_models()} | set(DISTRIBUTED_OTHER_TABLES)


def kind_of(table: str) -> str | None:
    """``distributed``, ``reference`` or ``local``; None for a table nobody classified."""
    kinds = [
        kind
        for kind, tables in (
            ("distributed", distributed_tables()),
            ("reference", REFERENCE_TABLES),
            ("local", LOCAL_TABLES),
        )
        if table in tables
    ]
    if len(kinds) > 1:
        raise ValueError(f"{table} is classified twice: {kinds}")
    return kinds[0] if kinds else None


def citus_plan(connection) -> list[str]:
    """The statements that distribute this database on Citus (docs/scaling.md), in an
    order Citus accepts: reference tables, each after those it refers to; then every
    distributed table, each after those it refers to, all in the colocation group of the
    first. A foreign key in a cycle of distributed tables is dropped first and made again
    at the end (Citus distributes a table only once the tables it refers to are)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT con.conrelid::regclass::text, con.confrelid::regclass::text, con.conname,
                   pg_get_constraintdef(con.oid)
            FROM pg_constraint con
            JOIN pg_class c ON c.oid = con.conrelid
            WHERE con.contype = 'f' AND con.connamespace = current_schema()::regnamespace
              AND con.conrelid <> con.confrelid
              -- A partitioned table is distributed whole: its partitions' keys follow it.
              AND con.conparentid = 0 AND NOT c.relispartition
            ORDER BY 1, 3
            """
        )
        keys = cursor.fetchall()
    reference = _ordered(set(REFERENCE_TABLES), keys, [])
    broken: list[tuple[str, str, str]] = []
    distributed = _ordered(distributed_tables(), keys, broken, first=COLOCATION_ANCHOR)
    anchor = distributed[0]
    return [
        *(f"SELECT create_reference_table('{table}')" for table in reference),
        *(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"' for table, name, _ in broken),
        f"SELECT create_distributed_table('{anchor}', '{DISTRIBUTION_COLUMN}', "
        "colocate_with => 'none')",
        *(
            f"SELECT create_distributed_table('{table}', '{DISTRIBUTION_COLUMN}', "
            f"colocate_with => '{anchor}')"
            for table in distributed[1:]
        ),
        *(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {how}' for table, name, how in broken),
    ]


def _ordered(tables: set[str], keys, broken: list, first: str = "") -> list[str]:
    """``tables``, each after the ones it refers to (``first`` first if it may be, then
    by name where free to choose); the keys closing a cycle go to ``broken``."""
    refers = {table: {} for table in tables}
    for table, target, name, how in keys:
        if table in tables and target in tables:
            refers[table].setdefault(target, []).append((name, how))
    done: list[str] = [first] if first in tables and not refers[first] else []
    while len(done) < len(tables):
        ready = sorted(t for t in tables if t not in done and set(refers[t]) <= set(done))
        if ready:
            done.append(ready[0])
            continue
        # A cycle: follow what the tables left wait for until one comes round again, and
        # give up the keys that close it.
        path, table = [], min(t for t in tables if t not in done)
        while table not in path:
            path.append(table)
            table = min(set(refers[table]) - set(done))
        broken += [(path[-1], name, how) for name, how in refers[path[-1]].pop(table)]
    return done


# The catalogue, for one table (%(table)s is a regclass parameter).
_FOREIGN_KEYS_INTO = """
    SELECT con.conname, con.conrelid::regclass::text, pg_get_constraintdef(con.oid),
           ARRAY(SELECT a.attname FROM unnest(con.conkey) k
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k),
           ARRAY(SELECT a.attname FROM unnest(con.confkey) k
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k)
    FROM pg_constraint con
    WHERE con.contype = 'f' AND con.confrelid = %(table)s::regclass
    ORDER BY con.conname
"""
_FOREIGN_KEYS_FROM = """
    SELECT con.conname, con.confrelid::regclass::text,
           ARRAY(SELECT a.attname FROM unnest(con.conkey) k
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k)
    FROM pg_constraint con
    WHERE con.contype = 'f' AND con.conrelid = %(table)s::regclass
    ORDER BY con.conname
"""
_UNIQUE_CONSTRAINTS = """
    SELECT con.conname, con.contype,
           ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(n, i)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
                 ORDER BY k.i)
    FROM pg_constraint con
    WHERE con.contype IN ('p', 'u') AND con.conrelid = %(table)s::regclass
    ORDER BY con.conname
"""
# Unique indexes that no constraint owns (Django's conditional or expression
# UniqueConstraint): those are never rewritten here, only refused without district_id.
_UNIQUE_INDEXES = """
    SELECT c.relname, pg_get_indexdef(i.indexrelid),
           ARRAY(SELECT a.attname FROM unnest(i.indkey) k
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indisunique AND i.indrelid = %(table)s::regclass
      AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = i.indexrelid)
    ORDER BY c.relname
"""


def _rows(schema_editor, sql: str, table: str) -> list[tuple]:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql, {"table": schema_editor.quote_name(table)})
        return cursor.fetchall()


def _has_district(schema_editor, table: str) -> bool:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s "
            "AND NOT attisdropped",
            [schema_editor.quote_name(table), DISTRIBUTION_COLUMN],
        )
        return cursor.fetchone() is not None


def _is_distributed(schema_editor, table: str) -> bool:
    """In a migration, from the catalogue: a table with a district that is no reference
    table (the installed models may be ahead of the database being migrated)."""
    return table not in REFERENCE_TABLES and _has_district(schema_editor, table)


def rekey_table(schema_editor, table: str, key: tuple[str, ...] = ("id",)) -> None:
    """Give ``table`` the primary key ``(district_id, *key)`` and keys Citus accepts.

    In order: Django's single-column keys from this table into distributed tables are
    dropped; every key into this table is dropped (the composite ones come back at the
    end, on the new primary key; a single-column one from a distributed table does not;
    from any other table it is refused: decide first, see docs/scaling.md); the separate
    ``UNIQUE (district_id, *key)`` goes, the primary key becomes ``(district_id, *key)``,
    and every other unique constraint without ``district_id`` gets it in front."""
    quote = schema_editor.quote_name
    district = DISTRIBUTION_COLUMN
    for name, target, columns in _rows(schema_editor, _FOREIGN_KEYS_FROM, table):
        if district not in columns and _is_distributed(schema_editor, target):
            schema_editor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    restore = []
    for name, source, definition, columns, _ in _rows(schema_editor, _FOREIGN_KEYS_INTO, table):
        if district in columns:
            restore.append((source, name, definition))
        elif not _is_distributed(schema_editor, source):
            raise RuntimeError(
                f"{source}.{columns} refers to {table}, a distributed table, by its id alone: "
                "Citus refuses that key. Make the table a tenant table, or drop the key and "
                "name it in records.distribution.KEYS_INTO_TENANT_TABLES_WITHOUT_CONSTRAINT."
            )
        schema_editor.execute(f"ALTER TABLE {quote(source)} DROP CONSTRAINT {quote(name)}")
    wanted = [district, *key]
    for name, kind, columns in _rows(schema_editor, _UNIQUE_CONSTRAINTS, table):
        if kind == "p" or columns == wanted:
            schema_editor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        elif district not in columns:
            listed = ", ".join(quote(column) for column in [district, *columns])
            schema_editor.execute(
                f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}, "
                f"ADD CONSTRAINT {quote(name)} UNIQUE ({listed})"
            )
    for name, definition, columns in _rows(schema_editor, _UNIQUE_INDEXES, table):
        if district not in columns:
            raise RuntimeError(f"{name} on {table} is unique without {district}: {definition}")
    listed = ", ".join(quote(column) for column in wanted)
    schema_editor.execute(
        f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(table + '_pkey')} PRIMARY KEY ({listed})"
    )
    for source, name, definition in restore:
        schema_editor.execute(
            f"ALTER TABLE {quote(source)} ADD CONSTRAINT {quote(name)} {definition}"
        )


def unkey_table(schema_editor, table: str, key: tuple[str, ...] = ("id",), uniques=()) -> None:
    """``rekey_table`` undone: the primary key ``key`` again, beside ``UNIQUE (district_id,
    *key)`` (named as records.tenancy names it), and ``uniques`` (name, columns) without
    ``district_id`` again. Django's single-column keys come back with their fields'
    ``db_constraint`` (``restore_single_column_keys``)."""
    quote = schema_editor.quote_name
    district = DISTRIBUTION_COLUMN
    restore = []
    for name, source, definition, columns, _ in _rows(schema_editor, _FOREIGN_KEYS_INTO, table):
        if district in columns:
            restore.append((source, name, definition))
            schema_editor.execute(f"ALTER TABLE {quote(source)} DROP CONSTRAINT {quote(name)}")
    wanted = [quote(column) for column in (district, *key)]
    schema_editor.execute(
        f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(table + '_pkey')}, "
        f"ADD CONSTRAINT {quote(table + '_pkey')} PRIMARY KEY ({', '.join(map(quote, key))})"
    )
    if key == ("id",):
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(table + '_district_id_key')} "
            f"UNIQUE ({', '.join(wanted)})"
        )
    for name, columns in uniques:
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}, "
            f"ADD CONSTRAINT {quote(name)} UNIQUE ({', '.join(map(quote, columns))})"
        )
    for source, name, definition in restore:
        schema_editor.execute(
            f"ALTER TABLE {quote(source)} ADD CONSTRAINT {quote(name)} {definition}"
        )


def restore_single_column_keys(schema_editor, state_apps, tables: set[str]) -> None:
    """Django's own single-column keys between tenant rows, for every field of the given
    state that declares one (``db_constraint``), touches ``tables`` and whose target has
    a unique ``id`` again: after ``unkey_table``, in whichever order apps are reversed."""
    for model in state_apps.get_models():
        for field in model._meta.concrete_fields:
            if not (isinstance(field, models.ForeignKey) and field.db_constraint):
                continue
            source, target = model._meta.db_table, field.remote_field.model._meta.db_table
            if source not in tables and target not in tables:
                continue
            if not (
                _is_distributed(schema_editor, source) and _is_distributed(schema_editor, target)
            ):
                continue
            if not _unique_on(schema_editor, target, [field.target_field.column]):
                continue
            present = [
                row
                for row in _rows(schema_editor, _FOREIGN_KEYS_FROM, source)
                if row[2] == [field.column]
            ]
            if not present:
                schema_editor.execute(
                    schema_editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s")
                )


def _unique_on(schema_editor, table: str, columns: list[str]) -> bool:
    return any(found == columns for _, _, found in _rows(schema_editor, _UNIQUE_CONSTRAINTS, table))


def one_to_one_uniques(model) -> list[tuple[str, list[str]]]:
    """The unique constraints Django made for ``model``'s unique single fields, by the
    name Django gave them (``<table>_<column>_key``): what ``rekey_table`` widened."""
    return [
        (f"{model._meta.db_table}_{field.column}_key", [field.column])
        for field in model._meta.concrete_fields
        if field.unique and not field.primary_key
    ]


class DistributionKeys(migrations.operations.base.Operation):
    """Primary key ``(district_id, id)`` and Citus-ready keys for tenant models (see the
    module's docstring); PostgreSQL only, as the SQLite demo has no Citus to be ready for.

    ``DistributionKeys("app.Model", ...)`` — after the models' composite tenant keys."""

    reversible = True
    reduces_to_sql = False

    def __init__(self, *model_labels: str, key: tuple[str, ...] = ("id",)):
        self.model_labels = model_labels
        self.key = tuple(key)

    def state_forwards(self, app_label, state):
        pass

    def _models(self, state):
        return [state.apps.get_model(label) for label in self.model_labels]

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        for model in self._models(to_state):
            rekey_table(schema_editor, model._meta.db_table, self.key)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        models = self._models(to_state)
        for model in models:
            unkey_table(schema_editor, model._meta.db_table, self.key, one_to_one_uniques(model))
        restore_single_column_keys(
            schema_editor, to_state.apps, {model._meta.db_table for model in models}
        )

    def describe(self) -> str:
        return (
            f"Primary keys (district_id, {', '.join(self.key)}) of {', '.join(self.model_labels)}"
        )

    def deconstruct(self):
        kwargs = {} if self.key == ("id",) else {"key": self.key}
        return self.__class__.__name__, list(self.model_labels), kwargs
