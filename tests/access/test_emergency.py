"""Break-glass emergency access (/emergency/) and its review queue (/district/reviews/).

A staff member gets 24 hours of one student they cannot otherwise open, for a written
reason; every read through it is a disclosure under 99.31(a)(10); principals (their
schools' students) and district administrators (the district) review each grant.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.formats import date_format, time_format

from access import emergency, policy
from access.errors import AccessDenied
from access.models import EmergencyAccess
from access.scoping import visible_students
from access.staff import who_can_see, why_visible
from access.viewer import viewer_for
from records import models as m
from tests import factories as f
from tests.reasons import said
from tests.records.test_school_view import (
    client_for,
    events_of,
    ids,
    sections_of,
    student_url,
    students_of,
)

pytestmark = pytest.mark.django_db

EMERGENCY = "/emergency/"
REVIEWS = "/district/reviews/"
REASON = "Seizure in the gym; need allergy and parent contacts now"
# The one answer for an ID that cannot be granted, whatever the reason (as the page escapes it).
REFUSED = "We can&#x27;t grant emergency access for that ID. Check the ID;"
EMERGENCY_SECTIONS = {
    "directory", "contact", "enrollment", "attendance", "health", "programs", "transportation",
}  # fmt: skip


@pytest.fixture
def numbered(world):
    """Fixed state and local IDs for every student of both districts: ``a.own`` is
    IL-A-own / LA-own, and so on."""
    for key, student in world.all_students().items():
        slug, name = key.split(".")
        m.Student.unscoped.filter(pk=student.pk).update(
            state_id=f"IL-{slug.upper()}-{name}", local_id=f"L{slug.upper()}-{name}"
        )
    return world


def ask(client, identifier, reason=REASON, confirm=True):
    data = {"identifier": identifier, "reason": reason}
    if confirm:
        data["confirm"] = "on"
    return client.post(EMERGENCY, data)


def grant_for(world, requester: str, student: str, *, slug="a") -> EmergencyAccess:
    """A grant made through the service, as the page makes it."""
    viewer = viewer_for(getattr(world, slug).users[requester])
    return emergency.request_access(
        viewer, identifier=f"IL-{slug.upper()}-{student}", reason=REASON
    )


def expire(grant: EmergencyAccess) -> None:
    now = timezone.now()
    EmergencyAccess.unscoped.filter(pk=grant.pk).update(
        granted_at=now - timedelta(hours=25), expires_at=now - timedelta(hours=1)
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# The request page: who may ask.


@pytest.mark.parametrize(
    "name", ["teacher", "principal", "school_admin", "counselor", "nurse", "special_ed"]
)
def test_staff_and_teachers_get_the_request_page(world, name):
    response = client_for(world.a.users[name]).get(EMERGENCY)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert "Request emergency access" in response.content.decode()


@pytest.mark.parametrize(
    "name", ["parent", "adult_parent", "eligible", "district_admin", "superuser"]
)
def test_families_district_admins_and_superusers_are_refused(numbered, name):
    client = client_for(numbered.a.users[name])
    assert client.get(EMERGENCY).status_code == 403
    assert ask(client, "IL-A-elsewhere").status_code == 403
    assert EmergencyAccess.unscoped.count() == 0


def test_the_outsider_is_refused_and_the_anonymous_visitor_signs_in(numbered, client):
    assert client_for(numbered.outsider).get(EMERGENCY).status_code == 403
    response = ask(client, "IL-A-schoolmate")
    assert response.status_code == 302 and response["Location"].startswith("/?next=")
    assert EmergencyAccess.unscoped.count() == 0


def test_the_request_page_takes_no_other_methods(world):
    assert client_for(world.a.users["teacher"]).put(EMERGENCY).status_code == 405


# A grant, and what it opens.


def test_a_teacher_opens_a_schoolmate_for_24_hours(numbered):
    a = numbered.a
    teacher, schoolmate = a.users["teacher"], a.students["schoolmate"]
    client = client_for(teacher)
    assert client.get(student_url(schoolmate)).status_code == 404

    before = timezone.now()
    response = ask(client, "IL-A-schoolmate")
    assert response.status_code == 302
    assert response["Location"] == student_url(schoolmate)
    (grant,) = EmergencyAccess.unscoped.all()
    assert grant.district_id == a.district.pk and grant.student_id == schoolmate.pk
    assert grant.requested_by_id == teacher.pk and grant.reason == REASON
    assert before <= grant.granted_at <= timezone.now()
    assert grant.expires_at - grant.granted_at == timedelta(hours=24)
    assert grant.reviewed_at is None and grant.reviewed_by is None

    page = client.get(student_url(schoolmate))
    html = page.content.decode()
    assert page.status_code == 200
    until = timezone.localtime(grant.expires_at, a.district.zone)
    when = f"{date_format(until, 'TIME_FORMAT')} on {date_format(until.date())}"
    assert f"Emergency access granted until {when}." in messages_of(page)
    assert f"under emergency access until {when}" in html
    assert REASON in html
    assert sections_of(html) == EMERGENCY_SECTIONS  # health and programs, no purpose asked
    assert "Open the sensitive parts" not in html
    assert viewer_for(teacher).route("emergency").student_ids == frozenset({schoolmate.pk})

    (event,) = events_of(teacher)
    assert students_of(event) == ids(schoolmate)
    assert set(event.categories) == EMERGENCY_SECTIONS
    assert event.actor_roles == "emergency"
    assert event.purpose == f"emergency: {REASON}"
    assert event.is_disclosure
    assert event.legal_basis == policy.EMERGENCY_LEGAL_BASIS == "99.31(a)(10)"
    name = teacher.get_full_name()
    assert name and event.party == f"{name} (school staff, emergency access)"


def test_a_teacher_with_no_class_yet_can_still_break_the_glass(numbered):
    a = numbered.a
    newcomer = f.UserFactory(username="a-newcomer", district=a.district)
    f.RoleMembershipFactory(user=newcomer, role="teacher", school=a.school1)
    client = client_for(newcomer)
    home = client.get("/").content.decode()
    assert "does not give you access" in home and EMERGENCY in home
    assert ask(client, "IL-A-schoolmate")["Location"] == student_url(a.students["schoolmate"])
    assert client.get(student_url(a.students["schoolmate"])).status_code == 200
    reached = set(visible_students(viewer_for(newcomer)).values_list("pk", flat=True))
    assert reached == ids(a.students["schoolmate"])


def test_the_grant_opens_that_one_student_only(numbered):
    a = numbered.a
    teacher = a.users["teacher"]
    grant_for(numbered, "teacher", "schoolmate")
    viewer = viewer_for(teacher)
    assert set(visible_students(viewer).values_list("pk", flat=True)) == ids(
        a.students["own"], a.students["adult"], a.students["schoolmate"]
    )
    client = client_for(teacher)
    assert client.get(student_url(a.students["elsewhere"])).status_code == 404
    # The roster students are read as before: not a disclosure, no emergency purpose.
    client.get(student_url(a.students["own"]))
    (event,) = events_of(teacher)
    assert event.actor_roles == "teacher" and not event.is_disclosure


def test_the_local_id_works_too_whatever_its_case(numbered):
    client = client_for(numbered.a.users["teacher"])
    assert ask(client, "  la-schoolmate ").status_code == 302
    (grant,) = EmergencyAccess.unscoped.all()
    assert grant.student_id == numbered.a.students["schoolmate"].pk


def test_a_nurse_breaks_the_glass_for_another_schools_student(numbered):
    a = numbered.a
    nurse, elsewhere = a.users["nurse"], a.students["elsewhere"]
    client = client_for(nurse)
    assert ask(client, "IL-A-elsewhere").status_code == 302
    html = client.get(student_url(elsewhere)).content.decode()
    assert sections_of(html) == EMERGENCY_SECTIONS
    (event,) = events_of(nurse)
    assert event.is_disclosure and event.actor_roles == "emergency"


# Refusals: nothing saved, the field says why.


@pytest.mark.parametrize(
    ("identifier", "reason", "confirm", "field", "message"),
    [
        ("IL-A-schoolmate", "Too short a reason", True, "reason", "at least 20 characters"),
        ("IL-A-schoolmate", "  " + "x" * 19 + "   ", True, "reason", "at least 20 characters"),
        ("IL-A-schoolmate", "", True, "reason", "This field is required."),
        ("IL-A-schoolmate", "x" * 2001, True, "reason", "at most 2000 characters"),
        ("IL-A-schoolmate", REASON, False, "confirm", "This field is required."),
        ("", REASON, True, "identifier", "This field is required."),
        ("IL-A-nobody", REASON, True, "identifier", REFUSED),
        ("IL-B-schoolmate", REASON, True, "identifier", REFUSED),
        ("LB-elsewhere", REASON, True, "identifier", REFUSED),
        ("IL-A-own", REASON, True, "identifier", REFUSED),
        ("LA-adult", REASON, True, "identifier", REFUSED),
    ],
)
def test_a_teachers_request_is_refused(numbered, identifier, reason, confirm, field, message):
    teacher = numbered.a.users["teacher"]
    response = ask(client_for(teacher), identifier, reason, confirm)
    html = response.content.decode()
    assert response.status_code == 400
    assert f'id="{field}-errors"' in html and message in html
    assert EmergencyAccess.unscoped.count() == 0
    assert viewer_for(teacher).route("emergency") is None
    assert events_of(teacher) == []


def test_an_empty_post_is_a_400_too(numbered):
    response = client_for(numbered.a.users["teacher"]).post(EMERGENCY, {})
    assert response.status_code == 400
    assert EmergencyAccess.unscoped.count() == 0


def test_a_principal_cannot_break_the_glass_for_their_own_school(numbered):
    response = ask(client_for(numbered.a.users["principal"]), "IL-A-schoolmate")
    assert response.status_code == 400
    assert REFUSED in response.content.decode()
    assert EmergencyAccess.unscoped.count() == 0


def test_a_student_who_has_left_cannot_be_found(numbered):
    a = numbered.a
    today = viewer_for(a.users["teacher"]).today
    m.SchoolMembership.unscoped.filter(student=a.students["schoolmate"]).update(
        end_date=today - timedelta(days=1)
    )
    response = ask(client_for(a.users["teacher"]), "IL-A-schoolmate")
    assert response.status_code == 400
    assert REFUSED in response.content.decode()


def test_an_id_two_students_share_is_refused(numbered):
    a = numbered.a
    m.Student.unscoped.filter(pk=a.students["elsewhere"].pk).update(local_id="LA-schoolmate")
    response = ask(client_for(a.users["teacher"]), "LA-schoolmate")
    assert response.status_code == 400
    assert REFUSED in response.content.decode()
    assert EmergencyAccess.unscoped.count() == 0


def test_the_page_confirms_no_id(numbered):
    """Unknown, another district's, shared, and already visible: one page, so a teacher
    cannot learn from it which IDs belong to the district's students."""
    a = numbered.a
    teacher = a.users["teacher"]
    m.Student.unscoped.filter(pk=a.students["elsewhere"].pk).update(local_id="LA-schoolmate")
    client = client_for(teacher)
    pages = {}
    for identifier in ("IL-A-nobody", "IL-B-own", "LA-schoolmate", "IL-A-own", "la-adult"):
        response = ask(client, identifier)
        html = response.content.decode()
        html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "CSRF", html)
        pages[identifier] = (response.status_code, html.replace(f'value="{identifier}"', "ID"))
    assert "IL-A-own" in visible_students(viewer_for(teacher)).values_list("state_id", flat=True)
    assert len(set(pages.values())) == 1, pages.keys()
    status, html = pages["IL-A-own"]
    assert status == 400 and REFUSED in html and 'id="identifier-errors"' in html
    assert EmergencyAccess.unscoped.count() == 0
    assert events_of(teacher) == []


