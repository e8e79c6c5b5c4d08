"""Getting in, in Spanish: the browser's language picks the pages; emails carry both."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from accounts.models import Invitation
from accounts.services import invitation_send
from tests.accounts.conftest import link_token, rostered

pytestmark = pytest.mark.django_db
ES = {"HTTP_ACCEPT_LANGUAGE": "es-MX,es;q=0.9"}


def test_the_sign_in_page_in_spanish(client):
    html = client.get("/", **ES).content.decode()
    assert "<h1>Iniciar sesión</h1>" in html
    assert '<label for="id_username">Nombre de usuario</label>' in html
    assert "¿Olvidó su contraseña?" in html
    assert "Sign in" not in html


def test_the_home_page_in_spanish(world, client):
    client.force_login(world.a.users["principal"])
    html = client.get("/", **ES).content.decode()
    assert "Director de escuela" in html
    assert "Estudiantes que puede ver hoy: <strong>3</strong>." in html


def test_the_invitation_pages_in_spanish(world, client):
    parent = rostered(world.a.users["parent"])
    invitation = invitation_send(actor=None, user=parent)
    token = link_token(mail.outbox[0].body)
    html = client.get(f"/welcome/{token}/", **ES).content.decode()
    assert "Elija una contraseña para su cuenta" in html
    assert "Repita la nueva contraseña" in html
    refused = client.post(
        f"/welcome/{token}/", {"new_password1": "corto", "new_password2": "corto"}, **ES
    ).content.decode()
    assert "La contraseña es demasiado corta" in refused
    Invitation.unscoped.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    expired = client.get(f"/welcome/{token}/", **ES).content.decode()
    assert "Esta invitación ha vencido. Pida una nueva a su escuela." in expired
    assert "Este enlace no es válido" in client.get("/welcome/nope/", **ES).content.decode()


def test_the_invitation_email_in_both_languages(world):
    invitation_send(actor=None, user=rostered(world.a.users["parent"]))
    [email] = mail.outbox
    assert email.subject == "Set up your studentdata account / Configure su cuenta de studentdata"
    assert "Your username: a-parent" in email.body
    assert "Su nombre de usuario: a-parent" in email.body
    assert "abra este enlace dentro de 14 días" in email.body


def test_the_lockout_page_in_spanish(world, client):
    for _ in range(5):
        client.post("/", {"username": "a-parent", "password": "wrong guess"}, **ES)
    response = client.post("/", {"username": "a-parent", "password": "x"}, **ES)
    assert response.status_code == 429
    html = response.content.decode()
    assert "El inicio de sesión en esta cuenta falló demasiadas veces" in html
    assert "Espere 1 minuto y vuelva a intentarlo" in html


def test_the_length_cap_speaks_spanish(world):
    with translation.override("es"), pytest.raises(ValidationError) as caught:
        validate_password("x" * 129, world.a.users["parent"])
    assert "Esta contraseña es demasiado larga. Debe tener como máximo 128 caracteres." in (
        caught.value.messages
    )


def test_the_password_reset_pages_in_spanish(world, client):
    assert "Restablecer su contraseña" in client.get("/password-reset/", **ES).content.decode()
    response = client.post("/password-reset/", {"email": world.a.users["parent"].email}, **ES)
    assert "Revise su correo" in client.get(response["Location"], **ES).content.decode()
    assert "Alguien pidió restablecer la contraseña" in mail.outbox[0].body
