import contextlib

from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate

# Open from the first app's pre_migrate to the first app's post_migrate of one run.
_migration_context = contextlib.ExitStack()


def enter_migration_context(sender, **kwargs) -> None:
    """Migrations change every district's rows: they run in the system context (a
    table's owner is subject to row-level security too, as it is forced)."""
    from records.tenancy import system_scope

    _migration_context.close()
    _migration_context.enter_context(system_scope("migrate"))


def leave_migration_context(sender, **kwargs) -> None:
    _migration_context.close()


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = "Student records"

    def ready(self):
        from records import lookups  # noqa: F401  (registers ``__any``)

        pre_migrate.connect(
            enter_migration_context, sender=self, dispatch_uid="records.migration_context"
        )
        post_migrate.connect(
            leave_migration_context, sender=self, dispatch_uid="records.migration_context"
        )
