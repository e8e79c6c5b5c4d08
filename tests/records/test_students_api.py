"""GET /api/v1/students/ and /api/v1/students/{id}/ for every reader.

Three people are always present — a reader who may see the student, one of the
same district who may not, one of another district — plus the anonymous.
"""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from access.models import AccessEvent, AccessEventStudent
from tests.access.test_matrix import EXPECTED, EXPECTED_WITHOUT_PURPOSE

LIST = "/api/v1/students/"
WITH_PURPOSE = {"purpose": "iep_meeting"}


def detail(student) -> str:
    return f"/api/v1/students/{student.pk}/"


def category_keys(item: dict) -> frozenset[str]:
    return frozenset(item) - {"id", "sourced_id"}


@pytest.mark.django_db
@pytest.mark.parametrize("reader", sorted(EXPECTED))
def test_list_returns_exactly_the_readers_students_and_categories(world, api_as, reader):
    response = api_as(world.a.users[reader]).get(LIST, WITH_PURPOSE)
    assert response.status_code == 200
    body = response.json()
    expected = {world.a.students[name].pk: cats for name, cats in EXPECTED[reader].items()}
    assert body["count"] == len(expected)
    assert {item["id"]: category_keys(item) for item in body["results"]} == expected
    assert {"count", "next", "previous", "results"} == set(body)


@pytest.mark.django_db
@pytest.mark.parametrize("reader", sorted(EXPECTED))
def test_detail_is_200_for_own_and_404_for_everyone_else(world, api_as, reader):
    client = api_as(world.a.users[reader])
    expected = {world.a.students[name].pk: cats for name, cats in EXPECTED[reader].items()}
    for student in world.all_students().values():
        response = client.get(detail(student), WITH_PURPOSE)
        if student.pk in expected:
            assert response.status_code == 200
            assert category_keys(response.json()) == expected[student.pk]
            assert response.json()["sourced_id"] == student.sourced_id
        else:
            assert response.status_code == 404
            assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_anonymous_gets_401_and_no_data(world, api):
    for url in (LIST, detail(world.a.students["own"])):
        response = api.get(url)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert "results" not in response.json()


@pytest.mark.django_db
def test_a_bad_token_is_401(world, api):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api.get(LIST).status_code == 401


@pytest.mark.django_db
def test_outsider_sees_an_empty_list_and_404s(world, api_as):
    client = api_as(world.outsider)
    assert client.get(LIST).json()["count"] == 0
    assert client.get(detail(world.a.students["own"])).status_code == 404


@pytest.mark.django_db
def test_token_authentication_works_for_scripts(world, api):
    token = Token.objects.create(user=world.a.users["principal"])
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api.get(LIST)
    assert response.status_code == 200
    assert response.json()["count"] == 3


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_wrong_method_is_405(world, api_as, method):
    client = api_as(world.a.users["district_admin"])
    assert getattr(client, method)(LIST).status_code == 405
    assert getattr(client, method)(detail(world.a.students["own"])).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["page_size=abc", "page_size=0", "school=x", "section=-1", "grade=14", "page=zero"],
)
def test_bad_parameters_are_400_with_reasons(world, api_as, query):
    response = api_as(world.a.users["district_admin"]).get(f"{LIST}?{query}")
    assert response.status_code == 400
    assert response.json()  # names the parameter and why


@pytest.mark.django_db
@pytest.mark.parametrize("student_id", ["abc", "0", "-3", "99999999999999999999"])
def test_odd_ids_are_404_not_500(world, api_as, student_id):
    response = api_as(world.a.users["district_admin"]).get(f"{LIST}{student_id}/")
    assert response.status_code == 404


@pytest.mark.django_db
def test_filters_narrow_within_the_visible_set(world, api_as):
    client = api_as(world.a.users["district_admin"])
    school2 = client.get(f"{LIST}?school={world.a.school2.pk}").json()
    assert [s["id"] for s in school2["results"]] == [world.a.students["elsewhere"].pk]
    section = client.get(f"{LIST}?section={world.a.section.pk}").json()
    assert {s["id"] for s in section["results"]} == {
        world.a.students["own"].pk,
        world.a.students["adult"].pk,
    }
    grade = client.get(f"{LIST}?grade=12").json()
    assert [s["id"] for s in grade["results"]] == [world.a.students["adult"].pk]
    # Another district's school narrows to nothing rather than reaching across.
    assert client.get(f"{LIST}?school={world.b.school1.pk}").json()["count"] == 0


