"""A bounded load run with mixed roles: gunicorn, Redis and a Celery worker on 127.0.0.1.

Clients (threads, each with its own connection) take turns through the readers of a
seeded district (``seed_demo``): a parent's family page, a teacher's classes, a
principal's school search, a district admin's console, a provider's OneRoster page, the
public report cards, a password reset (queued for the Celery worker), and a parent
asking for another family's child. Every answer is checked for what that reader must
get (their children's names, their school, a 404 for the other child...); any other
answer is an error. Prints each reader's requests, p50 and p95, and the errors.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.test import Client
from django.utils.html import escape

from access.classes import teacher_sections
from access.management.commands.bench_access import percentiles
from access.management.commands.bench_providers import Command as ProviderBench
from access.management.commands.bench_staff import (
    Check,
    Load,
    Request,
    drive_mix,
    gunicorn,
    signed_in_client,
    stop,
)
from access.viewer import viewer_for
from accounts.models import User
from records.models import District, School, Student
from records.seeding import demo_logins
from records.tenancy import tenant_scope


def contains(*needles: str, status: int = 200, never: tuple[str, ...] = ()) -> Check:
    """The status, every one of ``needles``, and none of ``never``."""

    def check(got: int, body: bytes) -> str | None:
        if got != status:
            return f"HTTP {got}, expected {status}: {body[:120]!r}"
        text = body.decode(errors="replace")
        missing = [needle for needle in needles if needle not in text]
        shown = [needle for needle in never if needle in text]
        if missing or shown:
            return f"missing {missing}, must not show {shown}"
        return None

    return check


class Command(BaseCommand):
    help = "Mixed-role load on gunicorn with Redis and a Celery worker; every answer checked."

    def add_arguments(self, parser):
        parser.add_argument("--district", default="bench")
        parser.add_argument("--seconds", type=float, default=60.0)
        parser.add_argument("--clients", type=int, default=4)
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")

    def handle(self, *args, district, seconds, clients, workers, **options):
        the_district = District.objects.filter(slug=district).first()
        if the_district is None:
            raise CommandError(f"No district '{district}': seed it with seed_demo first.")
        if not settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
            raise CommandError("Set REDIS_URL: the run is with Redis, as in production.")
        # In the district, as its pages are: row-level security applies as in production.
        with tenant_scope(the_district):
            scenarios = self.scenarios(the_district)
            self.stdout.write(
                f"Load: district '{district}', {len(scenarios)} readers, {clients} clients, "
                f"{workers} gunicorn workers, a Celery worker, {seconds:g} s"
            )
            env = {"SECURE_SSL_REDIRECT": "false", "PROVIDER_RATE_PER_MINUTE": str(10**9)}
            with celery_worker(), gunicorn(workers, **env) as port:
                drive_mix(port, scenarios, clients, 2.0)  # warm-up, not counted
                loads = drive_mix(port, scenarios, clients, seconds)
            self.report(scenarios, loads)

    def scenarios(self, district: District) -> list[Request]:
        logins, _ = demo_logins(district, as_of=district.today())
        users = {label: User.objects.get(username=name) for label, name in logins.items()}
        parent = users["parent_two_children"]
        children = Student.unscoped.filter(
            district=district, guardian_links__guardian=parent
        ).distinct()
        child_names = [escape(child.family_name) for child in children]
        other = (
            Student.unscoped.filter(district=district)
            .exclude(guardian_links__guardian=parent)
            .exclude(pk__in=[c.pk for c in children])
            .order_by("pk")
            .first()
        )
        principal_school = School.unscoped.filter(
            district=district, staff__user=users["principal"]
        ).first()
        sections = sections_of(users["teacher"])
        if len(child_names) < 2 or not sections or other is None or principal_school is None:
            raise CommandError("The district's demo readers lack children, classes or a school.")
        provider_headers = self.provider_headers(district)
        signed_in = {label: self.session_cookie(user) for label, user in users.items()}
        reset = self.reset_form()
        return [
            Request("parent: family page", "/family/", signed_in["parent_two_children"],
                    contains(*child_names)),
            Request("parent: another family's child", f"/family/{other.pk}/",
                    signed_in["parent_two_children"],
                    contains(status=404, never=(escape(other.family_name),))),
            Request("teacher: classes", "/classes/", signed_in["teacher"], contains(*sections)),
            Request("principal: school search", "/school/?q=a", signed_in["principal"],
                    contains(escape(principal_school.name))),
            Request("district admin: console", "/district/", signed_in["district_admin"],
                    contains(escape(district.name))),
            Request("provider: OneRoster students",
                    "/ims/oneroster/rostering/v1p2/students?limit=100", provider_headers,
                    _hundred_users),
            Request("public: report cards", "/reports/", {},
                    contains("School report cards", never=tuple(child_names))),
            Request("anyone: password reset (Celery)", "/password-reset/", reset["headers"],
                    _reset_check, method="POST", body=reset["body"]),
        ]  # fmt: skip

    def session_cookie(self, user: User) -> dict:
        """A signed-in session, second factor given: as after the sign-in forms."""
        session_key = signed_in_client(user).cookies[settings.SESSION_COOKIE_NAME].value
        return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}"}

    def provider_headers(self, district: District) -> dict:
        bench = ProviderBench()
        _, api_client = bench.bench_grant(district)
        return {"Authorization": f"Bearer {bench.token(Client(), api_client)}"}

    def reset_form(self) -> dict:
        """A CSRF cookie and token for the reset form, as a browser would hold them."""
        client = Client(enforce_csrf_checks=True)
        page = client.get("/password-reset/", secure=True)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
        cookie = client.cookies[settings.CSRF_COOKIE_NAME].value
        return {
            "headers": {
                "Cookie": f"{settings.CSRF_COOKIE_NAME}={cookie}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            "body": f"csrfmiddlewaretoken={token.group(1).decode()}&email=load%40example.org",
        }

    def report(self, scenarios: list[Request], loads: dict[str, Load]) -> None:
        took = max(load.seconds for load in loads.values())
        total = sum(len(load.latencies) + len(load.errors) for load in loads.values())
        errors = sum(len(load.errors) for load in loads.values())
        self.stdout.write(f"\n{total:,} requests in {took:.1f} s = {total / took:.1f} req/s")
        for scenario in scenarios:
            load = loads[scenario.name]
            p50, p95 = percentiles(load.latencies) if load.latencies else (0.0, 0.0)
            self.stdout.write(
                f"  {scenario.name:<34} {len(load.latencies):>6,} ok  "
                f"p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  {len(load.errors)} errors"
            )
            for error in sorted(set(load.errors))[:3]:
                self.stdout.write(f"      {error}")
        verdict = "met" if errors == 0 else "MISSED"
        self.stdout.write(f"\nTarget: 0 errors: {verdict} ({errors} errors)")


def sections_of(teacher: User) -> list[str]:
    """The titles of the sections the teacher's classes page must list, as the page
    decides them (access/classes.py)."""
    with tenant_scope(teacher.district_id):
        sections = teacher_sections(viewer_for(teacher))
        return [escape(section.title) for section in sections]


def _hundred_users(status: int, body: bytes) -> str | None:
    if status != 200:
        return f"HTTP {status}: {body[:120]!r}"
    return None if body.count(b'"sourcedId"') >= 100 else "fewer than 100 users"


def _reset_check(status: int, body: bytes) -> str | None:
    """Queued (302 to the sent page), or the address's hourly limit (429): both right."""
    return None if status in (302, 429) else f"HTTP {status}: {body[:120]!r}"


@contextlib.contextmanager
def celery_worker() -> Iterator[None]:
    """A Celery worker on this project's broker, stopped however the run ends."""
    binary = Path(sys.executable).with_name("celery")
    worker = subprocess.Popen(  # noqa: S603 - our own argv, no shell
        [str(binary), "-A", "studentdata", "worker", "--concurrency", "1", "-l", "warning"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DEBUG": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)  # connects to the broker
        if worker.poll() is not None:
            raise CommandError("the Celery worker exited at start")
        yield
    finally:
        stop(worker)
