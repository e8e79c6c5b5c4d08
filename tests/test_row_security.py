"""Row-level security (records/row_security.py): the database keeps each district's rows
to itself even when the application forgets to filter.

The suite's connections act as a role that is neither superuser nor owner
(tests/conftest.py), so every query here is subject to the policies, as production's
application role is.
"""

from __future__ import annotations

import logging

import pytest
from django.db import DatabaseError, connection, transaction
from django.http import JsonResponse, StreamingHttpResponse
from django.test import override_settings
from django.urls import path

from records.models import Student
from records.row_security import POLICY_CONDITION, POLICY_NAME, tenant_tables
from records.tenancy import entry_scope, system_scope, tenant_scope
from studentdata.celery import app as celery_app
from studentdata.urls import urlpatterns as product_urls

pytestmark = pytest.mark.django_db

# Tables with a district column that are not tenant tables, and why.
NOT_TENANT_TABLES = {
    # Who a person is decides their district: it is read before any district is known
    # (the session's user, a sign-in by name, a password reset by address).
    "accounts_user",
    # Counters that invalidate caches: numbers only, read with the token check.
    "access_cacheepoch",
    "access_studentepoch",
}


# Policies beside the tenant rule, each widening reads only, and why.
EXTRA_POLICIES = {
    # A published report card is public: a release of any district, once published.
    "reports_release": ["published_releases_are_public"],
}


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")


def raw_student_ids() -> set[int]:
    """Every student id a query with no district filter at all can see."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM records_student")
        return {row[0] for row in cursor.fetchall()}


def ids(district_world) -> set[int]:
    return {student.pk for student in district_world.students.values()}


def unfiltered_view(request):
    """A view with the bug row-level security is there for: no district filter."""
    return JsonResponse(
        {
            "orm": sorted(Student.unscoped.values_list("pk", flat=True)),
            "sql": sorted(raw_student_ids()),
            "iterated": sorted(s.pk for s in Student.unscoped.iterator(chunk_size=2)),
        }
    )


def streamed_view(request):
    """A body produced lazily, as the server reads it: after the view has returned."""

    def lines():
        for student_id in Student.unscoped.values_list("pk", flat=True).iterator():
            yield f"{student_id}\n"

    return StreamingHttpResponse(lines())


urlpatterns = [
    path("unfiltered/", unfiltered_view),
    path("streamed/", streamed_view),
    *product_urls,
]


def test_every_tenant_table_has_forced_row_security_and_the_policy():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   array_agg(p.polname ORDER BY p.polname) FILTER (WHERE p.polname IS NOT NULL)
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
            LEFT JOIN pg_policy p ON p.polrelid = c.oid
            WHERE c.relkind IN ('r', 'p')
            GROUP BY c.relname, c.relrowsecurity, c.relforcerowsecurity
            """
        )
        tables = {name: (enabled, forced, policies) for name, enabled, forced, policies in cursor}
    missing = {
        table: tables.get(table)
        for table in tenant_tables()
        if tables.get(table) != (True, True, sorted([POLICY_NAME, *EXTRA_POLICIES.get(table, [])]))
    }
    assert not missing, (
        f"Add records.row_security.EnableRowSecurity(<table>) to a migration for: {sorted(missing)}"
    )


def tenant_partitions() -> list[str]:
    """The partitions, at every depth, of the tenant tables (records/partitions.py)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relid::text FROM unnest(%s::text[]) t, "
            "pg_partition_tree(to_regclass(t)) WHERE level > 0",
            [tenant_tables()],
        )
        return [name for (name,) in cursor.fetchall()]


def test_the_policy_is_the_tenant_rule_for_reading_and_writing():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, qual, with_check, permissive, cmd FROM pg_policies "
            "WHERE policyname = %s",
            [POLICY_NAME],
        )
        policies = {row[0]: row[1:] for row in cursor.fetchall()}
    # A partition has the policy too: read by its own name, it is still the tenant rule.
    assert set(policies) == set(tenant_tables()) | set(tenant_partitions())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, policyname, cmd, qual FROM pg_policies WHERE policyname <> %s",
            [POLICY_NAME],
        )
        extra = {(table, name): (command, qual) for table, name, command, qual in cursor}
    assert extra == {
        ("reports_release", "published_releases_are_public"): (
            "SELECT",
            "((status)::text = 'published'::text)",
        )
    }
    for qual, with_check, permissive, command in policies.values():
        assert "current_setting('app.district_id'::text, true)" in qual
        assert "current_setting('app.system'::text, true) = 'on'::text" in qual
        # No separate check: a row may only be written where it could be read.
        assert (with_check, permissive, command) == (None, "PERMISSIVE", "ALL")
    assert "NULLIF" in POLICY_CONDITION


def test_every_table_with_a_district_column_is_a_tenant_table_or_named_here():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p')
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
            WHERE a.attname = 'district_id' AND NOT a.attisdropped AND NOT c.relispartition
            """
        )
        with_district = {row[0] for row in cursor.fetchall()}
    assert with_district - set(tenant_tables()) == NOT_TENANT_TABLES


