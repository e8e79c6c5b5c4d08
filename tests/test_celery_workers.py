"""Real Celery workers (DESIGN section 6): several share a queue and run each job once; a
worker killed mid-import or mid-release leaves nothing applied and nothing "running",
and the job's message, handed to another worker once the visibility timeout passes,
runs it once (records/leases.py).

The workers are subprocesses (``celery -A studentdata worker``, solo pool) on a Redis
database of their own and on this test database, so the tests are transactional: what
they make is committed for the workers to read. The worker to be killed runs the same app
with one function wrapped to stop at a known point (``PAUSING_WORKER``): an import's rows
written and not committed, a nightly release stored and not committed. Nothing of that
is in the application. The last tests, without workers, hold a lease from a second
database session, as a live worker would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Role
from records import leases, tasks
from records.models import ImportRun, Student
from reports.models import Release
from tests import factories as f
from tests.conftest import SUITE_ROLE
from tests.records.oneroster_bundles import small_district, write_bundle

REPO = Path(__file__).resolve().parent.parent
BROKER_URL = "redis://127.0.0.1:6379/11"  # this module's alone (grep tests/ for redis://)
VISIBILITY_TIMEOUT = 3  # seconds: a killed worker's message is handed out again after it
STARTUP = 60  # seconds a worker may take to say it is ready
FINISH = 60  # seconds the workers may take to finish what they were given
HOST = "studentdata-test"

# The worker the tests kill: the studentdata app, with one function wrapped to write a
# signal file and sleep at a known point, where the test kills it. Tests only.
PAUSING_WORKER = """
import os, sys, time
import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studentdata.settings")
django.setup()
point, signal_file, argv = sys.argv[1], sys.argv[2], sys.argv[3:]


def pause():
    with open(signal_file, "w") as out:
        out.write(str(os.getpid()))
    time.sleep(300)  # the test kills the worker here


if point == "import-applied":  # every row written, the transaction still open
    from records.importers.oneroster import apply

    applier_run = apply.Applier.run

    def run_then_pause(self):
        applier_run(self)
        pause()

    apply.Applier.run = run_then_pause
elif point == "release-stored":  # tonight's release stored, not yet published or committed
    from reports import services

    publish = services.publish

    def pause_then_publish(release):
        pause()
        return publish(release)

    services.publish = pause_then_publish
else:
    raise SystemExit(f"no such pause point: {point}")

from studentdata.celery import app

app.worker_main(["worker", *argv])
"""


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # the worker and anything it started
        self.process.wait(timeout=10)

    def succeeded(self, task: str) -> int:
        """How many of ``task``'s messages this worker ran to the end."""
        lines = self.output().splitlines()
        return sum(1 for line in lines if f"Task {task}[" in line and " succeeded in " in line)


