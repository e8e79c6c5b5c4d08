"""Where a client's page starts, and how many rows its filter gives, found cheaply.

A sync client walks a collection with growing offsets (0, 1000, 2000 …) under one
filter. Counting the whole set for every page's ``X-Total-Count`` and skipping
``offset`` rows for each page would make a full sync quadratic in the district's size.
So both are kept in the access cache (access/cache.py) under the district's cache
epoch (records/cache_epochs.py), the grants' routes and the day: the total of a filter,
and where each page ended (a bookmark: its last row's sourcedId, kind and key), so the
next page starts there through the sourcedId index instead of skipping. Every write that
could change the set or its order moves the epoch, and a grant changed in any way makes
other routes, so a kept value is always what a fresh count or scan would give now.

Only sets that depend on no student's own records are kept: a clause on a student
field of a category (a directory field a family may opt out of, say) is counted and
skipped anew every time. Bookmarks serve the sourcedId order only (the default, and what
sync clients use); another sort pages by offset.

A page polled again (an app refreshing its roster) is also kept whole, as
``access.cache.rendered_page`` keeps the students API's: which rows it holds, with the
access decision (shared tier), and the body as sent (this process's memory only), named
by the epochs of the students on it, so a write to any of their records misses. The
disclosure is written on every request, hit or not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import connection
from django.db.models import F, Q

from access import cache
from access.scoping import Allowed
from records import cache_epochs
from records.oneroster_rest import query
from records.oneroster_rest.fields import STUDENT, Context, Field
from records.oneroster_rest.paging import Paging

# Bodies of pages up to this many rows are kept (the rendered-page tier holds 100).
KEPT_BODY_ROWS = 500


@dataclass(frozen=True)
class Positions:
    """The cache names of one request's set ("" when nothing may be kept)."""

    base: str = ""

    @property
    def kept(self) -> bool:
        return bool(self.base)

    def total_key(self) -> str:
        return f"{self.base}:total"

    def bookmark_key(self, sort: query.Sort, offset: int) -> str:
        return f"{self.base}:after:{int(sort.descending)}:{offset}"

    def page_key(self, sort: query.Sort, paging: Paging) -> str:
        order = f"{sort.field.name}:{int(sort.descending)}"
        return f"{self.base}:page:{order}:{paging.offset}:{paging.limit}"


@dataclass(frozen=True)
class Answer:
    """A page as sent: its body, and what it disclosed of each student (to record),
    kept as students grouped by what was disclosed of them (cheap to keep and load)."""

    body: bytes
    groups: tuple[tuple[Allowed, tuple[int, ...]], ...]

    @classmethod
    def of(cls, body: bytes, disclosed: dict[int, Allowed]) -> Answer:
        groups: dict[Allowed, list[int]] = {}
        for pk, allowed in disclosed.items():
            groups.setdefault(allowed, []).append(pk)
        return cls(body, tuple((allowed, tuple(ids)) for allowed, ids in groups.items()))

    @property
    def disclosed(self) -> dict[int, Allowed]:
        return {pk: allowed for allowed, ids in self.groups for pk in ids}


def _digest(value) -> str:
    return hashlib.blake2b(repr(value).encode(), digest_size=16).hexdigest()


def positions_for(ctx: Context, path: str, narrowing: query.Narrowing) -> Positions:
    """The names under which this request's total and bookmarks are kept, if they may be."""
    if any(spec.category is not None for spec, _, _ in narrowing.clauses):
        return Positions()
    viewer = ctx.scope.viewer
    epoch = viewer.cache_epoch or cache_epochs.district_epoch(viewer.district_id)
    if epoch is None:
        return Positions()
    routes = sorted(
        (
            route.grant_id,
            sorted(map(str, route.categories)),
            repr(route.population),
        )
        for route in ctx.scope.routes
    )
    clauses = [(spec.name, op, repr(value)) for spec, op, value in narrowing.clauses]
    digest = _digest((path, ctx.version, routes, clauses, narrowing.joiner))
    return Positions(f"oneroster:{viewer.district_id}:{epoch}:{viewer.today}:{digest}")


def total(ctx: Context, plan: Callable, narrowing, positions: Positions) -> int:
    """How many rows the filter gives: counted once per epoch, then kept. ``plan()``
    gives the request's sources, when they must be counted."""
    if positions.kept:
        kept = cache.get(positions.total_key())
        if isinstance(kept, int):
            return kept
    counted = query.total(ctx, plan().sources, narrowing)
    if positions.kept:
        cache.put(positions.total_key(), counted, settings.ACCESS_CACHE_SECONDS)
    return counted


def page(
    ctx: Context,
    sources,
    names: dict[str, Field],
    narrowing,
    sort: query.Sort,
    paging: Paging,
    positions: Positions,
) -> list[tuple[str, int]]:
    """The page's rows as ``(kind, pk)``: after the kept bookmark when there is one (or
    from the start), else by offset; the page's own end kept for the next page."""
    by_sourced_id = sort.field.name == "sourcedId"
    bookmark = None
    if by_sourced_id and paging.offset > 0 and positions.kept:
        bookmark = cache.get(positions.bookmark_key(sort, paging.offset))
    if by_sourced_id and (paging.offset == 0 or isinstance(bookmark, tuple)):
        rows = _after(ctx, sources, names, narrowing, sort, bookmark, paging.limit)
    else:
        ordered = query.keys(ctx, sources, names, narrowing, sort)
        window = ordered[paging.offset : paging.offset + paging.limit]
        rows = [(sid, kind, pk) for _, sid, kind, pk in window]
    if by_sourced_id and positions.kept and len(rows) == paging.limit:
        end = positions.bookmark_key(sort, paging.offset + paging.limit)
        cache.put(end, rows[-1], settings.ACCESS_CACHE_SECONDS)
    return [(kind, pk) for _, kind, pk in rows]


