"""The district admin's report cards: a preview of what will be hidden, then publish or
discard; nobody else opens these pages, and no district sees another's releases."""

from __future__ import annotations

import pytest

from reports.models import Release
from tests.reports.test_public_pages import built_in_parts, publish_release

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, world):
    client.force_login(world.a.users["district_admin"])
    return client


def test_publish_now_builds_a_preview_that_shows_what_will_be_hidden(admin, world):
    response = admin.post("/district/reports/")
    assert response.status_code == 302
    preview = Release.unscoped.get(district=world.a.district)
    assert preview.status == Release.Status.PREVIEW
    assert preview.requested_by == world.a.users["district_admin"]
    listing = admin.get("/district/reports/").content.decode()
    assert f"/district/reports/{preview.pk}/" in listing and "Previews waiting" in listing
    page = admin.get(f"/district/reports/{preview.pk}/").content.decode()
    assert "Not yet public" in page and "What is hidden, by school" in page
    assert f"{preview.summary['hidden']} of {preview.summary['cells']} values" in page


def test_a_preview_protected_in_parts_says_what_nobody_can_prove(admin, world, monkeypatch):
    preview = built_in_parts(world.a.district, monkeypatch, publish=False)
    page = admin.get(f"/district/reports/{preview.pk}/").content.decode()
    narrowest = preview.summary["narrowest_primary_interval"]
    assert f"Nobody can prove a range narrower than {narrowest:.0f} for any small group" in page


def test_a_preview_is_published_or_discarded_once(admin, world):
    admin.post("/district/reports/")
    preview = Release.unscoped.get(district=world.a.district)
    assert admin.post(f"/district/reports/{preview.pk}/publish/").status_code == 302
    preview.refresh_from_db()
    assert preview.status == Release.Status.PUBLISHED
    refused = admin.post(f"/district/reports/{preview.pk}/discard/", follow=True)
    assert "Only a preview may be discarded." in refused.content.decode()
    admin.post("/district/reports/")
    second = Release.unscoped.filter(district=world.a.district).latest("pk")
    admin.post(f"/district/reports/{second.pk}/discard/")
    second.refresh_from_db()
    assert second.status == Release.Status.DISCARDED


def test_only_the_district_admin_opens_the_report_pages(client, world):
    client.force_login(world.a.users["teacher"])
    assert client.get("/district/reports/").status_code == 403
    assert client.post("/district/reports/").status_code == 403
    assert not Release.unscoped.exists()
    client.logout()
    assert client.get("/district/reports/").status_code == 302  # to sign in


def test_another_districts_release_is_not_found(admin, world):
    other = publish_release(world.b.district, [world.b.school1, world.b.school2])
    assert admin.get(f"/district/reports/{other.pk}/").status_code == 404
    assert admin.post(f"/district/reports/{other.pk}/discard/").status_code == 404


def test_the_district_admin_sets_the_minimum_n_and_the_width(admin, world, client):
    district = world.a.district
    page = admin.get("/district/reports/").content.decode()
    assert "Smallest group shown" in page and 'value="10"' in page
    saved = admin.post("/district/reports/settings/",
                       {"min_cell_size": "15", "suppression_width": "8"}, follow=True)  # fmt: skip
    assert "The next release uses them" in saved.content.decode()
    district.refresh_from_db()
    assert (district.min_cell_size, district.suppression_width) == (15, 8)
    admin.post("/district/reports/")
    preview = Release.unscoped.get(district=district)
    assert (preview.minimum_n, preview.width) == (15, 8)
    # Out of range: the form says so beside the fields, and nothing changes.
    refused = admin.post("/district/reports/settings/",
                         {"min_cell_size": "4", "suppression_width": "51"})  # fmt: skip
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "greater than or equal to 5" in html and "less than or equal to 50" in html
    district.refresh_from_db()
    assert (district.min_cell_size, district.suppression_width) == (15, 8)
    # Nobody else may change them, and another district's admin changes only their own.
    client.force_login(world.a.users["principal"])
    assert client.post("/district/reports/settings/", {"min_cell_size": "5"}).status_code == 403
    client.force_login(world.b.users["district_admin"])
    client.post("/district/reports/settings/", {"min_cell_size": "20", "suppression_width": "5"})
    district.refresh_from_db()
    world.b.district.refresh_from_db()
    assert district.min_cell_size == 15 and world.b.district.min_cell_size == 20
