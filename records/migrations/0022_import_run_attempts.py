"""ImportRun.attempts: how many times a worker started the run (records/leases.py)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0021_distribution_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="importrun",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
    ]
