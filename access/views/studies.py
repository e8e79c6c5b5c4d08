"""Research studies: a researcher's pages at ``/research/`` (propose, edit, submit,
amend, attest destruction) and the district admin's at ``/district/studies/`` (review,
decide, invite researchers, attest on their behalf).

A study a person may not follow answers 404, like one that does not exist; a page of
the researchers' answers 403 to anyone signed in who is neither a researcher nor the
district's admin.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from access import studies
from access.districts import may_manage_district
from access.forms import GRADE_CHOICES
from access.models import Researcher, Study, StudyVersion
from access.study_forms import (
    DecisionForm,
    ExtractProtectionForm,
    ResearcherInviteForm,
    StudyAttestationForm,
    StudyProposalForm,
)
from access.views.common import admin_pages, apply_errors
from accounts.models import User
from records.models import District, School

GRADE_LABELS = dict(GRADE_CHOICES)


def research_pages(view=None, *, methods=("GET", "HEAD")):
    """Pages of researchers (and of the district's admins, who follow every study)."""

    def decorate(view):
        @never_cache
        @login_required
        @require_http_methods(list(methods))
        def wrapper(request, *args, **kwargs):
            if not studies.is_researcher(request.user) and not may_manage_district(request.viewer):
                raise PermissionDenied
            district = request.user.district
            with timezone.override(district.zone):
                return view(request, *args, **kwargs)

        wrapper.__name__ = view.__name__
        wrapper.__doc__ = view.__doc__
        return wrapper

    return decorate(view) if view is not None else decorate


def _versions(study: Study):
    return StudyVersion.unscoped.filter(district_id=study.district_id, study=study).order_by(
        "-number"
    )


def study_context(request, study: Study) -> dict:
    """What a study's pages show, for researchers and admins alike."""
    from reports.models import StudyExtract  # reports builds on access, not the reverse

    latest = studies.latest_version(study)
    today = study.district.today()
    return {
        "study": study,
        "latest": latest,
        "agreement": study.approved_version,
        "versions": _versions(study).select_related("decided_by"),
        "in_force": studies.in_force(study, today=today),
        "may_edit": studies.may_edit(request.user, study),
        "may_revise": studies.may_revise(request.user, study),
        "may_receive": studies.may_receive(request.user, study, today=today),
        "is_admin": studies.may_review(request.viewer, study),
        "extracts": StudyExtract.unscoped.filter(district_id=study.district_id, study=study)
        .select_related("requested_by")
        .order_by("-requested_at", "-pk")[:20],
        "attestation_due": study.status == Study.Status.CLOSED and study.destroyed_on is None,
        "today": today,
    }


# -- the researcher's pages ------------------------------------------------------------


@research_pages
def research_home(request):
    """``/research/``: the person's studies, and a new proposal."""
    if may_manage_district(request.viewer) and not studies.is_researcher(request.user):
        return redirect("access:studies")
    rows = [
        study
        for study in studies.studies_for(request.user, request.viewer)
        if studies.may_follow(request.user, request.viewer, study)
    ]
    return render(request, "access/studies/research_home.html", {"studies": rows})


@research_pages(methods=("POST",))
def study_create(request):
    title = request.POST.get("title", "").strip()[:200]
    if not title:
        messages.error(request, _("Give the study a title."))
        return redirect("access:research")
    try:
        study = studies.study_propose(user=request.user, title=title)
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
        return redirect("access:research")
    return redirect("access:study-edit", study_id=study.pk)


@research_pages
def study_page(request, study_id):
    """``/research/<id>/``: the study, its agreement, its versions and its extracts."""
    study = studies.study_for(request.user, request.viewer, study_id)
    context = study_context(request, study)
    context["attestation_form"] = StudyAttestationForm()
    return render(request, "access/studies/study.html", context)


@research_pages(methods=("GET", "HEAD", "POST"))
def study_edit(request, study_id):
    """The draft's form: ``save`` keeps it as a draft, ``submit`` sends it for review
    once every part of the agreement is there."""
    study = studies.study_for(request.user, request.viewer, study_id)
    if not studies.may_edit(request.user, study):
        raise PermissionDenied
    version = studies.latest_version(study)
    submitting = request.method == "POST" and "submit" in request.POST
    form = StudyProposalForm(
        request.POST or None, request.FILES or None, version=version, submitting=submitting
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            # Another researcher of the study may have sent it for review meanwhile.
            form.version = StudyVersion.unscoped.select_for_update().get(pk=version.pk)
            if form.version.state != StudyVersion.State.DRAFT:
                messages.error(request, _("This version was sent for review meanwhile."))
                return redirect("access:study", study_id=study.pk)
            form.apply()
            if submitting:
                studies.version_submit(version=form.version, actor=request.user)
        if submitting:
            messages.success(request, _("The proposal was sent to the district for review."))
            return redirect("access:study", study_id=study.pk)
        messages.success(request, _("The draft was saved."))
        return redirect("access:study-edit", study_id=study.pk)
    context = {"study": study, "version": version, "form": form}
    return render(
        request, "access/studies/proposal_form.html", context, status=400 if form.errors else 200
    )


@research_pages(methods=("POST",))
def study_revise(request, study_id):
    """A new version to edit: an amendment, or the revision the reviewer asked for."""
    study = studies.study_for(request.user, request.viewer, study_id)
    if not studies.may_revise(request.user, study):
        raise PermissionDenied
    try:
        studies.version_revise(study=study, actor=request.user)
    except ValidationError as refused:  # a second click, or the study just closed
        messages.error(request, " ".join(refused.messages))
        return redirect("access:study", study_id=study.pk)
    return redirect("access:study-edit", study_id=study.pk)


@research_pages
def version_page(request, study_id, number):
    """One version in full: what the agreement (or the proposal) says."""
    study = studies.study_for(request.user, request.viewer, study_id)
    version = get_object_or_404(_versions(study), number=number)
    context = {"study": study, "version": version, **version_facts(version)}
    return render(request, "access/studies/version.html", context)


def version_facts(version: StudyVersion) -> dict:
    """A version's schools, researchers, years and grades by name, for its pages."""
    names = dict(
        School.unscoped.filter(
            district_id=version.district_id, pk__in=version.school_ids
        ).values_list("pk", "name")
    )
    people = User.objects.filter(district_id=version.district_id, pk__in=version.researcher_ids)
    return {
        "elements": [
            (studies.ELEMENTS_BY_CODE[item["element"]], item["question"])
            for item in version.data_elements
            if item["element"] in studies.ELEMENTS_BY_CODE
        ],
        "school_names": [names[pk] for pk in version.school_ids if pk in names],
        "researchers": sorted(p.get_full_name() or p.username for p in people),
        "years": [f"{y - 1}–{str(y)[-2:]}" for y in version.school_years],
        "grades": [str(GRADE_LABELS.get(code, code)) for code in version.grade_levels],
    }


@research_pages
def irb_file(request, study_id, number):
    """The IRB approval letter of a version, to the study's researchers and admins."""
    study = studies.study_for(request.user, request.viewer, study_id)
    version = get_object_or_404(_versions(study), number=number)
    if not version.irb_file:
        raise Http404("No file.")
    response = FileResponse(
        version.irb_file.open("rb"),
        as_attachment=True,
        filename=f"study-{study.pk}-v{version.number}-irb.pdf",
        content_type="application/pdf",
    )
    response["Cache-Control"] = "no-store"
    return response


@research_pages(methods=("POST",))
def study_attest(request, study_id):
    """The researchers' destruction attestation (or the district's, on their behalf)."""
    study = studies.study_for(request.user, request.viewer, study_id)
    if not (
        studies.is_study_researcher(request.user, study)
        or studies.may_review(request.viewer, study)
    ):
        raise PermissionDenied
    form = StudyAttestationForm(request.POST)
    if form.is_valid():
        try:
            studies.attestation_record(study=study, actor=request.user, **form.cleaned_data)
        except ValidationError as refused:
            apply_errors(form, refused)
        else:
            messages.success(request, _("The destruction attestation was recorded."))
            return redirect(_back(request, study))
    context = study_context(request, study)
    context["attestation_form"] = form
    template = "access/studies/review.html" if context["is_admin"] else "access/studies/study.html"
    return render(request, template, context, status=400)


def _back(request, study: Study) -> str:
    from django.urls import reverse

    if studies.may_review(request.viewer, study):
        return reverse("access:study-review", kwargs={"study_id": study.pk})
    return reverse("access:study", kwargs={"study_id": study.pk})


# -- the district's pages ---------------------------------------------------------------


def _list_context(request, invite_form=None, protection_form=None) -> dict:
    district = request.viewer.district
    rows = list(studies.studies_for(request.user, request.viewer))
    latest = {
        v.study_id: v
        for v in StudyVersion.unscoped.filter(
            district=district, study__in=[s.pk for s in rows]
        ).order_by("study_id", "number")
    }
    return {
        "waiting": [s for s in rows if latest[s.pk].state == StudyVersion.State.SUBMITTED],
        "studies": [(s, latest[s.pk]) for s in rows],
        "overdue": list(studies.attestations_overdue(district.pk, district.today())),
        "researchers": studies.district_researchers(district.pk),
        "invite_form": invite_form or ResearcherInviteForm(),
        "protection_form": protection_form or ExtractProtectionForm(instance=district),
    }


@admin_pages
def study_list(request):
    """``/district/studies/``: proposals waiting, studies in force and closed, overdue
    destruction attestations, and the district's researchers."""
    return render(request, "access/studies/district_list.html", _list_context(request))


def _review_page(request, study, *, decision_form=None, status=200):
    context = study_context(request, study)
    context["decision_form"] = decision_form or DecisionForm(
        initial={"version": context["latest"].number}
    )
    context["attestation_form"] = StudyAttestationForm()
    context.update(version_facts(context["latest"]))
    agreement, latest = context["agreement"], context["latest"]
    if agreement is not None and agreement.pk != latest.pk:
        context["changed"] = changed_parts(agreement, latest)
    return render(request, "access/studies/review.html", context, status=status)


def changed_parts(before: StudyVersion, after: StudyVersion) -> list[str]:
    """What an amendment changes of the agreement, by the proposal form's labels."""
    labels = {name: field.label for name, field in StudyProposalForm.base_fields.items()}
    labels["data_elements"] = _("Data elements")
    return [
        str(labels[name])
        for name in studies.VERSION_FIELDS
        if name in labels and getattr(before, name) != getattr(after, name)
    ]


@admin_pages
def study_review(request, study_id):
    """``/district/studies/<id>/``: the latest version in full, the decision form while it
    waits, the agreement in force, extracts, outputs to decide."""
    study = studies.study_for(request.user, request.viewer, study_id)
    return _review_page(request, study)


@admin_pages(methods=("POST",))
def study_decide(request, study_id):
    study = studies.study_for(request.user, request.viewer, study_id)
    form = DecisionForm(request.POST)
    latest = studies.latest_version(study)
    if form.is_valid() and form.cleaned_data["version"] != latest.number:
        form.add_error(None, _("A newer version was sent meanwhile: read it, then decide."))
    if form.is_valid():
        try:
            studies.version_decide(
                version=latest,
                actor=request.user,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as refused:
            apply_errors(form, refused)
        else:
            messages.success(request, _("The decision was recorded; the researchers can read it."))
            return redirect("access:study-review", study_id=study.pk)
    return _review_page(request, study, decision_form=form, status=400)


@admin_pages(methods=("POST",))
def researcher_invite(request):
    form = ResearcherInviteForm(request.POST)
    if form.is_valid():
        try:
            studies.researcher_invite(
                actor=request.user, district=request.viewer.district, **form.cleaned_data
            )
        except ValidationError as refused:
            apply_errors(form, refused)
        else:
            messages.success(
                request, _("The researcher was added and emailed a link to choose a password.")
            )
            return redirect("access:studies")
    context = _list_context(request, invite_form=form)
    return render(request, "access/studies/district_list.html", context, status=400)


@admin_pages(methods=("POST",))
def extract_protection(request):
    """Saves the district's k; the next extract applies it."""
    district = District.objects.get(pk=request.viewer.district_id)
    form = ExtractProtectionForm(request.POST, instance=district)
    if not form.is_valid():
        context = _list_context(request, protection_form=form)
        return render(request, "access/studies/district_list.html", context, status=400)
    # Only this column: a whole-row save could undo another setting changed since.
    form.save(commit=False).save(update_fields=["k_anonymity"])
    messages.success(request, _("Saved. The next extract applies it."))
    return redirect("access:studies")


@admin_pages(methods=("POST",))
def researcher_remove(request, researcher_id):
    researcher = get_object_or_404(
        Researcher.unscoped, district=request.viewer.district, pk=researcher_id
    )
    studies.researcher_remove(researcher=researcher)
    messages.success(request, _("This person can no longer propose studies or receive extracts."))
    return redirect("access:studies")
