"""A teacher's classes: their sections, a section's roster (page, print, CSV) and
attendance taking.

Every section and student comes from ``access.classes``, and every page that shows
students records what it showed in the access log. Only opaque ids are in URLs.
Someone who holds no teacher role gets 404, as on the family pages; an anonymous
visitor signs in first.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access import policy
from access.audit import reads_of_page, record_reads
from access.categories import Category
from access.classes import (
    attendance_students,
    is_current,
    may_take_attendance,
    roster_students,
    section_for_teacher,
    substitute_end,
    teacher_sections,
    teacher_terms,
    teaches_classes,
)
from records import selectors
from records.models import AttendanceRecord, GradeLevel, Student
from records.services import attendance_take
from records.views.family import STATUS_NAMES, _grade_name
from records.views.gates import gated_pages
from studentdata.spreadsheets import safe_cell

SORTS = ("name", "grade")
PROGRAM_FLAGS = {
    "iep": gettext_lazy("IEP"),
    "section_504": gettext_lazy("504 plan"),
    "english_learner": gettext_lazy("English learner"),
}
STATUS_CHOICES = [(status, STATUS_NAMES[status]) for status in AttendanceRecord.Status.values]


GRADE_ORDER = {code: index for index, code in enumerate(GradeLevel.values)}


@dataclass(frozen=True)
class RosterEntry:
    student: Student
    status: str | None  # the day's mark in this section, if taken
    reason: str
    programs: list[dict]  # the teacher's program kinds only: program and accommodations
    shows_attendance: bool = True  # False: a custody restriction hides it from the viewer


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


def _entries(viewer, section, day, students, shown, *, sort: str = "name") -> list[RosterEntry]:
    """Lines for the students access gave, with the day's marks and, where shown, the
    accommodations: two queries whatever the roster's size."""
    with_attendance = {pk for pk, a in shown.items() if Category.ATTENDANCE in a.categories}
    marks = selectors.attendance_marks(
        district_id=viewer.district_id, section_id=section.pk, day=day, student_ids=with_attendance
    )
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
            shows_attendance=s.pk in with_attendance,
        )
        for s in students
    ]
    return _sorted(entries, sort)


# Signed in, teaching (or substituting); anyone else is told there is no such page.
_teacher_only = gated_pages(teaches_classes, Http404)


def _name(student) -> str:
    return f"{student.preferred_name or student.given_name} {student.family_name}".strip()


def _line(entry: RosterEntry) -> dict:
    return {
        "id": entry.student.pk,
        "name": _name(entry.student),
        "grade": _grade_name(entry.student.grade_level or "") or "—",
        "status": entry.status,
        "shows_attendance": entry.shows_attendance,
        "status_label": STATUS_NAMES.get(entry.status) if entry.status else None,
        "reason": entry.reason,
        "flags": [
            {"label": PROGRAM_FLAGS.get(p["program"], p["program"]), "text": p["accommodations"]}
            for p in entry.programs
        ],
    }


@_teacher_only
def class_list(request):
    """``/classes/``: the teacher's sections this term, or in a past term (read-only)."""
    viewer = request.viewer
    terms = teacher_terms(viewer)
    term = None
    if request.GET.get("term"):
        term = next((t for t in terms if str(t.pk) == request.GET["term"]), None)
        if term is None:
            raise Http404
    sections = list(teacher_sections(viewer, term=term))
    context = {
        "sections": sections,
        "terms": terms,
        "term": term,
        "read_only": term is not None and not is_current(viewer, term),
        "current_terms": [t for t in terms if is_current(viewer, t)],
        "substitute_ids": viewer.substitute_section_ids,
    }
    return render(request, "records/classes/list.html", context)


@_teacher_only
def class_roster(request, section_id: int):
    """``/classes/<id>/``: the roster, sortable by name or grade; ``?format=csv`` exports it."""
    viewer = request.viewer
    section = section_for_teacher(viewer, section_id)
    sort = request.GET.get("sort") if request.GET.get("sort") in SORTS else "name"
    students, shown = roster_students(viewer, section)
    entries = _entries(viewer, section, viewer.today, students, shown, sort=sort)
    record_reads(viewer, reads_of_page(shown))
    lines = [_line(entry) for entry in entries]
    if request.GET.get("format") == "csv":
        return _roster_csv(section, lines, viewer.today)
    current = is_current(viewer, section.term)
    context = {
        "section": section,
        "lines": lines,
        "sort": sort,
        "today": viewer.today,
        "read_only": not current,
        "takes_attendance": current and may_take_attendance(viewer, section, viewer.today),
        "csv_query": urlencode({"sort": sort, "format": "csv"}),
        "substitute_until": _substitute_until(viewer, section),
    }
    return render(request, "records/classes/roster.html", context)


