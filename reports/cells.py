"""The cells of a report card and the sums that tie them, built from per-student facts.

Every published number is a cell named by a key, ``<scope>/<measure>/<row>``:

- scope: ``d`` for the district, ``s<id>`` for a school;
- measure: ``enrolled``; ``attendance.pop`` (students enrolled 10 days or more),
  ``attendance.chronic`` and ``attendance.not_chronic``; per assessed subject
  ``<subject>.tested`` (enrolled in a tested grade), ``.assessed``, ``.not_assessed`` and
  ``.level<L>``; ``english_progress.students`` (English learners with an
  English-proficiency level this year and the year before), ``english_progress.made``
  and ``english_progress.not_made``;
- row: ``all``, ``grade:<code>`` or ``group:<subgroup>``.

A key names the same number wherever it appears (the "all grades" row of one table is
the "all students" row of the next), so a cell is hidden everywhere or nowhere. The sums
are the ones a reader can add up: a row's parts to its total, each grade or each subgroup
of one dimension to all students, every school to the district, and the identities (a
tested grade's students are its enrollment).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reports.suppression import Table

DISTRICT = "d"
STATE = "st"  # a state release's own cells (reports/state.py)
ENGLISH_PROGRESS = "english_progress."
ENGLISH_PROGRESS_MEASURES = tuple(
    f"{ENGLISH_PROGRESS}{part}" for part in ("students", "made", "not_made", "outside")
)

# Chronic absenteeism: missing at least 10% of the days enrolled, among students
# enrolled at least 10 days (the usual ESSA definition).
CHRONIC_SHARE = 0.10
ATTENDANCE_MINIMUM_DAYS = 10

# ESSA 1111(h)(1)(C)(ii) subgroups, one partition of all students per dimension.
RACES = ("hispanic", "american_indian", "asian", "black", "pacific_islander", "white",
         "two_or_more", "race_not_reported")  # fmt: skip
DIMENSIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("race", RACES),
    ("disability", ("iep", "no_iep")),
    ("english_learner", ("english_learner", "not_english_learner")),
    ("economic", ("economically_disadvantaged", "not_economically_disadvantaged")),
    ("sex", ("female", "male", "nonbinary", "sex_not_reported")),
    ("homeless", ("homeless", "not_homeless")),
    ("foster", ("foster", "not_foster")),
)
SUBGROUPS: tuple[str, ...] = tuple(group for _, groups in DIMENSIONS for group in groups)
# Subgroups ESSA names that the records do not hold: the report says so.
NOT_HELD: tuple[str, ...] = ("migrant", "military_connected")
# Measures ESSA names that the records cannot give, so the report says so: graduation
# rates follow cohorts (the school year each student first entered grade 9), which the
# records do not hold; English learners' progress needs English-proficiency levels in
# two school years (reports/selectors.py).
GRADUATION_RATE, ENGLISH_LEARNER_PROGRESS = "graduation_rate", "english_learner_progress"


def not_reported(names: Iterable[str]) -> list[str]:
    """The measures a report card of these cells (or published values) cannot show."""
    missing = [GRADUATION_RATE]
    if not any(ENGLISH_PROGRESS in name for name in names):
        missing.append(ENGLISH_LEARNER_PROGRESS)
    return missing


@dataclass(frozen=True)
class Fact:
    """One student as a report counts them: no name and no identifier."""

    school: int
    grade: str
    groups: frozenset[str]  # one subgroup per dimension
    days_enrolled: int = 0
    days_absent: int = 0
    levels: Mapping[str, int] = field(default_factory=dict)  # subject -> level
    # An English learner with an English-proficiency level this year and the year before:
    # whether they made progress (reports/selectors.py); None for everyone else.
    english_progress: bool | None = None


def key(scope: str, measure: str, row: str = "all") -> str:
    return f"{scope}/{measure}/{row}"


def split_key(name: str) -> tuple[str, str, str]:
    """``scope``, ``measure`` and ``row`` of a cell's key (a subject may hold a "/")."""
    scope, rest = name.split("/", 1)
    measure, row = rest.rsplit("/", 1)
    return scope, measure, row


