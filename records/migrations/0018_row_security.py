"""Row-level security on this app's tenant tables (records/row_security.py)."""

from django.db import migrations

from records.row_security import EnableRowSecurity


class Migration(migrations.Migration):
    dependencies = [("records", "0017_district_security")]

    operations = [
        EnableRowSecurity("records_school"),
        EnableRowSecurity("records_academicsession"),
        EnableRowSecurity("records_course"),
        EnableRowSecurity("records_section"),
        EnableRowSecurity("records_student"),
        EnableRowSecurity("records_schoolmembership"),
        EnableRowSecurity("records_guardianlink"),
        EnableRowSecurity("records_custodyrestriction"),
        EnableRowSecurity("records_sectionteacher"),
        EnableRowSecurity("records_substituteassignment"),
        EnableRowSecurity("records_enrollment"),
        EnableRowSecurity("records_attendancerecord"),
        EnableRowSecurity("records_grade"),
        EnableRowSecurity("records_assessmentresult"),
        EnableRowSecurity("records_programparticipation"),
        EnableRowSecurity("records_healthrecord"),
        EnableRowSecurity("records_disciplineincident"),
        EnableRowSecurity("records_transportationassignment"),
        EnableRowSecurity("records_directoryoptout"),
        EnableRowSecurity("records_importrun"),
        EnableRowSecurity("records_familyvisit"),
        EnableRowSecurity("records_directoryoptoutchange"),
        EnableRowSecurity("records_inspectionrequest"),
        EnableRowSecurity("records_amendmentrequest"),
        EnableRowSecurity("records_disagreementstatement"),
        EnableRowSecurity("records_attendancechange"),
    ]
