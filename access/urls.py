"""The district console (``/district/...``) and the provider's page (``/provider/``),
mounted at the site's root under the namespace ``access``."""

from django.urls import path

from access.views import agreements, disclosures, dispositions, providers

app_name = "access"

urlpatterns = [
    path("district/", providers.console_home, name="console"),
    path("district/providers/", providers.provider_list, name="providers"),
    path("district/providers/<int:provider_id>/", providers.provider_detail, name="provider"),
    path(
        "district/providers/<int:provider_id>/contacts/",
        providers.contact_add,
        name="contact-add",
    ),
    path(
        "district/providers/<int:provider_id>/contacts/<int:contact_id>/remove/",
        providers.contact_remove,
        name="contact-remove",
    ),
    path("district/providers/<int:provider_id>/people/", providers.member_add, name="member-add"),
    path(
        "district/providers/<int:provider_id>/people/<int:member_id>/remove/",
        providers.member_remove,
        name="member-remove",
    ),
    path(
        "district/providers/<int:provider_id>/clients/",
        providers.client_create,
        name="client-create",
    ),
    path("district/clients/<int:client_id>/", providers.client_detail, name="client"),
    path("district/clients/<int:client_id>/rotate/", providers.client_rotate, name="client-rotate"),
    path(
        "district/clients/<int:client_id>/disable/",
        providers.client_disable,
        name="client-disable",
    ),
    path(
        "district/providers/<int:provider_id>/agreements/new/",
        agreements.agreement_create,
        name="agreement-create",
    ),
    path("district/agreements/", agreements.agreement_list, name="agreements"),
    path("district/agreements/<int:agreement_id>/", agreements.agreement_detail, name="agreement"),
    path(
        "district/agreements/<int:agreement_id>/edit/",
        agreements.agreement_edit,
        name="agreement-edit",
    ),
    path(
        "district/agreements/<int:agreement_id>/file/",
        agreements.agreement_file,
        name="agreement-file",
    ),
    path(
        "district/agreements/<int:agreement_id>/grants/new/",
        agreements.grant_create,
        name="grant-create",
    ),
    path("district/grants/<int:grant_id>/", agreements.grant_detail, name="grant"),
    path("district/grants/<int:grant_id>/edit/", agreements.grant_edit, name="grant-edit"),
    path("district/grants/<int:grant_id>/preview/", agreements.grant_preview, name="grant-preview"),
    path(
        "district/grants/<int:grant_id>/activate/",
        agreements.grant_activate,
        name="grant-activate",
    ),
    path("district/grants/<int:grant_id>/revoke/", agreements.grant_revoke, name="grant-revoke"),
    path(
        "district/grants/<int:grant_id>/attestation/",
        dispositions.attestation_record,
        name="attestation",
    ),
    path("district/dispositions/", dispositions.disposition_list, name="dispositions"),
    path("district/disclosures/", disclosures.disclosure_log, name="disclosures"),
    path("provider/", dispositions.provider_home, name="provider-home"),
    path(
        "provider/grants/<int:grant_id>/attestation/",
        dispositions.provider_attestation,
        name="provider-attestation",
    ),
]
