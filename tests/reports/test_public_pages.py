"""The public report cards: no login, published releases only, cacheable, and the page,
its CSV and its JSON showing exactly the same values."""

from __future__ import annotations

import csv
import datetime
import io
import random

import pytest

from reports import services
from reports.builds import GRADES
from reports.cells import DIMENSIONS, Fact, build_cells
from reports.models import Release
from tests.factories import DistrictFactory, SchoolFactory

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 11, 18)


def synthetic_facts(schools, students: int, seed: int = 5) -> list[Fact]:
    """Students spread over ``schools``, grades 3 to 5, every subgroup, two subjects."""
    rng = random.Random(seed)
    facts = []
    for _ in range(students):
        groups = [rng.choice(members[:2]) if rng.random() < 0.9 else rng.choice(members)
                  for _, members in DIMENSIONS]  # fmt: skip
        absent = rng.choice([0, 1, 2, 3, 12])
        levels = {subject: rng.randint(1, 4) for subject in ("Mathematics", "Reading")
                  if rng.random() < 0.97}  # fmt: skip
        progress = rng.choice([True, True, False, None]) if "english_learner" in groups else None
        facts.append(Fact(rng.choice(schools).pk, rng.choice(["03", "04", "05"]),
                          frozenset(groups), 60, absent, levels, progress))  # fmt: skip
    return facts


def publish_release(district, schools, students=600, seed=5) -> Release:
    cells = build_cells(synthetic_facts(schools, students, seed), grade_order=GRADES,
                        subjects=["Mathematics", "Reading"])  # fmt: skip
    release = services.create_release(
        district, cells, assessment=None, kind=Release.Kind.ON_REQUEST, day=DAY,
        school_year=2027,
    )  # fmt: skip
    return services.publish(release)


@pytest.fixture
def world():
    district = DistrictFactory(name="Lakeview Unified", state="OR")
    schools = [SchoolFactory(district=district, name=name)
               for name in ("Maple Elementary", "Cedar Elementary")]  # fmt: skip
    return district, schools, publish_release(district, schools)


