"""``/district/staff/``: the district's staff, inviting one, giving and ending roles."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils.html import escape

from access.districts import may_manage_district
from access.viewer import viewer_for
from accounts.models import Role, RoleMembership, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, world):
    client.force_login(world.a.users["district_admin"])
    return client


def test_the_list_shows_the_districts_staff_only(admin, world):
    response = admin.get("/district/staff/")
    people = {person.username for person in response.context["people"]}
    assert "a-principal" in people and "a-teacher" in people
    assert not any(name.startswith("b-") for name in people) and "a-parent" not in people


@pytest.mark.parametrize("who", ["principal", "parent"])
def test_others_are_refused(client, world, who):
    client.force_login(world.a.users[who])
    assert client.get("/district/staff/").status_code == 403


def test_invite_a_staff_member_with_a_first_role(admin, world):
    response = admin.post(
        "/district/staff/",
        {
            "invite-first_name": "Nia",
            "invite-last_name": "Okafor",
            "invite-email": "",
            "invite-role": "teacher",
        },
    )
    assert response.status_code == 400
    form = response.context["invite_form"]
    assert set(form.errors) == {"email", "school"}
    response = admin.post(
        "/district/staff/",
        {
            "invite-first_name": "Nia",
            "invite-last_name": "Okafor",
            "invite-email": "nia@a.example",
            "invite-role": "teacher",
            "invite-school": world.a.school2.pk,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="nia@a.example")
    assert user.district == world.a.district and not user.has_usable_password()
    (membership,) = RoleMembership.unscoped.filter(user=user)
    assert (membership.role, membership.school) == (Role.TEACHER, world.a.school2)
    (message,) = mail.outbox
    assert message.to == ["nia@a.example"] and "/welcome/" in message.body
    assert "staff account" in message.body


def test_a_role_is_given_and_ended_and_applies_on_the_next_request(admin, world):
    teacher = world.a.users["teacher"]
    url = f"/district/staff/{teacher.pk}/roles/"
    response = admin.post(
        url, {f"u{teacher.pk}-role": "district_admin", f"u{teacher.pk}-school": world.a.school1.pk}
    )
    assert response.status_code == 400  # a district role is held at no school
    assert admin.post(url, {f"u{teacher.pk}-role": "district_admin"}).status_code == 302
    teacher.refresh_from_db()
    assert may_manage_district(viewer_for(teacher))
    membership = RoleMembership.unscoped.get(user=teacher, role=Role.DISTRICT_ADMIN)
    admin.post(f"/district/staff/roles/{membership.pk}/end/")
    membership.refresh_from_db()
    assert membership.end_date == world.a.district.today()
    # Ended today: still in force today, gone tomorrow (end dates are inclusive).
    from datetime import timedelta

    assert not may_manage_district(
        viewer_for(teacher, today=world.a.district.today() + timedelta(days=1))
    )


def test_another_districts_people_and_roles_are_404(admin, world):
    other = world.b.users["teacher"]
    assert (
        admin.post(
            f"/district/staff/{other.pk}/roles/", {f"u{other.pk}-role": "teacher"}
        ).status_code
        == 404
    )
    membership = RoleMembership.unscoped.filter(user=other).first()
    assert admin.post(f"/district/staff/roles/{membership.pk}/end/").status_code == 404
    membership.refresh_from_db()
    assert membership.end_date is None


# -- staff roles go to staff accounts only -------------------------------------------


def give_role(admin, person, school):
    return admin.post(
        f"/district/staff/{person.pk}/roles/",
        {f"u{person.pk}-role": "teacher", f"u{person.pk}-school": school.pk},
    )


def provider_person(world):
    from access.models import ProviderMember
    from tests import factories as f

    provider = f.ProviderFactory(district=world.a.district)
    person = f.UserFactory(username="vendor-person", district=world.a.district)
    ProviderMember.unscoped.create(district=world.a.district, provider=provider, user=person)
    return person


def eligible_student(world):
    from records.models import Student
    from tests import factories as f

    person = f.UserFactory(username="a-adult-student", district=world.a.district)
    Student.unscoped.filter(pk=world.a.students["adult"].pk).update(user=person)
    return person


@pytest.mark.parametrize(
    ("who", "says"),
    [
        (provider_person, "signs in for a service provider"),
        (lambda world: world.a.users["parent"], "a family's account"),
        (eligible_student, "a family's account"),
    ],
)
def test_a_provider_or_family_account_is_given_no_staff_role(admin, world, who, says):
    person = who(world)
    response = give_role(admin, person, world.a.school1)
    assert response.status_code == 400
    assert escape(says) in response.content.decode()  # said on the page, not only in context
    assert not RoleMembership.unscoped.filter(user=person).exists()


def test_a_staff_member_who_is_also_a_parent_is_given_roles(admin, world):
    from tests import factories as f

    teacher = world.a.users["teacher"]
    f.GuardianLinkFactory(guardian=teacher, student=world.a.students["elsewhere"])
    assert give_role(admin, teacher, world.a.school2).status_code == 302
    assert RoleMembership.unscoped.filter(
        user=teacher, role=Role.TEACHER, school=world.a.school2
    ).exists()


# -- every change is kept: the staff page shows each role's history ------------------


def test_each_role_change_is_kept_with_who_made_it_and_shown_on_the_page(admin, world):
    from accounts.models import RoleChange

    admin_user = world.a.users["district_admin"]
    teacher = world.a.users["teacher"]
    url = f"/district/staff/{teacher.pk}/roles/"
    fields = {f"u{teacher.pk}-role": "nurse", f"u{teacher.pk}-school": world.a.school2.pk}
    assert admin.post(url, fields).status_code == 302
    assert admin.post(url, {**fields, f"u{teacher.pk}-end_date": "2031-06-30"}).status_code == 302
    membership = RoleMembership.unscoped.get(user=teacher, role=Role.NURSE)
    assert admin.post(f"/district/staff/roles/{membership.pk}/end/").status_code == 302

    changes = list(RoleChange.unscoped.filter(membership=membership).order_by("pk"))
    assert [c.action for c in changes] == ["given", "renewed", "ended"]
    assert {c.actor_id for c in changes} == {admin_user.pk}
    assert {c.district_id for c in changes} == {world.a.district.pk}
    assert changes[1].end_date.isoformat() == "2031-06-30"
    assert changes[2].end_date == world.a.district.today()

    page = admin.get("/district/staff/")
    (card,) = [p for p in page.context["people"] if p.pk == teacher.pk]
    assert [c.action for c in card.history] == ["ended", "renewed", "given"]
    html = page.content.decode()
    assert "History of these roles" in html
    assert escape(f"School nurse at {world.a.school2.name}") in html
    assert escape(f"by {admin_user.get_full_name() or admin_user.username}") in html
    spanish = admin.get("/district/staff/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Historial de estos cargos" in spanish and "fechas cambiadas" in spanish


def test_a_refused_change_leaves_no_history(admin, world):
    from accounts.models import RoleChange

    teacher = world.a.users["teacher"]
    response = admin.post(
        f"/district/staff/{teacher.pk}/roles/",
        {
            f"u{teacher.pk}-role": "nurse",
            f"u{teacher.pk}-school": world.a.school2.pk,
            f"u{teacher.pk}-begin_date": "2031-06-30",
            f"u{teacher.pk}-end_date": "2030-06-30",
        },
    )
    assert response.status_code == 400
    assert not RoleChange.unscoped.filter(membership__user=teacher).exists()


def test_the_history_reads_in_the_districts_time_zone(admin, world):
    from datetime import UTC, datetime

    from accounts.models import RoleChange

    district = world.a.district
    district.timezone = "America/Los_Angeles"
    district.save(update_fields=["timezone"])
    membership = RoleMembership.unscoped.filter(user=world.a.users["teacher"]).first()
    RoleChange.unscoped.create(
        district=district,
        membership=membership,
        actor=world.a.users["district_admin"],
        action="given",
        changed_at=datetime(2027, 1, 15, 3, 30, tzinfo=UTC),  # 7:30 p.m. the day before
    )
    html = admin.get("/district/staff/").content.decode()
    assert 'datetime="2027-01-14T19:30:00-08:00"' in html
    assert "Jan. 14, 2027, 7:30 p.m." in html
