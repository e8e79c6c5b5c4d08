"""Cache epochs: numbers that change, in the writing transaction, whenever anything an
access decision or a projected student reads changes (records/cache_epochs.py).

Every write to a table below moves an epoch forward through a statement-level trigger,
so no code path (an import's COPY, a bulk update, the admin, raw SQL) can change what a
reader may see without the caches keyed by it missing on the next request. Values come
from one sequence and never repeat, even when a writing transaction rolls back.

The table lists are frozen here; tests/access/test_epochs.py checks that every table of
the project is either below or named in ``records.cache_epochs.UNCACHED_TABLES``.
"""

from django.db import migrations, models

# Writes here may change who sees whom, or labels every student shows: the district's epoch.
DISTRICT_TABLES = {
    "records_district": "id",
    "records_school": "district_id",
    "records_academicsession": "district_id",
    "records_course": "district_id",
    "records_section": "district_id",
    "records_student": "district_id",
    "records_schoolmembership": "district_id",
    "records_guardianlink": "district_id",
    "records_custodyrestriction": "district_id",
    "records_sectionteacher": "district_id",
    "records_substituteassignment": "district_id",
    "records_enrollment": "district_id",
    # Signing in writes last_login: no reason to drop a district's caches.
    "accounts_user": ("district_id", "last_login"),
    "accounts_rolemembership": "district_id",
    "access_emergencyaccess": "district_id",
}
# Records of one student: that student's epoch only, so a class's attendance being
# taken leaves every other student's cached record alone.
STUDENT_TABLES = (
    "records_attendancerecord",
    "records_grade",
    "records_assessmentresult",
    "records_programparticipation",
    "records_healthrecord",
    "records_disciplineincident",
    "records_transportationassignment",
    "records_directoryoptout",
    "records_disagreementstatement",
    "records_amendmentrequest",
    "records_inspectionrequest",
)
# Object permissions and Django's permission links carry no district: every district's epoch.
GLOBAL_TABLES = (
    "guardian_userobjectpermission",
    "guardian_groupobjectpermission",
    "accounts_user_groups",
    "accounts_user_user_permissions",
    "auth_group_permissions",
)

