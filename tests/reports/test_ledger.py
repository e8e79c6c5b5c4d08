"""Releases audited jointly: the attacks that difference two releases, or subtract the
other schools from the district, fail against a protected release."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reports.cells import DIMENSIONS, Cells, Fact, build_cells, is_published, may_be_primary
from reports.ledger import Ledger
from reports.services import protect_cells
from reports.suppression import attacker_intervals, protect, unsafe_cells
from tests.reports.test_cells import GRADES, facts_strategy

N, WIDTH = 10, 5


def school_of(total: int, small: int) -> Cells:
    """One school's enrollment: all students, and a small and a large group."""
    names = ("s1/enrolled/all", "s1/enrolled/group:x", "s1/enrolled/group:y")
    cells = Cells(counts=dict(zip(names, (total, small, total - small), strict=True)))
    cells.add_sum(names[0], names[1:])
    return cells


def publish(cells: Cells, earlier: Ledger) -> tuple[Ledger, set[str]]:
    """Protect ``cells`` jointly with ``earlier``; the next ledger and the hidden keys."""
    protection = protect_cells(cells, earlier, N, WIDTH)
    keys, counts = protection.keys, protection.table.counts
    # As a release records it: a cell no page shows was never shown (nor hidden).
    unpublished = set(range(len(keys))) - protection.published
    ledger = earlier.after(keys, counts, protection.hidden, unpublished)
    return ledger, {keys[at] for at in protection.hidden}


def joint_audit(cells: Cells, earlier: Ledger, hidden_keys: set[str]) -> list[str]:
    """The primary cells an attacker holding every release narrows below the width when
    ``cells`` is published with ``hidden_keys`` hidden (a value an earlier release showed
    is known wherever it still holds)."""
    table, keys = cells.table()
    hidden = {at for at, name in enumerate(keys) if name in hidden_keys}
    hidden -= earlier.known(keys, table.counts)
    intervals = attacker_intervals(table, hidden)
    primary = {at for at in hidden if table.counts[at] < N and may_be_primary(keys[at])}
    return [keys[at] for at in unsafe_cells(intervals, primary, WIDTH)]


def test_differencing_two_releases_after_one_student_left_fails():
    first_ledger, first_hidden = publish(school_of(100, 10), Ledger())
    assert first_hidden == set()  # 10 students: shown
    after = school_of(99, 9)  # one student of group x left
    # Protected alone, the second release hides x and the cheapest cell binding it, y
    # (90, the same as in the first release): the attacker reads 99 - 90 = 9.
    alone, _ = protect(*_alone(after))
    alone_keys = {list(after.counts)[at] for at in alone}
    assert alone_keys == {"s1/enrolled/group:x", "s1/enrolled/group:y"}
    assert joint_audit(after, first_ledger, alone_keys) != []
    # Audited jointly, y is known from the first release, so the total is hidden instead.
    _, joint_hidden = publish(after, first_ledger)
    assert "s1/enrolled/all" in joint_hidden
    assert joint_audit(after, first_ledger, joint_hidden) == []


def _alone(cells: Cells):
    table, _ = cells.table()
    return table, [at for at, count in enumerate(table.counts) if count < N], WIDTH


def test_a_schools_small_group_is_not_the_district_minus_the_other_schools():
    def fact(school, group):
        groups = {dimension: members[-1] for dimension, members in DIMENSIONS}
        groups["race"] = group
        return Fact(school, "03", frozenset(groups.values()), 0, 0, {})

    facts = [fact(1, "asian")] * 3 + [fact(1, "white")] * 40 + [fact(2, "asian")] * 30
    facts += [fact(2, "white")] * 30
    cells = build_cells(facts, grade_order=GRADES, subjects=[])
    small = "s1/enrolled/group:asian"
    assert cells.counts[small] == 3
    _, hidden = publish(cells, Ledger())
    # The district's and school 2's asian students (33 and 30) are each 10 or more, but
    # showing both would give school 1's 3 away: one of them is hidden too.
    assert small in hidden
    assert {"d/enrolled/group:asian", "s2/enrolled/group:asian"} & hidden
    assert joint_audit(cells, Ledger(), hidden) == []


@settings(max_examples=3, deadline=None)
@given(facts_strategy.filter(lambda facts: 2 <= len(facts) <= 40), st.data())
def test_a_reissue_after_a_student_moves_keeps_every_small_group_wide(facts, data):
    """A re-issue never reveals what an earlier release hid: every published cell hidden
    before stays hidden, and the audit crediting the attacker with the first release
    passes. (A cell no page shows is never revealed; hidden or not, it only says whether
    the audit lets the attacker work it out, and re-deciding that is safe both ways.)"""
    first = build_cells(facts, grade_order=GRADES, subjects=["Reading"])
    ledger, first_hidden = publish(first, Ledger())
    mover = data.draw(st.integers(0, len(facts) - 1))
    moved = facts[mover]
    facts = [*facts[:mover], Fact(3 - moved.school % 3, *_rest(moved)), *facts[mover + 1 :]]
    second = build_cells(facts, grade_order=GRADES, subjects=["Reading"])
    _, second_hidden = publish(second, ledger)
    hidden_published = {name for name in first_hidden & set(second.counts) if is_published(name)}
    assert hidden_published <= second_hidden
    assert joint_audit(second, ledger, second_hidden) == []


def _rest(fact: Fact):
    return fact.grade, fact.groups, fact.days_enrolled, fact.days_absent, fact.levels
