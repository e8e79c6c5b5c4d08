"""The district's disclosure log: filters (provider, grant, category, school, student,
dates), paging, and the CSV export."""

from __future__ import annotations

import pytest

from access.audit import Disclosure, record_access
from access.providers import ProviderScope, record_provider_reads, viewer_for_client
from access.viewer import viewer_for
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def log(world):
    bus = f.ProviderFactory(district=world.a.district, name="Blue Bird Bus Co.")
    bus_grant = f.GrantFactory(
        agreement=f.AgreementFactory(provider=bus),
        categories=["directory"],
        population="schools",
        school_ids=[world.a.school2.pk],
        purpose="Bus routes",
    )
    app = f.ProviderFactory(district=world.a.district, name="Reading App")
    app_grant = f.GrantFactory(
        agreement=f.AgreementFactory(provider=app, data_elements=["student_name", "student_email"]),
        categories=["directory", "contact"],
        population="schools",
        school_ids=[world.a.school1.pk],
        purpose="Reading practice",
    )
    for grant in (bus_grant, app_grant):
        viewer = viewer_for_client(f.api_client_for(grant.provider, name=f"c{grant.pk}"))
        scope = ProviderScope(viewer)
        students = list(scope.students())
        record_provider_reads(viewer, scope.allowed(students), channel="OneRoster REST")
    # A disclosure that is not a provider's: listed per student.
    record_access(
        viewer_for(world.a.users["district_admin"]),
        student_ids=[world.a.students["own"].pk],
        categories=["health"],
        purpose="Ambulance",
        disclosure=Disclosure(party="County EMS", legal_basis="99.31(a)(10)"),
    )
    # Another district's disclosure never shows.
    record_access(
        viewer_for(world.b.users["district_admin"]),
        student_ids=[world.b.students["own"].pk],
        categories=["health"],
        purpose="Ambulance",
        disclosure=Disclosure(party="B County EMS", legal_basis="99.31(a)(10)"),
    )
    return bus_grant, app_grant


def parties(client, **params) -> list[str]:
    response = client.get("/district/disclosures/", params)
    assert response.status_code == 200
    return sorted(row["event"].party for row in response.context["rows"])


def test_every_filter_narrows_the_log(client, world, log):
    bus_grant, app_grant = log
    client.force_login(world.a.users["district_admin"])
    assert parties(client) == ["Blue Bird Bus Co.", "County EMS", "Reading App"]
    assert parties(client, provider=bus_grant.provider_id) == ["Blue Bird Bus Co."]
    assert parties(client, grant=app_grant.pk) == ["Reading App"]
    assert parties(client, category="contact") == ["Reading App"]
    assert parties(client, category="health") == ["County EMS"]
    assert parties(client, school=world.a.school2.pk) == ["Blue Bird Bus Co."]
    assert parties(client, school=world.a.school1.pk) == ["County EMS", "Reading App"]
    elsewhere = world.a.students["elsewhere"]
    assert parties(client, student=elsewhere.sourced_id) == ["Blue Bird Bus Co."]
    assert parties(client, student=world.a.students["own"].family_name) == [
        "County EMS",
        "Reading App",
    ]
    assert parties(client, student=world.b.students["own"].sourced_id) == []  # not a's
    assert parties(client, student="Nobody Atall") == []
    today = world.a.district.today()
    assert len(parties(client, since=today.isoformat(), until=today.isoformat())) == 3
    assert parties(client, until="2000-01-01") == []


def test_a_bad_filter_is_a_field_error_not_a_500(client, world, log):
    client.force_login(world.a.users["district_admin"])
    response = client.get(
        "/district/disclosures/", {"since": "2026-02-01", "until": "2026-01-01", "school": "x"}
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"until", "school"}


def test_the_csv_export_holds_the_filtered_log(client, world, log):
    bus_grant, _ = log
    client.force_login(world.a.users["district_admin"])
    response = client.get(
        "/district/disclosures/", {"provider": bus_grant.provider_id, "format": "csv"}
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("occurred_at,party,legal_basis,grant,purpose")
    assert len(lines) == 2 and "Blue Bird Bus Co." in lines[1] and str(bus_grant.pk) in lines[1]
    assert world.a.students["elsewhere"].family_name not in lines[1]


def test_the_log_is_paged(client, world, log, monkeypatch):
    from access.views import disclosures

    monkeypatch.setattr(disclosures, "EVENTS_PER_PAGE", 2)
    client.force_login(world.a.users["district_admin"])
    first = client.get("/district/disclosures/")
    assert len(first.context["rows"]) == 2 and first.context["page"].has_next()
    assert len(client.get("/district/disclosures/", {"page": 2}).context["rows"]) == 1
