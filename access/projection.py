"""What leaves the server for a student: only the categories the viewer may see.

A student object is ``{id, sourced_id, <category>: {...}, ...}``; a category the
viewer lacks is absent, not empty. Record categories come in two forms: a list
item carries each category's summary, a detail adds its ``records``. Data for a
page is loaded per category in one query each, for just the students allowed it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from access.categories import CATEGORY_ORDER, Category, fields_in
from access.scoping import Allowed, granted_schools, granted_sections
from access.viewer import FAMILY_ROUTES, RouteKind, Viewer
from records import selectors
from records.models import AssessmentResult, DirectoryOptOut, DisciplineIncident, Grade, Student

RACE_FIELDS = (
    "american_indian_or_alaska_native",
    "asian",
    "black_or_african_american",
    "native_hawaiian_or_pacific_islander",
    "white",
)


def _ids_by_category(allowed_by_id: dict[int, Allowed]) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {category: [] for category in CATEGORY_ORDER}
    for student_id, allowed in allowed_by_id.items():
        for category in allowed.categories:
            ids[category].append(student_id)
    return ids


class _PageData:
    """Every row the page needs, fetched once per category."""

    def __init__(self, viewer: Viewer, students, allowed_by_id, *, detail: bool):
        self.viewer = viewer
        self.detail = detail
        district_id, today = viewer.district_id, viewer.today
        ids = _ids_by_category(allowed_by_id)

        def load(category, loader, **kwargs):
            return (
                loader(district_id=district_id, student_ids=ids[category], **kwargs)
                if ids[category]
                else {}
            )

        self.schools = load(
            Category.DIRECTORY, selectors.current_schools, today=today, among=self._schools()
        )
        outside = [pk for pk, allowed in allowed_by_id.items() if allowed.outside_school]
        self.opt_outs = (
            selectors.directory_opt_outs(district_id=district_id, student_ids=outside)
            if outside
            else {}
        )
        self.health = load(Category.HEALTH, selectors.health_records)
        self.transportation = load(Category.TRANSPORTATION, selectors.transportation_records)
        self.programs = self._load_programs(allowed_by_id, ids[Category.PROGRAMS])
        if detail:
            self._load_records(load, district_id, today)
            self._count_records()
        else:
            counted = self._counts(district_id, today, ids, self._granted_only())
            self.attendance = counted.get(Category.ATTENDANCE, {})
            self.section_counts = counted.get(Category.ENROLLMENT, {})
            self.grade_counts = counted.get(Category.GRADES, {})
            self.assessment_counts = counted.get(Category.ASSESSMENTS, {})
            self.discipline_counts = counted.get(Category.DISCIPLINE, {})

    def _load_records(self, load, district_id: int, today) -> None:
        """A detail's full records, category by category."""
        self.school_year = selectors.school_year_bounds(district_id=district_id, today=today)
        since = self.school_year[0] if self.school_year else None
        self.guardians = load(Category.CONTACT, selectors.guardian_contacts, today=today)
        self.sections = load(Category.ENROLLMENT, selectors.current_sections, today=today)
        if self.viewer.has_route({RouteKind.PROVIDER}):
            self.sections = _as_granted(self.viewer, self.sections)
        self.attendance_rows = load(Category.ATTENDANCE, selectors.attendance_records, since=since)
        self.grades = load(Category.GRADES, selectors.grade_records)
        self.assessments = load(Category.ASSESSMENTS, selectors.assessment_records)
        self.discipline = load(Category.DISCIPLINE, selectors.discipline_records)

    def _count_records(self) -> None:
        """A detail's summaries, counted from its records rather than queried again."""
        self.attendance = {
            student_id: selectors.attendance_summary(Counter(row["status"] for row in rows))
            for student_id, rows in self.attendance_rows.items()
        }
        self.section_counts = {k: len(v) for k, v in self.sections.items()}
        self.grade_counts = {k: len(v) for k, v in self.grades.items()}
        self.assessment_counts = {k: len(v) for k, v in self.assessments.items()}
        self.discipline_counts = {k: len(v) for k, v in self.discipline.items()}

    def _schools(self):
        """A provider names only its grants' schools; anyone else, every school (None)."""
        if not self.viewer.has_route({RouteKind.PROVIDER}):
            return None
        return granted_schools(self.viewer).values("pk")

    def _granted_only(self):
        """A provider counts only its grants' classes; anyone else, every class (None)."""
        if not self.viewer.has_route({RouteKind.PROVIDER}):
            return None
        return granted_sections(self.viewer).values("pk")

    @staticmethod
    def _counts(district_id: int, today, ids: dict[str, list[int]], sections=None) -> dict:
        """Every per-student count of the page's summaries, in one query; enrollments
        only in ``sections`` when given."""
        scope = {"district_id": district_id}
        enrollments = selectors.current_enrollments(
            **scope, student_ids=ids[Category.ENROLLMENT], today=today
        )
        if sections is not None:
            enrollments = enrollments.filter(section_id__in=sections)
        row_sets = {
            Category.ATTENDANCE: selectors.attendance_this_year(
                **scope, student_ids=ids[Category.ATTENDANCE], today=today
            ),
            Category.ENROLLMENT: enrollments,
            Category.GRADES: selectors.rows_of(Grade, **scope, student_ids=ids[Category.GRADES]),
            Category.ASSESSMENTS: selectors.rows_of(
                AssessmentResult, **scope, student_ids=ids[Category.ASSESSMENTS]
            ),
            Category.DISCIPLINE: selectors.rows_of(
                DisciplineIncident, **scope, student_ids=ids[Category.DISCIPLINE]
            ),
        }
        counted = selectors.counts_by_student(
            {name: rows for name, rows in row_sets.items() if ids[name]},
            keyed_by={Category.ATTENDANCE: "status"},
        )
        totals = {
            name: {student_id: by_key.get("", 0) for student_id, by_key in per_student.items()}
            for name, per_student in counted.items()
            if name != Category.ATTENDANCE
        }
        totals[Category.ATTENDANCE] = {
            student_id: selectors.attendance_summary(by_status)
            for student_id, by_status in counted.get(Category.ATTENDANCE, {}).items()
        }
        return totals

    def _load_programs(self, allowed_by_id, ids: list[int]) -> dict:
        """Programs per student, each student limited to the program kinds they allow."""
        by_kinds: dict[frozenset[str] | None, list[int]] = {}
        for student_id in ids:
            by_kinds.setdefault(allowed_by_id[student_id].program_kinds, []).append(student_id)
        programs: dict = {}
        for kinds, group in by_kinds.items():
            programs.update(
                selectors.program_records(
                    district_id=self.viewer.district_id,
                    student_ids=group,
                    today=self.viewer.today,
                    kinds=kinds,
                )
            )
        return programs