def test_anyone_reads_a_school_report_card_without_signing_in(client, world):
    _, (maple, _), release = world
    response = client.get(f"/reports/schools/{maple.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Maple Elementary" in page and "Lakeview Unified" in page
    for heading in ("Enrollment", "Attendance", "Compared with the district",
                    "What the marks mean", "Mathematics", "English learners&#x27; progress",
                    "Not reported"):  # fmt: skip
        assert heading in page
    assert "Graduation rate: the district&#x27;s records do not hold graduation cohorts" in page
    assert '<svg class="chart"' in page and "<desc" in page
    assert release.content["values"][f"s{maple.pk}/enrolled/all"][0] in page
    assert "csrfmiddlewaretoken" not in page and "sessionid" not in response.cookies


def test_the_district_page_lists_its_schools_and_the_index_finds_them(client, world):
    district, (maple, cedar), _ = world
    page = client.get(f"/reports/districts/{district.pk}/").content.decode()
    assert f"/reports/schools/{maple.pk}/" in page and f"/reports/schools/{cedar.pk}/" in page
    index = client.get("/reports/").content.decode()
    assert "Oregon" in index and "Lakeview Unified" in index
    found = client.get("/reports/", {"q": "cedar"}).content.decode()
    assert "1 school matches" in found and f"/reports/schools/{cedar.pk}/" in found
    assert "0 schools match" in client.get("/reports/", {"q": "Oak"}).content.decode()


def test_pages_are_cacheable_and_revalidate_by_etag(client, world):
    _, (maple, _), _ = world
    response = client.get(f"/reports/schools/{maple.pk}/")
    assert "public" in response["Cache-Control"] and "max-age=300" in response["Cache-Control"]
    etag = response["ETag"]
    again = client.get(f"/reports/schools/{maple.pk}/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    spanish = client.get(f"/reports/schools/{maple.pk}/", {"lang": "es"})
    assert spanish["ETag"] != etag and spanish["Content-Language"] == "es"


def test_a_new_release_replaces_the_page_and_a_preview_is_never_shown(client, world):
    district, schools, _ = world
    maple = schools[0]
    etag = client.get(f"/reports/schools/{maple.pk}/")["ETag"]
    preview = services.create_release(
        district, build_cells(synthetic_facts(schools, 700, seed=9), grade_order=GRADES,
                              subjects=["Mathematics"]),
        assessment=None, kind=Release.Kind.ON_REQUEST, day=DAY, school_year=2027,
    )  # fmt: skip
    assert client.get(f"/reports/schools/{maple.pk}/")["ETag"] == etag
    services.publish(preview)
    response = client.get(f"/reports/schools/{maple.pk}/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and response["ETag"] != etag


def test_a_district_or_school_without_a_published_release_is_not_found(client, world):
    district = DistrictFactory()
    school = SchoolFactory(district=district)
    assert client.get(f"/reports/schools/{school.pk}/").status_code == 404
    assert client.get(f"/reports/districts/{district.pk}/").status_code == 404
    assert client.get("/reports/schools/999999/").status_code == 404
    assert client.get(f"/api/v1/public/schools/{school.pk}/report/").status_code == 404


def test_the_csv_and_the_json_carry_exactly_what_the_page_shows(client, world):
    _, (maple, _), release = world
    page = client.get(f"/reports/schools/{maple.pk}/").content.decode()
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/reports/schools/{maple.pk}/report.csv").content.decode()
    )))  # fmt: skip
    data = client.get(f"/api/v1/public/schools/{maple.pk}/report/").json()
    json_values = [
        (table["title"], row["label"], column["label"], value["text"], value["code"] or "")
        for table in data["tables"] for row in table["rows"]
        for column, value in zip(table["columns"], row["values"], strict=True)
    ]  # fmt: skip
    csv_values = [(r["table"], r["row"], r["column"], r["value"], r["code"]) for r in rows]
    assert csv_values == json_values
    codes = {code for *_, code in csv_values}
    assert codes <= {"", "SN", "SC", "PC"} and {"SN", "SC"} <= codes
    for row in rows:
        assert row["value"], row  # never a blank
        assert bool(row["code"]) == bool(row["code_meaning"])
        if row["code"] in ("SN", "SC"):
            assert row["value"] in ("n<10", "*")
    assert "English learners' progress" in {table["title"] for table in data["tables"]}
    assert data["not_reported"] == [
        "Graduation rate: the district's records do not hold graduation cohorts (the school "
        "year each student first entered grade 9)."
    ]
    assert data["school"] == {"id": maple.pk, "name": "Maple Elementary"}
    assert data["release"]["id"] == release.pk and data["release"]["minimum_n"] == 10
    assert "n&lt;10" in page


def test_the_public_api_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/").content.decode()
    assert "/api/v1/public/schools/{school_id}/report/" in schema
    assert "/api/v1/public/districts/{district_id}/report/" in schema


def test_the_methodology_page_states_the_rules_and_the_certificate(client, world):
    district, _, release = world
    page = client.get(f"/reports/districts/{district.pk}/methodology/").content.decode()
    assert "n&lt;10" in page and "≤1%" in page and "≥99%" in page
    assert str(release.summary["hidden"]) in page
    assert "a few schools at a time" not in page  # protected whole: the exact ranges


def built_in_parts(district, monkeypatch, *, publish: bool) -> Release:
    """A release of four schools protected two schools at a time (as a large district's
    is), published or left a preview."""
    from reports import cells as cells_module

    monkeypatch.setattr(cells_module, "WHOLE_PROTECTION_CELLS", 0)
    monkeypatch.setattr(cells_module, "PART_CELLS", 1)
    schools = [SchoolFactory(district=district) for _ in range(4)]
    cells = build_cells(synthetic_facts(schools, 400, 7), grade_order=GRADES,
                        subjects=["Reading"])  # fmt: skip
    release = services.create_release(
        district, cells, assessment=None, kind=Release.Kind.ON_REQUEST, day=DAY,
        school_year=2027,
    )  # fmt: skip
    assert release.summary["narrowest_is_exact"] is False
    return services.publish(release) if publish else release


def test_a_district_protected_in_parts_says_its_ranges_are_the_least_left(client, monkeypatch):
    district = DistrictFactory(name="Bigtown Unified", state="OR")
    release = built_in_parts(district, monkeypatch, publish=True)
    page = client.get(f"/reports/districts/{district.pk}/methodology/").content.decode()
    assert "a few schools at a time" in page
    narrowest = release.summary["narrowest_primary_interval"]
    assert narrowest >= release.width
    assert f"at least {narrowest:.0f}" in page
