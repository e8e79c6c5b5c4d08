"""``manage.py seed_demo``: a deterministic synthetic district with every role, and its logins."""

from __future__ import annotations

import argparse
import textwrap
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from access.demo_providers import PROVIDER_NAME, seed_demo_provider
from accounts.models import User
from records.seeding import (
    DEFAULT_SLUG,
    LOGIN_LABELS,
    MIN_STUDENTS,
    SECOND_SLUG,
    SeedResult,
    school_count_limits,
    seed_demo,
)
from records.tenancy import system_scope
from reports.builds import build_release
from reports.demo_studies import seed_demo_study
from reports.models import Release, StateAnalyst
from reports.services import latest_published, publish
from reports.state import publish_state_release
from reports.tasks import state_release_is_stale


def _as_of(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {value!r}") from None


# The largest district whose first report card the demo builds inline: a release of a
# district many times this size is a worker's job (docs/benchmarks.md).
REPORT_CARD_STUDENTS = 20_000


class Command(BaseCommand):
    help = (
        "Create a synthetic demo district: schools, staff in every role, students, families and "
        "a school year of records up to --as-of, then print the demo logins. The same --seed, "
        "--students and --as-of always give the same data, and every person, address and id in "
        "it is invented: no real person appears. Without --district it seeds "
        f"'{DEFAULT_SLUG}' and a small second district '{SECOND_SLUG}'. A district that exists "
        "is left alone unless --reset, which deletes it and its rows first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--students", type=int, default=600, help="Students (default 600).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument(
            "--as-of", type=_as_of, default=None, help="Date the data runs up to (default today)."
        )
        parser.add_argument("--district", default=None, help="Seed only this district (a slug).")
        parser.add_argument(
            "--schools",
            type=int,
            default=None,
            help="The (first) district's number of schools (default: by typical school sizes).",
        )
        parser.add_argument(
            "--reset", action="store_true", help="Delete the district(s) first if they exist."
        )

    # Districts, their people, a provider across them and a state's report card.
    @system_scope("seed demo districts")
    def handle(self, *args, students, seed, as_of, district, schools, reset, **options):
        if students < MIN_STUDENTS:
            raise CommandError(f"--students must be at least {MIN_STUDENTS}")
        fewest, most = school_count_limits(students)
        if schools is not None and not fewest <= schools <= most:
            raise CommandError(
                f"--schools must be between {fewest} and {most} for {students} students"
            )
        if district is not None and (not district or slugify(district) != district):
            raise CommandError(f"--district must be a slug, got {district!r}")
        results = seed_demo(
            students=students,
            seed=seed,
            as_of=as_of,
            district=district,
            reset=reset,
            schools=schools,
            progress=self.stdout.write,
        )
        for result in results:
            self._print_counts(result)
        for result in results:
            self._print_logins(result)
        if district is None:
            self._seed_provider(results)
            self._seed_study(results)
        self._publish_report_cards(results, as_of)

    def _publish_report_cards(self, results: list[SeedResult], as_of: date | None) -> None:
        """Each seeded district's first public report card, so that /reports/ has one."""
        out = self.stdout
        out.write("")
        out.write(self.style.MIGRATE_HEADING("Public report cards (no login): /reports/"))
        for result in results:
            district = result.district
            if result.counts.get("records_student", 0) > REPORT_CARD_STUDENTS:
                out.write(f"  {district.name}: too large to build here; publish it from "
                          "/district/reports/ (a Celery worker builds it)")  # fmt: skip
                continue
            if latest_published(district.pk) is not None:
                out.write(f"  {district.name}: already published")
                continue
            release = publish(build_release(district, kind=Release.Kind.ON_REQUEST, day=as_of))
            summary = release.summary
            out.write(
                f"  {district.name}: published, {summary['hidden']:,} of {summary['cells']:,} "
                f"values hidden ({summary['seconds']:.1f} s)"
            )
        self._publish_state_report_cards(results)

    def _publish_state_report_cards(self, results: list[SeedResult]) -> None:
        """Each seeded state's report card, and a state analyst to read it at /state/."""
        out = self.stdout
        for state in sorted({result.district.state for result in results} - {""}):
            if not state_release_is_stale(state):
                out.write(f"  State of {state}: already published")
                continue
            release = latest_published(
                next(r.district.pk for r in results if r.district.state == state)
            )
            state_release = publish_state_release(state, release.school_year)
            analyst, _ = User.objects.get_or_create(
                username=f"state.analyst@{state.lower()}",
                defaults={"first_name": "State", "last_name": "Analyst"},
            )
            analyst.set_password(results[0].password)
            analyst.save()
            StateAnalyst.objects.get_or_create(user=analyst, state=state)
            out.write(
                f"  State of {state}: published, {state_release.summary['hidden']:,} of "
                f"{state_release.summary['cells']:,} values hidden; state analyst "
                f"{analyst.username} at /state/"
            )

    def _seed_provider(self, results: list[SeedResult]) -> None:
        """The demo district's bus company (access/demo_providers.py), with its logins."""
        demo = _demo_result(results)
        if demo is None:
            return
        provider = seed_demo_provider(demo.district, password=demo.password)
        if provider is None:
            return
        out = self.stdout
        out.write("")
        out.write(self.style.MIGRATE_HEADING(f"Demo service provider: {PROVIDER_NAME}"))
        out.write(
            f"  provider's person              {provider.username}  its grant (directory, "
            f"transportation) and CSV deliveries, at /provider/"
        )
        out.write(
            f"  OneRoster client               id {provider.client_id}, secret "
            f"{provider.client_secret}: POST /oauth/token/, then "
            "/ims/oneroster/rostering/v1p2/students"
        )
        out.write(f"  last night's sync recorded for {provider.students:,} students")

    def _seed_study(self, results: list[SeedResult]) -> None:
        """The demo district's research study (reports/demo_studies.py), with its login."""
        demo = _demo_result(results)
        if demo is None:
            return
        study = seed_demo_study(demo.district, password=demo.password)
        if study is None:
            return
        out = self.stdout
        out.write("")
        out.write(self.style.MIGRATE_HEADING(f"Demo research study: {study.title}"))
        out.write(
            f"  researcher                     {study.username}  the approved study, its "
            f"de-identified extract ({study.released:,} records, k = {study.k_achieved}) "
            "and output review, at /research/"
        )

    def _print_counts(self, result: SeedResult) -> None:
        state = "seeded" if result.created else "already there, unchanged"
        rows = ", ".join(
            f"{table.split('_', 1)[1]} {n:,}"
            for table, n in sorted(result.counts.items(), key=lambda item: item[0].split("_", 1)[1])
        )
        self.stdout.write(f"Rows in {result.district.slug!r} ({state}, {result.elapsed:.1f} s):")
        self.stdout.write(
            textwrap.fill(rows, width=100, initial_indent="  ", subsequent_indent="  ")
        )

    def _print_logins(self, result: SeedResult) -> None:
        district = result.district
        out = self.stdout
        out.write("")
        out.write(self.style.MIGRATE_HEADING(f"Demo logins: {district.name} ({district.slug})"))
        out.write(f"Password for every account: {result.password}")
        out.write(
            "District admins, principals, school admins, counselors, nurses, special-ed "
            "staff and researchers set up a second factor (an authenticator app) at their "
            "first sign-in."
        )
        if not result.logins:
            out.write("  (no demo accounts found: this district was not made by seed_demo)")
            return
        width = max(len(u) for u in result.logins.values())
        for label, username in result.logins.items():
            out.write(
                f"  {LOGIN_LABELS[label]:<30} {username:<{width}}  {result.descriptions[label]}"
            )


def _demo_result(results: list[SeedResult]) -> SeedResult | None:
    """``make demo``'s own district among those seeded, if it is one of them."""
    return next((r for r in results if r.district.slug == DEFAULT_SLUG), None)