def wait_for(condition, *, timeout: float, failure) -> None:
    """Poll ``condition`` until it holds; after ``timeout`` seconds fail with ``failure()``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(failure())
        time.sleep(0.1)


@pytest.fixture
def broker():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(BROKER_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379 (make test's services)")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def producer(broker):
    """The web's side: sends tasks by name to the workers' broker."""
    from celery import Celery

    app = Celery("tests-producer", broker=BROKER_URL, set_as_current=False)
    yield app
    app.close()


def worker_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@pytest.fixture
def workers(transactional_db, broker, tmp_path):
    """Starts workers on demand (``start``), all killed when the test ends, however it
    ends: before the test database is emptied."""
    started: list[Worker] = []
    acting = f"role={SUITE_ROLE}" in connection.settings_dict.get("OPTIONS", {}).get("options", "")
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "DATABASE_ROLE": SUITE_ROLE if acting else "",  # row-level security, as in production
        "REDIS_URL": BROKER_URL,
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_RESULT_BACKEND": BROKER_URL,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        # Below the timeout, as the settings require; the solo pool enforces no limit.
        "CELERY_LONG_TASK_SOFT_TIME_LIMIT": "1",
        "STUDENTDATA_TESTING": "1",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PYTHONUNBUFFERED": "1",
    }

    def start(name: str, *, pause_at: str | None = None, queue: str = "celery") -> Worker:
        arguments = ["--pool=solo", "--concurrency=1", f"--hostname={name}@{HOST}",
                     f"--queues={queue}", "--without-gossip", "--without-mingle",
                     "--without-heartbeat", "--loglevel=INFO"]  # fmt: skip
        if pause_at is None:
            command = [sys.executable, "-m", "celery", "-A", "studentdata", "worker", *arguments]
        else:
            signal_file = tmp_path / f"{name}.paused"
            command = [sys.executable, "-c", PAUSING_WORKER, pause_at, str(signal_file),
                       *arguments]  # fmt: skip
        log = tmp_path / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        worker = Worker(name, process, log)
        started.append(worker)
        return worker

    def ready(*waiting: Worker) -> None:
        for worker in waiting:
            wait_for(
                lambda worker=worker: (
                    " ready." in worker.output() or worker.process.poll() is not None
                ),
                timeout=STARTUP,
                failure=lambda worker=worker: (
                    f"worker {worker.name} did not start:\n" + worker.output()[-3000:]
                ),
            )
            if worker.process.poll() is not None:
                pytest.fail(f"worker {worker.name} exited:\n{worker.output()[-3000:]}")

    start.ready = ready
    yield start
    for worker in started:
        worker.kill()


def wait_until_paused(worker: Worker, tmp_path: Path) -> None:
    signal_file = tmp_path / f"{worker.name}.paused"
    wait_for(
        lambda: signal_file.exists() or worker.process.poll() is not None,
        timeout=FINISH,
        failure=lambda: f"worker {worker.name} never reached its pause:\n{worker.output()[-3000:]}",
    )
    if worker.process.poll() is not None:
        pytest.fail(f"worker {worker.name} exited before its pause:\n{worker.output()[-3000:]}")


def start_standby(workers) -> list[Worker]:
    """Two workers started beside the one to be killed, consuming nothing yet: once it
    is dead they take the queue (``take_over``), without a start-up to wait for then."""
    return [workers(name, queue="standby") for name in ("w1", "w2")]


def take_over(producer, standby: list[Worker]) -> None:
    replies = producer.control.add_consumer(
        "celery", destination=[f"{w.name}@{HOST}" for w in standby], reply=True, timeout=10
    )
    assert len(replies) == len(standby), f"the standby workers did not answer: {replies}"


def broker_idle(broker) -> bool:
    """Nothing queued, nothing delivered and not yet acknowledged."""
    return broker.llen("celery") == 0 and broker.hlen("unacked") == 0


def logs(workers: list[Worker]) -> str:
    return "\n".join(f"--- {w.name}\n{w.output()[-2000:]}" for w in workers)


# -- what the workers are given ----------------------------------------------------------


def import_run(tmp_path: Path, slug: str) -> ImportRun:
    """A queued run of a small roster bundle (3 students) into a district of its own."""
    district = f.DistrictFactory(slug=slug)
    admin = f.UserFactory(username=f"{slug}-admin", district=district)
    f.RoleMembershipFactory(user=admin, role=Role.DISTRICT_ADMIN, school=None)
    tables = small_district()
    for row in tables["users"]:  # usernames are unique across districts
        row["username"] = f"{slug}.{row['username']}"
        if row.get("email"):
            row["email"] = f"{slug}.{row['email']}"
    folder = write_bundle(tmp_path / "bundles" / slug, tables)
    archive = shutil.make_archive(str(tmp_path / "uploads" / slug), "zip", root_dir=folder)
    return ImportRun.unscoped.create(
        district=district, kind=ImportRun.Kind.ONEROSTER, started_by=admin,
        file_name=f"{slug}.zip", file_sha256="0" * 64, stored_path=archive,
    )  # fmt: skip


def students_of(district_id: int) -> int:
    return Student.unscoped.filter(district_id=district_id).count()


# -- several workers, one queue ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_workers_sharing_a_queue_run_each_import_once(workers, producer, broker, tmp_path):
    runs = [import_run(tmp_path, f"shared-{n}") for n in range(6)]
    started = [workers(f"w{n}") for n in range(3)]
    workers.ready(*started)
    for run in runs:
        # Each twice: a message the broker hands out again is the same as one sent twice.
        producer.send_task("records.run_import", args=[run.pk])
        producer.send_task("records.run_import", args=[run.pk])

    def finished() -> bool:
        return not ImportRun.unscoped.filter(
            pk__in=[r.pk for r in runs], status__in=["queued", "running"]
        ).exists() and broker_idle(broker)

    wait_for(finished, timeout=FINISH, failure=lambda: "imports not finished:\n" + logs(started))
    for run in runs:
        run.refresh_from_db()
        assert (run.status, run.attempts) == (ImportRun.Status.SUCCEEDED, 1), logs(started)
        assert run.counts["students"]["created"] == 3  # the outcome of its one run
        assert students_of(run.district_id) == 3
        assert run.stored_path == ""
    ran = {w.name: w.succeeded("records.run_import") for w in started}
    assert sum(ran.values()) >= 2 * len(runs)  # every message taken (and acknowledged)
    assert sum(1 for count in ran.values() if count) >= 2, ran  # the queue was shared


# -- a worker killed mid-import ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_import_leaves_nothing_and_another_runs_it_once(
    workers, producer, broker, tmp_path
):
    run = import_run(tmp_path, "killed-import")
    victim = workers("victim", pause_at="import-applied")
    others = start_standby(workers)
    workers.ready(victim, *others)
    producer.send_task("records.run_import", args=[run.pk])
    producer.send_task("records.run_import", args=[run.pk])  # and a duplicate, queued behind
    wait_until_paused(victim, tmp_path)
    run.refresh_from_db()
    assert (run.status, run.attempts) == (ImportRun.Status.RUNNING, 1)
    assert students_of(run.district_id) == 0  # written, not committed
    victim.kill()
    assert students_of(run.district_id) == 0  # rolled back with the worker's session
    take_over(producer, others)

    def done() -> bool:
        return ImportRun.unscoped.get(pk=run.pk).status != "running" and broker_idle(broker)

    # The duplicate at once; the killed worker's own message after the visibility timeout.
    wait_for(done, timeout=FINISH, failure=lambda: "import not finished:\n" + logs(others))
    run.refresh_from_db()
    assert (run.status, run.attempts) == (ImportRun.Status.SUCCEEDED, 2), logs(others)
    assert run.counts["students"]["created"] == 3
    assert students_of(run.district_id) == 3
    assert run.stored_path == ""
    assert not ImportRun.unscoped.filter(status__in=["queued", "running"]).exists()
    assert sum(w.succeeded("records.run_import") for w in others) >= 2  # both messages


# -- a worker killed mid-release -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_release_leaves_nothing_and_another_publishes_it_once(
    world, workers, producer, broker, tmp_path
):
    district = world.a.district
    night = district.today().isoformat()
    victim = workers("victim", pause_at="release-stored")
    others = start_standby(workers)
    workers.ready(victim, *others)
    producer.send_task("reports.publish_nightly_release", args=[district.pk, night])
    producer.send_task("reports.publish_nightly_release", args=[district.pk, night])  # queued twice
    wait_until_paused(victim, tmp_path)
    assert not Release.unscoped.filter(district=district).exists()  # stored, not committed
    victim.kill()
    take_over(producer, others)
    wait_for(
        lambda: (
            broker_idle(broker)
            and Release.unscoped.filter(district=district, status="published").exists()
        ),
        timeout=FINISH,
        failure=lambda: "release not published:\n" + logs(others),
    )
    releases = list(Release.unscoped.filter(district=district).values_list("kind", "status"))
    assert releases == [(Release.Kind.NIGHTLY, Release.Status.PUBLISHED)], logs(others)
    assert sum(w.succeeded("reports.publish_nightly_release") for w in others) >= 2


# -- without workers: the lease decides ------------------------------------------------------


@pytest.fixture
def other_session():
    """A second database session, as another worker's: takes leases by name."""
    settings = connection.settings_dict
    other = psycopg2.connect(
        dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"],
        host=settings["HOST"], port=settings["PORT"] or 5432,
    )  # fmt: skip
    other.autocommit = True

    def take(kind: str, key) -> None:
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_lock(hashtextextended(%s, 0))", [leases.lease_name(kind, key)]
            )

    yield take
    other.close()


