"""The access log and record of disclosures: append-only and hash-chained.

One ``AccessEvent`` per read (a request, an export, a job), with the students it
touched in ``AccessEventStudent`` written by one bulk insert, so a 500-student roster
read costs the same few statements as a one-student read. Each event carries the
hash of the district's previous event (REQUIREMENTS 19); PostgreSQL triggers refuse
UPDATE and DELETE on both tables.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from records.tenancy import TenantModel, tenant_constraints


class AuditChain(TenantModel):
    """The head of one district's hash chain: locked while an event is appended."""

    last_sequence = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(fields=["district"], name="access_auditchain_one_per_district")
        )


class AccessEvent(TenantModel):
    """A read of student PII: who, in what role, which categories, why, when (UTC).

    ``is_disclosure`` marks reads by parties outside the family and the school's
    officials: those are the FERPA record of disclosures (34 CFR 99.32), with the
    party and the legal basis (a 99.31 paragraph).
    """

    sequence = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    # PROTECT: a person with logged reads is deactivated, never deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_username = models.CharField(max_length=150)
    actor_roles = models.CharField(max_length=200)
    purpose = models.CharField(max_length=200)
    categories = models.JSONField(default=list)
    student_count = models.PositiveIntegerField()
    is_disclosure = models.BooleanField(default=False)
    party = models.CharField(max_length=200, blank=True)
    legal_basis = models.CharField(max_length=64, blank=True)
    # A provider's read: the grant it was made under, and the students it returned as one
    # id array (a nightly sync of a district is a few hundred events, not a row per
    # student per request); other reads list their students in AccessEventStudent.
    grant = models.ForeignKey(
        "access.Grant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    disclosed_student_ids = models.JSONField(default=list, blank=True)
    # A study's de-identified release (reports/extracts.py): its students are in the id
    # array too, as a provider's are.
    study = models.ForeignKey(
        "access.Study",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(
                fields=["district", "sequence"], name="access_accessevent_sequence_key"
            )
        )
        indexes = [
            models.Index(
                fields=["district", "actor", "occurred_at"], name="access_event_actor_idx"
            ),
            models.Index(
                fields=["district", "grant", "occurred_at"],
                condition=models.Q(grant__isnull=False),
                name="access_event_grant_idx",
            ),
            models.Index(
                fields=["district", "study", "occurred_at"],
                condition=models.Q(study__isnull=False),
                name="access_event_study_idx",
            ),
        ]


class AccessEventStudent(TenantModel):
    """One student touched by an access event: how a family finds its child's log."""

    # Every read writes these rows, so each link is checked once, not twice: on
    # PostgreSQL the composite tenant keys (district_id, x_id) enforce existence and
    # district together, and Django's single-column keys would only repeat them.
    district = models.ForeignKey(
        "records.District",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    event = models.ForeignKey(
        AccessEvent, on_delete=models.PROTECT, related_name="students", db_constraint=False
    )
    student = models.ForeignKey(
        "records.Student",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,  # access_evstudent_idx serves the family's log
    )

    # The event's time and kind, as the event has them: the log is partitioned by both
    # (records/partitions.py), and the family's list finds a child's newest reads by time.
    occurred_at = models.DateTimeField()
    is_disclosure = models.BooleanField(default=False)

    class Meta(TenantModel.Meta):
        indexes = [
            # A child's reads by time, and their events without reading the rows.
            models.Index(
                fields=["district", "student", "occurred_at", "event"],
                name="access_evstudent_idx",
            )
        ]


class PrunedLogMonth(models.Model):
    """A month of the access log's reads dropped for being older than the retention
    (records/partitions.py): written by the database function that drops it, so the
    chain check (``access.audit.verify_chain``) knows which gaps are the retention's.
    Disclosures are never dropped. Not a tenant table: a month is every district's."""

    partition = models.CharField(max_length=63)
    month = models.DateField()
    dropped_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partition"], name="access_prunedlogmonth_once")
        ]

    def __str__(self) -> str:
        return f"{self.partition} (dropped {self.dropped_at:%Y-%m-%d})"


class EmergencyAccess(TenantModel):
    """Break-glass: a staff member's 24-hour access to one student outside their rosters.

    Requested with a written reason (34 CFR 99.36: a health or safety emergency);
    every read through it is recorded as a disclosure under 99.31(a)(10) with that
    reason, and the grant waits in the review queue (``/district/reviews/``) until the
    student's principal or a district administrator marks it reviewed.
    """

    student = models.ForeignKey(
        "records.Student", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("granted_at")),
                name="access_emergency_expires_after_grant",
            )
        )
        indexes = [
            models.Index(
                fields=["district", "requested_by", "expires_at"], name="access_emergency_user_idx"
            ),
            models.Index(fields=["district", "student"], name="access_emergency_student_idx"),
            models.Index(fields=["district", "reviewed_at"], name="access_emergency_review_idx"),
        ]


