"""The access log: every read of student PII recorded, batched, hash-chained.

``record_reads`` writes one ``AccessEvent`` and one bulk insert of its students per
group of students read alike (same categories, same roles) — one group for nearly
every page, whatever its size — after locking the district's chain head so each
event carries the hash of the one before (REQUIREMENTS 19). ``verify_chain``
recomputes the chain and names the first entry that does not match.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from access import policy
from access.models import (
    AccessEvent,
    AccessEventStudent,
    AuditChain,
    EmergencyAccess,
    PrunedLogMonth,
)
from access.scoping import Allowed
from access.viewer import Viewer
from records.partitions import MONTH, period_of


@dataclass(frozen=True)
class Disclosure:
    """A read by a party outside the family and the school's officials (99.32)."""

    party: str
    legal_basis: str  # the 99.31 paragraph, e.g. "99.31(a)(1)(i)(B)"
    # A provider's read: its grant, and its students kept as one id array on the event.
    grant_id: int | None = None


def _payload(event: AccessEvent, student_ids: list[int]) -> dict:
    return {
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
    } | (
        ({"grant": event.grant_id} if event.grant_id is not None else {})
        | ({"study": event.study_id} if event.study_id is not None else {})
    )


def _entry_hash(event: AccessEvent, student_ids: list[int]) -> str:
    encoded = json.dumps(_payload(event, student_ids), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


# Stand-ins for the two values only the chain head knows. Their encoding (a quoted NUL
# escape) could only come from a text that is exactly the stand-in, and PostgreSQL
# stores no NUL; were one to appear twice, the split below raises (fails closed).
_PREV_MARK, _SEQUENCE_MARK = "\0prev", "\0sequence"
_PREV_ENCODED, _SEQUENCE_ENCODED = json.dumps(_PREV_MARK), json.dumps(_SEQUENCE_MARK)


def _hash_parts(event: AccessEvent, student_ids: list[int]) -> tuple[str, str, str]:
    """The text ``_entry_hash`` hashes, cut around the two values only the locked chain
    head knows: ``before + prev_hash + between + sequence + after`` is that text, so the
    database can hash an event as it appends it, in the same statement."""
    payload = _payload(event, student_ids) | {"prev_hash": _PREV_MARK, "sequence": _SEQUENCE_MARK}
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    before, rest = encoded.split(_PREV_ENCODED)
    between, after = rest.split(_SEQUENCE_ENCODED)
    return before + '"', '"' + between, after


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
    """Append one event per read, each carrying the hash of the district's one before."""
    reads = [read for read in reads if read.student_ids]
    if not reads or viewer.district is None:
        return []
    return _append_events(
        [
            (_event(viewer, read, disclosure or _emergency_disclosure(viewer, read)), read)
            for read in _with_emergency_reasons(viewer, reads)
        ]
    )


def record_disclosures(
    viewer: Viewer, disclosed: list[tuple[Read, Disclosure]]
) -> list[AccessEvent]:
    """Append one event per read, each its own disclosure (a provider's page read under
    two grants), all in one round trip."""
    disclosed = [(read, disclosure) for read, disclosure in disclosed if read.student_ids]
    if not disclosed or viewer.district is None:
        return []
    return _append_events([(_event(viewer, read, d), read) for read, d in disclosed])


def _append_events(events: list[tuple[AccessEvent, Read]]) -> list[AccessEvent]:
    if connection.vendor == "postgresql":
        _append_in_one_round_trip(events)
    else:
        for event, read in events:
            _append(event, read.student_ids, listed=_listed(event))
    return [event for event, _ in events]


def _listed(event: AccessEvent) -> bool:
    """Whether the event's students get a row each (``AccessEventStudent``): a provider's
    read and a study's release keep theirs in the event's id array instead."""
    return event.grant_id is None and event.study_id is None


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


def _with_emergency_reasons(viewer: Viewer, reads: list[Read]) -> list[Read]:
    """Reads through break-glass, split so that each student's event carries the reasons
    of the viewer's grants for that student alone: the threat 99.32(a)(5) requires
    recorded with the disclosure, and the family reads it. A reason written about one
    child never reaches another child's record. One query, only when there are any."""
    emergency_ids = sorted(
        {pk for read in reads if "emergency" in read.roles for pk in read.student_ids}
    )
    if not emergency_ids:
        return reads
    now = timezone.now()
    grants = (
        EmergencyAccess.unscoped.filter(
            district_id=viewer.district_id,
            requested_by=viewer.user,
            student_id__in=emergency_ids,
            granted_at__lte=now,
            expires_at__gt=now,
        )
        .order_by("pk")
        .values_list("student_id", "reason")
    )
    reasons: dict[int, dict[str, None]] = {}
    for student_id, reason in grants:
        reasons.setdefault(student_id, {})[reason] = None
    split = []
    for read in reads:
        if "emergency" not in read.roles:
            split.append(read)
            continue
        by_reason: dict[str, list[int]] = {}
        for student_id in read.student_ids:
            text = " | ".join(reasons.get(student_id, {}))
            by_reason.setdefault(f"emergency: {text}"[:200], []).append(student_id)
        split.extend(
            replace(read, student_ids=tuple(ids), purpose=purpose)
            for purpose, ids in by_reason.items()
        )
    return split


def _event(viewer, read: Read, disclosure) -> AccessEvent:
    """The event for ``read``, not yet placed in the chain (no sequence or hashes)."""
    roles = sorted(read.roles) or sorted({route.label for route in viewer.routes})
    return AccessEvent(
        district_id=viewer.district_id,
        occurred_at=timezone.now(),
        actor=viewer.user,
        actor_username=viewer.actor_name,
        actor_roles=",".join(roles),
        purpose=read.purpose or "; ".join(sorted({policy.purpose_of(role) for role in roles})),
        categories=sorted(read.categories),
        student_count=len(read.student_ids),
        is_disclosure=disclosure is not None,
        party=disclosure.party if disclosure else "",
        legal_basis=disclosure.legal_basis if disclosure else "",
        grant_id=disclosure.grant_id if disclosure else None,
        disclosed_student_ids=list(read.student_ids) if disclosure and disclosure.grant_id else [],
    )


def _append(event: AccessEvent, student_ids: tuple[int, ...], *, listed: bool = True) -> None:
    """Lock the district's chain head, hash the event onto it, store both. ``listed``:
    a row per student (else they are the event's own id array)."""
    with transaction.atomic():
        chain, _ = AuditChain.unscoped.select_for_update().get_or_create(
            district_id=event.district_id
        )
        event.sequence, event.prev_hash = chain.last_sequence + 1, chain.last_hash
        event.entry_hash = _entry_hash(event, list(student_ids))
        event.save(force_insert=True)
        AccessEventStudent.unscoped.bulk_create(
            AccessEventStudent(
                district_id=event.district_id,
                event=event,
                student_id=student_id,
                occurred_at=event.occurred_at,
                is_disclosure=event.is_disclosure,
            )
            for student_id in (student_ids if listed else ())
        )
        # The head advances one event at a time: its trigger refuses any other step.
        AuditChain.unscoped.filter(district_id=event.district_id, pk=chain.pk).update(
            last_sequence=event.sequence, last_hash=event.entry_hash
        )


# Columns the caller fills; the chain's three come from the locked head.
_CHAINED = ("sequence", "prev_hash", "entry_hash")
_GIVEN = [
    field
    for field in AccessEvent._meta.concrete_fields
    if not field.primary_key and field.name not in _CHAINED
]


# The append's parameters in order: the district, the hashed text around the head's two
# values, the students, then each column the caller fills.
_PARAMETERS = ("bigint", "text", "text", "text", "bigint[]")
_PREPARED = "access_log_append"


@functools.cache
def _append_sql() -> str:
    """Lock the head, hash the event onto it, insert the event and its students, advance
    the head: one statement, one round trip. Names come from the models, never input."""
    columns = ", ".join([*(f'"{field.column}"' for field in _GIVEN), *_CHAINED])
    given = ", ".join(f"${len(_PARAMETERS) + 1 + i}" for i in range(len(_GIVEN)))
    return f"""
        WITH head AS (
            SELECT id, last_sequence + 1 AS sequence, last_hash AS prev_hash
            FROM "{AuditChain._meta.db_table}" WHERE district_id = $1 FOR UPDATE
        ), hashed AS (
            SELECT id AS head_id, sequence, prev_hash, encode(sha256(convert_to(
                $2 || prev_hash || $3 || sequence::text || $4, 'UTF8'
            )), 'hex') AS entry_hash
            FROM head
        ), event AS (
            INSERT INTO "{AccessEvent._meta.db_table}" ({columns})
            SELECT {given}, sequence, prev_hash, entry_hash FROM hashed
            RETURNING id, sequence, prev_hash, entry_hash, occurred_at, is_disclosure
        ), students AS (
            INSERT INTO "{AccessEventStudent._meta.db_table}"
                (district_id, event_id, occurred_at, is_disclosure, student_id)
            SELECT $1, event.id, event.occurred_at, event.is_disclosure, unnest($5) FROM event
        ), advanced AS (
            UPDATE "{AuditChain._meta.db_table}" AS chain
            SET last_sequence = event.sequence, last_hash = event.entry_hash
            FROM event, hashed WHERE chain.district_id = $1 AND chain.id = hashed.head_id
        )
        SELECT id, sequence, prev_hash, entry_hash FROM event
    """  # noqa: S608


def _prepare_append(cursor) -> None:
    """Prepared once per database session, so each read's log write skips parsing and
    planning it (a third of its cost in the database). Needs session-level connections,
    as Django's are: a pooler in transaction mode would lose it."""
    types = [*_PARAMETERS, *(field.cast_db_type(connection) for field in _GIVEN)]
    cursor.execute(f"PREPARE {_PREPARED} ({', '.join(types)}) AS {_append_sql()}")
    connection.access_log_prepared = True


def forget_prepared(sender, connection, **kwargs) -> None:
    """A new database session has no prepared statement (connected in AccessConfig)."""
    connection.access_log_prepared = False


# A district's chain head, made the first time it is needed (nothing if it exists).
_HEAD_SQL = (
    f'INSERT INTO "{AuditChain._meta.db_table}" (district_id, last_sequence, last_hash) '  # noqa: S608
    f"VALUES (%s, 0, '{'0' * 64}') ON CONFLICT (district_id) DO NOTHING"
)

# The last events of a district's chain, read back while this transaction holds its head.
_LAST_EVENTS_SQL = (
    f'SELECT id, sequence, prev_hash, entry_hash FROM "{AccessEvent._meta.db_table}" '  # noqa: S608
    "WHERE district_id = %s AND sequence > (SELECT last_sequence - %s FROM "
    f'"{AuditChain._meta.db_table}" WHERE district_id = %s) ORDER BY sequence'
)


def _append_in_one_round_trip(events: list[tuple[AccessEvent, Read]]) -> None:
    """PostgreSQL: each event appended by the prepared statement, all of them sent as one
    query (one transaction of its own, or part of the caller's): one round trip and one
    commit for a page, however many events it makes."""
    executes, params = [], []
    for event, read in events:
        ids = list(read.student_ids)
        before, between, after = _hash_parts(event, ids)
        values = [event.district_id, before, between, after, ids if _listed(event) else []]
        values += [f.get_db_prep_save(getattr(event, f.attname), connection) for f in _GIVEN]
        executes.append(f"EXECUTE {_PREPARED} ({', '.join(['%s'] * len(values))})")
        params += values
    district_id = events[0][0].district_id
    # The district's chain head first, if it has none yet, in the same transaction: every
    # EXECUTE then appends (were the head made by another request while this query ran,
    # an EXECUTE before it would append nothing and one after it would).
    executes.insert(0, _HEAD_SQL)
    params[:0] = [district_id]
    if len(events) > 1:
        # The last EXECUTE answers only its own event; the head stays locked by this
        # transaction, so the events just under it are this query's.
        executes.append(_LAST_EVENTS_SQL)
        params += [district_id, len(events), district_id]
    query = "; ".join(executes)
    with connection.cursor() as cursor:
        if not getattr(connection, "access_log_prepared", False):
            _prepare_append(cursor)
        cursor.execute(query, params)
        rows = cursor.fetchall()
    for (event, _), row in zip(events, rows, strict=True):
        event.pk, event.sequence, event.prev_hash, event.entry_hash = row
        event._state.adding, event._state.db = False, connection.alias


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


STUDY_RELEASE_PURPOSE = "de-identified release for the study {title}"


def record_study_release(
    *, study, version, actor, student_ids, categories, legal_basis: str
) -> AccessEvent:
    """One extract of a study, recorded once in the record of disclosures of every
    student it holds (their ids in the event's array): a de-identified release to the
    study's institution under the agreement's legal basis (99.31(a)(6) or (a)(3))."""
    ids = tuple(sorted(set(student_ids)))
    event = AccessEvent(
        district_id=study.district_id,
        occurred_at=timezone.now(),
        actor=actor,
        actor_username=actor.get_username() if actor else "",
        actor_roles="researcher",
        purpose=STUDY_RELEASE_PURPOSE.format(title=version.title)[:200],
        categories=sorted(categories),
        student_count=len(ids),
        is_disclosure=True,
        party=f"{version.institution} (study: {version.title})"[:200],
        legal_basis=legal_basis,
        study_id=study.pk,
        disclosed_student_ids=list(ids),
    )
    return _append_events([(event, Read(ids, frozenset(categories), frozenset({"researcher"})))])[0]


def reads_pruned_before() -> datetime | None:
    """The end of the last month of reads dropped by the retention, if any was."""
    last = PrunedLogMonth.objects.aggregate(last=Max("month"))["last"]
    if last is None:
        return None
    return datetime.combine(period_of(MONTH, last).upper, time.min, tzinfo=UTC)


def _pruned_gap(last_time: datetime | None, pruned_before: datetime | None) -> bool:
    """Whether missing events after one at ``last_time`` (``None``: the chain's start)
    can be reads the retention dropped: only if the gap opens before the dropped months
    end. Events are appended in time order, so what is missing came after ``last_time``."""
    return pruned_before is not None and (last_time is None or last_time < pruned_before)


def verify_chain(district_id: int, *, chunk_size: int = 2000) -> int | None:
    """The sequence of the first event whose hash does not verify, or ``None`` if all do.

    Events cut from the end would leave a valid shorter chain, so the chain head's
    last sequence and hash must also match the last event: if they don't, the
    answer is the first missing sequence. Reads the log in chunks of events, so a
    district's whole history never sits in memory at once.

    Reads older than the retention (``ACCESS_LOG_RETENTION_MONTHS``) are dropped a month
    at a time: a gap that opens in a dropped month is theirs, and the event after it is
    checked against its own recorded predecessor (disclosures are all still there).
    """
    expected_prev, last_sequence, last_time = "0" * 64, 0, None
    pruned_before = reads_pruned_before()
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
                if not _pruned_gap(last_time, pruned_before):
                    return last_sequence + 1
                expected_prev = event.prev_hash  # its predecessor is gone with the gap
            if event.prev_hash != expected_prev:
                return event.sequence
            students = students_by_event.get(event.pk) or event.disclosed_student_ids
            if _entry_hash(event, students) != event.entry_hash:
                return event.sequence
            expected_prev, last_sequence = event.entry_hash, event.sequence
            last_time = event.occurred_at
    head = AuditChain.unscoped.filter(district_id=district_id).first()
    if head is not None and (head.last_sequence, head.last_hash) != (last_sequence, expected_prev):
        return last_sequence + 1
    return None