FUNCTIONS = """
CREATE SEQUENCE IF NOT EXISTS access_cache_epoch_seq;

CREATE OR REPLACE FUNCTION access_epochs_deferred() RETURNS boolean AS $$
    SELECT coalesce(current_setting('studentdata.defer_cache_epochs', true), '') = 'on'
$$ LANGUAGE sql STABLE;

-- Never deferred: a deferred writer only bumps its own district at its end.
CREATE OR REPLACE FUNCTION access_bump_every_district() RETURNS trigger AS $$
BEGIN
    UPDATE access_cacheepoch SET value = nextval('access_cache_epoch_seq');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- TG_ARGV[0]: the column naming the district of a changed row; TG_ARGV[1], if given,
-- columns whose change alone moves nothing (an UPDATE of only those is ignored).
CREATE OR REPLACE FUNCTION access_bump_district_epoch() RETURNS trigger AS $$
DECLARE
    changed text;
BEGIN
    IF access_epochs_deferred() THEN
        RETURN NULL;
    END IF;
    changed := CASE
        WHEN TG_OP = 'INSERT' THEN format('SELECT %I FROM new_rows', TG_ARGV[0])
        WHEN TG_OP = 'DELETE' THEN format('SELECT %I FROM old_rows', TG_ARGV[0])
        WHEN TG_NARGS > 1 THEN format(
            'SELECT d FROM new_rows n JOIN old_rows o USING (id), '
            'LATERAL (VALUES (n.%1$I), (o.%1$I)) AS v(d) '
            'WHERE to_jsonb(n) - %2$L::text[] IS DISTINCT FROM to_jsonb(o) - %2$L::text[]',
            TG_ARGV[0], '{' || TG_ARGV[1] || '}')
        ELSE format('SELECT %I FROM new_rows UNION SELECT %I FROM old_rows',
                    TG_ARGV[0], TG_ARGV[0])
    END;
    EXECUTE format(
        'INSERT INTO access_cacheepoch AS epoch (district_id, value) '
        'SELECT d, nextval(''access_cache_epoch_seq'') '
        'FROM (SELECT DISTINCT d FROM (%s) AS c(d) WHERE d IS NOT NULL ORDER BY d) AS s '
        'ON CONFLICT (district_id) DO UPDATE SET value = EXCLUDED.value',
        changed
    );
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION access_bump_student_epochs() RETURNS trigger AS $$
DECLARE
    changed text;
BEGIN
    IF access_epochs_deferred() THEN
        RETURN NULL;
    END IF;
    changed := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT student_id, district_id FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT student_id, district_id FROM old_rows'
        ELSE 'SELECT student_id, district_id FROM new_rows '
             'UNION SELECT student_id, district_id FROM old_rows'
    END;
    EXECUTE format(
        'INSERT INTO access_studentepoch AS epoch (student_id, district_id, value) '
        'SELECT student_id, district_id, nextval(''access_cache_epoch_seq'') '
        'FROM (SELECT DISTINCT student_id, district_id FROM (%s) AS c ORDER BY 1) AS s '
        'ON CONFLICT (student_id) DO UPDATE SET value = EXCLUDED.value',
        changed
    );
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def _row_triggers(table: str, function: str) -> list[str]:
    """One statement-level trigger per event: transition tables allow no more."""
    return [
        f'CREATE TRIGGER "{table}_epoch_insert" AFTER INSERT ON "{table}" '
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}",
        f'CREATE TRIGGER "{table}_epoch_update" AFTER UPDATE ON "{table}" '
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}",
        f'CREATE TRIGGER "{table}_epoch_delete" AFTER DELETE ON "{table}" '
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}",
    ]


def _as_tuple(columns) -> tuple[str, ...]:
    return (columns,) if isinstance(columns, str) else columns


def _statements() -> list[str]:
    statements = []
    for table, columns in DISTRICT_TABLES.items():
        arguments = ", ".join(f"'{column}'" for column in _as_tuple(columns))
        statements += _row_triggers(table, f"access_bump_district_epoch({arguments})")
    for table in STUDENT_TABLES:
        statements += _row_triggers(table, "access_bump_student_epochs()")
    for table in GLOBAL_TABLES:
        statements.append(
            f'CREATE TRIGGER "{table}_epoch" AFTER INSERT OR UPDATE OR DELETE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION access_bump_every_district()"
        )
    for table in (*DISTRICT_TABLES, *STUDENT_TABLES, *GLOBAL_TABLES):
        statements.append(
            f'CREATE TRIGGER "{table}_epoch_truncate" AFTER TRUNCATE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION access_bump_every_district()"
        )
    return statements


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # no triggers, no epochs: records/cache_epochs.py caches nothing there
    schema_editor.execute(FUNCTIONS, params=None)
    for statement in _statements():
        schema_editor.execute(statement)
    schema_editor.execute(
        "INSERT INTO access_cacheepoch (district_id, value) "
        "SELECT id, nextval('access_cache_epoch_seq') FROM records_district "
        "ON CONFLICT (district_id) DO NOTHING"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in (*DISTRICT_TABLES, *STUDENT_TABLES, *GLOBAL_TABLES):
        for suffix in ("insert", "update", "delete", "truncate"):
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_epoch_{suffix}" ON "{table}"')
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_epoch" ON "{table}"')
    for function in (
        "access_bump_every_district()",
        "access_bump_district_epoch()",
        "access_bump_student_epochs()",
        "access_epochs_deferred()",
    ):
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}")
    schema_editor.execute("DROP SEQUENCE IF EXISTS access_cache_epoch_seq")


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0006_emergencyaccess"),
        ("records", "0013_substitutes_and_roster_grace"),
        ("accounts", "0004_invitation_tenant_keys"),
        ("guardian", "0003_remove_groupobjectpermission_guardian_gr_content_ae6aec_idx_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="CacheEpoch",
            fields=[
                ("district_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("value", models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="StudentEpoch",
            fields=[
                ("student_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("district_id", models.BigIntegerField()),
                ("value", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
