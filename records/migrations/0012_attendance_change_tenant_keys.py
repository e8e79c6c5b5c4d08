from django.db import migrations

from records.composite_keys import add_composite_tenant_keys


class Migration(migrations.Migration):
    dependencies = [("records", "0011_attendance_changes")]

    operations = [add_composite_tenant_keys("records.AttendanceChange")]
