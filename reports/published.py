"""What the public reads: the latest published release of each district, and its content.

A published release never changes, so its parsed content is kept in the process once
read (the public pages' speed comes from this), and so are the pages rendered from it
(``rendered``). Which release is the latest is looked up again after ``LATEST_SECONDS``,
or at once in the process that publishes one.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery

from records.models import District, School
from reports.models import Release

LATEST_SECONDS = 30.0
RENDERED_PAGES = 512

_latest: dict[int, tuple[float, int | None]] = {}
_rendered: OrderedDict[tuple, bytes] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class Published:
    """A published release's identity and content (read-only: shared between requests)."""

    id: int
    district_id: int
    school_year: int
    as_of: str
    published_at: str
    minimum_n: int
    width: int
    content: dict
    certificate_summary: dict

    @property
    def etag(self) -> str:
        return f"release-{self.id}"


def _published_releases():
    return Release.unscoped.filter(status=Release.Status.PUBLISHED)


def _latest_query(district_id):
    return (
        _published_releases()
        .filter(district_id=district_id)
        .order_by("-school_year", "-published_at", "-pk")
        .values("pk")[:1]
    )


def latest_release_id(district_id: int) -> int | None:
    now = time.monotonic()
    cached = _latest.get(district_id)
    if cached and now - cached[0] < LATEST_SECONDS:
        return cached[1]
    release_id = _latest_query(district_id).values_list("pk", flat=True).first()
    _latest[district_id] = (now, release_id)
    return release_id


def forget_latest(district_id: int) -> None:
    """Called on publishing, so that this process shows the new release at once."""
    _latest.pop(district_id, None)


@functools.lru_cache(maxsize=64)
def release(release_id: int) -> Published:
    """A published release by id (cached: it never changes)."""
    row = _published_releases().get(pk=release_id)
    return Published(
        id=row.pk,
        district_id=row.district_id,
        school_year=row.school_year,
        as_of=row.as_of.isoformat(),
        published_at=row.published_at.isoformat(),
        minimum_n=row.minimum_n,
        width=row.width,
        content=row.content,
        certificate_summary=row.summary,
    )


def latest_release(district_id: int) -> Published | None:
    release_id = latest_release_id(district_id)
    return release(release_id) if release_id else None


def school_district_id(school_id: int) -> int | None:
    return School.unscoped.filter(pk=school_id).values_list("district_id", flat=True).first()


def districts_with_releases() -> list[tuple[District, Published]]:
    """Every district with a published release, with its latest, by state and name."""
    districts = District.objects.annotate(latest=Subquery(_latest_query(OuterRef("pk"))))
    found = [
        (district, release(district.latest))
        for district in districts.filter(latest__isnull=False).order_by("state", "name")
    ]
    return found


def rendered(cache_key: tuple, render: Callable[[], bytes]) -> bytes:
    """A page rendered from a published release, rendered once per process (the key
    names the release, so a new release is a new page)."""
    with _lock:
        page = _rendered.get(cache_key)
        if page is not None:
            _rendered.move_to_end(cache_key)
            return page
    page = render()
    with _lock:
        _rendered[cache_key] = page
        while len(_rendered) > RENDERED_PAGES:
            _rendered.popitem(last=False)
    return page
