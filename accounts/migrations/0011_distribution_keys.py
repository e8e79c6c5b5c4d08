"""Keys ready to distribute by district on Citus (records/distribution.py), for this
app's tenant tables (users are a reference table: their keys stay): primary keys
(district_id, id), unique constraints led by district_id, and the links between tenant
rows held by their composite keys alone (the fields say db_constraint=False from here
on). PostgreSQL only; the SQLite demo skips it.
"""

import django.db.models.deletion
from django.db import migrations, models

from records.distribution import DistributionKeys


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_user_session_generation"),
        ("records", "0021_distribution_keys"),
    ]

    operations = [
        DistributionKeys(
            "accounts.RoleMembership",
            "accounts.Invitation",
            "accounts.RoleChange",
        ),
        # Django's single-column keys are gone (DistributionKeys): the fields say so.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='rolechange',
                    name='membership',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='changes', to='accounts.rolemembership'),
                ),
                migrations.AlterField(
                    model_name='rolemembership',
                    name='school',
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='staff', to='records.school'),
                ),
            ],
        ),
    ]
