"""Row-level security on this app's tenant tables (records/row_security.py)."""

from django.db import migrations

from records.row_security import EnableRowSecurity


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_state_releases")]

    operations = [
        EnableRowSecurity("reports_release"),
    ]
