"""Which categories each reader sees (DESIGN section 1), as data.

Routes are the relationships through which a viewer reaches a student. Each names
its categories here; ``access/viewer.py`` decides which routes a viewer has and
``access/scoping.py`` which students each route reaches.
"""

from __future__ import annotations

from access.categories import ALL_CATEGORIES, Category
from accounts.models import Role
from records.models import ProgramParticipation

ALL_BUT_HEALTH = ALL_CATEGORIES - {Category.HEALTH}

# Teachers: their students' schooling and the accommodations they must provide;
# never health or discipline.
TEACHER_CATEGORIES = frozenset(
    {
        Category.DIRECTORY,
        Category.CONTACT,
        Category.ENROLLMENT,
        Category.ATTENDANCE,
        Category.GRADES,
        Category.ASSESSMENTS,
        Category.PROGRAMS,
    }
)
# Within programs a teacher sees only those that carry classroom accommodations;
# meal status and homeless/foster status are not theirs to know.
TEACHER_PROGRAMS = frozenset(
    {
        ProgramParticipation.Program.IEP,
        ProgramParticipation.Program.SECTION_504,
        ProgramParticipation.Program.ENGLISH_LEARNER,
    }
)

SCHOOL_ROLE_CATEGORIES: dict[str, frozenset[str]] = {
    Role.PRINCIPAL: ALL_BUT_HEALTH,
    Role.SCHOOL_ADMIN: ALL_BUT_HEALTH,
    Role.COUNSELOR: ALL_BUT_HEALTH,
    Role.SPECIAL_EDUCATION: ALL_BUT_HEALTH,
    Role.NURSE: ALL_CATEGORIES,
}
DISTRICT_ADMIN_CATEGORIES = ALL_CATEGORIES
# A substitute sees what the class's teacher sees, for the sections and dates granted.
SUBSTITUTE_CATEGORIES = TEACHER_CATEGORIES
SUBSTITUTE_PROGRAMS = TEACHER_PROGRAMS
# Break-glass (34 CFR 99.36): what protects a student's health or safety in an
# emergency — who they are, how to reach the family, where they are, their health
# and accommodations, how they get home. Not grades, assessments or discipline.
EMERGENCY_CATEGORIES = frozenset(
    {
        Category.DIRECTORY,
        Category.CONTACT,
        Category.ENROLLMENT,
        Category.ATTENDANCE,
        Category.HEALTH,
        Category.PROGRAMS,
        Category.TRANSPORTATION,
    }
)
# Within programs, those that carry accommodations or a care plan; not meal, homeless
# or foster status.
EMERGENCY_PROGRAMS = TEACHER_PROGRAMS
EMERGENCY_LEGAL_BASIS = "99.31(a)(10)"

GUARDIAN_CATEGORIES = ALL_CATEGORIES
ELIGIBLE_STUDENT_CATEGORIES = ALL_CATEGORIES

# Plain-language purposes recorded in the access log, by the role a route reads as.
SCHOOL_OFFICIAL_PURPOSE = "school official with a legitimate educational interest"
ROLE_PURPOSES = {
    "guardian": "parent or guardian reviewing their child's record",
    "eligible_student": "eligible student reviewing their own record",
    Role.TEACHER: "teacher with a current class roster",
    Role.DISTRICT_ADMIN: "district administration",
    "substitute": "substitute teacher for a class",
    "emergency": "health or safety emergency (34 CFR 99.36)",
}


def purpose_of(role_label: str) -> str:
    return ROLE_PURPOSES.get(role_label, SCHOOL_OFFICIAL_PURPOSE)


# A provider's grant names its legal basis; the log records the 34 CFR paragraph.
PROVIDER_LEGAL_BASES = {
    "school_official": "99.31(a)(1)(i)(B)",
    "consent": "99.30",
    "directory": "99.31(a)(11)",
}
# Categories a grant under the directory basis may carry: directory information only.
DIRECTORY_BASIS_CATEGORIES = frozenset({Category.DIRECTORY})