@pytest.mark.django_db
def test_page_size_is_capped_at_500(world, api_as):
    response = api_as(world.a.users["district_admin"]).get(f"{LIST}?page_size=5000")
    assert response.status_code == 200
    assert response.json()["count"] == 4


@pytest.mark.django_db
def test_responses_are_not_cached(world, api_as):
    response = api_as(world.a.users["parent"]).get(detail(world.a.students["own"]))
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_each_read_is_logged_once_with_its_students(world, api_as):
    principal = world.a.users["principal"]
    api_as(principal).get(LIST)
    [event] = AccessEvent.unscoped.filter(actor=principal)
    assert event.actor_roles == "principal"
    assert event.student_count == 3
    assert set(
        AccessEventStudent.unscoped.filter(event=event).values_list("student_id", flat=True)
    ) == {world.a.students[n].pk for n in ("own", "schoolmate", "adult")}
    assert "health" not in event.categories


@pytest.mark.django_db
def test_a_read_of_nobody_is_not_logged(world, api_as):
    api_as(world.a.users["adult_parent"]).get(LIST)
    assert not AccessEvent.unscoped.exists()


@pytest.mark.django_db
def test_schema_and_docs_are_served(api):
    assert api.get("/api/schema/").status_code == 200
    docs = api.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


@pytest.mark.django_db
def test_a_page_read_through_two_roles_logs_each_group_with_its_own_categories(world, api_as):
    teacher = world.a.users["teacher"]
    adult = world.a.students["adult"]
    adult.is_tax_dependent = True
    adult.save()
    from tests import factories as f

    f.GuardianLinkFactory(student=adult, guardian=teacher)
    api_as(teacher).get(LIST)
    events = {
        e.actor_roles: e for e in AccessEvent.unscoped.filter(actor=teacher).order_by("sequence")
    }
    assert set(events) == {"teacher", "guardian,teacher"}
    assert "health" not in events["teacher"].categories
    assert "health" in events["guardian,teacher"].categories
    assert events["teacher"].purpose == "teacher with a current class roster"
    assert {
        e: set(
            AccessEventStudent.unscoped.filter(event=events[e]).values_list("student_id", flat=True)
        )
        for e in events
    } == {"teacher": {world.a.students["own"].pk}, "guardian,teacher": {adult.pk}}


