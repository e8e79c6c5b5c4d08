"""What a family reads of provider disclosures on ``/family/<id>/access/``.

Disclosures are written through the real path: a provider's API client, its viewer,
``ProviderScope.allowed`` and ``record_provider_reads``, at chosen moments (the access
log is append-only, so the clock is moved, never the rows).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from unittest.mock import patch

import pytest
from django.test import Client
from django.utils import translation
from django.utils.formats import date_format

from access.family import child_provider_disclosures, months_before
from access.models import AccessEvent, Grant
from access.providers import ProviderScope, record_provider_reads, viewer_for_client
from access.scoping import StudentNotFound
from access.viewer import viewer_for
from records.models import CustodyRestriction
from tests import factories as f

pytestmark = pytest.mark.django_db

SCHOOL_OFFICIAL = "as a school official under the district's agreement"


def access_url(student) -> str:
    return f"/family/{student.pk}/access/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def provider_client(district, name: str, *, categories, purpose: str, **grant):
    """An API client of a new provider ``name`` holding one active grant."""
    provider = f.ProviderFactory(district=district, name=name)
    f.GrantFactory(
        agreement=f.AgreementFactory(provider=provider),
        categories=categories,
        purpose=purpose,
        **grant,
    )
    return f.api_client_for(provider)


def deliver(api_client, students, *, at: datetime, times: int = 1, channel="OneRoster REST"):
    """The client reads ``students`` ``times`` times at the moment ``at``."""
    viewer = viewer_for_client(api_client)
    scope = ProviderScope(viewer)
    allowed = scope.allowed(scope.students().filter(pk__in=[s.pk for s in students]))
    assert allowed, "the grant must reach the students"
    with patch("access.audit.timezone.now", return_value=at):
        for _ in range(times):
            record_provider_reads(viewer, allowed, channel=channel)


def at(district, day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=district.zone)


def lines_of(response) -> list[str]:
    return [line["sentence"] for line in response.context["shared_lines"]]


def the_day(day: date) -> str:
    return date_format(day)


@pytest.fixture
def bus(world):
    return provider_client(
        world.a.district,
        "Blue Bird Bus Co.",
        categories=["contact", "transportation"],
        purpose="student transportation",
    )


@pytest.fixture
def today(world):
    return world.a.district.today()


# (a) A bus company's daily syncs: one line a day, however many requests.


def test_daily_syncs_over_three_days_are_three_lines(world, bus, today):
    own = world.a.students["own"]
    district = world.a.district
    days = [today - timedelta(days=n) for n in (1, 2, 3)]
    for day in days:
        deliver(bus, [own], at=at(district, day, 2), times=4)
        deliver(bus, [own], at=at(district, day, 23), times=3, channel="OneRoster CSV")
    response = client_for(world.a.users["parent"]).get(access_url(own))
    assert response.status_code == 200
    name = own.preferred_name or own.given_name
    assert lines_of(response) == [
        f"Blue Bird Bus Co. received {name}'s address, phone and email; and bus route and "
        f"stop on {the_day(day)} for student transportation, {SCHOOL_OFFICIAL}."
        for day in days
    ]
    assert [line["deliveries"] for line in response.context["shared_lines"]] == [
        "7 deliveries that day"
    ] * 3
    body = response.content.decode()
    assert "FERPA, 34 CFR 99.31(a)(1)(i)(B)" in body
    assert "Blue Bird Bus Co. received" in body


def test_a_day_is_the_districts_day_not_utc(world, bus, today):
    own = world.a.students["own"]
    district = world.a.district
    district.timezone = "America/Los_Angeles"
    district.save()
    day = today - timedelta(days=5)
    # 23:30 in Los Angeles is the next day in UTC: still one line, on the local day.
    deliver(bus, [own], at=at(district, day, 1))
    deliver(bus, [own], at=datetime.combine(day, time(23, 30), tzinfo=district.zone))
    lines = child_provider_disclosures(viewer_for(world.a.users["parent"]), own.pk).lines
    assert [(line.day, line.deliveries) for line in lines] == [(day, 2)]


# (b) Two providers on one day: two lines.


def test_two_providers_the_same_day_are_two_lines(world, bus, today):
    own = world.a.students["own"]
    district = world.a.district
    app = provider_client(
        district,
        "Reading Owl",
        categories=["directory", "grades"],
        purpose="reading practice",
        legal_basis=Grant.LegalBasis.CONSENT,
    )
    day = today - timedelta(days=1)
    deliver(bus, [own], at=at(district, day, 6), times=2)
    deliver(app, [own], at=at(district, day, 9), times=5)
    response = client_for(world.a.users["parent"]).get(access_url(own))
    name = own.preferred_name or own.given_name
    assert lines_of(response) == [
        f"Blue Bird Bus Co. received {name}'s address, phone and email; and bus route and "
        f"stop on {the_day(day)} for student transportation, {SCHOOL_OFFICIAL}.",
        f"Reading Owl received {name}'s name, grade and school; and grades on "
        f"{the_day(day)} for reading practice, with the written consent of a parent or the "
        "student.",
    ]
    assert "FERPA, 34 CFR 99.30" in response.content.decode()


# (c) Another child's disclosures, (d) another district's: never shown.


def test_another_childs_disclosure_is_never_shown(world, bus, today):
    own, schoolmate = world.a.students["own"], world.a.students["schoolmate"]
    district = world.a.district
    deliver(bus, [schoolmate], at=at(district, today - timedelta(days=1)), times=3)
    deliver(bus, [own, schoolmate], at=at(district, today - timedelta(days=2)))
    response = client_for(world.a.users["parent"]).get(access_url(own))
    assert [line["day"] for line in response.context["shared_lines"]] == [today - timedelta(days=2)]
    assert response.context["shared_lines"][0]["deliveries"] == "1 delivery that day"


def test_another_districts_disclosures_are_never_shown(world, bus, today):
    own = world.a.students["own"]
    other = provider_client(
        world.b.district, "Blue Bird Bus Co.", categories=["transportation"], purpose="routes"
    )
    # The same student id can't be in district b, but the same number can be; the
    # district filter is what keeps b's events out, checked here with b's own child.
    deliver(other, [world.b.students["own"]], at=at(world.b.district, today), times=2)
    assert AccessEvent.unscoped.filter(district=world.b.district, grant__isnull=False).count()
    parent_a = client_for(world.a.users["parent"]).get(access_url(own))
    assert parent_a.context["shared_lines"] == []
    assert "No service provider received information" in parent_a.content.decode()
    parent_b = client_for(world.b.users["parent"]).get(access_url(world.b.students["own"]))
    assert len(parent_b.context["shared_lines"]) == 1
    # Nobody reaches district b's child through district a's page.
    response = client_for(world.a.users["parent"]).get(access_url(world.b.students["own"]))
    assert response.status_code == 404


def test_provider_events_are_not_in_the_staff_log_as_well(world, bus, today):
    own = world.a.students["own"]
    deliver(bus, [own], at=at(world.a.district, today), times=3)
    response = client_for(world.a.users["parent"]).get(access_url(own))
    assert response.context["days"] == []
    assert len(response.context["shared_lines"]) == 1


# (e) A restricted parent: a hidden category is never named.


def test_a_restricted_parent_is_not_told_of_a_hidden_category(world, bus, today):
    own = world.a.students["own"]
    district = world.a.district
    roster = provider_client(
        district,
        "Green Route Buses",
        categories=["directory", "contact", "transportation"],
        purpose="rider lists",
    )
    day = today - timedelta(days=1)
    deliver(bus, [own], at=at(district, day, 6))
    deliver(roster, [own], at=at(district, day, 7))
    f.CustodyRestrictionFactory(
        guardian_link=world.a.links["parent"], scope="categories", categories=["contact"]
    )
    response = client_for(world.a.users["parent"]).get(access_url(own))
    name = own.preferred_name or own.given_name
    # Hiding the address hides the bus stop with it (access/viewer.py): the bus company
    # received nothing else, so its line is gone; the other keeps the name alone.
    assert lines_of(response) == [
        f"Green Route Buses received {name}'s name, grade and school on {the_day(day)} for "
        f"rider lists, {SCHOOL_OFFICIAL}."
    ]
    body = response.content.decode()
    assert "address" not in body and "bus route" not in body and "Blue Bird" not in body
    # Unrestricted, the same page names both.
    CustodyRestriction.unscoped.filter(guardian_link=world.a.links["parent"]).delete()
    assert len(lines_of(client_for(world.a.users["parent"]).get(access_url(own)))) == 2


def test_a_parent_kept_from_the_name_reads_of_the_student(world, bus, today):
    own = world.a.students["own"]
    day = today - timedelta(days=1)
    deliver(bus, [own], at=at(world.a.district, day))
    f.CustodyRestrictionFactory(
        guardian_link=world.a.links["parent"], scope="categories", categories=["directory"]
    )
    response = client_for(world.a.users["parent"]).get(access_url(own))
    assert lines_of(response) == [
        "Blue Bird Bus Co. received the student's address, phone and email; and bus route "
        f"and stop on {the_day(day)} for student transportation, {SCHOOL_OFFICIAL}."
    ]
    assert own.given_name not in response.content.decode()


def test_a_fully_restricted_parent_gets_404(world, bus, today):
    own = world.a.students["own"]
    deliver(bus, [own], at=at(world.a.district, today))
    f.CustodyRestrictionFactory(guardian_link=world.a.links["parent"])
    assert client_for(world.a.users["parent"]).get(access_url(own)).status_code == 404
    with pytest.raises(StudentNotFound):
        child_provider_disclosures(viewer_for(world.a.users["parent"]), own.pk)


def test_only_family_reaches_the_list(world, bus, today):
    own = world.a.students["own"]
    deliver(bus, [own], at=at(world.a.district, today))
    for user in (world.a.users["teacher"], world.a.users["adult_parent"], world.b.users["parent"]):
        assert client_for(user).get(access_url(own)).status_code == 404
    anonymous = Client().get(access_url(own))
    assert anonymous.status_code == 302 and own.given_name not in anonymous["Location"]
    # The eligible student reads their own.
    adult = world.a.students["adult"]
    deliver(bus, [adult], at=at(world.a.district, today))
    mine = client_for(world.a.users["eligible"]).get(access_url(adult))
    assert len(mine.context["shared_lines"]) == 1


# (f) Spanish.


def test_the_lines_read_in_spanish(world, bus, today):
    own = world.a.students["own"]
    day = today - timedelta(days=40)
    deliver(bus, [own], at=at(world.a.district, day), times=2)
    response = client_for(world.a.users["parent"]).get(access_url(own), HTTP_ACCEPT_LANGUAGE="es")
    name = own.preferred_name or own.given_name
    with translation.override("es"):
        spanish_day = the_day(day)
    assert "de" in spanish_day  # "3 de febrero de 2026"
    assert lines_of(response) == [
        f"Blue Bird Bus Co. recibió la dirección, el teléfono y el correo electrónico; y la "
        f"ruta y la parada del autobús de {name} el {spanish_day} para «student "
        "transportation», como funcionario escolar según el acuerdo del distrito."
    ]
    body = response.content.decode()
    assert "Lo que recibieron los proveedores de servicios" in body
    assert "2 envíos ese día" in body


# (g) The cost does not grow with the deliveries.


def page_queries(world, own, django_assert_num_queries, expected):
    client = client_for(world.a.users["parent"])
    client.get(access_url(own))  # session and caches warm
    with django_assert_num_queries(expected):
        response = client.get(access_url(own))
    return response


# The session, the viewer, the child (four times: the page, the staff log, the
# providers' list and the studies' list each ask access/ for it), the staff log's
# window (where the child's newest thousand reads begin) and lines (one grouped query,
# no count), the log's own write, the providers' lines and
# older-deliveries queries, and the studies' lines. Readers' schools are one more when
# staff read the child (tests/access/test_family_access_pages.py).
ACCESS_PAGE_QUERIES = 13


@pytest.mark.parametrize("events", [5, 50])
def test_the_query_count_does_not_grow_with_deliveries(
    world, bus, today, events, django_assert_num_queries
):
    own = world.a.students["own"]
    district = world.a.district
    app = provider_client(district, "Reading Owl", categories=["grades"], purpose="reading")
    for n in range(events):
        api = bus if n % 2 else app
        deliver(api, [own], at=at(district, today - timedelta(days=n % 10 + 1), n % 24))
    response = page_queries(world, own, django_assert_num_queries, ACCESS_PAGE_QUERIES)
    assert len(response.context["shared_lines"]) == min(events, 10)


# The window and its pages.


def test_older_deliveries_are_a_link_away(world, bus, today):
    own = world.a.students["own"]
    district = world.a.district
    recent = today - timedelta(days=2)
    old = months_before(today, 14)
    deliver(bus, [own], at=at(district, recent))
    deliver(bus, [own], at=at(district, old))
    client = client_for(world.a.users["parent"])
    first = client.get(access_url(own))
    assert [line["day"] for line in first.context["shared_lines"]] == [recent]
    older = first.context["shared_older"]
    assert older is not None and "until=" in older
    assert f'href="?{older}#providers-heading"' in first.content.decode().replace("&amp;", "&")
    second = client.get(f"{access_url(own)}?{older}")
    assert [line["day"] for line in second.context["shared_lines"]] == [old]
    assert second.context["shared_older"] is None


def test_the_filter_narrows_the_providers_list(world, bus, today):
    own = world.a.students["own"]
    district = world.a.district
    app = provider_client(district, "Reading Owl", categories=["grades"], purpose="reading")
    deliver(bus, [own], at=at(district, today - timedelta(days=1)))
    deliver(app, [own], at=at(district, today - timedelta(days=3)))
    client = client_for(world.a.users["parent"])
    grades = client.get(access_url(own), {"category": "grades"})
    assert [line["party"] for line in grades.context["shared_lines"]] == ["Reading Owl"]
    recent = client.get(access_url(own), {"since": (today - timedelta(days=2)).isoformat()})
    assert [line["party"] for line in recent.context["shared_lines"]] == ["Blue Bird Bus Co."]
    assert recent.context["shared_older"] is None  # nothing older within "since"
    bad = client.get(access_url(own), {"since": "not a date"})
    assert bad.status_code == 200 and len(bad.context["shared_lines"]) == 2


def test_many_days_are_paged(world, bus, today):
    own = world.a.students["own"]
    for n in range(1, 33):
        deliver(bus, [own], at=at(world.a.district, today - timedelta(days=n)))
    client = client_for(world.a.users["parent"])
    first = client.get(access_url(own))
    assert len(first.context["shared_lines"]) == 30
    assert "shared_page=2" in first.content.decode()
    second = client.get(access_url(own), {"shared_page": 2})
    assert [line["day"] for line in second.context["shared_lines"]] == [
        today - timedelta(days=31),
        today - timedelta(days=32),
    ]
    assert client.get(access_url(own), {"shared_page": "x"}).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"until": "0001-01-01"},
        {"since": "0001-01-01"},
        {"until": "9999-12-31"},
        {"since": "9999-12-31"},
        {"since": "0001-01-01", "until": "9999-12-31"},
        {"since": "0001-01-01", "until": "0001-01-01"},
        {"since": "9999-12-31", "until": "9999-12-31"},
    ],
)
def test_dates_at_the_calendars_ends_answer_like_any_other(world, bus, today, params):
    own = world.a.students["own"]
    deliver(bus, [own], at=at(world.a.district, today - timedelta(days=3)))
    response = client_for(world.a.users["parent"]).get(access_url(own), params)
    assert response.status_code == 200
    reaches_today = (
        params.get("since", "0001-01-01") == "0001-01-01"
        and params.get("until", "9999-12-31") == "9999-12-31"
    )
    assert len(lines_of(response)) == (1 if reaches_today else 0)
    if response.context["shared_older"] is not None:
        assert "0000" not in response.context["shared_older"]
