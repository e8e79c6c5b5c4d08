"""The second factor (accounts/second_factor.py): required of school leaders and
specialists, of teachers where the district says, offered to everyone; set up with an
authenticator app and ten recovery codes; asked once per sign-in."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import second_factor
from accounts.models import Role, User, end_sessions
from tests import factories as f
from tests.accounts.two_factor_helpers import app_code, enrolled

pytestmark = pytest.mark.django_db
RIGHT = "correct horse battery"
CODE_ON_PAGE = r"<li><code>([a-z2-7]{8})</code></li>"


def recovery_codes_on(response) -> list[str]:
    return re.findall(CODE_ON_PAGE, response.content.decode())


def sign_in(client, user):
    response = client.post("/", {"username": user.username, "password": RIGHT})
    assert response.status_code == 302, response.content
    return client.get("/")


LEADERS_AND_SPECIALISTS = [
    "district_admin", "principal", "school_admin", "counselor", "nurse", "special_ed"
]  # fmt: skip


@pytest.mark.parametrize("who", LEADERS_AND_SPECIALISTS)
def test_school_leaders_and_specialists_must_set_one_up_first(world, client, who):
    response = sign_in(client, world.a.users[who])
    assert response.status_code == 302 and response["Location"] == "/two-factor/setup/?next=%2F"
    # Every other page waits too; signing out does not.
    assert client.get("/school/")["Location"].startswith("/two-factor/setup/")
    assert client.post("/sign-out/").status_code == 302


def test_a_principal_sets_up_an_app_and_gets_ten_recovery_codes(world, client):
    principal = world.a.users["principal"]
    sign_in(client, principal)
    page = client.get("/two-factor/setup/?next=/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'src="data:image/svg+xml' in html
    device = TOTPDevice.objects.get(user=principal, confirmed=False)
    assert second_factor.secret_for_typing(device) in html
    wrong = client.post("/two-factor/setup/", {"code": "000000", "next": "/"})
    assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    # Straight after a wrong code the app waits a moment, and says so.
    again = client.post("/two-factor/setup/", {"code": "000000", "next": "/"})
    assert "Too many wrong codes in a row." in again.content.decode()
    done = client.post("/two-factor/setup/", {"code": app_code(device), "next": "/"})
    assert done["Location"] == "/two-factor/recovery-codes/?next=%2F"
    codes_page = client.get(done["Location"]).content.decode()
    codes = re.findall(CODE_ON_PAGE, codes_page)
    assert len(codes) == 10
    # Shown once.
    assert client.get(done["Location"])["Location"] == "/account/security/"
    home = client.get("/")
    assert home.status_code == 200 and "Principal" in home.content.decode()


def test_the_next_sign_in_asks_for_a_code_and_a_recovery_code_works_once(world, client):
    principal = world.a.users["principal"]
    device, codes = enrolled(principal)
    response = sign_in(client, principal)
    assert response["Location"] == "/two-factor/verify/?next=%2F"
    wrong = client.post("/two-factor/verify/", {"code": "123456", "next": "/"})
    assert wrong.status_code == 400
    again = client.post("/two-factor/verify/", {"code": "123456", "next": "/"})
    assert "Too many wrong codes in a row." in again.content.decode()
    used = client.post("/two-factor/verify/", {"code": codes[0].upper(), "next": "/"})
    assert used["Location"] == "/"
    assert "You signed in with a recovery code; 9 are left." in client.get("/").content.decode()
    client.post("/sign-out/")
    sign_in(client, principal)
    assert client.post("/two-factor/verify/", {"code": codes[0], "next": "/"}).status_code == 400
    ok = client.post("/two-factor/verify/", {"code": app_code(device), "next": "/school/"})
    assert ok["Location"] == "/school/"
    assert client.get("/school/").status_code == 200


def test_the_verify_page_sends_nowhere_but_this_site(world, client):
    principal = world.a.users["principal"]
    device, _ = enrolled(principal)
    sign_in(client, principal)
    done = client.post(
        "/two-factor/verify/", {"code": app_code(device), "next": "https://evil.example/"}
    )
    assert done["Location"] == "/"


def test_a_parent_is_not_asked_but_may_turn_it_on_and_off(world, client):
    parent = world.a.users["parent"]
    response = sign_in(client, parent)
    assert response["Location"] == "/family/"
    assert "Second factor off" in client.get("/account/security/").content.decode()
    client.get("/two-factor/setup/")
    device = TOTPDevice.objects.get(user=parent)
    client.post("/two-factor/setup/", {"code": app_code(device), "next": "/account/security/"})
    assert "Second factor on" in client.get("/account/security/").content.decode()
    client.post("/sign-out/")
    assert sign_in(client, parent)["Location"].startswith("/two-factor/verify/")
    client.post("/two-factor/verify/", {"code": app_code(device), "next": "/"})
    client.post("/account/security/", {"action": "turn-off"})
    assert not second_factor.is_enrolled(parent)
    client.post("/sign-out/")
    assert sign_in(client, parent)["Location"] == "/family/"


def test_a_principal_cannot_turn_it_off(world, client):
    principal = world.a.users["principal"]
    device, _ = enrolled(principal)
    sign_in(client, principal)
    client.post("/two-factor/verify/", {"code": app_code(device), "next": "/"})
    page = client.get("/account/security/").content.decode()
    assert "Your role requires a second factor, so it cannot be turned off." in page
    client.post("/account/security/", {"action": "turn-off"})
    assert second_factor.is_enrolled(principal)


def test_new_recovery_codes_replace_the_old(world, client):
    parent = world.a.users["parent"]
    device, old = enrolled(parent)
    sign_in(client, parent)
    client.post("/two-factor/verify/", {"code": app_code(device), "next": "/"})
    response = client.post("/account/security/", {"action": "new-codes"})
    new = recovery_codes_on(client.get(response["Location"]))
    assert len(new) == 10 and not set(new) & set(old)
    kept = StaticToken.objects.filter(device__user=parent).values_list("token", flat=True)
    assert set(kept) == set(new)


def test_teachers_need_one_where_their_district_says(world, client):
    teacher = world.a.users["teacher"]
    assert sign_in(client, teacher).status_code == 200
    world.a.district.teachers_need_second_factor = True
    world.a.district.save(update_fields=["teachers_need_second_factor"])
    assert client.get("/")["Location"].startswith("/two-factor/setup/")


def test_a_role_given_mid_session_asks_for_it_at_the_next_page(world, client):
    teacher = world.a.users["teacher"]
    assert sign_in(client, teacher).status_code == 200
    f.RoleMembershipFactory(user=teacher, role=Role.PRINCIPAL, school=world.a.school1)
    assert client.get("/")["Location"].startswith("/two-factor/setup/")


def test_a_district_admin_resets_a_lost_second_factor(world, client):
    principal = world.a.users["principal"]
    enrolled(principal)
    client.force_login(world.a.users["district_admin"])
    page = client.get("/district/staff/").content.decode()
    assert "Reset their second factor" in page
    client.post(f"/district/staff/{principal.pk}/second-factor/reset/")
    assert not second_factor.is_enrolled(principal)
    client.post("/sign-out/")
    assert sign_in(client, principal)["Location"].startswith("/two-factor/setup/")


def test_a_reset_signs_them_out_everywhere(world, client):
    """The session on the lost phone gave its second factor long ago: the reset ends it,
    and every other session of that person, and nobody else's."""
    principal, teacher = world.a.users["principal"], world.a.users["teacher"]
    device, _ = enrolled(principal)
    lost_phone, teachers_laptop = Client(), Client()
    sign_in(lost_phone, principal)
    lost_phone.post("/two-factor/verify/", {"code": app_code(device), "next": "/"})
    assert lost_phone.get("/school/").status_code == 200
    sign_in(teachers_laptop, teacher)
    client.force_login(world.a.users["district_admin"])
    client.post(f"/district/staff/{principal.pk}/second-factor/reset/")
    signed_out = lost_phone.get("/school/")
    assert signed_out.status_code == 302 and signed_out["Location"].startswith("/?next=")
    assert teachers_laptop.get("/classes/").status_code == 200
    assert client.get("/district/staff/").status_code == 200
    assert sign_in(lost_phone, principal)["Location"].startswith("/two-factor/setup/")


