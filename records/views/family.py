"""The family portal: a parent's (or eligible student's) children, a child's record, its log.

Every student read goes through ``access.family``, and every page records what it
showed in the access log. Only the child's opaque id is in a URL. Someone with no
family route (staff only, no district) gets 404; an anonymous visitor signs in first.
"""

from __future__ import annotations

import binascii
import calendar
import struct
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from django import forms
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils.crypto import salted_hmac
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from access.audit import reads_of_page, record_reads
from access.categories import Category
from access.family import (
    LineKey,
    ReaderDay,
    ReaderDays,
    as_family,
    child_provider_disclosures,
    child_reader_days,
    child_study_releases,
    children_who_hold_their_own_rights,
    family_child,
    family_children,
    has_family_portal,
    holds_family_rights,
)
from access.projection import project_students
from access.scoping import Allowed, allowed_for
from accounts.selectors import role_school_names
from records import selectors
from records.services import family_visit_record
from records.views.amendment_fields import RowLinks, correction_links
from records.views.charts import performance_chart
from records.views.gates import gated_pages

READER_DAYS_PER_PAGE = 25
PROVIDER_LINES_PER_PAGE = 30

CATEGORY_NAMES = {
    "directory": _("Name, grade and school"),
    "contact": _("Address and contacts"),
    "demographics": _("Personal details"),
    "identifiers": _("Student ID numbers"),
    "enrollment": _("Class schedule"),
    "attendance": _("Attendance"),
    "grades": _("Grades"),
    "assessments": _("Test results"),
    "programs": _("Programs and services"),
    "health": _("Health"),
    "discipline": _("Discipline"),
    "transportation": _("Transportation"),
}

GRADE_NAMES = {
    "IT": _("Infant/toddler"),
    "PR": _("Preschool"),
    "PK": _("Pre-kindergarten"),
    "TK": _("Transitional kindergarten"),
    "KG": _("Kindergarten"),
    "PS": _("Postsecondary"),
    "UG": _("Ungraded"),
    "Other": _("Other"),
}

STATUS_NAMES = {
    "present": _("Present"),
    "absent": _("Absent"),
    "tardy": _("Late"),
    "excused": _("Excused absence"),
}
# One letter per status in the calendar, explained by its legend.
STATUS_MARKS = {
    "present": pgettext_lazy("attendance mark for present", "P"),
    "absent": pgettext_lazy("attendance mark for absent", "A"),
    "tardy": pgettext_lazy("attendance mark for late", "L"),
    "excused": pgettext_lazy("attendance mark for excused", "E"),
}
WEEKDAYS = (
    (_("Mon"), _("Monday")),
    (_("Tue"), _("Tuesday")),
    (_("Wed"), _("Wednesday")),
    (_("Thu"), _("Thursday")),
    (_("Fri"), _("Friday")),
)

PROGRAM_NAMES = {
    "iep": _("Special education (IEP)"),
    "section_504": _("Section 504 plan"),
    "english_learner": _("English learner support"),
    "free_reduced_lunch": _("Free or reduced-price meals"),
    "homeless": _("Housing support (McKinney-Vento)"),
    "foster": _("Foster care"),
}
IMMUNIZATION_NAMES = {
    "complete": _("Complete"),
    "incomplete": _("Incomplete"),
    "exempt": _("Exempt"),
    "unknown": _("Not recorded"),
}
RELATIONSHIP_NAMES = {
    "mother": _("Mother"),
    "father": _("Father"),
    "parent": _("Parent"),
    "guardian": _("Legal guardian"),
    "stepparent": _("Stepparent"),
    "grandparent": _("Grandparent"),
    "foster_parent": _("Foster parent"),
    "other": _("Other relative"),
}
ENROLLMENT_NAMES = {
    "active": _("Enrolled"),
    "inactive": _("Not enrolled"),
    "withdrawn": _("Withdrawn"),
    "graduated": _("Graduated"),
}