class CacheEpoch(models.Model):
    """A district's cache epoch: moved forward, in the writing transaction, by every
    write that can change who sees whom or what every student shows (a trigger, see
    records/cache_epochs.py). Bookkeeping for caches, no student data: not a tenant table."""

    district_id = models.BigIntegerField(primary_key=True)
    value = models.BigIntegerField()

    def __str__(self) -> str:
        return f"district {self.district_id}: epoch {self.value}"


class StudentEpoch(models.Model):
    """One student's cache epoch: moved forward by every write to their records."""

    student_id = models.BigIntegerField(primary_key=True)
    district_id = models.BigIntegerField()
    value = models.BigIntegerField()

    def __str__(self) -> str:
        return f"student {self.student_id}: epoch {self.value}"


# Service providers (DESIGN section 1): a bus company or an edtech app receives student
# data only as a school official under a grant the district made, mirroring the signed
# data-privacy agreement (REQUIREMENTS 5, 6, 8). A provider's reads are disclosures.


class Provider(TenantModel):
    """An outside organisation the district shares data with."""

    name = models.CharField(max_length=200)
    services = models.TextField(blank=True, help_text="What the provider does for the district.")
    website = models.URLField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(fields=["district", "name"], name="access_provider_name_key")
        )
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProviderContact(TenantModel):
    class Kind(models.TextChoices):
        PRIMARY = "primary", "Primary contact"
        TECHNICAL = "technical", "Technical contact"
        PRIVACY = "privacy", "Privacy or breach contact"

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="contacts", db_constraint=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PRIMARY)
    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=32, blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints()
        indexes = [models.Index(fields=["district", "provider"], name="access_pcontact_idx")]


class ProviderMember(TenantModel):
    """A person of the provider who may sign in: to download CSV deliveries and record
    the disposition attestation. Holds no staff role, reaches no student by it."""

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="members", db_constraint=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_memberships"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(
                fields=["district", "provider", "user"], name="access_providermember_key"
            )
        )
        indexes = [models.Index(fields=["district", "user"], name="access_pmember_user_idx")]


class ApiClient(TenantModel):
    """A provider's OAuth 2 client (client credentials): its secret is shown once, kept
    hashed by django-oauth-toolkit, rotated or disabled from the console."""

    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, related_name="clients", db_constraint=False
    )
    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.PROTECT, related_name="api_client"
    )
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints()
        indexes = [models.Index(fields=["district", "provider"], name="access_apiclient_idx")]

    def __str__(self) -> str:
        return self.name


class Agreement(TenantModel):
    """One signed data-privacy agreement, as the National Data Privacy Agreement lays it
    out: services, the Exhibit B data elements, term, disposition, subprocessors,
    security framework, breach contact, and the signed file."""

    class Disposition(models.TextChoices):
        DELETE = "delete", "Delete"
        TRANSFER = "transfer", "Transfer to the district"

    class Extent(models.TextChoices):
        COMPLETE = "complete", "Complete"
        PARTIAL = "partial", "Partial"

    class Framework(models.TextChoices):
        NIST_CSF = "nist_csf", "NIST Cybersecurity Framework"
        NIST_800_171 = "nist_800_171", "NIST SP 800-171"
        ISO_27001 = "iso_27001", "ISO/IEC 27001"
        SOC2 = "soc2", "SOC 2 Type II"
        CIS = "cis", "CIS Critical Security Controls"
        OTHER = "other", "Other (described)"

    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, related_name="agreements", db_constraint=False
    )
    title = models.CharField(max_length=200)
    reference = models.CharField(max_length=100, blank=True, help_text="The agreement's number.")
    services = models.TextField(help_text="The services the agreement covers (Exhibit A).")
    data_elements = models.JSONField(default=list, blank=True)  # access/agreements.py codes
    term_start = models.DateField()
    term_end = models.DateField()
    disposition = models.CharField(
        max_length=16, choices=Disposition.choices, default=Disposition.DELETE
    )
    disposition_extent = models.CharField(
        max_length=16, choices=Extent.choices, default=Extent.COMPLETE
    )
    disposition_due = models.DateField(null=True, blank=True)
    subprocessors = models.JSONField(default=list, blank=True)  # [{name, purpose, notice_date}]
    security_framework = models.CharField(max_length=16, choices=Framework.choices)
    security_framework_detail = models.CharField(max_length=200, blank=True)
    breach_contact = models.CharField(max_length=200)
    signed_on = models.DateField(null=True, blank=True)
    signed_file = models.FileField(upload_to="agreements/%Y/", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.CheckConstraint(
                condition=models.Q(term_end__gte=models.F("term_start")),
                name="access_agreement_term_ordered",
            )
        )
        indexes = [models.Index(fields=["district", "provider"], name="access_agreement_idx")]
        ordering = ["-term_start", "title"]

    def __str__(self) -> str:
        return self.title