def split_measure(measure: str) -> tuple[str, str]:
    """``(subject, part)`` of an assessment measure, ``("", measure)`` of the others."""
    if measure == "enrolled" or measure.startswith(("attendance.", ENGLISH_PROGRESS)):
        return "", measure
    subject, _, part = measure.rpartition(".")
    return subject, part


# Cells no page shows: their complements, and the students a measure leaves out (enrolled
# under 10 days; in a grade the test does not cover). They are in the table for the
# audit: what a reader can work out from the published cells (a total minus its shown
# part), or bound (a measure never counts more students than are enrolled), the audit
# works out too. None is ever shown; the audit counts one as known until it is hidden as
# a complement, which costs no reader anything.
UNPUBLISHED_PARTS = frozenset({"attendance.not_chronic", "attendance.short", "not_assessed",
                               "untested", "english_progress.not_made",
                               "english_progress.outside"})  # fmt: skip


def is_published(name: str) -> bool:
    return split_measure(split_key(name)[1])[1] not in UNPUBLISHED_PARTS


# Of those, the ones that only bound others (who is outside a measure: enrolled under 10
# days, in an untested grade) say nothing about any student's attendance or results:
# never primary cells themselves, however small.
BOUNDING_PARTS = frozenset({"attendance.short", "untested"})


def may_be_primary(name: str) -> bool:
    return split_measure(split_key(name)[1])[1] not in BOUNDING_PARTS


def school_scope(school_id: int) -> str:
    return f"s{school_id}"


# A card of more cells than this is protected a group of schools at a time
# (``school_groups``): one LP over every school of a district grows faster than the
# district (over half an hour at 100,000 students), and a group's grows with the group.
WHOLE_PROTECTION_CELLS = 10_000
# A group's cells, about: schools are added until the group holds at least this many
# (at 100,000 students, 3,000 hid 63.7% of the cells, 6,000 59.2%, in about as long).
PART_CELLS = 6_000


def protection_parts(keys: Sequence[str], groups: Sequence[Sequence[str]]) -> list[list[int]]:
    """Positions of ``keys`` in ``groups`` of schools (``school_groups``), for
    ``protect_in_parts``; the district's own cells are in none. No groups: one part, the
    card protected whole."""
    if not groups:
        return [list(range(len(keys)))]
    by_school, _ = _schools_of(keys)
    return [[at for school in group for at in by_school[school]] for group in groups]


def school_groups(
    keys: Sequence[str],
    *,
    earlier: Sequence[Sequence[str]] = (),
    whole_cells: int | None = None,
    part_cells: int | None = None,
) -> list[list[str]]:
    """The card's schools in groups protected one at a time, or none for a card of at
    most ``whole_cells`` (``WHOLE_PROTECTION_CELLS``), protected whole. Schools holding
    the same grades are grouped together (their small cells are of the same rows, and a
    school's small cell is hidden beside another school's), about ``part_cells`` cells
    (``PART_CELLS``) and at least two schools a group.

    ``earlier``: the groups of the school year's earlier releases, kept (less schools
    gone; a new school grouped as above): an earlier release hid each small cell beside
    cells of its own group, and regrouping could leave it beside a cell another group
    holds fixed, where no part can prove it (``protect_in_parts`` then protects the card
    whole)."""
    whole_cells = WHOLE_PROTECTION_CELLS if whole_cells is None else whole_cells
    part_cells = PART_CELLS if part_cells is None else part_cells
    if len(keys) <= whole_cells:
        return []
    by_school, grades = _schools_of(keys)
    kept: list[list[str]] = []
    placed: set[str] = set()
    for group in earlier:
        kept.append([school for school in group if school in by_school and school not in placed])
        placed.update(kept[-1])
    by_grades: dict[tuple[str, ...], list[str]] = {}
    for scope in sorted(set(by_school) - placed, key=lambda scope: int(scope[1:])):
        by_grades.setdefault(tuple(sorted(grades.get(scope, ()))), []).append(scope)
    groups = [group for group in kept if group]
    alone: list[str] = []  # a school no other holds the grades of: joins the next group
    for _, schools in sorted(by_grades.items()):
        group, first = alone, len(groups)
        for scope in schools:
            group.append(scope)
            if len(group) >= 2 and sum(len(by_school[school]) for school in group) >= part_cells:
                groups.append(group)
                group = []
        alone = []
        if len(group) >= 2:
            groups.append(group)
        elif group and len(groups) > first:  # the last school of these grades
            groups[-1] += group
        else:
            alone = group
    if alone:
        groups.append(alone)
    # A group of one school (the last of its grades, or what is left of an earlier
    # group) joins the group before it, or after it.
    for at in reversed(range(len(groups))):
        if len(groups[at]) == 1 and len(groups) > 1:
            neighbour = at - 1 if at else 1
            groups[neighbour] += groups[at]
            del groups[at]
    return groups


