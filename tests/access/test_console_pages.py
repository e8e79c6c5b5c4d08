"""Who opens the district console: each page × the district admin of a (allowed), a's
principal (403), b's district admin (404 for a's objects), a parent (403), a visitor
(sign-in page). Every page is never cached."""

from __future__ import annotations

import pytest

from access.models import DispositionAttestation, Grant
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(world):
    provider = f.ProviderFactory(district=world.a.district, name="Blue Bird Bus Co.")
    agreement = f.AgreementFactory(provider=provider)
    grant = f.GrantFactory(agreement=agreement)
    client = f.api_client_for(provider)
    return {
        "provider": provider.pk,
        "agreement": agreement.pk,
        "grant": grant.pk,
        "client": client.pk,
    }


LIST_PAGES = [
    "/district/",
    "/district/providers/",
    "/district/agreements/",
    "/district/dispositions/",
    "/district/disclosures/",
    "/district/staff/",
]
OBJECT_PAGES = [
    "/district/providers/{provider}/",
    "/district/providers/{provider}/agreements/new/",
    "/district/agreements/{agreement}/",
    "/district/agreements/{agreement}/edit/",
    "/district/agreements/{agreement}/grants/new/",
    "/district/grants/{grant}/",
    "/district/grants/{grant}/preview/",
    "/district/clients/{client}/",
]


def _as(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", LIST_PAGES + OBJECT_PAGES)
def test_the_district_admin_opens_every_page_never_cached(client, world, objects, url):
    response = _as(client, world.a.users["district_admin"]).get(url.format(**objects))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("url", LIST_PAGES + OBJECT_PAGES)
@pytest.mark.parametrize("who", ["principal", "parent", "teacher"])
def test_others_signed_in_are_refused(client, world, objects, url, who):
    response = _as(client, world.a.users[who]).get(url.format(**objects))
    assert response.status_code == 403


@pytest.mark.parametrize("url", LIST_PAGES + OBJECT_PAGES)
def test_a_visitor_is_sent_to_sign_in(client, world, objects, url):
    response = client.get(url.format(**objects))
    assert response.status_code == 302
    assert response["Location"].startswith("/?next=") or "login" in response["Location"]


@pytest.mark.parametrize("url", OBJECT_PAGES)
def test_another_districts_admin_finds_nothing(client, world, objects, url):
    response = _as(client, world.b.users["district_admin"]).get(url.format(**objects))
    assert response.status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/district/providers/{provider}/contacts/",
        "/district/providers/{provider}/people/",
        "/district/providers/{provider}/clients/",
        "/district/clients/{client}/rotate/",
        "/district/clients/{client}/disable/",
        "/district/grants/{grant}/activate/",
        "/district/grants/{grant}/revoke/",
    ],
)
def test_writes_of_another_district_answer_404_and_change_nothing(client, world, objects, url):
    response = _as(client, world.b.users["district_admin"]).post(
        url.format(**objects), {"name": "x", "reason": "x", "email": "x@example.org"}
    )
    assert response.status_code == 404
    assert Grant.unscoped.get(pk=objects["grant"]).status == Grant.Status.ACTIVE


def test_writes_are_post_only(client, world, objects):
    admin = _as(client, world.a.users["district_admin"])
    assert admin.get(f"/district/grants/{objects['grant']}/activate/").status_code == 405
    assert admin.get(f"/district/clients/{objects['client']}/rotate/").status_code == 405


def test_the_home_page_links_the_console_for_district_admins_only(client, world):
    assert "/district/" in _as(client, world.a.users["district_admin"]).get("/").content.decode()
    client.logout()
    page = _as(client, world.a.users["principal"]).get("/").content.decode()
    assert 'href="/district/"' not in page


def test_the_console_home_counts_open_and_overdue_attestations(client, world):
    provider = f.ProviderFactory(district=world.a.district)
    today = world.a.district.today()
    from datetime import timedelta

    agreement = f.AgreementFactory(provider=provider, term_start=today - timedelta(days=400))
    # Ended 100 days ago: due 60 days after, overdue. Ended yesterday: open.
    f.GrantFactory(
        agreement=agreement,
        starts_on=today - timedelta(days=300),
        ends_on=today - timedelta(days=100),
    )
    f.GrantFactory(
        agreement=agreement,
        starts_on=today - timedelta(days=300),
        ends_on=today - timedelta(days=1),
    )
    attested = f.GrantFactory(
        agreement=agreement,
        starts_on=today - timedelta(days=300),
        ends_on=today - timedelta(days=2),
    )
    DispositionAttestation.unscoped.create(
        district=world.a.district, grant=attested, disposed_on=today, method="delete"
    )
    page = _as(client, world.a.users["district_admin"]).get("/district/").content.decode()
    assert "Open: 1. Overdue: 1." in page
