"""Keys ready to distribute by district on Citus (records/distribution.py), for this
app's tenant tables (state releases stay local): primary keys (district_id, id), unique
constraints led by district_id, and the links between tenant rows held by their
composite keys alone (the fields say db_constraint=False from here on). PostgreSQL
only; the SQLite demo skips it.
"""

import django.db.models.deletion
from django.db import migrations, models

from records.distribution import DistributionKeys


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0008_study_rules"),
        ("access", "0017_distribution_keys"),
    ]

    operations = [
        DistributionKeys(
            "reports.Release",
            "reports.StudyExtract",
            "reports.ExtractDownload",
            "reports.StudyOutput",
        ),
        # Django's single-column keys are gone (DistributionKeys): the fields say so.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='extractdownload',
                    name='extract',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='downloads', to='reports.studyextract'),
                ),
                migrations.AlterField(
                    model_name='release',
                    name='continues',
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='reports.release'),
                ),
                migrations.AlterField(
                    model_name='studyextract',
                    name='study',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='extracts', to='access.study'),
                ),
                migrations.AlterField(
                    model_name='studyextract',
                    name='version',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='extracts', to='access.studyversion'),
                ),
                migrations.AlterField(
                    model_name='studyoutput',
                    name='study',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='outputs', to='access.study'),
                ),
            ],
        ),
    ]
