"""The OneRoster 1.1 / 1.2 CSV files this importer reads: columns and allowed values.

Only what studentdata stores is required; the other spec columns are read when
present. Enum values compare case-insensitively (a case difference is warned).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileSpec:
    name: str  # file name without .csv, as in the manifest's file.<name>
    required: tuple[str, ...]
    optional: tuple[str, ...]
    key: str = "sourcedId"

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


COMMON = ("status", "dateLastModified")

ORGS = FileSpec("orgs", ("sourcedId", "name", "type"), (*COMMON, "identifier", "parentSourcedId"))
ACADEMIC_SESSIONS = FileSpec(
    "academicSessions",
    ("sourcedId", "title", "type", "startDate", "endDate", "schoolYear"),
    (*COMMON, "parentSourcedId"),
)
COURSES = FileSpec(
    "courses",
    ("sourcedId", "title", "orgSourcedId"),
    (*COMMON, "schoolYearSourcedId", "courseCode", "grades", "subjects", "subjectCodes"),
)
CLASSES = FileSpec(
    "classes",
    ("sourcedId", "title", "courseSourcedId", "classType", "schoolSourcedId", "termSourcedIds"),
    (*COMMON, "grades", "classCode", "location", "subjects", "subjectCodes", "periods"),
)
USER_DETAILS = (
    *COMMON,
    "userIds",
    "middleName",
    "identifier",
    "email",
    "sms",
    "phone",
    "agentSourcedIds",
    "grades",
    "password",
)
USERS_11 = FileSpec(
    "users",
    ("sourcedId", "enabledUser", "orgSourcedIds", "role", "username", "givenName", "familyName"),
    USER_DETAILS,
)
# 1.2 moved a user's orgs and role to roles.csv; both are still read when present.
USERS_12 = FileSpec(
    "users",
    ("sourcedId", "enabledUser", "username", "givenName", "familyName"),
    (
        *USER_DETAILS,
        "userMasterIdentifier",
        "preferredGivenName",
        "preferredMiddleName",
        "preferredFamilyName",
        "primaryOrgSourcedId",
        "pronouns",
        "orgSourcedIds",
        "role",
    ),
)
ROLES = FileSpec(
    "roles",
    ("sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"),
    (*COMMON, "beginDate", "endDate", "userProfileSourcedId"),
)
ENROLLMENTS = FileSpec(
    "enrollments",
    ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
    (*COMMON, "primary", "beginDate", "endDate"),
)
DEMOGRAPHICS = FileSpec(
    "demographics",
    ("sourcedId",),
    (
        *COMMON,
        "birthDate",
        "sex",
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
        "countryOfBirthCode",
        "stateOfBirthAbbreviation",
        "cityOfBirth",
        "publicSchoolResidenceStatus",
    ),
)
CATEGORIES = FileSpec("categories", ("sourcedId", "title"), COMMON)
LINE_ITEMS = FileSpec(
    "lineItems",
    ("sourcedId", "title", "classSourcedId", "gradingPeriodSourcedId"),
    (*COMMON, "description", "assignDate", "dueDate", "categorySourcedId", "resultValueMin",
     "resultValueMax"),
)  # fmt: skip
RESULTS = FileSpec(
    "results",
    ("sourcedId", "lineItemSourcedId", "studentSourcedId"),
    (*COMMON, "scoreStatus", "score", "scoreDate", "comment"),
)

# The order files are read and applied in: each refers only to those before it.
FILES = (
    ORGS,
    ACADEMIC_SESSIONS,
    COURSES,
    CLASSES,
    USERS_11,
    ROLES,
    DEMOGRAPHICS,
    ENROLLMENTS,
    CATEGORIES,
    LINE_ITEMS,
    RESULTS,
)
REQUIRED_FILES = ("orgs", "academicSessions", "classes", "users", "enrollments")

STATUS = {"active": "active", "tobedeleted": "tobedeleted", "inactive": "tobedeleted"}
ORG_TYPES = ("national", "state", "local", "district", "school", "department")
SESSION_TYPES = ("schoolYear", "term", "semester", "gradingPeriod")
CLASS_TYPES = ("homeroom", "scheduled")
ROLES_11 = ("administrator", "aide", "guardian", "parent", "proctor", "relative", "student",
            "teacher", "counselor")  # fmt: skip
ROLES_12 = (
    "aide", "counselor", "districtAdministrator", "guardian", "parent", "principal", "proctor",
    "relative", "siteAdministrator", "student", "systemAdministrator", "teacher",
)  # fmt: skip
ROLE_TYPES = ("primary", "secondary")
ENROLLMENT_ROLES = ("administrator", "proctor", "student", "teacher", "aide", "guardian",
                    "parent", "relative")  # fmt: skip
SEX = {"male": "M", "female": "F", "other": "X", "unspecified": "", "m": "M", "f": "F"}
GRADES = ("IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09",
          "10", "11", "12", "13", "PS", "UG", "Other")  # fmt: skip
MODES = ("bulk", "delta", "absent")
