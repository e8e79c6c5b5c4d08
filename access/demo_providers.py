"""The demo district's service provider: a bus company under a signed agreement, with
a grant in force, a person who signs in for it, an API client, and last night's sync
already recorded, so a demo family sees what a provider received of their child.

Only ``make demo``'s district gets it (``seed_demo`` without ``--district``): every
name, address and secret here is invented and printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction

from access.models import Agreement, ApiClient, Grant, Provider, ProviderContact, ProviderMember
from access.providers import ProviderScope, record_provider_reads, viewer_for_grants
from accounts.models import User
from records.models import District

PROVIDER_NAME = "Blue Bird Bus Co."
CLIENT_ID = "demo-bluebird-bus"
CLIENT_SECRET = "demo-bluebird-secret"  # noqa: S105 - the published secret of a demo client


@dataclass(frozen=True)
class DemoProvider:
    username: str
    client_id: str
    client_secret: str
    students: int


@transaction.atomic
def seed_demo_provider(district: District, *, password: str) -> DemoProvider | None:
    """The bus company of ``district``, unless it is there already (then ``None``)."""
    if Provider.unscoped.filter(district=district, name=PROVIDER_NAME).exists():
        return None
    from oauth2_provider.models import Application

    today = district.today()
    provider = Provider.unscoped.create(
        district=district,
        name=PROVIDER_NAME,
        services="Home-to-school bus routes, rider rosters and stop assignments",
        website="https://bluebird-bus.example",
    )
    ProviderContact.unscoped.create(
        district=district, provider=provider, name="Dana Whitfield",
        email="dana.whitfield@bluebird-bus.example", kind=ProviderContact.Kind.PRIMARY,
    )  # fmt: skip
    ProviderContact.unscoped.create(
        district=district, provider=provider, name="Security desk",
        email="security@bluebird-bus.example", kind=ProviderContact.Kind.PRIVACY,
    )  # fmt: skip
    username = "provider.bluebird"  # demo logins carry no district suffix
    person = User.objects.create(
        username=username, district=district, first_name="Dana", last_name="Whitfield",
        email="dana.whitfield@bluebird-bus.example", password=make_password(password),
    )  # fmt: skip
    ProviderMember.unscoped.create(district=district, provider=provider, user=person)
    agreement = Agreement.unscoped.create(
        district=district,
        provider=provider,
        title="Student Data Privacy Agreement — transportation",
        reference="NDPA-2026-014",
        services="Routing, rider rosters and stop assignments for home-to-school buses",
        data_elements=["student_name", "grade_level", "school_enrollment", "bus_assignment",
                       "pickup_location"],
        term_start=today - timedelta(days=90),
        term_end=today + timedelta(days=275),
        security_framework=Agreement.Framework.NIST_CSF,
        breach_contact="security@bluebird-bus.example",
        signed_on=today - timedelta(days=95),
        subprocessors=[{"name": "RouteMaps Inc.", "purpose": "route planning",
                        "notice_date": (today - timedelta(days=95)).isoformat()}],
    )  # fmt: skip
    grant = Grant.unscoped.create(
        district=district,
        agreement=agreement,
        provider=provider,
        legal_basis=Grant.LegalBasis.SCHOOL_OFFICIAL,
        purpose="student transportation",
        categories=["directory", "transportation"],
        population=Grant.Population.DISTRICT,
        starts_on=agreement.term_start,
        ends_on=agreement.term_end,
        status=Grant.Status.ACTIVE,
    )
    application = Application.objects.create(
        name=f"{PROVIDER_NAME} nightly sync",
        client_id=CLIENT_ID,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=CLIENT_SECRET,
    )
    ApiClient.unscoped.create(
        district=district, provider=provider, application=application, name="Nightly sync"
    )
    # Last night's sync, recorded as the OneRoster API records it: the families see it.
    viewer = viewer_for_grants([grant], district, client_name=f"client {CLIENT_ID}")
    scope = ProviderScope(viewer)
    allowed = scope.allowed(scope.students())
    record_provider_reads(viewer, allowed, channel="OneRoster REST")
    return DemoProvider(username, CLIENT_ID, CLIENT_SECRET, len(allowed))
