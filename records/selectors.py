"""Reads of record rows for a set of students, one query each, whatever the set's size.

Selectors do not decide access: callers (``access/projection.py``) pass the student
ids they were allowed to see and ask only for the categories they may show. Every
query names the district first.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from django.core.cache import cache
from django.db.models import (
    Count,
    DateField,
    Exists,
    Expression,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, NullIf, TruncMonth

from records.models import (
    AcademicSession,
    AssessmentResult,
    AttendanceMonth,
    AttendanceRecord,
    CustodyRestriction,
    DirectoryOptOut,
    DisagreementStatement,
    DisciplineIncident,
    Enrollment,
    FamilyVisit,
    Grade,
    GuardianLink,
    HealthRecord,
    ImportRun,
    ProgramParticipation,
    SchoolMembership,
    SectionTeacher,
    SubstituteAssignment,
    TransportationAssignment,
    active_on_q,
)

logger = logging.getLogger(__name__)


def school_year_bounds(*, district_id: int, today: date) -> tuple[date, date] | None:
    """Start and end of the school year containing ``today``, if the district has one."""
    year = (
        AcademicSession.unscoped.filter(
            district_id=district_id,
            kind=AcademicSession.Kind.SCHOOL_YEAR,
            start_date__lte=today,
            end_date__gte=today,
        )
        .values_list("start_date", "end_date")
        .first()
    )
    return tuple(year) if year else None


def previous_school_year_start(*, district_id: int, before: date) -> date | None:
    """Start of the district's school year that ended last before ``before``, if any."""
    return (
        AcademicSession.unscoped.filter(
            district_id=district_id, kind=AcademicSession.Kind.SCHOOL_YEAR, end_date__lt=before
        )
        .order_by("-end_date")
        .values_list("start_date", flat=True)
        .first()
    )


def _grouped(rows) -> dict[int, list]:
    grouped: dict[int, list] = defaultdict(list)
    for student_id, item in rows:
        grouped[student_id].append(item)
    return grouped


def current_schools(
    *, district_id: int, student_ids: Sequence[int], today: date, among=None
) -> dict:
    """Each student's current schools, primary first; only those ``among`` (a subquery
    of school ids) when given."""
    memberships = SchoolMembership.unscoped.filter(
        district_id=district_id, student_id__any=student_ids, school__district_id=district_id
    )
    if among is not None:
        memberships = memberships.filter(school_id__in=among)
    rows = (
        memberships.filter(active_on_q(today))
        .order_by("-is_primary", "school__name")
        .values_list("student_id", "school_id", "school__name", "school__nces_id")
    )
    return _grouped(
        (student_id, {"id": school_id, "name": name, "nces_id": nces_id})
        for student_id, school_id, name, nces_id in rows
    )


def guardian_contacts(*, district_id: int, student_ids: Sequence[int], today: date) -> dict:
    restricted = CustodyRestriction.unscoped.filter(
        district_id=district_id, guardian_link=OuterRef("pk")
    ).filter(active_on_q(today))
    rows = (
        GuardianLink.unscoped.filter(
            district_id=district_id, student_id__any=student_ids, guardian__district_id=district_id
        )
        .filter(active_on_q(today))
        .annotate(restricted=Exists(restricted))
        .order_by("guardian__last_name", "guardian__first_name", "pk")
        .values(
            "student_id",
            "relationship",
            "lives_with",
            "has_data_access",
            "restricted",
            "guardian__first_name",
            "guardian__last_name",
            "guardian__email",
            "guardian__phone",
        )
    )
    return _grouped(
        (
            row["student_id"],
            {
                "name": f"{row['guardian__first_name']} {row['guardian__last_name']}".strip(),
                "relationship": row["relationship"],
                "lives_with": row["lives_with"],
                "email": row["guardian__email"],
                "phone": row["guardian__phone"],
                "has_data_access": row["has_data_access"],
                "custody_restriction": row["restricted"],
            },
        )
        for row in rows
    )


