"""A district admin records an agreement, drafts a grant, previews it, activates it and
revokes it, in a real browser, in English and in Spanish. axe-core checks each page (no
serious or critical violation); screenshots land in var/screenshots/ as grant-flow-*.
Steps use the forms' field names, so they run alike in either language."""

from __future__ import annotations

import pytest

from access.models import Agreement, Grant
from tests import factories as f
from tests.browser.conftest import screenshot
from tests.browser.test_family_portal import assert_accessible, no_sideways_scroll, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

WORDS = {
    "en": {
        "console": "District console",
        "preview": "will see",
        "active": "Active",
        "revoked": "Revoked",
    },
    "es": {
        "console": "Consola del distrito",
        "preview": "verá",
        "active": "Activa",
        "revoked": "Revocada",
    },
}


@pytest.mark.parametrize("language", ["en", "es"])
def test_agreement_grant_preview_activate_revoke(world, live_server, page, language):
    words = WORDS[language]
    suffix = "" if language == "en" else "-es"
    base = live_server.url
    provider = f.ProviderFactory(district=world.a.district, name="Blue Bird Bus Co.")
    if language == "es":
        page.context.add_cookies([{"name": "django_language", "value": "es", "url": base}])
    sign_in(page, base, "a-district_admin")
    page.goto(f"{base}/district/")
    page.wait_for_selector(f"h1:has-text('{words['console']}')")
    assert_accessible(page)
    screenshot(page, f"grant-flow-console{suffix}")

    page.goto(f"{base}/district/providers/{provider.pk}/agreements/new/")
    page.locator("button[type=submit]").last.click()  # nothing filled in: field errors
    page.wait_for_selector("[aria-invalid=true]")
    assert_accessible(page)
    page.locator("[name=title]").fill("NDPA 2026")
    page.locator("[name=reference]").fill("NDPA-0042")
    page.locator("[name=services]").fill("Bus routing and rider rosters")
    for code in ("student_name", "grade_level", "school_enrollment", "bus_assignment"):
        page.locator(f"#element-{code}").check()
    today = world.a.district.today()
    page.locator("[name=term_start]").fill(f"{today.year - 1}-07-01")
    page.locator("[name=term_end]").fill(f"{today.year + 1}-06-30")
    page.locator("[name=disposition][value=delete]").check()
    page.locator("[name=disposition_extent][value=complete]").check()
    page.locator("[name=security_framework]").select_option("soc2")
    page.locator("[name=breach_contact]").fill("security@bluebird.example")
    page.locator("[name=sub_0_name]").fill("Cloud Host Inc.")
    page.locator("[name=sub_0_purpose]").fill("Hosting")
    screenshot(page, f"grant-flow-agreement-form{suffix}")
    page.locator("button[type=submit]").last.click()
    page.wait_for_selector("a[href$='/grants/new/']")
    agreement = Agreement.unscoped.get(provider=provider)
    assert agreement.data_elements == [
        "student_name",
        "grade_level",
        "school_enrollment",
        "bus_assignment",
    ]
    assert_accessible(page)
    screenshot(page, f"grant-flow-agreement{suffix}")

    page.locator("a[href$='/grants/new/']").click()
    page.wait_for_selector("[name=purpose]")
    assert not page.locator("[name=categories][value=demographics]").is_checked()
    page.locator("[name=purpose]").fill("Planning bus routes")
    page.locator("[name=categories][value=transportation]").check()
    page.locator("[name=categories][value=health]").check()  # not in the agreement
    page.locator("button[type=submit]").last.click()
    page.wait_for_selector("[aria-invalid=true]")
    assert_accessible(page)
    screenshot(page, f"grant-flow-grant-errors{suffix}")
    page.locator("[name=categories][value=health]").uncheck()
    page.locator("[name=population][value=schools]").check()
    page.locator(f"[name=school_ids][value='{world.a.school1.pk}']").check()
    page.locator("button[type=submit]").last.click()
    page.wait_for_selector("a[href$='/preview/']")
    grant = Grant.unscoped.get(agreement=agreement)
    assert grant.status == Grant.Status.DRAFT
    assert grant.categories == ["directory", "transportation"]
    assert_accessible(page)

    page.locator("a[href$='/preview/']").click()
    page.wait_for_selector(f"h1:has-text('{words['preview']}')")
    content = page.content()
    assert world.a.students["own"].sourced_id in content
    assert world.a.students["elsewhere"].sourced_id not in content
    assert_accessible(page)
    no_sideways_scroll(page)
    screenshot(page, f"grant-flow-preview{suffix}")

    page.go_back()
    page.locator(f"form[action='/district/grants/{grant.pk}/activate/'] button").click()
    page.wait_for_selector(f"h1 .status:has-text('{words['active']}')")
    grant.refresh_from_db()
    assert grant.status == Grant.Status.ACTIVE
    assert_accessible(page)
    screenshot(page, f"grant-flow-active{suffix}")

    page.locator("[name=reason]").fill("The bus contract ended early.")
    page.locator(f"form[action='/district/grants/{grant.pk}/revoke/'] button").click()
    page.wait_for_selector(f"h1 .status:has-text('{words['revoked']}')")
    grant.refresh_from_db()
    assert grant.status == Grant.Status.REVOKED
    assert_accessible(page)
    screenshot(page, f"grant-flow-revoked{suffix}")