def _as_granted(viewer: Viewer, sections_by_student: dict) -> dict:
    """A provider's view of students' classes: only its grants' classes, their teachers
    only under a grant that shares staff."""
    granted = set(granted_sections(viewer).values_list("pk", flat=True))
    shares_staff = any(
        route.population is not None and route.population.shares_staff
        for route in viewer.routes
        if route.kind == RouteKind.PROVIDER
    )
    return {
        student_id: [
            section if shares_staff else {**section, "teachers": []}
            for section in sections
            if section["id"] in granted
        ]
        for student_id, sections in sections_by_student.items()
    }


def _directory(student: Student, allowed: Allowed, data: _PageData) -> dict:
    shown = {name: getattr(student, name) for name in fields_in(Category.DIRECTORY)}
    shown["schools"] = data.schools.get(student.pk, [])
    if allowed.outside_school:
        designated = set(data.viewer.district.directory_fields)
        opted = data.opt_outs.get(student.pk, set())
        if DirectoryOptOut.ALL_FIELDS in opted:
            designated = set()
        keep = designated - opted
        shown = {
            name: value
            for name, value in shown.items()
            if (name == "schools" and "school" in keep) or name in keep
        }
    return shown


# What school staff must know about a guardian and the family need not be shown.
STAFF_ONLY_GUARDIAN_FIELDS = ("has_data_access", "custody_restriction")


def _guardians(allowed: Allowed, data: _PageData, student_id: int) -> list[dict]:
    guardians = data.guardians.get(student_id, [])
    if allowed.via - FAMILY_ROUTES and not allowed.outside_school:
        return guardians  # school staff
    return [{k: v for k, v in g.items() if k not in STAFF_ONLY_GUARDIAN_FIELDS} for g in guardians]


