"""The district admin's import pages: upload a OneRoster bundle, follow it, read its report.

Only an active district admin reaches them, and only for their own district: the
upload page answers 403 to anyone else signed in, a run answers 404 (whether it does
not exist or belongs to someone else's district).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from access.districts import may_manage_district
from records.forms import ImportUploadForm
from records.importers.limits import ImportLimits
from records.importers.oneroster.bundle import upload_admits
from records.importers.report import ACTIONS, ImportReport, split_stored_issues
from records.models import ImportRun
from records.selectors import import_run_get, import_run_list, import_run_progress
from records.services import import_run_create

RUNS_PER_PAGE = 20
FINISHED = frozenset(
    {ImportRun.Status.SUCCEEDED, ImportRun.Status.REJECTED, ImportRun.Status.FAILED}
)
PHASE_LABELS = {
    "queued": "Queued: the import will start in a moment.",
    "waiting": "Waiting for an earlier import of this district to finish.",
    "starting": "Starting the import.",
    "reading": "Reading and checking the files.",
    "applying": "Applying the changes.",
}
# The importer's entities, in the order it applies them, named for a school office.
ENTITY_LABELS = {
    "schools": "Schools",
    "academic_sessions": "Terms and school years",
    "courses": "Courses",
    "sections": "Classes",
    "users": "User accounts",
    "students": "Students",
    "role_memberships": "Staff roles",
    "school_memberships": "Students' schools",
    "guardian_links": "Parents and guardians",
    "enrollments": "Class enrollments",
    "section_teachers": "Class teachers",
    "demographics": "Demographics",
    "grades": "Grades",
}
ENTITY_ORDER = {entity: n for n, entity in enumerate(ENTITY_LABELS)}


def _managed_district(request):
    if not may_manage_district(request.viewer):
        raise PermissionDenied
    return request.viewer.district


def _run_or_404(request, run_id: int) -> ImportRun:
    """The run, if it is of a district this viewer manages; 404 alike for missing and not yours."""
    if not may_manage_district(request.viewer):
        raise Http404
    run = import_run_get(district_id=request.viewer.district_id, run_id=run_id)
    if run is None:
        raise Http404
    return run


def _changes(counts: dict) -> int:
    return sum(
        c.get("created", 0) + c.get("updated", 0) + c.get("ended", 0) for c in counts.values()
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def import_list(request):
    """``/district/imports/``: the upload form and the district's past runs."""
    district = _managed_district(request)
    status = 200
    limits = ImportLimits.of(district)
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES)
        if form.is_valid() and _admitted(form, limits):
            run = import_run_create(
                actor=request.user,
                district=district,
                uploaded_file=form.cleaned_data["file"],
                strict=form.cleaned_data["strict"],
                dry_run=form.cleaned_data["dry_run"],
            )
            return redirect("records:import-detail", run_id=run.pk)
        status = 400
    else:
        form = ImportUploadForm()
    page = Paginator(import_run_list(district_id=district.pk), RUNS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    for run in page:
        run.changes = _changes(run.counts) if run.status == ImportRun.Status.SUCCEEDED else None
    context = {
        "form": form,
        "page": page,
        "district": district,
        "zone": district.zone,
        "max_size": settings.IMPORT_MAX_BYTES,
        "max_file_size": limits.file_bytes,
    }
    return render(request, "records/imports/list.html", context, status=status)


def _admitted(form: ImportUploadForm, limits: ImportLimits) -> bool:
    """A zip whose files say they are over the district's limits is refused at once (from
    its directory, nothing unpacked); the worker checks again as it reads."""
    uploaded = form.cleaned_data["file"]
    problems = ImportReport()
    if upload_admits(uploaded, uploaded.name or "", limits, problems):
        return True
    for issue in problems.errors:
        form.add_error("file", f"{issue}.")
    return False


@never_cache
@require_safe
@login_required
def import_detail(request, run_id: int):
    """``/district/imports/<id>/``: progress while it runs, the report once it has."""
    run = _run_or_404(request, run_id)
    progress = import_run_progress(run=run)
    errors, errors_omitted = split_stored_issues(run.errors)
    warnings, warnings_omitted = split_stored_issues(run.warnings)
    context = {
        "run": run,
        "zone": request.viewer.district.zone,
        "finished": run.status in FINISHED,
        "progress": progress,
        "phase_label": _phase_label(progress["phase"]),
        "progress_text": _progress_text(progress),
        "counts": _count_rows(run.counts),
        "changes": _changes(run.counts),
        # At most the first 1,000 of each are stored; the rest are counted.
        "errors": [_placed(issue) for issue in errors],
        "warnings": [_placed(issue) for issue in warnings],
        "error_count": len(errors) + errors_omitted,
        "errors_omitted": errors_omitted,
        "warning_count": len(warnings) + warnings_omitted,
        "warnings_omitted": warnings_omitted,
    }
    return render(request, "records/imports/detail.html", context)


@never_cache
@require_safe
@login_required
def import_progress(request, run_id: int):
    """``/district/imports/<id>/progress/``: ``{status, phase, done, total}`` as JSON."""
    run = _run_or_404(request, run_id)
    return JsonResponse(import_run_progress(run=run))


def _phase_label(phase: str) -> str:
    return PHASE_LABELS.get(phase) or phase.replace("_", " ").capitalize() + "."


def _progress_text(progress: dict) -> str:
    if not progress["total"]:
        return ""
    return f"{progress['done']:,} of {progress['total']:,} rows"


def _entity_label(entity: str) -> str:
    if entity in ENTITY_LABELS:
        return ENTITY_LABELS[entity]
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", entity).replace("_", " ")
    return words[:1].upper() + words[1:].lower()


def _count_rows(counts: dict) -> dict:
    rows = [
        {"label": _entity_label(entity), "numbers": [c.get(a, 0) for a in ACTIONS]}
        for entity, c in sorted(
            counts.items(), key=lambda item: (ENTITY_ORDER.get(item[0], len(ENTITY_ORDER)), item[0])
        )
    ]
    totals = [sum(row["numbers"][i] for row in rows) for i in range(len(ACTIONS))]
    return {"actions": [a.capitalize() for a in ACTIONS], "rows": rows, "totals": totals}


def _placed(issue: dict) -> dict:
    """An issue with its place in words: "users.csv, line 12, column 5 (birthDate)"."""
    parts = [issue.get("file") or ""]
    if issue.get("line") is not None:
        parts.append(f"line {issue['line']}")
    if issue.get("column") is not None:
        parts.append(f"column {issue['column']}")
    place = ", ".join(p for p in parts if p)
    if issue.get("column_name"):
        place = f"{place} ({issue['column_name']})" if place else issue["column_name"]
    return {**issue, "place": place}
