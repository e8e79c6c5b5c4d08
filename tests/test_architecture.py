"""The layering DESIGN section 5 asks for, checked on the source itself.

- ``access/`` is the only package that imports django-guardian.
- Models, selectors, services, seeding and importers never import ``access/``.
- Nothing outside ``access/`` and the data layer reaches the student table
  directly: views, APIs, serializers and tasks ask ``access/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("studentdata", "accounts", "records", "access", "reports")
DATA_LAYER = ("models.py", "selectors.py", "services.py", "seeding.py", "tenancy.py",
              "composite_keys.py")  # fmt: skip


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


def test_no_view_api_or_task_reads_students_on_its_own():
    allowed = {"access"}
    offenders = []
    for path in python_files():
        app = path.parts[len(ROOT.parts)]
        data_layer = path.name in DATA_LAYER or {"management", "importers"} & set(path.parts)
        if app in allowed or data_layer:
            continue
        source = path.read_text()
        if "Student.objects" in source or "Student.unscoped" in source:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
