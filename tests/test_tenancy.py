"""Tenant isolation in the database and in the default managers."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction

from records.composite_keys import constraint_name, tenant_links
from records.models import Enrollment, GuardianLink, Student
from records.tenancy import TenantModel, tenant_scope


def tenant_models():
    return [m for m in apps.get_models() if issubclass(m, TenantModel)]


@pytest.mark.django_db
def test_no_district_in_context_means_no_rows_not_all_rows(world):
    assert Student.objects.count() == 0
    assert Student.unscoped.count() == 8
    with tenant_scope(world.a.district):
        assert set(Student.objects.values_list("pk", flat=True)) == {
            s.pk for s in world.a.students.values()
        }
    assert Student.objects.count() == 0


@pytest.mark.django_db
def test_for_district_inside_another_districts_scope_is_empty(world):
    with tenant_scope(world.a.district):
        assert Student.objects.for_district(world.b.district).count() == 0


@pytest.mark.django_db
def test_related_managers_stay_in_the_tenant_in_force(world):
    student = world.a.students["own"]
    assert student.enrollments.count() == 0  # no district in context
    with tenant_scope(world.a.district):
        assert student.enrollments.count() == 1


def test_every_tenant_table_has_unique_district_and_id():
    for model in tenant_models():
        keys = [
            tuple(c.fields)
            for c in model._meta.constraints
            if getattr(c, "fields", None) and c.condition is None
        ]
        assert ("district", "id") in keys, model


# Links the database does not check with a key, and why.
LINKS_WITHOUT_KEYS = {
    # Both partitioned by month (records/partitions.py), written by one statement; each
    # event's hash covers its students, so the chain check finds any row that breaks it.
    "access_accesseventstudent_event_id_tenant_fk": "the access log's chain",
}


@pytest.mark.django_db
def test_every_link_between_tenant_rows_has_a_composite_key_in_postgres():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint WHERE contype = 'f'")
        present = {row[0] for row in cursor.fetchall()}
    missing = [
        constraint_name(model, field)
        for model in tenant_models()
        for field in tenant_links(model)
        if constraint_name(model, field) not in present
    ]
    assert missing == list(LINKS_WITHOUT_KEYS)
    assert len([n for n in present if n.endswith("_tenant_fk")]) >= 30


def check_constraints_now():
    # The keys are deferred to commit, which a test transaction never reaches.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.django_db
def test_the_database_refuses_a_row_tying_two_districts(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.unscoped.create(
            district=world.a.district, section=world.a.section, student=world.b.students["own"]
        )
        check_constraints_now()
    with pytest.raises(IntegrityError), transaction.atomic():
        GuardianLink.unscoped.create(
            district=world.a.district,
            student=world.a.students["own"],
            guardian=world.b.users["parent"],
            relationship="mother",
        )
        check_constraints_now()
