"""The school district's data: structure, rosters and the student record.

Every table but ``District`` is a tenant table (see ``records/tenancy.py``).
Which fields of a student belong to which data category is not decided here but
in ``access/categories.py``; a field it does not name is never shown.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone as django_timezone
from django.utils.translation import gettext_lazy as _

from records.tenancy import TenantModel, tenant_constraints

logger = logging.getLogger(__name__)


def unique_sourced_id(model_name: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(
        fields=["district", "sourced_id"],
        condition=Q(sourced_id__isnull=False),
        name=f"records_{model_name}_sourced_id_key",
    )


def validate_timezone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. America/Chicago).")


def active_on_q(day: date, prefix: str = "") -> Q:
    """Rows whose ``begin_date``/``end_date`` (either open) contain ``day``."""
    begin, end = f"{prefix}begin_date", f"{prefix}end_date"
    return (Q(**{f"{begin}__isnull": True}) | Q(**{f"{begin}__lte": day})) & (
        Q(**{f"{end}__isnull": True}) | Q(**{f"{end}__gte": day})
    )


class District(models.Model):
    """The tenant. Its settings carry each district's stricter rules."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    nces_id = models.CharField("NCES LEA id", max_length=7, blank=True)
    sourced_id = models.CharField(max_length=255, null=True, blank=True)
    timezone = models.CharField(
        max_length=64, default="America/New_York", validators=[validate_timezone]
    )
    # FERPA 99.5 moves rights at 18; no district may move them earlier.
    eligible_student_age = models.PositiveSmallIntegerField(
        default=18, validators=[MinValueValidator(18), MaxValueValidator(21)]
    )
    min_cell_size = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(5), MaxValueValidator(30)]
    )
    # The narrowest range an attacker may prove for a small published group (REQUIREMENTS
    # 13): complementary cells are hidden until every primary cell's range is this wide.
    suppression_width = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(5), MaxValueValidator(50)]
    )
    # The state (USPS code) whose report cards and state analysts include this district.
    state = models.CharField(
        max_length=2, blank=True, validators=[RegexValidator(r"^[A-Z]{2}$", "Two capital letters.")]
    )
    k_anonymity = models.PositiveSmallIntegerField(default=10, validators=[MinValueValidator(2)])
    inspection_due_days = models.PositiveSmallIntegerField(default=45)
    # Days a teacher still sees a student after the enrollment (or the term) ended, to
    # finish grading; 0 (the default) ends access the day the roster does (REQUIREMENTS 7).
    roster_grace_days = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(30)]
    )
    # Student fields (access/categories.py names) this district designates as directory
    # information (34 CFR 99.37). Empty means the district releases none.
    directory_fields = models.JSONField(default=list, blank=True)
    # The largest file (uncompressed) an import of this district reads; a larger one
    # refuses the run before it is read.
    import_max_file_mb = models.PositiveIntegerField(
        "largest import file (MB)",
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(1024)],
    )
    # Days after a provider's grant ends by which the provider must attest that it
    # deleted (or returned) the data (REQUIREMENTS 8).
    disposition_days = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    # Security (/district/security/): teachers need a second factor too when set (the
    # school leaders and specialists always do); staff are signed out when idle.
    teachers_need_second_factor = models.BooleanField(default=False)
    staff_idle_minutes = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(5), MaxValueValidator(480)]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(eligible_student_age__gte=18, eligible_student_age__lte=21),
                name="records_district_eligible_age_range",
            ),
            models.CheckConstraint(
                condition=Q(min_cell_size__gte=5, min_cell_size__lte=30),
                name="records_district_min_cell_size_range",
            ),
            models.CheckConstraint(
                condition=Q(suppression_width__gte=5, suppression_width__lte=50),
                name="records_district_suppression_width_range",
            ),
            models.CheckConstraint(
                condition=Q(k_anonymity__gte=2), name="records_district_k_anonymity_min"
            ),
            models.CheckConstraint(
                condition=Q(import_max_file_mb__gte=1, import_max_file_mb__lte=1024),
                name="records_district_import_max_file_mb_range",
            ),
            models.CheckConstraint(
                condition=Q(staff_idle_minutes__gte=5, staff_idle_minutes__lte=480),
                name="records_district_staff_idle_minutes_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    # The district's calendar: the one answer to "what day and time is it there",
    # used by access, importers, services and pages alike.

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            # A bad setting must not lock a district out; the server's zone is a day off at most.
            logger.error(
                "District %s has an unknown timezone; using %s", self.pk, settings.TIME_ZONE
            )
            return ZoneInfo(settings.TIME_ZONE)

    def now(self) -> datetime:
        """The current moment, in the district's time zone."""
        return django_timezone.localtime(django_timezone.now(), self.zone)

    def today(self, *, at: datetime | None = None) -> date:
        """The district's date now (or at the moment ``at``)."""
        return django_timezone.localtime(at or django_timezone.now(), self.zone).date()


class School(TenantModel):
    class Kind(models.TextChoices):
        ELEMENTARY = "elementary", "Elementary"
        MIDDLE = "middle", "Middle"
        HIGH = "high", "High"
        OTHER = "other", "Other"

    sourced_id = models.CharField(max_length=255, null=True, blank=True)
    name = models.CharField(max_length=200)
    nces_id = models.CharField("NCES school id", max_length=12, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    # OneRoster dateLastModified: set on every write (importers set it on bulk updates).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(unique_sourced_id("school"))
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AcademicSession(TenantModel):
    """A school year, term, semester or grading period (OneRoster academicSession)."""

    class Kind(models.TextChoices):
        SCHOOL_YEAR = "schoolYear", "School year"
        TERM = "term", "Term"
        SEMESTER = "semester", "Semester"
        GRADING_PERIOD = "gradingPeriod", "Grading period"

    sourced_id = models.CharField(max_length=255, null=True, blank=True)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    start_date = models.DateField()
    end_date = models.DateField()
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        db_constraint=False,
    )
    school_year = models.PositiveSmallIntegerField(help_text="The calendar year it ends in.")
    # OneRoster dateLastModified: set on every write (importers set it on bulk updates).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            unique_sourced_id("academicsession"),
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")),
                name="records_academicsession_dates_ordered",
            ),
        )
        ordering = ["start_date", "title"]

    def __str__(self) -> str:
        return self.title


