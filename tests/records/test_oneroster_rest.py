"""OneRoster REST for providers: conformance for 1.1 and 1.2 (envelopes, references,
required fields, paging headers, error bodies), scopes, grants in force, tenancy, the
disclosure recorded per request, and the query count of a page."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from access.models import AccessEvent, Grant
from records.models import SectionTeacher
from records.oneroster_rest.paging import MAX_LIMIT
from tests import factories as f

ROOTS = {"v1p1": "/ims/oneroster/v1p1/", "v1p2": "/ims/oneroster/rostering/v1p2/"}
SCOPE_ROOTS = dict(zip(("v1p1", "v1p2"), settings.ONEROSTER_SCOPE_ROOTS, strict=True))
ALL_SCOPES = ("roster-core.readonly", "roster.readonly", "roster-demographics.readonly")
VERSIONS = pytest.mark.parametrize("version", ["v1p1", "v1p2"])


def token_for(client, api_client, scopes) -> str:
    """A token as real clients get one: HTTP Basic, form body, client credentials."""
    pair = f"{api_client.application.client_id}:{f.CLIENT_SECRET}".encode()
    response = client.post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "scope": " ".join(scopes)},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(pair).decode(),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    return body["access_token"]


class Feed:
    """A provider's client of one district, with a token per version root."""

    def __init__(self, client, district, *, grant=None, scopes=ALL_SCOPES, **grant_fields):
        self.client = client
        self.grant = grant or f.GrantFactory(agreement__provider__district=district, **grant_fields)
        self.api_client = f.api_client_for(self.grant.provider)
        self.scopes = scopes
        self.tokens: dict[str, str] = {}

    def token(self, version: str) -> str:
        if version not in self.tokens:
            names = [SCOPE_ROOTS[version] + name for name in self.scopes]
            self.tokens[version] = token_for(self.client, self.api_client, names)
        return self.tokens[version]

    def get(self, version: str, path: str, **params):
        return self.client.get(
            ROOTS[version] + path, params, HTTP_AUTHORIZATION=f"Bearer {self.token(version)}"
        )

    def ids(self, version: str, path: str, key: str = "users", **params) -> set[str]:
        response = self.get(version, path, **params)
        assert response.status_code == 200, response.content
        return {obj["sourcedId"] for obj in response.json()[key]}


def error_code(response) -> str:
    return response.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]


def sids(*students) -> set[str]:
    return {s.sourced_id for s in students}


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()  # the rate of one test's client never counts against another's


@pytest.fixture
def feed(client, world):
    """District a's provider: directory, contact, identifiers, demographics, enrollment,
    the whole district, staff shared."""
    return Feed(
        client,
        world.a.district,
        categories=["directory", "contact", "identifiers", "demographics", "enrollment"],
        shares_staff=True,
    )


COLLECTIONS = {
    "academicSessions": "academicSessions",
    "classes": "classes",
    "courses": "courses",
    "demographics": "demographics",
    "enrollments": "enrollments",
    "gradingPeriods": "academicSessions",
    "orgs": "orgs",
    "schools": "orgs",
    "students": "users",
    "teachers": "users",
    "terms": "academicSessions",
    "users": "users",
}
SINGULAR = {
    "academicSessions": "academicSession",
    "classes": "class",
    "courses": "course",
    "demographics": "demographics",
    "enrollments": "enrollment",
    "orgs": "org",
    "users": "user",
}
REFERENCE_KEYS = ("parent", "org", "course", "school", "user", "class", "primaryOrg")


def assert_reference(ref: dict, version: str) -> None:
    assert set(ref) == {"href", "sourcedId", "type"}
    assert ref["href"].startswith("http://testserver" + ROOTS[version])
    assert ref["href"].endswith("/" + ref["sourcedId"])


