"""Access decisions and projected students, kept in the cache between requests.

A repeated read (an app polling a roster, a teacher reloading a class) need not decide
access again nor rebuild each student object, as long as nothing they depend on has
changed. Keys name the epochs they were computed under (access/epochs.py): the
district's, which every change to who-sees-whom moves, and for a projected student
also their own, which every write to their records moves. So a hit is always what a
fresh computation would give now; a change misses from the next request on. The
access log is written on every read, hit or not.

Nothing is cached for a viewer without an epoch (SQLite, caching off, or a viewer
built for another day), nor after the viewer's routes stop holding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from django.utils import timezone

from access import caches, epochs
from access.projection import project_students
from access.scoping import Allowed
from access.viewer import Viewer
from records.models import Student


@dataclass(frozen=True)
class PageDecision:
    """One page of a student list as access decided it: who, in order, and what of each.
    ``key`` names it in the cache ("" when it is not cached)."""

    student_ids: tuple[int, ...]
    allowed: dict[int, Allowed]
    count: int
    number: int
    key: str = ""


def _cacheable(viewer: Viewer) -> bool:
    return (
        viewer.cache_epoch is not None
        and viewer.valid_until is not None
        and viewer.valid_until > timezone.now()
    )


def page_decision(
    viewer: Viewer, params: tuple, decide: Callable[[], PageDecision]
) -> PageDecision:
    """The page ``params`` (a tuple of plain values: filters, page, size) names for this
    viewer: from the cache, or ``decide()``d and kept."""
    if not _cacheable(viewer):
        return decide()
    # The routes' end names them: an expired emergency grant leaves the same epoch but a
    # rebuilt viewer, whose pages are not the old ones.
    routes = f"{viewer.today}:{viewer.valid_until.timestamp()}"
    key = f"page:{viewer.district_id}:{viewer.cache_epoch}:{viewer.user.pk}:{routes}"
    key = f"{key}:{_digest(params)}"
    cached = caches.get(key)
    if isinstance(cached, PageDecision):
        return cached
    decided = decide()
    # Students read alike share one Allowed, so the cache stores (and loads) it once.
    shared = {allowed: allowed for allowed in decided.allowed.values()}
    allowed = {pk: shared[each] for pk, each in decided.allowed.items()}
    decision = replace(decided, allowed=allowed, key=key)
    caches.put(key, decision, viewer.cache_seconds())
    return decision


def rendered_page(
    viewer: Viewer,
    decision: PageDecision,
    render: Callable[[list[dict]], bytes],
    *,
    students: Sequence[Student] = (),
) -> bytes:
    """The page's students, projected and ``render``ed, kept as rendered while none of
    their own epochs moved: a repeated read re-renders nothing."""
    if not decision.key or not _cacheable(viewer):
        ids, allowed = decision.student_ids, decision.allowed
        return render(projected_students(viewer, ids, allowed, students=students))
    own_epochs = epochs.student_epochs(viewer.district_id, decision.student_ids)
    marks = tuple(own_epochs[pk] for pk in decision.student_ids)
    key = f"rendered:{decision.key}:{_digest(marks)}"
    cached = caches.get_local(key)
    if isinstance(cached, bytes):
        return cached
    projected = projected_students(
        viewer, decision.student_ids, decision.allowed, students=students, own_epochs=own_epochs
    )
    body = render(projected)
    caches.put_local(key, body, viewer.cache_seconds())
    return body


def projected_students(
    viewer: Viewer,
    student_ids: Sequence[int],
    allowed_by_id: dict[int, Allowed],
    *,
    students: Sequence[Student] = (),
    detail: bool = False,
    own_epochs: dict[int, int] | None = None,
) -> list[dict]:
    """``project_students`` for these students, each reused from the cache while their
    own epoch and the district's stand. ``students`` may hold rows already loaded;
    ``own_epochs`` the students' epochs if already read."""
    if not _cacheable(viewer):
        rows = students or _rows(viewer, student_ids)
        return project_students(viewer, rows, allowed_by_id, detail=detail)
    if own_epochs is None:
        own_epochs = epochs.student_epochs(viewer.district_id, student_ids)
    shown = {allowed: _shown(allowed) for allowed in set(allowed_by_id.values())}
    prefix = f"student:{viewer.district_id}:{viewer.cache_epoch}:{viewer.today}:{int(detail)}"
    keys = {pk: f"{prefix}:{pk}:{own_epochs[pk]}:{shown[allowed_by_id[pk]]}" for pk in student_ids}
    found = caches.get_many_local(list(keys.values()))
    missing = [pk for pk in student_ids if keys[pk] not in found]
    if missing:
        loaded = {student.pk: student for student in students}
        rows = [loaded[pk] for pk in missing if pk in loaded]
        if len(rows) < len(missing):
            rows = _rows(viewer, missing)
        fresh = project_students(
            viewer, rows, {pk: allowed_by_id[pk] for pk in missing}, detail=detail
        )
        made = {keys[item["id"]]: item for item in fresh}
        caches.put_many_local(made, viewer.cache_seconds())
        found.update(made)
    return [found[keys[pk]] for pk in student_ids if keys[pk] in found]


def _rows(viewer: Viewer, student_ids: Sequence[int]) -> list[Student]:
    """The rows of students access already decided on, in the given order."""
    by_id = Student.unscoped.filter(district_id=viewer.district_id, pk__in=list(student_ids))
    rows = {student.pk: student for student in by_id}
    return [rows[pk] for pk in student_ids if pk in rows]


def _shown(allowed: Allowed) -> str:
    """What a projection of a student depends on besides the student: what is allowed."""
    kinds = None if allowed.program_kinds is None else sorted(map(str, allowed.program_kinds))
    return _digest(
        (
            sorted(map(str, allowed.categories)),
            kinds,
            allowed.outside_school,
            sorted(map(str, allowed.via)),
        )
    )


def _digest(value) -> str:
    """A short, stable name for plain values (the same in every process)."""
    return hashlib.blake2b(repr(value).encode(), digest_size=16).hexdigest()
