"""A study version changes only while it is a draft. Once sent for review its content is
fixed (only the decision is written onto it), and once decided nothing changes; a
decided state always carries its decision's time."""

from django.db import migrations, models

CONTENT = (
    "title", "principal_investigator", "institution", "purpose", "research_questions",
    "legal_basis", "data_elements", "school_ids", "grade_levels", "school_years",
    "birth_dates_as", "irb_number", "irb_expires_on", "irb_file", "researcher_ids",
    "starts_on", "ends_on", "destroy_by", "min_cell_size", "study_id", "number",
    "district_id", "created_by_id", "created_at", "submitted_at",
)  # fmt: skip

SENT_VERSIONS = f"""
CREATE OR REPLACE FUNCTION access_studyversion_decided() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.state = 'draft' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.state = 'draft' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.state = 'submitted'
       AND ({", ".join(f"NEW.{c}" for c in CONTENT)})
           IS NOT DISTINCT FROM ({", ".join(f"OLD.{c}" for c in CONTENT)}) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a decided study version never changes, and a submitted one only by its decision (% of version %)',
        TG_OP, OLD.id;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SENT_VERSIONS, params=None)


class Migration(migrations.Migration):
    dependencies = [("access", "0014_study_rules")]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="studyversion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    state__in=["approved", "changes_requested", "rejected"],
                    decided_at__isnull=False,
                )
                | models.Q(state__in=["draft", "submitted"], decided_at__isnull=True),
                name="access_studyversion_decided_at",
            ),
        ),
    ]