def assert_conformant(obj: dict, key: str, version: str) -> None:
    assert obj["sourcedId"]
    assert obj["status"] in {"active", "tobedeleted"}
    assert obj["dateLastModified"].endswith("Z") and "T" in obj["dateLastModified"]
    for name in REFERENCE_KEYS:
        if name in obj:
            assert_reference(obj[name], version)
    for ref in obj.get("terms", []) + obj.get("orgs", []):
        assert_reference(ref, version)
    if key == "users":
        assert obj["enabledUser"] in {"true", "false"}
        if version == "v1p2":
            assert obj["roles"], "a 1.2 user has at least one role"
            for role in obj["roles"]:
                assert set(role) == {"roleType", "role", "org"}
                assert role["roleType"] in {"primary", "secondary"}
                assert_reference(role["org"], version)
            assert obj["primaryOrg"] == obj["roles"][0]["org"]
            assert "role" not in obj and "orgs" not in obj
        else:
            assert obj["role"] in {"student", "teacher"}
            assert obj["orgs"]
            assert "roles" not in obj
    if key == "enrollments":
        assert {"role", "user", "class", "school"} <= set(obj)


@VERSIONS
def test_every_collection_answers_its_plural_key_with_conformant_objects(feed, world, version):
    a = world.a
    grading = f.AcademicSessionFactory(
        district=a.district, kind="gradingPeriod", parent=a.term, title="Q1"
    )
    expected = {
        "academicSessions": {a.term.sourced_id, grading.sourced_id},
        "classes": {a.section.sourced_id},
        "courses": {a.section.course.sourced_id},
        "demographics": sids(*a.students.values()),
        "enrollments": {
            *(fallback(e, "enrollment") for e in a.enrollments.values()),
            fallback(teaching_of(a), "teaching"),
        },
        "gradingPeriods": {grading.sourced_id},
        "orgs": {f"district-{a.district.pk}", a.school1.sourced_id, a.school2.sourced_id},
        "schools": {a.school1.sourced_id, a.school2.sourced_id},
        "students": sids(*a.students.values()),
        "teachers": {f"user-{a.users['teacher'].pk}"},
        "terms": {a.term.sourced_id},
        "users": {*sids(*a.students.values()), f"user-{a.users['teacher'].pk}"},
    }
    for path, key in COLLECTIONS.items():
        response = feed.get(version, path)
        assert response.status_code == 200, (path, response.content)
        body = response.json()
        assert list(body) == [key]
        assert {obj["sourcedId"] for obj in body[key]} == expected[path], path
        assert response["X-Total-Count"] == str(len(expected[path]))
        assert response["Cache-Control"] == "no-store"
        for obj in body[key]:
            assert_conformant(obj, key, version)


def teaching_of(district_world):
    return SectionTeacher.unscoped.get(section=district_world.section)


def fallback(row, label: str) -> str:
    return row.sourced_id or f"{label}-{row.pk}"


@VERSIONS
def test_single_objects_answer_their_singular_key(feed, world, version):
    a = world.a
    own = a.students["own"]
    cases = {
        f"academicSessions/{a.term.sourced_id}": "academicSession",
        f"terms/{a.term.sourced_id}": "academicSession",
        f"classes/{a.section.sourced_id}": "class",
        f"courses/{a.section.course.sourced_id}": "course",
        f"demographics/{own.sourced_id}": "demographics",
        f"enrollments/{fallback(a.enrollments['own'], 'enrollment')}": "enrollment",
        f"orgs/district-{a.district.pk}": "org",
        f"orgs/{a.school1.sourced_id}": "org",
        f"schools/{a.school2.sourced_id}": "org",
        f"students/{own.sourced_id}": "user",
        f"users/{own.sourced_id}": "user",
        f"teachers/user-{a.users['teacher'].pk}": "user",
        f"users/user-{a.users['teacher'].pk}": "user",
    }
    for path, key in cases.items():
        response = feed.get(version, path)
        assert response.status_code == 200, (path, response.content)
        body = response.json()
        assert list(body) == [key], path
        assert body[key]["sourcedId"] == path.split("/", 1)[1]
        assert_conformant(body[key], "users" if key == "user" else key, version)
    user = feed.get(version, f"users/{own.sourced_id}").json()["user"]
    assert user["givenName"] == "Ysolde" and user["familyName"] == "Quillfeather"
    assert "X-Total-Count" not in feed.get(version, f"users/{own.sourced_id}")


@VERSIONS
def test_unknown_and_out_of_grant_objects_answer_the_same_404(feed, world, version):
    other = world.b.students["own"].sourced_id
    bodies = set()
    other_class = world.b.section.sourced_id
    for path in [f"users/{other}", "users/nobody", f"students/{other}", "students/nobody",
                 f"orgs/{world.b.school1.sourced_id}", "orgs/nothing",
                 f"classes/{other_class}/students", "classes/none/students"]:  # fmt: skip
        response = feed.get(version, path)
        assert response.status_code == 404, path
        assert error_code(response) == "unknownobject"
        bodies.add(response.content)
    assert len(bodies) == 1


