"""The application's database role (access/database_roles.py): the pages work under it,
and it can append to the access log but not change or delete what is there, whatever
the triggers."""

from __future__ import annotations

import os

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from access.database_roles import grant_application_role
from access.models import AccessEvent
from tests.roles import acting_as, as_owner

pytestmark = pytest.mark.django_db


@pytest.fixture
def app_role() -> str:
    """A role made and granted inside the test's transaction (rolled back with it); named
    per process, as roles are the whole cluster's."""
    if connection.vendor != "postgresql":
        pytest.skip("roles are PostgreSQL's")
    role = f"studentdata_app_test_{os.getpid()}"
    with as_owner():
        grant_application_role(role, password="not-used")
    return role


def test_the_pages_work_under_the_app_role_and_its_reads_are_logged(world, client, app_role):
    student = world.a.students["own"]
    with acting_as(app_role):
        client.force_login(world.a.users["principal"])
        assert client.get(f"/students/{student.pk}/").status_code == 200
        assert client.get("/school/").status_code == 200
    assert AccessEvent.unscoped.filter(student_count__gte=1).exists()


def test_the_app_role_cannot_change_or_delete_the_log(world, client, app_role):
    client.force_login(world.a.users["principal"])
    client.get(f"/students/{world.a.students['own'].pk}/")
    event = AccessEvent.unscoped.latest("sequence")
    refusals = [
        ("UPDATE access_accessevent SET purpose = 'edited' WHERE id = %s", [event.pk]),
        ("DELETE FROM access_accessevent WHERE id = %s", [event.pk]),
        ("DELETE FROM access_accesseventstudent WHERE event_id = %s", [event.pk]),
        ("DELETE FROM access_auditchain WHERE district_id = %s", [event.district_id]),
        ("TRUNCATE access_accessevent CASCADE", []),
    ]
    with acting_as(app_role):
        for sql, params in refusals:
            denied = pytest.raises(ProgrammingError, match="permission denied")
            with denied, transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
    # Appending is the application's own path, and works (the first test reads a page).


def test_a_superuser_is_refused_as_the_app_role(db):
    if connection.vendor != "postgresql":
        pytest.skip("roles are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT session_user")
        [me] = cursor.fetchone()
    with as_owner(), pytest.raises(ValueError, match="superuser"):
        grant_application_role(me)


def test_the_command_makes_a_role_only_with_a_password(db, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("roles are PostgreSQL's")
    with pytest.raises(CommandError, match="give a password"):
        call_command("grant_app_role", f"nobody_{os.getpid()}")
    monkeypatch.delenv("APP_DB_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="APP_DB_PASSWORD is empty or unset"):
        call_command("grant_app_role", f"nobody_{os.getpid()}", password_env="APP_DB_PASSWORD")
