"""Row-level security on this app's tenant tables (records/row_security.py)."""

from django.db import migrations

from records.row_security import EnableRowSecurity


class Migration(migrations.Migration):
    dependencies = [("access", "0011_csvdelivery_data_as_of")]

    operations = [
        EnableRowSecurity("access_auditchain"),
        EnableRowSecurity("access_accessevent"),
        EnableRowSecurity("access_accesseventstudent"),
        EnableRowSecurity("access_emergencyaccess"),
        EnableRowSecurity("access_provider"),
        EnableRowSecurity("access_providercontact"),
        EnableRowSecurity("access_providermember"),
        EnableRowSecurity("access_apiclient"),
        EnableRowSecurity("access_agreement"),
        EnableRowSecurity("access_grant"),
        EnableRowSecurity("access_dispositionattestation"),
        EnableRowSecurity("access_csvdelivery"),
    ]
