"""A district's today and now: one answer, in the district's own time zone, everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from records import models as m
from records.importers.oneroster import import_oneroster
from tests import factories as f
from tests.records.oneroster_bundles import small_district, write_bundle

pytestmark = pytest.mark.django_db


def _evening_in_honolulu() -> datetime:
    """05:30 UTC today: already today on the server (New York) but yesterday in Honolulu."""
    return datetime.combine(timezone.now().date(), datetime.min.time(), UTC) + timedelta(
        hours=5, minutes=30
    )


def test_today_and_now_are_the_districts(settings, monkeypatch):
    settings.TIME_ZONE = "America/New_York"
    moment = _evening_in_honolulu()
    monkeypatch.setattr(timezone, "now", lambda: moment)
    district = f.DistrictFactory(timezone="Pacific/Honolulu")
    assert district.today() == moment.date() - timedelta(days=1)
    assert district.now().utcoffset() == timedelta(hours=-10)
    assert district.now() == moment


def test_an_unknown_zone_falls_back_to_the_servers_and_says_so(settings, caplog):
    settings.TIME_ZONE = "America/Chicago"
    district = f.DistrictFactory()
    district.timezone = "Mars/Olympus_Mons"
    assert str(district.zone) == "America/Chicago"
    assert "unknown timezone" in caplog.text
    assert district.name not in caplog.text


def test_the_importer_ends_removed_enrollments_on_the_districts_date(
    tmp_path, settings, monkeypatch
):
    """West of the server, an enrollment removed this evening ends the district's
    yesterday, not the server's: access ends from the district's today on."""
    settings.TIME_ZONE = "America/New_York"
    f.DistrictFactory(slug="maple", timezone="Pacific/Honolulu")
    import_oneroster(write_bundle(tmp_path / "bulk", small_district()), district_slug="maple")
    moment = _evening_in_honolulu()
    monkeypatch.setattr(timezone, "now", lambda: moment)
    delta = {
        "enrollments": [
            {"sourcedId": "e-s1-math", "status": "tobedeleted", "classSourcedId": "cls-math",
             "schoolSourcedId": "sch-1", "userSourcedId": "s-1", "role": "student"},
        ]
    }  # fmt: skip
    report, district = import_oneroster(
        write_bundle(tmp_path / "delta", delta, modes={"enrollments": "delta"}),
        district_slug="maple",
    )
    assert report.ok, report.errors
    ended = m.Enrollment.unscoped.get(district=district, sourced_id="e-s1-math")
    district_yesterday = moment.date() - timedelta(days=2)
    assert ended.end_date == district_yesterday
