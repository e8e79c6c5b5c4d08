"""What a provider's filters, detail objects and disclosures may carry: only its grants.

A filter narrows only among students whose filtered category a grant gives and only by
the classes its grants carry; a detail names only granted schools and classes, teachers
only under a grant sharing staff, and no guardian field meant for school staff; a read
through two grants is disclosed under each for what it gave; an agreement past its term
makes no school official.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from access.models import AccessEvent
from access.providers import ProviderScope, record_provider_reads, viewer_for_client
from access.viewer import NO_ACCESS
from tests import factories as f
from tests.records.test_students_api_providers import token_for

pytestmark = pytest.mark.django_db


def grant_of(district, provider=None, **grant):
    provider = provider or f.ProviderFactory(district=district)
    row = f.GrantFactory(agreement=f.AgreementFactory(provider=provider), **grant)
    return provider, row


def bearer(client, provider) -> str:
    return f"Bearer {token_for(client, f.api_client_for(provider))}"


def listed(client, auth, **params) -> list[str]:
    response = client.get("/api/v1/students/", params, HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200, response.content
    return [item["sourced_id"] for item in response.json()["results"]]


def test_a_filter_narrows_only_among_students_whose_filtered_category_is_granted(client, world):
    a = world.a
    provider, _ = grant_of(a.district, categories=["transportation"])
    auth = bearer(client, provider)
    assert len(listed(client, auth)) == 4  # every current student, transportation only
    # Which school a student attends is directory information this grant does not give.
    assert listed(client, auth, school=a.school1.pk) == []
    assert listed(client, auth, grade=a.students["own"].grade_level) == []
    # Nor which class: enrollment is not granted.
    assert listed(client, auth, section=a.section.pk) == []


def test_a_section_outside_the_grants_classes_narrows_to_nobody(client, world):
    a = world.a
    elsewhere = a.students["elsewhere"]
    f.EnrollmentFactory(section=a.section, student=elsewhere)  # a class at school 1
    provider, _ = grant_of(
        a.district, categories=["directory", "enrollment"], population="schools",
        school_ids=[a.school2.pk],
    )  # fmt: skip
    auth = bearer(client, provider)
    assert listed(client, auth) == [elsewhere.sourced_id]
    assert listed(client, auth, section=a.section.pk) == []


def detail(client, auth, student) -> dict:
    response = client.get(f"/api/v1/students/{student.pk}/", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200, response.content
    return response.json()


def test_a_detail_names_only_the_grants_schools_and_classes(client, world):
    a = world.a
    elsewhere = a.students["elsewhere"]
    f.SchoolMembershipFactory(student=elsewhere, school=a.school1, is_primary=False)
    f.EnrollmentFactory(section=a.section, student=elsewhere)
    granted = f.SectionFactory(district=a.district, school=a.school2, term=a.term)
    f.EnrollmentFactory(section=granted, student=elsewhere)
    f.SectionTeacherFactory(section=granted, teacher=f.UserFactory(district=a.district))
    provider, _ = grant_of(
        a.district, categories=["directory", "enrollment"], population="schools",
        school_ids=[a.school2.pk],
    )  # fmt: skip
    body = detail(client, bearer(client, provider), elsewhere)
    assert "school" in a.district.directory_fields
    assert [school["id"] for school in body["directory"]["schools"]] == [a.school2.pk]
    sections = body["enrollment"]["sections"]
    assert [section["id"] for section in sections] == [granted.pk]
    assert sections[0]["teachers"] == []  # staff not shared
    assert body["enrollment"]["current_section_count"] == 1

    listed_item = client.get(
        "/api/v1/students/", HTTP_AUTHORIZATION=bearer(client, provider)
    ).json()["results"][0]
    assert listed_item["enrollment"]["current_section_count"] == 1


def test_teachers_travel_only_under_a_grant_sharing_staff(client, world):
    a = world.a
    provider, _ = grant_of(a.district, categories=["directory", "enrollment"], shares_staff=True)
    body = detail(client, bearer(client, provider), a.students["own"])
    [section] = body["enrollment"]["sections"]
    assert section["teachers"]  # the section's teacher, shared


def test_a_providers_guardians_carry_no_field_meant_for_school_staff(client, world):
    a = world.a
    provider, _ = grant_of(a.district, categories=["directory", "contact"])
    body = detail(client, bearer(client, provider), a.students["own"])
    guardians = body["contact"]["guardians"]
    assert guardians
    for guardian in guardians:
        assert "has_data_access" not in guardian and "custody_restriction" not in guardian


def test_a_read_through_two_grants_is_disclosed_under_each_for_what_it_gave(world):
    a = world.a
    provider, directory = grant_of(a.district, categories=["directory"])
    _, transport = grant_of(a.district, provider, categories=["directory", "transportation"])
    viewer = viewer_for_client(f.api_client_for(provider))
    scope = ProviderScope(viewer)
    students = list(scope.students())
    record_provider_reads(viewer, scope.allowed(students), channel="OneRoster REST")
    events = {event.grant_id: event for event in AccessEvent.unscoped.filter(district=a.district)}
    assert set(events) == {directory.pk, transport.pk}
    assert events[directory.pk].categories == ["directory"]
    assert events[transport.pk].categories == ["transportation"]
    everyone = sorted(student.pk for student in students)
    assert sorted(events[directory.pk].disclosed_student_ids) == everyone
    assert sorted(events[transport.pk].disclosed_student_ids) == everyone


@pytest.mark.parametrize("term", ["ended", "not-started"])
def test_a_grant_outside_its_agreements_term_makes_no_school_official(world, term):
    a = world.a
    provider, grant = grant_of(a.district)
    today = a.district.today()
    agreement = grant.agreement
    if term == "ended":
        agreement.term_start, agreement.term_end = today - timedelta(days=400), today - timedelta(1)
    else:
        agreement.term_start, agreement.term_end = today + timedelta(1), today + timedelta(400)
    agreement.save()
    assert viewer_for_client(f.api_client_for(provider)) is NO_ACCESS
