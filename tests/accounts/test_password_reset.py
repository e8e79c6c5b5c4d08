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