def test_the_suite_is_subject_to_row_security():
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False, False)
        cursor.execute("SELECT row_security_active('records_student')")
        assert cursor.fetchone() == (True,)


@override_settings(ROOT_URLCONF=__name__)
def test_an_unfiltered_query_in_a_view_sees_only_the_viewers_district(world, client):
    client.force_login(world.a.users["principal"])
    seen = client.get("/unfiltered/").json()
    assert set(seen["orm"]) == set(seen["sql"]) == set(seen["iterated"]) == ids(world.a)
    assert not set(seen["sql"]) & ids(world.b)

    client.force_login(world.b.users["teacher"])
    assert set(client.get("/unfiltered/").json()["sql"]) == ids(world.b)


@override_settings(ROOT_URLCONF=__name__)
def test_a_streamed_body_is_read_in_the_requests_district(world, client):
    client.force_login(world.a.users["principal"])
    response = client.get("/streamed/")
    with entry_scope():  # as the server reads it: the request's scopes have returned
        body = b"".join(response.streaming_content).decode()
    assert {int(line) for line in body.split()} == ids(world.a)


@override_settings(ROOT_URLCONF=__name__)
def test_an_unfiltered_query_sees_nothing_without_a_district(world, client):
    assert client.get("/unfiltered/").json() == {"orm": [], "sql": [], "iterated": []}
    client.force_login(world.outsider)  # signed in, of no district
    assert client.get("/unfiltered/").json() == {"orm": [], "sql": [], "iterated": []}


