"""OneRoster CSV deliveries: a provider's bulk bundle of one grant, built by a task,
fetched through an expiring link, each download recorded as one disclosure.

The bundle holds what the provider's OneRoster REST feed would give under that grant
and nothing else: students from ``ProviderScope(viewer).students()``, each projected by
``project_students`` to the categories allowed (a field the projection omits — an
opted-out directory field, a category not granted — is written empty), and the
rostering rows around them from the same scope. Students are read in keyset batches
ordered by primary key and written straight into the zip, so memory stays flat in the
district's size.

Who may ask for one, follow it and download it: a signed-in person of the grant's
provider (``ProviderMember``), or a district admin of the grant's district on the
provider's behalf. A delivery that does not exist and one that is not yours answer the
same 404. A download is possible only while the grant is in force and before the link
expires; the build re-checks the grant and the requester inside the task.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from access.categories import Category
from access.districts import may_manage_district
from access.models import CsvDelivery, Grant, ProviderMember
from access.projection import RACE_FIELDS, project_students
from access.providers import (
    GRANT_LABEL,
    ProviderScope,
    active_grants,
    record_provider_reads,
    viewer_for_grants,
)
from access.scoping import Allowed, record_id
from access.viewer import Viewer, viewer_for
from records import leases
from records import oneroster_csv_export as csv_export
from records.models import DirectoryOptOut, District

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000  # students read, allowed, projected and written at a time
PROGRESS_STEP = 2  # percent: the progress column is written at most this often
CHANNEL = "OneRoster CSV"
# What a OneRoster rostering bundle can carry: a granted category outside these (grades,
# attendance, ...) is not in the file, so neither in its record of disclosure.
BUNDLE_CATEGORIES = frozenset(
    {
        Category.DIRECTORY,
        Category.CONTACT,
        Category.DEMOGRAPHICS,
        Category.IDENTIFIERS,
        Category.ENROLLMENT,
    }
)
IN_PROGRESS = frozenset({CsvDelivery.Status.QUEUED, CsvDelivery.Status.RUNNING})

NOT_IN_FORCE_MESSAGE = (
    "The grant is no longer in force (ended, revoked or not yet started), so no data was written."
)
REQUESTER_MESSAGE = (
    "The person who asked for this delivery may no longer ask for it, so no data was written."
)
FAILED_MESSAGE = (
    "The bundle could not be built because of an error on our side. Nothing was kept; "
    "please ask for a new delivery."
)
LOST_MESSAGE = (
    "The bundle was not finished: the worker building it stopped. Nothing was kept; "
    "please ask for a new delivery."
)


# -- who may do what ---------------------------------------------------------------


def grant_in_force(grant: Grant, *, today: date | None = None) -> bool:
    """Activated, not revoked, within its dates, of an active provider: what the API
    itself requires of a grant (``access.providers.active_grants``)."""
    district = grant.district
    return (
        grant.provider.is_active
        and active_grants(district, grant.provider_id, today or district.today())
        .filter(pk=grant.pk)
        .exists()
    )


def member_provider_ids(user) -> list[int]:
    """The active providers ``user`` signs in for, in the user's own district."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    if user.district_id is None:
        return []
    return list(
        ProviderMember.unscoped.filter(
            district_id=user.district_id,
            user=user,
            provider__district_id=user.district_id,
            provider__is_active=True,
        ).values_list("provider_id", flat=True)
    )


def may_request_delivery(user, viewer: Viewer, grant: Grant) -> bool:
    """A person of the grant's provider, or a district admin of its district."""
    if grant.provider_id in member_provider_ids(user):
        return True
    return may_manage_district(viewer) and viewer.district_id == grant.district_id


def deliveries_visible(user, viewer: Viewer) -> QuerySet[CsvDelivery]:
    """The deliveries this person may follow: their providers' (a provider's person), or
    every one of the district (its admin). Newest first."""
    base = CsvDelivery.unscoped.select_related("grant__provider", "requested_by")
    if may_manage_district(viewer):
        rows = base.filter(district_id=viewer.district_id)
    else:
        providers = member_provider_ids(user)
        if not providers:
            return CsvDelivery.unscoped.none()
        rows = base.filter(district_id=user.district_id, grant__provider_id__in=providers)
    return rows.order_by("-requested_at", "-pk")