def test_the_service_refuses_viewers_who_may_not_ask(numbered):
    for name in ("parent", "district_admin"):
        with pytest.raises(AccessDenied):
            emergency.request_access(
                viewer_for(numbered.a.users[name]), identifier="IL-A-own", reason=REASON
            )


# Expiry.


def test_the_student_is_a_404_again_after_24_hours(numbered):
    a = numbered.a
    teacher, schoolmate = a.users["teacher"], a.students["schoolmate"]
    client = client_for(teacher)
    ask(client, "IL-A-schoolmate")
    assert client.get(student_url(schoolmate)).status_code == 200
    expire(EmergencyAccess.unscoped.get())
    assert client.get(student_url(schoolmate)).status_code == 404
    assert viewer_for(teacher).route("emergency") is None
    assert emergency.active_grant(viewer_for(teacher), schoolmate.pk) is None
    # And they may ask again.
    assert ask(client, "IL-A-schoolmate").status_code == 302
    assert client.get(student_url(schoolmate)).status_code == 200


def test_a_grant_that_has_not_started_opens_nothing(numbered):
    grant = grant_for(numbered, "teacher", "schoolmate")
    now = timezone.now()
    EmergencyAccess.unscoped.filter(pk=grant.pk).update(
        granted_at=now + timedelta(hours=1), expires_at=now + timedelta(hours=25)
    )
    client = client_for(numbered.a.users["teacher"])
    assert client.get(student_url(numbered.a.students["schoolmate"])).status_code == 404


