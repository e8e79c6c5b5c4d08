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
            hidden_cells=_hidden_cells(review),
            minimum_n=minimum_n,
            submitted_by=actor,
        )


def review_of(output: StudyOutput) -> output_review.Review:
    """A table waiting for its decision: audited now, against the tables approved before
    it. A decided one: its cells as they were decided (what was published never moves)."""
    table = output_review.ResultTable.from_json(output.table)
    if output.status != StudyOutput.Status.SUBMITTED:
        hidden = {tuple(cell) for cell in output.hidden_cells}
        return output_review.recorded_review(table, hidden, output.minimum_n)
    return output_review.review_table(
        table,
        minimum_n=output.minimum_n,
        width=_width(output.study),
        earlier=_earlier_tables(output.study, output),
    )


def _hidden_cells(review: output_review.Review) -> list[list[str]]:
    return [[cell.row, cell.column] for cell in review.cells if cell.hidden]


def output_decide(
    *, output: StudyOutput, actor, decision: str, reason: str = ""
) -> tuple[StudyOutput, bool]:
    """Approve the release with its hidden cells, or refuse it; and whether the table had
    to be checked again instead. Approving audits the table again, under the study's lock,
    against what was approved since it was submitted (or a changed width): when more
    cells must now be hidden, the new pattern is kept and nothing is decided, so the
    admin looks at the table again."""
    with transaction.atomic():
        Study.unscoped.select_for_update().filter(pk=output.study_id).first()
        output = StudyOutput.unscoped.select_for_update().get(pk=output.pk)
        if output.status != StudyOutput.Status.SUBMITTED:
            raise ValidationError(_("This table has already been decided."))
        if decision == "approve":
            hidden = _hidden_cells(review_of(output))
            if sorted(hidden) != sorted(output.hidden_cells):
                StudyOutput.unscoped.filter(pk=output.pk).update(hidden_cells=hidden)
                output.refresh_from_db()
                return output, True
        StudyOutput.unscoped.filter(pk=output.pk).update(
            status=StudyOutput.Status.APPROVED
            if decision == "approve"
            else StudyOutput.Status.REJECTED,
            decided_by=actor,
            decided_at=timezone.now(),
            decision_reason=reason.strip(),
        )
    output.refresh_from_db()
    return output, False


def published_csv(output: StudyOutput) -> str:
    """The approved table as it may be published: hidden cells never written."""
    return review_of(output).published_csv(output.minimum_n)
