from django.apps import AppConfig
from django.db.backends.signals import connection_created


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