# Who read a record, as a parent would say it: "A teacher" (at a school).
ROLE_PHRASES = {
    "teacher": (_("A teacher"), _("A teacher at %(school)s")),
    "principal": (_("A principal"), _("A principal at %(school)s")),
    "school_admin": (_("A school administrator"), _("A school administrator at %(school)s")),
    "counselor": (_("A counselor"), _("A counselor at %(school)s")),
    "nurse": (_("A school nurse"), _("A school nurse at %(school)s")),
    "special_education": (
        _("A special education staff member"),
        _("A special education staff member at %(school)s"),
    ),
    "district_admin": (_("A district administrator"), _("A district administrator")),
    "guardian": (_("Another parent or guardian"), _("Another parent or guardian")),
    "eligible_student": (_("The student"), _("The student")),
}
# Why, by role: the plain-language purposes of access/policy.py.
ROLE_PURPOSES = {
    "teacher": _("viewing the class roster"),
    "district_admin": _("for district administration"),
    "guardian": _("reviewing the child's record"),
    "eligible_student": _("reviewing their own record"),
}
SCHOOL_OFFICIAL_PURPOSE = _("for the student's education (a school official's legitimate interest)")

# What a service provider received, as it reads inside "received Ana's …".
RECEIVED_PHRASES = {
    "directory": pgettext_lazy("data a provider received", "name, grade and school"),
    "contact": pgettext_lazy("data a provider received", "address, phone and email"),
    "demographics": pgettext_lazy(
        "data a provider received", "birth date, sex, race, ethnicity and home language"
    ),
    "identifiers": pgettext_lazy("data a provider received", "student ID numbers"),
    "enrollment": pgettext_lazy("data a provider received", "class schedule"),
    "attendance": pgettext_lazy("data a provider received", "attendance"),
    "grades": pgettext_lazy("data a provider received", "grades"),
    "assessments": pgettext_lazy("data a provider received", "test results"),
    "programs": pgettext_lazy("data a provider received", "programs and services"),
    "health": pgettext_lazy("data a provider received", "health information"),
    "discipline": pgettext_lazy("data a provider received", "discipline records"),
    "transportation": pgettext_lazy("data a provider received", "bus route and stop"),
}
# The FERPA paragraph (access/policy.py PROVIDER_LEGAL_BASES) in a parent's words.
PROVIDER_BASIS_PHRASES = {
    "99.31(a)(1)(i)(B)": _("as a school official under the district's agreement"),
    "99.30": _("with the written consent of a parent or the student"),
    "99.31(a)(11)": _("as directory information the district may share"),
}


def _label(names: dict, value, default=None):
    return names.get(value, default if default is not None else value)


def _grade_name(code: str) -> str:
    if code in GRADE_NAMES:
        return GRADE_NAMES[code]
    if code.isdigit():
        return _("Grade %(number)s") % {"number": int(code)}
    return code


# A family page: signed in, with a family route; anyone else is told there is no such page.
family_pages = gated_pages(has_family_portal, Http404)


def _name(record: dict) -> str:
    directory = record.get("directory") or {}
    first = directory.get("preferred_name") or directory.get("given_name") or ""
    return f"{first} {directory.get('family_name', '')}".strip()


def _first_name(record: dict) -> str:
    directory = record.get("directory") or {}
    return directory.get("preferred_name") or directory.get("given_name") or ""


# What a child's card on /family/ shows, and so what its read records.
CARD_CATEGORIES = frozenset({Category.DIRECTORY, Category.ATTENDANCE, Category.GRADES})


def _family_cards(viewer) -> tuple[list[dict], dict[int, Allowed]]:
    """The children's cards, and what of each child they show (for the access log).

    Each card is the child's projected summary plus today's attendance status and
    the grades recorded since the viewer last opened the child's page.
    """
    students = list(family_children(viewer))
    allowed = allowed_for(as_family(viewer), students)
    students = [student for student in students if allowed[student.pk].categories]
    shown = {student.pk: allowed[student.pk].narrowed(CARD_CATEGORIES) for student in students}
    cards = project_students(viewer, students, shown)
    with_attendance = [pk for pk, a in shown.items() if "attendance" in a.categories]
    with_grades = [pk for pk, a in shown.items() if "grades" in a.categories]
    district_id = viewer.district_id
    today = (
        selectors.attendance_on(
            district_id=district_id, student_ids=with_attendance, day=viewer.today
        )
        if with_attendance
        else {}
    )
    new_grades = (
        selectors.grades_since_last_visit(
            district_id=district_id, student_ids=with_grades, user_id=viewer.user.pk
        )
        if with_grades
        else {}
    )
    for card in cards:
        if "attendance" in card:
            card["attendance"]["today"] = today.get(card["id"])
        if "grades" in card:
            card["grades"]["new_since_last_visit"] = new_grades.get(card["id"], 0)
    return cards, shown


