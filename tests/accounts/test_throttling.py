"""Repeated failed sign-ins are throttled (django-axes): 5 failures, then 15 minutes' wait."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db
RIGHT = "correct horse battery"


def sign_in(client, username, password, address="10.0.0.1"):
    return client.post("/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_the_sixth_attempt_is_refused_even_with_the_right_password(world, client):
    for _ in range(4):
        response = sign_in(client, "a-parent", "wrong guess")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    # The fifth failure is the last: its answer is already the lockout page.
    assert sign_in(client, "a-parent", "wrong guess").status_code == 429
    response = sign_in(client, "a-parent", RIGHT)
    assert response.status_code == 429
    html = response.content.decode()
    assert "Wait 15 minutes and try again, or reset your password." in html
    assert 'href="/password-reset/"' in html
    assert "no-store" in response["Cache-Control"]
    assert not client.get("/").wsgi_request.user.is_authenticated


def test_the_lockout_is_per_username_and_address(world, client):
    for _ in range(5):
        sign_in(client, "a-parent", "wrong guess")
    # Same address, another person: unaffected.
    assert sign_in(client, "a-principal", RIGHT).status_code == 302
    client.post("/sign-out/")
    # Same person from another address: unaffected.
    assert sign_in(client, "a-parent", RIGHT, address="10.0.0.2").status_code == 302


def test_a_success_before_the_limit_starts_the_count_again(world, client):
    for _ in range(4):
        sign_in(client, "a-parent", "wrong guess")
    assert sign_in(client, "a-parent", RIGHT).status_code == 302
    client.post("/sign-out/")
    for _ in range(4):
        sign_in(client, "a-parent", "wrong guess")
    assert sign_in(client, "a-parent", RIGHT).status_code == 302


def test_the_lockout_ends_after_the_cool_off(world, client):
    from datetime import timedelta

    from axes.models import AccessAttempt

    for _ in range(5):
        sign_in(client, "a-parent", "wrong guess")
    assert sign_in(client, "a-parent", RIGHT).status_code == 429
    # Move the clock: the failures happened 16 minutes ago.
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= timedelta(minutes=16)
        attempt.save()
    assert sign_in(client, "a-parent", RIGHT).status_code == 302


def test_sign_ins_do_not_put_usernames_in_the_logs(world, client, caplog):
    import logging

    caplog.set_level(logging.INFO)
    client.post("/", {"username": world.a.users["eligible"].username, "password": "wrong one!"})
    client.post(
        "/", {"username": world.a.users["eligible"].username, "password": "correct horse battery"}
    )
    assert world.a.users["eligible"].username not in caplog.text
