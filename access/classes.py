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

from datetime import date

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from access.categories import Category
from access.purposes import CLASS_ROSTER
from access.scoping import (
    Allowed,
    allowed_for,
    one_by_id,
    overlapping_q,
    roster_count,
    roster_window_start,
    visible_students,
)
from access.viewer import Route, Viewer
from accounts.models import Role, RoleMembership
from records.models import (
    AcademicSession,
    Enrollment,
    Section,
    SectionTeacher,
    Student,
    SubstituteAssignment,
    active_on_q,
)

# What a roster line shows of a student, and so what its read records.
ROSTER_CATEGORIES = frozenset(
    {Category.DIRECTORY, Category.ENROLLMENT, Category.ATTENDANCE, Category.PROGRAMS}
)
ATTENDANCE_CATEGORIES = frozenset({Category.DIRECTORY, Category.ENROLLMENT, Category.ATTENDANCE})


class SectionNotFound(Http404):
    """Raised alike for a section that does not exist and one the viewer does not teach."""

    def __init__(self):
        super().__init__("No such class.")


def _teacher_route(viewer: Viewer) -> Route | None:
    return viewer.route("teacher") if viewer.has_access else None


def _substitute_route(viewer: Viewer) -> Route | None:
    return viewer.route("substitute") if viewer.has_access else None


def teaches_classes(viewer: Viewer) -> bool:
    """Whether the viewer holds the teacher role or substitutes today (and so has a
    ``/classes/`` page)."""
    return _teacher_route(viewer) is not None or _substitute_route(viewer) is not None


def is_substitute_for(viewer: Viewer, section: Section) -> bool:
    """Whether the viewer has ``section`` today as a substitute (granted, in dates)."""
    return section.pk in viewer.substitute_section_ids


def _in_district(model, viewer: Viewer) -> QuerySet:
    return model.unscoped.filter(district_id=viewer.district_id)


def substitute_end(viewer: Viewer, section: Section) -> date | None:
    """The last day of the viewer's current substitute assignment to ``section``."""
    if not is_substitute_for(viewer, section):
        return None
    return (
        _in_district(SubstituteAssignment, viewer)
        .filter(section_id=section.pk, substitute=viewer.user, ended_at__isnull=True)
        .filter(active_on_q(viewer.today))
        .order_by("-end_date")
        .values_list("end_date", flat=True)
        .first()
    )


def _taught_sections(viewer: Viewer) -> QuerySet[Section]:
    """Sections of the viewer's own teaching rows, at schools where they teach, in terms
    that have begun, and the sections they substitute in today. A current term's row
    must be active today (or within the district's grace period); a past term's must
    overlap the term."""
    today = viewer.today
    reach = Q(pk__in=[])
    route = _teacher_route(viewer)
    if route is not None:
        rows = _in_district(SectionTeacher, viewer).filter(teacher=viewer.user)
        terms = _in_district(AcademicSession, viewer)
        current_terms = terms.filter(start_date__lte=today, end_date__gte=today)
        past_terms = terms.filter(end_date__lt=today)
        window = overlapping_q(roster_window_start(viewer), today)
        # Each joined table in the same district too (DESIGN section 4).
        rows = rows.filter(section__district_id=viewer.district_id)
        current_rows = rows.filter(window, section__term_id__in=current_terms.values("pk"))
        past_rows = rows.filter(section__term_id__in=past_terms.values("pk")).filter(
            Q(begin_date__isnull=True) | Q(begin_date__lte=OuterRef("term__end_date")),
            Q(end_date__isnull=True) | Q(end_date__gte=OuterRef("term__start_date")),
            section_id=OuterRef("pk"),
        )
        reach = Q(
            Q(pk__in=current_rows.values("section_id")) | Q(Exists(past_rows)),
            school_id__in=sorted(route.school_ids),
        )
    substitute = _substitute_route(viewer)
    if substitute is not None:
        reach |= Q(
            pk__in=sorted(substitute.section_ids),
            term__start_date__lte=today,
            term__end_date__gte=today,
        )
    return (
        _in_district(Section, viewer)
        .filter(
            reach,
            term__district_id=viewer.district_id,
            course__district_id=viewer.district_id,
            school__district_id=viewer.district_id,
        )
        .select_related("course", "term", "school")
    )


def teacher_terms(viewer: Viewer) -> list[AcademicSession]:
    """The terms in which the viewer teaches or taught a section, newest first."""
    if not teaches_classes(viewer):
        return []
    sections = _taught_sections(viewer)
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
    if not teaches_classes(viewer):
        return Section.unscoped.none()
    sections = _taught_sections(viewer)
    if term is None:
        sections = sections.filter(
            term__start_date__lte=viewer.today, term__end_date__gte=viewer.today
        )
    else:
        sections = sections.filter(term_id=term.pk)
    since = roster_window_start(viewer)
    return sections.annotate(student_count=roster_count(viewer, roster_since=since)).order_by(
        "period", "course__title", "title", "pk"
    )


def section_for_teacher(viewer: Viewer, section_id) -> Section:
    """One section the viewer teaches (this term) or taught (a past term); 404 alike
    for one that does not exist and one that is not theirs."""
    if not teaches_classes(viewer):
        raise SectionNotFound()
    return one_by_id(_taught_sections(viewer), section_id, SectionNotFound)


