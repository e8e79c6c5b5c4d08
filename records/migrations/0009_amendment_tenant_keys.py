from django.db import migrations

from records.composite_keys import add_composite_tenant_keys


class Migration(migrations.Migration):
    dependencies = [("records", "0008_amendments")]

    operations = [
        add_composite_tenant_keys("records.AmendmentRequest", "records.DisagreementStatement")
    ]
