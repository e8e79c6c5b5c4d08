"""Providers, their contacts, their people and their API clients from the console."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from oauth2_provider.models import AccessToken

from access.models import (
    ApiClient,
    DispositionAttestation,
    Provider,
    ProviderContact,
    ProviderMember,
)
from tests import factories as f

pytestmark = pytest.mark.django_db

SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"


@pytest.fixture
def admin(client, world):
    client.force_login(world.a.users["district_admin"])
    return client


@pytest.fixture
def provider(world):
    return f.ProviderFactory(district=world.a.district, name="Blue Bird Bus Co.")


def token_status(client, client_id: str, secret: str) -> int:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "scope": SCOPE},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    return response.status_code


def test_a_provider_is_added_and_edited_with_field_errors(admin, world):
    response = admin.post("/district/providers/", {"name": "", "website": "not a url"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"name", "website"}
    response = admin.post("/district/providers/", {"name": "Reading App", "services": "Reading"})
    provider = Provider.unscoped.get(name="Reading App")
    assert response["Location"] == f"/district/providers/{provider.pk}/"
    assert provider.district == world.a.district
    response = admin.post("/district/providers/", {"name": "reading app"})
    assert response.context["form"].errors["name"] == ["A provider of this name already exists."]
    admin.post(
        f"/district/providers/{provider.pk}/",
        {"name": "Reading App 2", "website": "https://r.example"},
    )
    provider.refresh_from_db()
    assert (provider.name, provider.website) == ("Reading App 2", "https://r.example")


def test_contacts_are_added_and_removed(admin, provider):
    response = admin.post(
        f"/district/providers/{provider.pk}/contacts/", {"kind": "privacy", "name": "Ana"}
    )
    assert response.status_code == 400
    assert response.context["contact_form"].errors["email"] == ["This field is required."]
    admin.post(
        f"/district/providers/{provider.pk}/contacts/",
        {"kind": "privacy", "name": "Ana", "email": "ana@bus.example", "phone": "555-0101"},
    )
    contact = ProviderContact.unscoped.get()
    assert (contact.kind, contact.email) == ("privacy", "ana@bus.example")
    admin.post(f"/district/providers/{provider.pk}/contacts/{contact.pk}/remove/")
    assert not ProviderContact.unscoped.exists()


def test_people_who_sign_in_are_new_or_existing_non_staff_accounts(admin, world, provider):
    url = f"/district/providers/{provider.pk}/people/"
    response = admin.post(url, {"email": world.a.users["teacher"].email})
    assert response.status_code == 400
    assert "holds a staff role" in response.context["member_form"].errors["email"][0]
    response = admin.post(url, {"email": world.b.users["parent"].email})
    assert "another district" in response.context["member_form"].errors["email"][0]
    assert (
        admin.post(url, {"email": "dispatch@bus.example", "first_name": "Dee"}).status_code == 302
    )
    member = ProviderMember.unscoped.get()
    assert member.user.district == world.a.district and not member.user.has_usable_password()
    assert admin.post(url, {"email": "Dispatch@bus.example"}).status_code == 400
    admin.post(f"/district/providers/{provider.pk}/people/{member.pk}/remove/")
    assert not ProviderMember.unscoped.exists()


def test_a_clients_secret_is_shown_once_and_rotation_stops_the_old_one(client, admin, provider):
    response = admin.post(f"/district/providers/{provider.pk}/clients/", {"name": "Nightly sync"})
    assert response.status_code == 200
    api_client = ApiClient.unscoped.get()
    secret = response.context["secret"]
    client_id = api_client.application.client_id
    page = response.content.decode()
    assert secret in page and client_id in page
    assert api_client.application.client_secret != secret  # stored hashed
    again = admin.get(f"/district/clients/{api_client.pk}/").content.decode()
    assert client_id in again and secret not in again

    anonymous = client.__class__()
    assert token_status(anonymous, client_id, secret) == 200
    assert AccessToken.objects.filter(application=api_client.application).count() == 1
    response = admin.post(f"/district/clients/{api_client.pk}/rotate/")
    new_secret = response.context["secret"]
    assert new_secret != secret and new_secret in response.content.decode()
    assert not AccessToken.objects.filter(application=api_client.application).exists()
    assert token_status(anonymous, client_id, secret) == 401
    assert token_status(anonymous, client_id, new_secret) == 200
    assert new_secret not in admin.get(f"/district/clients/{api_client.pk}/").content.decode()


def test_a_disabled_clients_next_request_is_refused(client, admin, world, provider):
    f.GrantFactory(agreement=f.AgreementFactory(provider=provider))
    api_client = f.api_client_for(provider)
    anonymous = client.__class__()
    basic = base64.b64encode(f"{api_client.application.client_id}:{f.CLIENT_SECRET}".encode())
    token = anonymous.post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "scope": SCOPE},
        HTTP_AUTHORIZATION=f"Basic {basic.decode()}",
    ).json()["access_token"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert anonymous.get("/api/v1/students/", **bearer).status_code == 200
    admin.post(f"/district/clients/{api_client.pk}/disable/")
    api_client.refresh_from_db()
    assert not api_client.is_active and api_client.disabled_at is not None
    assert anonymous.get("/api/v1/students/", **bearer).status_code == 401
    assert admin.post(f"/district/clients/{api_client.pk}/rotate/").status_code == 302


@pytest.fixture
def ended(world, provider):
    today = world.a.district.today()
    agreement = f.AgreementFactory(provider=provider, term_start=today - timedelta(days=400))
    return f.GrantFactory(
        agreement=agreement,
        starts_on=today - timedelta(days=300),
        ends_on=today - timedelta(days=3),
    )


def test_the_district_records_an_attestation_on_the_providers_behalf(admin, world, ended):
    page = admin.get("/district/dispositions/")
    (item,) = page.context["items"]
    assert item["grant"] == ended and not item["overdue"]
    assert item["due"] == ended.ends_on + timedelta(days=world.a.district.disposition_days)
    url = f"/district/grants/{ended.pk}/attestation/"
    future = (world.a.district.today() + timedelta(days=2)).isoformat()
    response = admin.post(url, {"disposed_on": future, "method": "delete"})
    assert response.status_code == 400
    assert response.context["form"].errors["disposed_on"] == ["The date cannot be in the future."]
    today = world.a.district.today().isoformat()
    assert admin.post(url, {"disposed_on": today, "method": "delete"}).status_code == 302
    attestation = DispositionAttestation.unscoped.get()
    assert (
        attestation.on_behalf_of_provider
        and attestation.recorded_by == world.a.users["district_admin"]
    )
    assert admin.get("/district/dispositions/").context["items"] == []


def test_a_running_grant_takes_no_attestation(admin, world, provider):
    grant = f.GrantFactory(agreement=f.AgreementFactory(provider=provider))
    response = admin.post(
        f"/district/grants/{grant.pk}/attestation/",
        {"disposed_on": world.a.district.today().isoformat(), "method": "delete"},
    )
    assert response.status_code == 302 and not DispositionAttestation.unscoped.exists()


def test_the_providers_own_people_attest_for_themselves(client, world, provider, ended):
    person = f.UserFactory(district=world.a.district, username="dispatch")
    ProviderMember.unscoped.create(district=world.a.district, provider=provider, user=person)
    client.force_login(person)
    page = client.get("/provider/")
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert [item["grant"] for item in page.context["due"]] == [ended]
    url = f"/provider/grants/{ended.pk}/attestation/"
    today = world.a.district.today().isoformat()
    assert client.post(url, {"disposed_on": today, "method": "delete"}).status_code == 302
    assert not DispositionAttestation.unscoped.get().on_behalf_of_provider


def test_the_provider_page_is_for_the_providers_people_only(client, world, provider, ended):
    for who in ("district_admin", "parent", "teacher"):
        client.force_login(world.a.users[who])
        assert client.get("/provider/").status_code == 403
    client.logout()
    assert client.get("/provider/").status_code == 302
    other = f.ProviderFactory(district=world.a.district, name="Other")
    person = f.UserFactory(district=world.a.district)
    ProviderMember.unscoped.create(district=world.a.district, provider=other, user=person)
    client.force_login(person)
    assert client.get(f"/provider/grants/{ended.pk}/attestation/").status_code == 404
