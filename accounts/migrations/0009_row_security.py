"""Row-level security on this app's tenant tables (records/row_security.py)."""

from django.db import migrations

from records.row_security import EnableRowSecurity


class Migration(migrations.Migration):
    dependencies = [("accounts", "0008_drop_axes_tables")]

    operations = [
        EnableRowSecurity("accounts_rolemembership"),
        EnableRowSecurity("accounts_invitation"),
        EnableRowSecurity("accounts_rolechange"),
    ]