@family_pages
def family_home(request):
    """``/family/``: a card per child, and a plain note for children now holding their rights."""
    viewer = request.viewer
    cards, shown = _family_cards(viewer)
    record_reads(viewer, reads_of_page(shown))
    own = viewer.route("eligible_student")
    children = []
    for card in cards:
        directory = card.get("directory") or {}
        schools = directory.get("schools") or []
        attendance = card.get("attendance")
        today = attendance.get("today") if attendance else None
        children.append(
            {
                "id": card["id"],
                "name": _name(card),
                "is_self": own is not None and own.student_id == card["id"],
                "school": schools[0]["name"] if schools else "",
                "grade": _grade_name(directory.get("grade_level") or ""),
                "shows_attendance": attendance is not None,
                "today": today,
                "today_label": STATUS_NAMES.get(today) if today else None,
                "shows_grades": "grades" in card,
                "new_grades": card.get("grades", {}).get("new_since_last_visit", 0),
            }
        )
    context = {
        "children": children,
        "grown_up": children_who_hold_their_own_rights(viewer),
        "today": viewer.today,
    }
    return render(request, "records/family/home.html", context)


@family_pages
def child_record(request, student_id: int):
    """``/family/<id>/``: the child's whole record, one section per category the viewer may see."""
    viewer = request.viewer
    child = family_child(viewer, student_id)
    (record,) = project_students(
        viewer, [child.student], {child.student.pk: child.allowed}, detail=True
    )
    term = None
    if "attendance" in child.categories:
        term = selectors.current_term_bounds(district_id=viewer.district_id, today=viewer.today)
    record_reads(viewer, reads_of_page({child.student.pk: child.allowed}))
    family_visit_record(
        actor=viewer.user, district_id=viewer.district_id, student_id=child.student.pk
    )
    context = {
        "child_id": child.student.pk,
        "name": _name(record) or _("Your child"),
        "first_name": _first_name(record) or _("your child"),
        "record": record,
        "sections": _sections(record, viewer.today, term),
        "holds_rights": holds_family_rights(viewer, child.student),
    }
    # Asking for corrections is the student's right once they are eligible (99.5).
    context["corrections"] = (
        correction_links(child.student.pk, record) if context["holds_rights"] else {}
    )
    if context["holds_rights"]:
        _attach_row_corrections(context["sections"], RowLinks(child.student.pk, record))
    return render(request, "records/family/child.html", context)


def _attach_row_corrections(sections: list[dict], links: RowLinks) -> None:
    """Give each record row shown a "Request a correction" link (and its statements)."""
    for section in sections:
        key = section["key"]
        if key == "grades":
            for row in section["rows"]:
                row["cells"] = [
                    {
                        **cell,
                        "correction": links.link(
                            f"grade:{cell['id']}",
                            _("grade for %(course)s, %(period)s")
                            % {"course": cell["course"], "period": cell["grading_period"]},
                        ),
                    }
                    if cell
                    else None
                    for cell in row["cells"]
                ]
        elif key == "attendance":
            for day in section["marked"]:
                day["correction"] = links.link(
                    f"attendance:{day['id']}",
                    _("attendance on %(date)s") % {"date": date_format(day["date"])},
                )
        elif key == "assessments":
            for result in section["results"]:
                result["correction"] = links.link(
                    f"assessment:{result['id']}",
                    _("%(test)s on %(date)s")
                    % {
                        "test": result["assessment"],
                        "date": date_format(result["administered_on"]),
                    },
                )
        elif key == "programs":
            for program in section["programs"]:
                program["correction"] = links.link(f"program:{program['id']}", program["name"])
        elif key == "health" and not section["empty"]:
            section["corrections"] = {
                name: links.link(f"health:{name}", None)
                for name in ("conditions", "allergies", "medications", "immunization_status")
            }
        elif key == "discipline":
            for incident in section["incidents"]:
                incident["correction"] = links.link(
                    f"discipline:{incident['id']}",
                    _("incident on %(date)s") % {"date": date_format(incident["occurred_on"])},
                )
        elif key == "transportation" and not section["empty"]:
            section["correction"] = links.link(f"transportation:{section['id']}", None)


