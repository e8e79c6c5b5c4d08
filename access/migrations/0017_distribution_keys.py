"""Keys ready to distribute by district on Citus (records/distribution.py), for this
app's tenant tables and the students' cache epochs: primary keys (district_id, id) (the
epochs' (district_id, student_id)), unique constraints led by district_id, and the links
between tenant rows held by their composite keys alone (the fields say
db_constraint=False from here on). PostgreSQL only; the SQLite demo skips it.
"""

import django.db.models.deletion
from django.db import migrations, models

from records.distribution import DistributionKeys

# The students' epochs are keyed (district_id, student_id) now: the trigger function of
# access/migrations/0007_cache_epochs.py, with that conflict target (and back).
STUDENT_EPOCHS_FUNCTION = """
CREATE OR REPLACE FUNCTION access_bump_student_epochs() RETURNS trigger AS $$
DECLARE
    changed text;
BEGIN
    IF access_epochs_deferred() THEN
        RETURN NULL;
    END IF;
    changed := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT student_id, district_id FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT student_id, district_id FROM old_rows'
        ELSE 'SELECT student_id, district_id FROM new_rows '
             'UNION SELECT student_id, district_id FROM old_rows'
    END;
    EXECUTE format(
        'INSERT INTO access_studentepoch AS epoch (student_id, district_id, value) '
        'SELECT student_id, district_id, nextval(''access_cache_epoch_seq'') '
        'FROM (SELECT DISTINCT student_id, district_id FROM (%%s) AS c ORDER BY 1) AS s '
        'ON CONFLICT (%(target)s) DO UPDATE SET value = EXCLUDED.value',
        changed
    );
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def student_epochs_by_district(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            STUDENT_EPOCHS_FUNCTION % {"target": "district_id, student_id"}, params=None
        )


def student_epochs_by_student(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(STUDENT_EPOCHS_FUNCTION % {"target": "student_id"}, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0016_wrap_study_keys"),
        ("records", "0021_distribution_keys"),
    ]

    operations = [
        DistributionKeys(
            "access.AuditChain",
            "access.AccessEvent",
            "access.AccessEventStudent",
            "access.EmergencyAccess",
            "access.Provider",
            "access.ProviderContact",
            "access.ProviderMember",
            "access.ApiClient",
            "access.Agreement",
            "access.Grant",
            "access.DispositionAttestation",
            "access.CsvDelivery",
            "access.Researcher",
            "access.Study",
            "access.StudyVersion",
            "access.StudyKey",
        ),
        # Distributed with the tenant tables its trigger writes beside.
        DistributionKeys("access.StudentEpoch", key=("student_id",)),
        migrations.RunPython(student_epochs_by_district, student_epochs_by_student),
        # Django's single-column keys are gone (DistributionKeys): the fields say so.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='accessevent',
                    name='grant',
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='access.grant'),
                ),
                migrations.AlterField(
                    model_name='accessevent',
                    name='study',
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='access.study'),
                ),
                migrations.AlterField(
                    model_name='agreement',
                    name='provider',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='agreements', to='access.provider'),
                ),
                migrations.AlterField(
                    model_name='apiclient',
                    name='provider',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='clients', to='access.provider'),
                ),
                migrations.AlterField(
                    model_name='csvdelivery',
                    name='grant',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='deliveries', to='access.grant'),
                ),
                migrations.AlterField(
                    model_name='dispositionattestation',
                    name='grant',
                    field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='attestation', to='access.grant'),
                ),
                migrations.AlterField(
                    model_name='emergencyaccess',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='grant',
                    name='agreement',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='grants', to='access.agreement'),
                ),
                migrations.AlterField(
                    model_name='grant',
                    name='provider',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='grants', to='access.provider'),
                ),
                migrations.AlterField(
                    model_name='providercontact',
                    name='provider',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='contacts', to='access.provider'),
                ),
                migrations.AlterField(
                    model_name='providermember',
                    name='provider',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='members', to='access.provider'),
                ),
                migrations.AlterField(
                    model_name='study',
                    name='approved_version',
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='access.studyversion'),
                ),
                migrations.AlterField(
                    model_name='studykey',
                    name='study',
                    field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='key', to='access.study'),
                ),
                migrations.AlterField(
                    model_name='studyversion',
                    name='study',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='versions', to='access.study'),
                ),
            ],
        ),
    ]
