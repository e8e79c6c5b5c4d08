"""The public report cards: no login, read from published releases only (never a student
row), cacheable by anyone (ETag and Cache-Control), in English and Spanish.

A page's language is ``?lang=`` when given (so that a link or a cache can name it), else
the visitor's (cookie or browser). Pages are rendered once per release and language in
each process (``published.rendered``)."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from reports import published
from reports.cells import DISTRICT, STATE, school_scope
from reports.charts import bar_chart
from reports.suppression import PERCENT_LADDER, Code
from reports.tables import CODE_MEANINGS, Report, ReportTable, Value, state_name
from studentdata.db.replica import replica_reads

MAX_AGE = 300  # seconds a browser or proxy may reuse a page without asking
LANGUAGES = dict(settings.LANGUAGES)
PAGE_VERSION = "4"  # bump when templates change, so cached pages and ETags renew
# The pages read published releases only, which never change: a read replica a moment
# behind serves them as well (what it lacks is read from the primary: reports.published).
PUBLIC_READS = "public report cards: published releases, never changed once published"


def _language(request: HttpRequest) -> tuple[str, bool]:
    """The page's language, and whether the URL chose it."""
    chosen = request.GET.get("lang")
    if chosen in LANGUAGES:
        return chosen, True
    return translation.get_language_from_request(request), False


def _respond(
    request: HttpRequest,
    release: published.Published,
    name: str,
    render: Callable[[str, str], bytes],
    content_type: str = "text/html; charset=utf-8",
    *,
    also=None,
) -> HttpResponse:
    """A cacheable response for page ``name`` of ``release`` (and of ``also``, the state
    release it compares with): 304 when the client holds it, else the page rendered once
    per process, release and language."""
    language, chosen = _language(request)
    version = f"{release.etag}-{also.etag}" if also else release.etag
    etag = f'"{version}-{name}-{language}-v{PAGE_VERSION}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    else:
        query = f"?lang={language}" if chosen else ""
        with translation.override(language):
            body = published.rendered(
                (version, name, language, query), lambda: render(language, query)
            )
        response = HttpResponse(body, content_type=content_type)
        response["Content-Language"] = language
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=MAX_AGE)
    if not chosen:
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
    return response


def _page(template: str, context: dict, language: str, query: str) -> bytes:
    context = {**context, "LANGUAGE_CODE": language, "lang_query": query,
               "languages": settings.LANGUAGES}  # fmt: skip
    return render_to_string(template, context).encode()


def district_release(district_id: int) -> published.Published:
    release = published.latest_release(district_id)
    if release is None:
        raise Http404("This district has published no report card yet.")
    return release


def school_release(school_id: int) -> published.Published:
    district_id = published.school_district_id(school_id)
    release = published.latest_release(district_id) if district_id else None
    if release is None or school_scope(school_id) not in release.content["schools"]:
        raise Http404("This school has no published report card.")
    return release


@require_safe
@replica_reads(PUBLIC_READS)
def index(request: HttpRequest) -> HttpResponse:
    """States, their districts and schools; ``?q=`` finds schools by name."""
    query = request.GET.get("q", "").strip()[:100]
    districts = published.district_directory()
    language, chosen = _language(request)
    with translation.override(language):
        states: dict[str, list] = {}
        matches = []
        for district, schools in districts:
            states.setdefault(district.state, []).append((district, schools))
            matches += [
                (school, district)
                for school in schools
                if query and query.casefold() in school["name"].casefold()
            ]
        state_pages = {state for state in states if published.latest_state_release(state)}
        states_shown = [
            {"code": code, "name": state_name(code), "districts": members,
             "has_page": code in state_pages}
            for code, members in sorted(states.items())
        ]  # fmt: skip
        context = {"states": states_shown, "query": query, "matches": matches}
        body = _page(
            "reports/index.html",
            context,
            language,
            f"?lang={language}" if chosen else "",
        )
    response = HttpResponse(body)
    patch_cache_control(response, public=True, max_age=60)
    patch_vary_headers(response, ("Accept-Language", "Cookie"))
    return response


