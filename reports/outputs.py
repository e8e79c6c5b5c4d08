"""Output review: a researcher's result tables, checked by the public reports'
suppression audit before anything is published, and released by a district admin.

A table is audited together with the study's earlier approved tables: they describe the
same students, so an attacker differences one against another (``reports.output_review``).
The cells the audit hides are stored with the table when it is submitted; approving it
releases exactly that pattern, and later tables are audited against it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from access.models import Study
from reports import output_review
from reports.models import StudyOutput


def outputs_of(study: Study):
    return StudyOutput.unscoped.filter(district_id=study.district_id, study=study).select_related(
        "submitted_by", "decided_by"
    )


def _earlier_tables(study: Study, output: StudyOutput | None = None):
    """The tables published before ``output`` (all approved ones for a new table, or
    one not yet decided), each with the cells it hid: what an attacker holds beside it."""
    rows = outputs_of(study).filter(status=StudyOutput.Status.APPROVED)
    if output is not None:
        rows = rows.exclude(pk=output.pk)
        if output.decided_at is not None:
            rows = rows.filter(decided_at__lt=output.decided_at)
    return [
        (output_review.ResultTable.from_json(o.table), {tuple(cell) for cell in o.hidden_cells})
        for o in rows.order_by("decided_at", "pk")
    ]


def _width(study: Study) -> int:
    return study.district.suppression_width


def output_submit(*, study: Study, actor, title: str, upload) -> StudyOutput:
    """Parse the uploaded table (every problem listed, with its line and column), audit
    it against the study's approved tables, and keep it with the cells to hide."""
    data = upload.read(output_review.MAX_BYTES + 1)
    try:
        table = output_review.parse_result_table(data, name=upload.name)
    except output_review.ResultTableError as error:
        raise ValidationError(
            [
                _("Line %(line)s, column %(column)s: %(message)s")
                % {"line": p.line, "column": p.column, "message": p.message}
                for p in error.problems
            ]
        ) from error
    minimum_n = study.approved_version.min_cell_size
    with transaction.atomic():
        Study.unscoped.select_for_update().filter(pk=study.pk).first()  # one audit at a time
        review = output_review.review_table(
            table, minimum_n=minimum_n, width=_width(study), earlier=_earlier_tables(study)
        )
        return StudyOutput.unscoped.create(
            district_id=study.district_id,
            study=study,
            title=title,
            table=table.to_json(),
            hidden_cells=[[c.row, c.column] for c in review.cells if c.status != "shown"],
            minimum_n=minimum_n,
            submitted_by=actor,
        )


def review_of(output: StudyOutput) -> output_review.Review:
    """The audit of a table, against the tables approved before it."""
    return output_review.review_table(
        output_review.ResultTable.from_json(output.table),
        minimum_n=output.minimum_n,
        width=_width(output.study),
        earlier=_earlier_tables(output.study, output),
    )


def output_decide(*, output: StudyOutput, actor, decision: str, reason: str = "") -> StudyOutput:
    """Approve the release with its hidden cells, or refuse it. A table audited before
    another was approved is audited again first: it must still hide what it says."""
    if output.status != StudyOutput.Status.SUBMITTED:
        raise ValidationError(_("This table has already been decided."))
    with transaction.atomic():
        Study.unscoped.select_for_update().filter(pk=output.study_id).first()
        if decision == "approve":
            review = review_of(output)
            hidden = [[c.row, c.column] for c in review.cells if c.status != "shown"]
            if sorted(hidden) != sorted(output.hidden_cells):
                StudyOutput.unscoped.filter(pk=output.pk).update(hidden_cells=hidden)
                raise ValidationError(
                    _(
                        "Another table was approved since this one was checked: more cells must "
                        "now be hidden. Look at the table again, then decide."
                    )
                )
        StudyOutput.unscoped.filter(pk=output.pk).update(
            status=StudyOutput.Status.APPROVED
            if decision == "approve"
            else StudyOutput.Status.REJECTED,
            decided_by=actor,
            decided_at=timezone.now(),
            decision_reason=reason.strip(),
        )
    output.refresh_from_db()
    return output


def published_csv(output: StudyOutput) -> str:
    """The approved table as it may be published: hidden cells never written."""
    return review_of(output).published_csv(output.minimum_n)
