"""A state's report card in public, beside each school's and district's; and the state
analyst's pages, open only to those granted the state."""

from __future__ import annotations

import pytest

from reports import state as state_releases
from reports import tasks
from reports.models import StateAnalyst, StateRelease
from tests.factories import UserFactory
from tests.reports.test_state_releases import oregon, oregon_districts  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def published_state(oregon):  # noqa: F811 - the fixture imported above
    return oregon, state_releases.publish_state_release("OR", 2027)


def test_the_public_reads_the_state_report_card(client, published_state):
    districts, release = published_state
    page = client.get("/reports/states/OR/").content.decode()
    assert "<h1>Oregon</h1>" in page and "summing 2 districts" in page
    for district, _ in districts:
        assert f"/reports/districts/{district.pk}/" in page
    assert "/reports/states/OR/" in client.get("/reports/").content.decode()
    data = client.get("/api/v1/public/states/OR/report/").json()
    assert data["state"] == "OR" and data["district"] is None and data["school"] is None
    assert data["release"]["id"] == release.pk
    rows = client.get("/reports/states/OR/report.csv").content.decode().splitlines()
    assert rows[0].startswith("school_year,") and len(rows) > 20
    assert client.get("/reports/states/WA/").status_code == 404
    assert client.get("/api/v1/public/states/WA/report/").status_code == 404


def test_school_and_district_pages_compare_with_the_state(client, published_state):
    district, release = published_state[0][0]
    school_id = next(iter(release.content["schools"].values()))["id"]
    page = client.get(f"/reports/schools/{school_id}/").content.decode()
    assert "Compared with the district and the state" in page
    assert (
        "Compared with the state"
        in client.get(f"/reports/districts/{district.pk}/").content.decode()
    )


def test_a_state_analyst_compares_the_states_districts(client, published_state):
    districts, _ = published_state
    analyst = UserFactory()
    StateAnalyst.objects.create(user=analyst, state="OR")
    client.force_login(analyst)
    assert client.get("/state/")["Location"] == "/state/OR/"
    page = client.get("/state/OR/").content.decode()
    assert "State of Oregon: districts compared" in page
    for district, _ in districts:
        assert district.name in page
    assert "/state/OR/" in client.get("/").content.decode()
    before = StateRelease.objects.count()
    assert client.post("/state/OR/").status_code == 302  # rebuilt at once (Celery eager)
    assert StateRelease.objects.count() == before + 1
    assert client.get("/state/WA/").status_code == 403


def test_nobody_else_opens_a_states_analyst_pages(client, published_state):
    assert client.get("/state/OR/").status_code == 302  # to sign in
    client.force_login(UserFactory())
    assert client.get("/state/").status_code == 403
    assert client.get("/state/OR/").status_code == 403
    assert client.post("/state/OR/").status_code == 403


def test_the_daily_task_rebuilds_a_state_only_after_its_districts_published(oregon):  # noqa: F811
    assert tasks.publish_state_releases() == 1
    assert tasks.publish_state_releases() == 0
    assert StateRelease.objects.filter(state="OR").count() == 1
