"""Guardian invitations: one link, used once, before it expires; the email names no student."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Invitation
from accounts.services import guardian_invitations_send, invitation_send, invitation_token_hash
from tests.accounts.conftest import link_token, rostered
from tests.test_tenancy import check_constraints_now

pytestmark = pytest.mark.django_db
PASSWORD = "maple syrup on tuesday"


def welcome(client, token, password=PASSWORD, again=None):
    return client.post(
        f"/welcome/{token}/", {"new_password1": password, "new_password2": again or password}
    )


def test_the_invitation_stores_only_a_hash_and_expires_after_the_setting(world, settings):
    settings.INVITATION_DAYS = 3
    parent = rostered(world.a.users["parent"])
    invitation = invitation_send(actor=world.a.users["district_admin"], user=parent)
    token = link_token(mail.outbox[0].body)
    assert invitation.token_hash == invitation_token_hash(token) != token
    assert len(token) >= 43  # token_urlsafe(32)
    assert invitation.district_id == world.a.district.pk
    assert invitation.created_by == world.a.users["district_admin"]
    assert invitation.expires_at - invitation.created_at == timedelta(days=3)
    assert not Invitation.unscoped.filter(token_hash=token).exists()


def test_the_email_links_to_welcome_and_names_no_student(world):
    parent = rostered(world.a.users["parent"])
    invitation_send(actor=None, user=parent)
    [email] = mail.outbox
    assert email.to == [parent.email]
    assert f"http://testserver/welcome/{link_token(email.body)}/" in email.body
    assert parent.username in email.body
    assert "District A" in email.body
    text = email.subject + email.body
    for student in world.a.students.values():
        for revealing in (student.given_name, student.family_name, student.sourced_id):
            assert revealing not in text
    # Both languages: nobody knows yet which one the guardian reads.
    assert "Your username" in email.body and "Su nombre de usuario" in email.body


def test_the_link_sets_the_password_signs_in_and_works_once(world, client):
    parent = rostered(world.a.users["parent"])
    invitation_send(actor=None, user=parent)
    token = link_token(mail.outbox[0].body)

    page = client.get(f"/welcome/{token}/")
    assert page.status_code == 200
    assert parent.username in page.content.decode()
    assert "no-store" in page["Cache-Control"]
    for student in world.a.students.values():
        assert student.family_name not in page.content.decode()

    response = welcome(client, token)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").wsgi_request.user == parent
    parent.refresh_from_db()
    assert parent.check_password(PASSWORD)
    assert Invitation.unscoped.get(user=parent).used_at is not None

    client.post("/sign-out/")
    again = client.get(f"/welcome/{token}/")
    assert again.status_code == 410
    assert "already used" in again.content.decode()
    assert welcome(client, token, password="another fine password").status_code == 410
    parent.refresh_from_db()
    assert parent.check_password(PASSWORD)


def test_a_refused_password_keeps_the_link_open(world, client):
    parent = rostered(world.a.users["parent"])
    invitation_send(actor=None, user=parent)
    token = link_token(mail.outbox[0].body)
    response = welcome(client, token, password="short")
    assert response.status_code == 400
    assert "too short" in response.content.decode()
    assert welcome(client, token, again="something else entirely").status_code == 400
    assert not client.get("/welcome/x/").wsgi_request.user.is_authenticated
    assert Invitation.unscoped.get(user=parent).used_at is None
    assert welcome(client, token).status_code == 302


def test_an_expired_link_says_so_plainly(world, client):
    parent = rostered(world.a.users["parent"])
    invitation = invitation_send(actor=None, user=parent)
    token = link_token(mail.outbox[0].body)
    Invitation.unscoped.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = client.get(f"/welcome/{token}/")
    assert response.status_code == 410
    assert (
        "This invitation has expired. Ask your school for a new one." in response.content.decode()
    )
    assert 'name="new_password1"' not in response.content.decode()
    assert welcome(client, token).status_code == 410
    parent.refresh_from_db()
    assert not parent.has_usable_password()


def test_an_unknown_link_is_not_valid(world, client):
    response = client.get("/welcome/not-a-real-token/")
    assert response.status_code == 404
    assert "This link is not valid" in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_an_inactive_guardians_link_is_not_valid(world, client):
    parent = rostered(world.a.users["parent"])
    invitation_send(actor=None, user=parent)
    parent.is_active = False
    parent.save(update_fields=["is_active"])
    assert client.get(f"/welcome/{link_token(mail.outbox[0].body)}/").status_code == 404


def test_a_new_invitation_voids_the_older_one(world, client):
    parent = rostered(world.a.users["parent"])
    first = invitation_send(actor=None, user=parent)
    second = invitation_send(actor=None, user=parent)
    old_token, new_token = (link_token(email.body) for email in mail.outbox)
    first.refresh_from_db()
    assert first.voided_at is not None and second.voided_at is None
    response = client.get(f"/welcome/{old_token}/")
    assert response.status_code == 410
    assert "most recent email" in response.content.decode()
    assert welcome(client, new_token).status_code == 302


def test_sending_to_everyone_picks_guardians_without_a_password(world):
    parent = rostered(world.a.users["parent"])
    adult_parent = rostered(world.a.users["adult_parent"])
    rostered(world.a.users["teacher"])  # no guardian link: not a guardian
    rostered(world.b.users["parent"])  # another district
    sent = guardian_invitations_send(actor=None, district=world.a.district)
    assert sent == 2
    assert sorted(email.to[0] for email in mail.outbox) == sorted(
        [parent.email, adult_parent.email]
    )
    # Already invited and still open: not again, unless asked to resend.
    assert guardian_invitations_send(actor=None, district=world.a.district) == 0
    assert guardian_invitations_send(actor=None, district=world.a.district, resend=True) == 2
    assert Invitation.unscoped.filter(user=parent, voided_at=None).count() == 1


def test_sending_to_everyone_skips_who_can_sign_in_has_no_email_or_is_inactive(world):
    # world.a.users["parent"] keeps the password the factory gave it.
    no_email = rostered(world.a.users["adult_parent"])
    no_email.email = ""
    no_email.save(update_fields=["email"])
    assert guardian_invitations_send(actor=None, district=world.a.district) == 0
    parent = rostered(world.a.users["parent"])
    parent.is_active = False
    parent.save(update_fields=["is_active"])
    assert guardian_invitations_send(actor=None, district=world.a.district) == 0
    assert mail.outbox == []


def test_an_expired_invitation_counts_as_not_invited(world):
    parent = rostered(world.a.users["parent"])
    invitation = invitation_send(actor=None, user=parent)
    Invitation.unscoped.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert guardian_invitations_send(actor=None, district=world.a.district) == 1


def test_the_command_invites_the_districts_guardians(world):
    from io import StringIO

    rostered(world.a.users["parent"])
    rostered(world.b.users["parent"])
    out = StringIO()
    call_command("invite_guardians", "--district", world.a.district.slug, stdout=out)
    assert "Sent 1 invitation" in out.getvalue()
    assert [email.to for email in mail.outbox] == [[world.a.users["parent"].email]]
    call_command("invite_guardians", "--district", world.a.district.slug, stdout=out)
    assert len(mail.outbox) == 1
    call_command("invite_guardians", "--district", world.a.district.slug, "--resend", stdout=out)
    assert len(mail.outbox) == 2
    assert Invitation.unscoped.get(user=world.a.users["parent"], voided_at=None).created_by is None


def test_the_command_refuses_an_unknown_district(world):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="nowhere"):
        call_command("invite_guardians", "--district", "nowhere")


def test_the_database_refuses_an_invitation_tying_two_districts(world):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Invitation.unscoped.create(
            district=world.a.district,
            user=world.b.users["parent"],
            token_hash="x" * 64,
            expires_at=timezone.now(),
        )
        check_constraints_now()
