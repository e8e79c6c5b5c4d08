"""The district's disclosure log: filters (provider, grant, category, school, student,
dates), paging, and the CSV export."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

import pytest

from access.audit import Disclosure, record_access
from access.models import AccessEvent, AccessEventStudent
from access.providers import ProviderScope, record_provider_reads, viewer_for_client
from access.viewer import viewer_for
from records.tenancy import entry_scope
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
    assert parties(client, student=elsewhere.pk) == ["Blue Bird Bus Co."]
    assert parties(client, student=world.a.students["own"].pk) == ["County EMS", "Reading App"]
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
    with entry_scope():  # the server reads the body after the request's scopes returned
        lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("occurred_at,party,legal_basis,grant,purpose")
    assert len(lines) == 2 and "Blue Bird Bus Co." in lines[1] and str(bus_grant.pk) in lines[1]
    assert world.a.students["elsewhere"].family_name not in lines[1]


def test_the_log_and_its_csv_read_in_the_districts_time_zone(client, world, log):
    """A Pacific district's log says Pacific times, on the page and in the export, and its
    date filters are Pacific days."""
    from datetime import UTC, datetime
    from unittest import mock

    district = world.a.district
    district.timezone = "America/Los_Angeles"
    district.save(update_fields=["timezone"])
    tutor = f.ProviderFactory(district=district, name="Evening Tutors")
    grant = f.GrantFactory(agreement=f.AgreementFactory(provider=tutor), categories=["directory"])
    viewer = viewer_for_client(f.api_client_for(tutor))
    scope = ProviderScope(viewer)
    late_evening = datetime(2027, 1, 15, 3, 30, tzinfo=UTC)  # 7:30 p.m. on the 14th there
    with mock.patch("access.audit.timezone.now", return_value=late_evening):
        record_provider_reads(viewer, scope.allowed(list(scope.students())), channel="API")
    client.force_login(world.a.users["district_admin"])
    wanted = {"provider": grant.provider_id}
    response = client.get("/district/disclosures/", {**wanted, "format": "csv"})
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[1].startswith("2027-01-14T19:30:00-08:00,")
    page = client.get("/district/disclosures/", {**wanted, "since": "2027-01-14"})
    assert len(page.context["rows"]) == 1
    assert "Jan. 14, 2027, 7:30 p.m." in page.content.decode()
    later = client.get("/district/disclosures/", {**wanted, "since": "2027-01-15"})
    assert len(later.context["rows"]) == 0


def test_the_log_is_paged(client, world, log, monkeypatch):
    from access.views import disclosures

    monkeypatch.setattr(disclosures, "EVENTS_PER_PAGE", 2)
    client.force_login(world.a.users["district_admin"])
    first = client.get("/district/disclosures/")
    assert len(first.context["rows"]) == 2 and first.context["page"].has_next()
    assert len(client.get("/district/disclosures/", {"page": 2}).context["rows"]) == 1


# -- a student is chosen by record id; their name never enters a URL ------------------


def urls_in(response) -> list[str]:
    """Every URL the response emits: links, form targets, sources, a redirect."""
    html = response.content.decode()
    found = re.findall(r'(?:href|action|src)="([^"]*)"', html)
    if response.has_header("Location"):
        found.append(response["Location"])
    return [unquote_plus(url.replace("&amp;", "&")) for url in found]


def assert_no_name_in_urls(response, student):
    names = {student.given_name, student.family_name, student.preferred_name} - {""}
    for url in urls_in(response):
        for name in names:
            assert name.lower() not in url.lower(), (name, url)


def search(client, name, filters=""):
    return client.post("/district/disclosures/", {"name": name, "filters": filters})


def test_a_search_lists_students_as_links_by_record_id(client, world, log):
    bus_grant, _ = log
    own = world.a.students["own"]
    client.force_login(world.a.users["district_admin"])
    filters = f"provider={bus_grant.provider_id}&category=directory"
    response = search(client, own.family_name, filters)
    assert response.status_code == 200
    assert [m["id"] for m in response.context["matches"]] == [own.pk]
    html = response.content.decode()
    link = f"?provider={bus_grant.provider_id}&amp;category=directory&amp;student={own.pk}"
    assert f'href="{link}"' in html and own.family_name in html
    assert_no_name_in_urls(response, own)
    # Found by an id too; another district's student is not found.
    assert [m["id"] for m in search(client, own.sourced_id).context["matches"]] == [own.pk]
    other = world.b.students["own"]
    assert other.pk not in {m["id"] for m in search(client, other.family_name).context["matches"]}
    assert search(client, other.sourced_id).context["matches"] == []
    empty = search(client, "  ")
    assert empty.status_code == 400 and "name" in empty.context["search"].errors


def test_showing_found_students_is_a_logged_read(client, world, log):
    own = world.a.students["own"]
    client.force_login(world.a.users["district_admin"])
    search(client, own.family_name)
    event = AccessEvent.unscoped.filter(purpose="disclosure log student search").get()
    assert event.actor == world.a.users["district_admin"] and event.categories == ["directory"]
    listed = AccessEventStudent.unscoped.filter(district=world.a.district, event=event)
    assert list(listed.values_list("student_id", flat=True)) == [own.pk]


def test_no_student_name_appears_in_any_url_the_log_emits(client, world, log, monkeypatch):
    from access.views import disclosures

    monkeypatch.setattr(disclosures, "EVENTS_PER_PAGE", 1)
    own = world.a.students["own"]
    client.force_login(world.a.users["district_admin"])
    chosen = client.get("/district/disclosures/", {"student": own.pk, "category": "health"})
    assert chosen.status_code == 200
    assert [row["event"].party for row in chosen.context["rows"]] == ["County EMS"]
    html = chosen.content.decode()
    assert own.family_name in html  # named on the page, for the admin
    assert f'href="?category=health&amp;student={own.pk}&amp;format=csv"' in html
    assert_no_name_in_urls(chosen, own)
    paged = client.get("/district/disclosures/", {"student": own.pk})
    assert paged.context["page"].has_next()
    assert f"student={own.pk}&amp;page=2" in paged.content.decode()
    assert_no_name_in_urls(paged, own)
    # An old link naming a student is refused, and the name is not carried on.
    for value in (own.family_name, f"{own.given_name} {own.family_name}"):
        named = client.get("/district/disclosures/", {"student": value, "category": "health"})
        assert named.status_code == 400 and "student" in named.context["form"].errors
        assert named.context["rows"] == []
        assert_no_name_in_urls(named, own)
        assert f'value="{own.family_name}"' not in named.content.decode()


def test_a_student_id_not_the_admins_is_a_field_error(client, world, log):
    client.force_login(world.a.users["district_admin"])
    for raw in (world.b.students["own"].pk, 10**12, "x"):
        response = client.get("/district/disclosures/", {"student": raw})
        assert response.status_code == 400, raw
        assert set(response.context["form"].errors) == {"student"}
        csv = client.get("/district/disclosures/", {"student": raw, "format": "csv"})
        assert csv.status_code == 400