@require_safe
@replica_reads(PUBLIC_READS)
def district_page(request: HttpRequest, district_id: int) -> HttpResponse:
    release = district_release(district_id)
    state = published.latest_state_release(release.content["district"]["state"])

    def render(language: str, query: str) -> bytes:
        report = Report(release.content, DISTRICT)
        context = report_context(release, report, state=state)
        context |= {
            "csv_url": reverse("reports:district-csv", args=[district_id]) + query,
            "methodology_url": reverse("reports:methodology", args=[district_id]) + query,
            "children": _children(
                _("Schools"), release.content["schools"], "reports:school", query
            ),
        }
        return _page("reports/report.html", context, language, query)

    return _respond(request, release, "district", render, also=state)


@require_safe
@replica_reads(PUBLIC_READS)
def school_page(request: HttpRequest, school_id: int) -> HttpResponse:
    release = school_release(school_id)
    state = published.latest_state_release(release.content["district"]["state"])

    def render(language: str, query: str) -> bytes:
        report = Report(release.content, school_scope(school_id))
        context = report_context(release, report, district=Report(release.content, DISTRICT),
                                 state=state)  # fmt: skip
        context |= {
            "csv_url": reverse("reports:school-csv", args=[school_id]) + query,
            "methodology_url": reverse("reports:methodology", args=[release.district_id]) + query,
        }
        return _page("reports/report.html", context, language, query)

    return _respond(request, release, f"school-{school_id}", render, also=state)


@require_safe
@replica_reads(PUBLIC_READS)
def state_page(request: HttpRequest, state: str) -> HttpResponse:
    release = state_release_or_404(state)

    def render(language: str, query: str) -> bytes:
        report = Report(release.content, STATE)
        context = report_context(release, report)
        context |= {
            "state": state_name(release.state),
            "csv_url": reverse("reports:state-csv", args=[release.state]) + query,
            "children": _children(
                _("Districts"), release.content["districts"], "reports:district", query
            ),
        }
        return _page("reports/report.html", context, language, query)

    return _respond(request, release, "state", render)


def state_release_or_404(state: str) -> published.PublishedState:
    release = published.latest_state_release(state.upper())
    if release is None:
        raise Http404("This state has published no report card yet.")
    return release


def _children(title: str, members: dict, url_name: str, query: str) -> dict:
    links = [(member["name"], reverse(url_name, args=[member["id"]]) + query)
             for member in members.values()]  # fmt: skip
    return {"title": title, "links": links}


def report_context(release, report: Report, *, district: Report | None = None,
                   state=None) -> dict:  # fmt: skip
    """What a report page shows of one scope: headline, comparison, charts, tables, marks.
    ``district`` and ``state``, when given, are compared with the scope's figures."""
    content = release.content
    tables = report.tables()
    return {
        "release": release,
        "content": content,
        "as_of": datetime.date.fromisoformat(content["as_of"]),
        "school": content["schools"].get(report.scope),
        "district": content["district"],
        "tables": tables,
        "headline": _headline(report),
        "charts": _charts(tables),
        "comparison": _comparison(report, district, state),
        "codes_used": _codes_used(tables),
        "not_held": report.not_held(),
        "not_reported": report.not_reported(),
    }


def _headline(report: Report) -> list[tuple[str, Value]]:
    figures = [
        (_("Students enrolled"), report.value("enrolled")),
        (_("Attendance rate"), report.value("attendance.rate")),
        (_("Chronically absent"), report.value("attendance.chronic.percent")),
    ]
    if report.has("english_progress.made.percent"):
        figures.append(
            (_("English learners making progress"), report.value("english_progress.made.percent"))
        )
    for subject in report.subjects:
        figures.append(
            (_("%(subject)s participation") % {"subject": subject},
             report.value(f"{subject}.assessed.percent"))
        )  # fmt: skip
    return figures


def _charts(tables: list[ReportTable]) -> list:
    charts = []
    for table in tables:
        if not table.id.startswith("assessment-"):
            continue
        row = table.row("all")
        levels = [(column.label, value) for column, value in zip(table.columns, row.values,
                  strict=True) if column.id.startswith("level")]  # fmt: skip
        title = _("%(table)s: all students by level") % {"table": table.title}
        charts.append((title, bar_chart(f"chart-{table.id}", title, levels)))
    return charts


