"""Import runs: store an upload, queue it, run it, and record what it found and did.

A run's file waits under ``IMPORT_UPLOAD_ROOT`` (shared by web and worker) until its
worker has run it, then is deleted. The importer works inside one transaction, so
its progress goes to the cache, which web and worker share, not to the run's row.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import time
import traceback
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path, PurePath

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Coalesce, Lower
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, RoleMembership, User
from records import leases
from records.models import (
    AmendmentRequest,
    AttendanceChange,
    AttendanceRecord,
    DisagreementStatement,
    District,
    FamilyVisit,
    ImportRun,
    Section,
    SectionTeacher,
    Student,
    SubstituteAssignment,
    active_on_q,
)
from records.selectors import import_run_progress_key
from records.tenancy import tenant_scope

logger = logging.getLogger(__name__)

# What a web upload of each kind may be. Only OneRoster bundles are uploaded so far.
UPLOAD_SUFFIXES = {ImportRun.Kind.ONEROSTER: ".zip"}
PROGRESS_INTERVAL = 0.5  # seconds: the least time between two progress writes of a phase
PROGRESS_TIMEOUT = 24 * 3600  # a worker that died mid-run leaves no entry behind for long
FAILED_MESSAGE = (
    "The import stopped because of an unexpected problem on our side. Nothing was "
    "changed. Please try again; if it happens again, contact support."
)
ABANDONED_MESSAGE = (
    "The person who uploaded this file no longer manages the district, so it was not "
    "imported. Nothing was changed."
)
NOT_QUEUED_MESSAGE = "The import could not be started. Nothing was changed. Please try again."
STALE_MESSAGE = (
    "The import did not finish: the worker running it stopped. Nothing was changed. "
    "Please upload the file again."
)
LOST_MESSAGE = (
    "The import did not finish: the worker running it stopped twice. Nothing was changed. "
    "If it happens again with this file, please contact support."
)
# A run whose worker died is run again from the start (its transaction, and so its
# changes, died with the worker); one that has lost its worker this often is failed: the
# file itself may be what stops it.
MAX_ATTEMPTS = 2


def import_upload_validate(*, uploaded_file, kind: str = ImportRun.Kind.ONEROSTER) -> None:
    """Refuse an upload that cannot be a bundle of this kind, before storing any of it."""
    suffix = UPLOAD_SUFFIXES.get(kind)
    if suffix is None:
        raise ValueError(f"{kind!r} files are not uploaded through the web")
    if uploaded_file.size > settings.IMPORT_MAX_BYTES:
        raise ValidationError(
            "This file is %(size)s; files of at most %(limit)s can be imported.",
            code="too_big",
            params={
                "size": filesizeformat(uploaded_file.size),
                "limit": filesizeformat(settings.IMPORT_MAX_BYTES),
            },
        )
    if not (uploaded_file.name or "").lower().endswith(suffix) or not _is_zip(uploaded_file):
        raise ValidationError(
            "This is not a .zip file. Export the OneRoster files from your student "
            "information system as one .zip file and upload that.",
            code="not_zip",
        )


def _is_zip(uploaded_file) -> bool:
    # A zip ends with its central directory; looking there reads a few bytes, not the file.
    try:
        return zipfile.is_zipfile(uploaded_file)
    finally:
        uploaded_file.seek(0)


def import_run_create(
    *,
    actor,
    district: District,
    uploaded_file,
    kind: str = ImportRun.Kind.ONEROSTER,
    strict: bool = False,
    dry_run: bool = False,
) -> ImportRun:
    """Store the upload, record a queued run, and queue its task once that is committed."""
    import_upload_validate(uploaded_file=uploaded_file, kind=kind)
    directory = Path(settings.IMPORT_UPLOAD_ROOT) / str(district.pk)
    path, sha256 = _store(uploaded_file, directory, UPLOAD_SUFFIXES[kind])
    try:
        with transaction.atomic():
            run = ImportRun.objects.create(
                district=district,
                kind=kind,
                started_by=actor,
                file_name=PurePath(uploaded_file.name).name[:255],
                file_sha256=sha256,
                stored_path=str(path),
                strict=strict,
                dry_run=dry_run,
            )
            transaction.on_commit(partial(_enqueue, run.pk))
    except BaseException:
        # Nothing was recorded (_enqueue never raises), so nothing will look for the file.
        path.unlink(missing_ok=True)
        raise
    return run


def _store(uploaded_file, directory: Path, suffix: str) -> tuple[Path, str]:
    """Write the upload under a random name, hashing it on the way: one pass."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{uuid.uuid4().hex}{suffix}"
    digest = hashlib.sha256()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            for chunk in uploaded_file.chunks():
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, digest.hexdigest()


