"""Building OneRoster CSV bundles for tests: a small district, and the changes to it."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest

from records.importers.oneroster import spec

# Public sample bundles live beside the repository (../shared/data), not in it.
REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "oneroster"


def shared_bundle(*parts: str) -> Path:
    """A sample bundle under ``../shared/data/oneroster``; the test skips where there is none."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared/data is not beside this clone (looked for {SHARED})")
    return SHARED.joinpath(*parts)


def write_bundle(
    folder: Path,
    tables: dict[str, list[dict]],
    *,
    modes: dict[str, str] | None = None,
    version: str = "1.1",
    line_ending: str = "\r\n",
    bom: bool = False,
) -> Path:
    """A bundle folder: a manifest plus one CSV per table, header from the spec."""
    folder.mkdir(parents=True, exist_ok=True)
    modes = modes or dict.fromkeys(tables, "bulk")
    manifest = [["propertyName", "value"], ["manifest.version", "1.0"],
                ["oneroster.version", version]]  # fmt: skip
    for file_spec in spec.FILES:
        manifest.append([f"file.{file_spec.name}", modes.get(file_spec.name, "absent")])
    _write(folder / "manifest.csv", manifest, line_ending, bom)
    for name, rows in tables.items():
        file_spec = next(s for s in spec.FILES if s.name == name)
        if name == "users" and version == "1.2":
            file_spec = spec.USERS_12
        header = list(file_spec.columns)
        body = [[row.get(column, "") for column in header] for row in rows]
        _write(folder / f"{name}.csv", [header, *body], line_ending, bom)
    return folder


def _write(path: Path, rows: list[list[str]], line_ending: str, bom: bool) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=line_ending).writerows(rows)
    path.write_bytes(("\ufeff" if bom else "").encode() + buffer.getvalue().encode())


def this_term() -> tuple[str, str]:
    today = date.today()
    return str(today - timedelta(days=60)), str(today + timedelta(days=60))


def small_district() -> dict[str, list[dict]]:
    """One school, one term, two classes, two teachers, three students, two parents."""
    start, end = this_term()
    user = {"enabledUser": "true", "orgSourcedIds": "sch-1", "status": "active"}
    return {
        "orgs": [
            {"sourcedId": "dist-1", "name": "Maple Valley SD", "type": "district"},
            {"sourcedId": "sch-1", "name": "Maple Middle", "type": "school",
             "identifier": "530123401234", "parentSourcedId": "dist-1"},
        ],
        "academicSessions": [
            {"sourcedId": "term-1", "title": "This term", "type": "term", "startDate": start,
             "endDate": end, "schoolYear": end[:4]},
        ],
        "courses": [
            {"sourcedId": "crs-math", "title": "Math 7", "orgSourcedId": "sch-1"},
            {"sourcedId": "crs-sci", "title": "Science 7", "orgSourcedId": "sch-1"},
        ],
        "classes": [
            {"sourcedId": "cls-math", "title": "Math 7 (P1)", "courseSourcedId": "crs-math",
             "classType": "scheduled", "schoolSourcedId": "sch-1", "termSourcedIds": "term-1",
             "periods": "1", "location": "Room 12"},
            {"sourcedId": "cls-sci", "title": "Science 7 (P2)", "courseSourcedId": "crs-sci",
             "classType": "scheduled", "schoolSourcedId": "sch-1", "termSourcedIds": "term-1",
             "periods": "2"},
        ],
        "users": [
            {**user, "sourcedId": "t-1", "role": "teacher", "username": "t.one",
             "givenName": "Tess", "familyName": "One", "email": "t.one@maple.example"},
            {**user, "sourcedId": "t-2", "role": "teacher", "username": "t.two",
             "givenName": "Theo", "familyName": "Two"},
            {**user, "sourcedId": "a-1", "role": "administrator", "username": "a.one",
             "givenName": "Ada", "familyName": "Admin"},
            {**user, "sourcedId": "s-1", "role": "student", "username": "s.one",
             "givenName": "Sam", "familyName": "Student", "grades": "07",
             "agentSourcedIds": "p-1"},
            {**user, "sourcedId": "s-2", "role": "student", "username": "s.two",
             "givenName": "Sky", "familyName": "Student", "grades": "07"},
            {**user, "sourcedId": "s-3", "role": "student", "username": "s.three",
             "givenName": "Sol", "familyName": "Third", "grades": "07",
             "agentSourcedIds": "p-2"},
            {**user, "sourcedId": "p-1", "role": "parent", "username": "p.one",
             "givenName": "Pat", "familyName": "Student", "agentSourcedIds": "s-1,s-2"},
            {**user, "sourcedId": "p-2", "role": "guardian", "username": "p.two",
             "givenName": "Gale", "familyName": "Third"},
        ],
        "enrollments": [
            {"sourcedId": "e-t1-math", "classSourcedId": "cls-math", "schoolSourcedId": "sch-1",
             "userSourcedId": "t-1", "role": "teacher", "primary": "true"},
            {"sourcedId": "e-t2-sci", "classSourcedId": "cls-sci", "schoolSourcedId": "sch-1",
             "userSourcedId": "t-2", "role": "teacher", "primary": "true"},
            {"sourcedId": "e-s1-math", "classSourcedId": "cls-math", "schoolSourcedId": "sch-1",
             "userSourcedId": "s-1", "role": "student"},
            {"sourcedId": "e-s2-math", "classSourcedId": "cls-math", "schoolSourcedId": "sch-1",
             "userSourcedId": "s-2", "role": "student"},
            {"sourcedId": "e-s3-sci", "classSourcedId": "cls-sci", "schoolSourcedId": "sch-1",
             "userSourcedId": "s-3", "role": "student"},
        ],
        "demographics": [
            {"sourcedId": "s-1", "birthDate": "2013-04-02", "sex": "female", "asian": "true",
             "hispanicOrLatinoEthnicity": "false"},
        ],
    }  # fmt: skip
