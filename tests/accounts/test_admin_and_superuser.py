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