# No record is this old or this far ahead, so clamping to them changes no result; it
# keeps the date arithmetic (a day after, 13 months before, a time zone) off the
# calendar's ends, where it overflows.
EARLIEST_LOG_DAY = date(1900, 1, 1)
LATEST_LOG_DAY = date(9000, 12, 31)


class AccessLogFilter(forms.Form):
    category = forms.ChoiceField(
        label=_("Kind of information"),
        required=False,
        choices=[("", _("All kinds")), *CATEGORY_NAMES.items()],
    )
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        for name in ("since", "until"):
            if data.get(name):
                data[name] = min(max(data[name], EARLIEST_LOG_DAY), LATEST_LOG_DAY)
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError(_("The “From” date must be on or before the “To” date."))
        return data


@family_pages
def child_access(request, student_id: int):
    """``/family/<id>/access/``: who has seen the child's records, a line per reader and
    day, newest first; "Older" and "Newer" carry a sealed key of the line they start from."""
    viewer = request.viewer
    child = family_child(viewer, student_id)
    form = AccessLogFilter(request.GET or None)
    filters = {}
    if form.is_bound and form.is_valid():
        filters = {
            "category": form.cleaned_data["category"] or None,
            "since": form.cleaned_data["since"],
            "until": form.cleaned_data["until"],
        }
    cursor = AccessCursor(viewer, child.student.pk, filters)
    direction, key = cursor.read(request.GET)
    found = child_reader_days(
        viewer, child.student.pk, **filters, **({direction: key} if key else {}),
        limit=READER_DAYS_PER_PAGE,
    )  # fmt: skip
    if direction == "newer_than" and key and len(found.lines) < READER_DAYS_PER_PAGE:
        # Back at the top: the newest lines, a full page as the list's first.
        found = child_reader_days(viewer, child.student.pk, **filters, limit=READER_DAYS_PER_PAGE)
    shows_name = "directory" in child.categories
    # Where a reader works says where the child is: the child's school is directory
    # information, so a family member kept from it is not told the readers' schools.
    schools = (
        role_school_names(
            district_id=viewer.district_id,
            user_ids=[line.actor_id for line in found.lines if line.actor_id is not None],
            today=viewer.today,
        )
        if shows_name
        else {}
    )
    if shows_name:
        record_reads(viewer, reads_of_page({child.student.pk: _only_directory(child.allowed)}))
    query = request.GET.copy()
    for name in (*AccessCursor.PARAMETERS.values(), "page"):
        query.pop(name, None)
    student = child.student
    context = {
        "child_id": student.pk,
        "first_name": (student.preferred_name or student.given_name) if shows_name else "",
        "form": form,
        "days": _reader_days(found, schools, viewer.district.zone),
        "newer": cursor.link(query, "newer_than", found),
        "older": cursor.link(query, "older_than", found),
        "cursor_lost": direction is not None and key is None,
        "filtered": bool(filters and any(filters.values())),
        **_provider_section(request, viewer, child, filters),
        "studies": child_study_releases(viewer, child.student.pk),
    }
    return render(request, "records/family/access.html", context)


