"""Building releases from a district's records: a preview, published once; tonight's
release continuing the last; what the public reads holds no student."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from django.db.models import Count

from records import models as m
from records.seeding import seed_demo
from reports import builds, services, tasks
from reports.models import Release
from reports.suppression import Code
from tests.factories import DistrictFactory
from tests.reports.conftest import module_districts

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 11, 18)


def _seeded():
    [result] = seed_demo(students=240, seed=11, as_of=AS_OF, district="reports")
    return [result.district], result.district


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seeded once per module; each test's releases and changes roll back with it."""
    yield from module_districts(django_db_blocker, _seeded)


@pytest.fixture
def district(seeded, db):
    return seeded[1]


def build(district, kind=Release.Kind.ON_REQUEST) -> Release:
    return builds.build_release(district, kind=kind, day=AS_OF)


def test_a_preview_hides_every_small_group_and_proves_it(district):
    release = build(district)
    assert release.status == Release.Status.PREVIEW
    assert release.school_year == 2027 and release.minimum_n == 10 and release.width == 5
    values = release.content["values"]
    total = m.SchoolMembership.unscoped.filter(district=district, is_primary=True).count()
    # Most of a 240-student district's groups are small, so even a total may be hidden.
    assert values["d/enrolled/all"] in ([str(total), None], ["*", Code.COMPLEMENTARY])
    for name, (low, high) in release.certificate.items():
        if name.split("/")[1] == "enrolled" and values[name][1] == Code.BELOW_MINIMUM_N:
            assert values[name][0] == "n<10"
            assert high is None or high - low >= 5
    shown = [int(text) for text, code in values.values() if code is None and text.isdigit()]
    assert min(shown) >= 10
    assert release.summary["narrowest_primary_interval"] >= 5


def test_english_learners_progress_counts_the_learners_with_levels_a_year_apart(district):
    """The seed gives its English learners a level last school year and this one: the
    build finds the year before from the district's calendar and counts them."""
    release = build(district)
    table = dict(zip(release.table["keys"], release.table["counts"], strict=True))
    learners = m.ProgramParticipation.unscoped.filter(
        district=district, program="english_learner"
    ).values("student_id")
    with_both = (
        m.AssessmentResult.unscoped.filter(
            district=district, subject=m.ENGLISH_PROFICIENCY_SUBJECT, student_id__in=learners
        )
        .values("student_id")
        .annotate(levels=Count("id"))
        .filter(levels=2)
        .count()
    )
    assert with_both > 0
    assert table["d/english_progress.students/all"] == with_both
    assert "english_learner_progress" not in release.content["not_reported"]


def test_the_year_before_is_the_districts_previous_school_year_else_a_year_earlier(district):
    m.AcademicSession.unscoped.create(
        district=district, sourced_id="sy-2025", title="2025-2026", school_year=2026,
        kind=m.AcademicSession.Kind.SCHOOL_YEAR, start_date=datetime.date(2025, 8, 14),
        end_date=datetime.date(2026, 6, 5),
    )  # fmt: skip
    year_start = datetime.date(2026, 8, 20)
    assert services.year_before_start(district, year_start) == datetime.date(2025, 8, 14)
    without_sessions = DistrictFactory()
    assert services.year_before_start(without_sessions, year_start) == datetime.date(2025, 8, 20)
    leap_day = datetime.date(2028, 2, 29)
    assert services.year_before_start(without_sessions, leap_day) == datetime.date(2027, 2, 28)


def test_percentages_are_shown_only_beside_shown_counts(district):
    values = build(district).content["values"]
    for name, (text, code) in values.items():
        scope, rest = name.split("/", 1)
        if ".percent/" in name and code is None:
            measure, row = rest.rsplit("/", 1)
            numerator = f"{scope}/{measure.removesuffix('.percent')}/{row}"
            assert text.endswith("%") or text == "–", name
            assert values.get(numerator, ["", None])[1] is None


def test_a_preview_is_published_once_and_the_next_continues_it(district):
    first = services.publish(build(district))
    assert first.published_at is not None
    with pytest.raises(services.ReleaseError):
        services.publish(first)
    second = build(district)
    assert second.continues == first
    hidden_before = {name for name, (_, code) in first.content["values"].items() if code}
    hidden_after = {name for name, (_, code) in second.content["values"].items() if code}
    assert hidden_before & set(second.content["values"]) <= hidden_after


def test_a_preview_built_before_another_was_published_must_be_built_again(district):
    stale, current = build(district), build(district)
    services.publish(current)
    with pytest.raises(services.ReleaseError, match="build it again"):
        services.publish(stale)


def test_tonights_release_is_published_only_when_the_figures_changed(district):
    services.publish(build(district))
    with mock.patch.object(m.District, "today", return_value=AS_OF):
        assert builds.publish_nightly(district) is None
        m.SchoolMembership.unscoped.filter(district=district).order_by("pk").first().delete()
        tonight = builds.publish_nightly(district)
    assert tonight.kind == Release.Kind.NIGHTLY and tonight.status == Release.Status.PUBLISHED


def test_the_nightly_task_builds_each_district_once_in_its_nightly_hour(district):
    night = datetime.datetime(2026, 11, 18, tasks.NIGHTLY_HOUR, 5, tzinfo=district.zone)
    with (
        mock.patch.object(m.District, "now", return_value=night),
        mock.patch.object(m.District, "today", return_value=AS_OF),
    ):
        assert tasks.publish_nightly_releases() == 1
        assert tasks.publish_nightly_releases() == 0  # already built tonight
    assert Release.unscoped.filter(district=district, kind=Release.Kind.NIGHTLY).count() == 1


def test_no_public_page_csv_or_json_names_or_identifies_a_student(district, client):
    """Everything under /reports/ and /api/v1/public/ for a published release, scanned
    for every student's name and identifiers."""
    release = services.publish(build(district))
    urls = ["/reports/", f"/reports/districts/{district.pk}/",
            f"/reports/districts/{district.pk}/report.csv",
            f"/reports/districts/{district.pk}/methodology/",
            f"/api/v1/public/districts/{district.pk}/report/"]  # fmt: skip
    for school in release.content["schools"].values():
        urls += [f"/reports/schools/{school['id']}/", f"/reports/schools/{school['id']}/report.csv",
                 f"/api/v1/public/schools/{school['id']}/report/"]  # fmt: skip
    served = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        served.append(response.content.decode())
    served = "\n".join([*served, str(release.content)])
    students = m.Student.unscoped.filter(district=district)
    identifiers = students.values_list(
        "given_name", "family_name", "sourced_id", "local_id", "state_id"
    )
    for given, family, *ids in identifiers:
        assert f"{given} {family}" not in served
        assert f"{family}, {given}" not in served
        for identifier in ids:
            assert not identifier or identifier not in served, identifier