@pytest.mark.django_db
def test_a_delivery_of_a_run_another_worker_holds_does_nothing(tmp_path, other_session):
    run = import_run(tmp_path, "held")
    long_ago = run.created_at - timedelta(days=1)  # past any visibility timeout
    ImportRun.unscoped.filter(pk=run.pk).update(
        status="running", attempts=1, created_at=long_ago, started_at=long_ago
    )
    other_session(ImportRun._meta.label_lower, run.pk)
    tasks.run_import(run.pk)  # a second delivery
    tasks.expire_stale_imports()  # the beat
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("running", 1)
    assert students_of(run.district_id) == 0


@pytest.mark.django_db
def test_a_run_whose_worker_died_is_run_again_once_then_failed(tmp_path):
    run = import_run(tmp_path, "lost")
    stored = [Path(run.stored_path)]
    ImportRun.unscoped.filter(pk=run.pk).update(status="running", attempts=1)
    tasks.run_import(run.pk)  # nobody holds its lease: its worker is gone
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("succeeded", 2)
    assert students_of(run.district_id) == 3

    again = import_run(tmp_path, "lost-twice")
    stored.append(Path(again.stored_path))
    ImportRun.unscoped.filter(pk=again.pk).update(status="running", attempts=2)
    tasks.run_import(again.pk)
    again.refresh_from_db()
    assert again.status == "failed" and students_of(again.district_id) == 0
    assert [e["message"] for e in again.errors] == [
        "The import did not finish: the worker running it stopped twice. Nothing was "
        "changed. If it happens again with this file, please contact support."
    ]
    assert not any(path.exists() for path in stored) and again.stored_path == ""