class AccessCursor:
    """Where a page of ``child_access`` starts: the ``LineKey`` of a line the viewer was
    shown, sealed (AES-SIV under a key derived from ``SECRET_KEY``) to this child, this
    viewer and these filters. The link tells nothing (not the time to the microsecond,
    not the log's numbering) and cannot be forged or moved; anything that does not open
    is answered with the newest page."""

    PARAMETERS = {"older_than": "older", "newer_than": "newer"}

    def __init__(self, viewer, student_id: int, filters: dict) -> None:
        key = salted_hmac("records.family.AccessCursor", "key", algorithm="sha512").digest()
        self._cipher = AESSIV(key)
        self._bound = ":".join(
            str(part)
            for part in (
                student_id,
                viewer.user.pk,
                filters.get("category") or "",
                filters.get("since") or "",
                filters.get("until") or "",
            )
        ).encode()

    def seal(self, key: LineKey) -> str:
        plain = struct.pack(">qq", _micros(key.first_at), key.sequence)
        return urlsafe_b64encode(self._cipher.encrypt(plain, [self._bound])).rstrip(b"=").decode()

    def open(self, token: str) -> LineKey | None:
        try:
            sealed = urlsafe_b64decode(token + "=" * (-len(token) % 4))
            micros, sequence = struct.unpack(">qq", self._cipher.decrypt(sealed, [self._bound]))
        except (binascii.Error, InvalidTag, ValueError, struct.error):
            return None
        return LineKey(_from_micros(micros), sequence)

    def read(self, params) -> tuple[str | None, LineKey | None]:
        """The direction asked for and its key (``None`` if the link does not open)."""
        asked = [(d, params[name]) for d, name in self.PARAMETERS.items() if name in params]
        if not asked:
            return None, None
        if len(asked) > 1:
            return asked[0][0], None
        direction, token = asked[0]
        return direction, self.open(token)

    def link(self, query, direction: str, found: ReaderDays) -> str | None:
        """The query string of the page before (``newer_than``) or after this one."""
        if not found.lines:
            return None
        if direction == "newer_than":
            if not found.has_newer:
                return None
            key = found.lines[0].key
        else:
            if not found.has_older:
                return None
            key = found.lines[-1].key
        query = query.copy()
        query[self.PARAMETERS[direction]] = self.seal(key)
        return query.urlencode()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    """Microseconds since 1970 (UTC), exactly: the database keeps times to the microsecond."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _provider_section(request, viewer, child, filters: dict) -> dict:
    """The page's list of what service providers received, a line per provider and day,
    with its own pages and a link to the window before this one."""
    shared = child_provider_disclosures(viewer, child.student.pk, **filters)
    page = Paginator(shared.lines, PROVIDER_LINES_PER_PAGE).get_page(request.GET.get("shared_page"))
    name = (
        (child.student.preferred_name or child.student.given_name)
        if "directory" in child.categories
        else ""
    )
    # Paging through this list keeps the staff list's page; the older window starts both
    # lists afresh.
    query = request.GET.copy()
    query.pop("shared_page", None)
    older = None
    if shared.has_older:
        older = query.copy()
        for name in (*AccessCursor.PARAMETERS.values(), "page"):
            older.pop(name, None)
        older["until"] = (shared.since - timedelta(days=1)).isoformat()
    return {
        "shared": page,
        "shared_lines": [_received(line, name) for line in page],
        "shared_since": shared.since,
        "shared_until": shared.until,
        "shared_query": query.urlencode(),
        "shared_older": older.urlencode() if older is not None else None,
    }


def _received(line, name: str) -> dict:
    """One line of the providers' list as a sentence: who received what of the child,
    on which day, why, and under which rule."""
    values = {
        "party": line.party,
        "name": name,
        "data": _joined([str(RECEIVED_PHRASES.get(c, c)) for c in line.categories]),
        "date": date_format(line.day),
        "purpose": line.purpose,
        "basis": PROVIDER_BASIS_PHRASES.get(line.legal_basis)
        or _("under FERPA, 34 CFR %(paragraph)s") % {"paragraph": line.legal_basis},
    }
    if name:
        sentence = _(
            "%(party)s received %(name)s's %(data)s on %(date)s for %(purpose)s, %(basis)s."
        )
    else:
        sentence = _(
            "%(party)s received the student's %(data)s on %(date)s for %(purpose)s, %(basis)s."
        )
    return {
        "day": line.day,
        "party": line.party,
        "sentence": sentence % values,
        "legal_basis": line.legal_basis,
        "deliveries": ngettext(
            "%(count)s delivery that day", "%(count)s deliveries that day", line.deliveries
        )
        % {"count": line.deliveries},
    }


def _joined(phrases: list[str]) -> str:
    """Phrases that hold commas themselves, kept apart: "a, b and c; d and e"."""
    if len(phrases) < 2:
        return "".join(phrases)
    return _("%(items)s; and %(last)s") % {"items": "; ".join(phrases[:-1]), "last": phrases[-1]}


def _only_directory(allowed: Allowed) -> Allowed:
    return Allowed(frozenset({"directory"}), None, False, allowed.via)


def _reader_days(found: ReaderDays, schools: dict, zone: ZoneInfo) -> list[dict]:
    """The page's lines in plain language, under their days (a day's lines may go on
    over the next page)."""
    days: list[dict] = []
    for line in found.lines:
        if not days or days[-1]["day"] != line.day:
            days.append({"day": line.day, "lines": []})
        days[-1]["lines"].append(_describe(line, schools, zone))
    return days


def _describe(line: ReaderDay, schools: dict, zone: ZoneInfo) -> dict:
    """One reader's reads on one day, as a parent would say it."""
    described = {
        "categories": [CATEGORY_NAMES.get(c, c) for c in line.categories],
        "times": _times(line.reads, line.first_at.astimezone(zone), line.last_at.astimezone(zone)),
        "reads": line.reads,
    }
    if line.is_disclosure:
        return described | {
            "is_disclosure": True,
            "party": line.party,
            "legal_basis": line.legal_basis,
            "purposes": list(line.purposes),
        }
    who = []
    for role in line.roles:
        plain, at_school = ROLE_PHRASES.get(role, (_("A school official"), _("A school official")))
        school = schools.get((line.actor_id, role))
        who.append(at_school % {"school": school} if school else plain)
    purposes = {str(ROLE_PURPOSES.get(role, SCHOOL_OFFICIAL_PURPOSE)) for role in line.roles}
    return described | {
        "is_disclosure": False,
        "who": list(dict.fromkeys(str(w) for w in who)) or [_("A school official")],
        "purpose": sorted(purposes) or [str(SCHOOL_OFFICIAL_PURPOSE)],
    }


