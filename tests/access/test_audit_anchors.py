"""``manage.py verify_audit_chain`` and the chain heads anchored outside the database: a
rewrite of the whole chain, which verifies on its own, is caught by the anchors."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from access.anchors import read_anchors, record_chain_heads
from access.audit import _entry_hash, verify_chain
from access.models import AccessEvent, AccessEventStudent, AuditChain
from access.tasks import anchor_audit_chains
from tests.access.test_audit import read
from tests.roles import as_owner

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def anchor_file(settings, tmp_path):
    settings.AUDIT_ANCHOR_PATH = tmp_path / "audit" / "anchors.jsonl"
    return settings.AUDIT_ANCHOR_PATH


def verify(**options) -> tuple[str, bool]:
    """What the command printed, and whether it passed."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("verify_audit_chain", stdout=out, **options)
    except CommandError:
        return out.getvalue(), False
    return out.getvalue(), True


def three_reads(world) -> list[AccessEvent]:
    return [read(world, world.a.users[who], "own") for who in ("principal", "teacher", "nurse")]


def behind_the_triggers(*statements: tuple[str, list]) -> None:
    """What a database superuser could do: skip the append-only triggers."""
    with as_owner(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def hashed_students(event: AccessEvent) -> list[int]:
    """The students an event's hash covers, as the verifier reads them."""
    rows = AccessEventStudent.unscoped.filter(event=event).values_list("student_id", flat=True)
    return list(rows) or event.disclosed_student_ids


def test_an_intact_log_verifies(world):
    three_reads(world)
    assert anchor_audit_chains() == 1
    out, passed = verify()
    assert passed, out
    assert f"{world.a.district.slug}: 3 events verify." in out
    assert "anchors match" in out


def test_the_task_appends_one_signed_line_per_district_and_never_rewrites(world, anchor_file):
    three_reads(world)
    assert record_chain_heads() == 1
    read(world, world.a.users["counselor"], "own")
    assert record_chain_heads() == 1
    lines = anchor_file.read_text().splitlines()
    assert [json.loads(line)["anchor"]["sequence"] for line in lines] == [3, 4]
    anchors, forged = read_anchors()
    assert [a.entry_hash for a in anchors] == list(
        AccessEvent.unscoped.filter(sequence__in=[3, 4])
        .order_by("sequence")
        .values_list("entry_hash", flat=True)
    )
    assert forged == []


def test_a_changed_event_is_reported_as_the_first_broken_link(world):
    events = three_reads(world)
    behind_the_triggers(
        ("UPDATE access_accessevent SET purpose = 'edited' WHERE id = %s", [events[1].pk])
    )
    out, passed = verify()
    assert not passed
    assert "the first broken link is the event at sequence 2 (of 3)" in out


def test_a_rewritten_chain_verifies_alone_but_not_against_its_anchor(world):
    events = three_reads(world)
    record_chain_heads()
    # Rewrite the second event and every hash after it, and the head: a consistent chain.
    statements = [
        ("UPDATE access_accessevent SET purpose = 'edited' WHERE id = %s", [events[1].pk])
    ]
    previous = events[0].entry_hash
    for event in events[1:]:
        event.refresh_from_db()
        event.prev_hash = previous
        event.purpose = event.purpose if event.pk != events[1].pk else "edited"
        event.entry_hash = _entry_hash(event, hashed_students(event))
        statements.append(
            (
                "UPDATE access_accessevent SET prev_hash = %s, entry_hash = %s WHERE id = %s",
                [event.prev_hash, event.entry_hash, event.pk],
            )
        )
        previous = event.entry_hash
    statements.append(
        (
            "UPDATE access_auditchain SET last_hash = %s WHERE district_id = %s",
            [previous, world.a.district.pk],
        )
    )
    behind_the_triggers(*statements)
    assert verify_chain(world.a.district.pk) is None  # on its own, the chain verifies
    out, passed = verify()
    assert not passed
    assert "the event at sequence 3 is not the one anchored on" in out


def test_a_forged_anchor_line_is_reported(world, anchor_file):
    three_reads(world)
    record_chain_heads()
    record = json.loads(anchor_file.read_text())
    record["anchor"]["hash"] = "0" * 64
    with anchor_file.open("a") as anchors:
        anchors.write(json.dumps(record) + "\n")
        anchors.write("not json\n")
    out, passed = verify()
    assert not passed
    assert "line 2: the signature does not verify." in out
    assert "line 3: the signature does not verify." in out


def test_one_district_alone_and_an_unknown_one(world):
    three_reads(world)
    out, passed = verify(district=world.a.district.slug)
    assert passed and world.b.district.slug not in out
    with pytest.raises(CommandError, match="No district"):
        call_command("verify_audit_chain", district="nowhere")
    assert AuditChain.unscoped.filter(district=world.a.district).exists()
