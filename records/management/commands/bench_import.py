"""Benchmark the OneRoster importer on a generated bundle at a large district's size."""

from __future__ import annotations

import csv
import random
import resource
import time
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from records.importers.oneroster import import_oneroster, spec
from records.models import District
from records.seeding import delete_district


def generate_bundle(
    folder: Path,
    *,
    students: int,
    staff: int,
    parents: int,
    classes: int,
    enrollments: int,
    seed: int = 1,
) -> Path:
    """A synthetic OneRoster 1.1 bulk bundle; the same arguments give the same files."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    folder.mkdir(parents=True, exist_ok=True)
    today = date.today()
    start, end = today - timedelta(days=90), today + timedelta(days=90)
    schools = max(1, students // 1000)

    def write(name, rows):
        columns = next(s for s in spec.FILES if s.name == name).columns
        with (folder / f"{name}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([row.get(c, "") for c in columns])

    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows(
            [["propertyName", "value"], ["manifest.version", "1.0"], ["oneroster.version", "1.1"]]
        )
        for file_spec in spec.FILES:
            mode = (
                "bulk"
                if file_spec.name
                in {"orgs", "academicSessions", "courses", "classes", "users", "enrollments"}
                else "absent"
            )
            writer.writerow([f"file.{file_spec.name}", mode])
    write(
        "orgs",
        [{"sourcedId": "d", "name": "Bench District", "type": "district"}]
        + [
            {
                "sourcedId": f"sch-{i}",
                "name": f"School {i}",
                "type": "school",
                "parentSourcedId": "d",
            }
            for i in range(schools)
        ],
    )
    write(
        "academicSessions",
        [
            {
                "sourcedId": "term",
                "title": "Term",
                "type": "term",
                "startDate": str(start),
                "endDate": str(end),
                "schoolYear": str(end.year),
            }
        ],
    )
    write(
        "courses",
        [
            {"sourcedId": f"crs-{i}", "title": f"Course {i}", "orgSourcedId": f"sch-{i % schools}"}
            for i in range(classes // 4)
        ],
    )
    write(
        "classes",
        [
            {
                "sourcedId": f"cls-{i}",
                "title": f"Class {i}",
                "courseSourcedId": f"crs-{i // 4}",
                "classType": "scheduled",
                "schoolSourcedId": f"sch-{(i // 4) % schools}",
                "termSourcedIds": "term",
                "periods": str(i % 8 + 1),
            }
            for i in range(classes)
        ],
    )

    def users():
        for i in range(staff):
            yield {
                "sourcedId": f"t-{i}",
                "enabledUser": "true",
                "role": "teacher",
                "orgSourcedIds": f"sch-{i % schools}",
                "username": f"bench.t{i}",
                "givenName": "Teacher",
                "familyName": f"T{i}",
            }
        for i in range(students):
            yield {
                "sourcedId": f"s-{i}",
                "enabledUser": "true",
                "role": "student",
                "orgSourcedIds": f"sch-{i % schools}",
                "username": f"bench.s{i}",
                "givenName": "Student",
                "familyName": f"S{i}",
                "grades": "07",
            }
        for i in range(parents):
            children = ",".join(
                f"s-{(i + k * 7919) % students}" for k in range(1 + (rng.random() < 0.3))
            )
            yield {
                "sourcedId": f"p-{i}",
                "enabledUser": "true",
                "role": "parent",
                "orgSourcedIds": f"sch-{i % schools}",
                "username": f"bench.p{i}",
                "givenName": "Parent",
                "familyName": f"P{i}",
                "agentSourcedIds": children,
            }

    write("users", users())

    def rosters():
        for c in range(classes):
            yield {
                "sourcedId": f"e-t-{c}",
                "classSourcedId": f"cls-{c}",
                "role": "teacher",
                "schoolSourcedId": "x",
                "userSourcedId": f"t-{c % staff}",
                "primary": "true",
            }
        per_class = max(1, (enrollments - classes) // classes)
        n = 0
        for c in range(classes):
            first = rng.randrange(students)
            for k in range(per_class):
                student = (first + k * 31) % students
                yield {
                    "sourcedId": f"e-{n}",
                    "classSourcedId": f"cls-{c}",
                    "role": "student",
                    "schoolSourcedId": "x",
                    "userSourcedId": f"s-{student}",
                }
                n += 1

    write("enrollments", rosters())
    return folder


class Command(BaseCommand):
    help = (
        "Benchmark the OneRoster importer: generate (once) a bulk bundle of 100,000 students, "
        "5,000 staff, 150,000 parents, 8,000 classes and 1,000,000 enrollments, import it into "
        "a fresh district, then import it again (no changes). Prints wall time and peak memory."
    )

    def add_arguments(self, parser):
        parser.add_argument("--students", type=int, default=100_000)
        parser.add_argument("--staff", type=int, default=5_000)
        parser.add_argument("--parents", type=int, default=150_000)
        parser.add_argument("--classes", type=int, default=8_000)
        parser.add_argument("--enrollments", type=int, default=1_000_000)
        parser.add_argument("--district", default="bench-import")

    def handle(self, *args, district, students, staff, parents, classes, enrollments, **options):
        sizes = {
            "students": students,
            "staff": staff,
            "parents": parents,
            "classes": classes,
            "enrollments": enrollments,
        }
        label = "-".join(str(v) for v in sizes.values())
        folder = Path(settings.BASE_DIR) / "var" / "bench" / f"oneroster-{label}"
        if not (folder / "enrollments.csv").exists():
            started = time.perf_counter()
            generate_bundle(folder, **sizes)
            self.stdout.write(f"Generated {folder} in {time.perf_counter() - started:.0f} s")
        existing = District.objects.filter(slug=district).first()
        if existing is not None:
            started = time.perf_counter()
            delete_district(existing)  # the first-import time needs a district that is new
            self.stdout.write(
                f"Deleted the previous run's district in {time.perf_counter() - started:.0f} s"
            )
        for attempt in ("first import", "re-import"):
            started = time.perf_counter()
            report, _ = import_oneroster(folder, district_slug=district)
            elapsed = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            self.stdout.write(
                f"{attempt:>13}: {elapsed:6.1f} s, {report.rows_total:,} rows, "
                f"{report.changes:,} changes, peak memory {peak:,.0f} MiB, "
                f"{len(report.errors)} errors, {len(report.warnings)} warnings"
            )
            if not report.ok:
                for issue in report.errors[:20]:
                    self.stderr.write(f"error: {issue}")
                return
