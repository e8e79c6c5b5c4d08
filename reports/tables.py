"""A published release as the tables a reader sees: the one shape the school, district
and state pages, the CSV and the JSON API all render, so that each shows exactly what
the others do. Everything here reads a release's ``content``; nothing reads a student.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from django.utils import formats
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from records.models import GradeLevel
from reports.cells import (
    DIMENSIONS,
    ENGLISH_LEARNER_PROGRESS,
    GRADUATION_RATE,
    NOT_HELD,
    key,
    not_reported,
)
from reports.services import split_key
from reports.suppression import Code

NOT_PUBLISHED = "–"  # a row the scope has no cell for (no students in a grade)

CODE_MEANINGS = {
    Code.BELOW_MINIMUM_N: _("Fewer students than the minimum group size: not shown."),
    Code.COMPLEMENTARY: _(
        "Hidden so that a small group elsewhere in the report cannot be worked out from it."
    ),
    Code.PERCENT_CODED: _(
        "A percentage near 0% or 100%, shown as a range so that no student's result can "
        "be inferred."
    ),
}

NOT_REPORTED_REASONS = {
    GRADUATION_RATE: _(
        "Graduation rate: the district's records do not hold graduation cohorts (the "
        "school year each student first entered grade 9)."
    ),
    ENGLISH_LEARNER_PROGRESS: _(
        "English learners' progress: the district's records hold no English-proficiency "
        "test levels for this school year or the one before."
    ),
}

GROUP_LABELS = {
    "hispanic": _("Hispanic or Latino"),
    "american_indian": _("American Indian or Alaska Native"),
    "asian": _("Asian"),
    "black": _("Black or African American"),
    "pacific_islander": _("Native Hawaiian or Pacific Islander"),
    "white": _("White"),
    "two_or_more": _("Two or more races"),
    "race_not_reported": _("Race not reported"),
    "iep": _("Students with disabilities"),
    "no_iep": _("Students without disabilities"),
    "english_learner": _("English learners"),
    "not_english_learner": _("Not English learners"),
    "economically_disadvantaged": _("Economically disadvantaged"),
    "not_economically_disadvantaged": _("Not economically disadvantaged"),
    "female": pgettext_lazy("students", "Female"),
    "male": pgettext_lazy("students", "Male"),
    "nonbinary": pgettext_lazy("students", "Nonbinary"),
    "sex_not_reported": _("Sex not reported"),
    "homeless": _("Homeless"),
    "not_homeless": _("Not homeless"),
    "foster": _("In foster care"),
    "not_foster": _("Not in foster care"),
    "migrant": _("Migrant"),
    "military_connected": _("Military-connected"),
}
DIMENSION_LABELS = {
    "race": _("Race and ethnicity"),
    "disability": _("Disability"),
    "english_learner": _("English learners"),
    "economic": _("Economic status"),
    "sex": _("Sex"),
    "homeless": _("Housing"),
    "foster": _("Foster care"),
}
GRADE_LABELS = dict(GradeLevel.choices)

STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
    "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "PR": "Puerto Rico", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}  # fmt: skip


def state_name(code: str) -> str:
    """A state's name from its USPS code (the code itself when not a state's)."""
    return STATE_NAMES.get(code, code)


@dataclass(frozen=True)
class Value:
    """One published value: the text a reader sees and its code when not exact."""

    text: str
    code: str | None = None

    @property
    def meaning(self) -> str:
        return str(CODE_MEANINGS[self.code]) if self.code else ""

    @property
    def is_number(self) -> bool:
        return self.code is None and self.text != NOT_PUBLISHED


@dataclass(frozen=True)
class Column:
    id: str
    label: str
    kind: str  # "count" or "percent"


@dataclass(frozen=True)
class Row:
    id: str  # "all", "grade:05", "group:asian"
    label: str
    section: str  # "", "Grade" or a subgroup dimension's label
    values: tuple[Value, ...]


@dataclass
class ReportTable:
    id: str
    title: str
    population: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)

    def row(self, row_id: str) -> Row | None:
        return next((row for row in self.rows if row.id == row_id), None)


class Report:
    """One scope (``d`` for the district, ``s<id>`` for a school) of a release's content."""

    def __init__(self, content: Mapping, scope: str):
        self.content = content
        self.scope = scope
        self.values: Mapping[str, list] = content["values"]

    def value(self, measure: str, row: str = "all") -> Value:
        found = self.values.get(key(self.scope, measure, row))
        return Value(*found) if found else Value(NOT_PUBLISHED)

    def has(self, measure: str, row: str = "all") -> bool:
        return key(self.scope, measure, row) in self.values

    @property
    def subjects(self) -> list[str]:
        prefix, suffix = f"{self.scope}/", ".tested/all"
        return sorted(
            name[len(prefix) : -len(suffix)]
            for name in self.values
            if name.startswith(prefix) and name.endswith(suffix)
        )

    def levels(self, subject: str) -> list[int]:
        prefix, suffix = f"{self.scope}/{subject}.level", ".percent/all"
        return sorted(
            int(name[len(prefix) : -len(suffix)])
            for name in self.values
            if name.startswith(prefix) and name.endswith(suffix)
        )

    def grades(self) -> list[str]:
        present = {
            split_key(name)[2].removeprefix("grade:")
            for name in self.values
            if name.startswith(f"{self.scope}/enrolled/grade:")
        }
        return [grade for grade in GradeLevel.values if grade in present]

    def tables(self) -> list[ReportTable]:
        as_of = formats.date_format(datetime.date.fromisoformat(self.content["as_of"]))
        tables = [
            self._table(
                "enrollment", _("Enrollment"),
                _("Students enrolled on %(date)s, each counted once, at their primary school.")
                % {"date": as_of},
                [Column("enrolled", str(_("Students")), "count")],
                [("enrolled", "")], grades=True,
            ),
            self._table(
                "attendance", _("Attendance"),
                _("Students enrolled at least 10 days of the school year up to %(date)s. "
                  "Chronically absent: missed at least 10%% of the days they were enrolled, "
                  "excused or not.") % {"date": as_of},
                [Column("students", str(_("Students")), "count"),
                 Column("rate", str(_("Attendance rate")), "percent"),
                 Column("chronic", str(_("Chronically absent")), "percent")],
                [("attendance.pop", ""), ("attendance.rate", "rate"),
                 ("attendance.chronic", "percent")],
            ),
        ]  # fmt: skip
        assessment = self.content.get("assessment")
        for subject in self.subjects:
            levels = self.levels(subject)
            # A state sums districts' own assessments: then the subject alone names it.
            title = (_("%(subject)s: %(assessment)s")
                     % {"subject": subject, "assessment": assessment["name"]}
                     if assessment else subject)  # fmt: skip
            table = self._table(
                f"assessment-{slugify(subject)}",
                title,
                _("Students enrolled in a tested grade on %(date)s; levels are shares of the "
                  "students assessed.") % {"date": as_of},
                [Column("tested", str(_("Students in tested grades")), "count"),
                 Column("assessed", str(_("Assessed")), "count"),
                 Column("participation", str(_("Participation")), "percent"),
                 *(Column(f"level{level}", str(_("Level %(level)s") % {"level": level}),
                          "percent") for level in levels)],
                [(f"{subject}.tested", ""), (f"{subject}.assessed", ""),
                 (f"{subject}.assessed", "percent"),
                 *((f"{subject}.level{level}", "percent") for level in levels)],
                grades=True, tested=f"{subject}.tested",
            )  # fmt: skip
            tables.append(table)
        if self.has("english_progress.students"):
            tables.append(self._english_progress_table(as_of))
        return tables

    def _english_progress_table(self, as_of: str) -> ReportTable:
        return self._table(
            "english-progress", _("English learners' progress"),
            _("English learners on %(date)s with a level on the English-proficiency test in "
              "this school year and on the same test the year before. Made progress: a "
              "higher level than the year before.") % {"date": as_of},
            [Column("students", str(_("Students")), "count"),
             Column("made", str(_("Made progress")), "percent")],
            [("english_progress.students", ""), ("english_progress.made", "percent")],
            rows=[("all", str(_("English learners")), "")],
        )  # fmt: skip

    def _table(self, table_id, title, population, columns, measures, *, grades=False,
               tested=None, rows=None) -> ReportTable:  # fmt: skip
        """``measures``: per column, the measure and how it is published ("" a count,
        "percent" a share of its denominator, "rate" the attendance rate); ``rows``, when
        given, in place of all students, the grades and the subgroups."""
        table = ReportTable(table_id, str(title), str(population), columns)
        for row_id, label, section in rows or self._rows(grades):
            if tested and row_id.startswith("grade:") and not self.has(tested, row_id):
                continue  # a grade the assessment does not test
            values = tuple(self._published(measure, form, row_id) for measure, form in measures)
            table.rows.append(Row(row_id, label, section, values))
        return table

    def _published(self, measure: str, form: str, row: str) -> Value:
        if form == "percent":
            return self.value(f"{measure}.percent", row)
        return self.value(measure, row)

    def _rows(self, grades: bool) -> Iterator[tuple[str, str, str]]:
        yield "all", str(_("All students")), ""
        if grades:
            for grade in self.grades():
                yield f"grade:{grade}", str(GRADE_LABELS.get(grade, grade)), str(_("Grade"))
        for dimension, groups in DIMENSIONS:
            for group in groups:
                yield f"group:{group}", str(GROUP_LABELS[group]), str(DIMENSION_LABELS[dimension])

    def not_held(self) -> list[str]:
        """The ESSA subgroups the district's records do not hold."""
        return [str(GROUP_LABELS[group]) for group in self.content.get("not_held", NOT_HELD)]

    def not_reported(self) -> list[str]:
        """The ESSA measures this report card cannot show, and why."""
        missing = self.content.get("not_reported")
        if missing is None:  # a release from before the list was stored
            missing = not_reported(self.values)
        return [str(NOT_REPORTED_REASONS[measure]) for measure in missing]