def current_enrollments(*, district_id: int, student_ids: Sequence[int], today: date):
    """Enrollments active today in sections of a term that includes today."""
    return Enrollment.unscoped.filter(
        district_id=district_id,
        student_id__any=student_ids,
        section__district_id=district_id,
        section__term__district_id=district_id,
        section__term__start_date__lte=today,
        section__term__end_date__gte=today,
    ).filter(active_on_q(today))


def current_sections(*, district_id: int, student_ids: Sequence[int], today: date) -> dict:
    """Each student's current sections with their teachers (two queries)."""
    enrollments = list(
        current_enrollments(district_id=district_id, student_ids=student_ids, today=today)
        .filter(section__course__district_id=district_id, section__school__district_id=district_id)
        .select_related("section__course", "section__term", "section__school")
        .order_by("section__period", "section__title")
    )
    section_ids = {e.section_id for e in enrollments}
    teachers = _grouped(
        (
            st.section_id,
            {
                "name": st.teacher.get_full_name(),
                "email": st.teacher.email,
                "is_primary": st.is_primary,
            },
        )
        for st in SectionTeacher.unscoped.filter(
            district_id=district_id,
            section_id__any=sorted(section_ids),
            teacher__district_id=district_id,
        )
        .filter(active_on_q(today))
        .select_related("teacher")
        .order_by("-is_primary", "teacher__last_name")
    )
    return _grouped(
        (
            e.student_id,
            {
                "id": e.section_id,
                "title": e.section.title,
                "course": e.section.course.title,
                "period": e.section.period,
                "term": e.section.term.title,
                "school": e.section.school.name,
                "teachers": teachers.get(e.section_id, []),
                "begin_date": e.begin_date,
                "end_date": e.end_date,
            },
        )
        for e in enrollments
    )


def _attendance_since(district_id, student_ids, since: date | None):
    rows = AttendanceRecord.unscoped.filter(district_id=district_id, student_id__any=student_ids)
    return rows.filter(date__gte=since) if since else rows


def school_year_start(*, district_id: int, today: date) -> Subquery:
    """The current school year's first day, as a subquery (no query of its own)."""
    return Subquery(
        AcademicSession.unscoped.filter(
            district_id=district_id,
            kind=AcademicSession.Kind.SCHOOL_YEAR,
            start_date__lte=today,
            end_date__gte=today,
        )
        .order_by("start_date")
        .values("start_date")[:1]
    )


def attendance_this_year(*, district_id: int, student_ids: Sequence[int], today: date):
    """Attendance rows since the current school year began (all rows if none is set up)."""
    start = school_year_start(district_id=district_id, today=today)
    return AttendanceRecord.unscoped.filter(
        district_id=district_id, student_id__any=student_ids
    ).filter(Q(date__gte=Coalesce(start, Value(date.min))))


def attendance_records(*, district_id: int, student_ids: Sequence[int], since: date | None):
    rows = _attendance_since(district_id, student_ids, since).order_by("date", "pk")
    return _grouped(
        (row.pop("student_id"), row)
        for row in rows.values("student_id", "id", "date", "status", "reason", "section_id")
    )


def rows_of(model, *, district_id: int, student_ids: Sequence[int]):
    return model.unscoped.filter(district_id=district_id, student_id__any=student_ids)


def counts_by_student(
    row_sets: dict[str, QuerySet], *, keyed_by: dict[str, str] | None = None
) -> dict[str, dict[int, dict[str, int]]]:
    """Rows per student (and per value of a column) in several row sets, in one query.

    ``row_sets`` maps a name to a queryset of rows with a ``student_id``; ``keyed_by``
    names, for some of them, a column to count by as well (attendance by status).
    The answer is ``{name: {student_id: {key: n}}}``, key ``""`` when not keyed. One
    UNION ALL of grouped counts, however many row sets.
    """
    keyed_by = keyed_by or {}
    result: dict[str, dict[int, dict[str, int]]] = {name: {} for name in row_sets}
    names = list(row_sets)
    parts = [
        row_sets[name]
        .order_by()
        .annotate(key=F(keyed_by[name]) if name in keyed_by else Value(""))
        .values("student_id", "key")
        .annotate(n=Count("pk"), row_set=Value(index))
        .values_list("row_set", "student_id", "key", "n")
        for index, name in enumerate(names)
    ]
    if not parts:
        return result
    combined = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    for index, student_id, key, n in combined:
        result[names[index]].setdefault(student_id, {})[key] = n
    return result


