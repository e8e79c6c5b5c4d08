"""Benchmark the access core at the size of a large district.

Seeds (or reuses) a synthetic district, then for a teacher, a principal and a
parent prints: the visible-students query against equivalent hand-written SQL
(median times and their ratio), and the students API list (page of 100) and
detail latencies, p50/p95, in-process, with their query counts.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection
from django.db.models import Count
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from access.models import AccessEventStudent
from access.scoping import visible_students
from access.viewer import eligibility_cutoff, viewer_for
from accounts.models import Role, RoleMembership, User
from records.importers.analyze import analyze_tables
from records.models import District, GuardianLink, SectionTeacher, Student
from records.tenancy import tenant_scope

HAND_WRITTEN_SQL = {
    "teacher": """
        SELECT DISTINCT s.id FROM records_student s
        JOIN records_enrollment e ON e.student_id = s.id AND e.district_id = s.district_id
        JOIN records_section sec ON sec.id = e.section_id AND sec.district_id = e.district_id
        JOIN records_academicsession t ON t.id = sec.term_id AND t.district_id = sec.district_id
        JOIN records_sectionteacher st
          ON st.section_id = sec.id AND st.district_id = sec.district_id
        WHERE s.district_id = %(district)s AND st.teacher_id = %(user)s
          AND t.start_date <= %(today)s AND t.end_date >= %(today)s
          AND (e.begin_date IS NULL OR e.begin_date <= %(today)s)
          AND (e.end_date IS NULL OR e.end_date >= %(today)s)
          AND (st.begin_date IS NULL OR st.begin_date <= %(today)s)
          AND (st.end_date IS NULL OR st.end_date >= %(today)s)
    """,
    "principal": """
        SELECT DISTINCT s.id FROM records_student s
        JOIN records_schoolmembership m ON m.student_id = s.id AND m.district_id = s.district_id
        WHERE s.district_id = %(district)s AND m.school_id = ANY(%(schools)s)
          AND (m.begin_date IS NULL OR m.begin_date <= %(today)s)
          AND (m.end_date IS NULL OR m.end_date >= %(today)s)
    """,
    "parent": """
        SELECT s.id FROM records_student s
        JOIN records_guardianlink g ON g.student_id = s.id AND g.district_id = s.district_id
        WHERE s.district_id = %(district)s AND g.guardian_id = %(user)s AND g.has_data_access
          AND (g.begin_date IS NULL OR g.begin_date <= %(today)s)
          AND (g.end_date IS NULL OR g.end_date >= %(today)s)
          AND NOT EXISTS (
            SELECT 1 FROM records_custodyrestriction r
            WHERE r.district_id = g.district_id AND r.guardian_link_id = g.id AND r.scope = 'all'
              AND (r.begin_date IS NULL OR r.begin_date <= %(today)s)
              AND (r.end_date IS NULL OR r.end_date >= %(today)s))
          AND (s.is_tax_dependent OR (NOT s.is_postsecondary
               AND (s.birth_date IS NULL OR s.birth_date > %(cutoff)s)))
    """,
}


@dataclass
class Timing:
    p50: float
    p95: float
    queries: int


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def timed(fn, runs: int) -> list[float]:
    fn()  # warm caches and plans
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def acting_role() -> str | None:
    """The role this process acts as after connecting (``DATABASE_ROLE``), when the user
    it connected as is a superuser: then the policies can be bypassed for a comparison."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, current_user <> session_user AND rolsuper "
            "FROM pg_roles WHERE rolname = session_user"
        )
        role, comparable = cursor.fetchone()
    return role if comparable else None


