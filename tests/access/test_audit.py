"""The access log: batched, hash-chained and append-only."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection, transaction
from django.db.utils import InternalError
from django.utils import timezone

from access.audit import Disclosure, _entry_hash, _hash_parts, record_access, verify_chain
from access.models import AccessEvent, AccessEventStudent
from access.viewer import viewer_for
from tests.roles import as_owner


def read(world, user, *names, **kwargs):
    return record_access(
        viewer_for(user),
        student_ids=[world.a.students[n].pk for n in names],
        categories=["directory"],
        purpose="test",
        **kwargs,
    )


@pytest.mark.django_db
def test_a_read_of_many_students_costs_a_constant_number_of_queries(
    world, django_assert_num_queries
):
    viewer = viewer_for(world.a.users["district_admin"])
    read(world, world.a.users["principal"], "own")  # the district's first event makes its chain
    ids = [s.pk for s in world.a.students.values()]
    # One statement locks the chain head, inserts the event and its students, moves the head.
    with django_assert_num_queries(1):
        record_access(viewer, student_ids=ids, categories=["directory"], purpose="roster")
    assert AccessEventStudent.unscoped.count() == len(ids) + 1


@pytest.mark.django_db
def test_events_chain_and_verify(world):
    first = read(world, world.a.users["principal"], "own")
    second = read(world, world.a.users["teacher"], "own", "adult")
    assert (first.sequence, second.sequence) == (1, 2)
    assert second.prev_hash == first.entry_hash
    assert verify_chain(world.a.district.pk) is None


@pytest.mark.django_db
def test_each_district_has_its_own_chain(world):
    read(world, world.a.users["principal"], "own")
    event_b = record_access(
        viewer_for(world.b.users["principal"]),
        student_ids=[world.b.students["own"].pk],
        categories=["directory"],
        purpose="test",
    )
    assert event_b.sequence == 1


@pytest.mark.django_db
def test_disclosures_carry_party_and_legal_basis(world):
    event = read(
        world,
        world.a.users["district_admin"],
        "own",
        disclosure=Disclosure(party="Acme Bus Co.", legal_basis="99.31(a)(1)(i)(B)"),
    )
    assert event.is_disclosure and event.party == "Acme Bus Co."
    assert verify_chain(world.a.district.pk) is None


@pytest.mark.django_db
def test_the_log_refuses_updates_and_deletes(world):
    event = read(world, world.a.users["principal"], "own")
    with pytest.raises(InternalError, match="append-only"), transaction.atomic():
        AccessEvent.unscoped.filter(pk=event.pk).update(purpose="nothing to see")
    with pytest.raises(InternalError, match="append-only"), transaction.atomic():
        AccessEventStudent.unscoped.filter(event=event).delete()


@pytest.mark.django_db
def test_tampering_behind_the_triggers_is_detected(world):
    read(world, world.a.users["principal"], "own")
    tampered = read(world, world.a.users["teacher"], "own")
    read(world, world.a.users["nurse"], "own")
    with as_owner(), connection.cursor() as cursor:
        # What a database superuser could do: skip triggers for one transaction.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE access_accessevent SET purpose = 'edited' WHERE id = %s", [tampered.pk]
        )
        cursor.execute("SET LOCAL session_replication_role = origin")
    assert verify_chain(world.a.district.pk) == tampered.sequence


@pytest.mark.django_db
def test_reading_nobody_records_nothing(world):
    assert read(world, world.a.users["principal"]) is None
    assert AccessEvent.unscoped.count() == 0


@pytest.mark.django_db
def test_events_cut_from_the_end_are_detected(world):
    read(world, world.a.users["principal"], "own")
    last = read(world, world.a.users["teacher"], "own")
    with as_owner(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM access_accesseventstudent WHERE event_id = %s", [last.pk])
        cursor.execute("DELETE FROM access_accessevent WHERE id = %s", [last.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    assert verify_chain(world.a.district.pk) == last.sequence


@pytest.mark.django_db
def test_the_chain_head_only_moves_forward_by_one(world):
    from access.models import AuditChain

    read(world, world.a.users["principal"], "own")
    read(world, world.a.users["principal"], "own")
    head = AuditChain.unscoped.get(district=world.a.district)
    for sequence in (head.last_sequence - 1, head.last_sequence + 5, 0):
        with pytest.raises(InternalError, match="only moves forward"), transaction.atomic():
            AuditChain.unscoped.filter(pk=head.pk).update(last_sequence=sequence)
    with pytest.raises(InternalError, match="append-only"), transaction.atomic():
        AuditChain.unscoped.filter(pk=head.pk).delete()


@pytest.mark.django_db
def test_truncating_the_log_is_refused(world):
    from importlib import import_module

    append_only = import_module("access.migrations.0003_append_only")
    read(world, world.a.users["principal"], "own")
    with (
        pytest.raises(InternalError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # settle the deferred key checks
        # The test database drops this guard so Django can flush between tests.
        cursor.execute(
            'CREATE TRIGGER "access_accessevent_no_truncate" BEFORE TRUNCATE ON '
            '"access_accessevent" FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()'
        )
        cursor.execute("TRUNCATE access_accessevent CASCADE")
    assert append_only.triggers("access_accessevent")[-1][0] == "access_accessevent_no_truncate"


@pytest.mark.django_db
def test_verification_reads_the_log_in_chunks(world):
    for _ in range(5):
        read(world, world.a.users["principal"], "own", "adult")
    assert verify_chain(world.a.district.pk, chunk_size=2) is None
    with as_owner(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE access_accessevent SET categories = '[]' WHERE district_id = %s "
            "AND sequence = 4",
            [world.a.district.pk],
        )
        cursor.execute("SET LOCAL session_replication_role = origin")
    assert verify_chain(world.a.district.pk, chunk_size=2) == 4


TRICKY_TEXT = [
    "plain",
    'quotes " and \\ backslashes',
    'a fake "prev_hash":"0000" and "sequence":7 inside',
    "unicode: Zoë, 学生, emoji 🎒, and a tab\tand newline\n",
    "",
]


@pytest.mark.parametrize("text", TRICKY_TEXT)
def test_the_databases_hash_text_is_the_verifiers_whatever_the_event_says(world, text):
    event = AccessEvent(
        district_id=world.a.district.pk,
        sequence=12345,
        occurred_at=timezone.now(),
        actor=world.a.users["teacher"],
        actor_username=text,
        actor_roles="teacher",
        purpose=text,
        categories=["directory", "grades"],
        student_count=2,
        party=text,
        legal_basis="",
        prev_hash="ab" * 32,
    )
    before, between, after = _hash_parts(event, [3, 1])
    text_hashed = before + event.prev_hash + between + str(event.sequence) + after
    assert hashlib.sha256(text_hashed.encode()).hexdigest() == _entry_hash(event, [3, 1])


@pytest.mark.django_db
@pytest.mark.parametrize("text", TRICKY_TEXT)
def test_events_the_database_hashed_verify(world, text):
    viewer = viewer_for(world.a.users["principal"])
    ids = [world.a.students["own"].pk]
    for _ in range(2):
        record_access(viewer, student_ids=ids, categories=["directory"], purpose=text)
    assert verify_chain(world.a.district.pk) is None
    assert AccessEvent.unscoped.filter(district=world.a.district).count() == 2


@pytest.mark.django_db
def test_a_pages_several_events_go_in_one_round_trip_and_chain(world, django_assert_num_queries):
    """A provider's page read under two grants (or with an opted-out group) makes several
    events: one query appends them all, the district's first included, and each links to
    the one before."""
    from access.audit import Read, record_disclosures

    viewer = viewer_for(world.a.users["district_admin"])
    students = [s.pk for s in world.a.students.values()]
    disclosed = [
        (
            Read((students[0],), frozenset({"directory"}), frozenset({"grant 1"}), "rosters"),
            Disclosure(party="Bus company", legal_basis="99.31(a)(1)(i)(B)"),
        ),
        (
            Read(tuple(students[1:]), frozenset({"enrollment"}), frozenset({"grant 1"}), "r"),
            Disclosure(party="Bus company", legal_basis="99.31(a)(1)(i)(B)"),
        ),
        (Read((), frozenset({"health"}), frozenset(), "nothing read"), Disclosure("x", "y")),
    ]
    first = record_disclosures(viewer, disclosed)  # no chain head yet: made, then appended
    assert [event.sequence for event in first] == [1, 2]
    assert first[1].prev_hash == first[0].entry_hash
    with django_assert_num_queries(1):
        second = record_disclosures(viewer, disclosed)
    assert [event.sequence for event in second] == [3, 4]
    assert second[0].prev_hash == first[1].entry_hash
    stored = AccessEvent.unscoped.get(pk=second[1].pk)
    assert (stored.sequence, stored.entry_hash) == (4, second[1].entry_hash)
    assert stored.party == "Bus company" and stored.student_count == len(students) - 1
    assert verify_chain(world.a.district.pk) is None