def _enqueue(run_id: int) -> None:
    from records import tasks  # tasks call this module's services

    try:
        tasks.run_import.delay(run_id)
    except Exception as exc:
        # The broker is down (or, inline, the task itself failed): say so on the run
        # instead of leaving it "waiting" for ever.
        logger.error("Import run %s could not be run: %s", run_id, type(exc).__name__)
        import_run_fail(run_id=run_id, message=NOT_QUEUED_MESSAGE)


class _ProgressRecorder:
    """The importer's ``progress`` callback: phase, rows done and rows total, to the cache.

    Writes at most every PROGRESS_INTERVAL within a phase; a new phase is written at
    once, so "waiting" for another run's lock shows while the importer waits.
    """

    def __init__(self, run_id: int):
        self.key = import_run_progress_key(run_id)
        self.phase: str | None = None
        self.done = 0
        self.total = 0
        self.written_at = float("-inf")
        self.cache_failed = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.done, self.total = done, total
        now = time.monotonic()
        if phase == self.phase and now - self.written_at < PROGRESS_INTERVAL:
            return
        self.phase, self.written_at = phase, now
        try:
            cache.set(self.key, {"phase": phase, "done": done, "total": total}, PROGRESS_TIMEOUT)
        except Exception as exc:
            # Progress is a courtesy; an unreachable cache must not stop the import.
            if not self.cache_failed:
                logger.warning("Import progress not recorded: %s", type(exc).__name__)
                self.cache_failed = True


def import_run_lease(run_id: int):
    """The run's lease (records/leases.py), held by the worker running it."""
    return leases.lease(ImportRun._meta.label_lower, run_id)


def import_run_execute(*, run_id: int) -> ImportRun:
    """Run a queued import once and record its outcome; the stored file is deleted after.

    The changes and the outcome are written in one transaction: a worker that dies before
    the commit leaves nothing applied, one that dies after leaves the run finished. A
    task delivered twice (late acknowledgement) finds the run's lease held by the worker
    running it, or the run finished, and leaves it alone; one that finds it "running"
    with nobody holding its lease runs it again from the start (``_claim``).
    """
    with import_run_lease(run_id) as held:
        if not held:
            logger.warning("Import run %s is being run by another worker: not run again", run_id)
            return ImportRun.unscoped.get(pk=run_id)
        run = _claim(run_id)
        if run.status != ImportRun.Status.RUNNING:
            return run
        return _execute(run)


def _claim(run_id: int) -> ImportRun:
    """Mark the run running, its lease held: a queued run, or a "running" one whose
    worker died (nothing of it was applied), MAX_ATTEMPTS times at most."""
    with transaction.atomic():
        run = ImportRun.unscoped.select_for_update().get(pk=run_id)
        if run.status not in (ImportRun.Status.QUEUED, ImportRun.Status.RUNNING):
            logger.warning("Import run %s is %s, not queued: not run again", run_id, run.status)
            return run
        if run.status == ImportRun.Status.RUNNING:
            logger.warning("Import run %s lost its worker (attempt %s)", run_id, run.attempts)
        if run.attempts < MAX_ATTEMPTS:
            run.status, run.started_at = ImportRun.Status.RUNNING, timezone.now()
            run.attempts += 1
            run.save(update_fields=["status", "started_at", "attempts"])
            return run
    return import_run_fail(run_id=run_id, message=LOST_MESSAGE)


