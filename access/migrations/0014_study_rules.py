"""Studies: composite tenant keys, row-level security, the family's index of study
releases, and decided versions kept as they were decided (the written agreement)."""

from django.db import migrations

from records.composite_keys import add_composite_tenant_keys
from records.row_security import EnableRowSecurity

DECIDED_VERSIONS = """
CREATE OR REPLACE FUNCTION access_studyversion_decided() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.state = 'draft' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.decided_at IS NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a decided study version never changes (% of version %)',
        TG_OP, OLD.id;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER access_studyversion_decided BEFORE UPDATE OR DELETE ON access_studyversion
    FOR EACH ROW EXECUTE FUNCTION access_studyversion_decided();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(DECIDED_VERSIONS, params=None)
    # A family finds its child's study releases in the events' id arrays.
    schema_editor.execute(
        "CREATE INDEX access_event_study_ids_idx ON access_accessevent "
        "USING gin (disclosed_student_ids jsonb_path_ops) WHERE study_id IS NOT NULL"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS access_studyversion_decided ON access_studyversion; "
        "DROP FUNCTION IF EXISTS access_studyversion_decided(); "
        "DROP INDEX IF EXISTS access_event_study_ids_idx"
    )


class Migration(migrations.Migration):
    dependencies = [("access", "0013_studies")]

    operations = [
        add_composite_tenant_keys(
            "access.Researcher", "access.Study", "access.StudyVersion", "access.StudyKey"
        ),
        add_composite_tenant_keys("access.AccessEvent", only=("study",)),
        EnableRowSecurity("access_researcher"),
        EnableRowSecurity("access_study"),
        EnableRowSecurity("access_studyversion"),
        EnableRowSecurity("access_studykey"),
        migrations.RunPython(forwards, backwards),
    ]
