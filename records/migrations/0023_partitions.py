"""Attendance marks and assessment results partitioned by school year
(records/partitions.py).

(The functions that make partitions while the product runs come with the access log's
partitions, access migration 0018.) A correction of a mark now carries the mark's date:
the partitioned marks' keys all include it, and so does the composite key that ties a
correction to its mark."""

from django.db import migrations, models

from records.partitions import SCHOOL_YEAR, PartitionTable

FILL_RECORD_DATES = """
UPDATE records_attendancechange c SET record_date = r.date
  FROM records_attendancerecord r WHERE r.id = c.record_id AND r.district_id = c.district_id
"""

CHANGE_TO_MARK_KEY = """
ALTER TABLE records_attendancechange ADD CONSTRAINT records_attendancechange_record_id_tenant_fk
    FOREIGN KEY (district_id, record_id, record_date)
    REFERENCES records_attendancerecord (district_id, id, date)
    ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED
"""


def postgresql(sql: str) -> migrations.RunPython:
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, None)

    return migrations.RunPython(run, migrations.RunPython.noop, elidable=False)


def fill_record_dates(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FILL_RECORD_DATES)
    else:
        schema_editor.execute(
            "UPDATE records_attendancechange SET record_date = (SELECT r.date FROM "
            "records_attendancerecord r WHERE r.id = records_attendancechange.record_id)"
        )


class Migration(migrations.Migration):
    # Each table is rebuilt in its own transaction's time; keep them in one migration so
    # a failure leaves the schema as it was.
    dependencies = [
        ("records", "0022_import_run_attempts"),
        ("access", "0017_distribution_keys"),
        ("accounts", "0011_distribution_keys"),
        ("reports", "0010_release_build_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="attendancechange",
            name="record_date",
            field=models.DateField(null=True),
        ),
        migrations.RunPython(fill_record_dates, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="attendancechange",
            name="record",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=models.deletion.CASCADE,
                related_name="changes",
                to="records.attendancerecord",
            ),
        ),
        migrations.AlterField(
            model_name="attendancechange", name="record_date", field=models.DateField()
        ),
        PartitionTable("records_attendancerecord", "date", SCHOOL_YEAR),
        PartitionTable("records_assessmentresult", "administered_on", SCHOOL_YEAR),
        postgresql(CHANGE_TO_MARK_KEY),
    ]
