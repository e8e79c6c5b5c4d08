"""One permission per data category on School, for django-guardian object grants.

Created here rather than in School.Meta because the categories belong to access/
and records/ must not import it. The codenames are fixed: a new category needs a
new migration.
"""

from django.db import migrations

CATEGORIES = (
    "directory",
    "contact",
    "demographics",
    "identifiers",
    "enrollment",
    "attendance",
    "grades",
    "assessments",
    "programs",
    "health",
    "discipline",
    "transportation",
)


def create(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    school_type, _ = ContentType.objects.get_or_create(app_label="records", model="school")
    for category in CATEGORIES:
        Permission.objects.get_or_create(
            content_type=school_type,
            codename=f"receive_{category}",
            defaults={"name": f"Receive {category} data of the school's students"},
        )


def remove(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(
        content_type__app_label="records", codename__in=[f"receive_{c}" for c in CATEGORIES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0003_append_only"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create, remove)]
