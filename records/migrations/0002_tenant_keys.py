from django.db import migrations

from records.composite_keys import add_composite_tenant_keys


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0001_initial"),
        ("accounts", "0002_initial"),
        ("access", "0002_initial"),
    ]

    operations = [
        add_composite_tenant_keys(
            "records.School",
            "records.AcademicSession",
            "records.Course",
            "records.Section",
            "records.Student",
            "records.SchoolMembership",
            "records.GuardianLink",
            "records.CustodyRestriction",
            "records.SectionTeacher",
            "records.Enrollment",
            "records.AttendanceRecord",
            "records.Grade",
            "records.AssessmentResult",
            "records.ProgramParticipation",
            "records.HealthRecord",
            "records.DisciplineIncident",
            "records.TransportationAssignment",
            "records.DirectoryOptOut",
            "accounts.RoleMembership",
            "access.AuditChain",
            "access.AccessEvent",
            "access.AccessEventStudent",
        ),
    ]
