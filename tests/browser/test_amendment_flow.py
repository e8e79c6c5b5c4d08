"""A correction request in a real browser, end to end.

The parent asks to correct the phone number, the district admin refuses with a
reason, the parent attaches a statement of disagreement, and the statement then
shows beside the phone on the child's page. axe-core checks every new page;
screenshots ``amend-*`` land in var/screenshots/.
"""

from __future__ import annotations

import pytest
from django.core import mail

from records.models import AmendmentRequest, DisagreementStatement
from tests.browser.conftest import screenshot
from tests.browser.test_family_portal import assert_accessible, no_sideways_scroll, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def sign_out(page) -> None:
    page.locator("header form button.link").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("device", ["page", "phone"])
def test_request_refuse_and_disagree(world, live_server, request, device):
    browser = request.getfixturevalue(device)
    width = "desktop" if device == "page" else "phone"
    own = world.a.students["own"]
    base = live_server.url

    sign_in(browser, base, "a-parent")
    browser.goto(f"{base}/family/{own.pk}/")
    browser.locator("#contact a.correction-link[href$='field=phone']").click()
    browser.wait_for_selector("h1:has-text('Request a correction')")
    assert_accessible(browser)
    browser.locator("button[type=submit]:has-text('Send the request')").click()
    browser.wait_for_selector("[aria-invalid=true]")  # empty form: errors beside the fields
    assert_accessible(browser)
    screenshot(browser, f"amend-request-errors-{width}")
    browser.locator("#id_proposed_value").fill("555-0199")
    browser.locator("#id_reason").fill("We changed our number in August.")
    screenshot(browser, f"amend-request-{width}")
    browser.locator("button[type=submit]:has-text('Send the request')").click()
    browser.wait_for_selector("text=Your request was sent.")
    assert "Waiting for a decision" in browser.content()
    assert_accessible(browser)
    no_sideways_scroll(browser)
    screenshot(browser, f"amend-sent-{width}")
    amendment = AmendmentRequest.unscoped.get()
    sign_out(browser)

    sign_in(browser, base, "a-district_admin")
    browser.goto(f"{base}/district/amendments/")
    browser.wait_for_selector("h1:has-text('Requests to correct records')")
    assert own.family_name in browser.content()
    assert_accessible(browser)
    no_sideways_scroll(browser)
    screenshot(browser, f"amend-queue-{width}")
    browser.locator(f"a[href='/district/amendments/{amendment.pk}/']").click()
    browser.wait_for_selector("h2:has-text('Decide')")
    browser.locator("input[value=refuse]").check()
    browser.locator("button[type=submit]:has-text('Record the decision')").click()
    browser.wait_for_selector("text=Write why the record is not corrected.")
    assert_accessible(browser)
    browser.locator("input[value=refuse]").check()
    browser.locator("textarea[name=reason]").fill("The office confirmed 555-0100 by phone.")
    screenshot(browser, f"amend-decide-{width}")
    browser.locator("button[type=submit]:has-text('Record the decision')").click()
    browser.wait_for_selector(".status-amendment-refused")
    assert_accessible(browser)
    no_sideways_scroll(browser)
    screenshot(browser, f"amend-decided-{width}")
    (email,) = mail.outbox
    assert own.family_name not in email.body and own.given_name not in email.body
    sign_out(browser)

    sign_in(browser, base, "a-parent")
    browser.goto(f"{base}/family/{own.pk}/corrections/")
    assert "The office confirmed 555-0100 by phone." in browser.content()
    browser.locator("textarea[name=text]").fill("Our number is 555-0199; the old one is off.")
    browser.locator("button[type=submit]:has-text('Add my statement')").click()
    browser.wait_for_selector("dt:has-text('Your statement of disagreement')")
    assert_accessible(browser)
    no_sideways_scroll(browser)
    screenshot(browser, f"amend-statement-{width}")
    assert DisagreementStatement.unscoped.count() == 1

    browser.goto(f"{base}/family/{own.pk}/")
    statement = browser.locator("#contact .statement")
    assert "Statement of disagreement from the family:" in statement.inner_text()
    assert "Our number is 555-0199" in statement.inner_text()
    assert_accessible(browser)
    no_sideways_scroll(browser)
    browser.locator("#contact").scroll_into_view_if_needed()
    screenshot(browser, f"amend-child-{width}")


def test_the_correction_pages_in_spanish(world, live_server, page):
    own = world.a.students["own"]
    page.context.add_cookies([{"name": "django_language", "value": "es", "url": live_server.url}])
    sign_in(page, live_server.url, "a-parent")
    page.goto(f"{live_server.url}/family/{own.pk}/corrections/new/?field=phone")
    page.wait_for_selector("h1:has-text('Solicitar una corrección')")
    assert_accessible(page)
    screenshot(page, "amend-request-es")
    page.goto(f"{live_server.url}/family/{own.pk}/corrections/")
    page.wait_for_selector("text=No ha solicitado ninguna corrección.")
    assert_accessible(page)