# Days attended: the marks the roll-up's triggers count as attended too (attendance_months).
ATTENDED_STATUSES = (AttendanceRecord.Status.PRESENT, AttendanceRecord.Status.TARDY)


def attendance_summary(by_status: dict[str, int]) -> dict:
    """Days recorded, days per status and the attendance rate, from counts per status."""
    days = sum(by_status.values())
    attended = sum(by_status.get(status, 0) for status in ATTENDED_STATUSES)
    return {
        "days_recorded": days,
        "present": by_status.get("present", 0),
        "absent": by_status.get("absent", 0),
        "tardy": by_status.get("tardy", 0),
        "excused": by_status.get("excused", 0),
        "attendance_rate": round(attended / days, 4) if days else None,
    }


def grade_records(*, district_id: int, student_ids: Sequence[int]) -> dict:
    rows = (
        Grade.unscoped.filter(
            district_id=district_id,
            student_id__any=student_ids,
            section__district_id=district_id,
            section__course__district_id=district_id,
            grading_period__district_id=district_id,
        )
        .select_related("section__course", "grading_period")
        .order_by("grading_period__start_date", "section__title")
    )
    return _grouped(
        (
            g.student_id,
            {
                "id": g.pk,
                "section_id": g.section_id,
                "section": g.section.title,
                "course": g.section.course.title,
                "grading_period": g.grading_period.title,
                "mark": g.mark,
                "percent": g.percent,
                "comment": g.comment,
            },
        )
        for g in rows
    )


def assessment_records(*, district_id: int, student_ids: Sequence[int]) -> dict:
    rows = AssessmentResult.unscoped.filter(
        district_id=district_id, student_id__any=student_ids
    ).order_by("administered_on", "assessment")
    return _grouped(
        (
            a.student_id,
            {
                "id": a.pk,
                "assessment": a.assessment,
                "subject": a.subject,
                "score": a.score,
                "performance_level": a.performance_level,
                "performance_label": a.performance_label,
                "administered_on": a.administered_on,
            },
        )
        for a in rows
    )


def program_records(
    *, district_id: int, student_ids: Sequence[int], today: date, kinds: frozenset[str] | None
) -> dict:
    rows = ProgramParticipation.unscoped.filter(
        district_id=district_id, student_id__any=student_ids
    ).order_by("program", "begin_date")
    if kinds is not None:
        rows = rows.filter(program__in=sorted(kinds))
    return _grouped(
        (
            p["student_id"],
            {
                "id": p["id"],
                "program": p["program"],
                "begin_date": p["begin_date"],
                "end_date": p["end_date"],
                "active": (p["begin_date"] is None or p["begin_date"] <= today)
                and (p["end_date"] is None or p["end_date"] >= today),
                "accommodations": p["accommodations"],
            },
        )
        for p in rows.values(
            "student_id", "id", "program", "begin_date", "end_date", "accommodations"
        )
    )


HEALTH_FIELDS = ("conditions", "allergies", "medications", "immunization_status")


def health_records(*, district_id: int, student_ids: Sequence[int]) -> dict:
    rows = HealthRecord.unscoped.filter(
        district_id=district_id, student_id__any=student_ids
    ).values("student_id", *HEALTH_FIELDS)
    return {row.pop("student_id"): row for row in rows}


def discipline_records(*, district_id: int, student_ids: Sequence[int]) -> dict:
    rows = (
        DisciplineIncident.unscoped.filter(
            district_id=district_id, student_id__any=student_ids, school__district_id=district_id
        )
        .select_related("school")
        .order_by("occurred_on")
    )
    return _grouped(
        (
            d.student_id,
            {
                "id": d.pk,
                "occurred_on": d.occurred_on,
                "school": d.school.name,
                "incident_type": d.incident_type,
                "action_taken": d.action_taken,
                "days_removed": d.days_removed,
                "description": d.description,
            },
        )
        for d in rows
    )