def remembered_groups(
    groups: Sequence[Sequence[str]], earlier: Sequence[Sequence[str]]
) -> list[list[str]]:
    """The groups a release's ledger keeps for the school year's next release: this
    card's (none when it was protected whole), each with the schools of its earlier group
    this card lacks (a school with nobody counted today goes back to its partners), and
    the earlier groups none of whose schools this card groups."""
    remembered = [list(group) for group in groups]
    home = {school: at for at, group in enumerate(remembered) for school in group}
    for group in earlier:
        missing = [school for school in group if school not in home]
        at = next((home[school] for school in group if school in home), None)
        if not missing:
            continue
        if at is None:
            remembered.append([])
            at = len(remembered) - 1
        remembered[at] += missing
        home.update(dict.fromkeys(missing, at))
    return remembered


def _schools_of(keys: Sequence[str]) -> tuple[dict[str, list[int]], dict[str, set[str]]]:
    """Each school's positions in ``keys``, and the grade rows it holds."""
    by_school: dict[str, list[int]] = {}
    grades: dict[str, set[str]] = {}
    for at, name in enumerate(keys):
        scope, _, row = split_key(name)
        if scope.startswith("s") and scope[1:].isdigit():
            by_school.setdefault(scope, []).append(at)
            if row.startswith("grade:"):
                grades.setdefault(scope, set()).add(row)
    return by_school, grades


@dataclass
class Cells:
    """Named counts and their sums, ready for ``suppression.Table``."""

    counts: dict[str, int] = field(default_factory=dict)
    # Attendance rates' days (present, enrolled) by key: published as a rate only, and
    # only beside a shown count of the students they cover.
    days: dict[str, tuple[int, int]] = field(default_factory=dict)
    sums: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def add_sum(self, total: str, parts: Sequence[str]) -> None:
        parts = tuple(part for part in parts if part in self.counts)
        if total in self.counts and parts:
            self.sums.append((total, parts))

    def table(self) -> tuple[Table, list[str]]:
        """The cells as a ``Table`` of positions, and the key at each position."""
        keys = list(self.counts)
        position = {name: at for at, name in enumerate(keys)}
        sums = [(position[total], [position[p] for p in parts]) for total, parts in self.sums]
        return Table([self.counts[name] for name in keys], sums), keys