def _comparison(report: Report, district: Report | None, state) -> dict | None:
    """The scope's figures for all students beside its district's and its state's."""
    others = []
    if district is not None:
        others.append((_("District"), district))
    if state is not None:
        others.append((_("State"), Report(state.content, STATE)))
    if not others:
        return None
    measures = [
        (_("Attendance rate"), "attendance.rate"),
        (_("Chronically absent"), "attendance.chronic.percent"),
    ]
    for subject in report.subjects:
        measures.append((_("%(subject)s participation") % {"subject": subject},
                         f"{subject}.assessed.percent"))  # fmt: skip
        for level in report.levels(subject):
            measures.append(
                (_("%(subject)s: level %(level)s") % {"subject": subject, "level": level},
                 f"{subject}.level{level}.percent")
            )  # fmt: skip
    if report.has("english_progress.made.percent"):
        measures.append((_("English learners making progress"), "english_progress.made.percent"))
    mine = _("This school") if report.content["schools"].get(report.scope) else _("This district")
    return {
        "title": _comparison_title(district is not None, state is not None),
        "caption": _("Figures for all students, side by side"),
        "headings": [mine, *(label for label, _other in others)],
        "rows": [(label, [report.value(measure), *(other.value(measure) for _l, other in others)])
                 for label, measure in measures],
    }  # fmt: skip


def _comparison_title(with_district: bool, with_state: bool) -> str:
    if with_district and with_state:
        return _("Compared with the district and the state")
    return _("Compared with the district") if with_district else _("Compared with the state")


def _codes_used(tables: list[ReportTable]) -> list[tuple[str, str]]:
    used = {value.code for table in tables for row in table.rows for value in row.values}
    return [(code.value, str(CODE_MEANINGS[code])) for code in Code if code.value in used]


@require_safe
@replica_reads(PUBLIC_READS)
def district_csv(request: HttpRequest, district_id: int) -> HttpResponse:
    release = district_release(district_id)
    return _csv_response(request, release, DISTRICT, f"district-{district_id}")


@require_safe
@replica_reads(PUBLIC_READS)
def school_csv(request: HttpRequest, school_id: int) -> HttpResponse:
    release = school_release(school_id)
    return _csv_response(request, release, school_scope(school_id), f"school-{school_id}")


@require_safe
@replica_reads(PUBLIC_READS)
def state_csv(request: HttpRequest, state: str) -> HttpResponse:
    release = state_release_or_404(state)
    return _csv_response(request, release, STATE, f"state-{release.state}")


CSV_HEADER = ("school_year", "as_of", "district", "school", "table", "row", "column", "value",
              "code", "code_meaning")  # fmt: skip


def _csv_response(
    request: HttpRequest, release: published.Published, scope: str, name: str
) -> HttpResponse:
    def render(language: str, query: str) -> bytes:
        return report_csv(release, scope).encode()

    response = _respond(request, release, f"csv-{scope}", render, "text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{name}-report-{release.school_year}.csv"'
    )
    return response


def report_csv(release: published.Published, scope: str) -> str:
    """Exactly what the page shows, one value per line: never a blank where a value is
    hidden, but its code, and the code's meaning beside it."""
    content = release.content
    school = content["schools"].get(scope, {}).get("name", "")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for table in Report(content, scope).tables():
        for row in table.rows:
            for column, value in zip(table.columns, row.values, strict=True):
                writer.writerow((
                    content["school_year"], content["as_of"], content["district"]["name"],
                    school, table.title, row.label, column.label, value.text,
                    value.code or "", value.meaning,
                ))  # fmt: skip
    return out.getvalue()


@require_safe
@replica_reads(PUBLIC_READS)
def methodology(request: HttpRequest, district_id: int) -> HttpResponse:
    release = district_release(district_id)

    def render(language: str, query: str) -> bytes:
        context = {
            "release": release,
            "content": release.content,
            "as_of": datetime.date.fromisoformat(release.content["as_of"]),
            "district": release.content["district"],
            "summary": release.certificate_summary,
            "ladder": _ladder(),
            "codes": [(code.value, str(CODE_MEANINGS[code])) for code in Code],
        }
        return _page("reports/methodology.html", context, language, query)

    return _respond(request, release, "methodology", render)


def _ladder() -> list[tuple[str, str, str]]:
    """REQUIREMENTS 14's ladder as rows: group size, low end, high end."""
    rows, above = [], None
    for smallest, low, high in PERCENT_LADDER:
        if above is None:
            size = _("%(n)s or more") % {"n": smallest}
        elif smallest == 0:
            size = _("fewer than %(n)s") % {"n": above}
        else:
            size = _("%(low)s to %(high)s") % {"low": smallest, "high": above - 1}
        rows.append((size, f"≤{low}%", f"≥{high}%"))
        above = smallest
    return rows