@VERSIONS
def test_nested_operations_answer_exact_sets(feed, world, version):
    a = world.a
    own, adult = a.students["own"], a.students["adult"]
    teacher = f"user-{a.users['teacher'].pk}"
    section, school1, term = a.section.sourced_id, a.school1.sourced_id, a.term.sourced_id
    grading = f.AcademicSessionFactory(district=a.district, kind="gradingPeriod", parent=a.term)
    enrollments = {fallback(e, "enrollment") for e in a.enrollments.values()} | {
        fallback(teaching_of(a), "teaching")
    }
    cases = {
        f"classes/{section}/students": ("users", sids(own, adult)),
        f"classes/{section}/teachers": ("users", {teacher}),
        f"courses/{a.section.course.sourced_id}/classes": ("classes", {section}),
        f"schools/{school1}/classes": ("classes", {section}),
        f"schools/{a.school2.sourced_id}/classes": ("classes", set()),
        f"schools/{school1}/classes/{section}/enrollments": ("enrollments", enrollments),
        f"schools/{school1}/classes/{section}/students": ("users", sids(own, adult)),
        f"schools/{school1}/classes/{section}/teachers": ("users", {teacher}),
        f"schools/{school1}/courses": ("courses", {a.section.course.sourced_id}),
        f"schools/{school1}/enrollments": ("enrollments", enrollments),
        f"schools/{school1}/students": (
            "users", sids(own, adult, a.students["schoolmate"])
        ),
        f"schools/{a.school2.sourced_id}/students": ("users", sids(a.students["elsewhere"])),
        f"schools/{school1}/teachers": ("users", {teacher}),
        f"schools/{school1}/terms": ("academicSessions", {term}),
        f"students/{own.sourced_id}/classes": ("classes", {section}),
        f"students/{a.students['schoolmate'].sourced_id}/classes": ("classes", set()),
        f"teachers/{teacher}/classes": ("classes", {section}),
        f"terms/{term}/classes": ("classes", {section}),
        f"terms/{term}/gradingPeriods": ("academicSessions", {grading.sourced_id}),
        f"users/{own.sourced_id}/classes": ("classes", {section}),
        f"users/{teacher}/classes": ("classes", {section}),
    }  # fmt: skip
    for path, (key, expected) in cases.items():
        assert feed.ids(version, path, key) == expected, path
    # A class of another school is not found under this one.
    response = feed.get(version, f"schools/{a.school2.sourced_id}/classes/{section}/students")
    assert response.status_code == 404


@VERSIONS
def test_paging_headers_and_limits(feed, world, version):
    for _ in range(7):
        f.SchoolMembershipFactory(
            student=f.StudentFactory(district=world.a.district), school=world.a.school2
        )
    everyone = feed.ids(version, "students", limit="100")
    assert len(everyone) == 11
    seen, offset = [], 0
    while offset < 11:
        response = feed.get(version, "students", limit="4", offset=str(offset))
        assert response["X-Total-Count"] == "11"
        seen += [obj["sourcedId"] for obj in response.json()["users"]]
        links = parse_links(response["Link"])
        assert links["first"] == {"limit": "4", "offset": "0"}
        assert links["last"] == {"limit": "4", "offset": "8"}
        assert ("prev" in links) == (offset > 0)
        assert ("next" in links) == (offset + 4 < 11)
        if "next" in links:
            assert links["next"]["offset"] == str(offset + 4)
        offset += 4
    assert seen == sorted(everyone)  # default sort: sourcedId, no row twice or missed
    # A huge limit is clamped, not refused; other parameters travel in the links.
    response = feed.get(version, "students", limit="50000", filter="status='active'")
    assert response.status_code == 200
    assert len(response.json()["users"]) == 11
    assert parse_links(response["Link"])["first"] == {
        "limit": str(MAX_LIMIT), "offset": "0", "filter": "status='active'"
    }  # fmt: skip
    for bad in ({"limit": "0"}, {"limit": "abc"}, {"limit": "-1"}, {"offset": "x"}):
        response = feed.get(version, "students", **bad)
        assert response.status_code == 400, bad
        assert error_code(response) == "invalid_selection_field"


