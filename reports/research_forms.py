"""The forms of output review: a researcher's result table, a district admin's decision."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from reports import output_review


class OutputForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    table = forms.FileField(
        label=_("Result table (CSV of counts)"),
        help_text=_(
            "First row: a heading, then the column labels; then one row per group. A "
            "column or row named “Total” holds totals."
        ),
    )

    def clean_table(self):
        upload = self.cleaned_data["table"]
        if upload.size > output_review.MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MB."))
        return upload


class OutputDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        widget=forms.RadioSelect,
        choices=[
            ("approve", _("Approve the release, with the cells marked hidden")),
            ("reject", _("Do not approve")),
        ],
    )
    reason = forms.CharField(
        label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
