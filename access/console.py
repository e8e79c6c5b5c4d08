"""The district console's writes: providers, their people and API clients, agreements,
grants and disposition attestations.

Each is ``<entity>_<verb>(*, actor, ...)``, called by a view after the gate said the
actor manages the district; each records who changed what in the ``access.console``
log (ids only, never a student). What a grant opens is decided in
``access.providers``; these functions only keep the district's decisions.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, RefreshToken

from access.agreements import CATEGORY_LABELS, element_categories
from access.categories import SENSITIVE_CATEGORIES
from access.models import (
    Agreement,
    ApiClient,
    DispositionAttestation,
    Grant,
    Provider,
    ProviderContact,
    ProviderMember,
)
from accounts.models import User
from accounts.staff_services import outside_account

logger = logging.getLogger("access.console")

PROVIDER_FIELDS = ("name", "services", "website")
AGREEMENT_FIELDS = (
    "title",
    "reference",
    "services",
    "data_elements",
    "term_start",
    "term_end",
    "disposition",
    "disposition_extent",
    "disposition_due",
    "subprocessors",
    "security_framework",
    "security_framework_detail",
    "breach_contact",
    "signed_on",
)
GRANT_FIELDS = (
    "legal_basis",
    "purpose",
    "categories",
    "sensitive_reason",
    "population",
    "school_ids",
    "section_ids",
    "course_title_contains",
    "grade_levels",
    "shares_staff",
    "starts_on",
    "ends_on",
)


def _log(actor: User, action: str, obj, **ids) -> None:
    details = " ".join(f"{key}={value}" for key, value in sorted(ids.items()))
    logger.info(
        "console %s by user %s: %s %s %s",
        action,
        actor.pk,
        type(obj).__name__,
        obj.pk,
        details,
        extra={"district_id": obj.district_id, "actor_id": actor.pk},
    )


def provider_create(*, actor: User, district, **fields) -> Provider:
    provider = Provider.unscoped.create(
        district=district, **{k: fields[k] for k in PROVIDER_FIELDS if k in fields}
    )
    _log(actor, "provider_create", provider)
    return provider


def provider_update(*, actor: User, provider: Provider, **fields) -> Provider:
    for key in PROVIDER_FIELDS:
        if key in fields:
            setattr(provider, key, fields[key])
    provider.save(update_fields=[k for k in PROVIDER_FIELDS if k in fields])
    _log(actor, "provider_update", provider)
    return provider


def provider_contact_add(*, actor: User, provider: Provider, **fields) -> ProviderContact:
    contact = ProviderContact.unscoped.create(
        district_id=provider.district_id, provider=provider, **fields
    )
    _log(actor, "provider_contact_add", contact, provider=provider.pk)
    return contact


def provider_contact_remove(*, actor: User, contact: ProviderContact) -> None:
    _log(actor, "provider_contact_remove", contact, provider=contact.provider_id)
    contact.delete()


def provider_member_add(
    *, actor: User, provider: Provider, email: str, first_name: str = "", last_name: str = ""
) -> ProviderMember:
    """Let the person with ``email`` sign in for the provider: an existing account of the
    district with no staff role, or a new one (they choose a password with "Forgot your
    password?"). Staff and other districts' people are refused."""
    district_id = provider.district_id
    with transaction.atomic():
        user = outside_account(
            district_id=district_id,
            email=email,
            first_name=first_name,
            last_name=last_name,
            staff_refusal=_(
                "This person holds a staff role: a provider's people must have their own account."
            ),
        )
        if ProviderMember.unscoped.filter(
            district_id=district_id, provider=provider, user=user
        ).exists():
            raise ValidationError({"email": _("This person can already sign in.")})
        member = ProviderMember.unscoped.create(
            district_id=district_id, provider=provider, user=user
        )
    _log(actor, "provider_member_add", member, provider=provider.pk, user=user.pk)
    return member


def provider_member_remove(*, actor: User, member: ProviderMember) -> None:
    _log(actor, "provider_member_remove", member, provider=member.provider_id, user=member.user_id)
    member.delete()


def api_client_create(*, actor: User, provider: Provider, name: str) -> tuple[ApiClient, str]:
    """A new OAuth 2 client (confidential, client credentials) and its secret: the only
    time the secret exists in clear, django-oauth-toolkit keeps it hashed."""
    secret = generate_client_secret()
    with transaction.atomic():
        application = Application.objects.create(
            name=f"{provider.name} {name}"[:255],
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret,
        )
        client = ApiClient.unscoped.create(
            district_id=provider.district_id, provider=provider, application=application, name=name
        )
    _log(actor, "api_client_create", client, provider=provider.pk)
    return client, secret


def _revoke_tokens(application: Application) -> None:
    RefreshToken.objects.filter(application=application).delete()
    AccessToken.objects.filter(application=application).delete()


def api_client_rotate(*, actor: User, client: ApiClient) -> str:
    """A new secret; the old one and every token issued under it stop working now."""
    if not client.is_active:
        raise ValidationError(_("A disabled client cannot be given a new secret."))
    secret = generate_client_secret()
    with transaction.atomic():
        application = client.application
        application.client_secret = secret
        application.save()
        _revoke_tokens(application)
        client.rotated_at = timezone.now()
        client.save(update_fields=["rotated_at"])
    _log(actor, "api_client_rotate", client, provider=client.provider_id)
    return secret


def api_client_disable(*, actor: User, client: ApiClient) -> None:
    """The client stops now: its tokens are deleted, so the next request answers 401."""
    with transaction.atomic():
        client.is_active = False
        client.disabled_at = timezone.now()
        client.save(update_fields=["is_active", "disabled_at"])
        _revoke_tokens(client.application)
    _log(actor, "api_client_disable", client, provider=client.provider_id)


def agreement_create(*, actor: User, provider: Provider, signed_file=None, **fields) -> Agreement:
    agreement = Agreement(
        district_id=provider.district_id,
        provider=provider,
        created_by=actor,
        **{k: fields[k] for k in AGREEMENT_FIELDS if k in fields},
    )
    if signed_file is not None:
        agreement.signed_file = signed_file
    agreement.save()
    _log(actor, "agreement_create", agreement, provider=provider.pk)
    return agreement


def agreement_update(*, actor: User, agreement: Agreement, signed_file=None, **fields) -> Agreement:
    """Save the agreement's fields; a term that would leave an active grant outside it is
    refused with a field error naming those grants (revoke them first)."""
    with transaction.atomic():
        # Locked so that no grant is activated under the old term meanwhile.
        Agreement.unscoped.select_for_update().filter(
            district_id=agreement.district_id, pk=agreement.pk
        ).first()
        problems = agreement_term_problems(
            agreement,
            term_start=fields.get("term_start", agreement.term_start),
            term_end=fields.get("term_end", agreement.term_end),
        )
        if problems:
            raise ValidationError(problems)
        for key in AGREEMENT_FIELDS:
            if key in fields:
                setattr(agreement, key, fields[key])
        if signed_file is not None:
            agreement.signed_file = signed_file
        agreement.save()
    _log(actor, "agreement_update", agreement, provider=agreement.provider_id)
    return agreement


def agreement_term_problems(
    agreement: Agreement, *, term_start: date, term_end: date
) -> dict[str, list[str]]:
    """The active grants a new term would leave partly outside it, on the term's fields."""
    active = Grant.unscoped.filter(
        district_id=agreement.district_id, agreement=agreement, status=Grant.Status.ACTIVE
    ).order_by("starts_on", "pk")
    problems: dict[str, list[str]] = {}
    for field, outside in (
        ("term_start", [g for g in active if g.starts_on < term_start]),
        ("term_end", [g for g in active if g.ends_on > term_end]),
    ):
        if outside:
            problems[field] = [
                _(
                    "Active grants would fall outside the term: %(grants)s. Revoke them, "
                    "or keep a term that covers their dates."
                )
                % {"grants": "; ".join(_grant_words(grant) for grant in outside)}
            ]
    return problems


def _grant_words(grant: Grant) -> str:
    return _("grant %(id)s (%(purpose)s, %(start)s to %(end)s)") % {
        "id": grant.pk,
        "purpose": grant.purpose,
        "start": grant.starts_on.isoformat(),
        "end": grant.ends_on.isoformat(),
    }


def grant_problems(agreement: Agreement, fields: dict) -> dict[str, list[str]]:
    """What keeps ``fields`` from being a grant under ``agreement``, by field."""
    problems: dict[str, list[str]] = {}

    def add(field, message):
        problems.setdefault(field, []).append(message)

    categories = set(fields.get("categories") or [])
    starts_on, ends_on = fields.get("starts_on"), fields.get("ends_on")
    if fields.get("legal_basis") == Grant.LegalBasis.DIRECTORY and categories - {"directory"}:
        add(
            "categories", _("Under the directory basis a grant carries directory information only.")
        )
    outside = categories - element_categories(agreement.data_elements)
    if outside:
        add(
            "categories",
            _("The agreement's data elements do not cover: %(names)s.")
            % {"names": ", ".join(str(CATEGORY_LABELS[c]) for c in sorted(outside))},
        )
    if categories & SENSITIVE_CATEGORIES:
        if not fields.get("sensitive_confirmed"):
            add("sensitive_confirmed", _("Confirm that the provider needs these sensitive data."))
        if not (fields.get("sensitive_reason") or "").strip():
            add("sensitive_reason", _("Say why the provider needs these sensitive data."))
    if starts_on and ends_on and ends_on < starts_on:
        add("ends_on", _("The end date cannot be before the start date."))
    for name, value in (("starts_on", starts_on), ("ends_on", ends_on)):
        if value and not (agreement.term_start <= value <= agreement.term_end):
            add(name, _("Choose a date within the agreement's term."))
    return problems


def _grant_values(actor: User, fields: dict) -> dict:
    values = {k: fields[k] for k in GRANT_FIELDS if k in fields}
    sensitive = set(values.get("categories", [])) & SENSITIVE_CATEGORIES
    values["sensitive_confirmed_by"] = actor if sensitive else None
    if not sensitive:
        values["sensitive_reason"] = ""
    return values


def grant_create(*, actor: User, agreement: Agreement, **fields) -> Grant:
    """A draft grant under ``agreement``: nothing flows until it is activated."""
    problems = grant_problems(agreement, fields)
    if problems:
        raise ValidationError(problems)
    grant = Grant.unscoped.create(
        district_id=agreement.district_id,
        agreement=agreement,
        provider_id=agreement.provider_id,
        created_by=actor,
        status=Grant.Status.DRAFT,
        **_grant_values(actor, fields),
    )
    _log(actor, "grant_create", grant, agreement=agreement.pk)
    return grant


def grant_update(*, actor: User, grant: Grant, **fields) -> Grant:
    """A draft changes; an active or revoked grant does not (revoke and make another)."""
    if grant.status != Grant.Status.DRAFT:
        raise ValidationError(_("Only a draft grant can be changed."))
    problems = grant_problems(grant.agreement, fields)
    if problems:
        raise ValidationError(problems)
    for key, value in _grant_values(actor, fields).items():
        setattr(grant, key, value)
    grant.save()
    _log(actor, "grant_update", grant, agreement=grant.agreement_id)
    return grant


def grant_activate(*, actor: User, grant: Grant) -> Grant:
    """A draft starts to flow: only while its agreement is in force and its dates lie
    within the agreement's term (the term may have changed since the draft was saved)."""
    with transaction.atomic():
        locked = Grant.unscoped.select_for_update().get(district_id=grant.district_id, pk=grant.pk)
        if locked.status != Grant.Status.DRAFT:
            raise ValidationError(_("Only a draft grant can be activated."))
        agreement = Agreement.unscoped.select_for_update().get(
            district_id=locked.district_id, pk=locked.agreement_id
        )
        _check_within_term(locked, agreement, today=grant.district.today())
        locked.status = Grant.Status.ACTIVE
        locked.activated_by = actor
        locked.activated_at = timezone.now()
        locked.save(update_fields=["status", "activated_by", "activated_at"])
    _log(actor, "grant_activate", locked, agreement=locked.agreement_id)
    return locked


def _check_within_term(grant: Grant, agreement: Agreement, *, today: date) -> None:
    term = (agreement.term_start, agreement.term_end)
    if not term[0] <= today <= term[1]:
        raise ValidationError(
            _("The agreement is not in force today (its term is %(start)s to %(end)s).")
            % {"start": term[0].isoformat(), "end": term[1].isoformat()}
        )
    if grant.starts_on < term[0] or grant.ends_on > term[1]:
        raise ValidationError(
            _(
                "The grant's dates fall outside the agreement's term (%(start)s to %(end)s): "
                "edit them first."
            )
            % {"start": term[0].isoformat(), "end": term[1].isoformat()}
        )


def grant_revoke(*, actor: User, grant: Grant, reason: str) -> Grant:
    """Revoked now: the provider's viewer is rebuilt per request, so its next request
    finds no route through this grant."""
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the grant is revoked.")})
    with transaction.atomic():
        locked = Grant.unscoped.select_for_update().get(district_id=grant.district_id, pk=grant.pk)
        if locked.status != Grant.Status.ACTIVE:
            raise ValidationError(_("Only an active grant can be revoked."))
        locked.status = Grant.Status.REVOKED
        locked.revoked_by = actor
        locked.revoked_at = timezone.now()
        locked.revoke_reason = reason.strip()
        locked.save(update_fields=["status", "revoked_by", "revoked_at", "revoke_reason"])
    _log(actor, "grant_revoke", locked, agreement=locked.agreement_id)
    return locked


def grant_ended_on(grant: Grant) -> date | None:
    """The day a grant ended (its end date, or the day it was revoked); None if running."""
    if grant.status == Grant.Status.REVOKED and grant.revoked_at:
        return min(timezone.localdate(grant.revoked_at), grant.ends_on)
    if grant.status == Grant.Status.ACTIVE and grant.ends_on < grant.district.today():
        return grant.ends_on
    return None


def disposition_due(grant: Grant, district) -> date | None:
    """When the provider must attest disposition: the agreement's date, else the end
    plus the district's days."""
    ended = grant_ended_on(grant)
    if ended is None:
        return None
    return grant.agreement.disposition_due or ended + timedelta(days=district.disposition_days)


def attestation_record(
    *, actor: User, grant: Grant, on_behalf_of_provider: bool, file=None, **fields
) -> DispositionAttestation:
    """The provider's statement that the data of an ended grant are disposed of."""
    if grant_ended_on(grant) is None:
        raise ValidationError(_("This grant has not ended."))
    if DispositionAttestation.unscoped.filter(district_id=grant.district_id, grant=grant).exists():
        raise ValidationError(_("This grant's disposition is already attested."))
    attestation = DispositionAttestation(
        district_id=grant.district_id,
        grant=grant,
        recorded_by=actor,
        on_behalf_of_provider=on_behalf_of_provider,
        disposed_on=fields["disposed_on"],
        method=fields["method"],
        statement=fields.get("statement", ""),
    )
    if file is not None:
        attestation.file = file
    attestation.save()
    _log(actor, "attestation_record", attestation, grant=grant.pk)
    return attestation
