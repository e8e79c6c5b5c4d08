"""Benchmark a district's first reads: a teacher's students API list right after a
OneRoster import into an empty database, before and after the planner has statistics.

Run it on a database of its own (``make bench`` creates ``bench_fresh`` anew): this
machine's PostgreSQL, like production's in the first minutes after an import, has no
autovacuum to gather statistics. The importer analyzes the tables it changed; to time
the district as it would be without that, the command then removes the statistics of
every table (``pg_statistic`` rows, ``reltuples = -1``: never analyzed), which needs a
superuser, times again, analyzes, and times once more. Target: without statistics
within 3 times the analyzed time.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Role, RoleMembership
from records.importers.oneroster import import_oneroster
from records.management.commands.bench_import import generate_bundle
from records.models import District

SLUG = "fresh"
FORGET_STATISTICS = """
    DELETE FROM pg_statistic
     WHERE starelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace);
    UPDATE pg_class SET reltuples = -1, relpages = 0
     WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'i');
"""


class Command(BaseCommand):
    help = (
        "Import a generated OneRoster bundle into an empty database and time a teacher's "
        "students API list as imported, without planner statistics and analyzed "
        "(target: without statistics within 3x the analyzed time)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--students", type=int, default=600)
        parser.add_argument("--runs", type=int, default=20)

    def handle(self, *args, students, runs, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_fresh needs PostgreSQL.")
        if District.objects.exists():
            raise CommandError("bench_fresh needs an empty database (make bench makes one).")
        with tempfile.TemporaryDirectory() as folder:
            bundle = generate_bundle(
                Path(folder) / "bundle",
                students=students,
                staff=max(4, students // 15),
                parents=0,
                classes=max(4, students // 4),
                enrollments=students * 6,
            )
            started = time.perf_counter()
            report, district = import_oneroster(bundle, district_slug=SLUG)
            if not report.ok:
                raise CommandError(f"the generated bundle did not import: {report.errors[:3]}")
            imported = time.perf_counter() - started
        teacher = self.busiest_teacher(district)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=teacher).key}")
        self.stdout.write(
            f"{students:,} students imported in {imported:.1f} s; teacher {teacher.username}"
        )
        self.stdout.write("| state | first ms | p50 ms | p95 ms |\n|---|---:|---:|---:|")
        with override_settings(ACCESS_CACHE_SECONDS=0):  # every read decides access anew
            as_imported = self.time_list(client, "as imported (the importer analyzed)", runs)
            with connection.cursor() as cursor:
                cursor.execute(FORGET_STATISTICS)
            unanalyzed = self.time_list(client, "no statistics", runs)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            analyzed = self.time_list(client, "analyzed", runs)
        ratio = unanalyzed / analyzed
        verdict = "met" if ratio <= 3 else "MISSED"
        self.stdout.write(
            f"no statistics / analyzed: {ratio:.1f}x (target 3x: {verdict}); "
            f"as imported / analyzed: {as_imported / analyzed:.1f}x"
        )

    def busiest_teacher(self, district):
        role = (
            RoleMembership.unscoped.filter(district=district, role=Role.TEACHER)
            .select_related("user")
            .order_by("pk")
            .first()
        )
        if role is None:
            raise CommandError("the generated district has no teacher")
        return role.user

    def time_list(self, client, label: str, runs: int) -> float:
        samples = []
        for _ in range(runs + 1):
            started = time.perf_counter()
            response = client.get("/api/v1/students/", {"page_size": 100})
            samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200 or not response.json()["count"]:
                raise CommandError(f"the teacher's list answered {response.status_code}")
        first, rest = samples[0], sorted(samples[1:])
        p50, p95 = statistics.median(rest), rest[int(0.95 * (len(rest) - 1))]
        self.stdout.write(f"| {label} | {first:.1f} | {p50:.1f} | {p95:.1f} |")
        return p50