@pytest.mark.django_db
def test_summaries_count_this_school_years_rows_and_the_detail_lists_them(world, api_as):
    from datetime import timedelta

    from django.utils import timezone

    from records import models as m

    today = timezone.localdate()
    district, own = world.a.district, world.a.students["own"]
    m.AcademicSession.unscoped.create(
        district=district,
        title="This year",
        kind="schoolYear",
        start_date=today - timedelta(days=30),
        end_date=today + timedelta(days=200),
        school_year=today.year,
    )
    statuses = ["present", "present", "present", "tardy", "absent", "excused"]
    for days_ago, status in enumerate(statuses):
        m.AttendanceRecord.unscoped.create(
            district=district, student=own, date=today - timedelta(days=days_ago), status=status
        )
    # Last school year's absence does not count this year.
    m.AttendanceRecord.unscoped.create(
        district=district, student=own, date=today - timedelta(days=400), status="absent"
    )
    period = m.AcademicSession.unscoped.create(
        district=district,
        title="Q1",
        kind="gradingPeriod",
        start_date=today - timedelta(days=30),
        end_date=today,
        school_year=today.year,
    )
    m.Grade.unscoped.create(
        district=district, student=own, section=world.a.section, grading_period=period, mark="B+"
    )
    client = api_as(world.a.users["principal"])
    [item] = [s for s in client.get(LIST, WITH_PURPOSE).json()["results"] if s["id"] == own.pk]
    assert item["attendance"] == {
        "days_recorded": 6,
        "present": 3,
        "absent": 1,
        "tardy": 1,
        "excused": 1,
        "attendance_rate": round(4 / 6, 4),
    }
    assert item["grades"] == {"count": 1}
    assert item["enrollment"] == {"current_section_count": 1}
    assert item["discipline"] == {"count": 0}
    detail = client.get(detail_url := f"{LIST}{own.pk}/").json()
    assert len(detail["attendance"]["records"]) == 6, detail_url
    assert detail["attendance"]["school_year"]["start"] == str(today - timedelta(days=30))
    assert [g["mark"] for g in detail["grades"]["records"]] == ["B+"]
    assert [s["id"] for s in detail["enrollment"]["sections"]] == [world.a.section.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("reader", ["principal", "district_admin"])  # counted in page / apart
def test_pages_cover_the_set_once_with_links_and_a_404_past_the_end(world, api_as, reader):
    from tests import factories as f

    for _ in range(5):
        f.SchoolMembershipFactory(
            student=f.StudentFactory(district=world.a.district), school=world.a.school1
        )
    client = api_as(world.a.users[reader])
    total = 8 if reader == "principal" else 9
    seen, url = [], f"{LIST}?page_size=3"
    while url:
        body = client.get(url).json()
        assert body["count"] == total
        seen += [s["id"] for s in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == total
    last_page = -(-total // 3)
    assert client.get(f"{LIST}?page_size=3&page={last_page}").json()["previous"]
    assert client.get(f"{LIST}?page_size=3&page={last_page + 1}").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("reader", sorted(EXPECTED))
def test_without_a_purpose_the_sensitive_categories_are_withheld_and_the_answer_says_so(
    world, api_as, reader
):
    """The page's purpose rule holds on the API too: a nurse's API read without a purpose
    carries no health, discipline or programs, and the headers say which and why."""
    client = api_as(world.a.users[reader])
    expected = {
        world.a.students[name].pk: cats for name, cats in EXPECTED_WITHOUT_PURPOSE[reader].items()
    }
    withheld = sorted(
        frozenset().union(
            *(EXPECTED[reader][n] - EXPECTED_WITHOUT_PURPOSE[reader][n] for n in EXPECTED[reader])
        )
    )
    listed = client.get(LIST)
    assert {item["id"]: category_keys(item) for item in listed.json()["results"]} == expected
    for response in [listed, *(client.get(f"/api/v1/students/{pk}/") for pk in expected)]:
        if withheld:
            assert response["Withheld-Categories"] == ", ".join(withheld)
            assert "purpose=" in response["Withheld-Reason"]
        else:
            assert "Withheld-Categories" not in response


@pytest.mark.django_db
def test_a_declared_purpose_is_recorded_with_the_read(world, api_as):
    nurse = world.a.users["nurse"]
    own = world.a.students["own"]
    client = api_as(nurse)
    response = client.get(detail(own), {"purpose": "other", "purpose_detail": "  Care plan  "})
    assert "health" in response.json()
    event = AccessEvent.objects.model.unscoped.filter(actor=nurse).latest("sequence")
    assert event.purpose == "declared purpose: other: Care plan"
    assert "health" in event.categories


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, field",
    [
        ({"purpose": "snooping"}, "purpose"),
        ({"purpose": "other"}, "purpose_detail"),
        ({"purpose": "other", "purpose_detail": "x" * 201}, "purpose_detail"),
        ({"purpose_detail": "words without a purpose"}, "purpose_detail"),
    ],
)
def test_a_bad_purpose_is_400_naming_the_parameter(world, api_as, params, field):
    client = api_as(world.a.users["nurse"])
    for url in (LIST, detail(world.a.students["own"])):
        response = client.get(url, params)
        assert response.status_code == 400
        assert field in response.json()


@pytest.mark.django_db
def test_a_path_under_the_api_that_names_nothing_answers_json(world, api):
    for path in ("/api/v1/public/schools/not-a-number/report/", "/api/v1/nothing-here/"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
    # Without its slash, a path is still sent to the one with it.
    assert api.get("/api/v1/students")["Location"] == "/api/v1/students/"


@pytest.mark.django_db
def test_a_parameter_given_empty_is_refused(world, api_as):
    api = api_as(world.a.users["district_admin"])
    response = api.get("/api/v1/students/?grade=&purpose_detail=")
    assert response.status_code == 400
    assert response.json() == {"grade": ["Give a value, or leave the parameter out."]}
