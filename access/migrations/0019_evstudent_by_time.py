"""A child's logged reads indexed by time (access.family.child_reader_days finds the
newest without reading them all); the event stays in the index for the lists that
join it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("access", "0018_partitions")]

    operations = [
        migrations.RemoveIndex(model_name="accesseventstudent", name="access_evstudent_idx"),
        migrations.AddIndex(
            model_name="accesseventstudent",
            index=models.Index(
                fields=["district", "student", "occurred_at", "event"],
                name="access_evstudent_idx",
            ),
        ),
    ]
