"""A school official's sections and staff: the only place that decides what of them
``/school/sections/`` and ``/school/staff/`` show.

The viewer's schools are those of their school routes (a district administrator's:
the district), whatever else the same person is (a teacher, a parent). A section's
roster is ``visible_students`` narrowed to the section through those routes only, and
its count follows the same rule (``roster_count``). Staff are not student data, but
the pages are for school officials only. Every query names the viewer's district.
"""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from access.classes import SectionNotFound
from access.scoping import one_by_id, roster_count, visible_students
from access.staff import as_school_official
from access.viewer import Viewer
from records.models import (
    AcademicSession,
    School,
    Section,
    SectionTeacher,
    Student,
    SubstituteAssignment,
    active_on_q,
)


def _in_district(model, viewer: Viewer) -> QuerySet:
    return model.unscoped.filter(district_id=viewer.district_id)


def _district_wide(viewer: Viewer) -> bool:
    return any(route.kind == "district_admin" for route in viewer.routes)


def _school_ids(official: Viewer) -> list[int]:
    return sorted({pk for route in official.routes for pk in route.school_ids})


def official_school_ids(viewer: Viewer) -> list[int] | None:
    """The schools the viewer's school pages cover: ``None`` for the whole district (a
    district administrator), else the schools of their school routes (none for anyone
    who is not a school official). No query."""
    official = as_school_official(viewer)
    return None if _district_wide(official) else _school_ids(official)


def official_schools(viewer: Viewer) -> QuerySet[School]:
    """The schools of the viewer's school routes (a district administrator's: every
    school of the district), by name; none for anyone who is not a school official."""
    official = as_school_official(viewer)
    schools = _in_district(School, viewer).order_by("name", "pk")
    if not official.routes:
        return schools.none()
    if _district_wide(official):
        return schools
    return schools.filter(pk__in=_school_ids(official))


def _at_schools(official: Viewer, school_id: int | None) -> Q:
    """Rows whose ``school_id`` is one of the official's schools (and ``school_id``, if given)."""
    if school_id is not None:
        allowed = _district_wide(official) or school_id in _school_ids(official)
        return Q(school_id=school_id) if allowed else Q(pk__in=[])
    if _district_wide(official):
        return Q()
    return Q(school_id__in=_school_ids(official))


def _current_terms(viewer: Viewer) -> QuerySet[AcademicSession]:
    return _in_district(AcademicSession, viewer).filter(
        start_date__lte=viewer.today, end_date__gte=viewer.today
    )


def _current_teachers(viewer: Viewer) -> Prefetch:
    rows = (
        _in_district(SectionTeacher, viewer)
        .filter(active_on_q(viewer.today), teacher__district_id=viewer.district_id)
        .select_related("teacher")
        .order_by("-is_primary", "teacher__last_name", "teacher__first_name", "pk")
    )
    return Prefetch("teachers", queryset=rows, to_attr="current_teachers")


def _current_substitutes(viewer: Viewer) -> Prefetch:
    """Who covers each section today (open assignments whose dates include today)."""
    rows = (
        _in_district(SubstituteAssignment, viewer)
        .filter(active_on_q(viewer.today), ended_at__isnull=True)
        .filter(substitute__district_id=viewer.district_id)
        .select_related("substitute")
        .order_by("begin_date", "pk")
    )
    return Prefetch("substitutes", queryset=rows, to_attr="current_substitutes")


def _current_sections(viewer: Viewer, official: Viewer, school_id: int | None) -> QuerySet[Section]:
    """Sections of the official's schools (or one of them) in a term that includes today."""
    if not official.routes:
        return Section.unscoped.none()
    return (
        _in_district(Section, viewer)
        .filter(_at_schools(official, school_id))
        .filter(term_id__in=_current_terms(viewer).values("pk"))
        # Each joined table in the same district too (DESIGN section 4).
        .filter(
            school__district_id=viewer.district_id,
            course__district_id=viewer.district_id,
            term__district_id=viewer.district_id,
        )
    )


def _sections(viewer: Viewer, official: Viewer, school_id: int | None) -> QuerySet[Section]:
    return (
        _current_sections(viewer, official, school_id)
        .select_related("course", "term", "school")
        .prefetch_related(_current_teachers(viewer), _current_substitutes(viewer))
    )


def school_sections(viewer: Viewer, *, school_id: int | None = None) -> QuerySet[Section]:
    """The sections of the viewer's schools in the current term(s), optionally at one
    of them, by school, period and course.

    Each carries ``student_count`` (``roster_count`` through the viewer's school routes,
    so it matches the section's page), ``current_teachers`` (the teaching rows active
    today, teacher loaded) and ``current_substitutes`` (who covers it today). Three
    queries, whatever the number of sections.
    """
    official = as_school_official(viewer)
    return (
        _sections(viewer, official, school_id)
        .annotate(student_count=roster_count(official))
        .order_by("school__name", "period", "course__title", "title", "pk")
    )


def school_section(viewer: Viewer, section_id) -> Section:
    """One section of the viewer's schools in a current term, with ``current_teachers``;
    404 alike for one that does not exist, one elsewhere and a viewer who is not a
    school official."""
    return one_by_id(
        _sections(viewer, as_school_official(viewer), None), section_id, SectionNotFound
    )


def section_students(viewer: Viewer, section: Section) -> QuerySet[Student]:
    """The section's roster as a school official may see it: ``visible_students`` through
    their school routes only, narrowed to the section (which already drops a student
    whose enrollment a restriction hides). One query."""
    official = as_school_official(viewer)
    if not official.routes:
        return Student.unscoped.none()
    return visible_students(official, section_id=section.pk)