def build_cells(
    facts: Sequence[Fact], *, grade_order: Sequence[str], subjects: Sequence[str],
    english_progress: bool | None = None,
) -> Cells:  # fmt: skip
    """Every cell of the district's report card and of each school's, with their sums.
    ``english_progress``: whether the card has English learners' progress (by default,
    when a learner has it)."""
    # A subject's tested grades are the district's, so that a school's grade where
    # nobody sat the test still shows as "not assessed" rather than vanishing.
    tested_grades = {
        subject: {fact.grade for fact in facts if subject in fact.levels} for subject in subjects
    }
    tallies: dict[str, Counter] = {}
    for fact in facts:
        for scope in (school_scope(fact.school), DISTRICT):
            _tally_student(tallies.setdefault(scope, Counter()), fact, tested_grades)
    levels = {
        subject: sorted({fact.levels[subject] for fact in facts if subject in fact.levels})
        for subject in subjects
    }
    # Every scope has the table or none does: a school without it would say it has no
    # such learner, which may be a hidden cell. (A build decides from the records holding
    # the test at all, not from a learner having it, which would say one does.)
    if english_progress is None:
        english_progress = any(fact.english_progress is not None for fact in facts)
    cells = Cells()
    scopes = sorted(tallies, key=lambda scope: (scope != DISTRICT, len(scope), scope))
    for scope in scopes:
        _add_scope(cells, scope, tallies[scope], grade_order, levels)
        if english_progress:
            _add_english_progress(cells, scope, tallies[scope])
    _add_hierarchy(cells, [scope for scope in scopes if scope != DISTRICT])
    return cells


def _tally_student(tally: Counter, fact: Fact, tested_grades: Mapping[str, set[str]]) -> None:
    rows = ("all", f"grade:{fact.grade}", *(f"group:{group}" for group in fact.groups))
    counted = ["enrolled"]
    if fact.days_enrolled >= ATTENDANCE_MINIMUM_DAYS:
        chronic = fact.days_absent >= CHRONIC_SHARE * fact.days_enrolled
        counted += ["attendance.pop", "attendance.chronic" if chronic else "attendance.not_chronic"]
        for row in rows:
            tally["days.enrolled", row] += fact.days_enrolled
            tally["days.present", row] += fact.days_enrolled - fact.days_absent
    else:
        counted.append("attendance.short")
    for subject, grades in tested_grades.items():
        if fact.grade not in grades:
            counted.append(f"{subject}.untested")
        else:
            level = fact.levels.get(subject)
            counted.append(f"{subject}.tested")
            counted += (
                [f"{subject}.assessed", f"{subject}.level{level}"]
                if level
                else [f"{subject}.not_assessed"]
            )
    for measure in counted:
        for row in rows:
            tally[measure, row] += 1
    if "english_learner" in fact.groups:  # one row: all the scope's English learners
        students, made, not_made, outside = ENGLISH_PROGRESS_MEASURES
        if fact.english_progress is None:
            tally[outside, "all"] += 1
        else:
            tally[students, "all"] += 1
            tally[made if fact.english_progress else not_made, "all"] += 1