def _substitute_until(viewer, section) -> str | None:
    """The last day of the viewer's substitute assignment to this section, if any."""
    last_day = substitute_end(viewer, section)
    return date_format(last_day) if last_day else None


def _roster_csv(section, lines: list[dict], today: date) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="roster-{section.pk}.csv"'
    writer = csv.writer(response)
    writer.writerow([_("Name"), _("Grade"), _("Today's attendance"), _("Accommodations")])
    for line in lines:
        flags = "; ".join(
            f"{flag['label']}: {flag['text']}" if flag["text"] else str(flag["label"])
            for flag in line["flags"]
        )
        status = str(line["status_label"]) if line["status_label"] else _("Not taken")
        if not line["shows_attendance"]:
            status = ""
        writer.writerow([safe_cell(str(v)) for v in (line["name"], line["grade"], status, flags)])
    return response


def _parse_day(raw: str | None, today: date) -> date | None:
    if not raw:
        return today
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _refusal(viewer, section, day: date) -> str:
    """Why attendance can't be taken for this section on this day, in plain words."""
    term = section.term
    if day > viewer.today:
        return _("Attendance can't be taken for a future date.")
    if not term.start_date <= day <= term.end_date:
        return _("%(date)s is outside this class's term (%(start)s to %(end)s).") % {
            "date": date_format(day),
            "start": date_format(term.start_date),
            "end": date_format(term.end_date),
        }
    if not is_current(viewer, term):
        return _("This class's term has ended: its attendance can no longer be changed.")
    return _("You don't teach this class on that date.")


def _bad_request(request, section, message: str, day: date | None):
    context = {"section": section, "error": message, "day": day, "rows": None}
    return render(request, "records/classes/attendance.html", context, status=400)


@_teacher_only(methods=("GET", "HEAD", "POST"))
def take_attendance(request, section_id: int):
    """``/classes/<id>/attendance/?date=YYYY-MM-DD``: mark each student on the roster
    that day present, absent, late or excused; today by default."""
    viewer = request.viewer
    section = section_for_teacher(viewer, section_id)
    day = _parse_day(request.GET.get("date"), viewer.today)
    if day is None:
        return _bad_request(request, section, _("Enter a date as YYYY-MM-DD."), None)
    if not may_take_attendance(viewer, section, day):
        return _bad_request(request, section, _refusal(viewer, section, day), day)
    students, shown = attendance_students(viewer, section, day)
    entries = _entries(viewer, section, day, students, shown)
    record_reads(viewer, reads_of_page(shown))
    rows = [_line(entry) for entry in entries]
    if request.method == "POST":
        marks, error = _marks_from(request.POST, {row["id"] for row in rows})
        if error is None:
            try:
                saved = attendance_take(
                    actor=viewer.user,
                    section=section,
                    day=day,
                    marks=marks,
                    writable=frozenset(student.pk for student in students),
                )
            except ValidationError as refused:
                error = " ".join(refused.messages)
        if error is not None:
            _keep_input(rows, request.POST)
            context = {"section": section, "error": error, "day": day, "rows": rows}
            context["statuses"] = STATUS_CHOICES
            return render(request, "records/classes/attendance.html", context, status=400)
        messages.success(
            request,
            _("Attendance saved for %(date)s: %(marked)d marked, %(changed)d corrected.")
            % {"date": date_format(day), "marked": saved.created, "changed": saved.changed},
        )
        url = reverse("classes:attendance", kwargs={"section_id": section.pk})
        return redirect(f"{url}?{urlencode({'date': day.isoformat()})}")
    context = {
        "section": section,
        "day": day,
        "rows": rows,
        "statuses": STATUS_CHOICES,
        "is_today": day == viewer.today,
    }
    return render(request, "records/classes/attendance.html", context)


def _marks_from(data, roster_ids: set[int]) -> tuple[dict, str | None]:
    """The marks posted for students on the roster; a blank status leaves a student unmarked."""
    marks = {}
    for key, status in data.items():
        if not key.startswith("status-") or not status:
            continue
        try:
            student_id = int(key.removeprefix("status-"))
        except ValueError:
            return {}, _("Some students were not in this class on that date.")
        if student_id not in roster_ids:
            return {}, _("Some students were not in this class on that date.")
        if status not in AttendanceRecord.Status.values:
            return {}, _("“%(status)s” is not an attendance status.") % {"status": status}
        marks[student_id] = (status, data.get(f"reason-{student_id}", "").strip())
    return marks, None


def _keep_input(rows: list[dict], data) -> None:
    """Show a refused form with what was entered, so nothing typed is lost."""
    for row in rows:
        row["status"] = data.get(f"status-{row['id']}") or row["status"]
        row["reason"] = data.get(f"reason-{row['id']}", row["reason"])
