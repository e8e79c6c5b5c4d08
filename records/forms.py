"""Forms of the records pages."""

from __future__ import annotations

from django import forms

from records.models import ImportRun
from records.services import import_upload_validate


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="OneRoster file (.zip)",
        error_messages={
            "required": "Choose the OneRoster .zip file to upload.",
            "empty": "This file is empty.",
        },
        widget=forms.FileInput(attrs={"accept": ".zip,application/zip"}),
    )
    strict = forms.BooleanField(required=False, label="Strict")
    dry_run = forms.BooleanField(required=False, label="Dry run")

    def clean_file(self):
        uploaded = self.cleaned_data["file"]
        import_upload_validate(uploaded_file=uploaded, kind=ImportRun.Kind.ONEROSTER)
        return uploaded
