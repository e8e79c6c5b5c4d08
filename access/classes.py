"""A teacher's classes: the only place that decides which sections, rosters and
attendance a teacher reaches.

Sections come from the teacher's own ``SectionTeacher`` rows at schools where they
hold the teacher role, in terms that have begun. The current term's sections are
the working ones; a past term is read-only and its roster shows only students the
teacher may still see today (REQUIREMENTS 7: access ends the day the roster does).
Students are never filtered here on their own: a roster is ``visible_students``
narrowed to the section. Every query names the viewer's district.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from access import policy
from access.categories import Category
from access.scoping import Allowed, allowed_for, record_id, visible_students
from access.viewer import Route, Viewer
from records import selectors
from records.models import (
    AcademicSession,
    AttendanceRecord,
    Enrollment,
    GradeLevel,
    Section,
    SectionTeacher,
    Student,
    active_on_q,
)

# What a roster line shows of a student, and so what its read records.
ROSTER_CATEGORIES = frozenset(
    {Category.DIRECTORY, Category.ENROLLMENT, Category.ATTENDANCE, Category.PROGRAMS}
)
ATTENDANCE_CATEGORIES = frozenset({Category.DIRECTORY, Category.ENROLLMENT, Category.ATTENDANCE})
GRADE_ORDER = {code: index for index, code in enumerate(GradeLevel.values)}


class SectionNotFound(Http404):
    """Raised alike for a section that does not exist and one the viewer does not teach."""

    def __init__(self):
        super().__init__("No such class.")


def _teacher_route(viewer: Viewer) -> Route | None:
    return viewer.route("teacher") if viewer.has_access else None


def teaches_classes(viewer: Viewer) -> bool:
    """Whether the viewer holds the teacher role at all (and so has a ``/classes/`` page)."""
    return _teacher_route(viewer) is not None


def _in_district(model, viewer: Viewer) -> QuerySet:
    return model.unscoped.filter(district_id=viewer.district_id)


def _taught_sections(viewer: Viewer, route: Route) -> QuerySet[Section]:
    """Sections of the viewer's own teaching rows, at schools where they teach, in terms
    that have begun. A current term's row must be active today; a past term's must
    overlap the term."""
    today = viewer.today
    rows = _in_district(SectionTeacher, viewer).filter(teacher=viewer.user)
    terms = _in_district(AcademicSession, viewer)
    current_terms = terms.filter(start_date__lte=today, end_date__gte=today)
    past_terms = terms.filter(end_date__lt=today)
    current_rows = rows.filter(active_on_q(today), section__term_id__in=current_terms.values("pk"))
    past_rows = rows.filter(section__term_id__in=past_terms.values("pk")).filter(
        Q(begin_date__isnull=True) | Q(begin_date__lte=OuterRef("term__end_date")),
        Q(end_date__isnull=True) | Q(end_date__gte=OuterRef("term__start_date")),
        section_id=OuterRef("pk"),
    )
    return (
        _in_district(Section, viewer)
        .filter(school_id__in=sorted(route.school_ids), term__district_id=viewer.district_id)
        .filter(Q(pk__in=current_rows.values("section_id")) | Q(Exists(past_rows)))
        .select_related("course", "term", "school")
    )


def teacher_terms(viewer: Viewer) -> list[AcademicSession]:
    """The terms in which the viewer teaches or taught a section, newest first."""
    route = _teacher_route(viewer)
    if route is None:
        return []
    sections = _taught_sections(viewer, route)
    return list(
        _in_district(AcademicSession, viewer)
        .filter(pk__in=sections.values("term_id"))
        .order_by("-start_date", "-end_date", "title", "pk")
    )


def is_current(viewer: Viewer, term: AcademicSession) -> bool:
    return term.start_date <= viewer.today <= term.end_date


def teacher_sections(viewer: Viewer, *, term: AcademicSession | None = None) -> QuerySet[Section]:
    """The sections the viewer teaches in the current term(s), or taught in ``term``.

    Each carries ``student_count``: the students on its roster the viewer may see
    today. One query, whatever the number of sections.
    """
    route = _teacher_route(viewer)
    if route is None:
        return Section.unscoped.none()
    sections = _taught_sections(viewer, route)
    if term is None:
        sections = sections.filter(
            term__start_date__lte=viewer.today, term__end_date__gte=viewer.today
        )
    else:
        sections = sections.filter(term_id=term.pk)
    visible = visible_students(viewer).order_by().values("pk")
    # As on the roster: a student whose enrollment a restriction hides is not counted,
    # so the number cannot tell what the roster does not show.
    hidden = [s for s, h in viewer.restrictions.items() if Category.ENROLLMENT in h]
    if hidden:
        visible = visible.exclude(pk__in=hidden)
    counted = (
        _in_district(Enrollment, viewer)
        .filter(active_on_q(viewer.today), section_id=OuterRef("pk"), student_id__in=visible)
        .order_by()
        .values("section_id")
        .annotate(n=Count("student_id", distinct=True))
        .values("n")
    )
    return sections.annotate(
        student_count=Coalesce(Subquery(counted, output_field=IntegerField()), 0)
    ).order_by("period", "course__title", "title", "pk")


def section_for_teacher(viewer: Viewer, section_id) -> Section:
    """One section the viewer teaches (this term) or taught (a past term); 404 alike
    for one that does not exist and one that is not theirs."""
    section_id = record_id(section_id)
    route = _teacher_route(viewer)
    if route is None or section_id is None:
        raise SectionNotFound()
    section = _taught_sections(viewer, route).filter(pk=section_id).first()
    if section is None:
        raise SectionNotFound()
    return section


def section_roster(viewer: Viewer, section: Section) -> QuerySet[Student]:
    """The students on the section's roster that the viewer may see today; one query.

    For a past term that is only students still enrolled today (normally none):
    nothing shows after the enrollment ended.
    """
    return visible_students(viewer, section_id=section.pk)


@dataclass(frozen=True)
class RosterEntry:
    student: Student
    status: str | None  # today's mark in this section, if taken
    reason: str
    programs: list[dict]  # the teacher's program kinds only: program and accommodations


def _shown(allowed: Allowed, categories: frozenset[str]) -> Allowed:
    return Allowed(allowed.categories & categories, allowed.program_kinds, False, allowed.via)


def _sorted(entries: list[RosterEntry], sort: str) -> list[RosterEntry]:
    def by_name(entry: RosterEntry):
        s = entry.student
        return ((s.preferred_name or s.given_name).casefold(), s.family_name.casefold(), s.pk)

    if sort == "grade":
        return sorted(
            entries,
            key=lambda e: (GRADE_ORDER.get(e.student.grade_level, len(GRADE_ORDER)), by_name(e)),
        )
    return sorted(entries, key=by_name)


def roster_entries(
    viewer: Viewer, section: Section, *, sort: str = "name"
) -> tuple[list[RosterEntry], dict[int, Allowed]]:
    """The roster's lines, and what of each student they show (for the access log).

    Three queries whatever the roster's size: the students, today's marks in this
    section, and the accommodation programs of those allowed them.
    """
    students = list(section_roster(viewer, section))
    allowed = allowed_for(viewer, students)
    students = [s for s in students if Category.DIRECTORY in allowed[s.pk].categories]
    shown = {s.pk: _shown(allowed[s.pk], ROSTER_CATEGORIES) for s in students}
    with_attendance = [pk for pk, a in shown.items() if Category.ATTENDANCE in a.categories]
    marks = _marks(viewer, section, viewer.today, with_attendance)
    with_programs = [pk for pk, a in shown.items() if Category.PROGRAMS in a.categories]
    programs = (
        selectors.program_records(
            district_id=viewer.district_id,
            student_ids=with_programs,
            today=viewer.today,
            kinds=policy.TEACHER_PROGRAMS,
        )
        if with_programs
        else {}
    )
    entries = [
        RosterEntry(
            student=s,
            status=marks.get(s.pk, (None, ""))[0],
            reason=marks.get(s.pk, (None, ""))[1],
            programs=[p for p in programs.get(s.pk, []) if p["active"]],
        )
        for s in students
    ]
    return _sorted(entries, sort), shown


def _marks(viewer: Viewer, section: Section, day: date, student_ids: list[int]) -> dict:
    if not student_ids:
        return {}
    rows = (
        _in_district(AttendanceRecord, viewer)
        .filter(section_id=section.pk, date=day, student_id__in=student_ids)
        .order_by("pk")
        .values_list("student_id", "status", "reason")
    )
    return {student_id: (status, reason) for student_id, status, reason in rows}


def may_take_attendance(viewer: Viewer, section: Section, day: date) -> bool:
    """Whether the viewer teaches ``section`` on ``day``: a current-term section (past
    terms are read-only), the day inside its term and not in the future, and the
    viewer's teaching row and teacher role at its school both active that day."""
    route = _teacher_route(viewer)
    if route is None or section.district_id != viewer.district_id:
        return False
    if section.school_id not in route.school_ids or day > viewer.today:
        return False
    return selectors.section_taught_on(
        district_id=viewer.district_id,
        teacher_id=viewer.user.pk,
        section_id=section.pk,
        day=day,
        today=viewer.today,
    )


def attendance_roster(
    viewer: Viewer, section: Section, day: date
) -> tuple[list[RosterEntry], dict[int, Allowed]]:
    """The students to mark on ``day``: on the roster the viewer sees today and
    enrolled in the section that day, with the marks already taken that day."""
    enrolled_that_day = (
        _in_district(Enrollment, viewer).filter(section_id=section.pk).filter(active_on_q(day))
    )
    students = list(
        section_roster(viewer, section).filter(pk__in=enrolled_that_day.values("student_id"))
    )
    allowed = allowed_for(viewer, students)
    students = [s for s in students if allowed[s.pk].categories >= ATTENDANCE_CATEGORIES]
    shown = {s.pk: _shown(allowed[s.pk], ATTENDANCE_CATEGORIES) for s in students}
    marks = _marks(viewer, section, day, [s.pk for s in students])
    entries = [
        RosterEntry(
            student=s,
            status=marks.get(s.pk, (None, ""))[0],
            reason=marks.get(s.pk, (None, ""))[1],
            programs=[],
        )
        for s in students
    ]
    return _sorted(entries, "name"), shown
