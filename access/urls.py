"""The district console (``/district/...``) and the provider's page (``/provider/``),
mounted at the site's root under the namespace ``access``."""

from django.urls import path

from access.views import agreements, disclosures, dispositions, providers, studies

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
    # Research studies: the district's review, and the researchers' own pages.
    path("district/studies/", studies.study_list, name="studies"),
    path("district/studies/<int:study_id>/", studies.study_review, name="study-review"),
    path("district/studies/<int:study_id>/decide/", studies.study_decide, name="study-decide"),
    path("district/studies/settings/", studies.extract_protection, name="study-settings"),
    path("district/researchers/", studies.researcher_invite, name="researcher-invite"),
    path(
        "district/researchers/<int:researcher_id>/remove/",
        studies.researcher_remove,
        name="researcher-remove",
    ),
    path("research/", studies.research_home, name="research"),
    path("research/new/", studies.study_create, name="study-create"),
    path("research/<int:study_id>/", studies.study_page, name="study"),
    path("research/<int:study_id>/edit/", studies.study_edit, name="study-edit"),
    path("research/<int:study_id>/revise/", studies.study_revise, name="study-revise"),
    path("research/<int:study_id>/attestation/", studies.study_attest, name="study-attest"),
    path(
        "research/<int:study_id>/versions/<int:number>/",
        studies.version_page,
        name="study-version",
    ),
    path(
        "research/<int:study_id>/versions/<int:number>/irb/",
        studies.irb_file,
        name="study-irb",
    ),
    path("provider/", dispositions.provider_home, name="provider-home"),
    path(
        "provider/grants/<int:grant_id>/attestation/",
        dispositions.provider_attestation,
        name="provider-attestation",
    ),
]
