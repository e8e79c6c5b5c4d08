"""The schema Citus can distribute by district (records/distribution.py, docs/scaling.md),
checked against the live catalogue: every table of the database is classified, and every
key of a distributed table carries ``district_id``.

A new model fails here until it is classified (a tenant model is, by being one) and its
migration runs ``DistributionKeys``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.db import connection, models

from records.composite_keys import tenant_links
from records.distribution import (
    COLOCATION_ANCHOR,
    DISTRIBUTED_OTHER_TABLES,
    DISTRIBUTION_COLUMN,
    KEYS_INTO_TENANT_TABLES_WITHOUT_CONSTRAINT,
    LOCAL_TABLES,
    REFERENCE_TABLES,
    citus_plan,
    distributed_tables,
    kind_of,
    tenant_models,
)
from records.tenancy import TenantModel
from tests.roles import as_owner

pytestmark = pytest.mark.django_db

DISTRICT = DISTRIBUTION_COLUMN


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the catalogue checked is PostgreSQL's")


@dataclass(frozen=True)
class Key:
    table: str
    name: str
    kind: str  # p(rimary), u(nique constraint), i(ndex, unique, owned by no constraint), f(oreign)
    columns: tuple[str, ...]
    target: str | None = None
    target_columns: tuple[str, ...] = ()


def catalogue() -> tuple[set[str], list[Key]]:
    """The schema's tables (partitions aside: they follow their parent), and their keys
    (those of the tables, not the copies PostgreSQL keeps on each partition)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
              AND NOT c.relispartition
            """
        )
        tables = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            """
            SELECT con.conrelid::regclass::text, con.conname, con.contype,
                   ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
                         ORDER BY k.i),
                   con.confrelid::regclass::text,
                   ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                         JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
                         ORDER BY k.i)
            FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
            WHERE c.relnamespace = current_schema()::regnamespace AND con.contype IN ('p', 'u', 'f')
              AND con.conparentid = 0 AND NOT c.relispartition
            UNION ALL
            SELECT i.indrelid::regclass::text, ic.relname, 'i',
                   ARRAY(SELECT coalesce(a.attname, '(expression)')
                         FROM unnest(i.indkey) WITH ORDINALITY k(n, o)
                         LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
                         ORDER BY k.o),
                   NULL, NULL
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
            JOIN pg_class t ON t.oid = i.indrelid
            WHERE ic.relnamespace = current_schema()::regnamespace AND i.indisunique
              AND NOT t.relispartition
              AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = i.indexrelid)
            """
        )
        keys = [
            Key(table, name, kind, tuple(columns), target, tuple(target_columns or ()))
            for table, name, kind, columns, target, target_columns in cursor.fetchall()
        ]
    return tables, keys


def partition_columns() -> dict[str, set[str]]:
    """Each partitioned table's partition columns, its sub-partitions' included
    (records/partitions.py): its keys must hold them beside ``(district_id, id)``."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, a.attname
            FROM pg_class c
            CROSS JOIN LATERAL pg_partition_tree(c.oid) tree
            JOIN pg_partitioned_table pt ON pt.partrelid = tree.relid
            CROSS JOIN LATERAL unnest(pt.partattrs::int2[]) AS k(n)
            JOIN pg_attribute a ON a.attrelid = tree.relid AND a.attnum = k.n
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'p'
              AND NOT c.relispartition
            """
        )
        columns: dict[str, set[str]] = {}
        for table, column in cursor.fetchall():
            columns.setdefault(table, set()).add(column)
    return columns


def tenant_primary_key(found: tuple[str, ...], partitioned_by: set[str]) -> tuple[str, ...]:
    """``found`` without the partition columns a partitioned table's key must add."""
    if found[:2] == (DISTRICT, "id") and set(found[2:]) == partitioned_by:
        return found[:2]
    return found


def classification_problems(tables: set[str]) -> list[str]:
    """Tables no list names, and names no table has (a list must not rot)."""
    classified = distributed_tables() | set(REFERENCE_TABLES) | set(LOCAL_TABLES)
    problems = [f"{table}: not classified" for table in sorted(tables - classified)]
    problems += [f"{table}: classified, but no such table" for table in sorted(classified - tables)]
    for table in sorted(tables & classified):
        try:
            kind_of(table)
        except ValueError as twice:
            problems.append(str(twice))
    return problems


