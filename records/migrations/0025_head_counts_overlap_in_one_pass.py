"""The head counts' triggers find students of two schools at once in one pass over their
memberships, not by a self-join (records/head_counts.py, ``_overlapping_students``)."""

from django.db import migrations

from records.head_counts import replace_trigger_functions


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0024_head_counts"),
    ]

    operations = [replace_trigger_functions()]
