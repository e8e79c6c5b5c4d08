from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = "Student records"

    def ready(self):
        from records import lookups  # noqa: F401  (registers ``__any``)