def row_security_cost(fn, runs: int, block: int = 10) -> tuple[float, float]:
    """Median ms of ``fn`` under row-level security (the acting role) and bypassing it
    (the session's superuser), in alternating blocks on one connection: the same data,
    caches and plans, so the difference is the policies' (a switch replans, so each
    block's first run is not counted)."""
    applied: list[float] = []
    bypassed: list[float] = []
    try:
        for _ in range(max(1, runs // block)):
            for samples, statement in ((applied, "RESET ROLE"), (bypassed, "SET ROLE NONE")):
                with connection.cursor() as cursor:
                    cursor.execute(statement)
                samples.extend(timed(fn, block))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
    return statistics.median(applied), statistics.median(bypassed)


class Command(BaseCommand):
    help = (
        "Benchmark who-sees-what at district scale: the access filter against hand-written "
        "SQL, and API list/detail latency with query counts, for a teacher, a principal "
        "and a parent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--district", default="bench")
        parser.add_argument("--students", type=int, default=200_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--runs", type=int, default=50)

    def handle(self, *args, district, students, seed, runs, **options):
        if not District.objects.filter(slug=district).exists():
            self.stdout.write(f"Seeding {students:,} students into '{district}' …")
            start = time.perf_counter()
            call_command("seed_demo", district=district, students=students, seed=seed)
            self.stdout.write(f"Seeded in {time.perf_counter() - start:.0f} s")
        the_district = District.objects.get(slug=district)
        # In the district, as its pages are: row-level security applies as in production.
        with tenant_scope(the_district):
            # Steady state: the access log's statistics as autovacuum would keep them.
            analyze_tables(["access_accessevent", "access_accesseventstudent", "access_auditchain"])
            total = Student.unscoped.filter(district=the_district).count()
            self.stdout.write(
                f"District '{district}': {total:,} students, database {connection.vendor}\n"
            )
            readers = self.pick_readers(the_district)
            self.stdout.write(
                "visible: students the reader may see. ORM: building and running the access "
                "query through Django;\ngen/hand: running the generated SQL and equivalent "
                "hand-written SQL (ratio gen/hand). List is a page of 100. List and detail: "
                "every request\ndecides access anew (caching off); cached: p50 of a repeated "
                "request (the list's access decision\nand the projected students from the "
                "cache).\n"
            )
            header = (
                f"{'reader':<10} {'visible':>8} {'ORM ms':>7} {'gen ms':>7} {'hand ms':>7} "
                f"{'ratio':>6} "
                f"{'list p50':>9} {'list p95':>9} {'list q':>6} "
                f"{'detail p50':>10} {'detail p95':>10} {'detail q':>8} "
                f"{'cached list':>11} {'cached detail':>13}"
            )
            self.stdout.write(header)
            self.stdout.write("-" * len(header))
            for label, user in readers.items():
                self.bench_reader(label, user, runs)
            self.bench_family_pages(readers["parent"], runs)
            self.bench_row_security(readers, runs)

    def bench_row_security(self, readers: dict[str, User], runs: int) -> None:
        """What the policies cost each reader's access query and students list."""
        role = acting_role()
        if role is None:
            self.stdout.write(
                "\nRow-level security: not measured (connect as a superuser with "
                "DATABASE_ROLE set to the application's role, as make bench does)"
            )
            return
        self.stdout.write(
            f"\nRow-level security: as {role} (policies applied) against the same "
            f"session bypassing them; medians of {runs * 2} runs, alternating blocks"
        )
        for label, user in readers.items():
            viewer = viewer_for(user)
            client = APIClient()
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            purpose = "" if label == "parent" else "purpose=iep_meeting"
            url = f"/api/v1/students/?page_size=100&{purpose}"

            def query(viewer=viewer):
                list(visible_students(viewer).values_list("pk", flat=True))

            def page(client=client, url=url):
                assert client.get(url, secure=True).status_code == 200

            with override_settings(ACCESS_CACHE_SECONDS=0):
                for what, fn in (("access query", query), ("students list", page)):
                    applied, bypassed = row_security_cost(fn, runs * 2)
                    self.stdout.write(
                        f"  {label:<10} {what:<14} {applied:7.2f} ms against {bypassed:7.2f} ms"
                        f"  ({(applied / bypassed - 1) * 100:+.1f}%)"
                    )

    def bench_family_pages(self, parent: User, runs: int) -> None:
        """The family portal's pages for a parent, as a browser signed in would get them."""
        from access.management.commands.bench_staff import signed_in_client

        client = signed_in_client(parent)
        viewer = viewer_for(parent)
        child = visible_students(viewer).order_by("pk").values_list("pk", flat=True).first()
        reads = AccessEventStudent.unscoped.filter(
            district_id=viewer.district_id, student_id=child
        ).count()
        self.stdout.write(
            "\nFamily portal (HTML, signed in as the parent; a school year of records; "
            f"the child's access log holds {reads:,} reads)"
        )
        access = f"/family/{child}/access/"
        # The staff list's second page, by key: the first page's "Older" link.
        older = re.search(
            r'href="\?(older=[\w-]+)', client.get(access, secure=True).content.decode()
        )
        for label, url in (
            ("/family/", "/family/"),
            ("/family/<child>/", f"/family/{child}/"),
            ("/family/<child>/access/", access),
            *([("  its ?older=<key> page", f"{access}?{older[1]}")] if older else []),
        ):
            timing = self.api_timing(client, url, runs)
            self.stdout.write(
                f"  {label:<26} p50 {timing.p50:6.1f} ms  p95 {timing.p95:6.1f} ms  "
                f"{timing.queries} queries"
            )

    def pick_readers(self, district) -> dict[str, User]:
        scoped = {"district": district}
        teacher_id = (
            SectionTeacher.unscoped.filter(**scoped).order_by("id").values("teacher_id")[:1]
        )
        principal = (
            RoleMembership.unscoped.filter(**scoped, role=Role.PRINCIPAL, school__kind="high")
            .order_by("id")  # a high school: the largest
            .values("user_id")[:1]
        )
        parent = (
            GuardianLink.unscoped.filter(**scoped)
            .values("guardian_id")
            .annotate(children=Count("student_id", distinct=True))
            .filter(children__gte=2)
            .order_by("guardian_id")
            .values("guardian_id")[:1]
        )
        return {
            "teacher": User.objects.get(pk=teacher_id),
            "principal": User.objects.get(pk=principal),
            "parent": User.objects.get(pk=parent),
        }

    def bench_reader(self, label: str, user: User, runs: int) -> None:
        viewer = viewer_for(user)
        ids = list(visible_students(viewer).values_list("pk", flat=True))
        params = {
            "district": viewer.district_id,
            "user": user.pk,
            "today": viewer.today,
            "schools": sorted(next((r.school_ids for r in viewer.routes if r.school_ids), [])),
            "cutoff": eligibility_cutoff(viewer.district, viewer.today),
        }

        generated_sql, generated_params = (
            visible_students(viewer).values_list("pk", flat=True).query.sql_with_params()
        )

        def orm():
            list(visible_students(viewer).values_list("pk", flat=True))

        def run(sql, sql_params):
            with connection.cursor() as cursor:
                cursor.execute(sql, sql_params)
                return {row[0] for row in cursor.fetchall()}

        assert run(HAND_WRITTEN_SQL[label], params) == set(ids), f"SQL disagrees for {label}"
        orm_ms = statistics.median(timed(orm, runs))
        generated_ms = statistics.median(timed(lambda: run(generated_sql, generated_params), runs))
        sql_ms = statistics.median(timed(lambda: run(HAND_WRITTEN_SQL[label], params), runs))

        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        # Staff declare a purpose, so the page carries every category their role sees.
        purpose = "" if label == "parent" else "purpose=iep_meeting"
        list_url = f"/api/v1/students/?page_size=100&{purpose}"
        detail_url = f"/api/v1/students/{ids[len(ids) // 2]}/?{purpose}"
        # Each request decides access anew, as the first after any change does.
        with override_settings(ACCESS_CACHE_SECONDS=0):
            list_timing = self.api_timing(client, list_url, runs)
            detail_timing = self.api_timing(client, detail_url, runs)
        cached_list = self.api_timing(client, list_url, runs)
        cached_detail = self.api_timing(client, detail_url, runs)
        self.stdout.write(
            f"{label:<10} {len(ids):>8,} {orm_ms:>7.2f} {generated_ms:>7.2f} {sql_ms:>7.2f} "
            f"{generated_ms / sql_ms:>6.2f} "
            f"{list_timing.p50:>9.1f} {list_timing.p95:>9.1f} {list_timing.queries:>6} "
            f"{detail_timing.p50:>10.1f} {detail_timing.p95:>10.1f} {detail_timing.queries:>8} "
            f"{cached_list.p50:>11.1f} {cached_detail.p50:>13.1f}"
        )

    def api_timing(self, client, url: str, runs: int) -> Timing:
        return request_timing(client, url, runs)


def request_timing(client, url: str, runs: int, **extra) -> Timing:
    """GET ``url`` through a test client (``extra``: its headers, as ``HTTP_*``): the SQL
    statements of one request (which must answer 200), then p50/p95 over ``runs`` more
    after a warm-up."""
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url, secure=True, **extra)
    assert response.status_code == 200, (url, response.status_code)
    samples = timed(lambda: client.get(url, secure=True, **extra), runs)
    p50, p95 = percentiles(samples)
    return Timing(p50, p95, len(statements))
