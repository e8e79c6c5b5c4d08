"""Cache epochs: a cached viewer, page or student is reused only while nothing it was
computed from has changed (records/cache_epochs.py, access/migrations/0007_cache_epochs.py).

Every table either moves an epoch on every write or is named, with a reason, in
``UNCACHED_TABLES``. A change to who may see whom shows on the next request, with no
cached permission left behind (REQUIREMENTS 1, 7); an emergency grant ends at its
expiry with no write at all; the students API reuses what did not change and still
logs every read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends import base as cache_base
from django.core.cache.backends import locmem
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from access import cache as access_cache
from access.emergency import request_access
from access.grants import school_category_grant
from access.models import AccessEvent, CacheEpoch, EmergencyAccess, StudentEpoch
from access.scoping import allowed_for, visible_students
from access.substitutes import assign_substitute, end_assignment
from access.viewer import viewer_for
from accounts.models import Role, RoleMembership, User
from records import cache_epochs
from records import models as m
from records.cache_epochs import UNCACHED_TABLES, deferred
from records.tenancy import tenant_scope
from tests import factories as f

pytestmark = pytest.mark.django_db

LIST = "/api/v1/students/"
REASON = "Asthma attack on the field; need the inhaler plan and parent contacts"


@pytest.fixture(autouse=True)
def empty_cache():
    tiers = (cache, caches["access-local"], caches["access-pages"])
    for tier in tiers:
        tier.clear()
    yield
    for tier in tiers:
        tier.clear()


def epoch_of(district) -> int:
    return CacheEpoch.objects.get(district_id=district.pk).value


def student_epoch_of(student) -> int | None:
    row = StudentEpoch.objects.filter(student_id=student.pk).first()
    return row.value if row else None


def sequence_value() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM access_cache_epoch_seq")
        return cursor.fetchone()[0]


def yesterday():
    return timezone.localdate() - timedelta(days=1)


def cached_viewer(user):
    """Today's viewer for ``user``, checked to be the one kept in the cache."""
    viewer = viewer_for(user)
    assert viewer.cache_epoch is not None
    assert cache.get(f"viewer:{user.district_id}:{viewer.cache_epoch}:{user.pk}") is not None
    return viewer


def grant_for_teacher(world, *, granted_at, expires_at) -> EmergencyAccess:
    """An emergency grant of the schoolmate to the teacher, between the given times."""
    return EmergencyAccess.unscoped.create(
        district=world.a.district,
        student=world.a.students["schoolmate"],
        requested_by=world.a.users["teacher"],
        reason=REASON,
        granted_at=granted_at,
        expires_at=expires_at,
    )


def reached(viewer) -> set[int]:
    return set(visible_students(viewer).values_list("pk", flat=True))


def pks(*students) -> set[int]:
    return {student.pk for student in students}


# Classification: every table moves an epoch or says why it need not.


def public_tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            # A partition is its parent's: the parent's triggers fire for its rows.
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        )
        return {name for (name,) in cursor.fetchall()}


