"""``/``: sign in, then a home page that says what the account reaches."""

from __future__ import annotations

import pytest

from tests.accounts.two_factor_helpers import app_code, enrolled


@pytest.mark.django_db
def test_visitors_get_the_sign_in_form(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b'name="password"' in response.content
    assert response["Cache-Control"].count("no-store") == 1


@pytest.mark.django_db
def test_signing_in_lands_on_home_with_the_roles_and_reach(world, client):
    principal = world.a.users["principal"]
    device, _ = enrolled(principal)
    client.post("/", {"username": principal.username, "password": "correct horse battery"})
    response = client.post(
        "/two-factor/verify/", {"code": app_code(device), "next": "/"}, follow=True
    )
    assert response.status_code == 200
    assert b"Principal" in response.content
    assert b"Students you may see today: <strong>3</strong>" in response.content


@pytest.mark.django_db
def test_a_wrong_password_is_refused_plainly(world, client):
    response = client.post("/", {"username": "a-principal", "password": "nope nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert not response.wsgi_request.user.is_authenticated


@pytest.mark.django_db
def test_an_account_without_routes_is_told_so(world, client):
    client.force_login(world.a.users["superuser"])
    response = client.get("/")
    assert b"does not give you access to any student" in response.content


@pytest.mark.django_db
def test_sign_out_is_post_only_and_returns_to_the_front_door(world, client):
    client.force_login(world.a.users["parent"])
    assert client.get("/sign-out/").status_code == 405
    response = client.post("/sign-out/")
    assert response.status_code == 302
    assert not client.get("/").wsgi_request.user.is_authenticated


@pytest.mark.django_db
def test_parents_and_eligible_students_land_on_the_family_portal(world, client):
    for name in ("parent", "eligible"):
        client.force_login(world.a.users[name])
        response = client.get("/")
        assert response.status_code == 302 and response["Location"] == "/family/"


@pytest.mark.django_db
def test_a_teacher_who_is_also_a_parent_keeps_the_staff_home_with_a_link(world, client):
    from tests import factories as f

    teacher = world.a.users["teacher"]
    f.GuardianLinkFactory(student=world.a.students["schoolmate"], guardian=teacher)
    client.force_login(teacher)
    response = client.get("/")
    assert response.status_code == 200
    assert b'href="/family/"' in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "reader, links, absent",
    [
        ("teacher", ['href="/classes/"'], ['href="/school/"']),
        ("principal", ['href="/school/"'], ['href="/classes/"']),
        ("nurse", ['href="/school/"'], ['href="/classes/"']),
    ],
)
def test_home_links_each_staff_member_to_their_pages(world, client, reader, links, absent):
    client.force_login(world.a.users[reader])
    body = client.get("/").content.decode()
    assert all(link in body for link in links)
    assert not any(link in body for link in absent)
