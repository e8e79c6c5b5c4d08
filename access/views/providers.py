"""The console's home and its providers: who they are, who may sign in for them, and
their API clients (whose secret is shown once, on the page that made it)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from access import console, studies
from access.forms import ClientForm, ContactForm, MemberForm, ProviderForm
from access.models import (
    Agreement,
    DispositionAttestation,
    Grant,
    Provider,
    ProviderContact,
    ProviderMember,
)
from access.views.common import admin_pages, apply_errors, client_by_id, provider_by_id
from access.views.dispositions import attestations_due


@admin_pages
def console_home(request):
    """``/district/``: the cards of the district admin's work."""
    district = request.viewer.district
    due = attestations_due(district)
    context = {
        "district": district,
        "providers": Provider.unscoped.filter(district=district).count(),
        "agreements": Agreement.unscoped.filter(district=district).count(),
        "active_grants": Grant.unscoped.filter(
            district=district, status=Grant.Status.ACTIVE
        ).count(),
        "open_attestations": sum(1 for item in due if not item["overdue"]),
        "overdue_attestations": sum(1 for item in due if item["overdue"]),
        "attested": DispositionAttestation.unscoped.filter(district=district).count(),
        **studies.console_counts(district),
    }
    return render(request, "access/home.html", context)


@admin_pages(methods=("GET", "HEAD", "POST"))
def provider_list(request):
    """``/district/providers/``: the providers, and a form to add one."""
    district = request.viewer.district
    form = ProviderForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        if Provider.unscoped.filter(district=district, name__iexact=form.cleaned_data["name"]):
            form.add_error("name", _("A provider of this name already exists."))
        else:
            provider = console.provider_create(
                actor=request.user, district=district, **form.cleaned_data
            )
            messages.success(request, _("Provider added."))
            return redirect("access:provider", provider_id=provider.pk)
    providers = Provider.unscoped.filter(district=district).annotate(
        active_grants=Count("grants", filter=Q(grants__status=Grant.Status.ACTIVE)),
        agreement_count=Count("agreements", distinct=True),
    )
    status = 400 if form.is_bound else 200
    return render(
        request, "access/providers.html", {"form": form, "providers": providers}, status=status
    )


@admin_pages(methods=("GET", "HEAD", "POST"))
def provider_detail(request, provider_id: int):
    """``/district/providers/<id>/``: the provider, its contacts, people, clients and
    agreements; the form edits its name, services and website."""
    provider = provider_by_id(request, provider_id)
    form = ProviderForm(
        request.POST if request.method == "POST" else None,
        initial={k: getattr(provider, k) for k in console.PROVIDER_FIELDS},
    )
    if form.is_valid():
        clash = Provider.unscoped.filter(
            district_id=provider.district_id, name__iexact=form.cleaned_data["name"]
        ).exclude(pk=provider.pk)
        if clash.exists():
            form.add_error("name", _("A provider of this name already exists."))
        else:
            console.provider_update(actor=request.user, provider=provider, **form.cleaned_data)
            messages.success(request, _("Provider saved."))
            return redirect("access:provider", provider_id=provider.pk)
    return _provider_page(request, provider, form=form)


def _provider_page(request, provider, *, status=None, **forms):
    district_id = provider.district_id
    context = {
        "provider": provider,
        "form": forms.get("form")
        or ProviderForm(initial={k: getattr(provider, k) for k in console.PROVIDER_FIELDS}),
        "contact_form": forms.get("contact_form") or ContactForm(),
        "member_form": forms.get("member_form") or MemberForm(),
        "client_form": forms.get("client_form") or ClientForm(),
        "contacts": ProviderContact.unscoped.filter(district_id=district_id, provider=provider),
        "members": ProviderMember.unscoped.filter(
            district_id=district_id, provider=provider
        ).select_related("user"),
        "clients": provider.clients.filter(district_id=district_id).select_related("application"),
        "agreements": Agreement.unscoped.filter(district_id=district_id, provider=provider),
    }
    bound = any(f.is_bound for f in forms.values())
    return render(
        request,
        "access/provider.html",
        context,
        status=status or (400 if bound and any(f.errors for f in forms.values()) else 200),
    )


@admin_pages(methods=("POST",))
def contact_add(request, provider_id: int):
    provider = provider_by_id(request, provider_id)
    form = ContactForm(request.POST)
    if not form.is_valid():
        return _provider_page(request, provider, contact_form=form)
    console.provider_contact_add(actor=request.user, provider=provider, **form.cleaned_data)
    messages.success(request, _("Contact added."))
    return redirect("access:provider", provider_id=provider.pk)


@admin_pages(methods=("POST",))
def contact_remove(request, provider_id: int, contact_id: int):
    provider = provider_by_id(request, provider_id)
    contact = get_object_or_404(
        ProviderContact.unscoped,
        district_id=provider.district_id,
        provider=provider,
        pk=contact_id,
    )
    console.provider_contact_remove(actor=request.user, contact=contact)
    messages.success(request, _("Contact removed."))
    return redirect("access:provider", provider_id=provider.pk)


@admin_pages(methods=("POST",))
def member_add(request, provider_id: int):
    provider = provider_by_id(request, provider_id)
    form = MemberForm(request.POST)
    if form.is_valid():
        try:
            console.provider_member_add(actor=request.user, provider=provider, **form.cleaned_data)
        except ValidationError as refused:
            apply_errors(form, refused)
        else:
            messages.success(
                request,
                _(
                    "This person may now sign in for the provider. A new account chooses "
                    "its password with “Forgot your password?” on the sign-in page."
                ),
            )
            return redirect("access:provider", provider_id=provider.pk)
    return _provider_page(request, provider, member_form=form)


@admin_pages(methods=("POST",))
def member_remove(request, provider_id: int, member_id: int):
    provider = provider_by_id(request, provider_id)
    member = get_object_or_404(
        ProviderMember.unscoped, district_id=provider.district_id, provider=provider, pk=member_id
    )
    console.provider_member_remove(actor=request.user, member=member)
    messages.success(request, _("This person can no longer sign in for the provider."))
    return redirect("access:provider", provider_id=provider.pk)


@admin_pages(methods=("POST",))
def client_create(request, provider_id: int):
    """Make an API client; its secret is on this response and nowhere else, ever."""
    provider = provider_by_id(request, provider_id)
    form = ClientForm(request.POST)
    if not form.is_valid():
        return _provider_page(request, provider, client_form=form)
    client, secret = console.api_client_create(
        actor=request.user, provider=provider, name=form.cleaned_data["name"]
    )
    return render(
        request, "access/client.html", {"client": client, "secret": secret, "created": True}
    )


@admin_pages
def client_detail(request, client_id: int):
    """``/district/clients/<id>/``: the client's id and state; never its secret."""
    return render(request, "access/client.html", {"client": client_by_id(request, client_id)})


@admin_pages(methods=("POST",))
def client_rotate(request, client_id: int):
    client = client_by_id(request, client_id)
    try:
        secret = console.api_client_rotate(actor=request.user, client=client)
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
        return redirect("access:client", client_id=client.pk)
    return render(request, "access/client.html", {"client": client, "secret": secret})


@admin_pages(methods=("POST",))
def client_disable(request, client_id: int):
    client = client_by_id(request, client_id)
    if client.is_active:
        console.api_client_disable(actor=request.user, client=client)
    messages.success(request, _("The client is disabled: its next request is refused."))
    return redirect("access:client", client_id=client.pk)
