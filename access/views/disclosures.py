"""The district's record of disclosures (34 CFR 99.32): every read by a party outside
the family and the school's officials, filtered, paged, and exported as CSV.

The filters travel in the query string, so no student's name may: query strings end up
in server logs and browser history. A student is found by name (or ID) through a POSTed
search, and chosen by their opaque record id, the only thing of them the URLs carry."""

from __future__ import annotations

import csv

from django import forms
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.http import QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access.agreements import CATEGORY_LABELS
from access.audit import reads_of_page, record_reads
from access.categories import Category
from access.models import AccessEvent, AccessEventStudent, Grant, Provider
from access.scoping import allowed_for, visible_students
from access.views.common import admin_pages
from records.models import School, Student

EVENTS_PER_PAGE = 50
STUDENT_MATCHES = 50  # a search matching more asks for more of the name
SEARCH_PURPOSE = "disclosure log student search"


class DisclosureFilter(forms.Form):
    provider = forms.TypedChoiceField(label=gettext_lazy("Provider"), coerce=int, required=False)
    grant = forms.TypedChoiceField(label=gettext_lazy("Grant"), coerce=int, required=False)
    category = forms.ChoiceField(label=gettext_lazy("Category"), required=False)
    school = forms.TypedChoiceField(label=gettext_lazy("School"), coerce=int, required=False)
    student = forms.IntegerField(required=False, widget=forms.HiddenInput)  # a record id
    since = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.viewer = viewer
        district = viewer.district
        anyone = [("", gettext_lazy("Any"))]
        self.fields["provider"].choices = anyone + [
            (p.pk, p.name) for p in Provider.unscoped.filter(district=district)
        ]
        self.fields["grant"].choices = anyone + [
            (g.pk, f"{g.pk} · {g.provider.name} · {g.purpose}"[:120])
            for g in Grant.unscoped.filter(district=district)
            .exclude(status=Grant.Status.DRAFT)
            .select_related("provider")
        ]
        self.fields["category"].choices = anyone + list(CATEGORY_LABELS.items())
        self.fields["school"].choices = anyone + [
            (s.pk, s.name) for s in School.unscoped.filter(district=district).order_by("name")
        ]

    def clean_student(self) -> Student | None:
        pk = self.cleaned_data.get("student")
        if pk is None:
            return None
        found = visible_students(self.viewer).filter(pk=pk).first()
        if found is None:
            raise forms.ValidationError(_("No such student: search for the student again."))
        return found

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end date cannot be before the start date."))
        return data

    def query(self, *, without: str = "") -> str:
        """The valid filters as a query string: ids, codes and dates, never a name (a
        value that did not clean, whatever it holds, is left out)."""
        if not hasattr(self, "cleaned_data"):
            return ""
        pairs = []
        for name, value in self.cleaned_data.items():
            if name == without or value in (None, ""):
                continue
            value = getattr(value, "pk", value)
            pairs.append((name, value.isoformat() if hasattr(value, "isoformat") else value))
        return urlencode(pairs)


class StudentSearch(forms.Form):
    """The name (or ID) to find a student by: POSTed, so it never enters a URL."""

    name = forms.CharField(label=gettext_lazy("Find a student by name or ID"), max_length=100)
    filters = forms.CharField(required=False, widget=forms.HiddenInput)  # the log's query


# A provider event's id array holds one of a subquery's ids (no lookup takes a subquery).
ARRAY_HOLDS_ANY_OF = {
    "postgresql": "EXISTS (SELECT 1 FROM jsonb_array_elements_text("
    "access_accessevent.disclosed_student_ids) e WHERE e::bigint IN ({ids}))",
    "sqlite": "EXISTS (SELECT 1 FROM json_each(access_accessevent.disclosed_student_ids) e "
    "WHERE e.value IN ({ids}))",
}


def _holds_any(student_ids) -> Q:
    """Provider events whose id array holds one of ``student_ids``."""
    matched = Q(pk__in=[])
    for pk in student_ids:
        matched |= Q(disclosed_student_ids__holds_id=pk)
    return matched


def _naming(district, student_ids) -> Q:
    listed = AccessEventStudent.unscoped.filter(
        district=district, event_id=OuterRef("pk"), student_id__in=student_ids
    )
    return Q(Exists(listed)) | _holds_any(student_ids)


def _at_school(viewer, school_id: int) -> Q:
    students = visible_students(viewer, school_id=school_id).order_by().values("pk")
    listed = AccessEventStudent.unscoped.filter(
        district=viewer.district, event_id=OuterRef("pk"), student_id__in=students
    )
    ids_sql, ids_params = students.query.sql_with_params()
    template = ARRAY_HOLDS_ANY_OF["postgresql" if connection.vendor == "postgresql" else "sqlite"]
    # Only Django's own compiled subquery is spliced in; its values stay parameters.
    in_array = RawSQL(template.format(ids=ids_sql), ids_params, output_field=BooleanField())  # noqa: S611
    return Q(Exists(listed)) | Q(in_array)


