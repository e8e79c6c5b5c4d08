"""Head counts of school memberships kept by the database (records/head_counts.py): the
bands and the students of two schools at once, their triggers, and the counts of the
memberships already there."""

import django.db.models.deletion
import django.db.models.manager
from django.db import migrations, models

from records.composite_keys import add_composite_tenant_keys
from records.distribution import DistributionKeys
from records.head_counts import install_triggers
from records.row_security import EnableRowSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0023_partitions"),
    ]

    operations = [
        migrations.CreateModel(
            name="HeadCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("begin_date", models.DateField()),
                ("end_date", models.DateField()),
                ("members", models.IntegerField(default=0)),
                (
                    "district",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="records.district",
                    ),
                ),
                (
                    "school",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="records.school",
                    ),
                ),
            ],
            options={
                "abstract": False,
                "base_manager_name": "unscoped",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("district", "id"), name="records_headcount_district_id_key"
                    ),
                    models.UniqueConstraint(
                        fields=("district", "school", "begin_date", "end_date"),
                        name="records_head_count_band",
                    ),
                ],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name="MultiSchoolStudent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "district",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="records.district",
                    ),
                ),
                (
                    "student",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="records.student",
                    ),
                ),
            ],
            options={
                "abstract": False,
                "base_manager_name": "unscoped",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("district", "id"), name="records_multischoolstudent_district_id_key"
                    ),
                    models.UniqueConstraint(
                        fields=("district", "student"), name="records_multi_school_student"
                    ),
                ],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.AddIndex(
            model_name="headcount",
            index=models.Index(
                fields=["district", "end_date", "begin_date"],
                name="records_head_count_open",
            ),
        ),
        add_composite_tenant_keys("records.HeadCount", "records.MultiSchoolStudent"),
        DistributionKeys("records.HeadCount", "records.MultiSchoolStudent"),
        EnableRowSecurity("records_headcount"),
        EnableRowSecurity("records_multischoolstudent"),
        install_triggers(),
    ]