def key_problems(
    keys: list[Key], distributed: set[str], reference: set[str], tenant: set[str]
) -> list[str]:
    """What Citus would refuse, or what would keep a district's query off one node."""
    problems = []
    primary = {key.table: key.columns for key in keys if key.kind == "p"}
    partitioned = partition_columns()
    for table in sorted(distributed):
        wanted = (DISTRICT, "id") if table in tenant else None
        found = primary.get(table)
        unpartitioned = found and tenant_primary_key(found, partitioned.get(table, set()))
        if found is None or DISTRICT not in found or (wanted and unpartitioned != wanted):
            problems.append(f"{table}: primary key {found}, not {wanted or 'with ' + DISTRICT}")
    for key in keys:
        if key.kind in ("u", "i") and key.table in distributed and DISTRICT not in key.columns:
            problems.append(f"{key.table}: unique {key.name} {key.columns} lacks {DISTRICT}")
        if key.kind != "f":
            continue
        into_distributed = key.target in distributed
        if key.table in distributed and into_distributed:
            # Citus: both distribution columns, at the same place in the key.
            at = key.columns.index(DISTRICT) if DISTRICT in key.columns else None
            if at is None or key.target_columns[at] != DISTRICT:
                problems.append(
                    f"{key.table}: key {key.name} {key.columns} → {key.target}"
                    f"{key.target_columns} is not by {DISTRICT} on both sides"
                )
        elif into_distributed:
            problems.append(
                f"{key.table} ({kind_of(key.table) or 'unclassified'}): key {key.name} into "
                f"{key.target}, a distributed table"
            )
        elif key.table in distributed and key.target not in reference:
            problems.append(f"{key.table}: key {key.name} into {key.target}, not a reference table")
        elif key.table in reference and key.target not in reference:
            problems.append(f"{key.table} (reference): key {key.name} into {key.target}")
    return problems


def live_problems(tables, keys, *, extra_distributed=frozenset()) -> list[str]:
    tenant = {model._meta.db_table for model in tenant_models()} | set(extra_distributed)
    return classification_problems(tables) + key_problems(
        keys, distributed_tables() | set(extra_distributed), set(REFERENCE_TABLES), tenant
    )


def test_every_table_is_classified_once_and_every_key_is_citus_ready():
    tables, keys = catalogue()
    assert live_problems(tables, keys) == []


def test_the_tenant_keys_are_the_ones_citus_needs():
    tables, keys = catalogue()
    primary = {key.table: key.columns for key in keys if key.kind == "p"}
    tenant = {model._meta.db_table for model in tenant_models()}
    assert len(tenant) >= 50
    partitioned = partition_columns()
    assert {
        tenant_primary_key(primary[table], partitioned.get(table, set())) for table in tenant
    } == {(DISTRICT, "id")}
    # The partitioned tables' keys hold their partition columns too, as PostgreSQL requires.
    assert primary["records_attendancerecord"] == (DISTRICT, "id", "date")
    assert primary["access_accessevent"] == (DISTRICT, "id", "is_disclosure", "occurred_at")
    assert primary["access_cacheepoch"] == (DISTRICT,)
    assert primary["access_studentepoch"] == (DISTRICT, "student_id")
    # The primary key serves the declared UNIQUE (district, id): no second index of it.
    # (Users, a reference table, keep theirs: tenant rows' composite keys point at it.)
    twice = {k.table for k in keys if k.kind in ("u", "i") and k.columns == (DISTRICT, "id")}
    assert twice == {"accounts_user"}
    # The links between tenant rows are composite, and nothing else.
    between = [k for k in keys if k.kind == "f" and k.table in tenant and k.target in tenant]
    assert len(between) >= 50
    assert {
        (k.columns[0], tenant_primary_key(k.target_columns, partitioned.get(k.target, set())))
        for k in between
    } == {(DISTRICT, (DISTRICT, "id"))}
    # A one-to-one link's uniqueness, kept with the district in front.
    assert ("records_healthrecord", (DISTRICT, "student_id")) in {
        (k.table, k.columns) for k in keys if k.kind == "u"
    }
    assert set(DISTRIBUTED_OTHER_TABLES) <= tables
    assert KEYS_INTO_TENANT_TABLES_WITHOUT_CONSTRAINT == {}


