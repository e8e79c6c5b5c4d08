"""Research extracts and outputs: composite tenant keys and row-level security."""

from django.db import migrations

from records.composite_keys import add_composite_tenant_keys
from records.row_security import EnableRowSecurity


class Migration(migrations.Migration):
    dependencies = [("reports", "0007_studies"), ("access", "0014_study_rules")]

    operations = [
        add_composite_tenant_keys(
            "reports.StudyExtract", "reports.ExtractDownload", "reports.StudyOutput"
        ),
        EnableRowSecurity("reports_studyextract"),
        EnableRowSecurity("reports_extractdownload"),
        EnableRowSecurity("reports_studyoutput"),
    ]