def test_a_district_b_teacher_never_reaches_district_a_through_a_grant(numbered):
    grant_for(numbered, "teacher", "schoolmate")
    b_teacher = numbered.b.users["teacher"]
    assert (
        client_for(b_teacher).get(student_url(numbered.a.students["schoolmate"])).status_code == 404
    )
    assert ask(client_for(b_teacher), "IL-A-schoolmate").status_code == 400


# Why can I see this? Who can see this student?


def test_why_visible_says_until_when(numbered):
    a = numbered.a
    grant = grant_for(numbered, "teacher", "schoolmate")
    until = timezone.localtime(grant.expires_at, a.district.zone)
    text = f"Emergency access until {time_format(until)} on {date_format(until.date())}"
    teacher = viewer_for(a.users["teacher"])
    assert said(why_visible(teacher, a.students["schoolmate"])) == [text]
    html = client_for(a.users["teacher"]).get(student_url(a.students["schoolmate"])).content
    assert text in html.decode()
    expire(grant)
    assert why_visible(viewer_for(a.users["teacher"]), a.students["schoolmate"]) == []


def test_who_can_see_lists_the_requester_while_the_grant_lasts(numbered):
    a = numbered.a
    schoolmate, principal = a.students["schoolmate"], a.users["principal"]
    before = {r["username"] for r in who_can_see(viewer_for(principal), schoolmate)}
    assert "a-teacher" not in before
    grant = grant_for(numbered, "teacher", "schoolmate")

    readers = {r["username"]: r for r in who_can_see(viewer_for(principal), schoolmate)}
    assert set(readers) == before | {"a-teacher"}
    assert readers["a-teacher"]["roles"] == ["emergency"]
    assert set(readers["a-teacher"]["categories"]) == EMERGENCY_SECTIONS
    until = timezone.localtime(grant.expires_at, a.district.zone)
    assert said(readers["a-teacher"]["reasons"], of_another=True) == [
        f"Emergency access until {time_format(until)} on {date_format(until.date())}"
    ]
    html = client_for(principal).get(f"{student_url(schoolmate)}readers/").content.decode()
    assert "(a-teacher)" in html and "Emergency access until" in html

    expire(grant)
    after = {r["username"] for r in who_can_see(viewer_for(principal), schoolmate)}
    assert after == before
    html = client_for(principal).get(f"{student_url(schoolmate)}readers/").content.decode()
    assert "(a-teacher)" not in html


