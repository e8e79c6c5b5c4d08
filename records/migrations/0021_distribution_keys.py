"""Keys ready to distribute by district on Citus (records/distribution.py), for this
app's tenant tables: primary keys (district_id, id), unique constraints led by
district_id, and the links between tenant rows held by their composite keys alone (the
fields say db_constraint=False from here on). PostgreSQL only; the SQLite demo skips it.
"""

import django.db.models.deletion
from django.db import migrations, models

from records.distribution import DistributionKeys


class Migration(migrations.Migration):
    # After every migration that makes a key into a records table: from here on such a
    # key is composite, or none.
    dependencies = [
        ("records", "0020_attendance_months"),
        ("access", "0016_wrap_study_keys"),
        ("accounts", "0010_user_session_generation"),
        ("reports", "0008_study_rules"),
    ]

    operations = [
        DistributionKeys(
            "records.School",
            "records.AcademicSession",
            "records.Course",
            "records.Section",
            "records.Student",
            "records.SchoolMembership",
            "records.GuardianLink",
            "records.CustodyRestriction",
            "records.SectionTeacher",
            "records.SubstituteAssignment",
            "records.Enrollment",
            "records.AttendanceRecord",
            "records.AttendanceMonth",
            "records.Grade",
            "records.AssessmentResult",
            "records.ProgramParticipation",
            "records.HealthRecord",
            "records.DisciplineIncident",
            "records.TransportationAssignment",
            "records.DirectoryOptOut",
            "records.ImportRun",
            "records.FamilyVisit",
            "records.DirectoryOptOutChange",
            "records.InspectionRequest",
            "records.AmendmentRequest",
            "records.DisagreementStatement",
            "records.AttendanceChange",
        ),
        # Django's single-column keys are gone (DistributionKeys): the fields say so.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='academicsession',
                    name='parent',
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='children', to='records.academicsession'),
                ),
                migrations.AlterField(
                    model_name='amendmentrequest',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='amendment_requests', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='assessmentresult',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='assessments', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='attendancechange',
                    name='record',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='changes', to='records.attendancerecord'),
                ),
                migrations.AlterField(
                    model_name='attendancemonth',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='attendancerecord',
                    name='section',
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, to='records.section'),
                ),
                migrations.AlterField(
                    model_name='attendancerecord',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='attendance', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='course',
                    name='school',
                    field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, to='records.school'),
                ),
                migrations.AlterField(
                    model_name='custodyrestriction',
                    name='guardian_link',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='restrictions', to='records.guardianlink'),
                ),
                migrations.AlterField(
                    model_name='directoryoptout',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='directory_opt_outs', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='directoryoptoutchange',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='disagreementstatement',
                    name='amendment',
                    field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='statement', to='records.amendmentrequest'),
                ),
                migrations.AlterField(
                    model_name='disagreementstatement',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='disagreement_statements', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='disciplineincident',
                    name='school',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, to='records.school'),
                ),
                migrations.AlterField(
                    model_name='disciplineincident',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='discipline', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='enrollment',
                    name='section',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='enrollments', to='records.section'),
                ),
                migrations.AlterField(
                    model_name='enrollment',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='enrollments', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='familyvisit',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='grade',
                    name='grading_period',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='grades', to='records.academicsession'),
                ),
                migrations.AlterField(
                    model_name='grade',
                    name='section',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='grades', to='records.section'),
                ),
                migrations.AlterField(
                    model_name='grade',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='grades', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='guardianlink',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='guardian_links', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='healthrecord',
                    name='student',
                    field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='health', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='inspectionrequest',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='programparticipation',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='programs', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='schoolmembership',
                    name='school',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='memberships', to='records.school'),
                ),
                migrations.AlterField(
                    model_name='schoolmembership',
                    name='student',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='records.student'),
                ),
                migrations.AlterField(
                    model_name='section',
                    name='course',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='sections', to='records.course'),
                ),
                migrations.AlterField(
                    model_name='section',
                    name='school',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='sections', to='records.school'),
                ),
                migrations.AlterField(
                    model_name='section',
                    name='term',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='sections', to='records.academicsession'),
                ),
                migrations.AlterField(
                    model_name='sectionteacher',
                    name='section',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='teachers', to='records.section'),
                ),
                migrations.AlterField(
                    model_name='substituteassignment',
                    name='section',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='substitutes', to='records.section'),
                ),
                migrations.AlterField(
                    model_name='transportationassignment',
                    name='student',
                    field=models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='transportation', to='records.student'),
                ),
            ],
        ),
    ]