def _contact(student: Student, allowed: Allowed, data: _PageData) -> dict:
    contact = {
        "address": {
            "line": student.address_line,
            "city": student.city,
            "state": student.state,
            "postal_code": student.postal_code,
        },
        "phone": student.phone,
        "email": student.email,
    }
    if data.detail:
        contact["guardians"] = _guardians(allowed, data, student.pk)
    return contact


def _demographics(student: Student) -> dict:
    return {
        "birth_date": student.birth_date,
        "sex": student.sex,
        "hispanic_or_latino": student.hispanic_or_latino,
        "races": [name for name in RACE_FIELDS if getattr(student, name)],
        "home_language": student.home_language,
    }


def _identifiers(student: Student) -> dict:
    return {name: getattr(student, name) for name in fields_in(Category.IDENTIFIERS)}


def _with_records(summary: dict, data: _PageData, rows: str, student_id: int) -> dict:
    if data.detail:
        summary["records"] = getattr(data, rows).get(student_id, [])
    return summary


def _category_builders():

    def attendance(s, a, d):
        summary = dict(d.attendance.get(s.pk) or selectors.attendance_summary({}))
        if d.detail and d.school_year:
            summary["school_year"] = {"start": d.school_year[0], "end": d.school_year[1]}
        return _with_records(summary, d, "attendance_rows", s.pk)

    def enrollment(s, a, d):
        summary = {"current_section_count": d.section_counts.get(s.pk, 0)}
        if d.detail:
            summary["sections"] = d.sections.get(s.pk, [])
        return summary

    def programs(s, a, d):
        rows = d.programs.get(s.pk, [])
        summary = {"active": sorted({r["program"] for r in rows if r["active"]})}
        if d.detail:
            summary["records"] = rows
        return summary

    def one_row(attribute):
        def build(s, a, d):
            row = getattr(d, attribute).get(s.pk)
            return {"on_file": row is not None, **(row or {})}

        return build

    def counted(counts, rows):
        return lambda s, a, d: _with_records(
            {"count": getattr(d, counts).get(s.pk, 0)}, d, rows, s.pk
        )

    return {
        Category.DIRECTORY: lambda s, a, d: _directory(s, a, d),
        Category.CONTACT: lambda s, a, d: _contact(s, a, d),
        Category.DEMOGRAPHICS: lambda s, a, d: _demographics(s),
        Category.IDENTIFIERS: lambda s, a, d: _identifiers(s),
        Category.ENROLLMENT: enrollment,
        Category.ATTENDANCE: attendance,
        Category.GRADES: counted("grade_counts", "grades"),
        Category.ASSESSMENTS: counted("assessment_counts", "assessments"),
        Category.PROGRAMS: programs,
        Category.HEALTH: one_row("health"),
        Category.DISCIPLINE: counted("discipline_counts", "discipline"),
        Category.TRANSPORTATION: one_row("transportation"),
    }


CATEGORY_BUILDERS = _category_builders()


def _shows_row(field: str, data: _PageData, student_id: int) -> bool:
    """A statement on a program row travels only to readers of that program's kind."""
    if not field.startswith("program:"):
        return True
    return any(f"program:{row['id']}" == field for row in data.programs.get(student_id, []))


def project_students(
    viewer: Viewer,
    students: Sequence[Student],
    allowed_by_id: dict[int, Allowed],
    *,
    detail: bool = False,
) -> list[dict]:
    """The student objects for ``students``, each with only its allowed categories."""
    students = list(students)
    if not students:
        return []
    data = _PageData(viewer, students, allowed_by_id, detail=detail)
    # Statements of disagreement travel with their field (99.21(b)(2)): one query a page.
    shown = frozenset().union(*(allowed.categories for allowed in allowed_by_id.values()))
    statements = selectors.disagreement_statements(
        district=viewer.district, student_ids=[student.pk for student in students], categories=shown
    )
    projected = []
    for student in students:
        allowed = allowed_by_id[student.pk]
        item = {"id": student.pk, "sourced_id": student.sourced_id}
        for category in CATEGORY_ORDER:
            if category in allowed.categories:
                item[category] = CATEGORY_BUILDERS[category](student, allowed, data)
        own = [
            s
            for s in statements.get(student.pk, [])
            if s["category"] in allowed.categories and _shows_row(s["field"], data, student.pk)
        ]
        if own:
            item["disagreement_statements"] = own
        projected.append(item)
    return projected
