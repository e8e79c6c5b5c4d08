"""Published report releases: immutable snapshots of a district's report cards."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from records.tenancy import TenantModel, tenant_constraints


class Release(TenantModel):
    """One build of a district's report cards for a school year.

    A release is built as a preview; publishing it freezes it for good (a published cell
    never changes). A correction or the next night's figures are a new release that
    ``continues`` this one, starting from its suppression pattern and audited jointly
    with every release before it (REQUIREMENTS 15, reports/ledger.py).
    """

    class Kind(models.TextChoices):
        NIGHTLY = "nightly", _("Nightly")
        ON_REQUEST = "on_request", _("Published by a district admin")
        STATE = "state", _("State release")

    class Status(models.TextChoices):
        PREVIEW = "preview", _("Preview")
        PUBLISHED = "published", _("Published")
        DISCARDED = "discarded", _("Discarded")

    school_year = models.PositiveSmallIntegerField(help_text="The calendar year it ends in.")
    as_of = models.DateField(help_text="The district's date the figures describe.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREVIEW)
    continues = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    minimum_n = models.PositiveSmallIntegerField()
    width = models.PositiveSmallIntegerField(help_text="Required width of a hidden interval.")
    # What the public reads: names of schools and of the assessment, and each cell's
    # published value (a number) or code.
    content = models.JSONField()
    # Every value published this school year up to this release, true counts and sums
    # (reports/ledger.py): kept only so that the next release is audited jointly with
    # all of them. Never served.
    ledger = models.JSONField()
    # Every cell's true count and the sums tying them ({"keys", "counts", "sums"}): read
    # by the state release, which audits the districts' tables together. Never served.
    table = models.JSONField(default=dict)
    # Each hidden cell's proven interval [low, high] (high null when unbounded).
    certificate = models.JSONField()
    summary = models.JSONField(help_text="Cells, primary, hidden, students hidden, seconds.")
    # The message that built it (a Celery task id), when asked for by one: a message
    # delivered again finds its release and builds none.
    build_key = models.CharField(max_length=64, blank=True, default="")

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False),
                name="reports_release_published_has_time",
            ),
            models.UniqueConstraint(
                fields=["district", "build_key"],
                condition=~Q(build_key=""),
                name="reports_release_built_once",
            ),
        )
        indexes = [
            models.Index(
                fields=["district", "school_year", "status", "-published_at"],
                name="reports_release_latest_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.district_id} {self.school_year} release {self.pk} ({self.status})"

    def save(self, *args, **kwargs):
        if self.pk and self._published_in_database():
            raise ValidationError("A published release never changes; publish a new one.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self._published_in_database():
            raise ValidationError("A published release is never deleted.")
        return super().delete(*args, **kwargs)

    def _published_in_database(self) -> bool:
        return Release.unscoped.filter(pk=self.pk, status=self.Status.PUBLISHED).exists()


class StateRelease(models.Model):
    """One build of a state's report card: the sums over its districts' latest published
    releases, protected together with them (a district's hidden cell is never the state
    total minus the other districts). Published when built, and then never changed."""

    state = models.CharField(max_length=2)
    school_year = models.PositiveSmallIntegerField()
    as_of = models.DateField(help_text="The latest date among the districts' figures.")
    status = models.CharField(
        max_length=16, choices=Release.Status.choices, default=Release.Status.PUBLISHED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField()
    releases = models.JSONField(help_text="The district releases it sums, by district id.")
    minimum_n = models.PositiveSmallIntegerField()
    width = models.PositiveSmallIntegerField()
    content = models.JSONField()
    ledger = models.JSONField()
    certificate = models.JSONField()
    summary = models.JSONField()
    # The message that built it (a Celery task id), as a district release's.
    build_key = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["state", "-published_at"], name="reports_state_latest_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["build_key"], condition=~Q(build_key=""), name="reports_state_built_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.state} {self.school_year} state release {self.pk}"

    def save(self, *args, **kwargs):
        if self.pk and StateRelease.objects.filter(pk=self.pk).exists():
            raise ValidationError("A published release never changes; publish a new one.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("A published release is never deleted.")


class StateAnalyst(models.Model):
    """A person granted a state's analyst pages (``/state/``): the report cards of every
    district of the state side by side, and its state release. Aggregates only: never a
    student row."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="state_analyst_grants"
    )
    state = models.CharField(max_length=2)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "state"], name="reports_state_analyst_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} analyses {self.state}"


class StudyExtract(TenantModel):
    """A de-identified extract of an approved study (REQUIREMENTS 10-11), built by a
    Celery task, downloaded by the study's named researchers through expiring links."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Building")
        READY = "ready", _("Ready")
        REFUSED = "refused", _("Not released")  # k could not be reached
        FAILED = "failed", _("Failed")

    study = models.ForeignKey(
        "access.Study", on_delete=models.PROTECT, related_name="extracts", db_constraint=False
    )
    version = models.ForeignKey(
        "access.StudyVersion",
        on_delete=models.PROTECT,
        related_name="extracts",
        db_constraint=False,
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    stage = models.CharField(max_length=100, blank=True)  # what the build is doing now
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(upload_to="extracts/", blank=True)
    # The release report (k achieved, l, records suppressed, generalisations, loss).
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    download_count = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints()
        indexes = [models.Index(fields=["district", "study"], name="reports_extract_study_idx")]
        ordering = ["-requested_at", "-pk"]


class ExtractDownload(TenantModel):
    """One download of an extract: who, when, from which address."""

    extract = models.ForeignKey(
        StudyExtract, on_delete=models.PROTECT, related_name="downloads", db_constraint=False
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    downloaded_at = models.DateTimeField(auto_now_add=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints()
        indexes = [models.Index(fields=["district", "extract"], name="reports_extractdl_idx")]


class StudyOutput(TenantModel):
    """A result table a researcher means to publish, checked by the suppression audit
    against the study's earlier approved outputs, and released by a district admin."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Waiting for review")
        APPROVED = "approved", _("Approved for release")
        REJECTED = "rejected", _("Not approved")

    study = models.ForeignKey(
        "access.Study", on_delete=models.PROTECT, related_name="outputs", db_constraint=False
    )
    title = models.CharField(max_length=200)
    table = models.JSONField()  # reports.output_review.ResultTable.to_json()
    hidden_cells = models.JSONField(default=list)  # [[row, column], ...] the audit hides
    minimum_n = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SUBMITTED)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints()
        indexes = [models.Index(fields=["district", "study"], name="reports_output_study_idx")]
        ordering = ["-submitted_at", "-pk"]
