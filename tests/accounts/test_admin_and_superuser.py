"""Django admin and superuser status are not doors into student data."""

from __future__ import annotations

import pytest
from django.contrib import admin

from access.models import AccessEvent
from accounts.models import RoleMembership
from records import models as m


def test_admin_registers_no_student_roster_record_or_role_table():
    registered = set(admin.site._registry)
    forbidden = {
        m.Student, m.SchoolMembership, m.GuardianLink, m.CustodyRestriction, m.Enrollment,
        m.SectionTeacher, m.AttendanceRecord, m.Grade, m.AssessmentResult,
        m.ProgramParticipation, m.HealthRecord, m.DisciplineIncident,
        m.TransportationAssignment, m.DirectoryOptOut, RoleMembership, AccessEvent,
    }  # fmt: skip
    assert registered & forbidden == set()


@pytest.mark.django_db
def test_a_superuser_without_a_role_reads_no_student(world, api_as, client):
    superuser = world.a.users["superuser"]
    assert api_as(superuser).get("/api/v1/students/").json()["count"] == 0
    client.force_login(superuser)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/records/student/").status_code == 404


def test_api_tokens_cannot_be_minted_or_read_in_admin():
    from rest_framework.authtoken.admin import TokenProxy
    from rest_framework.authtoken.models import Token

    assert not admin.site.is_registered(TokenProxy)
    assert not admin.site.is_registered(Token)


@pytest.mark.django_db
def test_a_district_timezone_and_age_are_validated(world):
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    district = world.a.district
    district.timezone = "Mars/Olympus_Mons"
    with pytest.raises(ValidationError, match="time zone"):
        district.full_clean()
    district.timezone = "America/Chicago"
    district.eligible_student_age = 0
    with pytest.raises(IntegrityError), transaction.atomic():
        district.save()


@pytest.mark.django_db
def test_a_bad_timezone_already_stored_does_not_break_reads(world, api_as):
    from records.models import District

    District.objects.filter(pk=world.a.district.pk).update(timezone="Mars/Olympus_Mons")
    assert api_as(world.a.users["principal"]).get("/api/v1/students/").status_code == 200