TRANSPORTATION_FIELDS = ("route", "stop", "pickup_time", "dropoff_time")


def transportation_records(*, district_id: int, student_ids: Sequence[int]) -> dict:
    rows = TransportationAssignment.unscoped.filter(
        district_id=district_id, student_id__any=student_ids
    ).values("student_id", "id", *TRANSPORTATION_FIELDS)
    return {row.pop("student_id"): row for row in rows}


def directory_opt_outs(*, district_id: int, student_ids: Sequence[int]) -> dict[int, set[str]]:
    rows = DirectoryOptOut.unscoped.filter(
        district_id=district_id, student_id__any=student_ids
    ).values_list("student_id", "field")
    opted: dict[int, set[str]] = defaultdict(set)
    for student_id, field in rows:
        opted[student_id].add(field)
    return opted


# The family portal's cards: today's attendance and what is new since the last visit.

# A day with several class records shows its most notable one.
DAY_STATUS_ORDER = ("absent", "excused", "tardy", "present")


def day_status(statuses) -> str | None:
    """The status a day shows: absent over excused over tardy over present."""
    present = set(statuses)
    return next((status for status in DAY_STATUS_ORDER if status in present), None)


def attendance_on(*, district_id: int, student_ids: Sequence[int], day: date) -> dict[int, str]:
    rows = AttendanceRecord.unscoped.filter(
        district_id=district_id, student_id__any=student_ids, date=day
    ).values_list("student_id", "status")
    statuses: dict[int, list[str]] = defaultdict(list)
    for student_id, status in rows:
        statuses[student_id].append(status)
    return {student_id: day_status(found) for student_id, found in statuses.items()}


def grades_since_last_visit(
    *, district_id: int, student_ids: Sequence[int], user_id: int
) -> dict[int, int]:
    """Grades recorded since ``user_id`` last opened each student's page (all, if never)."""
    last_seen = FamilyVisit.unscoped.filter(
        district_id=district_id, user_id=user_id, student_id=OuterRef("student_id")
    ).values("last_seen_at")[:1]
    rows = (
        Grade.unscoped.filter(district_id=district_id, student_id__any=student_ids)
        .annotate(last_seen=Subquery(last_seen))
        .filter(Q(last_seen__isnull=True) | Q(recorded_at__gt=F("last_seen")))
        .order_by()
        .values("student_id")
        .annotate(n=Count("pk"))
        .values_list("student_id", "n")
    )
    return dict(rows)


def current_term_bounds(*, district_id: int, today: date) -> tuple[date, date] | None:
    """The current term (or semester) containing ``today``: the one begun most recently."""
    term = (
        AcademicSession.unscoped.filter(
            district_id=district_id,
            kind__in=[AcademicSession.Kind.TERM, AcademicSession.Kind.SEMESTER],
            start_date__lte=today,
            end_date__gte=today,
        )
        .order_by("-start_date", "end_date")
        .values_list("start_date", "end_date")
        .first()
    )
    return tuple(term) if term else None


# Import runs. Not student data: the district admin's pages read them by district.


def import_run_progress_key(run_id: int) -> str:
    return f"import-run:{run_id}:progress"


def import_run_list(*, district_id: int) -> QuerySet[ImportRun]:
    """The district's runs, newest first; issue lists stay in the database."""
    return (
        ImportRun.unscoped.filter(district_id=district_id)
        .select_related("started_by")
        .defer("warnings", "errors")
        .order_by("-created_at", "-id")
    )


def import_run_get(*, district_id: int, run_id: int) -> ImportRun | None:
    return (
        ImportRun.unscoped.filter(district_id=district_id, pk=run_id)
        .select_related("started_by")
        .first()
    )


