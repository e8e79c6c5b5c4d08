"""An invited guardian gets in: email → link → password → signed in → out → in again."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from tests.browser.conftest import give_second_factor, screenshot

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "lemon trees by the river"

WORDS = {
    "en": {
        "new": "New password",
        "again": "New password again",
        "set": "Set password",
        "sign_out": "Sign out",
        "username": "Username",
        "password": "Password",
        "sign_in": "Sign in",
        "welcome": "Welcome",
        "used": "This invitation was already used",
    },
    "es": {
        "new": "Nueva contraseña",
        "again": "Repita la nueva contraseña",
        "set": "Guardar contraseña",
        "sign_out": "Cerrar sesión",
        "username": "Nombre de usuario",
        "password": "Contraseña",
        "sign_in": "Iniciar sesión",
        "welcome": "Bienvenida",
        "used": "Esta invitación ya se usó",
    },
}


@pytest.fixture
def invited_parent(world, settings, live_server):
    settings.SITE_URL = live_server.url
    parent = world.a.users["parent"]
    parent.set_unusable_password()
    parent.save(update_fields=["password"])
    from accounts.services import invitation_send

    mail.outbox.clear()
    invitation_send(actor=world.a.users["district_admin"], user=parent)
    return parent


def invitation_link(base_url: str) -> str:
    [email] = mail.outbox
    links = set(re.findall(re.escape(base_url) + r"/welcome/[A-Za-z0-9_-]+/", email.body))
    assert len(links) == 1
    return links.pop()


def pick_language(page, base_url: str, language: str) -> None:
    page.goto(f"{base_url}/")
    if language != "en":
        page.select_option("#language-select", language)
        page.locator("form.language button").click()
        page.wait_for_selector(f"html[lang={language}]")


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_an_invited_guardian_sets_a_password_and_signs_in(
    request, invited_parent, live_server, language, device
):
    page = request.getfixturevalue("page" if device == "desktop" else "phone")
    words = WORDS[language]
    base = live_server.url
    pick_language(page, base, language)
    link = invitation_link(base)

    page.goto(link)
    page.get_by_role("heading", name=words["welcome"]).wait_for()
    assert invited_parent.username in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    screenshot(page, f"welcome-form-{device}-{language}")

    # A common password is refused on the page, in the page's language.
    page.get_by_label(words["new"], exact=True).fill("password123")
    page.get_by_label(words["again"]).fill("password123")
    page.get_by_role("button", name=words["set"]).click()
    page.wait_for_selector("[role=alert]")
    screenshot(page, f"welcome-refused-{device}-{language}")

    page.get_by_label(words["new"], exact=True).fill(PASSWORD)
    page.get_by_label(words["again"]).fill(PASSWORD)
    page.get_by_role("button", name=words["set"]).click()
    sign_out = page.get_by_role("button", name=words["sign_out"])
    sign_out.wait_for()
    assert page.url.startswith(f"{base}/")
    assert invited_parent.get_full_name() in page.content()
    screenshot(page, f"welcome-signed-in-{device}-{language}")

    sign_out.click()
    page.get_by_role("heading", name=words["sign_in"]).wait_for()

    # The link is spent.
    page.goto(link)
    page.get_by_role("heading", name=words["used"]).wait_for()
    screenshot(page, f"welcome-used-{device}-{language}")

    page.goto(f"{base}/")
    page.get_by_label(words["username"]).fill(invited_parent.username)
    page.get_by_label(words["password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=words["sign_in"]).click()
    page.get_by_role("button", name=words["sign_out"]).wait_for()


def test_an_expired_invitation_says_so_on_a_phone(invited_parent, live_server, phone):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Invitation

    link = invitation_link(live_server.url)
    Invitation.unscoped.update(expires_at=timezone.now() - timedelta(hours=1))
    phone.goto(link)
    phone.get_by_text("This invitation has expired. Ask your school for a new one.").wait_for()
    screenshot(phone, "welcome-expired-phone-en")


def test_the_lockout_page_on_a_phone(world, live_server, phone):
    phone.goto(f"{live_server.url}/")
    for _ in range(5):
        phone.get_by_label("Username").fill("a-parent")
        phone.get_by_label("Password", exact=True).fill("not the password")
        phone.get_by_role("button", name="Sign in").click()
        phone.wait_for_load_state()
    phone.get_by_role("heading", name="Too many attempts").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(phone, "welcome-lockout-phone-en")


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_a_district_admin_invites_from_the_page(request, world, live_server, device):
    page = request.getfixturevalue("page" if device == "desktop" else "phone")
    parent = world.a.users["parent"]
    parent.set_unusable_password()
    parent.save(update_fields=["password"])
    mail.outbox.clear()
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill("a-district_admin")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    give_second_factor(page, "a-district_admin")
    page.get_by_role("link", name="Invite guardians").click()
    button = page.get_by_role("button", name="Invite all guardians who have not been invited")
    button.click()
    page.get_by_text("1 invitation was sent.").wait_for()
    assert [email.to for email in mail.outbox] == [[parent.email]]
    assert page.locator("[data-count=waiting]").inner_text() == "1"
    assert button.is_disabled()  # nobody left to invite
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    screenshot(page, f"welcome-district-invitations-{device}")
