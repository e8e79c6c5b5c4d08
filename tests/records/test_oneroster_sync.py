"""A provider's client replaying the common sync pattern, as real clients do it: a token
from POST /oauth/token/ (HTTP Basic, form body), then orgs, academicSessions, users,
classes and enrollments filtered on status='active', paged by following Link rel=next;
then a delta with dateLastModified>'...' that returns only what changed since."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import User
from records.models import AcademicSession, Enrollment, School, Section, SectionTeacher, Student
from tests.records.test_oneroster_rest import (
    ROOTS,
    SCOPE_ROOTS,
    VERSIONS,
    Feed,
    parse_links,
    sids,
    token_for,
)

SYNC = {
    "orgs": "orgs",
    "academicSessions": "academicSessions",
    "users": "users",
    "classes": "classes",
    "enrollments": "enrollments",
}


def pull(client, token: str, version: str, path: str, key: str, **params) -> list[dict]:
    """Every page of a collection, following the Link header's next."""
    url, rows = ROOTS[version] + path, []
    query = {"limit": "2", **params}
    while True:
        response = client.get(url, query, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200, response.content
        rows += response.json()[key]
        links = parse_links(response["Link"])
        if "next" not in links:
            assert len(rows) == int(response["X-Total-Count"])
            return rows
        query = links["next"]


@VERSIONS
def test_a_full_sync_then_a_delta(client, world, version):
    a = world.a
    feed = Feed(
        client,
        a.district,
        categories=["directory", "enrollment"],
        shares_staff=True,
        scopes=("roster.readonly",),
    )
    scopes = [SCOPE_ROOTS[version] + "roster.readonly"]
    token = token_for(client, feed.api_client, scopes)
    active = {"filter": "status='active'"}
    full = {path: pull(client, token, version, path, key, **active) for path, key in SYNC.items()}

    teacher = f"user-{a.users['teacher'].pk}"
    assert {o["sourcedId"] for o in full["orgs"]} == {
        f"district-{a.district.pk}", a.school1.sourced_id, a.school2.sourced_id
    }  # fmt: skip
    assert {s["sourcedId"] for s in full["academicSessions"]} == {a.term.sourced_id}
    assert {u["sourcedId"] for u in full["users"]} == sids(*a.students.values()) | {teacher}
    assert {c["sourcedId"] for c in full["classes"]} == {a.section.sourced_id}
    assert {(e["user"]["sourcedId"], e["role"]) for e in full["enrollments"]} == {
        (a.students["own"].sourced_id, "student"),
        (a.students["adult"].sourced_id, "student"),
        (teacher, "teacher"),
    }

    # Everything was last modified yesterday; then two rows change.
    yesterday = timezone.now() - timedelta(days=1)
    for model in (Student, User, School, AcademicSession, Section, Enrollment, SectionTeacher):
        manager = model.objects if model is User else model.unscoped
        manager.filter(district=a.district).update(updated_at=yesterday)
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    changed = Student.unscoped.get(pk=a.students["schoolmate"].pk)
    changed.grade_level = "08"
    changed.save()
    Enrollment.unscoped.filter(pk=a.enrollments["adult"].pk).update(updated_at=timezone.now())

    delta = {"filter": f"dateLastModified>'{since}'"}
    users = pull(client, token, version, "users", "users", **delta)
    assert [(u["sourcedId"], u["grades"]) for u in users] == [(changed.sourced_id, ["08"])]
    enrollments = pull(client, token, version, "enrollments", "enrollments", **delta)
    assert [e["user"]["sourcedId"] for e in enrollments] == [a.students["adult"].sourced_id]
    for path in ("academicSessions", "classes"):
        assert pull(client, token, version, path, SYNC[path], **delta) == []
    # The district org's dateLastModified is its creation (today, here); schools unchanged.
    orgs = pull(client, token, version, "orgs", "orgs", **delta)
    assert [o["sourcedId"] for o in orgs] == [f"district-{a.district.pk}"]
    # A delta combined with status, as some clients send it.
    both = {"filter": f"dateLastModified>'{since}' AND status='active'"}
    assert [u["sourcedId"] for u in pull(client, token, version, "users", "users", **both)] == [
        changed.sourced_id
    ]
