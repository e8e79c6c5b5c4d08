"""A state analyst's pages (``/state/``): every district of the state side by side, the
state's own report card, and building the next state release. Published aggregates only:
nothing here reads a student row, and ``access.aggregates`` decides who may open them."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from access.aggregates import analyst_states, may_analyse_state
from reports import published, tasks
from reports.cells import DISTRICT, STATE
from reports.state import latest_state_release
from reports.tables import Report, state_name
from studentdata.db.replica import primary_when_missing, replica_reads

# The all-students figures compared across districts: (label, measure) pairs.
FIGURES = (
    ("Students enrolled", "enrolled"),
    ("Attendance rate", "attendance.rate"),
    ("Chronically absent", "attendance.chronic.percent"),
)


@never_cache
@login_required
def state_home(request):
    """``/state/``: the analyst's one state, or the list of theirs."""
    states = analyst_states(request.user)
    if not states:
        raise PermissionDenied
    if len(states) == 1:
        return redirect("state:detail", state=states[0])
    return render(request, "reports/state/home.html", {"states": states})


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def state_detail(request, state: str):
    """``/state/<code>/``: the districts compared, and the state release."""
    if not may_analyse_state(request.user, state):
        raise PermissionDenied
    if request.method == "POST":
        tasks.build_state_release.delay(state)
        messages.success(request, _("The state's report card is being rebuilt from the "
                                    "districts' latest releases."))  # fmt: skip
        return redirect("state:detail", state=state)
    # Published releases only, once the analyst is allowed (above, on the primary).
    with replica_reads("a state analyst's comparison of published report cards"):
        districts = [
            (district, release)
            for district, release in published.districts_with_releases()
            if district.state == state
        ]
        state_release = primary_when_missing(lambda: latest_state_release(state))
    context = {
        "state": state,
        "state_name": state_name(state),
        "comparison": _district_comparison(districts, state_release),
        "state_release": state_release,
    }
    return render(request, "reports/state/detail.html", context)


def _district_comparison(districts, state_release) -> dict:
    """One row per district (the state's first): the all-students figures, and each
    subject's participation and levels."""
    reports = [(district, Report(release.content, DISTRICT)) for district, release in districts]
    if state_release is not None:
        reports.insert(0, (None, Report(state_release.content, STATE)))
    subjects = sorted({subject for _, report in reports for subject in report.subjects})
    columns = [(_(label), measure) for label, measure in FIGURES]
    for subject in subjects:
        columns.append((_("%(subject)s participation") % {"subject": subject},
                        f"{subject}.assessed.percent"))  # fmt: skip
        levels = sorted({level for _, report in reports for level in report.levels(subject)})
        columns += [
            (_("%(subject)s: level %(level)s") % {"subject": subject, "level": level},
             f"{subject}.level{level}.percent")
            for level in levels
        ]  # fmt: skip
    rows = [
        (district, [report.value(measure) for _label, measure in columns])
        for district, report in reports
    ]
    return {"headings": [label for label, _measure in columns], "rows": rows}