class Course(TenantModel):
    sourced_id = models.CharField(max_length=255, null=True, blank=True)
    school = models.ForeignKey(
        School, null=True, blank=True, on_delete=models.PROTECT, db_constraint=False
    )
    title = models.CharField(max_length=200)
    code = models.CharField(max_length=64, blank=True)
    subject = models.CharField(max_length=100, blank=True)
    # OneRoster dateLastModified: set on every write (importers set it on bulk updates).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(unique_sourced_id("course"))

    def __str__(self) -> str:
        return self.title


class Section(TenantModel):
    """A class: one course taught at one school in one term (OneRoster class)."""

    sourced_id = models.CharField(max_length=255, null=True, blank=True)
    school = models.ForeignKey(
        School, on_delete=models.PROTECT, related_name="sections", db_constraint=False
    )
    course = models.ForeignKey(
        Course, on_delete=models.PROTECT, related_name="sections", db_constraint=False
    )
    term = models.ForeignKey(
        AcademicSession, on_delete=models.PROTECT, related_name="sections", db_constraint=False
    )
    title = models.CharField(max_length=200)
    period = models.CharField(max_length=32, blank=True)
    room = models.CharField(max_length=64, blank=True)  # OneRoster "location"
    # OneRoster dateLastModified: set on every write (importers set it on bulk updates).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(unique_sourced_id("section"))
        indexes = [models.Index(fields=["district", "school"], name="records_section_school_idx")]
        # django-guardian object permission: a substitute's grant on one section (its
        # dates are a SubstituteAssignment's).
        permissions = [("substitute_section", "Teach this section as a substitute")]

    def __str__(self) -> str:
        return self.title