def _times(reads: int, first: datetime, last: datetime) -> str:
    """How often and when on the day, in the district's time: "3 times, between 8:05
    a.m. and 2:10 p.m."."""
    start, end = time_format(first), time_format(last)
    if reads == 1:
        return _("Once, at %(time)s") % {"time": start}
    if start == end:
        return ngettext("%(count)s time, at %(time)s", "%(count)s times, at %(time)s", reads) % {
            "count": reads,
            "time": start,
        }
    return ngettext(
        "%(count)s time, between %(first)s and %(last)s",
        "%(count)s times, between %(first)s and %(last)s",
        reads,
    ) % {"count": reads, "first": start, "last": end}


# The child page's sections, in the order a parent reads them.


def _sections(record: dict, today: date, term) -> list[dict]:
    builders = (
        ("directory", _("Profile"), _profile),
        ("contact", _("Contacts"), _contacts),
        ("demographics", _("Personal details"), _demographics),
        ("enrollment", _("Class schedule"), _schedule),
        ("attendance", _("Attendance"), lambda data: _attendance(data, today, term)),
        ("grades", _("Grades"), _grades),
        ("assessments", _("Test results"), _assessments),
        ("programs", _("Programs and services"), _programs),
        ("health", _("Health"), _health),
        ("discipline", _("Discipline"), _discipline),
        ("transportation", _("Transportation"), _transportation),
    )
    return [
        {"key": key, "title": title, **build(record[key])}
        for key, title, build in builders
        if key in record
    ]


def _profile(data: dict) -> dict:
    schools = data.get("schools") or []
    return {
        "grade": _grade_name(data.get("grade_level") or ""),
        "status": _label(ENROLLMENT_NAMES, data.get("enrollment_status")),
        "schools": [school["name"] for school in schools],
        "full_name": " ".join(
            part
            for part in (data.get("given_name"), data.get("middle_name"), data.get("family_name"))
            if part
        ),
        "preferred_name": data.get("preferred_name"),
    }


def _contacts(data: dict) -> dict:
    address = data["address"]
    guardians = [
        {**guardian, "relationship_label": _label(RELATIONSHIP_NAMES, guardian["relationship"])}
        for guardian in data.get("guardians", [])
    ]
    return {
        "address": address,
        "has_address": any(address.values()),
        "phone": data["phone"],
        "email": data["email"],
        "guardians": guardians,
    }