class Grant(TenantModel):
    """What one provider receives under an agreement: the legal basis, the purpose, the
    categories, the population and the dates. Nothing flows before ``starts_on``, after
    ``ends_on``, or once revoked; an expired grant needs no write to stop."""

    class LegalBasis(models.TextChoices):
        SCHOOL_OFFICIAL = "school_official", "School official"
        CONSENT = "consent", "Written consent"
        DIRECTORY = "directory", "Directory information"

    class Population(models.TextChoices):
        DISTRICT = "district", "The whole district"
        SCHOOLS = "schools", "Chosen schools"
        SECTIONS = "sections", "Chosen sections"
        RULES = "rules", "Rules"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        REVOKED = "revoked", "Revoked"

    agreement = models.ForeignKey(
        Agreement, on_delete=models.PROTECT, related_name="grants", db_constraint=False
    )
    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, related_name="grants", db_constraint=False
    )
    legal_basis = models.CharField(max_length=16, choices=LegalBasis.choices)
    purpose = models.CharField(max_length=300)
    categories = models.JSONField(default=list)
    sensitive_reason = models.TextField(blank=True)
    sensitive_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    population = models.CharField(max_length=16, choices=Population.choices)
    school_ids = models.JSONField(default=list, blank=True)  # chosen schools, or the rule's
    section_ids = models.JSONField(default=list, blank=True)  # chosen sections (fixed)
    course_title_contains = models.CharField(max_length=100, blank=True)  # a rule
    grade_levels = models.JSONField(default=list, blank=True)  # a rule
    shares_staff = models.BooleanField(default=False)
    starts_on = models.DateField()
    ends_on = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.TextField(blank=True)
    ending_notice_sent_at = models.DateTimeField(null=True, blank=True)  # 30 days before
    ended_processed_at = models.DateTimeField(null=True, blank=True)  # the beat task's clean-up

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="access_grant_dates_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "active", "revoked"]),
                name="access_grant_status_known",
            ),
        )
        indexes = [
            models.Index(fields=["district", "provider", "status"], name="access_grant_prov_idx"),
            models.Index(fields=["district", "ends_on"], name="access_grant_ends_idx"),
        ]
        ordering = ["-starts_on", "pk"]

    def __str__(self) -> str:
        return f"grant {self.pk}"


class DispositionAttestation(TenantModel):
    """The provider's statement that it deleted (or transferred) the data of an ended
    grant, with the date and the signed file; recorded by the provider or by the
    district on its behalf."""

    grant = models.OneToOneField(
        Grant, on_delete=models.PROTECT, related_name="attestation", db_constraint=False
    )
    disposed_on = models.DateField()
    method = models.CharField(max_length=16, choices=Agreement.Disposition.choices)
    statement = models.TextField(blank=True)
    file = models.FileField(upload_to="attestations/%Y/", blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    on_behalf_of_provider = models.BooleanField(default=False)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints()


class CsvDelivery(TenantModel):
    """A OneRoster CSV bundle of one grant's data, built by a Celery task, downloaded
    by the provider through an expiring link (each download is a disclosure)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Building"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    grant = models.ForeignKey(
        Grant, on_delete=models.PROTECT, related_name="deliveries", db_constraint=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(upload_to="deliveries/", blank=True)
    student_ids = models.JSONField(default=list, blank=True)  # who the bundle holds
    categories = models.JSONField(default=list, blank=True)
    # What the bundle's directory information was read under: a family's opt-out after
    # ``data_as_of``, or a field no longer designated, makes the file stale (410).
    data_as_of = models.DateTimeField(null=True, blank=True)  # the build's first read
    directory_fields = models.JSONField(null=True, blank=True)  # the district's designation
    error = models.TextField(blank=True)
    download_count = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints()
        indexes = [models.Index(fields=["district", "grant"], name="access_delivery_grant_idx")]


# Researchers (DESIGN section 1; REQUIREMENTS 9-11; 34 CFR 99.31(a)(6)): a study the
# district approved, under a written agreement, receives de-identified extracts only.


class Researcher(TenantModel):
    """A person outside the district invited to propose and run studies. Holds no staff
    role and reaches no named student by it: only their approved studies' extracts."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="researcher_profiles"
    )
    institution = models.CharField(max_length=200)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)
    is_active = models.BooleanField(default=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(fields=["district", "user"], name="access_researcher_user_key")
        )


