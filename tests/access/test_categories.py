"""Every student field is in exactly one category, or deliberately internal."""

from __future__ import annotations

from access.categories import (
    DESIGNATABLE_DIRECTORY_FIELDS,
    INTERNAL_STUDENT_FIELDS,
    RECORD_TABLES,
    STUDENT_FIELDS,
    Category,
)
from records.models import Student
from records.tenancy import TenantModel


def test_every_student_column_is_categorised_or_internal():
    columns = {f.name for f in Student._meta.concrete_fields}
    assert columns == set(STUDENT_FIELDS) | INTERNAL_STUDENT_FIELDS
    assert not set(STUDENT_FIELDS) & INTERNAL_STUDENT_FIELDS


def test_categories_are_the_designs_twelve():
    assert set(Category.values) == {
        "directory", "contact", "demographics", "identifiers", "enrollment", "attendance",
        "grades", "assessments", "programs", "health", "discipline", "transportation",
    }  # fmt: skip


def test_every_table_about_one_student_is_in_a_category():
    per_student = {
        m
        for m in TenantModel.__subclasses__()
        + [sub for cls in TenantModel.__subclasses__() for sub in cls.__subclasses__()]
        if not m._meta.abstract
        and any(f.name == "student" and f.related_model is Student for f in m._meta.fields)
    }
    from access.models import AccessEventStudent, EmergencyAccess
    from records.models import (
        AmendmentRequest,
        DirectoryOptOut,
        DirectoryOptOutChange,
        DisagreementStatement,
        FamilyVisit,
        InspectionRequest,
    )

    # The log, the opt-out choice and its history, a family's last visit, its requests
    # to inspect and an emergency access grant are about a student but are not student
    # data (a grant's queue names the student through access/ like any page).
    not_data = {
        AccessEventStudent,
        DirectoryOptOut,
        DirectoryOptOutChange,
        FamilyVisit,
        EmergencyAccess,
    }
    # Amendment requests and statements of disagreement carry their field's category
    # on each row (access/amendments.py shows a row only to readers of that category).
    amendments = {AmendmentRequest, DisagreementStatement}
    assert per_student - not_data - {InspectionRequest} - amendments == set(RECORD_TABLES)


def test_directory_designations_never_include_identifiers_or_contact():
    for name in DESIGNATABLE_DIRECTORY_FIELDS:
        assert name == "school" or STUDENT_FIELDS[name] == Category.DIRECTORY
