from django.apps import AppConfig


class StudentdataConfig(AppConfig):
    """The project package as an app: it holds the shared stylesheet."""

    name = "studentdata"
    verbose_name = "studentdata"

    def ready(self):
        from studentdata import schema  # noqa: F401 - registers the schema's extensions
