"""What a published aggregate may count (REQUIREMENTS 12–15; DESIGN section 1, "the
public").

A report build is no person: it reaches every student of one district who is enrolled
at a school on the report's date, and only through the categories a public aggregate
draws on. Health, discipline, contact details and identifiers never feed a report. What
leaves the build is counts, suppressed and audited before anyone sees them; no student
row is published.
"""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from access.categories import Category
from records.models import District, SchoolMembership, Student, active_on_q

AGGREGATE_CATEGORIES: frozenset[str] = frozenset({
    Category.DIRECTORY,  # grade and school
    Category.DEMOGRAPHICS,  # sex, race and ethnicity
    Category.PROGRAMS,  # disability (IEP), English learner, meals, homeless, foster
    Category.ATTENDANCE,
    Category.ASSESSMENTS,
})  # fmt: skip


def report_population(district: District, day: date) -> QuerySet[SchoolMembership]:
    """Each student counted on ``day``: an active student's primary school membership in
    force that day, one per student (the lowest school id when a feed holds two), so
    that the district's count is the sum of its schools' counts."""
    memberships = SchoolMembership.unscoped.filter(
        active_on_q(day),
        district=district,
        is_primary=True,
        student__enrollment_status=Student.Status.ACTIVE,
    )
    return memberships.order_by("student_id", "school_id")


def analyst_states(user) -> list[str]:
    """The states whose analyst pages ``user`` may open (REQUIREMENTS 12–15: aggregates
    across a state's districts, never a student row). Granted per state, to an active
    signed-in person only."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    from reports.models import StateAnalyst  # reports builds on access, not the reverse

    return sorted(StateAnalyst.objects.filter(user=user).values_list("state", flat=True))


def may_analyse_state(user, state: str) -> bool:
    return state in analyst_states(user)