class GradeLevel(models.TextChoices):
    """OneRoster / CEDS grade codes."""

    INFANT = "IT", _("Infant/toddler")
    PRESCHOOL = "PR", _("Preschool")
    PREKINDERGARTEN = "PK", _("Pre-kindergarten")
    TRANSITIONAL_K = "TK", _("Transitional kindergarten")
    KINDERGARTEN = "KG", _("Kindergarten")
    G01 = "01", _("Grade 1")
    G02 = "02", _("Grade 2")
    G03 = "03", _("Grade 3")
    G04 = "04", _("Grade 4")
    G05 = "05", _("Grade 5")
    G06 = "06", _("Grade 6")
    G07 = "07", _("Grade 7")
    G08 = "08", _("Grade 8")
    G09 = "09", _("Grade 9")
    G10 = "10", _("Grade 10")
    G11 = "11", _("Grade 11")
    G12 = "12", _("Grade 12")
    G13 = "13", _("Grade 13")
    POSTSECONDARY = "PS", _("Postsecondary")
    UNGRADED = "UG", _("Ungraded")
    OTHER = "Other", _("Other")


class Student(TenantModel):
    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        NONBINARY = "X", "Non-binary"
        UNSPECIFIED = "", "Not reported"

    class Status(models.TextChoices):
        ACTIVE = "active", "Enrolled"
        INACTIVE = "inactive", "Not enrolled"
        WITHDRAWN = "withdrawn", "Withdrawn"
        GRADUATED = "graduated", "Graduated"

    sourced_id = models.CharField(max_length=255)
    # The student's own sign-in, used once rights pass to them (eligible student).
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="student_record",
    )
    given_name = models.CharField(max_length=100)
    middle_name = models.CharField(max_length=100, blank=True)
    family_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    grade_level = models.CharField(max_length=8, choices=GradeLevel.choices, blank=True)
    enrollment_status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=1, choices=Sex.choices, blank=True)
    hispanic_or_latino = models.BooleanField(default=False)
    american_indian_or_alaska_native = models.BooleanField(default=False)
    asian = models.BooleanField(default=False)
    black_or_african_american = models.BooleanField(default=False)
    native_hawaiian_or_pacific_islander = models.BooleanField(default=False)
    white = models.BooleanField(default=False)
    home_language = models.CharField(max_length=64, blank=True)
    state_id = models.CharField(max_length=64, blank=True)
    local_id = models.CharField(max_length=64, blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    # FERPA 99.5: rights pass to the student at the district's age or on postsecondary
    # enrollment; parents keep access only while the district flags a tax dependent.
    is_postsecondary = models.BooleanField(default=False)
    is_tax_dependent = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(
                fields=["district", "sourced_id"], name="records_student_sourced_id_key"
            )
        )
        indexes = [
            models.Index(fields=["district", "grade_level"], name="records_student_grade_idx"),
            models.Index(fields=["district", "birth_date"], name="records_student_birth_idx"),
            models.Index(
                fields=["district", "family_name", "given_name", "id"],
                name="records_student_name_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"student {self.pk}"  # no PII in reprs: they reach logs

    @property
    def display_name(self) -> str:
        return f"{self.preferred_name or self.given_name} {self.family_name}"


class SchoolMembership(TenantModel):
    """A student belongs to a school, with or without sections this term."""

    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="memberships", db_constraint=False
    )
    school = models.ForeignKey(
        School, on_delete=models.PROTECT, related_name="memberships", db_constraint=False
    )
    is_primary = models.BooleanField(default=True)
    begin_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(
                fields=["district", "student", "school"], name="records_membership_unique"
            )
        )
        indexes = [
            models.Index(fields=["district", "school", "student"], name="records_member_school_idx")
        ]


class HeadCount(TenantModel):
    """How many memberships one school has with these dates (an open date stored as the
    calendar's first or last day). Kept by the database, by triggers on
    ``SchoolMembership`` (records/head_counts.py); nothing in Python writes it. A grant's
    total sums a district's bands instead of counting its students."""

    # Its unique key leads with (district, school): no index of its own.
    school = models.ForeignKey(
        School, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    begin_date = models.DateField()
    end_date = models.DateField()
    members = models.IntegerField(default=0)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(
                fields=["district", "school", "begin_date", "end_date"],
                name="records_head_count_band",
            )
        )
        # A district's sum for a day reads the bands not ended by then: the bands of past
        # years' memberships stay behind it.
        indexes = [
            models.Index(
                fields=["district", "end_date", "begin_date"], name="records_head_count_open"
            )
        ]