def test_no_link_between_tenant_models_asks_django_for_a_single_column_key():
    """Django would make the key ``(x_id) → (id)`` again at the field's next change, and a
    distributed table has no unique ``id`` for it: the composite key stands alone."""
    asking = [
        f"{model._meta.label}.{field.name}"
        for model in tenant_models()
        for field in tenant_links(model)
        if issubclass(field.remote_field.model, TenantModel) and field.db_constraint
    ]
    assert asking == []
    # Links to a user keep theirs: users are a reference table, whose id is unique.
    links_to_users = [
        field
        for model in tenant_models()
        for field in model._meta.concrete_fields
        if isinstance(field, models.ForeignKey)
        and field.remote_field.model._meta.label == "accounts.User"
    ]
    assert any(field.db_constraint for field in links_to_users)


def test_the_checks_fail_for_a_table_made_wrong():
    """Tables made inside the test's transaction (rolled back): each mistake is named."""
    with as_owner(), connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE TABLE records_madewrong (
                id bigint PRIMARY KEY,
                district_id bigint NOT NULL REFERENCES records_district (id),
                code text UNIQUE,
                student_id bigint NOT NULL
            );
            CREATE UNIQUE INDEX records_madewrong_code_lower ON records_madewrong (lower(code));
            -- A local table (unclassified too) keyed into a distributed one.
            CREATE TABLE records_madewrong_local (
                id bigint PRIMARY KEY,
                district_id bigint NOT NULL,
                student_id bigint NOT NULL,
                FOREIGN KEY (district_id, student_id)
                    REFERENCES records_student (district_id, id)
            );
            -- A key between distributed tables with the district on one side only.
            ALTER TABLE records_madewrong ADD CONSTRAINT records_madewrong_crossed
                FOREIGN KEY (student_id, district_id) REFERENCES records_student (district_id, id);
            """
        )
        tables, keys = catalogue()
    problems = live_problems(tables, keys, extra_distributed={"records_madewrong"})
    text = "\n".join(problems)
    assert "records_madewrong_local: not classified" in problems
    assert "records_madewrong: primary key ('id',), not ('district_id', 'id')" in problems
    assert "records_madewrong_code_key ('code',) lacks district_id" in text
    assert "records_madewrong_code_lower ('(expression)',) lacks district_id" in text
    assert "records_madewrong: key records_madewrong_crossed" in text
    assert "records_madewrong_local (unclassified): key" in text
    # And without the pretence that it is distributed, it is one unclassified table more.
    assert "records_madewrong: not classified" in live_problems(tables, keys)
    # Nothing else of the live schema is named.
    assert all("madewrong" in problem for problem in problems), problems


def test_the_citus_plan_distributes_each_table_once_after_what_it_refers_to():
    plan = citus_plan(connection)
    made = [re.search(r"create_\w+_table\('(\w+)'", step) for step in plan]
    order = [found.group(1) for found in made if found]
    assert sorted(order) == sorted(distributed_tables() | set(REFERENCE_TABLES))
    dropped = {re.search(r'DROP CONSTRAINT "(\w+)"', s).group(1) for s in plan if "DROP" in s}
    added = {re.search(r'ADD CONSTRAINT "(\w+)"', s).group(1) for s in plan if " ADD " in s}
    assert dropped == added  # a key given up to break a cycle comes back
    _, keys = catalogue()
    between = [
        k
        for k in keys
        if k.kind == "f" and {k.table, k.target} <= set(order) and k.table != k.target
    ]
    assert len(between) > 100
    for key in between:
        if key.name not in dropped:
            assert order.index(key.target) < order.index(key.table), key
    anchor = (
        f"create_distributed_table('{COLOCATION_ANCHOR}', 'district_id', colocate_with => 'none')"
    )
    assert sum(anchor in step for step in plan) == 1
    others = [step for step in plan if "create_distributed_table" in step and anchor not in step]
    assert all(f"colocate_with => '{COLOCATION_ANCHOR}'" in step for step in others)
