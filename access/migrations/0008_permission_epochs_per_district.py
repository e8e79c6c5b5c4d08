"""Object permissions move the epochs of the districts they touch, not every district's.

0007 had every write to a permission table move every district's epoch, in no fixed
order: two districts assigning substitutes at once could deadlock, any open writer in
one district held up the others, and each grant dropped every district's caches. A
permission row names a user (or a group of users): the districts of those users are
the ones whose access it can change. A TRUNCATE still moves every district, now
locking their rows in order.
"""

from django.db import migrations

USER_TABLES = (
    "guardian_userobjectpermission",
    "accounts_user_user_permissions",
    "accounts_user_groups",
)
GROUP_TABLES = ("guardian_groupobjectpermission", "auth_group_permissions")

FUNCTIONS = """
CREATE OR REPLACE FUNCTION access_bump_every_district() RETURNS trigger AS $$
BEGIN
    UPDATE access_cacheepoch SET value = nextval('access_cache_epoch_seq')
    WHERE district_id IN (
        SELECT district_id FROM access_cacheepoch ORDER BY district_id FOR UPDATE
    );
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- TG_ARGV[0]: 'user_id' (rows name a user) or 'group_id' (rows name a group).
CREATE OR REPLACE FUNCTION access_bump_permission_districts() RETURNS trigger AS $$
DECLARE
    changed text;
    users text;
BEGIN
    changed := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT %I FROM new_rows', TG_ARGV[0])
        WHEN 'DELETE' THEN format('SELECT %I FROM old_rows', TG_ARGV[0])
        ELSE format('SELECT %I FROM new_rows UNION SELECT %I FROM old_rows',
                    TG_ARGV[0], TG_ARGV[0])
    END;
    users := CASE TG_ARGV[0]
        WHEN 'user_id' THEN changed
        ELSE 'SELECT user_id FROM accounts_user_groups WHERE group_id IN (' || changed || ')'
    END;
    EXECUTE format(
        'INSERT INTO access_cacheepoch AS epoch (district_id, value) '
        'SELECT d, nextval(''access_cache_epoch_seq'') FROM ('
        '  SELECT DISTINCT district_id AS d FROM accounts_user'
        '  WHERE id IN (%s) AND district_id IS NOT NULL ORDER BY 1'
        ') AS s '
        'ON CONFLICT (district_id) DO UPDATE SET value = EXCLUDED.value',
        users
    );
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def _statements(function: str) -> list[str]:
    statements = []
    for tables, column in ((USER_TABLES, "user_id"), (GROUP_TABLES, "group_id")):
        for table in tables:
            statements.append(f'DROP TRIGGER IF EXISTS "{table}_epoch" ON "{table}"')
            statements += [
                f'CREATE TRIGGER "{table}_epoch_insert" AFTER INSERT ON "{table}" '
                f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {function}('{column}')",
                f'CREATE TRIGGER "{table}_epoch_update" AFTER UPDATE ON "{table}" '
                "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {function}('{column}')",
                f'CREATE TRIGGER "{table}_epoch_delete" AFTER DELETE ON "{table}" '
                f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {function}('{column}')",
            ]
    return statements


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTIONS, params=None)
    for statement in _statements("access_bump_permission_districts"):
        schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in (*USER_TABLES, *GROUP_TABLES):
        for suffix in ("insert", "update", "delete"):
            schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_epoch_{suffix}" ON "{table}"')
        schema_editor.execute(
            f'CREATE TRIGGER "{table}_epoch" AFTER INSERT OR UPDATE OR DELETE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION access_bump_every_district()"
        )
    schema_editor.execute("DROP FUNCTION IF EXISTS access_bump_permission_districts()")


class Migration(migrations.Migration):
    dependencies = [("access", "0007_cache_epochs")]

    operations = [migrations.RunPython(forwards, backwards)]
