"""Object grants through django-guardian: per school, per category, never global."""

from __future__ import annotations

import pytest

from access.categories import ALL_CATEGORIES
from access.errors import AccessDenied
from access.grants import (
    UnknownCategory,
    school_category_grant,
    school_category_revoke,
    schools_granted,
)


@pytest.mark.django_db
def test_a_grant_is_per_school_and_per_category(world):
    vendor = world.a.users["teacher"]
    school_category_grant(grantee=vendor, school=world.a.school1, category="transportation")
    assert list(schools_granted(vendor, "transportation")) == [world.a.school1]
    assert list(schools_granted(vendor, "health")) == []
    school_category_revoke(grantee=vendor, school=world.a.school1, category="transportation")
    assert list(schools_granted(vendor, "transportation")) == []


@pytest.mark.django_db
def test_every_category_has_its_permission(world):
    for category in ALL_CATEGORIES:
        school_category_grant(
            grantee=world.a.users["nurse"], school=world.a.school2, category=category
        )
        assert list(schools_granted(world.a.users["nurse"], category)) == [world.a.school2]


@pytest.mark.django_db
def test_superusers_hold_no_grant_they_were_not_given(world):
    assert list(schools_granted(world.a.users["superuser"], "directory")) == []
    assert list(schools_granted(world.outsider, "directory")) == []


@pytest.mark.django_db
def test_grants_never_cross_districts(world):
    with pytest.raises(AccessDenied):
        school_category_grant(
            grantee=world.a.users["teacher"], school=world.b.school1, category="directory"
        )
    with pytest.raises(UnknownCategory):
        schools_granted(world.a.users["teacher"], "shoe_size")


@pytest.mark.django_db
def test_the_category_permissions_come_back_after_a_flush():
    # A flush (each live-server test ends with one) empties the permissions table and
    # emits post_migrate; the migration that first made these does not run again.
    from django.contrib.auth.models import Permission
    from django.core.management.sql import emit_post_migrate_signal

    receive = Permission.objects.filter(codename__startswith="receive_")
    receive.delete()
    emit_post_migrate_signal(0, False, "default")
    assert sorted(receive.values_list("codename", flat=True)) == sorted(
        f"receive_{category}" for category in ALL_CATEGORIES
    )