# The review queue: who sees which grants.


@pytest.fixture
def grants(numbered):
    """a-teacher → a.schoolmate (school 1), a-nurse → a.elsewhere (school 2),
    b-teacher → b.schoolmate."""
    return {
        "a.schoolmate": grant_for(numbered, "teacher", "schoolmate"),
        "a.elsewhere": grant_for(numbered, "nurse", "elsewhere"),
        "b.schoolmate": grant_for(numbered, "teacher", "schoolmate", slug="b"),
    }


def listed_grants(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'action="/district/reviews/(\d+)/"', html)}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.principal", {"a.schoolmate"}),
        ("a.district_admin", {"a.schoolmate", "a.elsewhere"}),
        ("b.principal", {"b.schoolmate"}),
        ("b.district_admin", {"b.schoolmate"}),
    ],
)
def test_each_reviewer_sees_exactly_their_grants(numbered, grants, name, expected):
    slug, role = name.split(".")
    viewer = viewer_for(getattr(numbered, slug).users[role])
    assert set(emergency.reviewable(viewer)) == {grants[key] for key in expected}
    response = client_for(getattr(numbered, slug).users[role]).get(REVIEWS)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    html = response.content.decode()
    assert listed_grants(html) == {grants[key].pk for key in expected}
    for key, student in numbered.all_students().items():
        shown = key in expected
        assert (student.family_name in html) == shown, key
    assert REASON in html