def parse_links(header: str) -> dict[str, dict[str, str]]:
    links = {}
    for part in header.split(", <"):
        url, rel = part.strip("<").split(">; rel=")
        query = parse_qs(urlparse(url).query)
        links[rel.strip('"')] = {k: v[0] for k, v in query.items()}
    return links


@VERSIONS
def test_error_bodies_are_imsx_status_info(feed, version):
    response = feed.get(version, "users", filter="nonsense")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"imsx_codeMajor", "imsx_severity", "imsx_description", "imsx_CodeMinor"}
    assert body["imsx_codeMajor"] == "failure"
    assert body["imsx_severity"] == "error"
    assert body["imsx_CodeMinor"] == {
        "imsx_codeMinorField": [
            {
                "imsx_codeMinorFieldName": "TargetEndSystem",
                "imsx_codeMinorFieldValue": "invalid_filter_field",
            }
        ]
    }
    unknown = feed.get(version, "nothing/here")
    assert unknown.status_code == 404 and error_code(unknown) == "unknownobject"
    post = feed.client.post(
        ROOTS[version] + "users", HTTP_AUTHORIZATION=f"Bearer {feed.token(version)}"
    )
    assert post.status_code == 405 and error_code(post) == "invaliddata"


@VERSIONS
def test_an_unexpected_error_still_answers_imsx(feed, version, monkeypatch):
    from records.oneroster_rest import objects

    def broken(self, pks):
        raise RuntimeError("boom")

    monkeypatch.setattr(objects.Builder, "_schools", broken)
    response = feed.get(version, "schools")
    assert response.status_code == 500
    assert error_code(response) == "internal_server_error"
    assert b"boom" not in response.content


