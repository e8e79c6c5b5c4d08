"""The data categories, and which category every student field and record table is in.

Access is granted by category (DESIGN section 2, aligned with the NDPA Exhibit B
data-element list). A field or table that no category claims is invisible: the
projection only ever reads what this registry names, and
``tests/access/test_categories.py`` fails when a model grows a field that is
neither registered here nor listed as internal.
"""

from __future__ import annotations

from django.db import models

from records import models as records


class Category(models.TextChoices):
    DIRECTORY = "directory", "Directory information"
    CONTACT = "contact", "Contact information"
    DEMOGRAPHICS = "demographics", "Demographics"
    IDENTIFIERS = "identifiers", "State and local identifiers"
    ENROLLMENT = "enrollment", "Schedule and enrollment"
    ATTENDANCE = "attendance", "Attendance"
    GRADES = "grades", "Grades"
    ASSESSMENTS = "assessments", "Assessment results"
    PROGRAMS = "programs", "Programs (IEP/504, English learner, meals, homeless/foster)"
    HEALTH = "health", "Health"
    DISCIPLINE = "discipline", "Discipline"
    TRANSPORTATION = "transportation", "Transportation"


ALL_CATEGORIES: frozenset[str] = frozenset(Category.values)
SENSITIVE_CATEGORIES: frozenset[str] = frozenset(
    {Category.PROGRAMS, Category.HEALTH, Category.DISCIPLINE}
)

# Student columns, each in exactly one category.
STUDENT_FIELDS: dict[str, Category] = {
    "given_name": Category.DIRECTORY,
    "middle_name": Category.DIRECTORY,
    "family_name": Category.DIRECTORY,
    "preferred_name": Category.DIRECTORY,
    "grade_level": Category.DIRECTORY,
    "enrollment_status": Category.DIRECTORY,
    "address_line": Category.CONTACT,
    "city": Category.CONTACT,
    "state": Category.CONTACT,
    "postal_code": Category.CONTACT,
    "phone": Category.CONTACT,
    "email": Category.CONTACT,
    "birth_date": Category.DEMOGRAPHICS,
    "sex": Category.DEMOGRAPHICS,
    "hispanic_or_latino": Category.DEMOGRAPHICS,
    "american_indian_or_alaska_native": Category.DEMOGRAPHICS,
    "asian": Category.DEMOGRAPHICS,
    "black_or_african_american": Category.DEMOGRAPHICS,
    "native_hawaiian_or_pacific_islander": Category.DEMOGRAPHICS,
    "white": Category.DEMOGRAPHICS,
    "home_language": Category.DEMOGRAPHICS,
    "state_id": Category.IDENTIFIERS,
    "local_id": Category.IDENTIFIERS,
}

# Columns that steer access or bookkeeping and are never shown as student data.
INTERNAL_STUDENT_FIELDS: frozenset[str] = frozenset(
    {
        "id",
        "district",
        "sourced_id",
        "user",
        "is_postsecondary",
        "is_tax_dependent",
        "created_at",
        "updated_at",
    }
)

# Tables about one student, each in exactly one category.
RECORD_TABLES: dict[type[models.Model], Category] = {
    records.SchoolMembership: Category.DIRECTORY,
    records.MultiSchoolStudent: Category.DIRECTORY,  # the memberships' head counts
    records.GuardianLink: Category.CONTACT,
    records.Enrollment: Category.ENROLLMENT,
    records.AttendanceRecord: Category.ATTENDANCE,
    records.AttendanceMonth: Category.ATTENDANCE,  # the marks' roll-up
    records.Grade: Category.GRADES,
    records.AssessmentResult: Category.ASSESSMENTS,
    records.ProgramParticipation: Category.PROGRAMS,
    records.HealthRecord: Category.HEALTH,
    records.DisciplineIncident: Category.DISCIPLINE,
    records.TransportationAssignment: Category.TRANSPORTATION,
}

# Directory fields a district may designate (99.37). Never an SSN or an id.
DESIGNATABLE_DIRECTORY_FIELDS: tuple[str, ...] = (
    "given_name",
    "middle_name",
    "family_name",
    "preferred_name",
    "grade_level",
    "enrollment_status",
    "school",
)


def category_of_field(field_name: str) -> Category | None:
    """The category of a student column; ``None`` means nobody sees it."""
    return STUDENT_FIELDS.get(field_name)


CATEGORY_ORDER: tuple[str, ...] = tuple(Category.values)  # the documented key order

_FIELDS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    category: tuple(name for name, cat in STUDENT_FIELDS.items() if cat == category)
    for category in CATEGORY_ORDER
}


def fields_in(category: str) -> tuple[str, ...]:
    return _FIELDS_BY_CATEGORY[category]
