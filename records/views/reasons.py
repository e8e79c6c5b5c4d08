"""Why a reader can see a student, in words: the sentences for the facts ``access/``
returns (``access.staff.why_visible``), and the names of the roles people read in."""

from __future__ import annotations

from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access.staff import Reach
from access.viewer import RouteKind
from accounts.models import Role
from accounts.views import SCHOOL_ROLE_LABELS

# The school roles' names, as the home page shows them.
ROLE_NAMES = SCHOOL_ROLE_LABELS

READER_ROLE_NAMES = {
    **ROLE_NAMES,
    Role.DISTRICT_ADMIN: gettext_lazy("District administrator"),
    Role.TEACHER: gettext_lazy("Teacher"),
    "substitute": gettext_lazy("Substitute teacher"),
    "emergency": gettext_lazy("Emergency access"),
    "guardian": gettext_lazy("Parent or guardian"),
    "eligible_student": gettext_lazy("Eligible student"),
}


def role_name(label: str) -> str:
    return str(READER_ROLE_NAMES.get(label, label))


def sentences(reaches: list[Reach], *, zone, of_another: bool = False) -> list[str]:
    """One sentence per relationship, addressed to the reader (``of_another``: about the
    reader, for someone else)."""
    return [_sentence(reach, zone, of_another) for reach in reaches]


def _sentence(reach: Reach, zone, of_another: bool) -> str:
    kind = reach.kind
    if kind == RouteKind.TEACHER:
        return _teacher(reach, of_another)
    if kind == RouteKind.SUBSTITUTE:
        values = {"section": reach.place, "until": date_format(reach.until)}
        if reach.period:
            values["period"] = reach.period
            return _("Substitute for section %(section)s, period %(period)s, until %(until)s") % (
                values
            )
        return _("Substitute for section %(section)s until %(until)s") % values
    if kind == RouteKind.EMERGENCY:
        until = timezone.localtime(reach.expires_at, zone)
        return _("Emergency access until %(time)s on %(date)s") % {
            "time": time_format(until),
            "date": date_format(until.date()),
        }
    if kind == RouteKind.SCHOOL_STAFF:
        role = ROLE_NAMES.get(reach.role, reach.role)
        return _("%(role)s at %(school)s") % {"role": role, "school": reach.place}
    if kind == RouteKind.DISTRICT_ADMIN:
        return _("District administrator of %(district)s") % {"district": reach.place}
    if kind == RouteKind.GUARDIAN:
        return _("Parent or guardian")
    if kind == RouteKind.ELIGIBLE_STUDENT:
        return _("The student's own record") if of_another else _("This is your own record")
    return ""


def _teacher(reach: Reach, of_another: bool) -> str:
    values = {"section": reach.place, "since": date_format(reach.since)}
    if reach.until is not None:
        values["until"] = date_format(reach.until)
        values["grace_end"] = date_format(reach.grace_end)
        text = (
            _(
                "Was enrolled in their section %(section)s until %(until)s; "
                "visible until %(grace_end)s under the district's grace period"
            )
            if of_another
            else _(
                "Was enrolled in your section %(section)s until %(until)s; "
                "visible until %(grace_end)s under the district's grace period"
            )
        )
    elif reach.period:
        values["period"] = reach.period
        text = (
            _("Enrolled in their section %(section)s, period %(period)s, since %(since)s")
            if of_another
            else _("Enrolled in your section %(section)s, period %(period)s, since %(since)s")
        )
    else:
        text = (
            _("Enrolled in their section %(section)s since %(since)s")
            if of_another
            else _("Enrolled in your section %(section)s since %(since)s")
        )
    return text % values
