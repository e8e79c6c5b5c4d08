"""A published release never changes: not through the model, not in the database."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.utils import InternalError
from django.utils import timezone

from records.seeding import delete_district
from reports.models import Release
from tests.factories import DistrictFactory
from tests.roles import as_owner

pytestmark = pytest.mark.django_db


def release(district, **fields) -> Release:
    return Release.unscoped.create(
        district=district, school_year=2027, as_of=datetime.date(2026, 12, 4),
        kind=Release.Kind.ON_REQUEST, minimum_n=10, width=5,
        content={"cells": {"d/enrolled/all": 120}}, ledger={},
        certificate={}, summary={"cells": 1}, **fields,
    )  # fmt: skip


def test_a_preview_is_published_once_and_then_frozen():
    preview = release(DistrictFactory())
    preview.status, preview.published_at = Release.Status.PUBLISHED, timezone.now()
    preview.save()
    preview.content = {"cells": {"d/enrolled/all": 121}}
    with pytest.raises(ValidationError, match="never changes"):
        preview.save()
    with pytest.raises(ValidationError, match="never deleted"):
        preview.delete()


def test_the_database_refuses_to_change_a_published_release():
    published = release(
        DistrictFactory(), status=Release.Status.PUBLISHED, published_at=timezone.now()
    )
    for statement in ("UPDATE reports_release SET width = 9 WHERE id = %s",
                      "DELETE FROM reports_release WHERE id = %s"):  # fmt: skip
        with (
            pytest.raises(InternalError, match="never changes"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [published.pk])
    assert Release.unscoped.get(pk=published.pk).width == 5


def test_a_preview_may_be_discarded():
    preview = release(DistrictFactory())
    preview.status = Release.Status.DISCARDED
    preview.save()
    preview.delete()
    assert not Release.unscoped.filter(pk=preview.pk).exists()


def test_deleting_a_whole_district_takes_its_published_releases_with_it():
    district = DistrictFactory()
    release(district, status=Release.Status.PUBLISHED, published_at=timezone.now())
    with as_owner():
        delete_district(district)
    assert not Release.unscoped.filter(district_id=district.pk).exists()
