"""Anchors of the access log's hash chains, kept where the database cannot rewrite them.

The chain (access/audit.py) proves that no event was changed or removed, but only to
someone who trusts its last hash: whoever can rewrite the database can rewrite the
whole chain, hashes and head included, and it verifies again. So a nightly task
(``access.anchor_audit_chains``) appends each district's head — sequence and hash — to
a file outside the database (``AUDIT_ANCHOR_PATH``), each line signed with an HMAC under
a key the database never holds (``AUDIT_ANCHOR_KEY``). ``manage.py verify_audit_chain``
checks the chain and that every anchor still names the same event hash: a rewrite of
the chain up to an anchored event then shows, and so does a forged anchor line.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from access.audit import reads_pruned_before
from access.models import AccessEvent, AuditChain


@dataclass(frozen=True)
class Anchor:
    district_id: int
    sequence: int
    entry_hash: str
    recorded_at: str


def anchor_path() -> Path:
    return Path(settings.AUDIT_ANCHOR_PATH)


def record_chain_heads() -> int:
    """Append every district's chain head to the anchor file, unless it is the head the
    file anchored last for that district; how many were written. Two runs at once (a
    message delivered twice) take turns on the file: neither interleaves the other's
    lines, and the second finds the heads anchored."""
    if not AuditChain.unscoped.filter(last_sequence__gt=0).exists():
        return 0
    path = anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Appended, never rewritten; flushed to disk before the task reports success.
    with path.open("a", encoding="utf-8") as anchors:
        fcntl.flock(anchors.fileno(), fcntl.LOCK_EX)  # released when the file is closed
        # Read under the lock: a run that waited for it never appends an older head.
        heads = list(AuditChain.unscoped.filter(last_sequence__gt=0).order_by("district_id"))
        last = {anchor.district_id: anchor for anchor in read_anchors()[0]}
        now = timezone.now().isoformat()
        lines = [
            _signed(Anchor(head.district_id, head.last_sequence, head.last_hash, now))
            for head in heads
            if _unanchored(head, last.get(head.district_id))
        ]
        if lines:
            anchors.write("".join(line + "\n" for line in lines))
            anchors.flush()
            os.fsync(anchors.fileno())
    return len(lines)


def _unanchored(head: AuditChain, last: Anchor | None) -> bool:
    return last is None or (last.sequence, last.entry_hash) != (head.last_sequence, head.last_hash)


def read_anchors() -> tuple[list[Anchor], list[int]]:
    """The anchors whose signature verifies, and the line numbers of those that do not."""
    path = anchor_path()
    if not path.exists():
        return [], []
    anchors, forged = [], []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            anchor = _verified(line)
            if anchor is None:
                forged.append(number)
            else:
                anchors.append(anchor)
    return anchors, forged


def mismatched_anchors(district_id: int, anchors: list[Anchor]) -> list[Anchor]:
    """The district's anchors whose event is missing or hashes differently now; an event
    missing because the access log's retention dropped its month is not a mismatch."""
    mine = [anchor for anchor in anchors if anchor.district_id == district_id]
    if not mine:
        return []
    stored = dict(
        AccessEvent.unscoped.filter(
            district_id=district_id, sequence__in={anchor.sequence for anchor in mine}
        ).values_list("sequence", "entry_hash")
    )
    pruned_before = reads_pruned_before()
    return [
        anchor
        for anchor in mine
        if stored.get(anchor.sequence) != anchor.entry_hash
        and not (anchor.sequence not in stored and _dropped_by_retention(anchor, pruned_before))
    ]


def _dropped_by_retention(anchor: Anchor, pruned_before: datetime | None) -> bool:
    """Whether the anchored event can be a read the retention dropped: it was anchored
    (and so happened) before the end of the last month of reads dropped."""
    return pruned_before is not None and datetime.fromisoformat(anchor.recorded_at) < pruned_before


def _payload(anchor: Anchor) -> str:
    return json.dumps(
        {
            "district": anchor.district_id,
            "sequence": anchor.sequence,
            "hash": anchor.entry_hash,
            "recorded_at": anchor.recorded_at,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def _mac(payload: str) -> str:
    key = settings.AUDIT_ANCHOR_KEY.encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def _signed(anchor: Anchor) -> str:
    payload = _payload(anchor)
    return json.dumps({"anchor": json.loads(payload), "mac": _mac(payload)}, sort_keys=True)


def _verified(line: str) -> Anchor | None:
    try:
        record = json.loads(line)
        fields = record["anchor"]
        anchor = Anchor(
            int(fields["district"]),
            int(fields["sequence"]),
            str(fields["hash"]),
            str(fields["recorded_at"]),
        )
        mac = str(record["mac"])
    except (ValueError, KeyError, TypeError):
        return None
    return anchor if hmac.compare_digest(mac, _mac(_payload(anchor))) else None