def kept_answer(
    ctx: Context,
    positions: Positions,
    sort: query.Sort,
    paging: Paging,
    variant,
    find: Callable[[], list[tuple[str, int]]],
    answer: Callable[[list[tuple[str, int]]], Answer],
    ahead: cache_epochs.ReadAhead | None = None,
) -> Answer:
    """The page's answer: ``find()`` its rows and ``answer()`` them, or both as kept.
    ``variant`` names what else the body depends on (the fields asked for, the host in
    its links). A sort on a student field of a category orders by what families may
    withhold: such pages are never kept. ``ahead``: the students' epochs if read with
    the token."""
    if not positions.kept or sort.field.category is not None or paging.limit > KEPT_BODY_ROWS:
        return answer(find())
    page_key = positions.page_key(sort, paging)
    keys = cache.get(page_key)
    if not isinstance(keys, tuple):
        keys = tuple(find())
        cache.put(page_key, keys, settings.ACCESS_CACHE_SECONDS)
    students = [pk for kind, pk in keys if kind == STUDENT]
    epochs = cache_epochs.student_epochs(ctx.scope.viewer.district_id, students, ahead=ahead)
    body_key = f"{page_key}:{_digest((variant, [epochs[pk] for pk in students]))}"
    kept = cache.get_page(body_key)
    if isinstance(kept, Answer):
        return kept
    made = answer(list(keys))
    cache.put_page(body_key, made, settings.ACCESS_CACHE_SECONDS)
    return made


def _after(ctx, sources, names, narrowing, sort, bookmark, limit) -> list[tuple]:
    """``limit`` rows after ``bookmark`` (None: from the start) in sourcedId order, then
    kind and key: each source read from its bookmark through its index, then merged. The
    grants' whole reach unfiltered is read as the reached of the district's students in
    that order, chunk by chunk, where that pays (``ProviderScope.sourced_id_walk``)."""
    rows = []
    for source in sources:
        walk = None
        if source.whole_reach and not narrowing.clauses:
            start = bookmark[0] if bookmark is not None else None
            walk = ctx.scope.sourced_id_walk(start=start, descending=sort.descending, wanted=limit)
        if walk is None:
            rows += _in_order(ctx, source, source.rows, names, narrowing, sort, bookmark, limit)
            continue
        walked: list[tuple] = []
        for reached in walk:
            wanted = limit - len(walked)
            walked += _in_order(ctx, source, reached, names, narrowing, sort, bookmark, wanted)
            if len(walked) == limit:
                break
        rows += walked
    if len(sources) > 1:
        rows = _merged(rows, sort.descending)
    return rows[:limit]


def _merged(rows: list[tuple], descending: bool) -> list[tuple]:
    """Rows of several sources in one order: sourcedId as the database orders text (its
    collation, which the bookmarks' comparisons use; not Python's), then kind and key."""
    sids = [sid for sid, _, _ in rows]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT sid FROM unnest(%s::text[]) AS sid GROUP BY sid ORDER BY sid", [sids]
            )
            ordered = [sid for (sid,) in cursor.fetchall()]
    else:  # SQLite orders text by code point, as Python does
        ordered = sorted(set(sids))
    rank = {sid: at for at, sid in enumerate(ordered)}
    rows = sorted(rows, key=lambda row: (row[1], row[2]))  # kind, then key: ascending always
    return sorted(rows, key=lambda row: rank[row[0]], reverse=descending)  # stable


def _in_order(ctx, source, rows, names, narrowing, sort, bookmark, limit) -> list[tuple]:
    """The first ``limit`` of ``rows`` (the source's, or some of them) past the bookmark, in
    sourcedId order, as ``(sourcedId, kind, key)``."""
    keyed = query.narrowed(ctx, replace(source, rows=rows), narrowing).annotate(
        or_sid=query.sourced_id_expression(ctx, source, names["sourcedId"]), or_pk=F("pk")
    )
    if bookmark is not None:
        keyed = keyed.filter(_past(bookmark, source.kind, sort.descending))
    first = F("or_sid").desc() if sort.descending else F("or_sid").asc()
    chosen = keyed.order_by(first, "or_pk").values_list("or_sid", "or_pk")[:limit]
    return [(sid, source.kind, pk) for sid, pk in chosen]


def _past(bookmark: tuple, kind: str, descending: bool) -> Q:
    """Rows of ``kind`` after the bookmark ``(sourcedId, kind, pk)`` in the page order.
    The sourcedId bound comes first, plain, so the index can start there."""
    sid, marked_kind, pk = bookmark
    beyond = Q(or_sid__lt=sid) if descending else Q(or_sid__gt=sid)
    reaches = Q(or_sid__lte=sid) if descending else Q(or_sid__gte=sid)
    if kind > marked_kind:
        return reaches
    if kind < marked_kind:
        return beyond
    return reaches & (beyond | Q(or_pk__gt=pk))
