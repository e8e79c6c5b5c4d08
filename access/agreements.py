"""The National Data Privacy Agreement's Exhibit B data elements, each mapped onto the
category (DESIGN section 2) that opens it.

An agreement stores the codes its Exhibit B checks; a grant under it may carry only
the categories those elements map to. Elements with no student data of ours behind
them (application metadata, survey answers) are left out: checking them would open
nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from access.categories import Category
from access.models import Agreement


@dataclass(frozen=True)
class DataElement:
    code: str
    label: str
    category: str


@dataclass(frozen=True)
class ElementGroup:
    label: str
    elements: tuple[DataElement, ...]


def _group(label, *elements: tuple[str, str, str]) -> ElementGroup:
    return ElementGroup(label, tuple(DataElement(*element) for element in elements))


EXHIBIT_B: tuple[ElementGroup, ...] = (
    _group(
        _("Student name and school"),
        ("student_name", _("Student's first and last name"), Category.DIRECTORY),
        ("grade_level", _("Student's grade level"), Category.DIRECTORY),
        ("school_enrollment", _("Student's school and enrollment status"), Category.DIRECTORY),
    ),
    _group(
        _("Student contact information"),
        ("student_address", _("Student's address"), Category.CONTACT),
        ("student_email", _("Student's email"), Category.CONTACT),
        ("student_phone", _("Student's phone"), Category.CONTACT),
        ("guardian_name", _("Parent or guardian's name"), Category.CONTACT),
        ("guardian_contact", _("Parent or guardian's address, email and phone"), Category.CONTACT),
    ),
    _group(
        _("Demographics"),
        ("birth_date", _("Date of birth"), Category.DEMOGRAPHICS),
        ("gender", _("Gender"), Category.DEMOGRAPHICS),
        ("race_ethnicity", _("Ethnicity or race"), Category.DEMOGRAPHICS),
        ("language", _("Language information"), Category.DEMOGRAPHICS),
    ),
    _group(
        _("Student identifiers"),
        ("local_id", _("Local (district) ID number"), Category.IDENTIFIERS),
        ("state_id", _("State ID number"), Category.IDENTIFIERS),
    ),
    _group(
        _("Schedule and enrollment"),
        ("scheduled_courses", _("Student's scheduled courses"), Category.ENROLLMENT),
        ("teacher_names", _("Teacher names"), Category.ENROLLMENT),
        ("homeroom", _("Homeroom"), Category.ENROLLMENT),
    ),
    _group(
        _("Attendance"),
        ("daily_attendance", _("Daily attendance"), Category.ATTENDANCE),
        ("class_attendance", _("Class attendance"), Category.ATTENDANCE),
    ),
    _group(
        _("Transcript"),
        ("course_grades", _("Course grades"), Category.GRADES),
        ("course_performance", _("Course performance scores"), Category.GRADES),
    ),
    _group(
        _("Assessment"),
        ("standardized_tests", _("Standardized test scores"), Category.ASSESSMENTS),
        ("other_assessments", _("Other assessment data"), Category.ASSESSMENTS),
    ),
    _group(
        _("Special indicators"),
        ("ell", _("English language learner information"), Category.PROGRAMS),
        ("low_income", _("Low income status"), Category.PROGRAMS),
        ("disability", _("Student disability information"), Category.PROGRAMS),
        ("iep_504", _("Specialized education services (IEP or 504)"), Category.PROGRAMS),
        ("living_situation", _("Living situations (homeless or foster care)"), Category.PROGRAMS),
        ("health", _("Medical alerts and health data"), Category.HEALTH),
    ),
    _group(
        _("Conduct"),
        ("conduct", _("Conduct or behavioral data"), Category.DISCIPLINE),
    ),
    _group(
        _("Transportation"),
        ("bus_assignment", _("Student bus assignment"), Category.TRANSPORTATION),
        ("pickup_location", _("Pick-up and drop-off location"), Category.TRANSPORTATION),
    ),
)

ELEMENTS: dict[str, DataElement] = {
    element.code: element for group in EXHIBIT_B for element in group.elements
}

# The categories as a district admin reads them, in both languages.
CATEGORY_LABELS: dict[str, str] = {
    Category.DIRECTORY: _("Directory information"),
    Category.CONTACT: _("Contact information"),
    Category.DEMOGRAPHICS: _("Demographics"),
    Category.IDENTIFIERS: _("State and local identifiers"),
    Category.ENROLLMENT: _("Schedule and enrollment"),
    Category.ATTENDANCE: _("Attendance"),
    Category.GRADES: _("Grades"),
    Category.ASSESSMENTS: _("Assessment results"),
    Category.PROGRAMS: _("Programs (IEP/504, English learner, meals, homeless/foster)"),
    Category.HEALTH: _("Health"),
    Category.DISCIPLINE: _("Discipline"),
    Category.TRANSPORTATION: _("Transportation"),
}


# The security frameworks an agreement may declare, as read in both languages (the
# model's own labels are English only: pages show these).
FRAMEWORK_LABELS: dict[str, str] = {
    Agreement.Framework.NIST_CSF: _("NIST Cybersecurity Framework"),
    Agreement.Framework.NIST_800_171: _("NIST SP 800-171"),
    Agreement.Framework.ISO_27001: _("ISO/IEC 27001"),
    Agreement.Framework.SOC2: _("SOC 2 Type II"),
    Agreement.Framework.CIS: _("CIS Critical Security Controls"),
    Agreement.Framework.OTHER: _("Other (described)"),
}


def element_categories(codes) -> frozenset[str]:
    """The categories the checked elements open; unknown codes open nothing."""
    return frozenset(ELEMENTS[code].category for code in codes if code in ELEMENTS)
