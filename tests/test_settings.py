"""The settings helpers fail loudly on values they cannot read."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from studentdata.settings import env_bool, env_int, env_list


def test_env_bool_reads_the_usual_spellings(monkeypatch):
    for raw, expected in [("1", True), ("yes", True), ("off", False), ("False", False)]:
        monkeypatch.setenv("FLAG", raw)
        assert env_bool("FLAG") is expected
    monkeypatch.delenv("FLAG")
    assert env_bool("FLAG", True) is True


def test_env_bool_refuses_a_typo(monkeypatch):
    monkeypatch.setenv("FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        env_bool("FLAG")


def test_env_int_refuses_garbage_and_values_below_the_minimum(monkeypatch):
    monkeypatch.setenv("N", "ten")
    with pytest.raises(ImproperlyConfigured, match="integer"):
        env_int("N", 1)
    monkeypatch.setenv("N", "-1")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env_int("N", 1, minimum=0)


def test_an_empty_variable_means_the_default(monkeypatch):
    from studentdata.settings import env_str

    monkeypatch.setenv("ZONE", "")
    assert env_str("ZONE", "America/Chicago") == "America/Chicago"
    monkeypatch.setenv("ZONE", "America/Denver")
    assert env_str("ZONE", "America/Chicago") == "America/Denver"


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example , b.example,, ")
    assert env_list("HOSTS") == ["a.example", "b.example"]


def start_up_error(env: dict) -> str:
    """What Django's start-up prints when it refuses to start with ``env`` (it must)."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**env, "DJANGO_SETTINGS_MODULE": "studentdata.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    return result.stderr


def test_production_settings_refuse_to_start_without_a_secret(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k not in {"STUDENTDATA_TESTING", "SECRET_KEY"}}
    env.update({"DEBUG": "", "STUDENTDATA_DEMO": ""})
    assert "SECRET_KEY is required" in start_up_error(env)


def settings_in_subprocess(expression: str, **env_overrides) -> str:
    import os
    import subprocess
    import sys

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "studentdata.settings", **env_overrides}
    result = subprocess.run(
        [sys.executable, "-c", f"from django.conf import settings; print(({expression}))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_tasks_run_inline_without_a_broker_and_through_redis_with_one():
    eager = "settings.CELERY_TASK_ALWAYS_EAGER, settings.CELERY_BROKER_URL"
    assert settings_in_subprocess(eager, REDIS_URL="", CELERY_BROKER_URL="") == "(True, None)"
    assert settings_in_subprocess(eager, REDIS_URL="redis://127.0.0.1:6379/0") == (
        "(False, 'redis://127.0.0.1:6379/0')"
    )


def test_no_database_url_means_the_sqlite_file():
    engine = "settings.DATABASES['default']['ENGINE']"
    assert settings_in_subprocess(engine, DATABASE_URL="") == "django.db.backends.sqlite3"
    assert (
        settings_in_subprocess(engine, DATABASE_URL="postgres://u@127.0.0.1:5432/x")
        == "studentdata.db.postgresql"  # Django's, with row-level security's settings
    )


def test_every_postgresql_connection_plans_for_an_ssd_and_without_parallel_workers(db):
    from django.db import connection

    options = "settings.DATABASES['default']['OPTIONS']['options']"
    url = "postgres://u@127.0.0.1:5432/x"
    assert settings_in_subprocess(options, DATABASE_URL=url) == (
        "-c random_page_cost=1.1 -c max_parallel_workers_per_gather=0 -c jit=off"
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone() == ("0",)
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)


def test_a_bad_parallel_workers_setting_stops_start_up():
    import os

    env = {
        **os.environ,
        "DATABASE_URL": "postgres://u@127.0.0.1:5432/x",
        "PG_PARALLEL_WORKERS_PER_GATHER": "two",
    }
    assert "PG_PARALLEL_WORKERS_PER_GATHER must be a whole number" in start_up_error(env)


def test_a_database_role_to_act_as_is_set_on_every_connection_or_refused():
    import os

    options = "settings.DATABASES['default']['OPTIONS']['options']"
    url = "postgres://u@127.0.0.1:5432/x"
    assert settings_in_subprocess(options, DATABASE_URL=url, DATABASE_ROLE="studentdata_app") == (
        "-c random_page_cost=1.1 -c max_parallel_workers_per_gather=0 -c jit=off "
        "-c role=studentdata_app"
    )
    env = {**os.environ, "DATABASE_URL": url, "DATABASE_ROLE": "app -c fsync=off"}
    assert "DATABASE_ROLE must be a plain role name" in start_up_error(env)


def test_an_access_log_retention_under_a_year_stops_start_up():
    import os

    env = {**os.environ, "ACCESS_LOG_RETENTION_MONTHS": "6"}
    assert "ACCESS_LOG_RETENTION_MONTHS must be 0" in start_up_error(env)
    assert (
        settings_in_subprocess(
            "settings.ACCESS_LOG_RETENTION_MONTHS", ACCESS_LOG_RETENTION_MONTHS="12"
        )
        == "12"
    )