def _execute(run: ImportRun) -> ImportRun:
    progress = _ProgressRecorder(run.pk)
    stored_path = run.stored_path
    try:
        # Imported here, by module, so tests (and a missing importer) meet it at run time.
        oneroster = importlib.import_module("records.importers.oneroster")
        with tenant_scope(run.district_id), transaction.atomic():
            report, _district = oneroster.import_oneroster(
                stored_path,
                district_slug=run.district.slug,
                actor=run.started_by,
                strict=run.strict,
                dry_run=run.dry_run,
                progress=progress,
            )
            outcome = report.as_dict()
            run.status = ImportRun.Status.SUCCEEDED if report.ok else ImportRun.Status.REJECTED
            run.counts = outcome["counts"]
            run.warnings = outcome["warnings"]
            run.errors = outcome["errors"]
            run.rows_total = report.rows_total or progress.total
            run.rows_done = run.rows_total if report.ok else min(progress.done, run.rows_total)
            # Stored with the changes; the file is deleted once they are committed.
            run.stored_path = ""
            _finish(run)
    except Exception as exc:
        # Exception messages can quote the file's rows: log where it failed, not what.
        logger.error(
            "Import run %s failed with %s:\n%s",
            run.pk,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        run.status = ImportRun.Status.FAILED
        run.counts, run.warnings = {}, []
        run.errors = [_general_issue(FAILED_MESSAGE)]
        run.rows_done, run.rows_total = progress.done, progress.total
        run.stored_path = stored_path
        return _finish(run)
    _delete_upload(run, stored_path)
    return run


def import_run_fail(*, run_id: int, message: str) -> ImportRun:
    """End a run that will not be run, with a message for the person who started it;
    never one another worker is running (it holds the run's lease)."""
    with import_run_lease(run_id) as held:
        run = ImportRun.unscoped.get(pk=run_id)
        if not held or run.status not in (ImportRun.Status.QUEUED, ImportRun.Status.RUNNING):
            return run
        run.status = ImportRun.Status.FAILED
        run.errors = [_general_issue(message)]
        return _finish(run)


def import_runs_expire_stale(*, now=None) -> int:
    """Fail the runs no worker will finish, and delete their files: queued, or "running"
    with no worker holding them, for longer than the broker takes to hand a lost worker's
    message to another (``leases.lost_after``). Their message is gone: lost, or
    acknowledged when the worker was killed at the hard time limit."""
    cutoff = (now or timezone.now()) - leases.lost_after()
    in_progress = [ImportRun.Status.QUEUED, ImportRun.Status.RUNNING]
    stale = (
        ImportRun.unscoped.filter(status__in=in_progress)
        .annotate(since=Coalesce("started_at", "created_at"))
        .filter(since__lt=cutoff)
        .values_list("pk", flat=True)
    )
    expired = 0
    for run_id in list(stale):
        with import_run_lease(run_id) as held:
            if held and ImportRun.unscoped.filter(pk=run_id, status__in=in_progress).exists():
                import_run_fail(run_id=run_id, message=STALE_MESSAGE)
                expired += 1
    return expired


def _general_issue(message: str) -> dict:
    return {"file": "", "line": None, "column": None, "column_name": None, "message": message}


def _finish(run: ImportRun) -> ImportRun:
    run.finished_at = timezone.now()
    if run.stored_path:
        try:
            Path(run.stored_path).unlink(missing_ok=True)
        except OSError as exc:
            # Kept on the row so an operator can find and remove it.
            logger.error("Import run %s: stored file not deleted (%s)", run.pk, type(exc).__name__)
        else:
            run.stored_path = ""
    run.save(
        update_fields=[
            "status",
            "counts",
            "warnings",
            "errors",
            "rows_total",
            "rows_done",
            "finished_at",
            "stored_path",
        ]
    )
    try:
        cache.delete(import_run_progress_key(run.pk))
    except Exception as exc:
        logger.warning("Import progress not cleared: %s", type(exc).__name__)
    return run


def _delete_upload(run: ImportRun, path: str) -> None:
    """Delete a finished run's file once its outcome is committed."""
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as exc:
        # Put back on the row so an operator can find and remove it.
        logger.error("Import run %s: stored file not deleted (%s)", run.pk, type(exc).__name__)
        ImportRun.unscoped.filter(pk=run.pk).update(stored_path=path)


def family_visit_record(*, actor, district_id: int, student_id: int, at=None) -> None:
    """Remember when ``actor`` last opened this child's page (one upsert)."""
    FamilyVisit.unscoped.update_or_create(
        district_id=district_id,
        user=actor,
        student_id=student_id,
        defaults={"last_seen_at": at or timezone.now()},
    )


# Amendment requests (FERPA 99.20–99.22). Who may do what is decided by access/amendments.py
# before these are called; they keep the rules that hold whoever calls them.


def amendment_request(
    *,
    actor,
    student: Student,
    field: str,
    category: str,
    proposed_value: str,
    reason: str,
    current_value: str = "",
) -> AmendmentRequest:
    """Record a family's request to correct ``field`` of ``student``'s record.

    ``category`` is the field's data category (access/categories.py): the data layer
    does not decide categories. A student column's proposed value must be one the
    column can hold, so that accepting it can apply it.
    """
    proposed_value, reason = proposed_value.strip(), reason.strip()
    errors = {}
    if not proposed_value:
        errors["proposed_value"] = ValidationError(_("Enter the correct value."), code="required")
    elif _is_student_column(field):
        try:
            _column_value(field, proposed_value)
        except ValidationError as error:
            errors["proposed_value"] = error
    if not reason:
        errors["reason"] = ValidationError(_("Say why the record is wrong."), code="required")
    if errors:
        raise ValidationError(errors)
    return AmendmentRequest.unscoped.create(
        district_id=student.district_id,
        student=student,
        requested_by=actor,
        category=category,
        field=field,
        current_value=current_value,
        proposed_value=proposed_value,
        reason=reason,
    )


def _is_student_column(field: str) -> bool:
    try:
        model_field = Student._meta.get_field(field)
    except FieldDoesNotExist:
        return False
    return field not in STUDENT_INTERNAL_COLUMNS and not model_field.is_relation


# Columns no family request may ever write, whatever the caller passes.
STUDENT_INTERNAL_COLUMNS = frozenset(
    {"id", "district", "sourced_id", "user", "is_postsecondary", "is_tax_dependent"}
    | {"created_at", "updated_at"}
)


def _column_value(field: str, value: str):
    """``value`` as the student column holds it; ValidationError if it cannot."""
    model_field = Student._meta.get_field(field)
    return model_field.clean(value, None)


def amendment_decide(
    *, actor, amendment: AmendmentRequest, accept: bool, reason: str, connection=None
) -> AmendmentRequest:
    """Accept (apply the correction to a student column) or refuse (with a reason).

    Decided once: a decided request raises ValueError. The requester is emailed that
    a decision was made, with no student named; the outcome is on their corrections page.
    """
    reason = reason.strip()
    if not accept and not reason:
        raise ValidationError(
            {
                "reason": ValidationError(
                    _("Write why the record is not corrected."), code="required"
                )
            }
        )
    with transaction.atomic():
        locked = AmendmentRequest.unscoped.select_for_update().get(
            district_id=amendment.district_id, pk=amendment.pk
        )
        if locked.status != AmendmentRequest.Status.OPEN:
            raise ValueError("This request has already been decided.")
        if accept and _is_student_column(locked.field):
            student = Student.unscoped.select_for_update().get(
                district_id=locked.district_id, pk=locked.student_id
            )
            setattr(student, locked.field, _column_value(locked.field, locked.proposed_value))
            student.save(update_fields=[locked.field, "updated_at"])
        locked.status = (
            AmendmentRequest.Status.ACCEPTED if accept else AmendmentRequest.Status.REFUSED
        )
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.decision_reason = reason
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    _amendment_decision_notify(locked, connection=connection)
    return locked


def _amendment_decision_notify(amendment: AmendmentRequest, *, connection=None) -> None:
    """Tell the requester a decision was made; no student is named in an email."""
    requester = amendment.requested_by
    if requester is None or not requester.email:
        return
    link = settings.SITE_URL + reverse("family:home")
    subjects, bodies = [], []
    for language in ("en", "es"):  # the reader's language is not known: both
        with translation.override(language):
            subjects.append(gettext("A decision was made on your correction request"))
            bodies.append(
                gettext(
                    "A decision was made on your request to correct a school record. "
                    "Sign in to read it: %(link)s"
                )
                % {"link": link}
            )
    message = EmailMessage(
        subject=" / ".join(subjects),
        body="\n\n— — —\n\n".join(bodies) + "\n",
        to=[requester.email],
        connection=connection,
    )
    try:
        message.send()
    except Exception as exc:  # the decision stands; the family also sees it on the page
        logger.warning("Amendment decision email not sent: %s", type(exc).__name__)


def disagreement_statement_add(
    *, actor, amendment: AmendmentRequest, text: str
) -> DisagreementStatement:
    """Attach the family's statement of disagreement to a refused request (99.21(b)(2))."""
    text = text.strip()
    if not text:
        raise ValidationError(
            {"text": ValidationError(_("Write your statement."), code="required")}
        )
    with transaction.atomic():
        locked = AmendmentRequest.unscoped.select_for_update().get(
            district_id=amendment.district_id, pk=amendment.pk
        )
        if locked.status != AmendmentRequest.Status.REFUSED:
            raise ValueError("A statement of disagreement follows a refused request only.")
        if DisagreementStatement.unscoped.filter(
            district_id=locked.district_id, amendment=locked
        ).exists():
            raise ValueError("This request already has a statement of disagreement.")
        return DisagreementStatement.unscoped.create(
            district_id=locked.district_id,
            amendment=locked,
            student_id=locked.student_id,
            category=locked.category,
            field=locked.field,
            text=text,
            created_by=actor,
        )


@dataclass(frozen=True)
class AttendanceSaved:
    created: int
    changed: int
    unchanged: int


ATTENDANCE_STATUSES = frozenset(AttendanceRecord.Status.values)
ATTENDANCE_REASON_MAX = AttendanceRecord._meta.get_field("reason").max_length


def attendance_take(
    *,
    actor,
    section: Section,
    day: date,
    marks: Mapping[int, tuple[str, str]],
    writable: frozenset[int],
) -> AttendanceSaved:
    """Save a section's attendance for ``day``: one mark per student id, (status, reason).

    ``writable`` is what ``access.classes.attendance_writable`` allowed ``actor`` (a
    user) for this section and day: the students they may mark, none if they do not
    teach it that day. A mark for anyone else, or any bad mark, refuses the whole batch:
    nothing is saved. A changed mark keeps its history in ``AttendanceChange`` (who,
    when, old → new).
    """
    district_id = section.district_id
    if not writable or actor is None or actor.district_id != district_id:
        raise ValidationError(_("You don't teach this class on that date."), code="not_taught")
    if not set(marks) <= writable:
        raise ValidationError(
            _("Some students were not in this class on that date."), code="not_enrolled"
        )
    for status, reason in marks.values():
        if status not in ATTENDANCE_STATUSES:
            raise ValidationError(
                _("“%(status)s” is not an attendance status."),
                code="bad_status",
                params={"status": status},
            )
        if len(reason) > ATTENDANCE_REASON_MAX:
            raise ValidationError(
                _("A reason can be at most %(max)d characters."),
                code="long_reason",
                params={"max": ATTENDANCE_REASON_MAX},
            )
    student_ids = sorted(marks)
    now = timezone.now()
    created = changed = 0
    with transaction.atomic():
        existing = {
            record.student_id: record
            for record in AttendanceRecord.unscoped.select_for_update()
            .filter(district_id=district_id, section_id=section.pk, date=day)
            .filter(student_id__in=student_ids)
            .order_by("pk")
        }
        new_records, history = [], []
        for student_id in student_ids:
            status, reason = marks[student_id]
            record = existing.get(student_id)
            if record is None:
                new_records.append(
                    AttendanceRecord(
                        district_id=district_id,
                        student_id=student_id,
                        section_id=section.pk,
                        date=day,
                        status=status,
                        reason=reason,
                    )
                )
                continue
            if (record.status, record.reason) == (status, reason):
                continue
            history.append(
                AttendanceChange(
                    district_id=district_id,
                    record=record,
                    record_date=record.date,
                    changed_by=actor,
                    changed_at=now,
                    old_status=record.status,
                    new_status=status,
                    old_reason=record.reason,
                    new_reason=reason,
                )
            )
            record.status, record.reason = status, reason
        if new_records:
            AttendanceRecord.unscoped.bulk_create(new_records)
            created = len(new_records)
        if history:
            AttendanceRecord.unscoped.bulk_update(
                [change.record for change in history], ["status", "reason"]
            )
            AttendanceChange.unscoped.bulk_create(history)
            changed = len(history)
    return AttendanceSaved(created, changed, len(student_ids) - created - changed)


# Substitute teachers: the assignment. The permission that goes with it is the access
# layer's record (access.substitutes, access.grants), written in the same transaction.


def _find_substitute(*, district_id: int, who: str) -> User:
    """The active person of the district with this username or else this email, in any case.

    A username names one person (unique whatever its case), so it is taken first; an
    email several people share is refused, never settled by picking one of them.
    """
    who = (who or "").strip()
    if not who:
        raise ValidationError({"substitute": _("Enter the substitute's username or email.")})
    people = User.objects.filter(district_id=district_id, is_active=True)
    # lower() on both sides, as the unique index on the username folds it.
    named = people.alias(folded=Lower("username")).filter(folded=Lower(Value(who)))
    matches = list(named[:1]) or list(people.filter(email__iexact=who).order_by("pk")[:2])
    if not matches:
        raise ValidationError(
            {"substitute": _("No one in this district has that username or email.")}
        )
    if len(matches) > 1:
        raise ValidationError(
            {"substitute": _("More than one person matches; enter the full username.")}
        )
    return matches[0]


def _check_substitute_dates(section: Section, begin: date, end: date, today: date) -> None:
    term = section.term
    if begin < today:
        raise ValidationError({"begin_date": _("A substitute can't be assigned in the past.")})
    if end < begin:
        raise ValidationError({"end_date": _("The last day can't be before the first.")})
    if begin < term.start_date or end > term.end_date:
        raise ValidationError(
            {
                "end_date": _("The dates must fall within the term (%(start)s to %(end)s).")
                % {"start": date_format(term.start_date), "end": date_format(term.end_date)}
            }
        )


def substitute_assignment_create(
    *, actor, section: Section, who: str, begin: date, end: date, today: date
) -> SubstituteAssignment:
    """Assign ``section`` to a substitute from ``begin`` to ``end`` (inclusive), for an
    ``actor`` access has allowed to (``access.substitutes.assign_substitute``).

    The substitute must hold a teacher role in the district for the dates and must not
    already teach the section. Refusals are ``ValidationError`` keyed by form field;
    nothing is saved.
    """
    district_id = section.district_id
    substitute = _find_substitute(district_id=district_id, who=who)
    _check_substitute_dates(section, begin, end, today)
    teacher_role = RoleMembership.unscoped.filter(
        district_id=district_id, user=substitute, role=Role.TEACHER
    ).filter(Q(end_date__isnull=True) | Q(end_date__gte=end))
    if not teacher_role.filter(active_on_q(begin)).exists():
        name = substitute.get_full_name() or substitute.username
        raise ValidationError(
            {
                "substitute": _("%(name)s doesn't hold a teacher role for those dates.")
                % {"name": name}
            }
        )
    teaches = SectionTeacher.unscoped.filter(
        district_id=district_id, section_id=section.pk, teacher=substitute
    )
    if teaches.exists():
        raise ValidationError({"substitute": _("This person already teaches the class.")})
    return SubstituteAssignment.unscoped.create(
        district_id=district_id,
        section=section,
        substitute=substitute,
        begin_date=begin,
        end_date=end,
        assigned_by=actor,
        assigned_at=timezone.now(),
    )


def substitute_assignment_end(*, assignment: SubstituteAssignment) -> bool:
    """End the assignment now. True while another open assignment of the same person to
    the section still needs their permission on it."""
    assignment.ended_at = timezone.now()
    assignment.save(update_fields=["ended_at"])
    return SubstituteAssignment.unscoped.filter(
        district_id=assignment.district_id,
        section_id=assignment.section_id,
        substitute_id=assignment.substitute_id,
        ended_at__isnull=True,
    ).exists()
