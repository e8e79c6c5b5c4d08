"""The access log: every read of student PII recorded, batched, hash-chained.

``record_reads`` writes one ``AccessEvent`` and one bulk insert of its students per
group of students read alike (same categories, same roles) — one group for nearly
every page, whatever its size — after locking the district's chain head so each
event carries the hash of the one before (REQUIREMENTS 19). ``verify_chain``
recomputes the chain and names the first entry that does not match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from access import policy
from access.models import AccessEvent, AccessEventStudent, AuditChain, EmergencyAccess
from access.scoping import Allowed
from access.viewer import Viewer


@dataclass(frozen=True)
class Disclosure:
    """A read by a party outside the family and the school's officials (99.32)."""

    party: str
    legal_basis: str  # the 99.31 paragraph, e.g. "99.31(a)(1)(i)(B)"


def _entry_hash(event: AccessEvent, student_ids: list[int]) -> str:
    payload = {
        "district": event.district_id,
        "sequence": event.sequence,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": event.actor_id,
        "actor_username": event.actor_username,
        "actor_roles": event.actor_roles,
        "purpose": event.purpose,
        "categories": sorted(event.categories),
        "students": sorted(student_ids),
        "student_count": event.student_count,
        "is_disclosure": event.is_disclosure,
        "party": event.party,
        "legal_basis": event.legal_basis,
        "prev_hash": event.prev_hash,
    }
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


@dataclass(frozen=True)
class Read:
    """Students read with the same categories through the same roles: one event."""

    student_ids: tuple[int, ...]
    categories: frozenset[str]
    roles: frozenset[str]
    purpose: str = ""  # derived from the roles when empty


def reads_of_page(allowed_by_id: Mapping[int, Allowed], *, purpose: str = "") -> list[Read]:
    """Group a page's students by what was shown of them and through which roles;
    ``purpose``, when given, is the one declared for the read (else the roles' own)."""
    groups: dict[tuple[frozenset[str], frozenset[str]], list[int]] = {}
    for student_id, allowed in allowed_by_id.items():
        if allowed.categories:
            groups.setdefault((allowed.categories, allowed.via), []).append(student_id)
    return [
        Read(tuple(sorted(ids)), categories, roles, purpose)
        for (categories, roles), ids in sorted(groups.items(), key=lambda g: min(g[1]))
    ]


def record_reads(
    viewer: Viewer, reads: list[Read], *, disclosure: Disclosure | None = None
) -> list[AccessEvent]:
    """Append one event per read, all under one lock of the district's chain head."""
    reads = [read for read in reads if read.student_ids]
    if not reads or viewer.district is None:
        return []
    district_id = viewer.district_id
    events = []
    with transaction.atomic():
        chain, _ = AuditChain.unscoped.select_for_update().get_or_create(district_id=district_id)
        sequence, prev_hash = chain.last_sequence, chain.last_hash
        for read in reads:
            sequence += 1
            event = _append(
                viewer, read, sequence, prev_hash, disclosure or _emergency_disclosure(viewer, read)
            )
            events.append(event)
            prev_hash = event.entry_hash
            # The head advances one event at a time: its trigger refuses any other step.
            AuditChain.unscoped.filter(district_id=district_id, pk=chain.pk).update(
                last_sequence=sequence, last_hash=prev_hash
            )
    return events


def _emergency_disclosure(viewer: Viewer, read: Read) -> Disclosure | None:
    """A read through break-glass access is a disclosure in a health or safety emergency
    (34 CFR 99.31(a)(10)), which 99.32(a)(5) requires to be recorded: the party and,
    as the purpose, the threat the request described."""
    if "emergency" not in read.roles:
        return None
    user = viewer.user
    name = user.get_full_name() or user.get_username()
    return Disclosure(
        party=f"{name} (school staff, emergency access)"[:200],
        legal_basis=policy.EMERGENCY_LEGAL_BASIS,
    )


