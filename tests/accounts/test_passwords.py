"""Password rules (REQUIREMENTS 17): length 8–128, no common passwords, no composition rules."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

pytestmark = pytest.mark.django_db


def refusal(password, user=None) -> str:
    with pytest.raises(ValidationError) as caught:
        validate_password(password, user)
    return " ".join(caught.value.messages)


def test_seven_characters_are_too_few(world):
    assert "too short" in refusal("kq7#vZp", world.a.users["parent"])


def test_eight_characters_without_any_composition_are_enough(world):
    validate_password("zqxjvbwk", world.a.users["parent"])


def test_a_64_character_passphrase_is_accepted(world):
    passphrase = "the quiet library on elm street opens at nine every saturday ok!"
    assert len(passphrase) == 64
    validate_password(passphrase, world.a.users["parent"])


def test_128_characters_are_accepted_and_129_refused(world):
    validate_password("w" * 60 + " kettle drum " + "z" * 55, world.a.users["parent"])
    message = refusal("w" * 60 + " kettle drum " + "z" * 56, world.a.users["parent"])
    assert message == "This password is too long. It must contain at most 128 characters."


def test_a_common_password_is_refused(world):
    assert "too common" in refusal("password123", world.a.users["parent"])


def test_a_password_like_the_username_is_refused(world):
    parent = world.a.users["parent"]
    assert "too similar" in refusal(parent.username + "x", parent)


def test_the_welcome_form_shows_the_refusal(world, client):
    from django.core import mail

    from accounts.services import invitation_send
    from tests.accounts.conftest import link_token, rostered

    invitation_send(actor=None, user=rostered(world.a.users["parent"]))
    token = link_token(mail.outbox[0].body)
    response = client.post(
        f"/welcome/{token}/", {"new_password1": "password123", "new_password2": "password123"}
    )
    assert response.status_code == 400
    assert "This password is too common." in response.content.decode()