def delivery_by_id(user, viewer: Viewer, raw_id) -> CsvDelivery:
    """The delivery, if this person may follow it; 404 alike for missing and not yours."""
    pk = record_id(raw_id)
    found = deliveries_visible(user, viewer).filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise Http404("No such delivery.")
    return found


def grants_requestable(user, viewer: Viewer, *, today: date | None = None) -> QuerySet[Grant]:
    """The grants in force this person may ask a delivery of."""
    district_id = viewer.district_id if may_manage_district(viewer) else user.district_id
    if district_id is None:
        return Grant.unscoped.none()
    district = District.objects.get(pk=district_id)
    today = today or district.today()
    grants = Grant.unscoped.filter(
        district_id=district_id,
        status=Grant.Status.ACTIVE,
        starts_on__lte=today,
        ends_on__gte=today,
        agreement__term_start__lte=today,  # as ``active_grants``: the agreement in force too
        agreement__term_end__gte=today,
        provider__is_active=True,
    ).select_related("provider", "agreement")
    if not may_manage_district(viewer):
        grants = grants.filter(provider_id__in=member_provider_ids(user))
    return grants.order_by("provider__name", "ends_on", "pk")


def grant_by_id(user, viewer: Viewer, raw_id) -> Grant:
    """A grant this person may ask a delivery of, in force or not; 404 alike for missing
    and not theirs."""
    pk = record_id(raw_id)
    grant = (
        Grant.unscoped.select_related("provider", "district").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if grant is None or not may_request_delivery(user, viewer, grant):
        raise Http404("No such grant.")
    return grant


# -- asking for one -----------------------------------------------------------------


class DeliveryRefused(Exception):
    """A request that cannot be made; the message says why, for the person asking."""


def delivery_request(*, actor, grant: Grant) -> CsvDelivery:
    """Queue a bundle of ``grant`` (already checked: ``grant_by_id``). One at a time per
    grant: while one is being built, asking again answers that one."""
    if not grant_in_force(grant):
        raise DeliveryRefused(
            "This grant is not in force today, so no delivery can be made from it."
        )
    with transaction.atomic():
        Grant.unscoped.select_for_update().filter(pk=grant.pk).first()
        pending = (
            CsvDelivery.unscoped.filter(district_id=grant.district_id, grant=grant)
            .filter(status__in=IN_PROGRESS)
            .order_by("pk")
            .first()
        )
        if pending is not None:
            return pending
        delivery = CsvDelivery.unscoped.create(
            district_id=grant.district_id, grant=grant, requested_by=actor
        )
        transaction.on_commit(partial(_enqueue, delivery.pk))
    return delivery


def _enqueue(delivery_id: int) -> None:
    from access.tasks import build_delivery

    build_delivery.delay(delivery_id)


# -- building it --------------------------------------------------------------------


def _sid(value: str | None, kind: str, pk: int) -> str:
    """A row's sourcedId; one the roster never gave gets a stable id without personal data."""
    return value or f"studentdata-{kind}-{pk}"


def _district_sid(district: District) -> str:
    return district.sourced_id or f"studentdata-district-{district.pk}"


def delivery_build(*, delivery_id: int, batch_size: int = BATCH_SIZE) -> CsvDelivery | None:
    """Build a queued delivery: re-check the grant and the requester, rebuild the
    grant's viewer, write the bundle, store it. Failures leave no file behind.

    Once: the worker building it holds its lease (records/leases.py), so a message
    delivered twice builds nothing more. One found building with nobody holding its lease
    lost its worker: it is failed, and may be asked for again."""
    with leases.lease(CsvDelivery._meta.label_lower, delivery_id) as held:
        if not held:
            return CsvDelivery.unscoped.filter(pk=delivery_id).first()
        return _delivery_build(delivery_id, batch_size)


def _delivery_build(delivery_id: int, batch_size: int) -> CsvDelivery | None:
    delivery = (
        CsvDelivery.unscoped.select_related("grant__provider", "district", "requested_by")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or delivery.status not in IN_PROGRESS:
        return delivery  # gone, or already built: a task delivered twice does nothing
    if delivery.status == CsvDelivery.Status.RUNNING:
        return _fail_lost(delivery)  # its lease is ours: the worker building it died
    grant, district = delivery.grant, delivery.district
    if not grant_in_force(grant):
        return _fail(delivery, NOT_IN_FORCE_MESSAGE)
    requester = delivery.requested_by
    if requester is None or not may_request_delivery(requester, viewer_for(requester), grant):
        return _fail(delivery, REQUESTER_MESSAGE)
    viewer = viewer_for_grants([grant], district, client_name=f"CSV delivery {delivery.pk}"[:150])
    if not viewer.has_access:
        return _fail(delivery, NOT_IN_FORCE_MESSAGE)
    # Taken before the first student is read, so any opt-out the bundle may have missed
    # is newer than it (``delivery_gone_reason``).
    CsvDelivery.unscoped.filter(pk=delivery.pk).update(
        status=CsvDelivery.Status.RUNNING,
        progress=0,
        error="",
        data_as_of=timezone.now(),
        directory_fields=list(district.directory_fields or []),
    )
    bundle = csv_export.BundleZip()
    stored = ""
    try:
        writer = _BundleWriter(viewer, delivery, bundle, batch_size=batch_size)
        writer.write()
        handle = bundle.finish()
        name = f"oneroster-{delivery.pk}-{secrets.token_hex(8)}.zip"
        delivery.file.save(name, File(handle, name=name), save=False)
        stored = delivery.file.name
        handle.close()
        now = timezone.now()
        CsvDelivery.unscoped.filter(pk=delivery.pk).update(
            status=CsvDelivery.Status.READY,
            progress=100,
            file=stored,
            student_ids=writer.student_ids,
            categories=sorted(writer.categories),
            finished_at=now,
            expires_at=now + timedelta(days=settings.PROVIDER_DELIVERY_DAYS),
            error="",
        )
    except Exception as exc:
        # The exception's text may quote data: log its kind and place, not its message.
        logger.error("CSV delivery %s failed with %s", delivery.pk, type(exc).__name__)
        bundle.discard()
        if stored:
            delivery.file.storage.delete(stored)
        return _fail(delivery, FAILED_MESSAGE)
    delivery.refresh_from_db()
    return delivery


def _fail_lost(delivery: CsvDelivery) -> CsvDelivery:
    """Fail a delivery whose worker died, and delete what that worker may have stored."""
    storage = CsvDelivery._meta.get_field("file").storage
    try:
        stored = storage.listdir("deliveries")[1]
    except FileNotFoundError:
        stored = []
    for name in stored:
        if name.startswith(f"oneroster-{delivery.pk}-"):
            storage.delete(f"deliveries/{name}")
    return _fail(delivery, LOST_MESSAGE)


def deliveries_expire_lost(*, now: datetime | None = None) -> int:
    """Fail the deliveries no worker will finish (``leases.fail_lost``): how many."""
    return leases.fail_lost(CsvDelivery.unscoped.all(), IN_PROGRESS, _fail_lost, now=now)


def _fail(delivery: CsvDelivery, message: str) -> CsvDelivery:
    CsvDelivery.unscoped.filter(pk=delivery.pk).update(
        status=CsvDelivery.Status.FAILED, error=message, finished_at=timezone.now(), file=""
    )
    delivery.refresh_from_db()
    return delivery


class _BundleWriter:
    """Writes one grant's bundle into ``bundle``, keeping who it held and what of them."""

    def __init__(self, viewer: Viewer, delivery: CsvDelivery, bundle, *, batch_size: int):
        self.viewer, self.delivery, self.bundle = viewer, delivery, bundle
        self.batch_size = max(1, batch_size)
        self.scope = ProviderScope(viewer)
        self.district = viewer.district
        self.district_sid = _district_sid(self.district)
        self.categories: set[str] = set()
        self.student_ids: list[int] = []
        self.progress = 0

    def write(self) -> None:
        demographics = Category.DEMOGRAPHICS in self.scope.categories
        files = ["orgs", "academicSessions", "courses", "classes", "users", "enrollments"]
        self.bundle.write_manifest(
            [*files, *(["demographics"] if demographics else [])],
            system_name=self.district.name,
        )
        self.schools = self._orgs()
        self._sessions()
        self._courses()
        self._classes()
        self._report(5)
        if demographics:
            with csv_export.BundleZip.spill(csv_export.DEMOGRAPHICS) as (aside, handle):
                self._users(aside)
                self._enrollments()
                self.bundle.copy_in("demographics", handle)
        else:
            self._users(None)
            self._enrollments()

    def _report(self, percent: int) -> None:
        """Store the progress, at most every ``PROGRESS_STEP`` percent."""
        if percent >= min(self.progress + PROGRESS_STEP, 99):
            self.progress = min(percent, 99)
            CsvDelivery.unscoped.filter(pk=self.delivery.pk).update(progress=self.progress)

    def _orgs(self) -> dict[int, str]:
        rows = (
            self.scope.schools().order_by("pk").values_list("pk", "sourced_id", "name", "nces_id")
        )
        schools = {}
        with self.bundle.member("orgs", csv_export.ORGS) as out:
            out.write({
                "sourcedId": self.district_sid,
                "name": self.district.name,
                "type": "district",
                "identifier": self.district.nces_id,
            })  # fmt: skip
            for pk, sourced_id, name, nces_id in rows:
                schools[pk] = _sid(sourced_id, "school", pk)
                out.write({
                    "sourcedId": schools[pk],
                    "name": name,
                    "type": "school",
                    "identifier": nces_id,
                    "parentSourcedId": self.district_sid,
                })  # fmt: skip
        return schools

    def _sessions(self) -> None:
        rows = list(
            self.scope.academic_sessions()
            .order_by("start_date", "pk")
            .values(
                "pk",
                "sourced_id",
                "title",
                "kind",
                "start_date",
                "end_date",
                "parent_id",
                "school_year",
            )
        )
        sids = {row["pk"]: _sid(row["sourced_id"], "session", row["pk"]) for row in rows}
        with self.bundle.member("academicSessions", csv_export.ACADEMIC_SESSIONS) as out:
            for row in rows:
                parent = row["parent_id"]
                out.write({
                    "sourcedId": sids[row["pk"]],
                    "title": row["title"],
                    "type": row["kind"],
                    "startDate": csv_export.day(row["start_date"]),
                    "endDate": csv_export.day(row["end_date"]),
                    "parentSourcedId": sids.get(parent, "") if parent else "",
                    "schoolYear": str(row["school_year"]),
                })  # fmt: skip

    def _courses(self) -> None:
        rows = (
            self.scope.courses()
            .order_by("pk")
            .values_list("pk", "sourced_id", "title", "code", "subject", "school_id")
        )
        with self.bundle.member("courses", csv_export.COURSES) as out:
            for pk, sourced_id, title, code, subject, school_id in rows.iterator():
                out.write({
                    "sourcedId": _sid(sourced_id, "course", pk),
                    "title": title,
                    "courseCode": code,
                    "orgSourcedId": self.schools.get(school_id, self.district_sid),
                    "subjects": subject,
                })  # fmt: skip

    def _classes(self) -> None:
        rows = (
            self.scope.sections()
            .order_by("pk")
            .values_list(
                "pk",
                "sourced_id",
                "title",
                "course_id",
                "course__sourced_id",
                "room",
                "school_id",
                "school__sourced_id",
                "term_id",
                "term__sourced_id",
                "period",
            )
        )
        with self.bundle.member("classes", csv_export.CLASSES) as out:
            for (pk, sid, title, course_id, course_sid, room, school_id, school_sid, term_id,
                 term_sid, period) in rows.iterator(chunk_size=self.batch_size):  # fmt: skip
                out.write({
                    "sourcedId": _sid(sid, "class", pk),
                    "title": title,
                    "courseSourcedId": _sid(course_sid, "course", course_id),
                    "classType": "scheduled",
                    "location": room,
                    "schoolSourcedId": _sid(school_sid, "school", school_id),
                    "termSourcedIds": _sid(term_sid, "session", term_id),
                    "periods": period,
                })  # fmt: skip

    def _users(self, demographics) -> None:
        students = self.scope.students().order_by("pk")
        total = max(students.count(), 1)
        with self.bundle.member("users", csv_export.USERS) as out:
            last = 0
            while True:
                batch = list(students.filter(pk__gt=last)[: self.batch_size])
                if not batch:
                    break
                last = batch[-1].pk
                allowed = {
                    pk: found.narrowed(BUNDLE_CATEGORIES)
                    for pk, found in self.scope.allowed(batch).items()
                }
                for student, item in zip(
                    batch, project_students(self.viewer, batch, allowed), strict=True
                ):
                    self.categories |= allowed[student.pk].categories
                    self.student_ids.append(student.pk)
                    out.write(self._student_row(item))
                    if demographics is not None and Category.DEMOGRAPHICS in item:
                        demographics.write(_demographics_row(item))
                self._report(5 + 85 * len(self.student_ids) // total)
            self._teachers(out)

    def _student_row(self, item: dict) -> dict:
        directory = item.get(Category.DIRECTORY, {})
        contact = item.get(Category.CONTACT, {})
        identifiers = item.get(Category.IDENTIFIERS, {})
        schools = [
            self.schools[s["id"]] for s in directory.get("schools", ()) if s["id"] in self.schools
        ]
        user_ids = [
            f"{{{label}:{identifiers[field]}}}"
            for label, field in (("state", "state_id"), ("local", "local_id"))
            if identifiers.get(field)
        ]
        return {
            "sourcedId": item["sourced_id"],
            "enabledUser": "true",
            "orgSourcedIds": csv_export.id_list(schools),
            "role": "student",
            # The sign-in name is not student data here: the sourcedId (no personal data)
            # keeps the required column filled without disclosing an account name.
            "username": item["sourced_id"],
            "userIds": csv_export.id_list(user_ids),
            "givenName": directory.get("given_name", ""),
            "familyName": directory.get("family_name", ""),
            "middleName": directory.get("middle_name", ""),
            "identifier": identifiers.get("local_id", ""),
            "email": contact.get("email", ""),
            "phone": contact.get("phone", ""),
            "grades": directory.get("grade_level", ""),
        }

    def _teachers(self, out) -> None:
        """Staff of the grant's classes, only under a grant that shares staff."""
        places: dict[int, set[str]] = {}
        for teacher_id, school_id in self.scope.teaching().values_list(
            "teacher_id", "section__school_id"
        ).distinct():  # fmt: skip
            if school_id in self.schools:
                places.setdefault(teacher_id, set()).add(self.schools[school_id])
        rows = (
            self.scope.teachers()
            .order_by("pk")
            .values_list("pk", "sourced_id", "first_name", "last_name", "email", "is_active")
        )
        for pk, sourced_id, first_name, last_name, email, is_active in rows.iterator():
            sid = _sid(sourced_id, "user", pk)
            out.write({
                "sourcedId": sid,
                "enabledUser": csv_export.boolean(is_active),
                "orgSourcedIds": csv_export.id_list(sorted(places.get(pk, ()))),
                "role": "teacher",
                "username": sid,
                "givenName": first_name,
                "familyName": last_name,
                "email": email,
            })  # fmt: skip

    def _enrollments(self) -> None:
        written = set(self.student_ids)
        students = (
            self.scope.enrollments()
            .order_by("pk")
            .values_list(
                "pk",
                "sourced_id",
                "section_id",
                "section__sourced_id",
                "section__school_id",
                "student_id",
                "student__sourced_id",
                "begin_date",
                "end_date",
            )
        )
        teachers = (
            self.scope.teaching()
            .order_by("pk")
            .values_list(
                "pk",
                "sourced_id",
                "section_id",
                "section__sourced_id",
                "section__school_id",
                "teacher_id",
                "teacher__sourced_id",
                "is_primary",
                "begin_date",
                "end_date",
            )
        )
        with self.bundle.member("enrollments", csv_export.ENROLLMENTS) as out:
            for (pk, sid, section_id, section_sid, school_id, student_id, student_sid, begin,
                 end) in students.iterator(chunk_size=self.batch_size):  # fmt: skip
                if student_id not in written:
                    continue  # reached after the users were written: not in this bundle
                out.write({
                    "sourcedId": _sid(sid, "enrollment", pk),
                    "classSourcedId": _sid(section_sid, "class", section_id),
                    "schoolSourcedId": self.schools.get(school_id)
                    or _sid(None, "school", school_id),
                    "userSourcedId": student_sid,
                    "role": "student",
                    "primary": "false",
                    "beginDate": csv_export.day(begin),
                    "endDate": csv_export.day(end),
                })  # fmt: skip
            for (pk, sid, section_id, section_sid, school_id, teacher_id, teacher_sid, primary,
                 begin, end) in teachers.iterator(chunk_size=self.batch_size):  # fmt: skip
                out.write({
                    "sourcedId": _sid(sid, "teaching", pk),
                    "classSourcedId": _sid(section_sid, "class", section_id),
                    "schoolSourcedId": self.schools.get(school_id)
                    or _sid(None, "school", school_id),
                    "userSourcedId": _sid(teacher_sid, "user", teacher_id),
                    "role": "teacher",
                    "primary": csv_export.boolean(primary),
                    "beginDate": csv_export.day(begin),
                    "endDate": csv_export.day(end),
                })  # fmt: skip
        self._report(95)


def _demographics_row(item: dict) -> dict:
    shown = item[Category.DEMOGRAPHICS]
    races = set(shown.get("races", ()))
    row = {
        "sourcedId": item["sourced_id"],
        "birthDate": csv_export.day(shown.get("birth_date")),
        "sex": csv_export.SEX.get(shown.get("sex", ""), ""),
        "demographicRaceTwoOrMoreRaces": csv_export.boolean(len(races) > 1),
        "hispanicOrLatinoEthnicity": csv_export.boolean(shown.get("hispanic_or_latino")),
    }
    for field in RACE_FIELDS:
        row[csv_export.RACES[field]] = csv_export.boolean(field in races)
    return row


# -- fetching it ---------------------------------------------------------------------


def delivery_gone_reason(delivery: CsvDelivery, *, now: datetime | None = None) -> str | None:
    """Why a ready delivery may no longer be downloaded: ``"grant"`` (no longer in
    force), ``"stale"`` (its directory information changed since the build),
    ``"expired"`` (past its link's date, or its file removed), or None."""
    now = now or timezone.now()
    if not grant_in_force(delivery.grant, today=delivery.district.today(at=now)):
        return "grant"
    if directory_changed_since(delivery):
        return "stale"
    if not delivery.file or delivery.expires_at is None or delivery.expires_at <= now:
        return "expired"
    return None


def directory_changed_since(delivery: CsvDelivery) -> bool:
    """Whether the bundle carries directory information that may no longer go out: a
    field the district has stopped designating, or a field one of its students' family
    opted out of after the build read the data (99.37)."""
    if Category.DIRECTORY not in delivery.categories:
        return False  # no directory information in the file: nothing to withhold
    if delivery.directory_fields is None:
        return True  # built before the designation was recorded: unknown, so stale
    released = set(delivery.directory_fields)
    if not released:
        return False  # the district designated nothing: no directory field went out
    if released - set(delivery.district.directory_fields or []):
        return True
    # The opt-outs in force, not their history: an opt-out withdrawn since withholds
    # nothing, and one written by any path (a form, an import) counts.
    opted_since = DirectoryOptOut.unscoped.filter(
        district_id=delivery.district_id,
        chosen_at__gte=delivery.data_as_of or delivery.requested_at,
        field__in=[*released, DirectoryOptOut.ALL_FIELDS],
    ).values_list("student_id", flat=True)
    return not set(opted_since).isdisjoint(delivery.student_ids)


def delivery_download_record(*, delivery: CsvDelivery, user) -> None:
    """One download: the count goes up and the provider's receipt of the bundle's
    students is recorded as one disclosure (the categories the bundle carries)."""
    grant = delivery.grant
    viewer = viewer_for_grants(
        [grant], delivery.district, client_name=f"CSV delivery {delivery.pk}"[:150]
    )
    if not viewer.has_access:
        return
    viewer = replace(viewer, user=user)  # the person who fetched it, named in the log
    allowed = Allowed(
        categories=frozenset(delivery.categories),
        via=frozenset({GRANT_LABEL.format(grant.pk)}),
        outside_school=True,
    )
    with transaction.atomic():
        CsvDelivery.unscoped.filter(pk=delivery.pk).update(download_count=F("download_count") + 1)
        record_provider_reads(viewer, dict.fromkeys(delivery.student_ids, allowed), channel=CHANNEL)


def deliveries_with_files(**filters) -> QuerySet[CsvDelivery]:
    return CsvDelivery.unscoped.filter(**filters).exclude(Q(file="") | Q(file__isnull=True))


def delivery_files_delete(deliveries: QuerySet[CsvDelivery]) -> int:
    """Delete the bundles' files and keep the rows (what was delivered stays on record)."""
    removed = 0
    for pk, name in deliveries.values_list("pk", "file"):
        if name:
            CsvDelivery.unscoped.filter(pk=pk).update(file="")
            CsvDelivery._meta.get_field("file").storage.delete(name)
            removed += 1
    return removed
