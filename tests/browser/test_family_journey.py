"""The whole family journey in one browser session, in English and in Spanish.

Invitation → set a password → land on the family portal → the child → who has seen
the record → opt out of directory information → request a correction → the district
refuses it → the family's statement of disagreement shows beside the field. Selectors
are the forms' own field names, so the same steps run in either language; axe-core
checks each page.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail

from accounts.services import invitation_send
from records.models import AmendmentRequest, DirectoryOptOut
from tests.browser.conftest import screenshot
from tests.browser.test_family_portal import assert_accessible, no_sideways_scroll, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a quiet harbour at dawn"
STATEMENT = {"en": "The old number is off; we use 555-0199.", "es": "El número viejo ya no sirve."}


def submit(page) -> None:
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_load_state()


def sign_out(page) -> None:
    page.locator("header form button.link").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_family_from_invitation_to_statement_of_disagreement(
    world, live_server, settings, page, language
):
    base, own, parent = live_server.url, world.a.students["own"], world.a.users["parent"]
    settings.SITE_URL = base
    page.context.add_cookies([{"name": "django_language", "value": language, "url": base}])
    parent.set_unusable_password()
    parent.save(update_fields=["password"])
    mail.outbox.clear()
    invitation_send(actor=world.a.users["district_admin"], user=parent)
    [invitation] = mail.outbox
    assert own.given_name not in invitation.body and own.family_name not in invitation.body
    link = re.search(re.escape(base) + r"/welcome/[\w-]+/", invitation.body).group(0)

    # Set a password; the portal is where a parent lands.
    page.goto(link)
    assert page.locator("html").get_attribute("lang") == language
    page.locator("input[name=new_password1]").fill(PASSWORD)
    page.locator("input[name=new_password2]").fill(PASSWORD)
    submit(page)
    page.wait_for_url(f"{base}/family/")
    assert own.given_name in page.content()
    assert_accessible(page)
    screenshot(page, f"journey-family-{language}")

    # The child's record, and who has seen it (the parent's own reads are not listed).
    page.goto(f"{base}/family/{own.pk}/")
    page.wait_for_selector("#contact")
    assert_accessible(page)
    page.goto(f"{base}/family/{own.pk}/access/")
    assert_accessible(page)
    no_sideways_scroll(page)

    # Opt out of every directory field.
    page.goto(f"{base}/family/{own.pk}/directory/")
    page.locator("input[name=opt_out_all]").check()
    submit(page)
    assert DirectoryOptOut.unscoped.filter(student=own, field="*", chosen_by=parent).exists()
    assert_accessible(page)

    # Ask to correct the phone number.
    page.goto(f"{base}/family/{own.pk}/corrections/new/?field=phone")
    page.locator("#id_proposed_value").fill("555-0199")
    page.locator("#id_reason").fill("We changed our number.")
    submit(page)
    amendment = AmendmentRequest.unscoped.get(student=own)
    assert amendment.status == "open"
    sign_out(page)

    # The district admin refuses, with a reason.
    sign_in(page, base, "a-district_admin")
    page.goto(f"{base}/district/amendments/{amendment.pk}/")
    page.locator("input[value=refuse]").check()
    page.locator("textarea[name=reason]").fill("The office confirmed 555-0100.")
    submit(page)
    amendment.refresh_from_db()
    assert amendment.status == "refused"
    sign_out(page)

    # The parent attaches a statement; it travels with the phone number.
    sign_in(page, base, parent.username, password=PASSWORD)
    page.goto(f"{base}/family/{own.pk}/corrections/")
    assert "The office confirmed 555-0100." in page.content()
    page.locator("textarea[name=text]").fill(STATEMENT[language])
    submit(page)
    page.goto(f"{base}/family/{own.pk}/")
    assert STATEMENT[language] in page.locator("#contact .statement").inner_text()
    assert_accessible(page)
    no_sideways_scroll(page)
    screenshot(page, f"journey-statement-{language}")
