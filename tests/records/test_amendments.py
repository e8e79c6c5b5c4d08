"""Amendment requests (FERPA 99.20–99.22): who may ask, decide and see; what each step does.

The family asks at /family/<child>/corrections/new/?field=…, staff decide at
/district/amendments/<id>/, a refused request may carry the family's statement of
disagreement, which then travels with its field in every projection.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail
from django.test import Client

from access.models import AccessEvent, AccessEventStudent
from accounts.models import Role
from records.models import AmendmentRequest, DisagreementStatement
from records.services import amendment_decide, amendment_request, disagreement_statement_add
from tests import factories as f

pytestmark = pytest.mark.django_db

QUEUE = "/district/amendments/"


def new_url(student, field: str) -> str:
    return f"/family/{student.pk}/corrections/new/?field={field}"


def list_url(student) -> str:
    return f"/family/{student.pk}/corrections/"


def detail_url(amendment) -> str:
    return f"{QUEUE}{amendment.pk}/"


def statement_url(amendment) -> str:
    return f"/family/{amendment.student_id}/corrections/{amendment.pk}/statement/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ask(world, field="phone", value="555-0199", category="contact"):
    own = world.a.students["own"]
    return amendment_request(
        actor=world.a.users["parent"],
        student=own,
        field=field,
        category=category,
        proposed_value=value,
        reason="We moved last month.",
        current_value=str(getattr(own, field, "")),
    )


def refuse(world, amendment, reason="The phone on file was confirmed by the office."):
    return amendment_decide(
        actor=world.a.users["district_admin"], amendment=amendment, accept=False, reason=reason
    )


@pytest.fixture
def other_principal(world):
    """A principal of district a's other school (where ``own`` is not)."""
    user = f.UserFactory(username="a-principal2", district=world.a.district)
    f.RoleMembershipFactory(user=user, role=Role.PRINCIPAL, school=world.a.school2)
    return user


# Asking.


