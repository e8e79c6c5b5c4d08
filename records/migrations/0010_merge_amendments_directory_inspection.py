from django.db import migrations


class Migration(migrations.Migration):
    """Amendments and directory/inspection requests were built side by side."""

    dependencies = [
        ("records", "0009_amendment_tenant_keys"),
        ("records", "0009_directory_inspection_tenant_keys"),
    ]

    operations = []