class MultiSchoolStudent(TenantModel):
    """A student with two memberships whose dates overlap (two schools at once), whom the
    head counts count once per school on those days. Kept by the same triggers as
    ``HeadCount``."""

    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(
                fields=["district", "student"], name="records_multi_school_student"
            )
        )


class GuardianLink(TenantModel):
    """A guardian user and a student they are a parent or guardian of."""

    class Relationship(models.TextChoices):
        MOTHER = "mother", "Mother"
        FATHER = "father", "Father"
        PARENT = "parent", "Parent"
        GUARDIAN = "guardian", "Legal guardian"
        STEPPARENT = "stepparent", "Stepparent"
        GRANDPARENT = "grandparent", "Grandparent"
        FOSTER_PARENT = "foster_parent", "Foster parent"
        OTHER = "other", "Other relative"

    guardian = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="guardian_links"
    )
    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="guardian_links", db_constraint=False
    )
    relationship = models.CharField(max_length=16, choices=Relationship.choices)
    lives_with = models.BooleanField(default=True)
    has_data_access = models.BooleanField(default=True)
    begin_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(
                fields=["district", "guardian", "student"], name="records_guardianlink_unique"
            )
        )
        indexes = [
            models.Index(fields=["district", "guardian"], name="records_guardian_idx"),
            models.Index(fields=["district", "student"], name="records_guardian_stud_idx"),
        ]


class CustodyRestriction(TenantModel):
    """A court order or agreement limiting one guardian's access (FERPA 99.4).

    Scope ``all`` removes the child from the guardian entirely; scope ``categories``
    hides just the named data categories (e.g. ``contact`` for the child's address).
    """

    class Scope(models.TextChoices):
        ALL = "all", "All records"
        CATEGORIES = "categories", "Named categories"

    guardian_link = models.ForeignKey(
        GuardianLink, on_delete=models.CASCADE, related_name="restrictions", db_constraint=False
    )
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ALL)
    categories = models.JSONField(default=list, blank=True)
    begin_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    reference = models.CharField(max_length=200, blank=True, help_text="Court order or case.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.CheckConstraint(
                condition=Q(scope__in=["all", "categories"]),
                name="records_custodyrestriction_scope_known",
            )
        )
        indexes = [
            models.Index(fields=["district", "guardian_link"], name="records_restrict_link_idx")
        ]


class SectionTeacher(TenantModel):
    section = models.ForeignKey(
        Section, on_delete=models.CASCADE, related_name="teachers", db_constraint=False
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="section_assignments"
    )
    sourced_id = models.CharField(max_length=255, null=True, blank=True)
    is_primary = models.BooleanField(default=True)
    begin_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    # OneRoster dateLastModified: set on every write (importers set it on bulk updates).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            unique_sourced_id("sectionteacher"),
            models.UniqueConstraint(
                fields=["district", "section", "teacher"], name="records_sectionteacher_unique"
            ),
        )
        indexes = [models.Index(fields=["district", "teacher"], name="records_secteacher_user_idx")]


class SubstituteAssignment(TenantModel):
    """A substitute's temporary access to one section, from ``begin_date`` to ``end_date``.

    Granted by a principal with a django-guardian object permission on the section
    (access/substitutes.py); the permission is removed after the end date by a beat
    task, and the dates are checked on every read anyway. ``ended_at`` records when
    the permission was removed (or the assignment withdrawn early).
    """

    section = models.ForeignKey(
        Section, on_delete=models.CASCADE, related_name="substitutes", db_constraint=False
    )
    substitute = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="substitute_assignments"
    )
    begin_date = models.DateField()
    end_date = models.DateField()
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.CheckConstraint(
                condition=Q(end_date__gte=F("begin_date")), name="records_substitute_dates_order"
            )
        )
        indexes = [
            models.Index(fields=["district", "substitute"], name="records_substitute_user_idx"),
            models.Index(fields=["district", "section"], name="records_substitute_section_idx"),
        ]


