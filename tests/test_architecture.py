"""The layering DESIGN section 5 asks for, checked on the source itself.

- ``access/`` is the only package that imports django-guardian.
- Models, selectors, services, seeding and importers never import ``access/``.
- Nothing outside ``access/`` and the data layer queries a student table (students,
  enrollments, guardian links, records): views, APIs, tasks and management commands
  ask ``access/``. Read from the syntax tree, not from text.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("studentdata", "accounts", "records", "access", "reports")
DATA_LAYER = ("models.py", "selectors.py", "services.py", "seeding.py", "tenancy.py",
              "composite_keys.py", "cache_epochs.py", "rights.py")  # fmt: skip


def python_files():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_access_imports_guardian():
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files()
        if path.parts[len(ROOT.parts)] != "access"
        and any(name.split(".")[0] == "guardian" for name in imported_modules(path))
    ]
    assert offenders == []


def test_the_data_layer_never_imports_access():
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files()
        if (path.name in DATA_LAYER or "importers" in path.parts)
        and any(name.split(".")[0] == "access" for name in imported_modules(path))
    ]
    assert offenders == []


# Writers that build districts (seeding, imports) and their benchmark: they read what
# they are about to write, never a set of students for someone to see.
WRITER_COMMANDS = frozenset({"seed_demo.py", "import_oneroster.py", "import_records.py",
                             "bench_import.py"})  # fmt: skip


def student_data_models() -> set[str]:
    """Student, and every table that holds rows about a student (a ``student`` link)."""
    from django.apps import apps

    names = set()
    for model in apps.get_models():
        fields = {field.name for field in model._meta.get_fields()}
        if model.__name__ == "Student" or "student" in fields:
            names.add(model.__name__)
    return names


def model_queries(path: Path, models: set[str]) -> list[str]:
    """``Model.objects`` / ``Model.unscoped`` of the given models, read from the syntax
    tree (strings and comments do not count)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in {"objects", "unscoped", "_default_manager", "_base_manager"}
        and isinstance(node.value, ast.Name)
        and node.value.id in models
    ]


def test_the_census_of_student_tables_is_not_empty():
    assert {"Student", "Enrollment", "GuardianLink", "AttendanceRecord"} <= student_data_models()


def test_nothing_outside_access_builds_a_set_of_students_for_a_read():
    """Views, APIs, tasks, forms and management commands ask ``access/``: none of them
    queries a student table (students, enrollments, links, records) on its own."""
    models = student_data_models()
    offenders = []
    for path in python_files():
        app = path.parts[len(ROOT.parts)]
        if app == "access" or path.name in DATA_LAYER or "importers" in path.parts:
            continue
        if "commands" in path.parts and path.name in WRITER_COMMANDS:
            continue
        offenders += model_queries(path, models)
    assert offenders == []


def test_the_architecture_check_sees_through_names():
    """The check reads code, not text: a query in a string passes, a real one is caught."""
    sample = ROOT / "var" / "architecture_sample.py"
    sample.parent.mkdir(exist_ok=True)
    sample.write_text('NOTE = "Student.objects"\nrows = Enrollment.unscoped.all()\n')
    try:
        assert model_queries(sample, {"Student", "Enrollment"}) == [
            "var/architecture_sample.py:2 Enrollment.unscoped"
        ]
    finally:
        sample.unlink()
