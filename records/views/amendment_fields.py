"""The child page's "Request a correction" links and statements of disagreement, by field.

Apart from ``records/views/amendments.py`` so that the child page (``family.py``) and
the amendment pages can both use it without importing each other.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from access.amendments import CORRECTABLE_FIELDS, split_row_field

FIELD_NAMES = {
    "given_name": _("First name"),
    "middle_name": _("Middle name"),
    "family_name": _("Last name"),
    "preferred_name": _("Goes by"),
    "grade_level": _("Grade"),
    "enrollment_status": _("Enrollment"),
    "school": _("School"),
    "address_line": _("Street address"),
    "city": _("City"),
    "state": _("State"),
    "postal_code": _("ZIP code"),
    "phone": _("Phone"),
    "email": _("Email"),
    "birth_date": _("Date of birth"),
    "home_language": _("Home language"),
}


# Record rows (``grade:123``, ``health:allergies``): what is corrected, by table.
ROW_NAMES = {
    "grade": _("Grade"),
    "attendance": _("Attendance day"),
    "assessment": _("Test result"),
    "program": _("Program or service"),
    "discipline": _("Discipline incident"),
    "transportation": _("School bus"),
}
HEALTH_NAMES = {
    "conditions": _("Health conditions"),
    "allergies": _("Allergies"),
    "medications": _("Medications"),
    "immunization_status": _("Immunizations"),
}


def field_name(field: str) -> str:
    row = split_row_field(field)
    if row is not None:
        table, key = row
        return HEALTH_NAMES[key] if table == "health" else ROW_NAMES[table]
    return FIELD_NAMES.get(field, field)


def _statements_by_field(record: dict) -> dict[str, list[dict]]:
    statements: dict[str, list[dict]] = {}
    for statement in record.get("disagreement_statements", []):
        statements.setdefault(statement["field"], []).append(statement)
    return statements


def correction_links(child_id: int, record: dict) -> dict[str, dict]:
    """Per correctable field shown on the page: its link, name and statements on file."""
    statements = _statements_by_field(record)
    base = reverse("family:correction-new", kwargs={"student_id": child_id})
    return {
        field: {
            "url": f"{base}?field={field}",
            "label": field_name(field),
            "statements": statements.get(field, []),
        }
        for field, category in CORRECTABLE_FIELDS.items()
        if category in record
    }


class RowLinks:
    """The child page's record-row links: ``link("grade:123", aside)`` for one row.

    ``aside`` names the row for a screen reader ("grade for Math 7, Quarter 1"); the
    row's statements of disagreement come with its link.
    """

    def __init__(self, child_id: int, record: dict):
        self.base = reverse("family:correction-new", kwargs={"student_id": child_id})
        self.statements = _statements_by_field(record)

    def link(self, field: str, aside) -> dict:
        return {
            "url": f"{self.base}?field={field}",
            "label": field_name(field),
            "aside": aside,
            "statements": self.statements.get(field, []),
        }