def test_a_parent_asks_for_a_correction_and_sees_it_listed(world):
    own = world.a.students["own"]
    client = client_for(world.a.users["parent"])
    page = client.get(new_url(own, "phone"))
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert "555-0100" in page.content.decode()  # what the record says now
    response = client.post(
        new_url(own, "phone"), {"proposed_value": "555-0199", "reason": "New number"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{list_url(own)}?sent=1"
    (request,) = AmendmentRequest.unscoped.all()
    assert (request.student, request.requested_by, request.category, request.field) == (
        own,
        world.a.users["parent"],
        "contact",
        "phone",
    )
    assert (request.current_value, request.proposed_value, request.status) == (
        "555-0100",
        "555-0199",
        "open",
    )
    listing = client.get(list_url(own))
    assert listing.status_code == 200 and "no-store" in listing["Cache-Control"]
    body = listing.content.decode()
    assert "555-0199" in body and "Waiting for a decision" in body


def test_the_child_page_links_each_field_to_its_correction_form(world):
    own = world.a.students["own"]
    body = client_for(world.a.users["parent"]).get(f"/family/{own.pk}/").content.decode()
    for field in ("given_name", "family_name", "grade_level", "school", "phone", "birth_date"):
        assert f'href="{new_url(own, field)}"' in body, field
    assert "Request a correction" in body


def test_errors_are_shown_beside_their_fields_with_400(world):
    own = world.a.students["own"]
    client = client_for(world.a.users["parent"])
    response = client.post(new_url(own, "birth_date"), {"proposed_value": "not a date"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter a valid date." in body and 'aria-invalid="true"' in body
    assert "This field is required." in body  # the reason
    assert AmendmentRequest.unscoped.count() == 0


@pytest.mark.parametrize("field", ["sourced_id", "is_tax_dependent", "state_id", "nonsense", ""])
def test_only_the_pages_fields_can_be_asked_about(world, field):
    client = client_for(world.a.users["parent"])
    own = world.a.students["own"]
    assert client.get(new_url(own, field)).status_code == 404
    assert (
        client.post(new_url(own, field), {"proposed_value": "x", "reason": "y"}).status_code == 404
    )


@pytest.mark.parametrize(
    "who", ["other_guardian", "teacher", "principal", "district_admin", "b_parent", "outsider"]
)
def test_nobody_but_the_family_may_ask(world, who):
    user = {
        "other_guardian": world.a.users["adult_parent"],
        "teacher": world.a.users["teacher"],
        "principal": world.a.users["principal"],
        "district_admin": world.a.users["district_admin"],
        "b_parent": world.b.users["parent"],
        "outsider": world.outsider,
    }[who]
    own = world.a.students["own"]
    client = client_for(user)
    assert client.get(new_url(own, "phone")).status_code == 404
    post = client.post(new_url(own, "phone"), {"proposed_value": "1", "reason": "x"})
    assert post.status_code == 404
    assert client.get(list_url(own)).status_code == 404
    assert AmendmentRequest.unscoped.count() == 0


def test_anonymous_visitors_sign_in_first(world, client):
    own = world.a.students["own"]
    for url in (new_url(own, "phone"), list_url(own), QUEUE):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/?next="), url


def test_a_restricted_category_cannot_be_asked_about(world):
    f.CustodyRestrictionFactory(
        guardian_link=world.a.links["parent"], scope="categories", categories=["contact"]
    )
    client = client_for(world.a.users["parent"])
    own = world.a.students["own"]
    assert client.get(new_url(own, "phone")).status_code == 404
    assert client.get(new_url(own, "grade_level")).status_code == 200


def test_an_eligible_student_asks_about_their_own_record(world):
    adult = world.a.students["adult"]
    client = client_for(world.a.users["eligible"])
    response = client.post(
        new_url(adult, "home_language"), {"proposed_value": "Spanish", "reason": "Home language"}
    )
    assert response.status_code == 302
    assert AmendmentRequest.unscoped.get().requested_by == world.a.users["eligible"]


# Deciding.


@pytest.mark.parametrize(
    "who,sees",
    [
        ("principal", True),
        ("school_admin", True),
        ("district_admin", True),
        ("other_principal", False),
        ("b_district_admin", False),
        ("b_principal", False),
    ],
)
def test_who_sees_and_decides_a_request(world, other_principal, who, sees):
    amendment = ask(world)
    user = {
        "principal": world.a.users["principal"],
        "school_admin": world.a.users["school_admin"],
        "district_admin": world.a.users["district_admin"],
        "other_principal": other_principal,
        "b_district_admin": world.b.users["district_admin"],
        "b_principal": world.b.users["principal"],
    }[who]
    client = client_for(user)
    queue = client.get(QUEUE)
    assert queue.status_code == 200 and "no-store" in queue["Cache-Control"]
    own = world.a.students["own"]
    assert (own.family_name in queue.content.decode()) is sees
    assert client.get(detail_url(amendment)).status_code == (200 if sees else 404)
    post = client.post(detail_url(amendment), {"decision": "refuse", "reason": "Checked."})
    assert post.status_code == (302 if sees else 404)
    amendment.refresh_from_db()
    assert amendment.status == ("refused" if sees else "open")


@pytest.mark.parametrize("who", ["teacher", "counselor", "nurse", "parent", "outsider"])
def test_others_have_no_queue(world, who):
    amendment = ask(world)
    user = world.outsider if who == "outsider" else world.a.users[who]
    client = client_for(user)
    assert client.get(QUEUE).status_code == 403
    assert client.get(detail_url(amendment)).status_code == 404
    assert client.post(detail_url(amendment), {"decision": "accept"}).status_code == 404
    amendment.refresh_from_db()
    assert amendment.status == "open"


def test_the_queue_lists_open_requests_first_and_filters_by_status(world):
    first = ask(world, value="555-0101")
    refuse(world, first)
    second = ask(world, field="city", value="Shelbyville")
    client = client_for(world.a.users["district_admin"])
    body = client.get(QUEUE).content.decode()
    assert body.index(detail_url(second)) < body.index(detail_url(first))
    refused = client.get(QUEUE, {"status": "refused"}).content.decode()
    assert detail_url(first) in refused and detail_url(second) not in refused
    opened = client.get(QUEUE, {"status": "open"}).content.decode()
    assert detail_url(second) in opened and detail_url(first) not in opened


def test_accepting_applies_the_value_and_emails_the_family_without_naming_the_child(world):
    amendment = ask(world, field="birth_date", value="2014-03-05", category="demographics")
    client = client_for(world.a.users["principal"])
    response = client.post(detail_url(amendment), {"decision": "accept", "reason": ""})
    assert response.status_code == 302
    own = world.a.students["own"]
    own.refresh_from_db()
    assert own.birth_date == date(2014, 3, 5)
    amendment.refresh_from_db()
    assert (amendment.status, amendment.decided_by) == ("accepted", world.a.users["principal"])
    (email,) = mail.outbox
    assert email.to == [world.a.users["parent"].email]
    assert "A decision was made on your correction request" in email.subject
    assert "Se tomó una decisión" in email.subject
    assert "Sign in to read it: http" in email.body and "/family/" in email.body
    for secret in (own.given_name, own.family_name, str(own.pk), "birth", "2014"):
        assert secret not in email.subject + email.body, secret
    listing = client_for(world.a.users["parent"]).get(list_url(own)).content.decode()
    assert "Corrected" in listing


def test_accepting_a_field_that_is_not_a_column_changes_no_column(world):
    own = world.a.students["own"]
    before = {f: getattr(own, f) for f in ("given_name", "family_name", "grade_level")}
    amendment = ask(world, field="school", value="A High", category="directory")
    amendment_decide(
        actor=world.a.users["district_admin"], amendment=amendment, accept=True, reason=""
    )
    own.refresh_from_db()
    assert {f: getattr(own, f) for f in before} == before
    assert AmendmentRequest.unscoped.get().status == "accepted"


def test_refusing_requires_a_reason(world):
    from django.core.exceptions import ValidationError

    amendment = ask(world)
    client = client_for(world.a.users["district_admin"])
    response = client.post(detail_url(amendment), {"decision": "refuse", "reason": "  "})
    assert response.status_code == 400
    assert "Write why the record is not corrected." in response.content.decode()
    with pytest.raises(ValidationError):
        refuse(world, amendment, reason="")
    amendment.refresh_from_db()
    assert amendment.status == "open" and mail.outbox == []
    refuse(world, amendment)
    amendment.refresh_from_db()
    assert amendment.status == "refused"
    own = world.a.students["own"]
    own.refresh_from_db()
    assert own.phone == "555-0100"  # unchanged
    body = client_for(world.a.users["parent"]).get(list_url(own)).content.decode()
    assert "Not corrected" in body and "confirmed by the office" in body


def test_a_request_is_decided_once(world):
    amendment = ask(world)
    refuse(world, amendment)
    with pytest.raises(ValueError):
        amendment_decide(
            actor=world.a.users["district_admin"], amendment=amendment, accept=True, reason=""
        )
    client = client_for(world.a.users["district_admin"])
    assert client.post(detail_url(amendment), {"decision": "accept"}).status_code == 403


# Statements of disagreement.


def test_a_statement_only_follows_a_refusal(world):
    amendment = ask(world)
    client = client_for(world.a.users["parent"])
    assert client.post(statement_url(amendment), {"text": "It is wrong."}).status_code == 403
    with pytest.raises(ValueError):
        disagreement_statement_add(
            actor=world.a.users["parent"], amendment=amendment, text="It is wrong."
        )
    refuse(world, amendment)
    empty = client.post(statement_url(amendment), {"text": ""})
    assert empty.status_code == 400 and "This field is required." in empty.content.decode()
    done = client.post(statement_url(amendment), {"text": "The number is wrong."})
    assert done.status_code == 302
    statement = DisagreementStatement.unscoped.get()
    assert (statement.amendment, statement.category, statement.field, statement.text) == (
        amendment,
        "contact",
        "phone",
        "The number is wrong.",
    )
    assert client.post(statement_url(amendment), {"text": "Again"}).status_code == 403
    assert DisagreementStatement.unscoped.count() == 1


@pytest.mark.parametrize("who", ["adult_parent", "teacher", "district_admin", "b_parent"])
def test_nobody_but_the_family_adds_a_statement(world, who):
    amendment = ask(world)
    refuse(world, amendment)
    user = world.b.users["parent"] if who == "b_parent" else world.a.users[who]
    assert client_for(user).post(statement_url(amendment), {"text": "x"}).status_code == 404
    assert DisagreementStatement.unscoped.count() == 0


def statements_by_reader(world, api_as, own):
    seen = {}
    for who in ("parent", "principal", "teacher", "district_admin", "nurse"):
        response = api_as(world.a.users[who]).get(f"/api/v1/students/{own.pk}/")
        assert response.status_code == 200, who
        seen[who] = response.json().get("disagreement_statements")
    return seen


def test_statements_travel_with_their_field_to_those_who_see_its_category(world, api_as):
    own = world.a.students["own"]
    assert set(statements_by_reader(world, api_as, own).values()) == {None}  # none yet: no key
    on_phone = ask(world)
    refuse(world, on_phone)
    disagreement_statement_add(actor=world.a.users["parent"], amendment=on_phone, text="Phone!")
    on_birth = ask(world, field="birth_date", value="2014-03-05", category="demographics")
    refuse(world, on_birth)
    disagreement_statement_add(actor=world.a.users["parent"], amendment=on_birth, text="Born!")
    # The statement is dated in the district's time zone, not in UTC.
    today = world.a.district.today(at=on_birth.created_at).isoformat()
    phone = {"category": "contact", "field": "phone", "text": "Phone!", "date": today}
    birth = {"category": "demographics", "field": "birth_date", "text": "Born!", "date": today}
    assert statements_by_reader(world, api_as, own) == {
        "parent": [phone, birth],
        "principal": [phone, birth],
        "district_admin": [phone, birth],
        "nurse": [phone, birth],
        "teacher": [phone],  # teachers never see demographics: nor its statement
    }
    listing = api_as(world.a.users["teacher"]).get("/api/v1/students/").json()["results"]
    by_id = {item["id"]: item.get("disagreement_statements") for item in listing}
    assert by_id == {own.pk: [phone], world.a.students["adult"].pk: None}
    b_admin = api_as(world.b.users["district_admin"]).get("/api/v1/students/").json()
    assert all("disagreement_statements" not in item for item in b_admin["results"])


def test_the_child_page_shows_the_statement_beside_its_field(world):
    own = world.a.students["own"]
    amendment = ask(world)
    refuse(world, amendment)
    disagreement_statement_add(
        actor=world.a.users["parent"], amendment=amendment, text="The number is 555-0199."
    )
    body = client_for(world.a.users["parent"]).get(f"/family/{own.pk}/").content.decode()
    contact = body[body.index('id="contact"') : body.index('id="demographics"')]
    assert "Statement of disagreement from the family:" in contact
    assert "The number is 555-0199." in contact
    staff = client_for(world.a.users["district_admin"]).get(detail_url(amendment))
    assert "The number is 555-0199." in staff.content.decode()


# The access log and Spanish.


def test_every_page_records_what_it_showed(world):
    own = world.a.students["own"]
    amendment = ask(world)

    def logged(user) -> list[tuple[str, list[str]]]:
        touched = AccessEventStudent.unscoped.filter(student=own).values("event_id")
        return [
            (event.actor_roles, event.categories)
            for event in AccessEvent.unscoped.filter(pk__in=touched, actor=user)
        ]

    parent, admin = world.a.users["parent"], world.a.users["district_admin"]
    client_for(parent).get(list_url(own))
    client_for(parent).get(new_url(own, "phone"))
    assert logged(parent) == [
        ("guardian", ["contact", "directory"]),
        ("guardian", ["contact", "directory"]),
    ]
    client_for(admin).get(QUEUE)
    client_for(admin).get(detail_url(amendment))
    assert logged(admin) == [
        ("district_admin", ["contact", "directory"]),
        ("district_admin", ["contact", "directory"]),
    ]


def test_the_pages_speak_spanish(world):
    own = world.a.students["own"]
    amendment = ask(world)
    refuse(world, amendment)
    es = {"HTTP_ACCEPT_LANGUAGE": "es"}
    parent = client_for(world.a.users["parent"])
    listing = parent.get(list_url(own), **es).content.decode()
    assert f"Correcciones al expediente de {own.given_name}" in listing
    assert "No corregido" in listing and "Agregar mi declaración" in listing
    form = parent.get(new_url(own, "phone"), **es).content.decode()
    assert "Solicitar una corrección" in form and "Teléfono" in form
    child = parent.get(f"/family/{own.pk}/", **es).content.decode()
    assert "Solicitar una corrección" in child
    admin = client_for(world.a.users["district_admin"])
    queue = admin.get(QUEUE, **es).content.decode()
    assert "Solicitudes para corregir expedientes" in queue
    detail = admin.get(detail_url(amendment), **es).content.decode()
    assert "Motivo de la decisión" in detail


@pytest.mark.django_db
def test_a_tax_dependents_parent_reads_but_may_not_ask_for_corrections(world, client):
    """Rights pass to the eligible student (99.5); the dependent flag only lets parents read."""
    adult = world.a.students["adult"]
    adult.is_tax_dependent = True
    adult.save()
    client.force_login(world.a.users["adult_parent"])
    assert client.get(f"/family/{adult.pk}/").status_code == 200
    assert b"corrections/new/" not in client.get(f"/family/{adult.pk}/").content
    response = client.get(f"/family/{adult.pk}/corrections/new/?field=phone")
    assert response.status_code == 403
    client.force_login(world.a.users["eligible"])
    assert client.get(f"/family/{adult.pk}/corrections/new/?field=phone").status_code == 200


# Record rows: a grade, an attendance day, a test result… named ``<table>:<row id>``.


def add_rows(world, student):
    """A grade, an absence, a test result, a program, health, an incident and a bus."""
    from datetime import time
    from decimal import Decimal

    from records import models as m

    d = world.a.district
    period = f.AcademicSessionFactory(district=d, title="Quarter 1", kind="gradingPeriod")
    today = date.today()
    return {
        "grade": m.Grade.unscoped.create(
            district=d, student=student, section=world.a.section, grading_period=period,
            mark="B+", percent=Decimal("88.50"),
        ),
        "attendance": m.AttendanceRecord.unscoped.create(
            district=d, student=student, date=today, status="absent", reason="Illness"
        ),
        "assessment": m.AssessmentResult.unscoped.create(
            district=d, student=student, assessment="State test", subject="Math",
            performance_level=2, administered_on=today, score=Decimal(400),
        ),
        "program": m.ProgramParticipation.unscoped.create(
            district=d, student=student, program="english_learner"
        ),
        "health": m.HealthRecord.unscoped.create(district=d, student=student, allergies="Peanuts"),
        "discipline": m.DisciplineIncident.unscoped.create(
            district=d, student=student, school=world.a.school1, occurred_on=today,
            incident_type="Tardiness", action_taken="Warning",
        ),
        "transportation": m.TransportationAssignment.unscoped.create(
            district=d, student=student, route="Route 7", stop="Elm & 3rd", pickup_time=time(7, 5)
        ),
    }  # fmt: skip


def row_field(table, row) -> str:
    return f"{table}:allergies" if table == "health" else f"{table}:{row.pk}"


def test_a_parent_asks_to_correct_a_grade_and_an_attendance_day(world):
    own = world.a.students["own"]
    rows = add_rows(world, own)
    client = client_for(world.a.users["parent"])
    grade, day = row_field("grade", rows["grade"]), row_field("attendance", rows["attendance"])
    page = client.get(new_url(own, grade))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Quarter 1: B+ (88.5 %)" in body and "student information system" in body
    for field in (grade, day):
        response = client.post(new_url(own, field), {"proposed_value": "A-", "reason": "Wrong"})
        assert response.status_code == 302, field
    by_field = {a.field: a for a in AmendmentRequest.unscoped.all()}
    course = world.a.section.course.title
    assert by_field[grade].category == "grades"
    assert by_field[grade].current_value == f"{course}, Quarter 1: B+ (88.5 %)"
    assert by_field[day].category == "attendance"
    assert by_field[day].current_value == f"{date.today().isoformat()}: absent — Illness"
    listing = client.get(list_url(own)).content.decode()
    assert "Attendance day" in listing and "absent — Illness" in listing


def test_the_child_page_links_each_record_row_with_a_named_label(world):
    own = world.a.students["own"]
    rows = add_rows(world, own)
    body = client_for(world.a.users["parent"]).get(f"/family/{own.pk}/").content.decode()
    for table, row in rows.items():
        assert f'href="{new_url(own, row_field(table, row))}"' in body, table
    for field in ("conditions", "medications", "immunization_status"):
        assert f'href="{new_url(own, "health:" + field)}"' in body, field
    course = world.a.section.course.title
    assert f'<span class="visually-hidden"> (grade for {course}, Quarter 1)</span>' in body
    assert "(attendance on " in body


def test_every_record_row_can_be_asked_about(world):
    own = world.a.students["own"]
    rows = add_rows(world, own)
    client = client_for(world.a.users["parent"])
    for table, row in rows.items():
        field = row_field(table, row)
        response = client.post(new_url(own, field), {"proposed_value": "x", "reason": "y"})
        assert response.status_code == 302, field
    assert dict(AmendmentRequest.unscoped.values_list("field", "category")) == {
        row_field(t, r): c
        for (t, r), c in zip(
            rows.items(),
            ("grades", "attendance", "assessments", "programs", "health", "discipline",
             "transportation"),
            strict=True,
        )
    }  # fmt: skip


@pytest.mark.parametrize(
    "field",
    ["grade:0", "grade:01", "grade:-1", "grade:x", "grade:", "health:notes", "bus:1", "grade:1:2"],
)
def test_malformed_row_names_are_404(world, field):
    add_rows(world, world.a.students["own"])
    client = client_for(world.a.users["parent"])
    assert client.get(new_url(world.a.students["own"], field)).status_code == 404


def test_another_childs_row_is_404(world):
    own, schoolmate = world.a.students["own"], world.a.students["schoolmate"]
    theirs = add_rows(world, schoolmate)
    b_rows_student = world.b.students["own"]
    client = client_for(world.a.users["parent"])
    for table, row in theirs.items():
        if table == "health":
            continue  # named by field: it is always the child's own health record
        field = row_field(table, row)
        assert client.get(new_url(own, field)).status_code == 404, field
        post = client.post(new_url(own, field), {"proposed_value": "x", "reason": "y"})
        assert post.status_code == 404, field
    assert client.get(new_url(own, "health:allergies")).status_code == 404  # own has none
    assert client.get(new_url(b_rows_student, "grade:1")).status_code == 404
    assert AmendmentRequest.unscoped.count() == 0


def test_a_row_in_a_restricted_category_is_404(world):
    own = world.a.students["own"]
    rows = add_rows(world, own)
    f.CustodyRestrictionFactory(
        guardian_link=world.a.links["parent"], scope="categories", categories=["grades"]
    )
    client = client_for(world.a.users["parent"])
    assert client.get(new_url(own, row_field("grade", rows["grade"]))).status_code == 404
    assert client.get(new_url(own, row_field("attendance", rows["attendance"]))).status_code == 200
    body = client.get(f"/family/{own.pk}/").content.decode()
    assert "?field=grade:" not in body


@pytest.mark.parametrize("who", ["teacher", "principal", "district_admin"])
def test_staff_cannot_ask_about_a_row(world, who):
    own = world.a.students["own"]
    rows = add_rows(world, own)
    client = client_for(world.a.users[who])
    field = row_field("grade", rows["grade"])
    assert client.get(new_url(own, field)).status_code == 404
    assert (
        client.post(new_url(own, field), {"proposed_value": "A", "reason": "x"}).status_code == 404
    )
    assert AmendmentRequest.unscoped.count() == 0


def test_accepting_a_row_request_changes_nothing_and_says_so(world):
    own = world.a.students["own"]
    grade = add_rows(world, own)["grade"]
    client_for(world.a.users["parent"]).post(
        new_url(own, row_field("grade", grade)), {"proposed_value": "A-", "reason": "Wrong"}
    )
    amendment = AmendmentRequest.unscoped.get()
    admin = client_for(world.a.users["principal"])
    page = admin.get(detail_url(amendment)).content.decode()
    assert "changes nothing here" in page and "the next import brings" in page
    assert "Quarter 1: B+ (88.5 %)" in page
    assert admin.post(detail_url(amendment), {"decision": "accept"}).status_code == 302
    grade.refresh_from_db()
    assert (grade.mark, str(grade.percent)) == ("B+", "88.50")
    amendment.refresh_from_db()
    assert amendment.status == "accepted"


def test_a_refused_row_request_carries_its_statement_beside_the_row(world, api_as):
    own = world.a.students["own"]
    grade = add_rows(world, own)["grade"]
    field = row_field("grade", grade)
    parent = client_for(world.a.users["parent"])
    parent.post(new_url(own, field), {"proposed_value": "A-", "reason": "Wrong"})
    amendment = AmendmentRequest.unscoped.get()
    admin = client_for(world.a.users["principal"])
    refused = admin.post(detail_url(amendment), {"decision": "refuse", "reason": ""})
    assert refused.status_code == 400  # a refusal needs its reason
    admin.post(detail_url(amendment), {"decision": "refuse", "reason": "The teacher checked."})
    assert parent.post(statement_url(amendment), {"text": "The test was 95."}).status_code == 302
    body = parent.get(f"/family/{own.pk}/").content.decode()
    grades = body[body.index('id="grades"') : body.index('id="assessments"')]
    assert "Statement of disagreement from the family:" in grades
    assert "The test was 95." in grades
    detail = api_as(world.a.users["principal"]).get(f"/api/v1/students/{own.pk}/").json()
    (statement,) = detail["disagreement_statements"]
    assert (statement["category"], statement["field"], statement["text"]) == (
        "grades",
        field,
        "The test was 95.",
    )
    assert [row["id"] for row in detail["grades"]["records"]] == [grade.pk]