class Study(TenantModel):
    """A research study: its proposals and amendments are ``StudyVersion`` rows; the one
    approved last is the written agreement in force (REQUIREMENTS 9)."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"  # no version approved yet
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CLOSED = "closed", "Closed"

    title = models.CharField(max_length=200)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_version = models.ForeignKey(
        "access.StudyVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    # Crypto-shredding: when the study key is deleted, no pseudonym can be recomputed.
    key_destroyed_at = models.DateTimeField(null=True, blank=True)
    # The researchers' attestation that they destroyed the data (due by the agreement's
    # destruction deadline).
    destroyed_on = models.DateField(null=True, blank=True)
    destruction_statement = models.TextField(blank=True)
    destruction_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    destruction_recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.CheckConstraint(
                condition=models.Q(status__in=["proposed", "approved", "rejected", "closed"]),
                name="access_study_status_known",
            )
        )
        indexes = [models.Index(fields=["district", "status"], name="access_study_status_idx")]
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title


class StudyVersion(TenantModel):
    """One proposal of a study, or an amendment: everything the written agreement says.
    Once decided (approved, changes asked for, rejected) a version never changes (a
    database trigger refuses it); a revision is a new version, reviewed again."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Waiting for review"
        APPROVED = "approved", "Approved"
        CHANGES_REQUESTED = "changes_requested", "Changes asked for"
        REJECTED = "rejected", "Rejected"

    class LegalBasis(models.TextChoices):
        STUDIES = "studies", "Studies for the district: 34 CFR 99.31(a)(6)"
        AUDIT = "audit_evaluation", "Audit or evaluation of education programs: 99.31(a)(3), 99.35"

    class BirthDates(models.TextChoices):
        BIRTH_YEAR = "birth_year", "Birth year"
        AGE_BAND = "age_band", "Age band (3 years)"

    study = models.ForeignKey(
        Study, on_delete=models.PROTECT, related_name="versions", db_constraint=False
    )
    number = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT)
    title = models.CharField(max_length=200)
    principal_investigator = models.CharField(max_length=200, blank=True)
    institution = models.CharField(max_length=200, blank=True)
    purpose = models.TextField(blank=True)
    research_questions = models.JSONField(default=list, blank=True)  # [text, ...]
    legal_basis = models.CharField(max_length=20, choices=LegalBasis.choices, blank=True)
    # Each element asked for, with the research question (1-based) it serves.
    data_elements = models.JSONField(default=list, blank=True)  # [{element, question}]
    school_ids = models.JSONField(default=list, blank=True)
    grade_levels = models.JSONField(default=list, blank=True)
    school_years = models.JSONField(default=list, blank=True)  # years they end in
    birth_dates_as = models.CharField(
        max_length=16, choices=BirthDates.choices, default=BirthDates.BIRTH_YEAR
    )
    irb_number = models.CharField(max_length=100, blank=True)
    irb_expires_on = models.DateField(null=True, blank=True)
    irb_file = models.FileField(upload_to="irb/%Y/", blank=True)
    researcher_ids = models.JSONField(default=list, blank=True)  # the named researchers
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    destroy_by = models.DateField(null=True, blank=True)
    min_cell_size = models.PositiveSmallIntegerField(default=10)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(
                fields=["district", "study", "number"], name="access_studyversion_number_key"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    state__in=["draft", "submitted", "approved", "changes_requested", "rejected"]
                ),
                name="access_studyversion_state_known",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    state__in=["approved", "changes_requested", "rejected"],
                    decided_at__isnull=False,
                )
                | models.Q(state__in=["draft", "submitted"], decided_at__isnull=True),
                name="access_studyversion_decided_at",
            ),
        )
        ordering = ["study", "-number"]

    def __str__(self) -> str:
        return f"{self.title} (version {self.number})"

    @property
    def is_decided(self) -> bool:
        return self.decided_at is not None


class StudyKey(TenantModel):
    """The study's secret for pseudonyms (HMAC-SHA256 of a student's internal id), stored
    wrapped under the deployment's STUDY_KEY_WRAPPING_KEY (access/studies.py). Its row is
    deleted when the study closes: then no pseudonym can be recomputed or re-linked."""

    study = models.OneToOneField(
        Study, on_delete=models.CASCADE, related_name="key", db_constraint=False
    )
    secret = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints()
