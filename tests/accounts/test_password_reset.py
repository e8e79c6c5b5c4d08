"""Password reset by email: a one-time link that names no student."""

from __future__ import annotations

import re

import pytest
from django.core import mail

pytestmark = pytest.mark.django_db
NEW = "sunflowers in november"


def reset_link(body: str) -> str:
    [link] = re.findall(r"http://testserver(/password-reset/[^/\s]+/[^/\s]+/)", body)
    return link


def test_the_sign_in_page_links_to_the_reset(client):
    assert 'href="/password-reset/">Forgot your password?</a>' in client.get("/").content.decode()


def test_a_guardian_resets_their_password(world, client):
    parent = world.a.users["parent"]
    response = client.post("/password-reset/", {"email": parent.email})
    assert response.status_code == 302 and response["Location"] == "/password-reset/sent/"
    assert "Check your email" in client.get(response["Location"]).content.decode()
    [email] = mail.outbox
    assert email.to == [parent.email]
    assert parent.username in email.body
    for student in world.a.students.values():
        for revealing in (student.given_name, student.family_name, student.sourced_id):
            assert revealing not in email.subject + email.body

    form = client.get(reset_link(email.body), follow=True)
    assert form.status_code == 200
    assert 'name="new_password1"' in form.content.decode()
    set_url = form.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and done["Location"] == "/password-reset/done/"
    assert "Your new password is set" in client.get(done["Location"]).content.decode()
    parent.refresh_from_db()
    assert parent.check_password(NEW)

    # The link works once.
    again = client.get(reset_link(email.body), follow=True)
    assert "already been used or has expired" in again.content.decode()


def test_an_unknown_address_looks_the_same_and_sends_nothing(world, client):
    response = client.post("/password-reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302 and response["Location"] == "/password-reset/sent/"
    assert mail.outbox == []


def test_the_reset_refuses_a_common_password(world, client):
    client.post("/password-reset/", {"email": world.a.users["parent"].email})
    form = client.get(reset_link(mail.outbox[0].body), follow=True)
    response = client.post(
        form.redirect_chain[-1][0], {"new_password1": "password123", "new_password2": "password123"}
    )
    assert "This password is too common." in response.content.decode()


@pytest.fixture
def queued(monkeypatch):
    """The reset mails asked of Celery, not sent."""
    from accounts import views

    asked = []
    monkeypatch.setattr(views.send_password_reset, "delay", lambda *args: asked.append(args))
    return asked


def test_a_known_and_an_unknown_address_cost_the_request_the_same(world, client, queued):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    answers = []
    for email in (world.a.users["parent"].email, "nobody@example.org"):
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/password-reset/", {"email": email})
        answers.append((response.status_code, response["Location"], len(queries)))
    assert answers[0] == answers[1] == (302, "/password-reset/sent/", answers[0][2])
    assert mail.outbox == []  # nothing is looked up or sent inside the request
    assert [email for email, _ in queued] == [world.a.users["parent"].email, "nobody@example.org"]


def test_the_mail_is_written_in_the_language_it_was_asked_in(world, client):
    parent = world.a.users["parent"]
    client.post("/password-reset/", {"email": parent.email}, HTTP_ACCEPT_LANGUAGE="es")
    [email] = mail.outbox
    assert "contraseña" in email.body
    assert reset_link(email.body)


def test_one_address_gets_three_mails_an_hour_and_the_same_answer_after(world, client):
    parent = world.a.users["parent"]
    for attempt in range(5):
        response = client.post(
            "/password-reset/", {"email": parent.email.upper()}, REMOTE_ADDR=f"10.0.1.{attempt}"
        )
        assert response.status_code == 302 and response["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 3


def test_one_client_address_is_stopped_after_twenty_asks_an_hour(world, client, queued):
    for number in range(20):
        response = client.post("/password-reset/", {"email": f"someone{number}@example.org"})
        assert response.status_code == 302
    refused = client.post("/password-reset/", {"email": "one-more@example.org"})
    assert refused.status_code == 429
    html = refused.content.decode()
    assert "Too many password resets were asked for from your network" in html
    assert 'value="one-more@example.org"' in html
    assert len(queued) == 20
    # Another network is not held back.
    other = client.post("/password-reset/", {"email": "x@example.org"}, REMOTE_ADDR="10.9.9.9")
    assert other.status_code == 302