def _demographics(data: dict) -> dict:
    return {"birth_date": data["birth_date"], "home_language": data["home_language"]}


def _schedule(data: dict) -> dict:
    return {"classes": data.get("sections", []), "empty": not data.get("sections")}


def _attendance(data: dict, today: date, term) -> dict:
    rows = data.get("records", [])
    by_day: dict[date, list[str]] = {}
    for row in rows:
        by_day.setdefault(row["date"], []).append(row["status"])
    day_status = {day: selectors.day_status(statuses) for day, statuses in by_day.items()}
    reasons = Counter(row["reason"] or "" for row in rows if row["status"] in ("absent", "excused"))
    # The days not marked present, each a row the family may ask to correct.
    marked = [
        {**row, "status_label": STATUS_NAMES.get(row["status"], row["status"])}
        for row in rows
        if row["status"] != "present"
    ]
    if term:
        start, end = term[0], min(term[1], today)
    else:
        start, end = (min(day_status) if day_status else today.replace(day=1)), today
    rate = data.get("attendance_rate")
    return {
        "days_recorded": data["days_recorded"],
        "totals": [(STATUS_NAMES[s], data[s]) for s in ("present", "tardy", "excused", "absent")],
        "rate_percent": rate * 100 if rate is not None else None,
        "reasons": sorted(
            ((reason, n) for reason, n in reasons.items()), key=lambda item: (-item[1], item[0])
        ),
        "months": _calendar(start, end, day_status, today),
        "weekdays": WEEKDAYS,
        "legend": [(STATUS_MARKS[s], STATUS_NAMES[s], s) for s in STATUS_NAMES],
        "marked": marked,
        "empty": not rows,
    }


def _calendar(start: date, end: date, day_status: dict, today: date) -> list[dict]:
    """School-week (Monday–Friday) grids for each month from ``start`` to ``end``."""
    months = []
    month = start.replace(day=1)
    while month <= end:
        weeks = []
        for week in calendar.Calendar().monthdatescalendar(month.year, month.month):
            cells = []
            for day in week[:5]:
                if day.month != month.month or day < start or day > end:
                    cells.append(None)
                    continue
                status = day_status.get(day)
                cells.append(
                    {
                        "day": day,
                        "status": status,
                        "mark": STATUS_MARKS.get(status),
                        "label": STATUS_NAMES.get(status),
                        "is_today": day == today,
                    }
                )
            if any(cells):
                weeks.append(cells)
        months.append({"month": month, "weeks": weeks})
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _grades(data: dict) -> dict:
    rows = data.get("records", [])
    periods: list[str] = []
    by_section: dict[int, dict] = {}
    for row in rows:
        if row["grading_period"] not in periods:
            periods.append(row["grading_period"])
        section = by_section.setdefault(
            row["section_id"], {"course": row["course"], "section": row["section"], "marks": {}}
        )
        section["marks"][row["grading_period"]] = row
    table = [
        {**section, "cells": [section["marks"].get(period) for period in periods]}
        for section in sorted(by_section.values(), key=lambda s: (s["course"], s["section"]))
    ]
    comments = [row for row in rows if row["comment"]]
    return {"periods": periods, "rows": table, "comments": comments, "empty": not rows}


def _assessments(data: dict) -> dict:
    rows = data.get("records", [])
    return {
        "results": [dict(row) for row in rows],
        "chart": performance_chart(rows),
        "empty": not rows,
    }


def _programs(data: dict) -> dict:
    rows = [
        {**row, "name": _label(PROGRAM_NAMES, row["program"])} for row in data.get("records", [])
    ]
    return {"programs": rows, "empty": not rows}


def _health(data: dict) -> dict:
    return {
        **data,
        "immunization_label": _label(IMMUNIZATION_NAMES, data.get("immunization_status")),
        "empty": not data["on_file"],
    }


def _discipline(data: dict) -> dict:
    rows = [dict(row) for row in data.get("records", [])]
    return {"incidents": rows, "empty": not rows}


def _transportation(data: dict) -> dict:
    return {**data, "empty": not data["on_file"]}
