"""A read replica (``DATABASE_REPLICA_URL``, studentdata/db/replica.py) against a real one:
a streaming standby of the test cluster, made with pg_basebackup and started on a free
port of 127.0.0.1 for this module. Public report cards, the state analyst's comparison and
an extract's records are read from it; writes and access decisions stay on the primary;
the standby refuses writes; what it has not replayed yet is read from the primary.

The standby copies the whole cluster (every database on it), so it takes a few seconds
more for each gigabyte there. The cluster must allow replication from 127.0.0.1:
``make test`` sees to it (the ``replication`` target).
"""

from __future__ import annotations

import copy
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.utils import DatabaseError
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from records.models import District, School
from records.tenancy import entry_scope, tenant_scope
from reports import extracts, published
from reports.models import Release, StateAnalyst, StudyExtract
from reports.state import publish_state_release
from studentdata.db.replica import REPLICA, ReplicaRouter, replica_reads
from tests.factories import DistrictFactory, SchoolFactory, UserFactory
from tests.reports.test_public_pages import publish_release
from tests.reports.test_research_studies import Setting
from tests.test_settings import settings_in_subprocess, start_up_error

ROUTERS = ["studentdata.db.replica.ReplicaRouter"]
WAIT_SECONDS = 60


# -- settings ----------------------------------------------------------------------------


def test_without_a_replica_url_nothing_changes():
    databases = "sorted(settings.DATABASES), settings.DATABASE_ROUTERS"
    url = "postgres://u@127.0.0.1:5432/x"
    for primary in (url, ""):
        assert (
            settings_in_subprocess(databases, DATABASE_URL=primary, DATABASE_REPLICA_URL="")
            == "(['default'], [])"
        )


def test_the_replica_is_connected_to_as_the_primary_is():
    url, replica_url = "postgres://u@127.0.0.1:5432/x", "postgres://u@10.0.0.2:5432/x"
    described = (
        "[(d['ENGINE'], d['HOST'], d['OPTIONS']['options'], d.get('TEST')) "
        "for d in settings.DATABASES.values()], settings.DATABASE_ROUTERS"
    )
    options = "-c random_page_cost=1.1 -c max_parallel_workers_per_gather=0 -c jit=off -c role=app"
    primary = ("studentdata.db.postgresql", "127.0.0.1", options, None)
    replica = ("studentdata.db.postgresql", "10.0.0.2", options, {"MIRROR": "default"})
    assert settings_in_subprocess(
        described, DATABASE_URL=url, DATABASE_REPLICA_URL=replica_url, DATABASE_ROLE="app"
    ) == str(([primary, replica], ROUTERS))


def test_a_replica_needs_a_postgresql_primary_and_is_postgresql():
    env = {**os.environ, "DATABASE_URL": "", "DATABASE_REPLICA_URL": "postgres://u@h/x"}
    assert "DATABASE_REPLICA_URL needs DATABASE_URL to name PostgreSQL" in start_up_error(env)
    env |= {"DATABASE_URL": "postgres://u@h/x", "DATABASE_REPLICA_URL": "sqlite:///x.db"}
    assert "DATABASE_REPLICA_URL must name PostgreSQL" in start_up_error(env)


# -- a real standby ----------------------------------------------------------------------