def epoch_triggers() -> dict[str, set[str]]:
    """Per table of the public schema, its enabled non-internal triggers named ``*_epoch*``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND NOT t.tgisinternal AND t.tgenabled <> 'D'"
        )
        rows = cursor.fetchall()
    triggers: dict[str, set[str]] = {}
    for table, name in rows:
        if name.startswith(f"{table}_epoch"):
            triggers.setdefault(table, set()).add(name.removeprefix(table))
    return triggers


def test_every_table_moves_an_epoch_or_is_named_uncached_and_none_is_both():
    triggers = epoch_triggers()
    triggered = {table for table, names in triggers.items() if names & {"_epoch_insert", "_epoch"}}
    tables = public_tables()
    assert tables - triggered - set(UNCACHED_TABLES) == set()
    assert triggered & set(UNCACHED_TABLES) == set()
    assert set(UNCACHED_TABLES) - tables == set()


def test_every_triggered_table_moves_an_epoch_on_each_kind_of_write():
    for table, names in epoch_triggers().items():
        if "_epoch" in names:
            assert names == {"_epoch", "_epoch_truncate"}, table
        else:
            expected = {"_epoch_insert", "_epoch_update", "_epoch_delete", "_epoch_truncate"}
            assert names == expected, table


# The triggers.


@pytest.mark.parametrize(
    "write",
    [
        "school renamed",
        "section teacher deleted",
        "custody restriction added",
        "role ended",
        "student updated in bulk",
    ],
)
def test_a_write_to_a_district_table_moves_that_districts_epoch_only(world, write):
    a, b = world.a, world.b
    before_a, before_b = epoch_of(a.district), epoch_of(b.district)
    if write == "school renamed":
        m.School.unscoped.filter(pk=a.school1.pk).update(name="Renamed Middle")
    elif write == "section teacher deleted":
        m.SectionTeacher.unscoped.filter(section=a.section).delete()
    elif write == "custody restriction added":
        f.CustodyRestrictionFactory(guardian_link=a.links["parent"])
    elif write == "role ended":
        RoleMembership.unscoped.filter(user=a.users["principal"]).update(end_date=yesterday())
    else:
        m.Student.unscoped.filter(district=a.district).update(grade_level="08")
    assert epoch_of(a.district) > before_a
    assert epoch_of(b.district) == before_b


def test_an_update_that_matches_no_row_moves_no_epoch(world):
    before_a, before_b = epoch_of(world.a.district), epoch_of(world.b.district)
    m.School.unscoped.filter(pk=-1).update(name="Nobody")
    m.AttendanceRecord.unscoped.filter(pk=-1).delete()
    assert (epoch_of(world.a.district), epoch_of(world.b.district)) == (before_a, before_b)


def test_signing_in_leaves_the_epoch_alone_and_other_changes_to_a_user_move_it(world):
    parent, district = world.a.users["parent"], world.a.district
    before = epoch_of(district)
    Client().force_login(parent)
    assert User.objects.get(pk=parent.pk).last_login is not None
    assert epoch_of(district) == before
    User.objects.filter(pk=parent.pk).update(is_active=False)
    assert epoch_of(district) > before


def test_a_user_moved_to_another_district_moves_both_districts_epochs(world):
    user = f.UserFactory(username="a-mover", district=world.a.district)
    before_a, before_b = epoch_of(world.a.district), epoch_of(world.b.district)
    User.objects.filter(pk=user.pk).update(district=world.b.district)
    assert epoch_of(world.a.district) > before_a
    assert epoch_of(world.b.district) > before_b


def test_a_write_to_a_student_table_moves_that_students_epoch_and_not_the_districts(world):
    a = world.a
    own, adult = a.students["own"], a.students["adult"]
    district_before, adult_before = epoch_of(a.district), student_epoch_of(adult)
    record = m.AttendanceRecord.unscoped.create(
        district=a.district, student=own, date=timezone.localdate(), status="absent"
    )
    created = student_epoch_of(own)
    assert created is not None and created > district_before
    assert epoch_of(a.district) == district_before
    assert student_epoch_of(adult) == adult_before

    m.AttendanceRecord.unscoped.filter(pk=record.pk).update(status="excused")
    updated = student_epoch_of(own)
    assert updated > created
    m.AttendanceRecord.unscoped.filter(pk=record.pk).delete()
    assert student_epoch_of(own) > updated
    assert epoch_of(a.district) == district_before


def test_a_write_to_object_permissions_moves_the_grantees_district_only(world):
    before_a, before_b = epoch_of(world.a.district), epoch_of(world.b.district)
    provider = f.UserFactory(username="a-provider", district=world.a.district)
    after_user_a = epoch_of(world.a.district)
    assert epoch_of(world.b.district) == before_b
    school_category_grant(grantee=provider, school=world.a.school1, category="directory")
    assert epoch_of(world.a.district) > after_user_a > before_a
    assert epoch_of(world.b.district) == before_b


@pytest.mark.django_db(transaction=True)
def test_two_districts_assigning_substitutes_at_once_neither_waits_nor_deadlocks(world):
    """Each assignment locks its district's epoch row, then grants the section's object
    permission: that must touch its own district only (0007 touched every district's
    row and deadlocked here)."""
    from access import grants

    original, both_inside = grants.substitute_grant, threading.Barrier(2)

    def grant_when_both_hold_their_district(**kwargs):
        both_inside.wait(timeout=10)
        return original(**kwargs)

    jobs = []
    for d in (world.a, world.b):
        substitute = f.UserFactory(username=f"{d.district.slug}-cover", district=d.district)
        f.RoleMembershipFactory(user=substitute, role=Role.TEACHER, school=d.school2)
        jobs.append((d, substitute))
    results = [None, None]

    def assign(index, d, substitute):
        try:
            with tenant_scope(d.district):  # as each principal's request has it
                principal = viewer_for(d.users["principal"])
                assign_substitute(
                    principal, d.section, who=substitute.username, begin=principal.today,
                    end=principal.today,
                )  # fmt: skip
            results[index] = "ok"
        except Exception as error:
            results[index] = f"{type(error).__name__}: {error}"
        finally:
            connections.close_all()

    with mock.patch.object(grants, "substitute_grant", grant_when_both_hold_their_district):
        threads = [threading.Thread(target=assign, args=(i, *job)) for i, job in enumerate(jobs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert results == ["ok", "ok"]


def test_a_truncate_moves_every_districts_epoch(world):
    before_a, before_b = epoch_of(world.a.district), epoch_of(world.b.district)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE records_transportationassignment")
    assert epoch_of(world.a.district) > before_a
    assert epoch_of(world.b.district) > before_b


def test_a_rolled_back_writes_epoch_is_never_seen_again(world):
    a = world.a
    before = epoch_of(a.district)
    with transaction.atomic():
        m.School.unscoped.filter(pk=a.school1.pk).update(name="Never Was")
        rolled_back = epoch_of(a.district)
        assert rolled_back > before
        transaction.set_rollback(True)
    assert epoch_of(a.district) == before
    m.School.unscoped.filter(pk=a.school1.pk).update(name="Renamed Middle")
    assert epoch_of(a.district) > rolled_back


def test_a_deferred_block_moves_the_district_once_at_its_end_and_triggers_stand_aside(world):
    a, b = world.a, world.b
    own = a.students["own"]
    before_a, before_b = epoch_of(a.district), epoch_of(b.district)
    own_before = student_epoch_of(own)
    started = sequence_value()
    with transaction.atomic(), deferred(a.district.pk):
        m.School.unscoped.filter(pk=a.school1.pk).update(name="Imported Middle")
        f.EnrollmentFactory(section=a.section, student=a.students["schoolmate"])
        m.AttendanceRecord.unscoped.create(
            district=a.district, student=own, date=timezone.localdate(), status="present"
        )
        assert epoch_of(a.district) == before_a
        assert student_epoch_of(own) == own_before
        assert sequence_value() == started
    assert epoch_of(a.district) == started + 1 == sequence_value()
    assert epoch_of(b.district) == before_b
    assert student_epoch_of(own) == own_before
    m.School.unscoped.filter(pk=a.school1.pk).update(name="After the import")
    assert epoch_of(a.district) > started + 1  # the triggers are back


# No cached permission left behind: the next viewer reflects every change.


def test_a_second_viewer_with_no_change_is_the_cached_one(world, django_assert_num_queries):
    teacher = world.a.users["teacher"]
    first = cached_viewer(teacher)
    with django_assert_num_queries(1):
        second = viewer_for(teacher)
    assert second == first
    assert second.user is teacher


def test_a_viewer_for_another_day_is_never_cached(world):
    teacher = world.a.users["teacher"]
    viewer = viewer_for(teacher, today=timezone.localdate())
    assert viewer.cache_epoch is None and viewer.valid_until is None


def test_a_category_restriction_hides_those_categories_from_the_next_viewer(world):
    parent, own = world.a.users["parent"], world.a.students["own"]
    before = cached_viewer(parent)
    assert "contact" in allowed_for(before, list(visible_students(before)))[own.pk].categories
    f.CustodyRestrictionFactory(
        guardian_link=world.a.links["parent"],
        scope=m.CustodyRestriction.Scope.CATEGORIES,
        categories=["contact"],
    )
    after = viewer_for(parent)
    assert after.cache_epoch != before.cache_epoch
    assert after.restrictions == {own.pk: frozenset({"contact", "transportation"})}
    categories = allowed_for(after, list(visible_students(after)))[own.pk].categories
    assert "contact" not in categories and "grades" in categories


def test_a_full_restriction_removes_the_child_from_the_next_viewer(world):
    parent, own = world.a.users["parent"], world.a.students["own"]
    assert reached(cached_viewer(parent)) == pks(own)
    f.CustodyRestrictionFactory(guardian_link=world.a.links["parent"])
    after = viewer_for(parent)
    assert after.fully_restricted_student_ids == [own.pk]
    assert reached(after) == set()


@pytest.mark.parametrize("how", ["deleted", "end-dated"])
def test_a_teacher_taken_off_the_section_loses_its_students_next_viewer(world, how):
    teacher = world.a.users["teacher"]
    before = cached_viewer(teacher)
    assert reached(before) == pks(world.a.students["own"], world.a.students["adult"])
    assignments = m.SectionTeacher.unscoped.filter(section=world.a.section, teacher=teacher)
    if how == "deleted":
        assignments.delete()
    else:
        assignments.update(end_date=yesterday())
    after = viewer_for(teacher)
    assert after.cache_epoch != before.cache_epoch
    assert reached(after) == set()
    if how == "deleted":
        assert after.route("teacher") is None


def test_an_ended_enrollment_removes_the_student_from_the_next_viewer(world):
    teacher = world.a.users["teacher"]
    before = cached_viewer(teacher)
    m.Enrollment.unscoped.filter(pk=world.a.enrollments["own"].pk).update(end_date=yesterday())
    after = viewer_for(teacher)
    assert after.cache_epoch != before.cache_epoch
    assert reached(after) == pks(world.a.students["adult"])


def test_an_ended_role_takes_the_route_from_the_next_viewer(world):
    principal = world.a.users["principal"]
    before = cached_viewer(principal)
    assert before.route("school_staff") is not None
    RoleMembership.unscoped.filter(user=principal).update(end_date=yesterday())
    after = viewer_for(principal)
    assert after.routes == ()
    assert reached(after) == set()


def test_a_deleted_guardian_link_takes_the_child_from_the_next_viewer(world):
    parent = world.a.users["parent"]
    assert cached_viewer(parent).route("guardian") is not None
    m.GuardianLink.unscoped.filter(pk=world.a.links["parent"].pk).delete()
    after = viewer_for(parent)
    assert after.route("guardian") is None
    assert reached(after) == set()


def test_an_ended_substitute_assignment_takes_the_section_from_the_next_viewer(world):
    sub = f.UserFactory(username="a-sub", district=world.a.district)
    f.RoleMembershipFactory(user=sub, role=Role.TEACHER, school=world.a.school2)
    principal = viewer_for(world.a.users["principal"])
    assignment = assign_substitute(
        principal, world.a.section, who=sub.username, begin=principal.today, end=principal.today
    )
    before = cached_viewer(sub)
    assert before.substitute_section_ids == {world.a.section.pk}
    assert reached(before) == pks(world.a.students["own"], world.a.students["adult"])
    end_assignment(viewer_for(world.a.users["principal"]), world.a.section, assignment.pk)
    after = viewer_for(sub)
    assert after.substitute_section_ids == frozenset()
    assert reached(after) == set()


def test_a_new_emergency_grant_opens_the_student_to_the_next_viewer(world):
    teacher, schoolmate = world.a.users["teacher"], world.a.students["schoolmate"]
    before = cached_viewer(teacher)
    assert schoolmate.pk not in reached(before)
    request_access(before, identifier=schoolmate.local_id, reason=REASON)
    after = viewer_for(teacher)
    assert after.route("emergency").student_ids == {schoolmate.pk}
    assert schoolmate.pk in reached(after)


def test_an_expired_emergency_grant_ends_without_any_write(world):
    teacher, schoolmate = world.a.users["teacher"], world.a.students["schoolmate"]
    now = timezone.now()
    # Expiring before the district's midnight, which would end the viewer first (a run
    # between 23:00 and midnight in the district's zone failed here).
    local = timezone.localtime(now, world.a.district.zone)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    expires_at = min(now + timedelta(hours=1), midnight - timedelta(seconds=30))
    grant = grant_for_teacher(world, granted_at=now - timedelta(hours=1), expires_at=expires_at)
    before = cached_viewer(teacher)
    assert before.valid_until == grant.expires_at
    assert schoolmate.pk in reached(before)
    epoch = epoch_of(world.a.district)
    with mock.patch("django.utils.timezone.now", return_value=grant.expires_at):
        after = viewer_for(teacher)
    assert epoch_of(world.a.district) == epoch
    assert after.cache_epoch == before.cache_epoch
    assert after.route("emergency") is None
    assert schoolmate.pk not in reached(after)
    assert after.valid_until > grant.expires_at


def test_an_emergency_grant_starting_later_opens_at_its_start(world):
    teacher, schoolmate = world.a.users["teacher"], world.a.students["schoolmate"]
    now = timezone.now()
    grant = grant_for_teacher(
        world, granted_at=now + timedelta(minutes=5), expires_at=now + timedelta(hours=2)
    )
    before = cached_viewer(teacher)
    assert before.valid_until == grant.granted_at
    assert schoolmate.pk not in reached(before)
    with mock.patch("django.utils.timezone.now", return_value=grant.granted_at):
        after = viewer_for(teacher)
    assert after.route("emergency").student_ids == {schoolmate.pk}


# The students API: reused when nothing changed, fresh when something did.


@pytest.fixture
def token_client(api):
    def login(user):
        token = Token.objects.create(user=user)
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api

    return login


@contextlib.contextmanager
def clock_at(moment):
    """The server and the cache both at ``moment``: time passing for the app and for the
    entries' expiry alike."""
    clock = SimpleNamespace(time=moment.timestamp)
    with (
        mock.patch("django.utils.timezone.now", return_value=moment),
        mock.patch.object(cache_base, "time", clock),
        mock.patch.object(locmem, "time", clock),
        mock.patch.object(access_cache, "time", clock),
    ):
        yield


