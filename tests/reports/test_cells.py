"""The cells of a report card: what each counts, and the sums a reader could add up."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reports.cells import (
    DIMENSIONS,
    DISTRICT,
    ENGLISH_LEARNER_PROGRESS,
    GRADUATION_RATE,
    Fact,
    build_cells,
    key,
    may_be_primary,
    not_reported,
    school_scope,
)
from reports.suppression import attacker_intervals, is_primary, protect, unsafe_cells

GRADES = ["KG", "01", "02", "03", "04", "05"]
SUBJECTS = ["Mathematics", "Reading"]


def student(school=1, grade="03", *, absent=0, enrolled=100, levels=None,
            english_progress=None, **groups) -> Fact:  # fmt: skip
    chosen = {dimension: members[-1] for dimension, members in DIMENSIONS}
    chosen.update(groups)
    return Fact(school, grade, frozenset(chosen.values()), enrolled, absent, levels or {},
                english_progress)  # fmt: skip


def test_each_school_and_the_district_count_their_own_students():
    cells = build_cells(
        [student(1, "03"), student(1, "04"), student(2, "03")],
        grade_order=GRADES, subjects=[],
    )  # fmt: skip
    counts = cells.counts
    assert counts[key("s1", "enrolled")] == 2
    assert counts[key("s2", "enrolled", "grade:03")] == 1
    assert counts[key(DISTRICT, "enrolled", "grade:03")] == 2
    # A grade the school does not serve is no cell at all, not a zero to hide.
    assert key("s2", "enrolled", "grade:04") not in counts
    # Every subgroup of a served dimension is a cell, zeros included.
    assert counts[key("s1", "enrolled", "group:asian")] == 0


def test_chronic_absence_is_a_tenth_of_enrolled_days_among_students_of_ten_days_or_more():
    facts = [
        student(absent=10, enrolled=100),  # exactly 10%: chronic
        student(absent=9, enrolled=100),
        student(absent=5, enrolled=9),  # too few days to count
    ]
    counts = build_cells(facts, grade_order=GRADES, subjects=[]).counts
    assert counts[key(DISTRICT, "attendance.pop")] == 2
    assert counts[key(DISTRICT, "attendance.chronic")] == 1
    assert counts[key(DISTRICT, "attendance.not_chronic")] == 1


def test_a_tested_grade_counts_the_students_who_did_not_sit_the_test():
    facts = [
        student(1, "03", levels={"Mathematics": 3}),
        student(2, "03"),  # nobody at school 2 sat it: still a tested grade there
        student(2, "01"),  # grade 1 is tested nowhere
    ]
    counts = build_cells(facts, grade_order=GRADES, subjects=["Mathematics"]).counts
    assert counts[key("s2", "Mathematics.not_assessed", "grade:03")] == 1
    assert counts[key("s2", "Mathematics.tested")] == 1
    assert counts[key(DISTRICT, "Mathematics.level3")] == 1
    assert key(DISTRICT, "Mathematics.tested", "grade:01") not in counts


def test_a_tested_grades_students_are_its_enrollment_for_the_audit_too():
    """Hiding a tested count while the enrollment table shows the same number protects
    nothing: the audit knows they are equal."""
    facts = [student(1, "03", levels={"Mathematics": 2}) for _ in range(30)]
    facts += [student(1, "03", race="hispanic") for _ in range(3)]  # not assessed
    cells = build_cells(facts, grade_order=GRADES, subjects=["Mathematics"])
    sums = {frozenset((total, *parts)) for total, parts in cells.sums}
    for row in ("grade:03", "all", "group:hispanic"):  # every grade served is tested
        assert {key("s1", "Mathematics.tested", row), key("s1", "enrolled", row)} in sums
    table, keys = cells.table()
    at = {name: position for position, name in enumerate(keys)}
    small = at[key("s1", "Mathematics.not_assessed", "group:hispanic")]
    # Every tested and every not-assessed count hidden: enrollment still gives the small
    # group away (tested minus assessed), as it would to a reader.
    hidden = {position for name, position in at.items()
              if ".tested/" in name or ".not_assessed/" in name}  # fmt: skip
    assert attacker_intervals(table, hidden)[small].width == 0


def test_the_district_cell_is_a_sum_of_its_schools_cells():
    facts = [student(school, "03", levels={"Reading": school}) for school in (1, 2, 3)]
    cells = build_cells(facts, grade_order=GRADES, subjects=["Reading"])
    sums = {total: set(parts) for total, parts in cells.sums}
    total = key(DISTRICT, "Reading.level2", "grade:03")
    assert sums[total] == {key(school_scope(s), "Reading.level2", "grade:03") for s in (1, 2, 3)}


def test_english_learners_progress_is_one_row_bounded_by_their_enrollment():
    learners = [student(1, english_learner="english_learner", english_progress=made)
                for made in (True, True, False, None)]  # fmt: skip
    cells = build_cells([*learners, student(2)], grade_order=GRADES, subjects=[])
    counts = cells.counts
    assert counts[key("s1", "english_progress.students")] == 3
    assert counts[key("s1", "english_progress.made")] == 2
    assert counts[key("s1", "english_progress.not_made")] == 1
    assert counts[key(DISTRICT, "english_progress.outside")] == 1
    # A school without English learners has the table too (its zeros are hidden, and
    # leaving it out would say what they hide).
    assert counts[key("s2", "english_progress.students")] == 0
    assert key("s1", "english_progress.students", "grade:03") not in counts
    sums = {frozenset((total, *parts)) for total, parts in cells.sums}
    assert frozenset({key("s1", "enrolled", "group:english_learner"),
                      key("s1", "english_progress.students"),
                      key("s1", "english_progress.outside")}) in sums  # fmt: skip
    assert not_reported(counts) == [GRADUATION_RATE]


def test_without_two_years_of_english_proficiency_levels_the_card_says_so():
    cells = build_cells([student(1, english_learner="english_learner")], grade_order=GRADES,
                        subjects=[])  # fmt: skip
    assert not any("english_progress" in name for name in cells.counts)
    assert not_reported(cells.counts) == [GRADUATION_RATE, ENGLISH_LEARNER_PROGRESS]


def test_where_the_records_hold_the_test_the_table_is_there_even_with_no_learner_in_it():
    """Were it there only when some learner had two levels, it would say that one does:
    a count the audit takes for possibly zero."""
    cells = build_cells([student(1, english_learner="english_learner")], grade_order=GRADES,
                        subjects=[], english_progress=True)  # fmt: skip
    assert cells.counts[key(DISTRICT, "english_progress.students")] == 0
    assert not_reported(cells.counts) == [GRADUATION_RATE]
    # Learners without two levels include those not tested this year: like the main
    # test's "not assessed", a small count of them is a primary cell.
    assert may_be_primary(key("s1", "english_progress.outside"))
    table, keys = cells.table()
    primary = [at for at, count in enumerate(table.counts)
               if is_primary(count, 10) and may_be_primary(keys[at])]  # fmt: skip
    assert keys.index(key("s1", "english_progress.outside")) in primary


groups_of_a_student = st.tuples(*(st.sampled_from(members) for _, members in DIMENSIONS))
facts_strategy = st.lists(
    st.builds(
        lambda school, grade, groups, absent, level, progress: Fact(
            school,
            grade,
            frozenset(groups),
            20,
            absent,
            {"Reading": level} if level else {},
            progress if "english_learner" in groups else None,
        ),
        st.integers(1, 3),
        st.sampled_from(GRADES[2:]),
        groups_of_a_student,
        st.integers(0, 20),
        st.integers(0, 4),
        st.sampled_from([None, True, False]),
    ),
    min_size=1,
    max_size=120,
)


@settings(max_examples=25, deadline=None)
@given(facts_strategy)
def test_every_sum_of_any_district_adds_up(facts):
    """``Table`` refuses a sum that does not add up, so building one checks them all."""
    table, keys = build_cells(facts, grade_order=GRADES, subjects=["Reading"]).table()
    assert len(keys) == len(set(keys)) == len(table.counts)


@settings(max_examples=4, deadline=None)
@given(facts_strategy.filter(lambda facts: len(facts) <= 40))
def test_a_protected_report_card_leaves_no_small_group_narrower_than_the_width(facts):
    table, _ = build_cells(facts, grade_order=GRADES, subjects=["Reading"]).table()
    primary = [at for at, count in enumerate(table.counts) if is_primary(count, 10)]
    hidden, intervals = protect(table, primary, 5)
    assert set(primary) <= hidden
    assert unsafe_cells(intervals, primary, 5) == []
