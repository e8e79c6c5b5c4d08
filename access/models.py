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
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(
                fields=["district", "sequence"], name="access_accessevent_sequence_key"
            )
        )
        indexes = [
            models.Index(fields=["district", "actor", "occurred_at"], name="access_event_actor_idx")
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
        db_index=False,  # (district, student, event) serves the family's log
    )

    class Meta(TenantModel.Meta):
        indexes = [
            models.Index(fields=["district", "student", "event"], name="access_evstudent_idx")
        ]


class EmergencyAccess(TenantModel):
    """Break-glass: a staff member's 24-hour access to one student outside their rosters.

    Requested with a written reason (34 CFR 99.36: a health or safety emergency);
    every read through it is recorded as a disclosure under 99.31(a)(10) with that
    reason, and the grant waits in the review queue (``/district/reviews/``) until the
    student's principal or a district administrator marks it reviewed.
    """

    student = models.ForeignKey("records.Student", on_delete=models.PROTECT, related_name="+")
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