def import_run_progress(*, run: ImportRun) -> dict:
    """``{status, phase, done, total}``: live from the cache while the run is running.

    The importer applies a bundle inside one transaction, so rows it has done are not
    visible in the database until the end; its worker writes progress to the cache.
    A queued run behind a running run of its district is "waiting": the importer
    runs one import per district at a time.
    """
    if run.status == ImportRun.Status.QUEUED:
        behind = (
            ImportRun.unscoped.filter(district_id=run.district_id, status=ImportRun.Status.RUNNING)
            .exclude(pk=run.pk)
            .exists()
        )
        phase = "waiting" if behind else "queued"
        return {"status": run.status, "phase": phase, "done": 0, "total": 0}
    if run.status == ImportRun.Status.RUNNING:
        try:
            live = cache.get(import_run_progress_key(run.pk)) or {}
        except Exception as exc:
            logger.warning("Import progress not read: %s", type(exc).__name__)
            live = {}
        return {
            "status": run.status,
            "phase": str(live.get("phase", "starting")),
            "done": int(live.get("done", 0)),
            "total": int(live.get("total", 0)),
        }
    return {
        "status": run.status,
        "phase": "finished",
        "done": run.rows_done,
        "total": run.rows_total,
    }


def disagreement_statements(*, district, student_ids, categories=None) -> dict[int, list[dict]]:
    """Per student, the statements of disagreement on file, oldest first, dated in the
    district's calendar; one query. ``categories`` narrows to those categories (the
    projection keeps, per student, only those of its own allowed categories)."""
    student_ids = sorted(set(student_ids))
    if not student_ids:
        return {}
    rows = DisagreementStatement.unscoped.filter(
        district_id=district.pk, student_id__in=student_ids
    )
    if categories is not None:
        rows = rows.filter(category__in=sorted(categories))
    zone = district.zone
    result: dict[int, list[dict]] = {}
    for student_id, category, field, text, created_at in rows.order_by(
        "created_at", "id"
    ).values_list("student_id", "category", "field", "text", "created_at"):
        result.setdefault(student_id, []).append(
            {
                "category": category,
                "field": field,
                "text": text,
                "date": created_at.astimezone(zone).date(),
            }
        )
    return result


def attendance_rate_this_year(*, district_id: int, today: date) -> Expression:
    """Per student (``OuterRef("pk")``), the attendance rate this school year in percent
    (``NULL``: no days recorded), as an expression to annotate a set of students access
    allowed with: days present or late over days recorded. No query of its own.

    It reads the monthly roll-up (``AttendanceMonth``, about ten rows a student) from
    the month the year starts in, less the marks of that month before the start (the
    roll-up's month holds them too): an empty stretch of the marks' index for nearly
    every student, as schools mark no days before their year begins.
    """
    start = Coalesce(school_year_start(district_id=district_id, today=today), Value(date.min))
    months = AttendanceMonth.unscoped.filter(
        district_id=district_id, student_id=OuterRef("pk"), month__gte=TruncMonth(start)
    )
    before_start = AttendanceRecord.unscoped.filter(
        district_id=district_id,
        student_id=OuterRef("pk"),
        date__gte=TruncMonth(start, output_field=DateField()),
        date__lt=start,
    )
    attended = _per_student(months, Sum("attended")) - _per_student(
        before_start, Count("pk", filter=Q(status__in=ATTENDED_STATUSES))
    )
    recorded = _per_student(months, Sum("recorded")) - _per_student(before_start, Count("pk"))
    return Cast(attended, FloatField()) * 100.0 / NullIf(Cast(recorded, FloatField()), 0.0)


def _per_student(rows: QuerySet, total) -> Coalesce:
    """``total`` over the student's ``rows`` (correlated on ``student_id``), 0 if none."""
    summed = rows.order_by().values("student_id").annotate(total=total).values("total")
    return Coalesce(Subquery(summed, output_field=IntegerField()), 0)


def attendance_marks(
    *, district_id: int, section_id: int, day: date, student_ids
) -> dict[int, tuple[str, str]]:
    """The marks taken in a section on a day, per student: (status, reason). One query."""
    student_ids = sorted(student_ids)
    if not student_ids:
        return {}
    rows = (
        AttendanceRecord.unscoped.filter(
            district_id=district_id, section_id=section_id, date=day, student_id__any=student_ids
        )
        .order_by("pk")
        .values_list("student_id", "status", "reason")
    )
    return {student_id: (status, reason) for student_id, status, reason in rows}


# Rows a family may ask to correct: the row as the request keeps it (what the record said).


