from django.db import migrations

from records.composite_keys import add_composite_tenant_keys


class Migration(migrations.Migration):
    dependencies = [("records", "0008_directory_inspection")]

    operations = [
        add_composite_tenant_keys("records.DirectoryOptOutChange", "records.InspectionRequest")
    ]
