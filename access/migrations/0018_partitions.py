"""The access log split into reads and disclosures, each partitioned by month
(records/partitions.py): reads older than ACCESS_LOG_RETENTION_MONTHS are dropped a
month at a time; disclosures, the record of disclosures, never are.

A student's row of an event now carries the event's time and kind: the log's rows are
partitioned by both. No foreign key ties it to its event any longer: a partition could
not then take in rows from the default one (a key is checked as a partition is detached),
and the chain check does the key's work better, as each event's hash covers its
students (access.audit.verify_chain): a row added, removed or changed breaks it."""

from django.db import migrations, models

from records.partitions import MONTH, PartitionTable, install_functions

# Both tables refuse UPDATE (access_log_append_only): the copy of each event's time
# onto its students' rows is the one change made to them, by this migration's owner.
FILL_POSTGRESQL = """
ALTER TABLE access_accesseventstudent DISABLE TRIGGER access_accesseventstudent_append_only;
UPDATE access_accesseventstudent s SET occurred_at = e.occurred_at, is_disclosure = e.is_disclosure
  FROM access_accessevent e WHERE e.id = s.event_id AND e.district_id = s.district_id;
ALTER TABLE access_accesseventstudent ENABLE TRIGGER access_accesseventstudent_append_only;
"""

FILL_SQLITE = """
UPDATE access_accesseventstudent SET
    occurred_at = (SELECT e.occurred_at FROM access_accessevent e
                    WHERE e.id = access_accesseventstudent.event_id),
    is_disclosure = (SELECT e.is_disclosure FROM access_accessevent e
                      WHERE e.id = access_accesseventstudent.event_id)
"""

SPLIT = ("is_disclosure", "reads", "disclosures")


def fill(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    schema_editor.execute(FILL_POSTGRESQL if postgres else FILL_SQLITE)


class Migration(migrations.Migration):
    dependencies = [("access", "0017_distribution_keys"), ("records", "0023_partitions")]

    operations = [
        migrations.AddField(
            model_name="accesseventstudent",
            name="occurred_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="accesseventstudent",
            name="is_disclosure",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="accesseventstudent", name="occurred_at", field=models.DateTimeField()
        ),
        PartitionTable("access_accessevent", "occurred_at", MONTH, split=SPLIT),
        PartitionTable("access_accesseventstudent", "occurred_at", MONTH, split=SPLIT),
        migrations.CreateModel(
            name="PrunedLogMonth",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("partition", models.CharField(max_length=63)),
                ("month", models.DateField()),
                ("dropped_at", models.DateTimeField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("partition",), name="access_prunedlogmonth_once"
                    )
                ],
            },
        ),
        install_functions(),
    ]
