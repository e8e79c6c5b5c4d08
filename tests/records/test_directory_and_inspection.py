"""Directory-information opt-outs (99.37) and requests to inspect records (99.10).

The family pages: the holder of the child's rights (parent, or the eligible student)
reaches them; other children, restricted parents, staff, the other district and the
outsider get 404; a tax dependent's parent, who may read but holds no rights, 403.
The staff queue: district admins and the principal or school admin of the student's
school; teachers and counselors 403; a request outside one's queue 404.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from access.models import AccessEvent, AccessEventStudent
from access.projection import project_students
from access.scoping import Allowed
from access.viewer import viewer_for
from accounts.models import Role
from records.models import DirectoryOptOut, DirectoryOptOutChange, InspectionRequest
from records.rights import inspection_request_create
from tests import factories as f

pytestmark = pytest.mark.django_db

QUEUE = "/district/inspections/"


def directory_url(student) -> str:
    return f"/family/{student.pk}/directory/"


def inspection_url(student) -> str:
    return f"/family/{student.pk}/inspection/"


def detail_url(item) -> str:
    return f"{QUEUE}{item.pk}/"


def client_for(user, language: str | None = None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language) if language else Client()
    client.force_login(user)
    return client


def outside_directory(world, student) -> dict:
    """The directory a party outside the school gets for ``student``, as of now."""
    viewer = viewer_for(world.a.users["district_admin"])
    allowed = Allowed(frozenset({"directory"}), None, True, frozenset({"provider"}))
    (projected,) = project_students(viewer, [student], {student.pk: allowed})
    return projected["directory"]


def open_request(world, student, *, days_ago: int = 0, **kwargs) -> InspectionRequest:
    return inspection_request_create(
        actor=world.a.users["parent"],
        district=world.a.district,
        student_id=student.pk,
        description=kwargs.pop("description", "The reading evaluation from last spring"),
        preference=kwargs.pop("preference", InspectionRequest.Preference.IN_PERSON),
        now=timezone.now() - timedelta(days=days_ago),
    )


def events_about(student) -> list[AccessEvent]:
    touched = AccessEventStudent.unscoped.filter(student=student).values("event_id")
    return list(AccessEvent.unscoped.filter(pk__in=touched).order_by("sequence"))


# Who reaches the family pages.


@pytest.mark.parametrize("page", [directory_url, inspection_url])
def test_anonymous_visitors_are_sent_to_sign_in(world, client, page):
    response = client.get(page(world.a.students["own"]))
    assert response.status_code == 302 and response["Location"].startswith("/?next=")


@pytest.mark.parametrize("page", [directory_url, inspection_url])
def test_the_parent_reaches_their_own_child_only(world, page):
    client = client_for(world.a.users["parent"])
    response = client.get(page(world.a.students["own"]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    for other in ("schoolmate", "elsewhere", "adult"):
        assert client.get(page(world.a.students[other])).status_code == 404, other
    assert client.get(page(world.b.students["own"])).status_code == 404
    assert client.get("/family/99999999/directory/").status_code == 404
    assert client.put(page(world.a.students["own"])).status_code == 405


@pytest.mark.parametrize(
    "name", ["teacher", "principal", "counselor", "district_admin", "superuser"]
)
@pytest.mark.parametrize("page", [directory_url, inspection_url])
def test_staff_have_no_family_request_pages(world, name, page):
    client = client_for(world.a.users[name])
    assert client.get(page(world.a.students["own"])).status_code == 404
    assert client.post(page(world.a.students["own"]), {"opt_out_all": "on"}).status_code == 404
    assert not DirectoryOptOut.unscoped.exists()


@pytest.mark.parametrize("page", [directory_url, inspection_url])
def test_other_districts_and_outsiders_get_404(world, page):
    own = world.a.students["own"]
    assert client_for(world.b.users["parent"]).get(page(own)).status_code == 404
    assert client_for(world.outsider).get(page(own)).status_code == 404


def test_a_restricted_parent_can_neither_see_nor_change(world):
    f.CustodyRestrictionFactory(guardian_link=world.a.links["parent"])
    client = client_for(world.a.users["parent"])
    own = world.a.students["own"]
    assert client.get(directory_url(own)).status_code == 404
    assert client.post(directory_url(own), {"opt_out_all": "on"}).status_code == 404
    response = client.post(inspection_url(own), {"description": "x", "preference": "copies"})
    assert response.status_code == 404
    assert not DirectoryOptOut.unscoped.exists() and not InspectionRequest.unscoped.exists()


def test_the_eligible_student_holds_the_rights_and_their_parent_does_not(world):
    adult = world.a.students["adult"]
    student = client_for(world.a.users["eligible"])
    parent = client_for(world.a.users["adult_parent"])
    assert student.get(directory_url(adult)).status_code == 200
    assert student.get(inspection_url(adult)).status_code == 200
    assert student.get(directory_url(world.a.students["own"])).status_code == 404
    assert parent.get(directory_url(adult)).status_code == 404  # not a tax dependent
    adult.is_tax_dependent = True
    adult.save()
    # A dependent's parent still reads the record, but the rights are the student's.
    assert parent.get(f"/family/{adult.pk}/").status_code == 200
    assert parent.get(directory_url(adult)).status_code == 403
    assert parent.post(directory_url(adult), {"opt_out_all": "on"}).status_code == 403
    assert parent.get(inspection_url(adult)).status_code == 403
    assert not DirectoryOptOut.unscoped.exists()
    student.post(directory_url(adult), {"opt_out_family_name": "on"})
    (row,) = DirectoryOptOut.unscoped.all()
    assert (row.student, row.field, row.chosen_by) == (adult, "family_name", adult.user)


def test_the_child_page_links_the_requests_only_for_the_rights_holder(world):
    own, adult = world.a.students["own"], world.a.students["adult"]
    body = client_for(world.a.users["parent"]).get(f"/family/{own.pk}/").content.decode()
    assert f'href="{directory_url(own)}"' in body and f'href="{inspection_url(own)}"' in body
    adult.is_tax_dependent = True
    adult.save()
    body = client_for(world.a.users["adult_parent"]).get(f"/family/{adult.pk}/").content.decode()
    assert directory_url(adult) not in body and inspection_url(adult) not in body


# Directory information.


def test_the_page_lists_the_districts_designated_fields_in_plain_words(world):
    own = world.a.students["own"]
    response = client_for(world.a.users["parent"]).get(directory_url(own))
    assert [row["label"] for row in response.context["rows"]] == [
        "First name", "Last name", "Grade", "School",
    ]  # fmt: skip
    assert not any(row["opted_out"] for row in response.context["rows"])
    assert set(response.context["form"].fields) == {
        "opt_out_all", "opt_out_given_name", "opt_out_family_name", "opt_out_grade_level",
        "opt_out_school",
    }  # fmt: skip
    (event,) = events_about(own)  # the page shows the child's name
    assert event.categories == ["directory"] and event.actor_roles == "guardian"


def test_an_opt_out_is_recorded_and_honoured_outside_the_school_at_once(world):
    own, parent = world.a.students["own"], world.a.users["parent"]
    before = outside_directory(world, own)
    assert set(before) == {"given_name", "family_name", "grade_level", "schools"}
    client = client_for(parent)
    started = timezone.now()
    response = client.post(directory_url(own), {"opt_out_family_name": "on"})
    assert response.status_code == 302 and response["Location"] == directory_url(own)
    (row,) = DirectoryOptOut.unscoped.filter(student=own)
    assert (row.field, row.chosen_by, row.district) == ("family_name", parent, world.a.district)
    assert row.chosen_at >= started
    (change,) = DirectoryOptOutChange.unscoped.filter(student=own)
    assert (change.field, change.opted_out, change.changed_by) == ("family_name", True, parent)
    assert change.changed_at >= started
    assert set(outside_directory(world, own)) == {"given_name", "grade_level", "schools"}
    # Inside the school nothing changes: the projection for staff keeps the name.
    staff = viewer_for(world.a.users["principal"])
    (seen,) = project_students(
        staff, [own], {own.pk: Allowed(frozenset({"directory"}), via=frozenset({"principal"}))}
    )
    assert seen["directory"]["family_name"] == own.family_name
    page = client.get(directory_url(own))
    assert "saved" in page.content.decode()
    assert [r["opted_out"] for r in page.context["rows"]] == [False, True, False, False]
    assert page.context["form"]["opt_out_family_name"].value() is True


def test_opting_back_in_deletes_the_choice_and_keeps_the_history(world):
    own, parent = world.a.students["own"], world.a.users["parent"]
    client = client_for(parent)
    client.post(directory_url(own), {"opt_out_family_name": "on", "opt_out_school": "on"})
    assert set(outside_directory(world, own)) == {"given_name", "grade_level"}
    client.post(directory_url(own), {"opt_out_school": "on"})
    assert list(DirectoryOptOut.unscoped.filter(student=own).values_list("field", flat=True)) == [
        "school"
    ]
    assert set(outside_directory(world, own)) == {"given_name", "family_name", "grade_level"}
    history = DirectoryOptOutChange.unscoped.filter(student=own).order_by("id")
    assert [(c.field, c.opted_out) for c in history] == [
        ("family_name", True), ("school", True), ("family_name", False),
    ]  # fmt: skip
    unchanged = client.post(directory_url(own), {"opt_out_school": "on"}, follow=True)
    assert "Nothing changed." in unchanged.content.decode()
    assert history.count() == 3


def test_opting_out_of_everything(world):
    own = world.a.students["own"]
    client = client_for(world.a.users["parent"])
    client.post(directory_url(own), {"opt_out_all": "on"})
    assert outside_directory(world, own) == {}
    assert list(DirectoryOptOut.unscoped.values_list("field", flat=True)) == ["*"]
    page = client.get(directory_url(own))
    assert all(row["opted_out"] for row in page.context["rows"])
    assert "You opted out of all directory information." in page.content.decode()
    # "All" covers fields the district designates later, too.
    world.a.district.directory_fields = [*world.a.district.directory_fields, "preferred_name"]
    world.a.district.save()
    assert outside_directory(world, own) == {}
    client.post(directory_url(own), {})
    assert not DirectoryOptOut.unscoped.exists()
    assert "preferred_name" in outside_directory(world, own)


def test_only_designated_fields_can_be_chosen(world):
    own = world.a.students["own"]
    client_for(world.a.users["parent"]).post(
        directory_url(own), {"opt_out_middle_name": "on", "opt_out_state_id": "on"}
    )
    assert not DirectoryOptOut.unscoped.exists()


def test_a_choice_not_offered_any_more_is_kept(world):
    own, parent = world.a.students["own"], world.a.users["parent"]
    DirectoryOptOut.unscoped.create(
        district=world.a.district, student=own, field="middle_name", chosen_by=parent
    )
    client_for(parent).post(directory_url(own), {"opt_out_grade_level": "on"})
    assert set(DirectoryOptOut.unscoped.values_list("field", flat=True)) == {
        "middle_name",
        "grade_level",
    }


# Requests to inspect.


def test_a_request_is_due_after_the_districts_days_in_its_time_zone(world):
    district = world.a.district
    district.inspection_due_days = 10
    district.timezone = "America/Los_Angeles"
    district.save()
    own = world.a.students["own"]
    # 03:00 UTC on 1 March is still 28 February in Los Angeles.
    late_evening = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)
    created = inspection_request_create(
        actor=world.a.users["parent"], district=district, student_id=own.pk,
        description="Everything", preference="copies", now=late_evening,
    )  # fmt: skip
    assert created.due_on == date(2027, 2, 28) + timedelta(days=10)
    district.timezone = "Asia/Tokyo"
    district.save()
    created = inspection_request_create(
        actor=world.a.users["parent"], district=district, student_id=own.pk,
        description="Everything", preference="copies", now=late_evening,
    )  # fmt: skip
    assert created.due_on == date(2027, 3, 11)


def test_the_parent_requests_an_inspection_and_sees_its_due_date(world):
    district = world.a.district
    district.inspection_due_days = 30
    district.save()
    own, parent = world.a.students["own"], world.a.users["parent"]
    client = client_for(parent)
    response = client.post(
        inspection_url(own),
        {"description": "The speech evaluation", "preference": "copies"},
        follow=True,
    )
    (item,) = InspectionRequest.unscoped.all()
    today = viewer_for(parent).today
    assert (item.student, item.requested_by, item.district) == (own, parent, district)
    assert (item.status, item.preference, item.due_on) == ("open", "copies", today + timedelta(30))
    assert item.description == "The speech evaluation" and item.closed_at is None
    body = response.content.decode()
    assert "The speech evaluation" in body and "Receive copies" in body and "Open" in body
    assert f'datetime="{item.due_on:%Y-%m-%d}"' in body
    assert "within 30 days" in body


def test_an_incomplete_request_is_refused_with_reasons(world):
    own = world.a.students["own"]
    response = client_for(world.a.users["parent"]).post(
        inspection_url(own), {"description": "  ", "preference": "fax"}
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"description", "preference"}
    assert 'aria-invalid="true"' in response.content.decode()
    assert not InspectionRequest.unscoped.exists()


def test_the_family_sees_the_childs_requests_only(world):
    own, schoolmate = world.a.students["own"], world.a.students["schoolmate"]
    open_request(world, own, description="Own child's file")
    open_request(world, schoolmate, description="Another child's file")
    body = client_for(world.a.users["parent"]).get(inspection_url(own)).content.decode()
    assert "Own child&#x27;s file" in body and "Another child" not in body


# The staff queue.


@pytest.fixture
def queued(world):
    """An open request for a student of school 1 and one of school 2, and a school-2 principal."""
    principal2 = f.UserFactory(username="a-principal2", district=world.a.district)
    f.RoleMembershipFactory(user=principal2, role=Role.PRINCIPAL, school=world.a.school2)
    world.a.users["principal2"] = principal2
    return {
        "school1": open_request(world, world.a.students["own"]),
        "school2": open_request(world, world.a.students["elsewhere"]),
    }


def test_anonymous_visitors_are_sent_to_sign_in_from_the_queue(world, client, queued):
    for url in (QUEUE, detail_url(queued["school1"])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/?next=")


@pytest.mark.parametrize(
    "name, sees",
    [
        ("principal", {"school1"}),
        ("school_admin", {"school1"}),
        ("principal2", {"school2"}),
        ("district_admin", {"school1", "school2"}),
    ],
)
def test_each_reviewer_sees_exactly_their_requests(world, queued, name, sees):
    client = client_for(world.a.users[name])
    response = client.get(QUEUE)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    listed = {entry["item"].pk for entry in response.context["open_items"]}
    assert listed == {queued[key].pk for key in sees}
    for key, item in queued.items():
        expected = 200 if key in sees else 404
        assert client.get(detail_url(item)).status_code == expected, key


def test_another_districts_admin_sees_none_of_them(world, queued):
    client = client_for(world.b.users["district_admin"])
    response = client.get(QUEUE)
    assert response.status_code == 200 and response.context["open_items"] == []
    for item in queued.values():
        assert client.get(detail_url(item)).status_code == 404
        assert client.post(detail_url(item), {"status": "declined", "note": "x"}).status_code == 404
    assert set(InspectionRequest.unscoped.values_list("status", flat=True)) == {"open"}


@pytest.mark.parametrize("name", ["teacher", "counselor", "nurse", "parent", "superuser"])
def test_others_signed_in_get_403(world, queued, name):
    client = client_for(world.a.users[name])
    assert client.get(QUEUE).status_code == 403
    assert client.get(detail_url(queued["school1"])).status_code == 403
    post = client.post(detail_url(queued["school1"]), {"status": "fulfilled", "note": "x"})
    assert post.status_code == 403
    assert client_for(world.outsider).get(QUEUE).status_code == 403


def test_the_queue_orders_by_due_date_and_marks_overdue_ones(world, queued):
    late = open_request(world, world.a.students["schoolmate"], days_ago=60)
    response = client_for(world.a.users["district_admin"]).get(QUEUE)
    entries = response.context["open_items"]
    assert [e["item"].pk for e in entries] == [late.pk, queued["school1"].pk, queued["school2"].pk]
    assert [e["overdue"] for e in entries] == [True, False, False]
    body = response.content.decode()
    assert "1 request is overdue." in body and body.count("Overdue</span>") == 1
    # The queue shows students' names: a read of their directory information, logged.
    (event,) = [
        e for e in events_about(late.student) if e.actor_id == world.a.users["district_admin"].pk
    ]
    assert event.categories == ["directory"] and event.actor_roles == "district_admin"
    assert event.student_count == 3


def test_a_reviewer_closes_a_request_and_the_family_sees_the_outcome(world, queued):
    item, principal = queued["school1"], world.a.users["principal"]
    client = client_for(principal)
    missing = client.post(detail_url(item), {"status": "fulfilled", "note": ""})
    assert missing.status_code == 200 and "note" in missing.context["form"].errors
    started = timezone.now()
    response = client.post(
        detail_url(item), {"status": "fulfilled", "note": "Reviewed with the counselor."}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.closed_by, item.note) == (
        "fulfilled", principal, "Reviewed with the counselor.",
    )  # fmt: skip
    assert item.closed_at >= started
    again = client.post(detail_url(item), {"status": "declined", "note": "No"}, follow=True)
    assert "This request is already closed." in again.content.decode()
    item.refresh_from_db()
    assert item.status == "fulfilled"
    queue = client.get(QUEUE).context
    assert queue["open_items"] == [] and [e["item"].pk for e in queue["closed_items"]] == [item.pk]
    body = client_for(world.a.users["parent"]).get(inspection_url(item.student)).content.decode()
    assert "Fulfilled" in body and "Reviewed with the counselor." in body


def test_a_reviewer_of_another_school_cannot_close_it(world, queued):
    item = queued["school1"]
    response = client_for(world.a.users["principal2"]).post(
        detail_url(item), {"status": "declined", "note": "Not ours"}
    )
    assert response.status_code == 404
    item.refresh_from_db()
    assert item.status == "open" and item.closed_by is None


# Spanish.


def test_the_pages_speak_spanish(world, queued):
    own = world.a.students["own"]
    parent = client_for(world.a.users["parent"], language="es")
    directory = parent.get(directory_url(own)).content.decode()
    assert "Información de directorio" in directory and "Apellido" in directory
    assert "Guardar mis opciones" in directory and "Save my choices" not in directory
    inspection = parent.get(inspection_url(own)).content.decode()
    assert "Enviar la solicitud" in inspection and "Abierta" in inspection
    staff = client_for(world.a.users["district_admin"], language="es").get(QUEUE)
    assert "Solicitudes para inspeccionar expedientes" in staff.content.decode()
    child = parent.get(f"/family/{own.pk}/").content.decode()
    assert "Pedir ver otros expedientes" in child
