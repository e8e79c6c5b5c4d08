from django.db import migrations

from records.composite_keys import add_composite_tenant_keys


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_invitations")]

    operations = [add_composite_tenant_keys("accounts.Invitation")]
