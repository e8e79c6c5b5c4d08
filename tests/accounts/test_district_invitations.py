"""``/district/invitations/``: a district admin invites the guardians of their district."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import Invitation
from tests.accounts.conftest import rostered

pytestmark = pytest.mark.django_db
URL = "/district/invitations/"
REFUSED = [
    "principal", "school_admin", "counselor", "nurse", "special_ed", "teacher",
    "superuser", "parent", "eligible",
]  # fmt: skip


def test_anonymous_visitors_are_sent_to_sign_in(world, client):
    assert client.get(URL).status_code == 302
    assert client.post(URL).status_code == 302
    assert mail.outbox == []


@pytest.mark.parametrize("name", REFUSED)
def test_everyone_but_the_district_admin_is_refused(world, client, name):
    rostered(world.a.users["adult_parent"])
    client.force_login(world.a.users[name])
    assert client.get(URL).status_code == 403
    assert client.post(URL).status_code == 403
    assert mail.outbox == []


def test_an_outsider_is_refused(world, client):
    client.force_login(world.outsider)
    assert client.get(URL).status_code == 403


def test_the_district_admin_sees_the_counts_and_invites_their_own_district_only(world, client):
    rostered(world.a.users["parent"])
    rostered(world.b.users["parent"])
    client.force_login(world.a.users["district_admin"])
    page = client.get(URL)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    html = page.content.decode()
    assert "Invite all guardians who have not been invited" in html
    assert '<dd data-count="guardians">2</dd>' in html
    assert '<dd data-count="accepted">1</dd>' in html
    assert '<dd data-count="to_invite">1</dd>' in html
    assert '<dd data-count="waiting">0</dd>' in html

    response = client.post(URL, follow=True)
    assert response.redirect_chain == [(URL, 302)]
    html = response.content.decode()
    assert "1 invitation was sent." in html
    assert '<dd data-count="waiting">1</dd>' in html
    assert '<dd data-count="to_invite">0</dd>' in html
    assert [email.to for email in mail.outbox] == [[world.a.users["parent"].email]]
    invitation = Invitation.unscoped.get()
    assert invitation.created_by == world.a.users["district_admin"]
    assert invitation.district_id == world.a.district.pk

    # Pressing again sends nothing more: the one guardian is waiting.
    assert "0 invitations were sent." in client.post(URL, follow=True).content.decode()
    assert len(mail.outbox) == 1


def test_an_ended_district_admin_role_is_refused(world, client):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import RoleMembership

    admin = world.a.users["district_admin"]
    RoleMembership.unscoped.filter(user=admin).update(
        end_date=timezone.localdate() - timedelta(days=1)
    )
    client.force_login(admin)
    assert client.get(URL).status_code == 403


def test_wrong_method_is_refused(world, client):
    client.force_login(world.a.users["district_admin"])
    assert client.put(URL).status_code == 405