def disclosure_events(viewer, data: dict):
    """The district's disclosures narrowed by the filter's cleaned ``data``, newest first."""
    district = viewer.district
    events = AccessEvent.unscoped.filter(district=district, is_disclosure=True)
    if data.get("provider"):
        events = events.filter(grant__provider_id=data["provider"])
    if data.get("grant"):
        events = events.filter(grant_id=data["grant"])
    if data.get("category"):
        events = events.filter(_has_category(data["category"]))
    if data.get("since"):
        events = events.filter(occurred_at__date__gte=data["since"])
    if data.get("until"):
        events = events.filter(occurred_at__date__lte=data["until"])
    if data.get("school"):
        events = events.filter(_at_school(viewer, data["school"]))
    if data.get("student"):
        events = events.filter(_naming(district, [data["student"].pk]))
    return events.select_related("grant__provider").order_by("-occurred_at", "-sequence")


def _has_category(category: str) -> Q:
    if connection.vendor == "postgresql":
        return Q(categories__contains=[category])
    return Q(categories__icontains=f'"{category}"')


def _students_matching(viewer, query: str) -> list[int]:
    """The ids of the students the admin may see whose sourced id is ``query``, or whose
    name holds each of its words."""
    matches = Q(sourced_id=query) | Q(state_id=query) | Q(local_id=query)
    by_name = Q()
    for word in query.split():
        by_name &= (
            Q(given_name__icontains=word)
            | Q(family_name__icontains=word)
            | Q(preferred_name__icontains=word)
        )
    students = visible_students(viewer).filter(matches | by_name)
    return list(students.values_list("pk", flat=True)[:STUDENT_MATCHES])


@admin_pages(methods=("GET", "HEAD", "POST"))
def disclosure_log(request):
    """``/district/disclosures/``: the record of disclosures; ``?format=csv`` exports it.
    A POST searches for a student by name and lists them as links by record id."""
    viewer = request.viewer
    search = StudentSearch(request.POST) if request.method == "POST" else None
    params = QueryDict(search.data.get("filters", "")) if search is not None else request.GET
    form = DisclosureFilter(params or None, viewer=viewer)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    events = disclosure_events(viewer, data) if not form.errors else AccessEvent.unscoped.none()
    if search is None and request.GET.get("format") == "csv" and not form.errors:
        return _csv(events, viewer.district.zone)  # streamed after the page returns
    page = Paginator(events, EVENTS_PER_PAGE).get_page(params.get("page"))
    labels = {key: str(label) for key, label in CATEGORY_LABELS.items()}
    rows = [
        {
            "event": event,
            "categories": [labels.get(c, c) for c in event.categories],
        }
        for event in page.object_list
    ]
    chosen = data.get("student")
    matches = None
    if search is not None and search.is_valid():
        matches = _students_shown(viewer, _students_matching(viewer, search.cleaned_data["name"]))
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "query": form.query(),
        "without_student": form.query(without="student"),
        "chosen": next(iter(_students_shown(viewer, [chosen.pk])), None) if chosen else None,
        "search": search or StudentSearch(initial={"filters": form.query(without="student")}),
        "matches": matches,
        "too_many": matches is not None and len(matches) >= STUDENT_MATCHES,
    }
    bad = form.errors or (search is not None and search.errors)
    return render(request, "access/disclosures.html", context, status=400 if bad else 200)


def _students_shown(viewer, student_ids: list[int]) -> list[dict]:
    """The students named on the page (a search's matches, the chosen one), as their
    directory information; showing them is a read, logged as one."""
    students = list(
        visible_students(viewer)
        .filter(pk__in=student_ids)
        .order_by("family_name", "given_name", "pk")[:STUDENT_MATCHES]
    )
    directory = frozenset({Category.DIRECTORY})
    shown = {
        pk: allowed.narrowed(directory) for pk, allowed in allowed_for(viewer, students).items()
    }
    record_reads(viewer, reads_of_page(shown, purpose=SEARCH_PURPOSE))
    return [
        {
            "id": student.pk,
            "name": f"{student.family_name}, {student.preferred_name or student.given_name}",
            "grade": student.grade_level,
        }
        for student in students
        if shown.get(student.pk) and shown[student.pk].categories
    ]


class _Echo:
    def write(self, value):
        return value


def _csv(events, zone):
    writer = csv.writer(_Echo())
    header = [
        "occurred_at",
        "party",
        "legal_basis",
        "grant",
        "purpose",
        "categories",
        "student_count",
        "actor",
        "sequence",
    ]

    def lines():
        yield writer.writerow(header)
        for event in events.iterator(chunk_size=500):
            yield writer.writerow(
                [
                    timezone.localtime(event.occurred_at, zone).isoformat(),
                    event.party,
                    event.legal_basis,
                    event.grant_id or "",
                    event.purpose,
                    " ".join(event.categories),
                    event.student_count,
                    event.actor_username,
                    event.sequence,
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="disclosures.csv"'
    return response