def _add_scope(
    cells: Cells,
    scope: str,
    tally: Counter,
    grade_order: Sequence[str],
    levels: Mapping[str, Sequence[int]],
) -> None:
    grades = [grade for grade in grade_order if tally["enrolled", f"grade:{grade}"]]
    group_rows = [f"group:{group}" for group in SUBGROUPS]

    def add(measure: str, rows: Sequence[str]) -> None:
        for row in rows:
            cells.counts[key(scope, measure, row)] = tally[measure, row]

    add("enrolled", ["all", *(f"grade:{grade}" for grade in grades), *group_rows])
    _add_partition_sums(cells, scope, ["enrolled"], grades)
    attendance = ("attendance.pop", "attendance.chronic", "attendance.not_chronic")
    for measure in [*attendance, "attendance.short"]:
        add(measure, ["all", *group_rows])
    for row in ["all", *group_rows]:
        cells.days[key(scope, "attendance.rate", row)] = (
            tally["days.present", row],
            tally["days.enrolled", row],
        )
    _add_row_sums(cells, scope, attendance[0], attendance[1:], ["all", *group_rows])
    # Enrolled = counted for attendance + enrolled under 10 days: bounds the attendance
    # counts by the enrollment a reader sees.
    _add_row_sums(cells, scope, "enrolled", ["attendance.pop", "attendance.short"],
                  ["all", *group_rows])  # fmt: skip
    _add_partition_sums(cells, scope, [*attendance, "attendance.short"], [])
    for subject, subject_levels in levels.items():
        tested = [grade for grade in grades if tally[f"{subject}.tested", f"grade:{grade}"]]
        totals = ["all", *group_rows]
        untested = f"{subject}.untested"
        if set(tested) != set(grades):
            add(untested, totals)
            _add_partition_sums(cells, scope, [untested], [])
        if not tested:  # a scope whose grades the test does not cover
            _add_row_sums(cells, scope, "enrolled", [untested], totals)
            continue
        rows = ["all", *(f"grade:{grade}" for grade in tested), *group_rows]
        level_measures = [f"{subject}.level{level}" for level in subject_levels]
        measures = [f"{subject}.tested", f"{subject}.assessed", f"{subject}.not_assessed"]
        for measure in [*measures, *level_measures]:
            add(measure, rows)
        _add_row_sums(cells, scope, measures[0], measures[1:], rows)
        _add_row_sums(cells, scope, measures[1], level_measures, rows)
        _add_partition_sums(cells, scope, [*measures, *level_measures], tested)
        _add_tested_identities(cells, scope, measures[0], tested)
        # Enrolled = in a tested grade + not: bounds the tested counts by enrollment.
        _add_row_sums(cells, scope, "enrolled", [measures[0], untested], totals)


def _add_english_progress(cells: Cells, scope: str, tally: Counter) -> None:
    """One row, the scope's English learners: those with a level both years (made
    progress or not) and those without are the English learners of the enrollment
    table."""
    students, made, not_made, outside = ENGLISH_PROGRESS_MEASURES
    for measure in ENGLISH_PROGRESS_MEASURES:
        cells.counts[key(scope, measure)] = tally[measure, "all"]
    _add_row_sums(cells, scope, students, [made, not_made], ["all"])
    cells.add_sum(key(scope, "enrolled", "group:english_learner"),
                  [key(scope, students), key(scope, outside)])  # fmt: skip


def _add_tested_identities(
    cells: Cells, scope: str, tested_measure: str, tested: Sequence[str]
) -> None:
    """Every student of a tested grade counts as tested, so a grade's tested count is its
    enrollment, a number the enrollment table shows: an identity a reader can use (a
    one-part sum). (The all-students and subgroup rows are tested plus untested.)"""
    for grade in tested:
        row = f"grade:{grade}"
        cells.add_sum(key(scope, tested_measure, row), [key(scope, "enrolled", row)])


def _add_row_sums(
    cells: Cells, scope: str, total: str, parts: Sequence[str], rows: Sequence[str]
) -> None:
    """Within each row, ``total`` is the sum of ``parts`` (assessed + not assessed...)."""
    for row in rows:
        cells.add_sum(key(scope, total, row), [key(scope, part, row) for part in parts])


def _add_partition_sums(
    cells: Cells, scope: str, measures: Sequence[str], grades: Sequence[str]
) -> None:
    """For each measure, its "all" row is the sum of its grade rows, and the sum of the
    subgroups of each dimension."""
    for measure in measures:
        total = key(scope, measure)
        if grades:
            cells.add_sum(total, [key(scope, measure, f"grade:{grade}") for grade in grades])
        for _, groups in DIMENSIONS:
            cells.add_sum(total, [key(scope, measure, f"group:{group}") for group in groups])


def _add_hierarchy(cells: Cells, schools: Sequence[str]) -> None:
    """Each district cell is the sum of the same cell over the schools that have it."""
    prefix = f"{DISTRICT}/"
    for name in [name for name in cells.counts if name.startswith(prefix)]:
        rest = name[len(prefix) :]
        cells.add_sum(name, [f"{school}/{rest}" for school in schools])