class Enrollment(TenantModel):
    """A student on a section's roster."""

    section = models.ForeignKey(
        Section, on_delete=models.CASCADE, related_name="enrollments", db_constraint=False
    )
    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="enrollments", db_constraint=False
    )
    sourced_id = models.CharField(max_length=255, null=True, blank=True)
    begin_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    # OneRoster dateLastModified: set on every write (importers set it on bulk updates).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            unique_sourced_id("enrollment"),
            models.UniqueConstraint(
                fields=["district", "section", "student"], name="records_enrollment_unique"
            ),
        )
        indexes = [
            models.Index(fields=["district", "student"], name="records_enrollment_student_idx")
        ]


# The record tables. Each belongs to exactly one data category (access/categories.py).


class AttendanceRecord(TenantModel):
    class Status(models.TextChoices):
        PRESENT = "present", "Present"
        ABSENT = "absent", "Absent"
        TARDY = "tardy", "Tardy"
        EXCUSED = "excused", "Excused absence"

    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="attendance", db_constraint=False
    )
    date = models.DateField()
    section = models.ForeignKey(
        Section, null=True, blank=True, on_delete=models.CASCADE, db_constraint=False
    )
    status = models.CharField(max_length=8, choices=Status.choices)
    reason = models.CharField(max_length=100, blank=True)

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(fields=["district", "student", "date"], name="records_attendance_idx")
        ]


class AttendanceMonth(TenantModel):
    """One student's attendance in one calendar month, as counts: days recorded and days
    attended (present or tardy). Kept by the database itself, by triggers on
    ``AttendanceRecord`` (migration 0020), so every write path (the teacher's page,
    imports, COPY) keeps it; nothing in Python writes it. A school's list filtered by
    this year's rate reads ten of these a student instead of every mark."""

    # Its unique key leads with (district, student): no index of its own.
    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    month = models.DateField(help_text="The month's first day.")
    recorded = models.IntegerField(default=0)
    attended = models.IntegerField(default=0)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(
                fields=["district", "student", "month"], name="records_attendance_month_key"
            )
        )


class Grade(TenantModel):
    """A mark for one student in one section for one grading period."""

    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="grades", db_constraint=False
    )
    section = models.ForeignKey(
        Section, on_delete=models.CASCADE, related_name="grades", db_constraint=False
    )
    grading_period = models.ForeignKey(
        AcademicSession, on_delete=models.PROTECT, related_name="grades", db_constraint=False
    )
    sourced_id = models.CharField(max_length=255, null=True, blank=True)
    mark = models.CharField(max_length=8, blank=True)
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    comment = models.CharField(max_length=500, blank=True)
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            unique_sourced_id("grade"),
            models.UniqueConstraint(
                fields=["district", "student", "section", "grading_period"],
                name="records_grade_unique",
            ),
        )


# English learners' yearly English-proficiency test (WIDA ACCESS, ELPAC, TELPAS...) is
# imported as results in this subject (docs/import-formats.md): the report cards read
# English learners' progress from it.
ENGLISH_PROFICIENCY_SUBJECT = "English Language Proficiency"


class AssessmentResult(TenantModel):
    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="assessments", db_constraint=False
    )
    assessment = models.CharField(max_length=200)
    subject = models.CharField(max_length=100)
    score = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    performance_level = models.PositiveSmallIntegerField(null=True, blank=True)
    performance_label = models.CharField(max_length=64, blank=True)
    administered_on = models.DateField()

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(
                fields=["district", "student", "administered_on"], name="records_assessment_idx"
            )
        ]


class ProgramParticipation(TenantModel):
    class Program(models.TextChoices):
        IEP = "iep", "Special education (IEP)"
        SECTION_504 = "section_504", "Section 504 plan"
        ENGLISH_LEARNER = "english_learner", "English learner"
        FREE_REDUCED_LUNCH = "free_reduced_lunch", "Free or reduced-price meals"
        HOMELESS = "homeless", "Homeless (McKinney-Vento)"
        FOSTER = "foster", "Foster care"

    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="programs", db_constraint=False
    )
    program = models.CharField(max_length=24, choices=Program.choices)
    begin_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    # What staff must provide in class (IEP/504 accommodations, EL supports).
    accommodations = models.TextField(blank=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["district", "student"], name="records_program_idx")]