def _number_text(value) -> str:
    return "" if value is None else f"{float(value):g}"


def _row_text(table: str, row, key: str) -> str:
    """The row in plain words, as the request keeps it (what the record said when asked)."""
    if table == "grade":
        text = f"{row.section.course.title}, {row.grading_period.title}: {row.mark or '—'}"
        return text + (f" ({_number_text(row.percent)} %)" if row.percent is not None else "")
    if table == "attendance":
        text = f"{row.date.isoformat()}: {row.status}"
        return text + (f" — {row.reason}" if row.reason else "")
    if table == "assessment":
        text = f"{row.administered_on.isoformat()}: {row.assessment} ({row.subject})"
        if row.score is not None:
            text += f", score {_number_text(row.score)}"
        if row.performance_level is not None:
            text += f", level {row.performance_level}"
            if row.performance_label:
                text += f" ({row.performance_label})"
        return text
    if table == "program":
        begin = row.begin_date.isoformat() if row.begin_date else "?"
        end = row.end_date.isoformat() if row.end_date else "…"
        text = f"{row.get_program_display()}: {begin} – {end}"
        return text + (f"; {row.accommodations}" if row.accommodations else "")
    if table == "health":
        value = getattr(row, key)
        return row.get_immunization_status_display() if key == "immunization_status" else value
    if table == "discipline":
        text = f"{row.occurred_on.isoformat()}: {row.incident_type} ({row.school.name})"
        if row.action_taken:
            text += f"; {row.action_taken}"
        if row.days_removed:
            text += f"; {_number_text(row.days_removed)} days out of class"
        return text
    times = " – ".join(t.strftime("%H:%M") for t in (row.pickup_time, row.dropoff_time) if t)
    return f"{row.route}, {row.stop}" + (f" ({times})" if times else "")


def record_row_text(
    *, district_id: int, student_id: int, table: str, key: str, program_kinds=None
) -> str | None:
    """One of the student's record rows in plain words, or None when there is no such
    row of theirs (``program_kinds``: the program kinds the reader may see; None: all).
    ``table`` and ``key`` come from a parsed field name (``grade:123``,
    ``health:allergies``). One query."""
    scope = {"district_id": district_id, "student_id": student_id}
    if table == "grade":
        rows = Grade.unscoped.filter(
            **scope,
            pk=int(key),
            section__district_id=district_id,
            section__course__district_id=district_id,
            grading_period__district_id=district_id,
        ).select_related("section__course", "grading_period")
    elif table == "attendance":
        rows = AttendanceRecord.unscoped.filter(**scope, pk=int(key))
    elif table == "assessment":
        rows = AssessmentResult.unscoped.filter(**scope, pk=int(key))
    elif table == "program":
        rows = ProgramParticipation.unscoped.filter(**scope, pk=int(key))
        if program_kinds is not None:
            rows = rows.filter(program__in=sorted(program_kinds))
    elif table == "health":
        rows = HealthRecord.unscoped.filter(**scope)
    elif table == "discipline":
        rows = DisciplineIncident.unscoped.filter(
            **scope, pk=int(key), school__district_id=district_id
        ).select_related("school")
    elif table == "transportation":
        rows = TransportationAssignment.unscoped.filter(**scope, pk=int(key))
    else:
        return None
    row = rows.first()
    return _row_text(table, row, key) if row is not None else None


def student_field_text(*, district_id: int, student, field: str, today: date) -> str:
    """A student's field as text ("school": their current schools, by name)."""
    if field == "school":
        found = current_schools(district_id=district_id, student_ids=[student.pk], today=today)
        return ", ".join(school["name"] for school in found.get(student.pk, []))
    value = getattr(student, field, "")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def section_substitute_list(
    *, district_id: int, section_id: int, today: date
) -> QuerySet[SubstituteAssignment]:
    """A section's open substitute assignments that have not ended yet, soonest first."""
    return (
        SubstituteAssignment.unscoped.filter(
            district_id=district_id, section_id=section_id, ended_at__isnull=True
        )
        .filter(end_date__gte=today)
        .select_related("substitute", "assigned_by")
        .order_by("begin_date", "end_date", "pk")
    )
