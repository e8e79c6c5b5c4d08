"""Declared purpose and break-glass in a real browser.

A teacher opens a roster student, finds the programs part closed, declares "IEP meeting"
and reads it; then asks for emergency access to a schoolmate by ID and lands on the
record; the principal marks that request reviewed. On a desktop and a phone; axe-core
checks every page. Screenshots land in var/screenshots/purpose-*.png.
"""

from __future__ import annotations

import pytest

from access.models import AccessEvent, EmergencyAccess
from records import models as m
from tests.browser.conftest import screenshot
from tests.browser.test_family_portal import assert_accessible, no_sideways_scroll, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

REASON = "Anaphylaxis in the cafeteria: we need the allergy plan and a parent's number."


def check(page, name: str) -> None:
    assert_accessible(page)
    no_sideways_scroll(page)
    screenshot(page, name)


@pytest.mark.parametrize("device", ["page", "phone"])
def test_purpose_emergency_and_review(world, live_server, request, device):
    browser_page = request.getfixturevalue(device)
    suffix = "desktop" if device == "page" else "phone"
    a = world.a
    own, schoolmate = a.students["own"], a.students["schoolmate"]
    m.ProgramParticipation.unscoped.create(
        district=a.district, student=own, program="iep", accommodations="Quiet room for tests"
    )
    m.HealthRecord.unscoped.create(district=a.district, student=schoolmate, allergies="Peanuts")
    m.Student.unscoped.filter(pk=schoolmate.pk).update(state_id="IL-7731", local_id="S-204")

    # (a) A roster student: programs closed until a purpose is declared.
    sign_in(browser_page, live_server.url, "a-teacher")
    browser_page.goto(f"{live_server.url}/classes/{a.section.pk}/")
    browser_page.get_by_role("link", name=own.family_name).click()
    browser_page.wait_for_selector("h2:has-text('Sensitive parts of this record')")
    assert browser_page.locator("section#programs").count() == 0
    assert "Quiet room for tests" not in browser_page.content()
    check(browser_page, f"purpose-closed-{suffix}")

    browser_page.get_by_label("IEP meeting").check()
    browser_page.get_by_role("button", name="Open the sensitive parts").click()
    browser_page.wait_for_selector("section#programs")
    assert "Quiet room for tests" in browser_page.inner_text("section#programs")
    assert "Purpose declared for this student: IEP meeting" in browser_page.content()
    why = browser_page.get_by_role("region", name="Why can I see this?")
    assert f"Enrolled in your section {a.section.title}" in why.inner_text()
    check(browser_page, f"purpose-open-{suffix}")
    last = AccessEvent.unscoped.filter(actor=a.users["teacher"]).order_by("-sequence").first()
    assert last.purpose == "declared purpose: IEP meeting"

    # (b) Break-glass: a schoolmate by ID, for a reason.
    browser_page.goto(f"{live_server.url}/emergency/")
    browser_page.wait_for_selector("h1:has-text('Request emergency access')")
    browser_page.get_by_role("button", name="Open the record for 24 hours").click()
    browser_page.wait_for_selector("#identifier-errors")
    check(browser_page, f"purpose-emergency-errors-{suffix}")
    browser_page.get_by_label("Student's state or local ID").fill("s-204")
    browser_page.get_by_label("What is the emergency?").fill(REASON)
    browser_page.get_by_label("I understand that this access lasts 24 hours").check()
    check(browser_page, f"purpose-emergency-form-{suffix}")
    browser_page.get_by_role("button", name="Open the record for 24 hours").click()
    browser_page.wait_for_selector("h2:has-text('Emergency access')")
    assert browser_page.url == f"{live_server.url}/students/{schoolmate.pk}/"
    assert "Emergency access granted until" in browser_page.content()
    assert "Peanuts" in browser_page.inner_text("section#health")
    why = browser_page.get_by_role("region", name="Why can I see this?")
    assert "Emergency access until" in why.inner_text()
    check(browser_page, f"purpose-emergency-record-{suffix}")

    # (c) The principal reviews it.
    browser_page.context.clear_cookies()
    sign_in(browser_page, live_server.url, "a-principal")
    browser_page.goto(f"{live_server.url}/district/reviews/")
    browser_page.wait_for_selector("h1:has-text('Emergency access reviews')")
    assert schoolmate.family_name in browser_page.content() and REASON in browser_page.content()
    check(browser_page, f"purpose-reviews-{suffix}")
    browser_page.get_by_label("Note (optional)").fill("Called the nurse; justified.")
    browser_page.get_by_role("button", name="Mark reviewed").click()
    browser_page.wait_for_selector("text=Marked reviewed.")
    assert "Nothing to review." in browser_page.content()
    check(browser_page, f"purpose-reviews-done-{suffix}")
    browser_page.get_by_role("link", name="Reviewed").click()
    browser_page.wait_for_selector("text=Called the nurse; justified.")
    check(browser_page, f"purpose-reviews-reviewed-{suffix}")
    grant = EmergencyAccess.unscoped.get()
    assert grant.reviewed_by == a.users["principal"]
    assert grant.review_note == "Called the nurse; justified."


def test_a_teacher_with_no_class_yet_is_offered_emergency_access(world, live_server, page):
    from tests import factories as f

    a = world.a
    newcomer = f.UserFactory(username="a-newcomer", district=a.district, first_name="Robin")
    f.RoleMembershipFactory(user=newcomer, role="teacher", school=a.school1)
    m.Student.unscoped.filter(pk=a.students["schoolmate"].pk).update(state_id="IL-5150")
    sign_in(page, live_server.url, "a-newcomer")
    page.wait_for_selector("text=does not give you access to any student's records")
    check(page, "emergency-offer-no-class-desktop")
    page.get_by_role("link", name="Request emergency access to a student").click()
    page.get_by_label("Student's state or local ID").fill("IL-5150")
    page.get_by_label("What is the emergency?").fill(REASON)
    page.get_by_label("I understand that this access lasts 24 hours").check()
    page.get_by_role("button", name="Open the record for 24 hours").click()
    page.wait_for_selector("h2:has-text('Emergency access')")
    assert page.url == f"{live_server.url}/students/{a.students['schoolmate'].pk}/"
