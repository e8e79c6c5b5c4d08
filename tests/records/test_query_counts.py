"""List endpoints cost the same number of queries for 10 students as for 200."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from records import models as m
from tests import factories as f


def populate(district, n: int):
    """A school of ``n`` students, every record category filled for each."""
    today = timezone.localdate()
    school = f.SchoolFactory(district=district)
    f.AcademicSessionFactory(
        district=district,
        kind=m.AcademicSession.Kind.SCHOOL_YEAR,
        start_date=today - timedelta(days=90),
        end_date=today + timedelta(days=200),
    )
    period = f.AcademicSessionFactory(district=district, kind="gradingPeriod")
    section = f.SectionFactory(district=district, school=school)
    teacher = f.UserFactory(district=district)
    f.RoleMembershipFactory(user=teacher, role=Role.TEACHER, school=school)
    f.SectionTeacherFactory(section=section, teacher=teacher)
    parent = f.UserFactory(district=district)
    staff = {}
    for role in (Role.PRINCIPAL, Role.NURSE):
        staff[role] = f.UserFactory(district=district)
        f.RoleMembershipFactory(user=staff[role], role=role, school=school)
    staff[Role.DISTRICT_ADMIN] = f.UserFactory(district=district)
    f.RoleMembershipFactory(user=staff[Role.DISTRICT_ADMIN], role=Role.DISTRICT_ADMIN, school=None)
    students = m.Student.unscoped.bulk_create(
        [
            m.Student(district=district, sourced_id=f"s{i}", given_name="G", family_name=f"F{i}")
            for i in range(n)
        ]
    )

    def rows(model, **fields):
        model.unscoped.bulk_create(
            [model(district=district, student=s, **fields) for s in students]
        )

    rows(m.SchoolMembership, school=school)
    rows(m.Enrollment, section=section)
    rows(m.GuardianLink, guardian=parent, relationship="parent")
    rows(m.AttendanceRecord, date=today, status="present")
    rows(m.Grade, section=section, grading_period=period, mark="A")
    rows(m.AssessmentResult, assessment="Fall", subject="Math", administered_on=today)
    rows(m.ProgramParticipation, program="iep")
    rows(m.HealthRecord, allergies="none")
    rows(m.DisciplineIncident, school=school, occurred_on=today, incident_type="Tardy")
    rows(m.TransportationAssignment, route="1", stop="Main St")
    return {"teacher": teacher, "parent": parent, **{str(k): v for k, v in staff.items()}}


def list_queries(client, user) -> int:
    client.force_authenticate(user=user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/students/?page_size=500")
    assert response.status_code == 200
    # A database session prepares its statements once, on its first read: not per student.
    per_read = [q for q in captured if not q["sql"].startswith("PREPARE ")]
    return len(per_read), response.json()["count"]


READERS = ["teacher", "parent", "principal", "nurse", "district_admin"]


@pytest.mark.django_db
@pytest.mark.parametrize("reader", READERS)
def test_list_query_count_does_not_grow_with_students(api, reader):
    small = populate(f.DistrictFactory(), 10)
    large = populate(f.DistrictFactory(), 200)
    small_queries, small_count = list_queries(api, small[reader])
    large_queries, large_count = list_queries(api, large[reader])
    assert (small_count, large_count) == (10, 200)
    assert small_queries == large_queries
    assert large_queries <= 26


@pytest.mark.django_db
def test_detail_query_count_is_bounded(api):
    users = populate(f.DistrictFactory(), 20)
    api.force_authenticate(user=users["district_admin"])
    student = m.Student.unscoped.filter(sourced_id="s3").get()
    with CaptureQueriesContext(connection) as captured:
        assert api.get(f"/api/v1/students/{student.pk}/").status_code == 200
    assert len(captured) <= 32
