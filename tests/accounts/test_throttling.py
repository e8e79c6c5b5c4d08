"""Failed sign-ins are throttled per account (whatever the address) and per client
address (whatever the username), with a hold that starts short and doubles
(accounts/sign_in_guard.py)."""

from __future__ import annotations

import pytest

from accounts import sign_in_guard

pytestmark = pytest.mark.django_db
RIGHT = "correct horse battery"


def sign_in(client, username, password, address="10.0.0.1", **extra):
    return client.post(
        "/", {"username": username, "password": password}, REMOTE_ADDR=address, **extra
    )


@pytest.fixture
def clock(monkeypatch):
    """The process's clock (the guard's, and the cache's expiry), moved by hand."""

    class Clock:
        now = 1_000_000.0

        def advance(self, seconds: float) -> None:
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr(sign_in_guard.time, "time", lambda: clock.now)
    return clock


def test_the_fifth_failure_holds_the_account_and_the_right_password_waits_too(world, client):
    for _ in range(4):
        response = sign_in(client, "a-parent", "wrong guess")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    # The fifth failure is the last: its answer is already the hold.
    assert sign_in(client, "a-parent", "wrong guess").status_code == 429
    response = sign_in(client, "a-parent", RIGHT)
    assert response.status_code == 429
    html = response.content.decode()
    assert "Signing in to this account failed too many times" in html
    assert "Wait 1 minute and try again, or reset your password." in html
    assert 'href="/password-reset/"' in html
    assert "no-store" in response["Cache-Control"]
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_guessing_one_account_from_many_addresses_is_held(world, client):
    for number in range(5):
        sign_in(client, "a-parent", "wrong guess", address=f"10.0.2.{number}")
    assert sign_in(client, "a-parent", RIGHT, address="10.0.2.99").status_code == 429
    # A colleague at any of those addresses is not affected.
    assert sign_in(client, "a-principal", RIGHT, address="10.0.2.0").status_code == 302


def test_spraying_one_password_over_many_usernames_from_one_address_is_held(world, client):
    for number in range(30):
        response = sign_in(client, f"someone-{number}", "Spring2026!")
    assert response.status_code == 429
    assert "Signing in from your network failed too many times" in response.content.decode()
    # Everyone at that address waits; the same people elsewhere do not.
    assert sign_in(client, "a-principal", RIGHT).status_code == 429
    assert sign_in(client, "a-principal", RIGHT, address="10.0.0.2").status_code == 302


def test_a_hold_doubles_with_each_failure_after_it_and_then_ends(world, client, clock):
    for _ in range(5):
        sign_in(client, "a-parent", "wrong guess")
    assert sign_in_guard.hold_for("a-parent", "10.0.0.9").seconds == 30
    clock.advance(31)  # the hold is over: one more failure holds for twice as long
    assert sign_in(client, "a-parent", "wrong guess").status_code == 429
    assert sign_in_guard.hold_for("a-parent", "10.0.0.9").seconds == 60
    # Attempts during a hold are refused unchecked and do not lengthen it.
    for _ in range(3):
        assert sign_in(client, "a-parent", RIGHT).status_code == 429
    assert sign_in_guard.hold_for("a-parent", "10.0.0.9").seconds == 60
    clock.advance(61)
    assert sign_in(client, "a-parent", RIGHT).status_code == 302