@VERSIONS
def test_only_a_provider_bearer_token_opens_the_api(client, world, feed, version):
    url = ROOTS[version] + "users"
    nobody = client.get(url)
    assert nobody.status_code == 401 and error_code(nobody) == "unauthorisedrequest"
    assert nobody["WWW-Authenticate"].startswith("Bearer")
    bad = client.get(url, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert bad.status_code == 401 and error_code(bad) == "unauthorisedrequest"
    # A person — even the district admin — gets no OneRoster data by session or DRF token.
    admin = world.a.users["district_admin"]
    client.force_login(admin)
    assert client.get(url).status_code == 401
    from rest_framework.authtoken.models import Token

    key = Token.objects.create(user=admin).key
    response = client.get(url, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401 and b"users" not in response.content


@VERSIONS
def test_scopes_open_operations_per_version_root(client, world, version):
    other = "v1p1" if version == "v1p2" else "v1p2"
    core = Feed(client, world.a.district, scopes=("roster-core.readonly",),
                categories=["directory", "demographics", "enrollment"])  # fmt: skip
    assert core.get(version, "users").status_code == 200
    assert core.get(version, f"users/{world.a.students['own'].sourced_id}").status_code == 200
    nested = core.get(version, f"schools/{world.a.school1.sourced_id}/students")
    assert nested.status_code == 403 and error_code(nested) == "forbidden"
    demographics = core.get(version, "demographics")
    assert demographics.status_code == 403 and error_code(demographics) == "forbidden"

    roster = Feed(client, world.a.district, grant=core.grant, scopes=("roster.readonly",))
    assert roster.get(version, f"schools/{world.a.school1.sourced_id}/students").status_code == 200
    assert roster.get(version, "demographics").status_code == 403

    demo = Feed(client, world.a.district, grant=core.grant,
                scopes=("roster-demographics.readonly",))  # fmt: skip
    assert demo.get(version, "demographics").status_code == 200
    assert demo.get(version, "users").status_code == 403

    # A token's scopes count under their own version root only.
    crossed = Feed(client, world.a.district, grant=core.grant, scopes=ALL_SCOPES)
    crossed.tokens[version] = crossed.token(other)
    response = crossed.get(version, "users")
    assert response.status_code == 403 and error_code(response) == "forbidden"


@VERSIONS
def test_demographics_need_the_demographics_category(client, world, version):
    directory = Feed(client, world.a.district, categories=["directory"])
    response = directory.get(version, "demographics")
    assert response.status_code == 403 and error_code(response) == "forbidden"
    one = directory.get(version, f"demographics/{world.a.students['own'].sourced_id}")
    assert one.status_code == 403


@VERSIONS
def test_no_grant_in_force_answers_403_on_the_next_request(client, world, feed, version):
    assert feed.get(version, "users").status_code == 200
    feed.grant.status = Grant.Status.REVOKED
    feed.grant.save()
    response = feed.get(version, "users")
    assert response.status_code == 403 and error_code(response) == "forbidden"

    today = world.a.district.today()
    for starts, ends in ((today + timedelta(days=1), today + timedelta(days=9)),
                         (today - timedelta(days=9), today - timedelta(days=1))):  # fmt: skip
        dated = Feed(client, world.a.district, starts_on=starts, ends_on=ends)
        assert dated.get(version, "orgs").status_code == 403

    disabled = Feed(client, world.a.district)
    assert disabled.get(version, "orgs").status_code == 200
    disabled.api_client.is_active = False
    disabled.api_client.save()
    response = disabled.get(version, "orgs")
    assert response.status_code == 403 and error_code(response) == "forbidden"


@VERSIONS
def test_another_districts_provider_sees_nothing_of_district_a(client, world, version):
    b = Feed(client, world.b.district, categories=["directory", "enrollment"], shares_staff=True)
    assert b.ids(version, "students") == sids(*world.b.students.values())
    assert b.ids(version, "schools", "orgs") == {world.b.school1.sourced_id,
                                                  world.b.school2.sourced_id}  # fmt: skip
    a_ids = sids(*world.a.students.values()) | {world.a.section.sourced_id}
    for path, key in COLLECTIONS.items():
        if path == "demographics":
            continue
        assert not b.ids(version, path, key) & a_ids, path
    for path in (f"students/{world.a.students['own'].sourced_id}",
                 f"schools/{world.a.school1.sourced_id}/students",
                 f"classes/{world.a.section.sourced_id}"):  # fmt: skip
        assert b.get(version, path).status_code == 404
    filtered = b.get(version, "users", filter=f"sourcedId='{world.a.students['own'].sourced_id}'")
    assert filtered.json() == {"users": []} and filtered["X-Total-Count"] == "0"


@VERSIONS
def test_one_disclosure_per_request_with_the_grant_and_the_students(feed, world, version):
    a = world.a
    before = AccessEvent.unscoped.filter(district=a.district).count()
    assert feed.get(version, "students", limit="2").status_code == 200
    events = list(AccessEvent.unscoped.filter(district=a.district).order_by("sequence"))[before:]
    page = sorted(sids(*a.students.values()))[:2]
    assert len(events) == 1
    event = events[0]
    assert event.is_disclosure and event.grant_id == feed.grant.pk
    assert event.party == feed.grant.provider.name
    assert set(event.categories) == {"directory", "contact", "identifiers"}
    by_sid = {s.sourced_id: s.pk for s in a.students.values()}
    assert sorted(event.disclosed_student_ids) == sorted(by_sid[s] for s in page)
    assert "OneRoster REST" in event.purpose

    # Demographics disclose demographics; enrollments, the enrolled students' enrollment.
    feed.get(version, "demographics")
    feed.get(version, "enrollments")
    latest = list(AccessEvent.unscoped.filter(district=a.district).order_by("sequence"))[-2:]
    assert set(latest[0].categories) == {"demographics"}
    assert sorted(latest[0].disclosed_student_ids) == sorted(by_sid.values())
    assert latest[1].categories == ["enrollment"]
    assert sorted(latest[1].disclosed_student_ids) == sorted(
        e.student_id for e in a.enrollments.values()
    )
    # Rows with no student data disclose nothing.
    count = AccessEvent.unscoped.filter(district=a.district).count()
    for path in ("orgs", "classes", "academicSessions", "teachers"):
        feed.get(version, path)
    feed.get(version, "students", fields="sourcedId,status")
    assert AccessEvent.unscoped.filter(district=a.district).count() == count


def _queries(feed, version, path) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert feed.get(version, path, limit="100").status_code == 200
    return len(captured)


@VERSIONS
def test_a_page_costs_the_same_queries_whatever_the_rows(
    feed, world, version, django_assert_num_queries, settings
):
    settings.ACCESS_CACHE_SECONDS = 0  # every request computed (test_oneroster_positions.py)
    for path in ("users", "enrollments"):
        _queries(feed, version, path)  # the connection's first statements prepared
    small = {path: _queries(feed, version, path) for path in ("users", "enrollments")}
    for _ in range(40):
        student = f.StudentFactory(district=world.a.district)
        f.SchoolMembershipFactory(student=student, school=world.a.school1)
        f.EnrollmentFactory(section=world.a.section, student=student)
    for path, count in small.items():
        with django_assert_num_queries(count):
            response = feed.get(version, path, limit="100")
        assert len(response.json()[path]) > 40


@VERSIONS
def test_a_client_over_its_rate_gets_429_server_busy(feed, settings, version):
    settings.PROVIDER_RATE_PER_MINUTE = 2
    assert feed.get(version, "orgs").status_code == 200
    assert feed.get(version, "orgs").status_code == 200
    response = feed.get(version, "orgs")
    assert response.status_code == 429
    assert error_code(response) == "server_busy"
    assert int(response["Retry-After"]) >= 1


@pytest.mark.parametrize("accept", ["application/xml", "text/html", "*/*", ""])
def test_every_answer_is_json_whatever_the_client_accepts(feed, accept):
    response = feed.client.get(
        ROOTS["v1p2"] + "orgs",
        HTTP_AUTHORIZATION=f"Bearer {feed.token('v1p2')}",
        HTTP_ACCEPT=accept,
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "orgs" in response.json()
    missing = feed.client.get(
        ROOTS["v1p2"] + "orgs/no-such-org",
        HTTP_AUTHORIZATION=f"Bearer {feed.token('v1p2')}",
        HTTP_ACCEPT=accept,
    )
    assert missing.status_code == 404 and "imsx_codeMajor" in str(missing.json())


@pytest.fixture
def redis_cache(settings):
    """The default cache on this machine's Redis (a database of its own), as in production."""
    import redis

    url = "redis://127.0.0.1:6379/3"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).flushdb()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379 (make test's services)")
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url},
    }
    yield
    redis.Redis.from_url(url).flushdb()


def test_the_rate_is_counted_in_redis_each_window_expiring(feed, settings, redis_cache):
    import redis

    settings.PROVIDER_RATE_PER_MINUTE = 2
    assert feed.get("v1p2", "orgs").status_code == 200
    (key,) = redis.Redis.from_url("redis://127.0.0.1:6379/3").keys("*provider-client*")
    assert 60 < redis.Redis.from_url("redis://127.0.0.1:6379/3").ttl(key) <= 120
    assert feed.get("v1p2", "orgs").status_code == 200
    assert feed.get("v1p2", "orgs").status_code == 429


def test_the_discovery_document_describes_every_operation(client):
    response = client.get(
        ROOTS["v1p2"] + "discovery/onerosterv1p2rostersservice_openapi3_v1p0.json"
    )
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert len(document["paths"]) == 41
    users = document["paths"]["/ims/oneroster/rostering/v1p2/users"]["get"]
    assert {p["name"] for p in users["parameters"]} == {
        "limit", "offset", "sort", "orderBy", "filter", "fields"
    }  # fmt: skip
    nested = document["paths"][
        "/ims/oneroster/rostering/v1p2/schools/{school_id}/classes/{class_id}/students"
    ]["get"]
    assert {p["name"] for p in nested["parameters"] if p["in"] == "path"} == {
        "school_id", "class_id"
    }  # fmt: skip
    assert nested["security"] == [{"OAuth2CC": [SCOPE_ROOTS["v1p2"] + "roster.readonly"]}]
    schemas = document["components"]["schemas"]
    for name in ("User", "Org", "Class", "Course", "Enrollment", "AcademicSession",
                 "Demographics", "GUIDRef", "StatusInfo"):  # fmt: skip
        assert name in schemas
    for path in document["paths"].values():
        for ref in _refs(path):
            assert ref.removeprefix("#/components/schemas/") in schemas
    flows = document["components"]["securitySchemes"]["OAuth2CC"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/oauth/token/"
    # The app's own schema (people's API) does not list the OneRoster roots.
    app_schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content
    assert b"/ims/oneroster/" not in app_schema


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)
