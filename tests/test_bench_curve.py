"""The cost curve (``bench_curve``): at two tiny sizes it seeds both districts, times every
page and job at each, and prints every row of its table with numbers and ratios."""

from __future__ import annotations

import io
import re
from unittest import mock

import pytest
from django.core.management import call_command

from access.management.commands.bench_curve import MEASURES, primary_cells_hidden
from records.models import District
from records.seeding import seed_demo

pytestmark = pytest.mark.django_db

NUMBER = r"[\d,]+\.\d"


def test_the_curve_prints_every_row_with_numbers_at_each_size():
    # One district there already (seeded without its report card: the command builds and
    # publishes one), the other seeded by the command.
    seed_demo(students=400, seed=1, district="curve-400")
    out = io.StringIO()
    # As the suite's role (row-level security applies); the command seeds as the owner.
    # Every build's protection quick (the LP takes tens of seconds a build): what is under
    # test here is the benchmark's table, not the protection.
    with mock.patch("reports.services.protect_in_parts", primary_cells_hidden):
        call_command("bench_curve", sizes="200,400", runs=2, rounds=1, batch_runs=1, stdout=out)
    text = out.getvalue()
    assert {d.slug for d in District.objects.all()} >= {"curve-200", "curve-400"}
    assert "Seeded curve-200 in" in text and "curve-400: present, reused" in text
    assert "First release built and published" in text
    table = text[text.index("Cost curve:") :]
    assert re.search(r"200 students .* 400 students", table)
    for measure in MEASURES:
        unit = "s" if measure.batch else " "
        cell = rf"{NUMBER}{unit} +{NUMBER}{unit} +\d+ +\d+\.\d\d"
        mark = "" if measure.batch else " [✔✘]"
        row = rf"^{re.escape(measure.label)} +\| +{cell}{mark} \| +{cell}{mark}$"
        assert re.search(row, table, re.MULTILINE), measure.label
    # One school's roster, imported again unchanged; the pages answered with statements.
    assert re.search(r"first import [\d,]+ changes, then 0", text)
    assert "Not measured" not in table
    assert re.search(r"Target: every page within 1\.5× of its p50 at 200 students: ", table)