def _emergency_purpose(viewer: Viewer, read: Read) -> str:
    """The reasons of the viewer's unexpired grants for these students: the threat
    99.32(a)(5) requires recorded with an emergency disclosure."""
    now = timezone.now()
    reasons = (
        EmergencyAccess.unscoped.filter(
            district_id=viewer.district_id,
            requested_by=viewer.user,
            student_id__in=read.student_ids,
            granted_at__lte=now,
            expires_at__gt=now,
        )
        .order_by("pk")
        .values_list("reason", flat=True)
    )
    return f"emergency: {' | '.join(dict.fromkeys(reasons))}"[:200]


def _append(viewer, read: Read, sequence: int, prev_hash: str, disclosure) -> AccessEvent:
    roles = sorted(read.roles) or sorted({route.label for route in viewer.routes})
    if "emergency" in read.roles and not read.purpose:
        read = Read(read.student_ids, read.categories, read.roles, _emergency_purpose(viewer, read))
    event = AccessEvent(
        district_id=viewer.district_id,
        sequence=sequence,
        occurred_at=timezone.now(),
        actor=viewer.user,
        actor_username=viewer.user.get_username(),
        actor_roles=",".join(roles),
        purpose=read.purpose or "; ".join(sorted({policy.purpose_of(role) for role in roles})),
        categories=sorted(read.categories),
        student_count=len(read.student_ids),
        is_disclosure=disclosure is not None,
        party=disclosure.party if disclosure else "",
        legal_basis=disclosure.legal_basis if disclosure else "",
        prev_hash=prev_hash,
    )
    event.entry_hash = _entry_hash(event, list(read.student_ids))
    event.save(force_insert=True)
    _insert_event_students(event, read.student_ids)
    return event


def _insert_event_students(event: AccessEvent, student_ids: tuple[int, ...]) -> None:
    """One INSERT for all of an event's students (no model instance per row)."""
    if connection.vendor != "postgresql":
        AccessEventStudent.unscoped.bulk_create(
            AccessEventStudent(district_id=event.district_id, event=event, student_id=student_id)
            for student_id in student_ids
        )
        return
    table = AccessEventStudent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (district_id, event_id, student_id) '
            "SELECT %s, %s, unnest(%s::bigint[])",
            [event.district_id, event.pk, list(student_ids)],
        )


def record_access(
    viewer: Viewer,
    *,
    student_ids: Iterable[int],
    categories: Iterable[str],
    purpose: str,
    roles: Iterable[str] = (),
    disclosure: Disclosure | None = None,
) -> AccessEvent | None:
    """Append one event for one read of ``student_ids``; nothing read, nothing logged."""
    read = Read(tuple(sorted(set(student_ids))), frozenset(categories), frozenset(roles), purpose)
    events = record_reads(viewer, [read], disclosure=disclosure)
    return events[0] if events else None


def verify_chain(district_id: int, *, chunk_size: int = 2000) -> int | None:
    """The sequence of the first event whose hash does not verify, or ``None`` if all do.

    Events cut from the end would leave a valid shorter chain, so the chain head's
    last sequence and hash must also match the last event: if they don't, the
    answer is the first missing sequence. Reads the log in chunks of events, so a
    district's whole history never sits in memory at once.
    """
    expected_prev, last_sequence = "0" * 64, 0
    events = AccessEvent.unscoped.filter(district_id=district_id).order_by("sequence")
    while True:
        chunk = list(events.filter(sequence__gt=last_sequence)[:chunk_size])
        if not chunk:
            break
        students_by_event: dict[int, list[int]] = {}
        rows = AccessEventStudent.unscoped.filter(
            district_id=district_id, event_id__in=[event.pk for event in chunk]
        ).values_list("event_id", "student_id")
        for event_id, student_id in rows:
            students_by_event.setdefault(event_id, []).append(student_id)
        for event in chunk:
            if event.sequence != last_sequence + 1:
                return last_sequence + 1
            if event.prev_hash != expected_prev:
                return event.sequence
            if _entry_hash(event, students_by_event.get(event.pk, [])) != event.entry_hash:
                return event.sequence
            expected_prev, last_sequence = event.entry_hash, event.sequence
    head = AuditChain.unscoped.filter(district_id=district_id).first()
    if head is not None and (head.last_sequence, head.last_hash) != (last_sequence, expected_prev):
        return last_sequence + 1
    return None
