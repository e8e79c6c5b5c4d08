"""Cache epochs: when a cached access decision or projected student may be reused.

PostgreSQL triggers (access/migrations/0007_cache_epochs.py) move a district's epoch
forward, inside the writing transaction, on every write to a table that decides who
sees whom or labels every student (roles, rosters, enrollments, guardian links,
restrictions, substitutes, emergency grants, students, schools, the district's
settings, object permissions), and a student's own epoch on every write to their
records (attendance, grades, programs …). A cache key that names the epochs it was
computed under can therefore never be read after such a change commits: a custody
restriction removes access from the next request on, with no cached permission left
behind (REQUIREMENTS 1). Epochs come from one sequence, so a rolled-back write's
value is never reused.

Reading them (``district_epoch``, ``student_epochs``) is for access/cache.py; moving
them by hand (``bump_district``, ``deferred``) is for long writers: each trigger bump
locks the district's epoch row until commit, so an import holding it for its whole run
would make every other writer of the district wait. Importers run inside ``deferred``
instead: the triggers stand aside and the epoch moves once, just before commit.

Only PostgreSQL keeps epochs; elsewhere (the SQLite demo) ``district_epoch`` answers
``None`` and nothing is cached. ``ACCESS_CACHE_SECONDS = 0`` turns caching off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection

from studentdata import prepared

DEFER_SETTING = "studentdata.defer_cache_epochs"


def bump_district(district_id: int) -> None:
    """Move the district's epoch forward: every cached result of it misses from now."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO access_cacheepoch (district_id, value) "
            "VALUES (%s, nextval('access_cache_epoch_seq')) "
            "ON CONFLICT (district_id) DO UPDATE SET value = EXCLUDED.value",
            [district_id],
        )


@contextlib.contextmanager
def deferred(district_id: int) -> Iterator[None]:
    """Inside ``transaction.atomic``: the triggers stand aside for the block and the
    district's epoch moves once at its end, whether the block finished or failed (a
    caller may catch the failure and commit what was written before it)."""
    if connection.vendor != "postgresql":
        yield
        return
    _set_deferred("on")
    try:
        yield
    except BaseException:
        # An aborted transaction refuses every statement and will roll back anyway.
        with contextlib.suppress(DatabaseError):
            _set_deferred("")
            bump_district(district_id)
        raise
    _set_deferred("")
    bump_district(district_id)


def _set_deferred(value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [DEFER_SETTING, value])


# Tables whose writes no cached result depends on, and why; every other table of the
# project is in one of the migration's trigger lists (tests/access/test_epochs.py).
UNCACHED_TABLES = {
    "access_accessevent": "the access log: append-only, never cached",
    "access_accesseventstudent": "the access log: append-only, never cached",
    "access_auditchain": "the access log's chain head",
    "access_cacheepoch": "the epochs themselves",
    "access_studentepoch": "the epochs themselves",
    "accounts_invitation": "an accepted invitation writes users and links, which bump",
    "accounts_rolechange": "a role's history; the role itself bumps",
    "records_importrun": "a run's report; what it imports bumps",
    "records_familyvisit": "when a family last looked; shown to nobody else",
    "records_directoryoptoutchange": "the opt-out's own history; the opt-out bumps",
    "records_attendancechange": "a correction's history; the corrected mark bumps",
    "records_attendancemonth": "the marks' own roll-up, written only with the marks, which bump",
    "records_headcount": "the memberships' head counts, written only with them, which bump",
    "records_multischoolstudent": "the memberships' head counts, written only with them",
    "access_prunedlogmonth": "months of the access log dropped: no access decision reads them",
    "authtoken_token": "API tokens are checked on every request, never cached",
    "reports_release": "published aggregates: no access decision reads them",
    "reports_staterelease": "published aggregates: no access decision reads them",
    "reports_stateanalyst": "read afresh by each /state/ page: no viewer caches it",
    # A provider's viewer is built from its grants on every request, never cached.
    "access_provider": "providers: their viewers are never cached",
    "access_providercontact": "providers: their viewers are never cached",
    "access_providermember": "providers: their viewers are never cached",
    "access_apiclient": "providers: their viewers are never cached",
    "access_agreement": "providers: their viewers are never cached",
    "access_grant": "providers: their viewers are never cached",
    "access_dispositionattestation": "an ended grant's record; reaches no one",
    "access_csvdelivery": "a delivery's record; its reads are logged, never cached",
    # A researcher's viewer has no route: studies are read afresh by every /research/ page.
    "access_researcher": "researchers: no viewer route, read afresh",
    "access_study": "studies: read afresh by every /research/ page",
    "access_studyversion": "studies: read afresh by every /research/ page",
    "access_studykey": "a study's pseudonym key: read by the extract build alone",
    "reports_studyextract": "an extract's record; its release is logged, never cached",
    "reports_extractdownload": "an extract's download log",
    "reports_studyoutput": "a study's result tables: aggregates, no access decision",
    "oauth2_provider_application": "OAuth clients are checked on every request",
    "oauth2_provider_accesstoken": "OAuth tokens are checked on every request",
    "oauth2_provider_refreshtoken": "OAuth tokens are checked on every request",
    "oauth2_provider_grant": "OAuth codes (unused: client credentials only)",
    "oauth2_provider_idtoken": "OAuth ID tokens (unused: client credentials only)",
    "oauth2_provider_devicegrant": "OAuth device codes (unused: client credentials only)",
    "django_session": "sessions are read on every request, never cached",
    "django_admin_log": "the admin's own log",
    "django_content_type": "Django's registry of models",
    "django_migrations": "Django's record of migrations",
    "auth_permission": "permission names; grants of them bump",
    "auth_group": "group names; grants to groups bump",
    "otp_totp_totpdevice": "second-factor devices: checked at sign-in, never cached",
    "otp_static_staticdevice": "second-factor recovery codes: checked at sign-in",
    "otp_static_statictoken": "second-factor recovery codes: checked at sign-in",
}


