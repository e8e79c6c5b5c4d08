"""The report-card benchmark's own table set: the issue's, cut from the report card."""

from __future__ import annotations

from hypothesis import given, settings

from reports.cells import build_cells, split_key
from reports.management.commands.bench_reports import issue_tables
from tests.reports.test_cells import GRADES, facts_strategy


@settings(max_examples=20, deadline=None)
@given(facts_strategy)
def test_the_issues_tables_are_levels_and_students_assessed_with_their_own_sums(facts):
    cells = build_cells(facts, grade_order=GRADES, subjects=["Reading"])
    kept = issue_tables(cells)
    measures = {split_key(name)[1] for name in kept.counts}
    assert measures <= {"Reading.assessed", *(f"Reading.level{level}" for level in range(1, 5))}
    assert {name for name in cells.counts if split_key(name)[1] in measures} == set(kept.counts)
    assert all(kept.counts[name] == cells.counts[name] for name in kept.counts)
    assert kept.sums == [
        (total, parts)
        for total, parts in cells.sums
        if total in kept.counts and all(part in kept.counts for part in parts)
    ]
    kept.table()  # every sum still adds up