def test_sessions_begun_before_any_ending_stay_valid(world):
    """The hash a session keeps is Django's own until the person's sessions are first
    ended, so adding the generation signed nobody out."""
    teacher = world.a.users["teacher"]
    assert teacher.get_session_auth_hash() == AbstractBaseUser._get_session_auth_hash(teacher)
    before = teacher.get_session_auth_hash()
    end_sessions(teacher)
    assert teacher.get_session_auth_hash() not in (before, "")
    assert User.objects.get(pk=teacher.pk).get_session_auth_hash() == (
        teacher.get_session_auth_hash()
    )


def test_only_the_districts_admin_resets(world, client):
    principal = world.a.users["principal"]
    enrolled(principal)
    client.force_login(world.a.users["principal"])
    assert client.post(f"/district/staff/{principal.pk}/second-factor/reset/").status_code == 403
    client.force_login(world.b.users["district_admin"])
    assert client.post(f"/district/staff/{principal.pk}/second-factor/reset/").status_code == 404
    assert second_factor.is_enrolled(principal)


def test_the_district_sets_teachers_rule_and_idle_minutes(world, client):
    client.force_login(world.a.users["district_admin"])
    assert client.get("/district/security/").status_code == 200
    bad = client.post("/district/security/", {"staff_idle_minutes": "2"})
    assert bad.status_code == 400
    assert "Ensure this value is greater than or equal to 5." in bad.content.decode()
    client.post(
        "/district/security/", {"teachers_need_second_factor": "on", "staff_idle_minutes": "15"}
    )
    world.a.district.refresh_from_db()
    assert world.a.district.teachers_need_second_factor
    assert world.a.district.staff_idle_minutes == 15
    client.force_login(world.a.users["principal"])
    assert client.get("/district/security/").status_code == 403


def test_staff_are_signed_out_when_idle_and_families_are_not(world, client, monkeypatch):
    import time as clock

    now = [clock.time()]
    monkeypatch.setattr(clock, "time", lambda: now[0])
    client.force_login(world.a.users["teacher"])
    assert client.get("/").status_code == 200
    now[0] += 29 * 60
    assert client.get("/").status_code == 200  # activity keeps the session
    now[0] += 31 * 60
    response = client.get("/classes/")
    assert response.status_code == 302 and response["Location"] == "/?next=%2Fclasses%2F"
    signed_out = client.get("/").content.decode()
    assert "You were signed out after 30 minutes without activity." in signed_out
    client.force_login(world.a.users["parent"])
    assert client.get("/family/").status_code == 200
    now[0] += 24 * 60 * 60
    assert client.get("/family/").status_code == 200


def test_whoever_may_open_the_admin_must_set_one_up(world, client):
    operator = f.UserFactory(username="operator", is_staff=True, is_superuser=True)
    response = sign_in(client, operator)
    assert response["Location"].startswith("/two-factor/setup/")
    assert client.get("/admin/")["Location"].startswith("/two-factor/setup/")