def caching_enabled() -> bool:
    return settings.ACCESS_CACHE_SECONDS > 0 and connection.vendor == "postgresql"


UNREAD = object()


def district_epoch(district_id: int | None, *, value=UNREAD) -> str | None:
    """The district's epoch now, named within this database incarnation (see
    ``remember_database``), or ``None`` if results must not be cached. ``value``: the
    epoch's value if this request already read it (with its API token)."""
    if district_id is None or not caching_enabled():
        return None
    incarnation = getattr(connection, "cache_incarnation", None)
    if incarnation is None:
        return None
    if value is UNREAD:
        with connection.cursor() as cursor:
            # Inside an import's deferred block the triggers stand aside: the epoch read
            # there would not name what the block has written. Cache nothing then.
            cursor.execute(
                "SELECT value FROM access_cacheepoch WHERE district_id = %s "
                "AND coalesce(current_setting(%s, true), '') <> 'on'",
                [district_id, DEFER_SETTING],
            )
            row = cursor.fetchone()
        value = row[0] if row else None
    return f"{incarnation}.{value}" if value is not None else None


def remember_database(sender, connection, **kwargs) -> None:
    """On each new connection: which database, since which server start, under which
    code, it reaches.

    Epochs restart with their sequence when a database is recreated or restored from a
    backup, while the cache (Redis) keeps what it held; naming the database, the
    server's start time and the code in every key keeps an earlier incarnation's (or an
    earlier deploy's) entries unread.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT oid, extract(epoch FROM pg_postmaster_start_time())::bigint "
            "FROM pg_database WHERE datname = current_database()"
        )
        oid, started = cursor.fetchone()
    connection.cache_incarnation = f"{oid}-{started}-{code_version()}"


@functools.cache
def code_version() -> str:
    """A digest of the project's code: a deploy that changes what access decides, or
    how a student is projected, never reads what the code before it cached (old and new
    processes of a rolling deploy share Redis, each under its own name)."""
    digest = hashlib.blake2b(digest_size=8)
    for app in ("access", "accounts", "records", "reports", "studentdata"):
        for path in sorted((Path(settings.BASE_DIR) / app).rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ReadAhead:
    """Students' epochs read with a request's first statement (a provider's token
    check), for the students the same request of the same token named the last time:
    a polled page then needs no query of its own for them (``student_epochs``)."""

    key: tuple  # (token checksum, path with query)
    district_id: int
    asked: frozenset[int]
    values: dict[int, int]


# Which students each recent (token, request) named: what its next poll reads ahead.
_STUDENTS_KEPT = 2_000  # at most 500 ids each: some 36 MB at worst
_students_of: dict[tuple, tuple[int, ...]] = {}

# The epochs of the students a read-ahead names: ``(student id, epoch)`` pairs, for the
# district of the client aliased ``c`` (PostgreSQL; one array parameter).
READ_AHEAD_SQL = (
    "(SELECT coalesce(array_agg(ARRAY[e.student_id, e.value]), '{}') "
    "FROM access_studentepoch AS e "
    "WHERE e.district_id = c.district_id AND e.student_id = ANY(%s::bigint[]))"
)


def students_to_read_ahead(key: tuple) -> list[int]:
    return list(_students_of.get(key, ()))


def read_ahead(key: tuple, district_id: int, asked: list[int], pairs) -> ReadAhead:
    return ReadAhead(key, district_id, frozenset(asked), dict(pairs))


def student_epochs(
    district_id: int, student_ids: Iterable[int], *, ahead: ReadAhead | None = None
) -> dict[int, int]:
    """Each student's epoch (0 for a student none of whose records was written since
    epochs began): from ``ahead`` when it read them all, else read now. ``ahead``'s
    request then reads these students ahead next time."""
    ids = sorted(set(student_ids))
    epochs = dict.fromkeys(ids, 0)
    if ahead is not None and ahead.district_id == district_id:
        if len(_students_of) >= _STUDENTS_KEPT:
            _students_of.clear()
        _students_of[ahead.key] = tuple(ids)
        if ahead.asked.issuperset(ids):
            epochs.update((pk, ahead.values[pk]) for pk in ids if pk in ahead.values)
            return epochs
    if not ids:
        return epochs
    # Prepared once per session: every kept page a provider polls asks it.
    epochs.update(
        prepared.fetch(
            "student_epochs",
            "SELECT student_id, value FROM access_studentepoch "
            "WHERE district_id = %s AND student_id = ANY(%s)",
            [district_id, ids],
        )
    )
    return epochs
