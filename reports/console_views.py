"""The district admin's report cards (``/district/reports/``): the releases published so
far, "publish now" (a preview built by Celery, showing what will be hidden before anyone
sees it), and publishing or discarding a preview."""

from __future__ import annotations

import logging
from collections import Counter

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access.views.common import admin_pages
from records.models import District
from reports import services, tasks
from reports.cells import DISTRICT
from reports.models import Release
from reports.published import Published
from reports.services import split_key
from reports.tables import Report
from reports.views import report_context

RECENT = 20
logger = logging.getLogger(__name__)


def _release(request, release_id: int) -> Release:
    return get_object_or_404(Release.unscoped, district=request.viewer.district, pk=release_id)


class ProtectionSettingsForm(forms.ModelForm):
    """The district's own disclosure rules (REQUIREMENTS 12-13): the smallest group shown
    and the narrowest range a hidden small group may be narrowed to."""

    class Meta:
        model = District
        fields = ["min_cell_size", "suppression_width"]
        labels = {
            "min_cell_size": gettext_lazy("Smallest group shown"),
            "suppression_width": gettext_lazy("Narrowest range for a hidden group"),
        }
        help_texts = {
            "min_cell_size": gettext_lazy(
                "From 5 to 30 students. A count below it is hidden, zero included."
            ),
            "suppression_width": gettext_lazy(
                "From 5 to 50. Whatever the published figures are combined with, a hidden "
                "small group can never be narrowed to a smaller range of numbers."
            ),
        }


@admin_pages(methods=("GET", "HEAD", "POST"))
def release_list(request):
    """The releases, newest first; POST asks for a preview of today's figures."""
    if request.method == "POST":
        tasks.build_preview.delay(request.viewer.district.pk, request.user.pk)
        messages.success(request, _("A preview of today's figures is being built. It appears "
                                    "below when ready, usually within a minute."))  # fmt: skip
        return redirect("report-console:list")
    return _list_page(request, ProtectionSettingsForm(instance=request.viewer.district))


def _list_page(request, settings_form: ProtectionSettingsForm, status: int = 200):
    district = request.viewer.district
    # Listing needs the summary only: the JSON columns run to megabytes a release.
    releases = Release.unscoped.filter(district=district).defer(
        "content", "ledger", "table", "certificate"
    )  # fmt: skip
    context = {
        "district": district,
        "settings_form": settings_form,
        "previews": releases.filter(status=Release.Status.PREVIEW).order_by("-created_at"),
        "published": releases.filter(status=Release.Status.PUBLISHED).order_by("-published_at")[
            :RECENT
        ],
        "latest": services.latest_published(district.pk),
    }
    return render(request, "reports/console/list.html", context, status=status)


@admin_pages
def release_detail(request, release_id: int):
    """A release as the public would read it, with what the protection hid: for a
    preview, what publishing would show."""
    release = _release(request, release_id)
    content = release.content
    scope = request.GET.get("scope", DISTRICT)
    if scope != DISTRICT and scope not in content["schools"]:
        scope = DISTRICT
    report = Report(content, scope)
    district_report = Report(content, DISTRICT) if scope != DISTRICT else None
    context = {
        **report_context(
            Published.of(release, district_id=release.district_id),
            report,
            district=district_report,
        ),
        "the_release": release,
        "hidden_by_scope": _hidden_by_scope(release),
        "scope": scope,
        "may_publish": release.status == Release.Status.PREVIEW,
    }
    return render(request, "reports/console/detail.html", context)


def _hidden_by_scope(release: Release) -> list[tuple[str, str, int, int]]:
    """Per school (and the district): its name, scope, values below n and complements."""
    counts: dict[str, Counter] = {}
    for name, (_text, code) in release.content["values"].items():
        if code in ("SN", "SC"):
            counts.setdefault(split_key(name)[0], Counter())[code] += 1
    names = {DISTRICT: release.content["district"]["name"]}
    names |= {scope: school["name"] for scope, school in release.content["schools"].items()}
    return [
        (names[scope], scope, counts.get(scope, Counter())["SN"],
         counts.get(scope, Counter())["SC"])
        for scope in names
    ]  # fmt: skip


@admin_pages(methods=("POST",))
def release_publish(request, release_id: int):
    return _act(request, release_id, services.publish,
                _("Published. The public report cards now show these figures."))  # fmt: skip


@admin_pages(methods=("POST",))
def release_discard(request, release_id: int):
    return _act(request, release_id, services.discard, _("Preview discarded."))


def _act(request, release_id: int, action, done: str):
    """Publish or discard: back to the release with the reason when refused."""
    release = _release(request, release_id)
    try:
        action(release)
    except services.ReleaseError as refused:
        messages.error(request, str(refused))
        return redirect("report-console:detail", release_id=release.pk)
    messages.success(request, done)
    return redirect("report-console:list")


@admin_pages(methods=("POST",))
def protection_settings(request):
    """Saves the district's minimum n and width; the next release applies them. A group
    an earlier release of the school year hid stays hidden whatever they become."""
    district = District.objects.get(pk=request.viewer.district_id)
    form = ProtectionSettingsForm(request.POST, instance=district)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    # Only these two columns: a whole-row save could undo another setting changed since.
    form.save(commit=False).save(update_fields=form.changed_data)
    changed = {name: form.cleaned_data[name] for name in form.changed_data}
    logger.info("district %s report protection changed by user %s: %s", district.pk,
                request.user.pk, changed)  # fmt: skip
    messages.success(request, _("Saved. The next release uses them; a group hidden before "
                                "stays hidden."))  # fmt: skip
    return redirect("report-console:list")