@pytest.mark.django_db
def test_a_delivery_whose_worker_died_is_failed_and_what_it_stored_deleted(
    world, settings, tmp_path, other_session
):
    from access import deliveries
    from access import tasks as access_tasks
    from access.models import CsvDelivery

    settings.MEDIA_ROOT = tmp_path / "media"
    grant = f.GrantFactory(agreement=f.AgreementFactory(provider=f.ProviderFactory(
        district=world.a.district)))  # fmt: skip
    admin = world.a.users["district_admin"]
    lost, held = (
        CsvDelivery.unscoped.create(
            district=world.a.district, grant=grant, status="running", requested_by=admin
        )
        for _ in range(2)
    )
    leftover = settings.MEDIA_ROOT / "deliveries" / f"oneroster-{lost.pk}-0123abcd.zip"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"PK")
    other_session(CsvDelivery._meta.label_lower, held.pk)
    access_tasks.build_delivery(lost.pk)  # delivered again: nobody holds it
    access_tasks.build_delivery(held.pk)  # a worker holds it
    CsvDelivery.unscoped.filter(pk=held.pk).update(requested_at=timezone.now() - timedelta(days=1))
    access_tasks.expire_deliveries()  # the beat leaves a held one too
    lost.refresh_from_db()
    held.refresh_from_db()
    assert (lost.status, lost.error) == ("failed", deliveries.LOST_MESSAGE)
    assert not leftover.exists()
    assert held.status == "running"


@pytest.mark.django_db
def test_an_extract_whose_build_lost_its_worker_is_failed_by_the_beat(
    settings, tmp_path, other_session
):
    from reports import extracts
    from reports import tasks as report_tasks
    from reports.models import StudyExtract
    from tests.reports.test_research_studies import Setting

    settings.MEDIA_ROOT = tmp_path / "media"
    setting = Setting(students=20)
    study = setting.approved_study()
    lost, held, recent = (
        StudyExtract.unscoped.create(
            district=study.district, study=study, version=study.approved_version,
            requested_by=setting.researcher, status=status,
        )
        for status in ("running", "queued", "running")
    )  # fmt: skip
    long_ago = timezone.now() - timedelta(days=1)
    StudyExtract.unscoped.filter(pk__in=[lost.pk, held.pk]).update(requested_at=long_ago)
    other_session(StudyExtract._meta.label_lower, held.pk)  # a live worker builds it

    assert report_tasks.expire_lost_extracts() == 1
    for extract in (lost, held, recent):
        extract.refresh_from_db()
    assert (lost.status, lost.error) == ("failed", str(extracts.LOST))
    # Another worker's, and one younger than the broker's redelivery: left to them.
    assert (held.status, recent.status) == ("queued", "running")
    assert report_tasks.expire_lost_extracts() == 0


@pytest.mark.django_db
def test_a_message_that_keeps_killing_its_worker_is_given_up(monkeypatch):
    """A preview build that dies with its worker comes back (REJECT_ON_WORKER_LOST); past
    MAX_DELIVERIES deliveries of the same message, it is dropped instead of killing the
    next worker. Another message of the same task still runs."""
    from reports import tasks as report_tasks

    builds = []
    monkeypatch.setattr(
        report_tasks.builds, "build_preview_once", lambda *a, **k: builds.append(k["build_key"])
    )
    district = f.DistrictFactory()
    message, another = str(uuid.uuid4()), str(uuid.uuid4())
    for _ in range(leases.MAX_DELIVERIES + 2):
        report_tasks.build_preview.apply((district.pk, None), task_id=message)
    assert builds == [message] * leases.MAX_DELIVERIES
    report_tasks.build_preview.apply((district.pk, None), task_id=another)
    assert builds[-1] == another


def test_the_settings_make_late_acknowledgement_safe(settings):
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert timeout == settings.CELERY_VISIBILITY_TIMEOUT
    assert settings.CELERY_LONG_TASK_SOFT_TIME_LIMIT < settings.CELERY_LONG_TASK_TIME_LIMIT
    assert timeout > settings.CELERY_LONG_TASK_TIME_LIMIT
    assert settings.CELERY_TASK_TIME_LIMIT <= settings.CELERY_LONG_TASK_TIME_LIMIT
    from access import tasks as access_tasks
    from reports import tasks as report_tasks

    long_tasks = [tasks.run_import, access_tasks.build_delivery, report_tasks.build_extract,
                  report_tasks.build_preview, report_tasks.publish_nightly_release,
                  report_tasks.build_state_release]  # fmt: skip
    for task in long_tasks:
        assert (task.soft_time_limit, task.time_limit) == (
            settings.CELERY_LONG_TASK_SOFT_TIME_LIMIT,
            settings.CELERY_LONG_TASK_TIME_LIMIT,
        ), task.name
    housekeeping = (access_tasks.expire_deliveries.soft_time_limit,
                    access_tasks.expire_deliveries.time_limit)  # fmt: skip
    assert housekeeping == (settings.CELERY_TASK_SOFT_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT)
