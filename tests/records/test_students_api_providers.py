"""The native students API serves providers' OAuth clients too, projected to the grant."""

from __future__ import annotations

import base64
import hashlib

import pytest

from access.models import AccessEvent, Grant
from tests import factories as f

pytestmark = pytest.mark.django_db

SCOPE = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly"


def token_for(client, api_client, secret=f.CLIENT_SECRET) -> str:
    basic = base64.b64encode(f"{api_client.application.client_id}:{secret}".encode()).decode()
    response = client.post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "scope": SCOPE},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.fixture
def bus(world):
    provider = f.ProviderFactory(district=world.a.district, name="Blue Bird Bus Co.")
    grant = f.GrantFactory(
        agreement=f.AgreementFactory(provider=provider),
        categories=["directory", "transportation"],
        population="schools",
        school_ids=[world.a.school2.pk],
    )
    return f.api_client_for(provider), grant


def test_a_provider_reads_its_grants_students_and_categories_only(client, world, bus):
    api_client, grant = bus
    bearer = f"Bearer {token_for(client, api_client)}"
    response = client.get("/api/v1/students/", HTTP_AUTHORIZATION=bearer)
    assert response.status_code == 200
    body = response.json()
    elsewhere = world.a.students["elsewhere"]
    assert [item["sourced_id"] for item in body["results"]] == [elsewhere.sourced_id]
    assert set(body["results"][0]) == {"id", "sourced_id", "directory", "transportation"}
    event = AccessEvent.unscoped.get(grant=grant)
    assert event.disclosed_student_ids == [elsewhere.pk]
    assert event.party == "Blue Bird Bus Co." and event.is_disclosure
    # One student by id: theirs, and another not theirs answers 404 alike.
    assert (
        client.get(f"/api/v1/students/{elsewhere.pk}/", HTTP_AUTHORIZATION=bearer).status_code
        == 200
    )
    own = world.a.students["own"].pk
    assert client.get(f"/api/v1/students/{own}/", HTTP_AUTHORIZATION=bearer).status_code == 404
    assert client.get("/api/v1/students/999999/", HTTP_AUTHORIZATION=bearer).status_code == 404


def test_a_revoked_grant_answers_403_on_the_next_request(client, bus):
    api_client, grant = bus
    bearer = f"Bearer {token_for(client, api_client)}"
    assert client.get("/api/v1/students/", HTTP_AUTHORIZATION=bearer).status_code == 200
    Grant.unscoped.filter(pk=grant.pk).update(status=Grant.Status.REVOKED)
    assert client.get("/api/v1/students/", HTTP_AUTHORIZATION=bearer).status_code == 403


def test_a_bad_token_or_a_disabled_client_is_refused(client, bus):
    api_client, _ = bus
    assert client.get("/api/v1/students/", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    bearer = f"Bearer {token_for(client, api_client)}"
    api_client.is_active = False
    api_client.save()
    assert client.get("/api/v1/students/", HTTP_AUTHORIZATION=bearer).status_code == 401


def test_a_wrong_secret_gets_no_token(client, bus):
    api_client, _ = bus
    basic = base64.b64encode(f"{api_client.application.client_id}:wrong".encode()).decode()
    response = client.post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "scope": SCOPE},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == 401


def test_an_expired_or_foreign_token_is_refused(client, bus):
    from datetime import timedelta

    from django.utils import timezone
    from oauth2_provider.models import AccessToken

    api_client, _ = bus
    bearer = f"Bearer {token_for(client, api_client)}"
    assert client.get("/api/v1/students/", HTTP_AUTHORIZATION=bearer).status_code == 200
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/students/", HTTP_AUTHORIZATION=bearer).status_code == 401
    # A token that is not ASCII, or one the server never issued.
    assert client.get("/api/v1/students/", HTTP_AUTHORIZATION="Bearer é").status_code == 401
    assert client.get("/api/v1/students/", HTTP_AUTHORIZATION="Bearer x" * 2).status_code == 401


def test_a_token_restricted_to_another_resource_is_refused(client, bus):
    from oauth2_provider.models import AccessToken

    api_client, _ = bus
    bearer = f"Bearer {token_for(client, api_client)}"
    AccessToken.objects.update(resource=["https://elsewhere.example/api/"])
    assert client.get("/api/v1/students/", HTTP_AUTHORIZATION=bearer).status_code == 401


def test_the_token_check_reads_the_district_as_the_orm_does(client, world, bus):
    """The token's client, district and provider come from one prepared statement; the
    district's JSON settings must arrive as lists, not text (a directory designation
    read as a string would release fields by letter)."""

    from studentdata.authentication import _client_by_token

    api_client, _ = bus
    token = token_for(client, api_client)
    found = _client_by_token(token)
    assert found.pk == api_client.pk and found.provider.pk == api_client.provider_id
    assert found.district.directory_fields == world.a.district.directory_fields
    assert isinstance(found.district.directory_fields, list)


def test_the_token_statement_reads_the_grants_in_force_too(client, world, bus):
    """A provider's request reads its client and its grants in force in one statement;
    the grants' own query runs only when the day they were read for is not today."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api_client, _ = bus
    bearer = f"Bearer {token_for(client, api_client)}"
    assert client.get("/api/v1/students/", HTTP_AUTHORIZATION=bearer).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/students/", HTTP_AUTHORIZATION=bearer).status_code == 200
    executed = " ".join(q["sql"] for q in queries.captured_queries)
    assert "EXECUTE provider_client_by_token" in executed
    assert "provider_grants_in_force" not in executed


def test_grants_read_for_another_day_than_the_districts_are_read_again(client, world, bus):
    """The token statement reads grants for the day the district had when the token last
    came. If that is not the district's day now, they are read again for today: a grant
    that starts on the day read for, after today, opens nothing."""
    import hashlib
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from studentdata import authentication

    api_client, grant = bus
    district = world.a.district
    district.timezone = "Pacific/Pago_Pago"  # UTC-11
    district.save(update_fields=["timezone"])
    token = token_for(client, api_client)
    bearer = f"Bearer {token}"
    checksum = hashlib.sha256(token.encode()).hexdigest()
    ahead = ZoneInfo("Pacific/Kiritimati")  # UTC+14: a day or two ahead of Pago Pago
    day_ahead = timezone.localdate(timezone.now(), ahead)
    assert day_ahead > district.today()
    Grant.unscoped.filter(pk=grant.pk).update(starts_on=day_ahead)

    authentication._zone_of_token[checksum] = ahead
    read_for, grants = authentication._client_by_token(token).grants_in_force
    assert (read_for, [g.pk for g in grants]) == (day_ahead, [grant.pk])
    assert authentication._zone_of_token[checksum] == district.zone  # next time: its day

    authentication._zone_of_token[checksum] = ahead
    assert client.get("/api/v1/students/", HTTP_AUTHORIZATION=bearer).status_code == 403


def test_an_issued_token_is_kept_only_as_its_checksum(client, bus):
    """RFC 9700 section 4: a copy of the database holds no token that works."""
    from oauth2_provider.models import AccessToken

    api_client, _ = bus
    token = token_for(client, api_client)
    stored = AccessToken.objects.get(application=api_client.application)
    assert stored.token == ""
    assert stored.token_checksum == hashlib.sha256(token.encode()).hexdigest()
    bearer = f"Bearer {token}"
    assert client.get("/api/v1/students/", HTTP_AUTHORIZATION=bearer).status_code == 200
