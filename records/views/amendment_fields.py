"""The child page's "Request a correction" links and statements of disagreement, by field.

Apart from ``records/views/amendments.py`` so that the child page (``family.py``) and
the amendment pages can both use it without importing each other.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from access.amendments import CORRECTABLE_FIELDS

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


def field_name(field: str) -> str:
    return FIELD_NAMES.get(field, field)


def correction_links(child_id: int, record: dict) -> dict[str, dict]:
    """Per correctable field shown on the page: its link, name and statements on file."""
    statements: dict[str, list[dict]] = {}
    for statement in record.get("disagreement_statements", []):
        statements.setdefault(statement["field"], []).append(statement)
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
