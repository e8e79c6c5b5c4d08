"""Families' FERPA requests: directory opt-outs (99.37) and requests to inspect (99.10).

Services (writes, with ``actor=``) and selectors (reads) kept beside ``services.py``
rather than in it. Callers have already asked ``access/`` whether the actor may act
on the student; these functions only record what was decided.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from records.models import (
    DirectoryOptOut,
    DirectoryOptOutChange,
    District,
    InspectionRequest,
)


def directory_opt_out_list(*, district_id: int, student_id: int) -> set[str]:
    """The directory fields (or ``*``) the student is opted out of now."""
    return set(
        DirectoryOptOut.unscoped.filter(district_id=district_id, student_id=student_id).values_list(
            "field", flat=True
        )
    )


def directory_opt_outs_set(
    *,
    actor,
    district_id: int,
    student_id: int,
    offered: Iterable[str],
    opted_out: Iterable[str],
    now: datetime | None = None,
) -> list[DirectoryOptOutChange]:
    """Make the student's opt-outs among ``offered`` exactly ``opted_out``; return the changes.

    Opting out adds a ``DirectoryOptOut`` row, opting back in deletes it, and each
    change is also appended to ``DirectoryOptOutChange`` with who and when. Fields
    not offered (no longer designated, say) keep whatever was chosen for them.
    """
    offered, wanted = set(offered), set(opted_out)
    if not wanted <= offered:
        raise ValidationError(f"Not offered: {sorted(wanted - offered)}")
    now = now or timezone.now()
    with transaction.atomic():
        rows = DirectoryOptOut.unscoped.select_for_update().filter(
            district_id=district_id, student_id=student_id, field__in=sorted(offered)
        )
        current = {row.field for row in rows}
        added, removed = sorted(wanted - current), sorted(current - wanted)
        if removed:
            rows.filter(field__in=removed).delete()
        DirectoryOptOut.unscoped.bulk_create(
            DirectoryOptOut(
                district_id=district_id, student_id=student_id, field=name, chosen_by=actor
            )
            for name in added
        )
        changes = [
            DirectoryOptOutChange(
                district_id=district_id,
                student_id=student_id,
                field=name,
                opted_out=name in wanted,
                changed_by=actor,
                changed_at=now,
            )
            for name in sorted(added + removed)
        ]
        return DirectoryOptOutChange.unscoped.bulk_create(changes)


def inspection_request_create(
    *,
    actor,
    district: District,
    student_id: int,
    description: str,
    preference: str,
    now: datetime | None = None,
) -> InspectionRequest:
    """Open a request, due ``district.inspection_due_days`` after today in the district."""
    now = now or timezone.now()
    return InspectionRequest.unscoped.create(
        district=district,
        student_id=student_id,
        requested_by=actor,
        description=description,
        preference=preference,
        due_on=district.today(at=now) + timedelta(days=district.inspection_due_days),
        created_at=now,
    )


def inspection_request_list(*, district_id: int, student_id: int) -> QuerySet[InspectionRequest]:
    """A student's requests, newest first."""
    return (
        InspectionRequest.unscoped.filter(district_id=district_id, student_id=student_id)
        .select_related("requested_by")
        .order_by("-created_at", "-id")
    )


CLOSED_STATUSES = (InspectionRequest.Status.FULFILLED, InspectionRequest.Status.DECLINED)


def inspection_request_close(
    *,
    actor,
    district_id: int,
    request_id: int,
    status: str,
    note: str,
    now: datetime | None = None,
) -> InspectionRequest:
    """Mark an open request fulfilled or declined, with a note; a closed one stays closed."""
    if status not in CLOSED_STATUSES:
        raise ValidationError(f"Not a closing status: {status!r}")
    with transaction.atomic():
        item = InspectionRequest.unscoped.select_for_update().get(
            district_id=district_id, pk=request_id
        )
        if item.status != InspectionRequest.Status.OPEN:
            raise ValidationError("This request is already closed.", code="closed")
        item.status = status
        item.note = note
        item.closed_by = actor
        item.closed_at = now or timezone.now()
        item.save(update_fields=["status", "note", "closed_by", "closed_at"])
    return item
