"""The research extract's benchmark (``bench_extract``): it measures what the issue asks
for and leaves the district as it was (one transaction, rolled back; its files deleted)."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from access.models import AccessEvent, Researcher, Study, StudyKey, StudyVersion
from accounts.models import User
from records.models import District, Student
from records.seeding import seed_demo
from reports.models import StudyExtract

pytestmark = pytest.mark.django_db


def number(text: str, label: str) -> int:
    found = re.search(rf"{re.escape(label)}: ([\d,]+)", text)
    assert found, label
    return int(found[1].replace(",", ""))


def test_the_benchmark_measures_an_extract_and_leaves_nothing_behind(settings, tmp_path):
    settings.MEDIA_ROOT = media = tmp_path / "media"
    # The seeding function, not the command: the command also builds a report card.
    [seeded] = seed_demo(students=600, seed=3, district="tiny")
    users, k = User.objects.count(), seeded.district.k_anonymity
    assert k != 5
    out = io.StringIO()
    call_command("bench_extract", district="tiny", k=5, stdout=out)
    text = out.getvalue()

    population = number(text, "students in the population")
    assert population == Student.unscoped.filter(district=seeded.district).count()
    released, suppressed = number(text, "records released"), number(text, "records suppressed")
    assert released + suppressed == population and released > 0
    assert re.search(r"records suppressed: [\d,]+ \(\d+\.\d\d%\)", text)
    assert "k required: 5; k achieved: " in text and number(text, "k achieved") >= 5
    assert re.search(r"information loss: 0\.\d{4}", text)
    for column in ("school", "grade", "birth_year", "sex", "race_ethnicity", "iep", "homeless"):
        assert re.search(rf"^    {column}: \S", text, re.MULTILINE), column
    for column in ("attendance_rate", "level_Mathematics", "level_Reading"):
        assert re.search(rf"^    {re.escape(column)}: \d+ \(", text, re.MULTILINE), column
    assert re.search(r"zip: \d+\.\d MB \([\d,]+ bytes\)", text)
    assert re.search(r"Built in \d+\.\d s \(ready\); peak memory \d+ MB", text)
    assert re.search(r"extract built < 120 s +\d+\.\d s +(PASS|MISS)", text)
    assert re.search(r"peak memory < 1024 MB +\d+ MB +(PASS|MISS)", text)
    assert "Files the run wrote, deleted from storage: 2" in text

    # Rolled back: nothing of the study, its extract or its disclosure record is left,
    # the district's k is its own again, and storage holds no file of the run.
    for model in (Study, StudyVersion, StudyKey, StudyExtract, Researcher):
        assert not model.unscoped.exists(), model
    assert not AccessEvent.unscoped.filter(study__isnull=False).exists()
    assert User.objects.count() == users
    assert District.objects.get(slug="tiny").k_anonymity == k
    assert not [path for path in media.rglob("*") if path.is_file()]
