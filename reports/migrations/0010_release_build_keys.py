"""Release.build_key and StateRelease.build_key: the message that built a release, so a
message delivered twice builds one (reports/tasks.py).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0009_distribution_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="release",
            name="build_key",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddField(
            model_name="staterelease",
            name="build_key",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddConstraint(
            model_name="release",
            constraint=models.UniqueConstraint(
                condition=models.Q(("build_key", ""), _negated=True),
                fields=("district", "build_key"),
                name="reports_release_built_once",
            ),
        ),
        migrations.AddConstraint(
            model_name="staterelease",
            constraint=models.UniqueConstraint(
                condition=models.Q(("build_key", ""), _negated=True),
                fields=("build_key",),
                name="reports_state_built_once",
            ),
        ),
    ]