class HealthRecord(TenantModel):
    student = models.OneToOneField(
        Student, on_delete=models.CASCADE, related_name="health", db_constraint=False
    )
    conditions = models.TextField(blank=True)
    allergies = models.TextField(blank=True)
    medications = models.TextField(blank=True)
    immunization_status = models.CharField(
        max_length=16,
        choices=[
            ("complete", "Complete"),
            ("incomplete", "Incomplete"),
            ("exempt", "Exempt"),
            ("unknown", "Unknown"),
        ],
        default="unknown",
    )
    updated_at = models.DateTimeField(auto_now=True)


class DisciplineIncident(TenantModel):
    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="discipline", db_constraint=False
    )
    school = models.ForeignKey(School, on_delete=models.PROTECT, db_constraint=False)
    occurred_on = models.DateField()
    incident_type = models.CharField(max_length=100)
    action_taken = models.CharField(max_length=100, blank=True)
    days_removed = models.DecimalField(max_digits=4, decimal_places=1, default=0)
    description = models.TextField(blank=True)

    class Meta(TenantModel.Meta):
        indexes = [models.Index(fields=["district", "student"], name="records_discipline_idx")]


class TransportationAssignment(TenantModel):
    student = models.OneToOneField(
        Student, on_delete=models.CASCADE, related_name="transportation", db_constraint=False
    )
    route = models.CharField(max_length=64)
    stop = models.CharField(max_length=200)
    pickup_time = models.TimeField(null=True, blank=True)
    dropoff_time = models.TimeField(null=True, blank=True)


class DirectoryOptOut(TenantModel):
    """A family's choice to withhold directory fields (FERPA 99.37).

    ``field`` is a directory field name, or ``*`` for all of them. It holds after the
    student leaves the district, so it is never ended by an import.
    """

    ALL_FIELDS = "*"

    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="directory_opt_outs", db_constraint=False
    )
    field = models.CharField(max_length=64)
    chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    chosen_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(
                fields=["district", "student", "field"], name="records_optout_unique"
            )
        )


class ImportRun(TenantModel):
    """One import, whatever its outcome: who, when, what file, what it found and did."""

    class Kind(models.TextChoices):
        ONEROSTER = "oneroster", "OneRoster roster bundle"
        RECORDS = "records", "Records CSV files"

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Imported"
        REJECTED = "rejected", "Rejected: nothing changed"
        FAILED = "failed", "Failed: nothing changed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    # Where an uploaded file waits for its worker; emptied once the run has finished.
    stored_path = models.CharField(max_length=500, blank=True)
    dry_run = models.BooleanField(default=False)
    strict = models.BooleanField(default=False)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # How many times a worker started it: a run whose worker died is run again, once.
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta(TenantModel.Meta):
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["district", "created_at"], name="records_importrun_created_idx")
        ]


