"""People who sign in, and the staff roles they hold in a district or school."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy

from records.tenancy import TenantModel, tenant_constraints


class User(AbstractUser):
    """Anyone who signs in: staff, guardians, eligible students, analysts.

    ``district`` is the tenant the person belongs to (empty for platform operators);
    links from tenant rows to a user are composite keys on ``(district, id)``, so a
    user can only ever be tied to rows of their own district. Being a superuser
    grants no student data: access comes from roles and relationships alone.
    Usernames are unique whatever their case, across districts: a name typed in any
    case names one person.
    """

    district = models.ForeignKey(
        "records.District",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        db_index=False,
    )
    sourced_id = models.CharField(max_length=255, null=True, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    # OneRoster dateLastModified for staff (importers set it on bulk updates).
    updated_at = models.DateTimeField(auto_now=True)
    # Raised to end every session the person has open (``end_sessions``): each session
    # carries a hash of it, which Django checks on every request with the user it loads.
    session_generation = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["district", "id"], name="accounts_user_district_id_key"
            ),
            models.UniqueConstraint(
                fields=["district", "sourced_id"],
                condition=Q(sourced_id__isnull=False),
                name="accounts_user_sourced_id_key",
            ),
            # Lookalikes (Jo.Smith beside jo.smith) would make a lookup by name a guess.
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_lower_key",
                violation_error_message=gettext_lazy("A user with that username already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.username

    def _get_session_auth_hash(self, secret=None):
        password_hash = super()._get_session_auth_hash(secret=secret)
        if not self.session_generation:  # sessions begun before any ending stay valid
            return password_hash
        return salted_hmac(
            SESSION_GENERATION_SALT,
            f"{password_hash}:{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


SESSION_GENERATION_SALT = "accounts.User.session_generation"


def end_sessions(user) -> None:
    """Signs the person out everywhere: the next request of each of their sessions finds
    its hash stale and is anonymous."""
    User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
    user.refresh_from_db(fields=["session_generation"])


class Role(models.TextChoices):
    DISTRICT_ADMIN = "district_admin", "District administrator"
    PRINCIPAL = "principal", "Principal"
    SCHOOL_ADMIN = "school_admin", "School administrator"
    TEACHER = "teacher", "Teacher"
    COUNSELOR = "counselor", "Counselor"
    NURSE = "nurse", "School nurse"
    SPECIAL_EDUCATION = "special_education", "Special-education staff"


DISTRICT_ROLES = frozenset({Role.DISTRICT_ADMIN})


class RoleMembership(TenantModel):
    """A staff role held in a district (district admin) or at one school (the rest)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_memberships"
    )
    role = models.CharField(max_length=24, choices=Role.choices)
    school = models.ForeignKey(
        "records.School",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="staff",
        db_constraint=False,
    )
    begin_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    sourced_id = models.CharField(max_length=255, null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints(
            models.UniqueConstraint(
                fields=["district", "user", "role", "school"],
                condition=Q(school__isnull=False),
                name="accounts_rolemembership_school_unique",
            ),
            models.UniqueConstraint(
                fields=["district", "user", "role"],
                condition=Q(school__isnull=True),
                name="accounts_rolemembership_district_unique",
            ),
            # District-wide roles have no school; every other role names exactly one.
            models.CheckConstraint(
                condition=(Q(role__in=list(DISTRICT_ROLES)) & Q(school__isnull=True))
                | (~Q(role__in=list(DISTRICT_ROLES)) & Q(school__isnull=False)),
                name="accounts_rolemembership_scope",
            ),
        )
        indexes = [models.Index(fields=["district", "user"], name="accounts_role_user_idx")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} ({self.user_id})"


class Invitation(TenantModel):
    """A single-use link that lets a rostered guardian choose their first password.

    Only the SHA-256 of the token is kept: the token itself exists in the email alone,
    so a copy of the database cannot be turned into working links.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # Set when a newer invitation replaces this one before it was used.
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints()
        indexes = [models.Index(fields=["district", "user"], name="accounts_invitation_user_idx")]

    def __str__(self) -> str:
        return f"Invitation {self.pk} ({self.user_id})"

    @property
    def state(self) -> str:
        """``used``, ``voided``, ``expired`` or ``open``."""
        if self.used_at is not None:
            return "used"
        if self.voided_at is not None:
            return "voided"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"


class RoleChange(TenantModel):
    """A role given, renewed or ended on the district console: who did it, when, and
    the dates the role held after the change. Rows are only ever added, so the staff
    page can show each role's history."""

    class Action(models.TextChoices):
        GIVEN = "given", gettext_lazy("Given")
        RENEWED = "renewed", gettext_lazy("Dates changed")
        ENDED = "ended", gettext_lazy("Ended")

    membership = models.ForeignKey(
        RoleMembership, on_delete=models.CASCADE, related_name="changes", db_constraint=False
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(max_length=12, choices=Action.choices)
    begin_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta(TenantModel.Meta):
        constraints = tenant_constraints()
        indexes = [
            models.Index(
                fields=["district", "membership", "changed_at"],
                name="accounts_rolechange_member_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.membership_id}"
