"""Benchmark what a service provider gets, at the size of a large district.

With a grant of the whole bench district (directory, contact, identifiers, enrollment):

- ``/ims/oneroster/rostering/v1p2/students?limit=100``: p50/p95 in-process, with its
  query count, every request deciding access anew and writing its disclosure;
- the same over HTTP on gunicorn, requests per second beside ``/healthz/`` in the same run;
- a full sync of every user at ``limit=1000`` (students per second, peak memory, and the
  memory of the last pages against the first: flat in the district's size);
- the OneRoster CSV export of the whole district (wall time, peak memory).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from access.deliveries import delivery_build
from access.management.commands.bench_access import Timing, percentiles, timed
from access.management.commands.bench_staff import (
    _cache_in_use,
    _load,
    drive,
    gunicorn,
    healthz_check,
)
from access.models import Agreement, ApiClient, CsvDelivery, Grant, Provider
from accounts.models import Role, RoleMembership, User
from records.models import District
from records.tenancy import tenant_scope

PAGE_URL = "/ims/oneroster/rostering/v1p2/students?limit=100"
SYNC_URL = "/ims/oneroster/rostering/v1p2/users?limit=1000&offset={offset}"
SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"
CATEGORIES = ["directory", "contact", "identifiers", "enrollment"]
PROVIDER_NAME = "Bench Reading App"
SECRET = "bench-provider-secret"  # noqa: S105 - a benchmark's own client, recreated each run
UNTHROTTLED = 10**9

PAGE_P50_TARGET_MS = 40
SHARE_TARGET = 0.20
SYNC_RATE_TARGET = 5_000
CSV_SECONDS_TARGET = 120
CSV_MB_TARGET = 500


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class PeakMemory:
    """Resident memory sampled every 20 ms while a block runs: its peak above the start."""

    start: float = 0.0
    peak: float = 0.0
    samples: list[float] = field(default_factory=list)

    @property
    def growth(self) -> float:
        return self.peak - self.start


@contextlib.contextmanager
def sampled_memory() -> Iterator[PeakMemory]:
    memory = PeakMemory(start=rss_mb())
    memory.peak = memory.start
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            now = rss_mb()
            memory.samples.append(now)
            memory.peak = max(memory.peak, now)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield memory
    finally:
        done.set()
        sampler.join()
        memory.peak = max(memory.peak, rss_mb())


class Command(BaseCommand):
    help = (
        "Benchmark providers' feeds on the bench district under a whole-district grant: the "
        "OneRoster students page (in-process p50/p95, and requests/s under gunicorn beside "
        "/healthz/), a full sync of all users at limit=1000, and the CSV export; every read "
        "recorded as a disclosure, as in production."
    )

    def add_arguments(self, parser):
        parser.add_argument("--district", default="bench")
        parser.add_argument("--runs", type=int, default=50)
        parser.add_argument("--seconds", type=float, default=10.0, help="HTTP run length")
        parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
        parser.add_argument("--rounds", type=int, default=3, help="HTTP rounds (median)")
        parser.add_argument("--skip-csv", action="store_true")

    def handle(self, *args, district, runs, seconds, clients, workers, rounds, skip_csv, **options):
        the_district = District.objects.filter(slug=district).first()
        if the_district is None:
            raise CommandError(f"No district '{district}': run bench_access first (it seeds).")
        # In the district, as its pages are: row-level security applies as in production.
        with tenant_scope(the_district):
            grant, api_client = self.bench_grant(the_district)
            client = Client()
            token = self.token(client, api_client)
            headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
            self.stdout.write(
                f"Providers, district '{district}': a grant of the whole district "
                f"({', '.join(CATEGORIES)}); database {connection.vendor}\n"
            )
            with override_settings(PROVIDER_RATE_PER_MINUTE=UNTHROTTLED):
                page = self.page_timing(client, headers, runs)
                share = self.bench_http(token, seconds, clients, workers, rounds)
                rate = self.bench_sync(client, headers)
            csv = None if skip_csv else self.bench_csv(grant)
            self.print_targets(page, share, rate, csv)

    def bench_grant(self, district: District) -> tuple[Grant, ApiClient]:
        """The bench provider, its agreement and whole-district grant, and a new client."""
        from oauth2_provider.models import Application

        today = district.today()
        provider, _ = Provider.unscoped.get_or_create(district=district, name=PROVIDER_NAME)
        agreement, _ = Agreement.unscoped.get_or_create(
            district=district,
            provider=provider,
            title="Bench data privacy agreement",
            defaults={
                "services": "Reading practice",
                "term_start": today.replace(month=1, day=1),
                "term_end": today.replace(year=today.year + 1, month=12, day=31),
                "security_framework": Agreement.Framework.SOC2,
                "breach_contact": "security@bench.example",
            },
        )
        grant, _ = Grant.unscoped.update_or_create(
            district=district,
            agreement=agreement,
            provider=provider,
            purpose="reading practice rosters",
            defaults={
                "legal_basis": Grant.LegalBasis.SCHOOL_OFFICIAL,
                "categories": CATEGORIES,
                "population": Grant.Population.DISTRICT,
                "starts_on": agreement.term_start,
                "ends_on": agreement.term_end,
                "status": Grant.Status.ACTIVE,
            },
        )
        for old in ApiClient.unscoped.filter(district=district, provider=provider):
            old.delete()
            old.application.delete()
        application = Application.objects.create(
            name=f"{PROVIDER_NAME} bench",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=SECRET,
        )
        api_client = ApiClient.unscoped.create(
            district=district, provider=provider, application=application, name="bench"
        )
        return grant, api_client

    def token(self, client: Client, api_client: ApiClient) -> str:
        basic = base64.b64encode(f"{api_client.application.client_id}:{SECRET}".encode())
        response = client.post(
            "/oauth/token/",
            {"grant_type": "client_credentials", "scope": SCOPE},
            HTTP_AUTHORIZATION=f"Basic {basic.decode()}",
            secure=True,
        )
        if response.status_code != 200:
            raise CommandError(f"token: HTTP {response.status_code} {response.content[:200]!r}")
        return response.json()["access_token"]

    def page_timing(self, client: Client, headers: dict, runs: int) -> Timing:
        statements = []

        def count(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = client.get(PAGE_URL, secure=True, **headers)
        if response.status_code != 200 or len(response.json()["users"]) != 100:
            raise CommandError(f"students page: HTTP {response.status_code}")
        total = int(response["X-Total-Count"])
        samples = timed(lambda: client.get(PAGE_URL, secure=True, **headers), runs)
        timing = Timing(*percentiles(samples), len(statements))
        self.stdout.write(
            f"students?limit=100 in-process ({total:,} students in the grant, disclosure "
            f"written each time): p50 {timing.p50:.1f} ms, p95 {timing.p95:.1f} ms, "
            f"{timing.queries} queries"
        )
        return timing

    def bench_http(
        self, token: str, seconds: float, clients: int, workers: int, rounds: int
    ) -> float:
        """Requests per second of the students page against ``/healthz/``, each on its own
        gunicorn, in ``rounds`` alternating rounds: the median of the rounds' shares (a
        virtual machine's disk and CPU vary by the second; one round alone swings)."""

        def page_check(status: int, body: bytes) -> str | None:
            if status != 200:
                return f"students: HTTP {status} {body[:120]!r}"
            if len(json.loads(body)["users"]) != 100:
                return "students: not a page of 100"
            return None

        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.stdout.write(
            f"\nOver HTTP: gunicorn, {workers} sync workers, {clients} clients, {seconds:g} s "
            f"each (after 2 s of warm-up), {rounds} rounds; cache: {_cache_in_use()}"
        )
        env = {"PROVIDER_RATE_PER_MINUTE": str(UNTHROTTLED)}
        shares = []
        for round_number in range(1, rounds + 1):
            loads = {}
            for label, path, hdrs, check in (
                ("/healthz/", "/healthz/", {}, healthz_check),
                ("students", PAGE_URL, headers, page_check),
            ):
                with gunicorn(workers, **env) as port:
                    drive(port, path, hdrs, check, clients, 2.0)
                    loads[label] = load = drive(port, path, hdrs, check, clients, seconds)
                self.stdout.write(f"  {round_number}: {label:<12} {_load(load)}")
                if load.errors:
                    raise CommandError(f"{label}: {load.errors[0]}")
            shares.append(loads["students"].per_second / max(loads["/healthz/"].per_second, 1e-9))
            self.stdout.write(f"  {round_number}: OneRoster students / trivial: {shares[-1]:.1%}")
        share = statistics.median(shares)
        self.stdout.write(
            f"  OneRoster students / trivial throughput: median {share:.1%} "
            f"(rounds {min(shares):.1%}–{max(shares):.1%})"
        )
        return share

    def bench_sync(self, client: Client, headers: dict) -> float:
        """Every user, a thousand at a time, as a provider's nightly sync asks for them."""
        fetched, offset, memory_by_page = 0, 0, []
        started = time.perf_counter()
        with sampled_memory() as memory:
            while True:
                response = client.get(SYNC_URL.format(offset=offset), secure=True, **headers)
                if response.status_code != 200:
                    raise CommandError(f"sync at offset {offset}: HTTP {response.status_code}")
                users = response.json()["users"]
                fetched += len(users)
                memory_by_page.append(rss_mb())
                if len(users) < 1000:
                    break
                offset += 1000
        wall = time.perf_counter() - started
        rate = fetched / wall
        pages = len(memory_by_page)
        tenth = memory_by_page[min(9, pages - 1)]
        self.stdout.write(
            f"\nFull sync, users?limit=1000: {fetched:,} users in {pages} pages, {wall:.1f} s "
            f"= {rate:,.0f} users/s; peak memory {memory.peak:.0f} MB "
            f"(+{memory.growth:.0f} MB over the start); after page 10 {tenth:.0f} MB, "
            f"after the last {memory_by_page[-1]:.0f} MB"
        )
        return rate

    def bench_csv(self, grant: Grant) -> tuple[float, float]:
        admin = (
            RoleMembership.unscoped.filter(district=grant.district, role=Role.DISTRICT_ADMIN)
            .values_list("user_id", flat=True)
            .first()
        )
        delivery = CsvDelivery.unscoped.create(
            district=grant.district, grant=grant, requested_by=User.objects.get(pk=admin)
        )
        started = time.perf_counter()
        with sampled_memory() as memory:
            built = delivery_build(delivery_id=delivery.pk)
        wall = time.perf_counter() - started
        if built is None or built.status != CsvDelivery.Status.READY:
            raise CommandError(f"CSV export failed: {getattr(built, 'error', 'no delivery')}")
        size = built.file.size / 2**20
        self.stdout.write(
            f"\nCSV export of the grant: {len(built.student_ids):,} students, {size:.0f} MB "
            f"zip, {wall:.1f} s; peak memory {memory.peak:.0f} MB "
            f"(+{memory.growth:.0f} MB over the start)"
        )
        built.file.delete(save=False)
        CsvDelivery.unscoped.filter(pk=built.pk).update(expires_at=timezone.now())
        return wall, memory.peak

    def print_targets(self, page: Timing, share: float, rate: float, csv) -> None:
        met = {True: "met", False: "MISSED"}
        lines = [
            f"students page p50 < {PAGE_P50_TARGET_MS} ms: "
            f"{met[page.p50 < PAGE_P50_TARGET_MS]} ({page.p50:.1f} ms)",
            f"≥ {SHARE_TARGET:.0%} of the trivial view's throughput: "
            f"{met[share >= SHARE_TARGET]} ({share:.1%})",
            f"full sync ≥ {SYNC_RATE_TARGET:,} students/s: "
            f"{met[rate >= SYNC_RATE_TARGET]} ({rate:,.0f}/s)",
        ]
        if csv is not None:
            wall, peak = csv
            lines.append(
                f"CSV export < {CSV_SECONDS_TARGET} s and < {CSV_MB_TARGET} MB: "
                f"{met[wall < CSV_SECONDS_TARGET and peak < CSV_MB_TARGET]} "
                f"({wall:.0f} s, {peak:.0f} MB)"
            )
        self.stdout.write("\nTargets: " + "; ".join(lines))
