"""The access cache: access decisions and projected students kept between requests.

A repeated read (an app polling a roster, a teacher reloading a class) need not decide
access again nor rebuild each student object, as long as nothing they depend on has
changed. Keys name the cache epochs they were computed under (records/cache_epochs.py):
the district's, which every change to who-sees-whom moves, and for a projected student
also their own, which every write to their records moves. So a hit is always what a
fresh computation would give now; a change misses from the next request on. The
access log is written on every read, hit or not. Nothing is cached for a viewer without
an epoch (SQLite, caching off, or a viewer built for another day), nor after the
viewer's routes stop holding.

Entries live in two tiers. **Shared** (Django's default cache: Redis in production)
holds access decisions only: a viewer's routes and a page's student ids with what is
allowed of each, never a student's record. Each value is pickled and signed with
``SECRET_KEY`` (HMAC-SHA256) with its expiry, so an entry planted in Redis by anyone
without the key is ignored, never unpickled. **Local** (each process's memory) holds
the same decisions once read, for their remaining lifetime, and is the only place
projected students (``access-local``) and rendered pages (``access-pages``) are kept:
student records never leave the process for the cache. Without Redis both tiers are
this process's memory.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

from records import cache_epochs
from records.models import Student

if TYPE_CHECKING:
    from access.scoping import Allowed
    from access.viewer import Viewer

SHARED, LOCAL, PAGES = "default", "access-local", "access-pages"


def _mac(payload: bytes) -> bytes:
    return hmac.new(_key(settings.SECRET_KEY), payload, hashlib.sha256).digest()


@functools.cache
def _key(secret: str) -> bytes:
    """This module's own key, derived from the secret (not the secret itself)."""
    return hashlib.sha256(b"studentdata.access.caches" + secret.encode()).digest()


def _sealed(value, seconds: int) -> bytes:
    payload = pickle.dumps((time.time() + seconds, value), protocol=pickle.HIGHEST_PROTOCOL)
    return _mac(payload) + payload


def _opened(sealed) -> tuple[float, object] | None:
    """The value and its expiry, if ``sealed`` is ours and unexpired; else None."""
    if not isinstance(sealed, bytes) or len(sealed) < 32:
        return None
    mac, payload = sealed[:32], sealed[32:]
    if not hmac.compare_digest(mac, _mac(payload)):
        return None
    expires, value = pickle.loads(payload)  # noqa: S301 - signed by us, checked above
    return (expires, value) if expires > time.time() else None


def get(key: str):
    """A decision from this process's memory, else from the shared cache (kept locally
    for the rest of its lifetime, not longer)."""
    value = caches[LOCAL].get(key)
    if value is not None:
        return value
    opened = _opened(caches[SHARED].get(key))
    if opened is None:
        return None
    expires, value = opened
    caches[LOCAL].set(key, value, max(1, int(expires - time.time())))
    return value


def put(key: str, value, seconds: int) -> None:
    """An access decision (no student record) into both tiers."""
    caches[SHARED].set(key, _sealed(value, seconds), seconds)
    caches[LOCAL].set(key, value, seconds)


def get_page(key: str):
    return caches[PAGES].get(key)


def put_page(key: str, body: bytes, seconds: int) -> None:
    """A rendered page of student records: this process's memory only."""
    caches[PAGES].set(key, body, seconds)


def get_many_local(keys: list[str]) -> dict:
    return caches[LOCAL].get_many(keys)


def put_many_local(values: dict, seconds: int) -> None:
    """Projected students: this process's memory only."""
    caches[LOCAL].set_many(values, seconds)


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
    cached = get(key)
    if isinstance(cached, PageDecision):
        return cached
    decided = decide()
    # Students read alike share one Allowed, so the cache stores (and loads) it once.
    shared = {allowed: allowed for allowed in decided.allowed.values()}
    allowed = {pk: shared[each] for pk, each in decided.allowed.items()}
    decision = replace(decided, allowed=allowed, key=key)
    put(key, decision, viewer.cache_seconds())
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
    own_epochs = cache_epochs.student_epochs(viewer.district_id, decision.student_ids)
    marks = tuple(own_epochs[pk] for pk in decision.student_ids)
    key = f"rendered:{decision.key}:{_digest(marks)}"
    cached = get_page(key)
    if isinstance(cached, bytes):
        return cached
    projected = projected_students(
        viewer, decision.student_ids, decision.allowed, students=students, own_epochs=own_epochs
    )
    body = render(projected)
    put_page(key, body, viewer.cache_seconds())
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
    # Imported here: the viewer keeps its routes in this cache, and the projection
    # builds on the viewer, so this module loads before it.
    from access.projection import project_students

    if not _cacheable(viewer):
        rows = students or _rows(viewer, student_ids)
        return project_students(viewer, rows, allowed_by_id, detail=detail)
    if own_epochs is None:
        own_epochs = cache_epochs.student_epochs(viewer.district_id, student_ids)
    shown = {allowed: _shown(allowed) for allowed in set(allowed_by_id.values())}
    prefix = f"student:{viewer.district_id}:{viewer.cache_epoch}:{viewer.today}:{int(detail)}"
    keys = {pk: f"{prefix}:{pk}:{own_epochs[pk]}:{shown[allowed_by_id[pk]]}" for pk in student_ids}
    found = get_many_local(list(keys.values()))
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
        put_many_local(made, viewer.cache_seconds())
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