class Standby:
    """A hot standby of the test cluster, streaming from it."""

    def __init__(self, primary: dict, bindir: Path):
        self.primary = primary
        self.bindir = bindir
        # pg_ctl refuses root: run the server as postgres, who must own its directory.
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.root = Path(tempfile.mkdtemp(prefix="studentdata-standby-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()

    def run(self, program: str, *args: str) -> None:
        command = [*self.as_owner, str(self.bindir / program), *args]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{program} failed:\n{result.stderr}{log}")

    def start(self) -> None:
        if self.as_owner:
            shutil.chown(self.root, "postgres", "postgres")
        primary = self.primary
        try:
            self.run(
                "pg_basebackup",
                *("-h", primary["HOST"] or "127.0.0.1", "-p", str(primary["PORT"] or 5432)),
                *("-U", primary["USER"] or "postgres", "-D", str(self.data)),
                # A throwaway copy: no fsync, and the checkpoint taken at once.
                "--write-recovery-conf", "--checkpoint=fast", "--wal-method=stream", "--no-sync",
            )  # fmt: skip
        except RuntimeError as error:
            raise RuntimeError(
                f"{error}\nThe cluster must allow replication from 127.0.0.1: `make replication`"
            ) from None
        # Debian keeps the configuration outside the data directory: the copy has none. A
        # hot standby needs the primary's limits at least.
        limits = self.admin_query(
            "SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', "
            "'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', "
            "'max_locks_per_transaction')"
        )
        config = {
            "port": str(self.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "hot_standby": "on",
            "fsync": "off",
            **dict(limits),
        }
        (self.data / "postgresql.conf").write_text(
            "".join(f"{name} = {value}\n" for name, value in config.items())
        )
        (self.data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        if self.as_owner:
            for path in (self.data / "postgresql.conf", self.data / "pg_hba.conf"):
                shutil.chown(path, "postgres", "postgres")
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        assert self.standby_query("SELECT pg_is_in_recovery()") == [(True,)]

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def admin_query(self, sql: str, *, port=None, dbname: str = "postgres") -> list[tuple]:
        connection = psycopg2.connect(
            host="127.0.0.1" if port else self.primary["HOST"] or "127.0.0.1",
            port=port or self.primary["PORT"] or 5432,
            user=self.primary["USER"] or "postgres",
            dbname=dbname,
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        finally:
            connection.close()

    def standby_query(self, sql: str) -> list[tuple]:
        return self.admin_query(sql, port=self.port)

    def catch_up(self) -> None:
        """Wait until the standby has replayed everything the primary has written."""
        (lsn,) = self.admin_query("SELECT pg_current_wal_lsn()::text")[0]
        self._wait(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn", f"replay of {lsn}")

    def pause(self) -> None:
        self.standby_query("SELECT pg_wal_replay_pause()")
        self._wait("SELECT pg_get_wal_replay_pause_state() = 'paused'", "replay to pause")

    def resume(self) -> None:
        self.standby_query("SELECT pg_wal_replay_resume()")

    def _wait(self, sql: str, what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not self.standby_query(sql)[0][0]:
            if time.monotonic() > deadline:
                raise AssertionError(f"the standby gave up waiting for {what}")
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def standby(django_db_setup, django_db_blocker):
    """The standby, and ``DATABASES["replica"]``: its copy of the test database, reached as
    the primary's test database is (same backend, same acting role) and a test mirror of
    it, as settings make it (Django neither creates nor flushes it). Added before the
    tests' database fixtures, which allow it (``on_both``)."""
    primary = connections[DEFAULT_DB_ALIAS].settings_dict
    if connections[DEFAULT_DB_ALIAS].vendor != "postgresql":
        pytest.skip("a read replica is a PostgreSQL standby; the tests run on SQLite here")
    with django_db_blocker.unblock(), connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        major = int(cursor.fetchone()[0]) // 10000
    bindir = Path(os.environ.get("PG_BINDIR", f"/usr/lib/postgresql/{major}/bin"))
    missing = [name for name in ("pg_basebackup", "pg_ctl") if not (bindir / name).exists()]
    if missing:
        pytest.skip(f"PostgreSQL {major}'s {' and '.join(missing)} are not in {bindir}")
    server = Standby(primary, bindir)
    started = time.monotonic()
    try:
        server.start()
        server.catch_up()
        print(f"standby made and caught up in {time.monotonic() - started:.1f} s")
        replica_settings = copy.deepcopy(primary)
        replica_settings["HOST"], replica_settings["PORT"] = "127.0.0.1", str(server.port)
        replica_settings["TEST"] = {**replica_settings["TEST"], "MIRROR": DEFAULT_DB_ALIAS}
        connections.settings[REPLICA] = replica_settings
        yield server
    finally:
        if REPLICA in connections.settings:
            connections[REPLICA].close()
            del connections[REPLICA]
            del connections.settings[REPLICA]
        server.stop()


# The tests' data must be committed to reach the standby: transactions, not a rollback.
on_both = pytest.mark.django_db(transaction=True, databases=[DEFAULT_DB_ALIAS, REPLICA])


@pytest.fixture
def replica(standby, settings):
    """The router on, and no release remembered from another test."""
    settings.DATABASE_ROUTERS = ROUTERS
    published.forget_everything()
    try:
        yield standby
    finally:
        published.forget_everything()
        standby.resume()  # should a test have stopped at a pause
        connections[REPLICA].close()


class Queries:
    """The statements each connection ran in the block."""

    def __enter__(self):
        self.primary = CaptureQueriesContext(connections[DEFAULT_DB_ALIAS])
        self.replica = CaptureQueriesContext(connections[REPLICA])
        self.primary.__enter__()
        self.replica.__enter__()
        return self

    def __exit__(self, *exc):
        self.replica.__exit__(*exc)
        self.primary.__exit__(*exc)

    @staticmethod
    def _on(captured, table: str, *, main: bool) -> list[str]:
        """The statements naming ``table``; with ``main``, those reading it first (not in
        a sub-select only)."""
        return [
            q["sql"]
            for q in captured.captured_queries
            if f'"{table}"' in (q["sql"].split(" FROM ", 1)[-1].split()[0] if main else q["sql"])
        ]

    def on_primary(self, table: str, *, main: bool = False) -> list[str]:
        return self._on(self.primary, table, main=main)

    def on_replica(self, table: str, *, main: bool = False) -> list[str]:
        return self._on(self.replica, table, main=main)


def published_district(name: str = "Lakeview Unified", state: str = "OR"):
    district = DistrictFactory(name=name, state=state)
    schools = [SchoolFactory(district=district, name=f"{name} {kind}") for kind in "AB"]
    with transaction.atomic():
        release = publish_release(district, schools)
    published.forget_everything()  # as another process: it did not publish
    return district, schools, release


@on_both
def test_public_report_cards_are_read_from_the_replica(client, replica):
    district, (school, _), release = published_district()
    replica.catch_up()
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_user")
        in_recovery, acting_as = cursor.fetchone()
    assert in_recovery, "the replica alias reaches the standby"
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == acting_as  # row-level security applies alike
    with Queries() as queries:
        pages = [
            client.get(f"/reports/schools/{school.pk}/"),
            client.get(f"/reports/districts/{district.pk}/"),
            client.get(f"/reports/districts/{district.pk}/report.csv"),
            client.get(f"/api/v1/public/schools/{school.pk}/report/"),
            client.get("/reports/", {"q": school.name}),
        ]
    assert [page.status_code for page in pages] == [200] * 5
    assert school.name in pages[0].content.decode() and school.name in pages[4].content.decode()
    assert pages[0]["ETag"].startswith(f'"release-{release.pk}-')
    assert queries.on_replica("reports_release") and queries.on_replica("records_district")
    assert not queries.on_primary("reports_release") and not queries.on_primary("records_school")
    assert queries.on_replica("records_school")  # a tenant row, found in the system context
    # Row-level security holds on the standby as on the primary: its sessions take the
    # context's settings (set_config) before their statements.
    school_there, elsewhere = School.unscoped.filter(pk=school.pk), DistrictFactory()
    with replica_reads("a test"), Queries() as queries:
        with entry_scope():
            assert not school_there.exists()  # no district in force: no rows
        with entry_scope(), tenant_scope(district):
            assert school_there.exists()
        with entry_scope(), tenant_scope(elsewhere):
            assert not school_there.exists()
    assert len(queries.on_replica("records_school")) == 3 and not queries.primary.captured_queries


@on_both
def test_writes_go_to_the_primary_and_the_replica_refuses_them(replica):
    district, _, release = published_district()
    replica.catch_up()
    with Queries() as queries, replica_reads("a test"):
        District.objects.filter(pk=district.pk).update(name="Renamed on the primary")
    assert queries.on_primary("records_district") and not queries.replica.captured_queries
    with pytest.raises(DatabaseError, match="read-only transaction"):
        District.objects.using(REPLICA).filter(pk=district.pk).update(name="Refused")
    with pytest.raises(DatabaseError, match="read-only transaction"):
        Release.unscoped.using(REPLICA).filter(pk=release.pk).delete()
    replica.catch_up()
    assert District.objects.using(REPLICA).get(pk=district.pk).name == "Renamed on the primary"


@on_both
def test_access_decisions_and_transactions_stay_on_the_primary(client, replica):
    districts = [published_district(name) for name in ("Lakeview", "Pine Ridge")]
    with transaction.atomic():
        publish_state_release("OR", 2027)
    analyst = UserFactory()
    StateAnalyst.objects.create(user=analyst, state="OR")
    client.force_login(analyst)
    published.forget_everything()
    replica.catch_up()
    with Queries() as queries:
        page = client.get("/state/OR/")
        refused = client.get("/state/WA/")
    assert page.status_code == 200 and refused.status_code == 403
    assert all(district.name in page.content.decode() for district, _, _ in districts)
    # Who may open the page, and who is asking: the primary's answer alone.
    assert queries.on_primary("reports_stateanalyst") and queries.on_primary("accounts_user")
    for table in ("reports_stateanalyst", "accounts_user", "django_session"):
        assert not queries.on_replica(table), table
    # The published releases compared: the replica's.
    assert queries.on_replica("reports_release") and queries.on_replica("reports_staterelease")
    assert not queries.on_primary("reports_release")

    router = ReplicaRouter()
    with replica_reads("a test"):
        assert router.db_for_read(Release) == REPLICA
        assert router.db_for_read(User) == router.db_for_read(StateAnalyst) == DEFAULT_DB_ALIAS
        with transaction.atomic():  # its own writes are on the primary only
            assert router.db_for_read(Release) == DEFAULT_DB_ALIAS
    assert router.db_for_read(Release) == DEFAULT_DB_ALIAS  # outside a block
    assert router.allow_migrate(REPLICA, "reports") is False


@on_both
def test_an_extract_reads_its_population_on_the_primary_and_records_on_the_replica(
    replica, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    setting = Setting(students=120)
    study = setting.approved_study(element_school="1", element_grade="1")
    extract = StudyExtract.unscoped.create(
        district=study.district, study=study, version=study.approved_version,
        requested_by=setting.researcher,
    )  # fmt: skip
    replica.catch_up()
    with Queries() as queries:
        built = extracts.extract_build(extract_id=extract.pk)
    assert built.status in (StudyExtract.Status.READY, StudyExtract.Status.REFUSED), built.error
    assert built.report["records"] == 120
    # The study, its researcher and which students it holds: decided on the primary.
    for table in ("access_study", "access_researcher", "records_schoolmembership"):
        assert queries.on_primary(table, main=True), table
    for table in ("access_study", "access_researcher", "access_accessevent"):
        assert not queries.on_replica(table), table
    # The replica reads no membership but as the sub-select narrowing its record reads.
    assert not queries.on_replica("records_schoolmembership", main=True)
    # The records: the replica's.
    for table in ("records_attendancerecord", "records_assessmentresult"):
        assert queries.on_replica(table) and not queries.on_primary(table), table


@on_both
def test_what_the_replica_has_not_replayed_is_read_from_the_primary(client, replica):
    district, _, first = published_district()
    replica.catch_up()
    replica.pause()
    # A district's first release, published while the standby does not replay: the
    # replica has no release of it, the primary does; the page shows it (no 404).
    newcomer, (school, _), newcomers = published_district("Harbor View")
    with Queries() as queries:
        page = client.get(f"/reports/schools/{school.pk}/")
    assert page.status_code == 200 and page["ETag"].startswith(f'"release-{newcomers.pk}-')
    assert queries.on_replica("records_school") and queries.on_primary("records_school")
    assert queries.on_replica("reports_release") and queries.on_primary("reports_release")
    assert not Release.unscoped.using(REPLICA).filter(district=newcomer).exists()

    # A district's next release. The process that published it shows it at once...
    with transaction.atomic():
        second = publish_release(district, list(School.unscoped.filter(district=district)), seed=9)
    page = client.get(f"/reports/districts/{district.pk}/")
    assert page["ETag"].startswith(f'"release-{second.pk}-')
    # ...another process shows the release before it until the standby replays it: a
    # report card a moment late, never a missing one.
    published.forget_everything()
    assert client.get(f"/reports/districts/{district.pk}/")["ETag"].startswith(
        f'"release-{first.pk}-'
    )
    replica.resume()
    replica.catch_up()
    published.forget_everything()
    assert client.get(f"/reports/districts/{district.pk}/")["ETag"].startswith(
        f'"release-{second.pk}-'
    )