def test_a_principal_follows_the_student_not_the_requester(numbered, grants):
    """Principals review the students currently at their schools."""
    a = numbered.a
    f.SchoolMembershipFactory(student=a.students["elsewhere"], school=a.school1)
    viewer = viewer_for(a.users["principal"])
    assert set(emergency.reviewable(viewer)) == {grants["a.schoolmate"], grants["a.elsewhere"]}
    today = viewer.today
    m.SchoolMembership.unscoped.filter(student=a.students["schoolmate"]).update(
        end_date=today - timedelta(days=1)
    )
    assert set(emergency.reviewable(viewer_for(a.users["principal"]))) == {grants["a.elsewhere"]}


@pytest.mark.parametrize(
    "name", ["teacher", "parent", "eligible", "nurse", "counselor", "school_admin", "superuser"]
)
def test_others_are_refused_the_queue(numbered, grants, name):
    client = client_for(numbered.a.users[name])
    assert client.get(REVIEWS).status_code == 403
    grant = grants["a.schoolmate"]
    assert client.post(f"{REVIEWS}{grant.pk}/", {"note": "fine"}).status_code == 403
    grant.refresh_from_db()
    assert grant.reviewed_at is None


def test_the_outsider_is_refused_and_the_anonymous_visitor_signs_in_to_the_queue(
    numbered, grants, client
):
    assert client_for(numbered.outsider).get(REVIEWS).status_code == 403
    response = client.get(REVIEWS)
    assert response.status_code == 302 and response["Location"].startswith("/?next=")
    response = client.post(f"{REVIEWS}{grants['a.schoolmate'].pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/?next=")


def test_names_on_the_queue_are_recorded_as_directory_reads(numbered, grants):
    admin = numbered.a.users["district_admin"]
    client_for(admin).get(REVIEWS)
    (event,) = events_of(admin)
    assert event.categories == ["directory"]
    assert students_of(event) == ids(
        numbered.a.students["schoolmate"], numbered.a.students["elsewhere"]
    )
    assert event.purpose == "district administration" and not event.is_disclosure


def test_an_empty_queue_reads_nobody(numbered):
    principal = numbered.a.users["principal"]
    html = client_for(principal).get(REVIEWS).content.decode()
    assert "Nothing to review." in html
    assert events_of(principal) == []


def test_the_queue_costs_the_same_queries_for_one_grant_or_many(numbered, grants):
    client = client_for(numbered.a.users["district_admin"])
    client.get(REVIEWS)  # the district's audit chain head is created by the first read
    with CaptureQueriesContext(connection) as two:
        first = client.get(REVIEWS).content.decode()
    grant_for(numbered, "counselor", "elsewhere")
    grant_for(numbered, "special_ed", "elsewhere")
    client.get(REVIEWS)  # the grants moved the cache epoch: routes cached again first
    with CaptureQueriesContext(connection) as four:
        second = client.get(REVIEWS).content.decode()
    assert (len(listed_grants(first)), len(listed_grants(second))) == (2, 4)
    assert len(four) == len(two)


# Marking reviewed.