class FamilyVisit(TenantModel):
    """When a family member last opened a child's page: what counts as "new" on their card.

    Bookkeeping about the reader, not student data: it holds no field of the record.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="family_visits"
    )
    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    last_seen_at = models.DateTimeField()

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(
                fields=["district", "user", "student"], name="records_familyvisit_unique"
            )
        )


class DirectoryOptOutChange(TenantModel):
    """Every opt-out and opt-back-in of a directory field, kept after the choice changes.

    ``DirectoryOptOut`` holds the choices in force (opting back in deletes its row);
    this table is their history: who changed what, and when. Append-only by use.
    """

    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    field = models.CharField(max_length=64)  # a directory field name, or "*" for all
    opted_out = models.BooleanField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints()
        indexes = [
            models.Index(
                fields=["district", "student", "changed_at"], name="records_optoutchange_idx"
            )
        ]


class InspectionRequest(TenantModel):
    """A family's request to inspect records not shown online (FERPA 99.10).

    Due ``District.inspection_due_days`` after the request, counted in the district's
    time zone; staff close it as fulfilled or declined, with a note.
    """

    class Preference(models.TextChoices):
        IN_PERSON = "in_person", "Review in person"
        COPIES = "copies", "Receive copies"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FULFILLED = "fulfilled", "Fulfilled"
        DECLINED = "declined", "Declined"

    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.TextField(max_length=2000)
    preference = models.CharField(max_length=16, choices=Preference.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    due_on = models.DateField()
    created_at = models.DateTimeField()
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(max_length=2000, blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | (~Q(status="open") & Q(closed_at__isnull=False)),
                name="records_inspection_closed_when_not_open",
            )
        )
        indexes = [
            models.Index(
                fields=["district", "status", "due_on"], name="records_inspection_due_idx"
            ),
            models.Index(fields=["district", "student"], name="records_inspection_student_idx"),
        ]

    def __str__(self) -> str:
        return f"inspection request {self.pk}"


class AmendmentRequest(TenantModel):
    """A family's request to correct a field of the record (FERPA 99.20–99.22).

    ``field`` is a student column (access/categories.py) or, for what is not a column,
    a short description of the record; ``category`` is the field's data category, so a
    request is shown only to readers of that category.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for a decision"
        ACCEPTED = "accepted", "Corrected"
        REFUSED = "refused", "Not corrected"

    student = models.ForeignKey(
        Student, on_delete=models.CASCADE, related_name="amendment_requests", db_constraint=False
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    category = models.CharField(max_length=32)
    field = models.CharField(max_length=64)
    current_value = models.TextField(blank=True)  # what the record said when asked
    proposed_value = models.TextField()
    reason = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.CheckConstraint(
                condition=Q(status__in=["open", "accepted", "refused"]),
                name="records_amendment_status_known",
            ),
            # 99.21: a refusal is explained to the family.
            models.CheckConstraint(
                condition=~Q(status="refused") | ~Q(decision_reason=""),
                name="records_amendment_refusal_has_reason",
            ),
        )
        indexes = [
            models.Index(
                fields=["district", "status", "created_at"], name="records_amend_queue_idx"
            ),
            models.Index(fields=["district", "student"], name="records_amend_student_idx"),
        ]

    def __str__(self) -> str:
        return f"amendment request {self.pk}"


class DisagreementStatement(TenantModel):
    """The family's statement after a refused amendment (99.21(b)(2)).

    It travels with the field: wherever that field's category is shown, so is it.
    """

    amendment = models.OneToOneField(
        AmendmentRequest, on_delete=models.CASCADE, related_name="statement", db_constraint=False
    )
    student = models.ForeignKey(
        Student,
        on_delete=models.CASCADE,
        related_name="disagreement_statements",
        db_constraint=False,
    )
    category = models.CharField(max_length=32)
    field = models.CharField(max_length=64)
    text = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints()
        indexes = [
            models.Index(fields=["district", "student"], name="records_statement_student_idx")
        ]

    def __str__(self) -> str:
        return f"statement of disagreement {self.pk}"


class AttendanceChange(TenantModel):
    """A correction of a taken attendance mark: who changed it, when, old → new.

    ``AttendanceRecord`` holds the mark in force; this table keeps what it was.
    Append-only by use.
    """

    record = models.ForeignKey(
        AttendanceRecord, on_delete=models.CASCADE, related_name="changes", db_constraint=False
    )
    # The mark's date: marks are partitioned by it (records/partitions.py), so the key
    # that checks the mark exists is (district_id, record_id, record_date).
    record_date = models.DateField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField()
    old_status = models.CharField(max_length=8, choices=AttendanceRecord.Status.choices)
    new_status = models.CharField(max_length=8, choices=AttendanceRecord.Status.choices)
    old_reason = models.CharField(max_length=100, blank=True)
    new_reason = models.CharField(max_length=100, blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints()
        indexes = [
            models.Index(fields=["district", "record", "changed_at"], name="records_attchange_idx")
        ]
