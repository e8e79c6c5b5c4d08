"""A study's extracts (ask, follow the build, download through an expiring link) and its
output review (submit a result table, see the cells the audit hides, the district's
decision). Who may follow a study is ``access.studies``'s to say; these pages ask it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from access import studies
from access.views.common import admin_pages
from access.views.studies import research_pages
from accounts.sign_in_guard import client_address
from reports import extracts, outputs
from reports.models import StudyExtract, StudyOutput
from reports.research_forms import OutputDecisionForm, OutputForm


@research_pages(methods=("POST",))
def extract_request(request, study_id):
    study = studies.study_for(request.user, request.viewer, study_id)
    try:
        extract = extracts.extract_request(actor=request.user, study=study)
    except extracts.ExtractRefused as refused:
        messages.error(request, str(refused))
        return redirect("access:study", study_id=study.pk)
    return redirect("research:extract", extract_id=extract.pk)


@research_pages
def extract_page(request, extract_id):
    """The build's progress (``?format=json`` for the bar), its release report, and a
    download link that works for ten minutes, for the study's named researchers."""
    extract = extracts.extract_for(request.user, request.viewer, extract_id)
    if request.GET.get("format") == "json":
        return JsonResponse(
            {"status": extract.status, "progress": extract.progress, "stage": extract.stage}
        )
    may_download = extracts.may_download(request.user, extract)
    context = {
        "extract": extract,
        "study": extract.study,
        "report": extract.report,
        "building": extract.status in extracts.IN_PROGRESS,
        "may_download": may_download,
        "token": extracts.download_token(extract, request.user) if may_download else "",
        "link_minutes": extracts.LINK_MINUTES,
        "downloads": extract.downloads.select_related("user").order_by("-downloaded_at")[:50],
    }
    return render(request, "reports/research/extract.html", context)


@research_pages
def extract_download(request, extract_id, token):
    """The expiring link: the zip, to the researcher it was made for, while the study is
    in force; each download logged. Anything else: 410 with the reason."""
    extract = extracts.extract_for(request.user, request.viewer, extract_id)
    if not extracts.token_valid(token, extract, request.user):
        return _gone(
            request, extract, _("This link has expired. Open the extract's page for a new one.")
        )
    if not extracts.may_download(request.user, extract):
        return _gone(
            request,
            extract,
            _(
                "Only the study's named researchers may download its extracts, while the "
                "study is approved and in force."
            ),
        )
    try:
        handle = extract.file.open("rb")
    except FileNotFoundError:
        return _gone(request, extract, _("The extract's file no longer exists."))
    extracts.download_record(
        extract=extract, user=request.user, client_address=client_address(request)
    )
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"study-{extract.study_id}-extract-{extract.pk}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "no-store"
    return response


def _gone(request, extract: StudyExtract, reason: str) -> HttpResponse:
    context = {"extract": extract, "study": extract.study, "reason": reason}
    return render(request, "reports/research/gone.html", context, status=410)


# -- output review -----------------------------------------------------------------------


@research_pages(methods=("GET", "HEAD", "POST"))
def output_list(request, study_id):
    """``/research/<id>/outputs/``: the study's result tables and a new one to check."""
    study = studies.study_for(request.user, request.viewer, study_id)
    may_submit = studies.may_receive(request.user, study)  # the agreement's researchers
    form = OutputForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if not may_submit:
            raise PermissionDenied
        if form.is_valid():
            try:
                output = outputs.output_submit(
                    study=study,
                    actor=request.user,
                    title=form.cleaned_data["title"],
                    upload=form.cleaned_data["table"],
                )
            except ValidationError as refused:
                form.add_error("table", refused.messages)
            else:
                return redirect("research:output", study_id=study.pk, output_id=output.pk)
    context = {
        "study": study,
        "outputs": outputs.outputs_of(study),
        "form": form,
        "may_submit": may_submit,
        "is_admin": studies.may_review(request.viewer, study),
    }
    return render(
        request, "reports/research/outputs.html", context, status=400 if form.errors else 200
    )


def _output(request, study_id, output_id) -> tuple:
    study = studies.study_for(request.user, request.viewer, study_id)
    output = get_object_or_404(outputs.outputs_of(study), pk=output_id)
    return study, output


@research_pages
def output_page(request, study_id, output_id):
    """The table as the audit leaves it: each cell shown or hidden (and why), the
    intervals an attacker can still prove, the district's decision."""
    study, output = _output(request, study_id, output_id)
    if request.GET.get("format") == "csv":
        if output.status != StudyOutput.Status.APPROVED:
            raise PermissionDenied
        response = HttpResponse(outputs.published_csv(output), content_type="text/csv")
        response["Content-Disposition"] = (
            f'attachment; filename="study-{study.pk}-output-{output.pk}.csv"'
        )
        return response
    context = {
        "study": study,
        "output": output,
        "review": outputs.review_of(output),
        "is_admin": studies.may_review(request.viewer, study),
        "decision_form": OutputDecisionForm(),
    }
    return render(request, "reports/research/output.html", context)


@admin_pages(methods=("POST",))
def output_decide(request, study_id, output_id):
    study, output = _output(request, study_id, output_id)
    form = OutputDecisionForm(request.POST)
    if form.is_valid():
        try:
            _decided, rechecked = outputs.output_decide(
                output=output, actor=request.user, **form.cleaned_data
            )
        except ValidationError as refused:
            form.add_error(None, refused.messages)
        else:
            if rechecked:
                messages.warning(
                    request,
                    _(
                        "Another table was approved since this one was checked, or the "
                        "width changed: more cells must now be hidden. Look at the table "
                        "again, then decide."
                    ),
                )
            else:
                messages.success(request, _("The decision was recorded."))
            return redirect("research:output", study_id=study.pk, output_id=output.pk)
    context = {
        "study": study,
        "output": output,
        "review": outputs.review_of(output),
        "is_admin": True,
        "decision_form": form,
        "now": timezone.now(),
    }
    return render(request, "reports/research/output.html", context, status=400)