def test_a_principal_marks_a_grant_reviewed(numbered, grants):
    principal, grant = numbered.a.users["principal"], grants["a.schoolmate"]
    client = client_for(principal)
    before = timezone.now()
    response = client.post(f"{REVIEWS}{grant.pk}/", {"note": "  Spoke with the nurse.  "})
    assert response.status_code == 302
    assert response["Location"] == f"{REVIEWS}?show=open"
    grant.refresh_from_db()
    assert grant.reviewed_by_id == principal.pk
    assert before <= grant.reviewed_at <= timezone.now()
    assert grant.review_note == "Spoke with the nurse."

    page = client.get(response["Location"])
    assert "Marked reviewed." in messages_of(page)
    assert listed_grants(page.content.decode()) == set()
    assert "Nothing to review." in page.content.decode()
    reviewed = client.get(f"{REVIEWS}?show=reviewed").content.decode()
    assert f"Reviewed by {principal.get_full_name()}" in reviewed
    assert "Spoke with the nurse." in reviewed
    assert numbered.a.students["schoolmate"].family_name in reviewed


def test_a_review_returns_to_the_tab_it_came_from(numbered, grants):
    client = client_for(numbered.a.users["district_admin"])
    grant = grants["a.elsewhere"]
    response = client.post(f"{REVIEWS}{grant.pk}/", {"show": "all"})
    assert response["Location"] == f"{REVIEWS}?show=all"
    response = client.post(f"{REVIEWS}{grants['a.schoolmate'].pk}/", {"show": "nonsense"})
    assert response["Location"] == f"{REVIEWS}?show=open"


def test_the_tabs_filter_open_reviewed_and_all(numbered, grants):
    admin = numbered.a.users["district_admin"]
    emergency.mark_reviewed(viewer_for(admin), grants["a.elsewhere"].pk)
    client = client_for(admin)
    schoolmate, elsewhere = grants["a.schoolmate"], grants["a.elsewhere"]

    def shown(query):
        html = client.get(f"{REVIEWS}{query}").content.decode()
        names = numbered.a.students
        return {
            key
            for key, grant in (("schoolmate", schoolmate), ("elsewhere", elsewhere))
            if names[key].family_name in html
        }

    assert shown("") == shown("?show=open") == shown("?show=bogus") == {"schoolmate"}
    assert shown("?show=reviewed") == {"elsewhere"}
    assert shown("?show=all") == {"schoolmate", "elsewhere"}


def test_a_second_review_is_refused_with_a_message(numbered, grants):
    grant = grants["a.schoolmate"]
    admin, principal = numbered.a.users["district_admin"], numbered.a.users["principal"]
    client_for(principal).post(f"{REVIEWS}{grant.pk}/", {"note": "first"})
    response = client_for(admin).post(f"{REVIEWS}{grant.pk}/", {"note": "second"}, follow=True)
    assert response.status_code == 200
    assert "This emergency access has already been reviewed." in messages_of(response)
    grant.refresh_from_db()
    assert grant.reviewed_by_id == principal.pk and grant.review_note == "first"


def test_nobody_reviews_their_own_request(numbered):
    a = numbered.a
    principal = a.users["principal"]
    now = timezone.now()
    own_request = EmergencyAccess.unscoped.create(
        district=a.district, student=a.students["schoolmate"], requested_by=principal,
        reason=REASON, granted_at=now, expires_at=now + timedelta(hours=24),
    )  # fmt: skip
    client = client_for(principal)
    html = client.get(REVIEWS).content.decode()
    assert "This is your own request: someone else reviews it." in html
    assert listed_grants(html) == set()
    response = client.post(f"{REVIEWS}{own_request.pk}/", {"note": "all fine"}, follow=True)
    assert "Someone else must review your own emergency access." in messages_of(response)
    own_request.refresh_from_db()
    assert own_request.reviewed_at is None
    client_for(a.users["district_admin"]).post(f"{REVIEWS}{own_request.pk}/")
    own_request.refresh_from_db()
    assert own_request.reviewed_by_id == a.users["district_admin"].pk


