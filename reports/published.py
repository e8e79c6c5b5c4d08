"""What the public reads: the latest published release of each district, and its content.

A published release never changes, so its parsed content is kept in the process once
read (the public pages' speed comes from this), and so are the pages rendered from it
(``rendered``). Which release is the latest is looked up again after ``LATEST_SECONDS``,
or at once in the process that publishes one.

With a read replica (studentdata/db/replica.py) the public pages read it. It may lag: what
it lacks (a first release, a school, a release the primary named) is read again on the
primary, so a page never 404s for lag; and the process that publishes reads the next
latest release from the primary, so it shows the new one at once, as without a replica.
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
from records.tenancy import system_scope
from reports.models import Release, StateRelease
from studentdata.db.replica import primary_reads, primary_when_missing

LATEST_SECONDS = 30.0
RENDERED_PAGES = 256

_latest: dict[int | str, tuple[float, int | None]] = {}
_published_here: set[int | str] = set()  # owners whose next look-up reads the primary
_rendered: OrderedDict[tuple, bytes] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class Published:
    """A published release, a district's or a state's: its identity and content
    (read-only: shared between requests). The district admin's preview page shapes a
    preview the same way (``published_at`` empty)."""

    id: int
    school_year: int
    as_of: str
    published_at: str
    minimum_n: int
    width: int
    content: dict
    certificate_summary: dict
    district_id: int | None = None  # None for a state's
    state: str = ""

    @property
    def etag(self) -> str:
        return f"release-{self.id}" if self.district_id else f"state-{self.id}"

    @classmethod
    def of(cls, row: Release | StateRelease, **owner) -> Published:
        return cls(
            id=row.pk,
            school_year=row.school_year,
            as_of=row.as_of.isoformat(),
            published_at=row.published_at.isoformat() if row.published_at else "",
            minimum_n=row.minimum_n,
            width=row.width,
            content=row.content,
            certificate_summary=row.summary,
            **owner,
        )


def _published_releases():
    # Anyone may read these (the policy of reports migration 0006), in any district.
    return Release.unscoped.filter(status=Release.Status.PUBLISHED)


def _latest_query(district_id):
    return (
        _published_releases()
        .filter(district_id=district_id)
        .order_by("-school_year", "-published_at", "-pk")
        .values("pk")[:1]
    )


def _remembered(owner: int | str, look_up: Callable[[], int | None]) -> int | None:
    now = time.monotonic()
    cached = _latest.get(owner)
    if cached and now - cached[0] < LATEST_SECONDS:
        return cached[1]
    if owner in _published_here:
        _published_here.discard(owner)
        with primary_reads():  # the replica may not have replayed the new release yet
            release_id = look_up()
    else:
        release_id = primary_when_missing(look_up)
    _latest[owner] = (now, release_id)
    return release_id


def latest_release_id(district_id: int) -> int | None:
    return _remembered(
        district_id, lambda: _latest_query(district_id).values_list("pk", flat=True).first()
    )


def forget_everything() -> None:
    """Every cached lookup and page of this process (tests roll their releases back)."""
    _latest.clear()
    _published_here.clear()
    release.cache_clear()
    state_release.cache_clear()
    school_district_id.cache_clear()
    with _lock:
        _rendered.clear()


def forget_latest(owner: int | str) -> None:
    """Called on publishing (a district's id, or a state's code), so that this process
    shows the new release at once."""
    _latest.pop(owner, None)
    _published_here.add(owner)


@functools.lru_cache(maxsize=64)
def release(release_id: int, district_id: int) -> Published:
    """A district's published release by id (cached: it never changes)."""
    rows = _published_releases().filter(district_id=district_id, pk=release_id)
    row = primary_when_missing(rows.first)
    if row is None:
        raise Release.DoesNotExist(f"no published release {release_id}")
    return Published.of(row, district_id=row.district_id)


def latest_state_release(state: str) -> Published | None:
    """The state's latest published release (cached like a district's)."""
    if not state:
        return None
    release_id = _remembered(
        state,
        lambda: (
            StateRelease.objects.filter(state=state, status=Release.Status.PUBLISHED)
            .order_by("-school_year", "-published_at", "-pk")
            .values_list("pk", flat=True)
            .first()
        ),
    )
    return state_release(release_id) if release_id else None


@functools.lru_cache(maxsize=16)
def state_release(release_id: int) -> Published:
    rows = StateRelease.objects.filter(pk=release_id, status=Release.Status.PUBLISHED)
    row = primary_when_missing(rows.first)
    if row is None:
        raise StateRelease.DoesNotExist(f"no published state release {release_id}")
    return Published.of(row, state=row.state)


def latest_release(district_id: int) -> Published | None:
    release_id = latest_release_id(district_id)
    return release(release_id, district_id) if release_id else None


@functools.lru_cache(maxsize=4096)  # a school never changes district
def school_district_id(school_id: int) -> int | None:
    # A public page names the school alone; its district is found across districts.
    with system_scope("find the district of a school's public report card"):
        school = School.unscoped.filter(pk=school_id).values_list("district_id", flat=True)
        return primary_when_missing(school.first)


def _districts_published():
    districts = District.objects.annotate(latest=Subquery(_latest_query(OuterRef("pk"))))
    return districts.filter(latest__isnull=False).order_by("state", "name")


def districts_with_releases() -> list[tuple[District, Published]]:
    """Every district with a published release, with its latest, by state and name."""
    return [(d, release(d.latest, d.pk)) for d in _districts_published()]


def district_directory() -> list[tuple[District, list[dict]]]:
    """Every district with a published release and the schools of its latest, by state
    and name: read as the schools' names alone (JSON key), not each release's content,
    so that the index costs the same with a thousand districts."""
    districts = list(_districts_published())
    schools = dict(
        Release.unscoped.filter(pk__in=[district.latest for district in districts]).values_list(
            "pk", "content__schools"
        )
    )
    return [(district, list(schools[district.latest].values())) for district in districts]


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