def test_a_password_reset_ends_the_accounts_hold(world, client):
    from django.core import mail

    from tests.accounts.test_password_reset import NEW, reset_link

    for _ in range(5):
        sign_in(client, "a-parent", "wrong guess")
    client.post("/password-reset/", {"email": world.a.users["parent"].email})
    form = client.get(reset_link(mail.outbox[0].body), follow=True)
    client.post(form.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert sign_in(client, "a-parent", NEW).status_code == 302


def test_the_hold_never_exceeds_its_ceiling(settings):
    settings.SIGN_IN_BACKOFF_SECONDS, settings.SIGN_IN_BACKOFF_MAX_MINUTES = 30, 15
    assert [sign_in_guard.backoff_seconds(n) for n in range(6)] == [30, 60, 120, 240, 480, 900]
    assert sign_in_guard.backoff_seconds(10_000) == 900


def test_a_success_before_the_limit_starts_the_count_again_and_says_so(world, client):
    for _ in range(4):
        sign_in(client, "a-parent", "wrong guess")
    response = sign_in(client, "a-parent", RIGHT)
    assert response.status_code == 302
    page = client.get(response["Location"], follow=True).content.decode()
    assert "Before this sign-in, 4 attempts to sign in to your account failed." in page
    client.post("/sign-out/")
    for _ in range(4):
        sign_in(client, "a-parent", "wrong guess")
    assert sign_in(client, "a-parent", RIGHT).status_code == 302


def test_failures_are_forgotten_after_an_hour_without_one(world, client, clock):
    for _ in range(4):
        sign_in(client, "a-parent", "wrong guess")
        clock.advance(50 * 60)  # each failure keeps the count another hour
    assert sign_in_guard.failures_of("a-parent") == 4
    clock.advance(61 * 60)
    assert sign_in_guard.failures_of("a-parent") == 0
    assert sign_in(client, "a-parent", "wrong guess").status_code == 200


def test_a_district_admin_lets_a_held_staff_member_sign_in_again(world, client):
    principal = world.a.users["principal"]
    for _ in range(5):
        sign_in(client, principal.username, "wrong guess", address="10.0.3.1")
    client.force_login(world.a.users["district_admin"])
    page = client.get("/district/staff/").content.decode()
    assert "Signing in to this account is paused" in page
    response = client.post(f"/district/staff/{principal.pk}/sign-in/release/")
    assert response.status_code == 302
    assert (
        "Signing in to this account is paused"
        not in client.get("/district/staff/").content.decode()
    )
    client.post("/sign-out/")
    assert sign_in(client, principal.username, RIGHT, address="10.0.3.1").status_code == 302


def test_only_a_district_admin_releases_and_only_their_districts_staff(world, client):
    principal = world.a.users["principal"]
    client.force_login(world.a.users["principal"])
    assert client.post(f"/district/staff/{principal.pk}/sign-in/release/").status_code == 403
    client.force_login(world.b.users["district_admin"])
    assert client.post(f"/district/staff/{principal.pk}/sign-in/release/").status_code == 404


def test_the_release_command_lifts_an_account_or_an_address(world, client):
    from django.core.management import call_command

    for _ in range(5):
        sign_in(client, "a-parent", "wrong guess")
    call_command("release_sign_in", "a-parent")
    assert sign_in(client, "a-parent", RIGHT).status_code == 302
    client.post("/sign-out/")
    for number in range(30):
        sign_in(client, f"someone-{number}", "Spring2026!", address="10.0.4.4")
    call_command("release_sign_in", address="10.0.4.4")
    assert sign_in(client, "a-principal", RIGHT, address="10.0.4.4").status_code == 302


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no proxy: what a client writes is ignored
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.7, 203.0.113.9", "203.0.113.9"),  # the first is the client's own
        (2, "198.51.100.7, 203.0.113.9, 192.0.2.1", "203.0.113.9"),
        (1, "", "10.0.0.1"),
    ],
)
def test_the_client_address_trusts_only_the_proxies_in_front(
    rf, settings, proxies, forwarded, expected
):
    settings.FORWARDED_PROXY_COUNT = proxies
    request = rf.post("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert sign_in_guard.client_address(request) == expected


def test_sign_ins_do_not_put_usernames_in_the_logs(world, client, caplog):
    import logging

    caplog.set_level(logging.INFO)
    username = world.a.users["eligible"].username
    client.post("/", {"username": username, "password": "wrong one!"})
    client.post("/", {"username": username, "password": RIGHT})
    assert username not in caplog.text