def section_roster(viewer: Viewer, section: Section) -> QuerySet[Student]:
    """The students on the section's roster that the viewer may see today; one query.

    For a past term that is only students still enrolled today (normally none):
    nothing shows after the enrollment ended, unless the district keeps a grace period.
    """
    return visible_students(viewer, section_id=section.pk, roster_since=roster_window_start(viewer))


def roster_students(viewer: Viewer, section: Section) -> tuple[list[Student], dict[int, Allowed]]:
    """The roster's students whose name the viewer may see, and what of each a roster
    line shows (its categories, for the page and the access log). The accommodations
    the teacher provides are the roster's own purpose (``CLASS_ROSTER``). One query."""
    students = list(section_roster(viewer, section))
    allowed = allowed_for(viewer, students, purpose=CLASS_ROSTER)
    students = [s for s in students if Category.DIRECTORY in allowed[s.pk].categories]
    return students, {s.pk: allowed[s.pk].narrowed(ROSTER_CATEGORIES) for s in students}


def may_take_attendance(viewer: Viewer, section: Section, day: date) -> bool:
    """Whether the viewer may mark ``section``'s attendance for ``day``: a current-term
    section (past terms are read-only), the day inside its term and not in the future,
    and the viewer teaching it that day and still today (teaching row and teacher role
    at its school); or, for a substitute, the section granted today and their assignment
    covering that day. The same selector the attendance service checks with."""
    if not teaches_classes(viewer) or section.district_id != viewer.district_id:
        return False
    return _takes_attendance_on(
        district_id=viewer.district_id,
        user_id=viewer.user.pk,
        section_id=section.pk,
        day=day,
        today=viewer.today,
        substitutes=viewer.substitute_section_ids,
    )


def attendance_students(
    viewer: Viewer, section: Section, day: date
) -> tuple[list[Student], dict[int, Allowed]]:
    """The students whose attendance the viewer may mark on ``day``, and what of each the
    page shows: on the roster they see today, enrolled in the section that day, their
    attendance not hidden from the viewer. For a viewer who ``may_take_attendance`` that
    day, exactly what the attendance service may write
    (``records.services.attendance_take``'s ``writable``). One query."""
    enrolled_that_day = (
        _in_district(Enrollment, viewer).filter(section_id=section.pk).filter(active_on_q(day))
    )
    students = list(
        section_roster(viewer, section).filter(pk__in=enrolled_that_day.values("student_id"))
    )
    allowed = allowed_for(viewer, students)
    students = [s for s in students if allowed[s.pk].categories >= ATTENDANCE_CATEGORIES]
    return students, {s.pk: allowed[s.pk].narrowed(ATTENDANCE_CATEGORIES) for s in students}


# Who teaches a section on a day: the facts the attendance decision stands on.


def _section_in_term_on(*, district_id: int, section_id: int, day: date, today: date):
    """The section, if ``day`` is inside its term and the term is still current ``today``."""
    return Section.unscoped.filter(
        district_id=district_id,
        pk=section_id,
        term__district_id=district_id,
        term__start_date__lte=day,
        term__end_date__gte=max(day, today),
    )


def _section_taught_on(
    *, district_id: int, teacher_id: int, section_id: int, day: date, today: date
) -> bool:
    """Whether the teacher teaches the section on ``day``: the day inside the section's
    term, the term still current on ``today``, the teaching row and the teacher role at
    the section's school both active that day. One query."""
    teaching = SectionTeacher.unscoped.filter(
        district_id=district_id, section_id=OuterRef("pk"), teacher_id=teacher_id
    ).filter(active_on_q(day))
    role = RoleMembership.unscoped.filter(
        district_id=district_id,
        user_id=teacher_id,
        role=Role.TEACHER,
        school_id=OuterRef("school_id"),
    ).filter(active_on_q(day))
    section = _section_in_term_on(
        district_id=district_id, section_id=section_id, day=day, today=today
    )
    return section.filter(Exists(teaching), Exists(role)).exists()


def _section_substituted_on(
    *, district_id: int, substitute_id: int, section_id: int, day: date, today: date
) -> bool:
    """Whether an open substitute assignment covers the section on ``day`` and on
    ``today`` (a substitute whose dates have passed backfills nothing), the day inside
    the section's term and the term still current. One query. The guardian permission
    on the section is the access layer's to check (``access.grants``)."""
    assigned = SubstituteAssignment.unscoped.filter(
        district_id=district_id,
        section_id=OuterRef("pk"),
        substitute_id=substitute_id,
        ended_at__isnull=True,
        begin_date__lte=min(day, today),
        end_date__gte=max(day, today),
    )
    section = _section_in_term_on(
        district_id=district_id, section_id=section_id, day=day, today=today
    )
    return section.filter(Exists(assigned)).exists()


def _takes_attendance_on(
    *, district_id: int, user_id: int, section_id: int, day: date, today: date, substitutes
) -> bool:
    """Whether the person may mark the section's attendance for ``day``: they teach it
    that day and still today (a role that has ended backfills nothing), or it is one of
    ``substitutes`` (their granted sections today) and their assignment covers the day."""
    if day > today:
        return False
    places = {"district_id": district_id, "section_id": section_id, "today": today}
    if section_id in substitutes and _section_substituted_on(
        substitute_id=user_id, day=day, **places
    ):
        return True
    days = sorted({day, today})  # one query when the day is today
    return all(_section_taught_on(teacher_id=user_id, day=when, **places) for when in days)
