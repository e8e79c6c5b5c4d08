from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


def ensure_category_permissions(sender, apps=global_apps, using="default", **kwargs) -> None:
    """The per-category School permissions that guardian grants hold, made after every
    migrate and flush, as Django makes each model's own (a flush empties the table, and
    the migration that first made them does not run again)."""
    from access.categories import ALL_CATEGORIES
    from access.grants import school_permission_codename

    try:
        ContentType = apps.get_model("contenttypes", "ContentType")
        Permission = apps.get_model("auth", "Permission")
    except LookupError:  # migrating backwards, before these apps exist
        return
    school_type, _ = ContentType.objects.using(using).get_or_create(
        app_label="records", model="school"
    )
    for category in sorted(ALL_CATEGORIES):
        Permission.objects.using(using).get_or_create(
            content_type=school_type,
            codename=school_permission_codename(category),
            defaults={"name": f"Receive {category} data of the school's students"},
        )


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Access, grants and audit"

    def ready(self):
        from access.audit import forget_prepared
        from records.cache_epochs import remember_database
        from studentdata.prepared import forget

        connection_created.connect(remember_database, dispatch_uid="access.remember_database")
        connection_created.connect(forget_prepared, dispatch_uid="access.forget_prepared")
        connection_created.connect(forget, dispatch_uid="studentdata.prepared.forget")
        post_migrate.connect(
            ensure_category_permissions, sender=self, dispatch_uid="access.category_permissions"
        )
