"""The backup runbook (docs/operations.md), run by ``ops/backup-restore-check`` against the
test database: dump, restore into a fresh database, the audit chains verify there, and
its caches start cold. A log changed behind the triggers fails the check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from access.anchors import record_chain_heads
from tests.access.test_audit import read
from tests.roles import as_owner

SCRIPT = Path(settings.BASE_DIR) / "ops" / "backup-restore-check"

pytestmark = [
    pytest.mark.django_db(transaction=True),  # pg_dump sees only what is committed
    pytest.mark.skipif(
        shutil.which("pg_dump") is None or shutil.which("pg_restore") is None,
        reason="PostgreSQL's client tools (pg_dump, pg_restore) are not installed",
    ),
]


def database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def run_check(anchor_path: Path) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "STUDENTDATA_TESTING": "1",
        "AUDIT_ANCHOR_PATH": str(anchor_path),
        "PYTHON": sys.executable,
    }
    return subprocess.run(
        [str(SCRIPT)], env=environment, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def logged_district(world, settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the runbook is PostgreSQL's")
    settings.AUDIT_ANCHOR_PATH = tmp_path / "anchors.jsonl"
    events = [read(world, world.a.users[who], "own") for who in ("principal", "teacher")]
    record_chain_heads()
    return events


def test_a_backup_restores_and_its_audit_chains_verify(logged_district, settings):
    done = run_check(settings.AUDIT_ANCHOR_PATH)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "a: 2 events verify." in done.stdout
    assert "1 anchors match" in done.stdout
    assert "no cache entry of the source is read for the copy" in done.stdout
    assert "Backup and restore check passed." in done.stdout
    # The copy is gone.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname LIKE '%%restore_check%%'")
        assert cursor.fetchone() == (0,)


def test_a_log_changed_behind_the_triggers_fails_the_check(logged_district, settings):
    with as_owner(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE access_accessevent DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE access_accessevent SET purpose = 'edited' WHERE id = %s",
            [logged_district[0].pk],
        )
        cursor.execute("ALTER TABLE access_accessevent ENABLE TRIGGER USER")
    done = run_check(settings.AUDIT_ANCHOR_PATH)
    assert done.returncode != 0
    assert "the first broken link is the event at sequence 1" in done.stdout