def get_counted(client, url):
    """The response's JSON and the number of queries it cost."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.json(), len(queries)


def by_id(body) -> dict[int, dict]:
    return {item["id"]: item for item in body["results"]}


def test_a_repeated_roster_read_is_identical_and_cheaper(world, token_client):
    client = token_client(world.a.users["teacher"])
    url = f"{LIST}?section={world.a.section.pk}"
    first, missed = get_counted(client, url)
    second, hit = get_counted(client, url)
    third, hit_again = get_counted(client, url)
    assert set(by_id(first)) == pks(world.a.students["own"], world.a.students["adult"])
    assert second == first == third
    assert hit < missed
    assert hit_again == hit


def test_every_read_is_logged_whether_cached_or_not(world, token_client):
    teacher = world.a.users["teacher"]
    client = token_client(teacher)
    url = f"{LIST}?section={world.a.section.pk}"
    for expected in (1, 2, 3):
        client.get(url)
        events = AccessEvent.unscoped.filter(actor=teacher)
        assert events.count() == expected
        assert events.latest("sequence").student_count == 2


def test_a_new_attendance_mark_shows_in_the_next_response_and_nothing_else_changes(
    world, token_client
):
    a = world.a
    own, adult = a.students["own"], a.students["adult"]
    client = token_client(a.users["teacher"])
    url = f"{LIST}?section={a.section.pk}"
    before, _ = get_counted(client, url)
    assert by_id(before)[own.pk]["attendance"]["days_recorded"] == 0
    epoch = epoch_of(a.district)
    m.AttendanceRecord.unscoped.create(
        district=a.district, student=own, date=timezone.localdate(), status="absent"
    )
    after, _ = get_counted(client, url)
    assert epoch_of(a.district) == epoch
    assert by_id(after)[own.pk]["attendance"] == {
        "days_recorded": 1,
        "present": 0,
        "absent": 1,
        "tardy": 0,
        "excused": 0,
        "attendance_rate": 0.0,
    }
    assert by_id(after)[adult.pk] == by_id(before)[adult.pk]


def test_a_changed_record_shows_in_the_next_detail_response(world, token_client):
    own = world.a.students["own"]
    client = token_client(world.a.users["teacher"])
    url = f"{LIST}{own.pk}/"
    period = m.AcademicSession.unscoped.create(
        district=world.a.district, title="Q1", kind="gradingPeriod",
        start_date=yesterday(), end_date=timezone.localdate(), school_year=yesterday().year,
    )  # fmt: skip
    assert get_counted(client, url)[0]["grades"]["records"] == []
    m.Grade.unscoped.create(
        district=world.a.district, student=own, section=world.a.section, grading_period=period,
        mark="A-",
    )  # fmt: skip
    assert [g["mark"] for g in get_counted(client, url)[0]["grades"]["records"]] == ["A-"]


def restrict_parent(world):
    f.CustodyRestrictionFactory(guardian_link=world.a.links["parent"])


def restrict_teacher_as_parent(world):
    link = f.GuardianLinkFactory(
        student=world.a.students["own"], guardian=world.a.users["teacher"], relationship="father"
    )
    f.CustodyRestrictionFactory(guardian_link=link)


def end_enrollment(world):
    m.Enrollment.unscoped.filter(pk=world.a.enrollments["own"].pk).update(end_date=yesterday())


def end_teaching(world):
    m.SectionTeacher.unscoped.filter(section=world.a.section).update(end_date=yesterday())


def end_teacher_role(world):
    RoleMembership.unscoped.filter(user=world.a.users["teacher"]).update(end_date=yesterday())


def delete_link(world):
    m.GuardianLink.unscoped.filter(pk=world.a.links["parent"].pk).delete()


@pytest.mark.parametrize(
    ("reader", "change", "gone"),
    [
        ("parent", restrict_parent, {"own"}),
        ("parent", delete_link, {"own"}),
        ("teacher", restrict_teacher_as_parent, {"own"}),
        ("teacher", end_enrollment, {"own"}),
        ("teacher", end_teaching, {"own", "adult"}),
        ("teacher", end_teacher_role, {"own", "adult"}),
    ],
    ids=lambda value: "+".join(sorted(value)) if isinstance(value, set) else None,
)
def test_the_next_response_drops_a_student_access_no_longer_reaches(
    world, token_client, reader, change, gone
):
    client = token_client(world.a.users[reader])
    url = f"{LIST}?section={world.a.section.pk}"
    first, missed = get_counted(client, url)
    second, hit = get_counted(client, url)
    assert second == first and hit < missed
    change(world)
    after, _ = get_counted(client, url)
    assert set(by_id(after)) == set(by_id(first)) - pks(*(world.a.students[n] for n in gone))
    assert after["count"] == len(after["results"])
    for name in gone:
        response = client.get(f"{LIST}{world.a.students[name].pk}/")
        assert response.status_code == 404


def test_an_expired_emergency_grant_leaves_the_api_at_its_expiry(world, token_client):
    teacher, schoolmate = world.a.users["teacher"], world.a.students["schoolmate"]
    now = timezone.now()
    grant = grant_for_teacher(
        world, granted_at=now - timedelta(hours=1), expires_at=now + timedelta(minutes=5)
    )
    client = token_client(teacher)
    with clock_at(now):
        assert schoolmate.pk in by_id(get_counted(client, LIST)[0])
        assert client.get(f"{LIST}{schoolmate.pk}/").status_code == 200
    with clock_at(grant.expires_at):
        assert schoolmate.pk not in by_id(get_counted(client, LIST)[0])
        assert client.get(f"{LIST}{schoolmate.pk}/").status_code == 404


def test_a_page_decided_in_a_grants_last_second_is_not_served_after_it(world, token_client):
    teacher, schoolmate = world.a.users["teacher"], world.a.students["schoolmate"]
    now = timezone.now()
    grant_for_teacher(
        world, granted_at=now - timedelta(hours=1), expires_at=now + timedelta(milliseconds=500)
    )
    client = token_client(teacher)
    with clock_at(now):
        assert schoolmate.pk in by_id(get_counted(client, LIST)[0])
    with clock_at(now + timedelta(milliseconds=600)):
        assert schoolmate.pk not in by_id(get_counted(client, LIST)[0])


def test_an_enrollment_ending_today_leaves_the_roster_at_midnight(world, token_client):
    teacher, own = world.a.users["teacher"], world.a.students["own"]
    now = timezone.now()
    client = token_client(teacher)
    url = f"{LIST}?section={world.a.section.pk}"
    with clock_at(now):
        today = viewer_for(teacher).today
        m.Enrollment.unscoped.filter(pk=world.a.enrollments["own"].pk).update(end_date=today)
        midnight = viewer_for(teacher).valid_until
        assert own.pk in by_id(get_counted(client, url)[0])
    assert midnight.date() == today + timedelta(days=1)
    with clock_at(midnight):
        assert viewer_for(teacher).today == today + timedelta(days=1)
        assert own.pk not in by_id(get_counted(client, url)[0])


def test_with_caching_off_nothing_is_cached(world, token_client, settings):
    settings.ACCESS_CACHE_SECONDS = 0
    teacher = world.a.users["teacher"]
    client = token_client(teacher)
    url = f"{LIST}?section={world.a.section.pk}"
    client.get(url)  # the first read starts the district's access log
    bodies, costs = zip(*(get_counted(client, url) for _ in range(3)), strict=True)
    assert bodies[0] == bodies[1] == bodies[2]
    assert costs[0] == costs[1] == costs[2]
    assert viewer_for(teacher).cache_epoch is None
    assert AccessEvent.unscoped.filter(actor=teacher).count() == 4


# Where entries live (access/cache.py) and what names them (records/cache_epochs.py).


def test_a_decision_planted_in_the_shared_cache_without_the_key_is_ignored(world):
    teacher = world.a.users["teacher"]
    viewer = cached_viewer(teacher)
    key = f"viewer:{teacher.district_id}:{viewer.cache_epoch}:{teacher.pk}"
    forged = dataclasses.replace(viewer, user=None, routes=(), restrictions={})
    caches["access-local"].clear()
    cache.set(key, forged)  # a plain pickle, not sealed with the secret key
    assert viewer_for(teacher).routes == viewer.routes
    sealed = cache.get(key)
    cache.set(key, sealed[:-1] + bytes([sealed[-1] ^ 1]))  # one bit flipped
    caches["access-local"].clear()
    assert viewer_for(teacher).routes == viewer.routes


def test_student_records_are_kept_in_process_memory_never_in_the_shared_cache(world, token_client):
    client = token_client(world.a.users["teacher"])
    client.get(f"{LIST}?section={world.a.section.pk}")
    shared = [key for key in cache._cache if "student" in key or "rendered" in key]
    local = [key for key in caches["access-pages"]._cache if "rendered" in key]
    assert shared == [] and local


def test_a_local_copy_lives_no_longer_than_the_shared_entry_it_copies():
    now = timezone.now()
    with clock_at(now):
        access_cache.put("decision", {"students": [1]}, 5)
        caches["access-local"].clear()
        assert access_cache.get("decision") == {"students": [1]}  # copied back locally
    with clock_at(now + timedelta(seconds=6)):
        assert access_cache.get("decision") is None


def test_epochs_name_the_code_so_a_deploy_never_reads_the_last_ones_entries(world):
    epoch = cache_epochs.district_epoch(world.a.district.pk)
    assert cache_epochs.code_version() in epoch
    with mock.patch.object(connection, "cache_incarnation", "1-2-another-code"):
        assert cache_epochs.district_epoch(world.a.district.pk) != epoch


def test_inside_a_deferred_block_nothing_is_cached(world):
    with transaction.atomic(), deferred(world.a.district.pk):
        assert cache_epochs.district_epoch(world.a.district.pk) is None
        assert viewer_for(world.a.users["teacher"]).cache_epoch is None
    assert cache_epochs.district_epoch(world.a.district.pk) is not None