@pytest.mark.parametrize("target", ["elsewhere", "b.schoolmate", "missing", "huge", "zero"])
def test_a_grant_the_reviewer_does_not_reach_is_a_404(numbered, grants, target):
    pk = {
        "elsewhere": grants["a.elsewhere"].pk,  # school 2: not the principal's
        "b.schoolmate": grants["b.schoolmate"].pk,
        "missing": 999_999_999,
        "huge": 2**70,
        "zero": 0,
    }[target]
    client = client_for(numbered.a.users["principal"])
    assert client.post(f"{REVIEWS}{pk}/", {"note": "x"}).status_code == 404
    assert EmergencyAccess.unscoped.filter(reviewed_at__isnull=False).count() == 0


def test_the_review_url_takes_posts_only(numbered, grants):
    client = client_for(numbered.a.users["principal"])
    assert client.get(f"{REVIEWS}{grants['a.schoolmate'].pk}/").status_code == 405
    assert client.post(REVIEWS).status_code == 405


def test_a_grant_for_a_student_who_left_the_district_view_stays_reviewable(numbered, grants):
    """A district administrator still reviews a grant whose student has no school now."""
    a = numbered.a
    m.SchoolMembership.unscoped.filter(student=a.students["elsewhere"]).update(
        end_date=viewer_for(a.users["teacher"]).today - timedelta(days=1)
    )
    html = client_for(a.users["district_admin"]).get(REVIEWS).content.decode()
    assert grants["a.elsewhere"].pk in listed_grants(html)


def test_a_second_request_while_the_first_lasts_is_refused(numbered):
    client = client_for(numbered.a.users["teacher"])
    assert ask(client, "IL-A-schoolmate").status_code == 302
    response = ask(client, "IL-A-schoolmate")
    assert response.status_code == 400
    assert REFUSED in response.content.decode()
    assert EmergencyAccess.unscoped.count() == 1


def test_a_declared_purpose_does_not_replace_the_emergency_reason(numbered):
    """A read through break-glass is a disclosure whose purpose is the emergency."""
    a = numbered.a
    teacher, schoolmate = a.users["teacher"], a.students["schoolmate"]
    client = client_for(teacher)
    ask(client, "IL-A-schoolmate")
    assert client.post(student_url(schoolmate), {"purpose": "iep_meeting"}).status_code == 302
    client.get(student_url(schoolmate))
    (event,) = events_of(teacher)
    assert event.is_disclosure
    assert event.purpose == f"emergency: {REASON}"


def test_an_emergency_read_through_the_api_records_the_reason(world):
    from rest_framework.test import APIClient

    from access.emergency import request_access
    from access.models import AccessEvent
    from access.viewer import viewer_for
    from records import models as m

    schoolmate = world.a.students["schoolmate"]
    m.Student.unscoped.filter(pk=schoolmate.pk).update(local_id="L-4242")
    teacher = world.a.users["teacher"]
    request_access(
        viewer_for(teacher), identifier="L-4242", reason="Allergic reaction at recess, need plan"
    )
    api = APIClient()
    api.force_authenticate(user=teacher)
    assert api.get(f"/api/v1/students/{schoolmate.pk}/").status_code == 200
    event = AccessEvent.unscoped.filter(actor=teacher).latest("sequence")
    assert event.is_disclosure and event.legal_basis == "99.31(a)(10)"
    assert event.purpose == "emergency: Allergic reaction at recess, need plan"


def test_a_review_note_with_a_null_character_is_refused_not_a_500(world):
    from django.test import Client

    from access.emergency import request_access
    from access.models import EmergencyAccess
    from access.viewer import viewer_for
    from records import models as m

    schoolmate = world.a.students["schoolmate"]
    m.Student.unscoped.filter(pk=schoolmate.pk).update(local_id="L-4243")
    grant = request_access(
        viewer_for(world.a.users["teacher"]),
        identifier="L-4243",
        reason="Fell from the climbing frame, head injury",
    )
    client = Client()
    client.force_login(world.a.users["principal"])
    response = client.post(f"/district/reviews/{grant.pk}/", {"note": "a\x00b"})
    assert response.status_code == 302
    assert EmergencyAccess.unscoped.get(pk=grant.pk).reviewed_at is None