def test_a_task_starts_with_no_district_even_inside_a_request_scope(world, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True

    @celery_app.task(name="tests.count_students_unfiltered")
    def count_students_unfiltered():
        return len(raw_student_ids())

    with tenant_scope(world.a.district):
        assert count_students_unfiltered.delay().get() == 0
        assert len(raw_student_ids()) == 8  # the test's own system context, again


def test_no_district_and_no_system_context_means_no_rows(world):
    with entry_scope():
        assert raw_student_ids() == set()
        with tenant_scope(world.a.district):
            assert raw_student_ids() == ids(world.a)
        assert raw_student_ids() == set()


def test_the_system_context_sees_every_district_and_is_logged(world, caplog):
    with entry_scope(), caplog.at_level(logging.INFO, "studentdata.system_context"):
        with system_scope("state release"):
            assert raw_student_ids() == ids(world.a) | ids(world.b)
        assert raw_student_ids() == set()
    assert "system context: state release" in caplog.text
    with pytest.raises(ValueError, match="reason"), system_scope(""):
        pass


def test_a_row_of_another_district_cannot_be_written(world):
    other = world.b.students["own"]
    with entry_scope(), tenant_scope(world.a.district):
        changed = Student.unscoped.filter(pk=other.pk).update(given_name="Changed")
        assert changed == 0  # invisible, so untouched
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Student.unscoped.create(
                district=world.b.district, given_name="Planted", family_name="Row"
            )
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            # Moving a row out of the district is refused too.
            Student.unscoped.filter(pk=world.a.students["own"].pk).update(district=world.b.district)
    other.refresh_from_db()
    assert other.given_name != "Changed"


def test_a_setting_undone_by_a_rollback_is_set_again(world):
    with entry_scope():
        assert raw_student_ids() == set()
        with pytest.raises(RuntimeError), transaction.atomic():
            with tenant_scope(world.a.district):
                assert raw_student_ids() == ids(world.a)
            raise RuntimeError("rolled back: the session's setting goes with it")
        with tenant_scope(world.a.district):
            assert raw_student_ids() == ids(world.a)
        with transaction.atomic():
            with tenant_scope(world.b.district):
                assert raw_student_ids() == ids(world.b)
            with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint
                with tenant_scope(world.a.district):
                    assert raw_student_ids() == ids(world.a)
                raise RuntimeError("back to the savepoint, and to district b's setting")
            with tenant_scope(world.a.district):
                assert raw_student_ids() == ids(world.a)
            assert raw_student_ids() == set()


def test_migrations_run_in_the_system_context_from_start_to_end():
    from records.apps import enter_migration_context, leave_migration_context
    from records.tenancy import current_system_reason

    with entry_scope():
        enter_migration_context(sender=None)
        assert current_system_reason() == "migrate"
        leave_migration_context(sender=None)
        assert current_system_reason() is None
        leave_migration_context(sender=None)  # a flush sends post_migrate alone
        assert current_system_reason() is None


def test_a_published_release_is_public_and_a_preview_its_districts_alone(world):
    from reports.models import Release

    def release(district, status):
        return Release.unscoped.create(
            district=district, school_year=2026, as_of="2026-06-01", kind=Release.Kind.ON_REQUEST,
            status=status, published_at="2026-06-02T00:00Z" if status == "published" else None,
            minimum_n=10, width=5, content={}, ledger={}, certificate={}, summary={},
        )  # fmt: skip

    published = release(world.b.district, Release.Status.PUBLISHED)
    preview = release(world.b.district, Release.Status.PREVIEW)

    def visible() -> set[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM reports_release")
            return {row[0] for row in cursor.fetchall()}

    with entry_scope():
        assert visible() == {published.pk}  # anyone, signed in or not
        with tenant_scope(world.a.district):
            assert visible() == {published.pk}
            # Read only: neither changed nor added to from another district.
            assert Release.unscoped.filter(pk=published.pk).update(width=6) == 0
            with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
                release(world.b.district, Release.Status.PUBLISHED)
        with tenant_scope(world.b.district):
            assert visible() == {published.pk, preview.pk}


# Every use of the system context, by module and reason: a new one is a decision to
# review (and to list in docs/security.md), not a quiet escape hatch.
SYSTEM_CONTEXT_USES = {
    ("access/management/commands/verify_audit_chain.py", "verify the audit chains"),
    ("access/tasks.py", "anchor every district's audit chain"),
    ("access/tasks.py", "end substitutes' assignments in every district"),
    ("access/tasks.py", "expire every district's deliveries"),
    ("access/tasks.py", "notify every district of ending grants"),
    ("access/tasks.py", "process every district's ended grants"),
    ("accounts/selectors.py", "open an invitation link"),
    ("records/apps.py", "migrate"),
    ("records/management/commands/seed_demo.py", "seed demo districts"),
    ("records/tasks.py", "expire every district's stale imports"),
    ("records/tenancy.py", "find the district of {model._meta.label} {pk}"),
    ("reports/published.py", "find the district of a school's public report card"),
    ("reports/tasks.py", "a state report release"),
    ("reports/tasks.py", "state report releases"),
    ("reports/tasks.py", "close every district's ended studies"),
    ("reports/tasks.py", "fail every district's lost extract builds"),
    ("studentdata/authentication.py", "provider token check"),
}


def test_every_use_of_the_system_context_is_a_listed_one():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found = set()
    for app in ("access", "accounts", "records", "reports", "studentdata"):
        for source in sorted((root / app).rglob("*.py")):
            for node in ast.walk(ast.parse(source.read_text(), str(source))):
                if not (isinstance(node, ast.Call) and _name(node.func) == "system_scope"):
                    continue
                reason = node.args[0] if node.args else None
                text = ast.unparse(reason) if reason is not None else ""
                if isinstance(reason, ast.Constant):
                    text = reason.value
                elif isinstance(reason, ast.JoinedStr):
                    text = text[2:-1]  # f"…" → …
                found.add((str(source.relative_to(root)), text))
    assert found == SYSTEM_CONTEXT_USES


def _name(func) -> str:
    return getattr(func, "id", getattr(func, "attr", ""))
