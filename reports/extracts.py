"""De-identified research extracts (REQUIREMENTS 10-11): built by a Celery task for an
approved study, fetched by its named researchers through expiring links.

The build asks ``access.studies`` for the students the agreement covers and reads, for
them, only the elements it names (``reports.selectors.extract_records``): no name,
address, contact or id is read, and the birth date only becomes a year or an age band.
Each student carries the study's pseudonym (HMAC-SHA256 of the study key and the
internal id). The quasi-identifiers are generalised along their hierarchies and records
suppressed until every class holds at least the district's k (``reports.deidentify``);
outcome columns of a class with fewer than two distinct values are blanked (ℓ-diversity).
What was done is the release report inside the zip. A population k cannot be reached in
is not released: the extract says so and holds no file.

The zip holds ``extract.csv``, ``data_dictionary.csv`` and ``release_report.txt``.
Each extract is recorded once, as a de-identified release for the study, in the record
of disclosures of every student it holds; each download is logged.
"""

from __future__ import annotations

import csv
import io
import logging
import secrets
import zipfile
from functools import partial

from django.core import signing
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from access import audit, studies
from access.models import Study, StudyVersion
from access.scoping import record_id
from access.viewer import Viewer
from records import leases
from records.models import School
from reports import deidentify
from reports.models import ExtractDownload, StudyExtract
from reports.selectors import extract_records
from studentdata.db.replica import replica_reads
from studentdata.spreadsheets import safe_cell

logger = logging.getLogger(__name__)

IN_PROGRESS = frozenset({StudyExtract.Status.QUEUED, StudyExtract.Status.RUNNING})
LINK_MINUTES = 10  # how long a download link works once the page showed it
LINK_SALT = "reports.extract-download"
# The outcome columns a class must not give away alike (ℓ-diversity).
MIN_L = 2
# Records suppressed, at most, to reach k with least generalisation (the rest is done by
# generalising): beyond it, a coarser generalisation is chosen.
MAX_SUPPRESSED_SHARE = 0.05

RACE_LABELS = {
    "hispanic": "Hispanic or Latino",
    "white": "White",
    "black": "Black or African American",
    "asian": "Asian",
    "american_indian": "American Indian or Alaska Native",
    "pacific_islander": "Native Hawaiian or Other Pacific Islander",
    "two_or_more": "Two or more races",
    "race_not_reported": "unknown",
}
AGE_BANDS = ((0, 5, "under 6"), (6, 8, "6-8"), (9, 11, "9-11"), (12, 14, "12-14"),
             (15, 17, "15-17"), (18, 200, "18 and over"))  # fmt: skip

NOT_IN_FORCE = _("The study is no longer approved and in force, so no extract was built.")
NOT_RECEIVER = _("The person who asked is no longer a named researcher of the study.")
FAILED = _("The extract could not be built because of an error on our side. Nothing was kept.")
LOST = _(
    "The extract was not finished: the worker building it stopped. Nothing was kept; "
    "please ask for it again."
)


class ExtractRefused(Exception):
    """A request that cannot be made; the message says why."""


# -- asking and following ----------------------------------------------------------------


def extracts_of(study: Study):
    return StudyExtract.unscoped.filter(district_id=study.district_id, study=study).select_related(
        "requested_by"
    )


def extract_for(user, viewer: Viewer, raw_id) -> StudyExtract:
    """An extract of a study this person may follow (its researchers, the district's
    admins); 404 alike for missing and not theirs."""
    pk = record_id(raw_id)
    extract = (
        StudyExtract.unscoped.select_related("study__approved_version", "study__district")
        .filter(pk=pk)
        .first()
        if pk is not None
        else None
    )
    if extract is None or not studies.may_follow(user, viewer, extract.study):
        raise Http404("No such extract.")
    return extract


def extract_request(*, actor, study: Study) -> StudyExtract:
    """Queue an extract under the agreement in force; one at a time per study."""
    if not studies.may_receive(actor, study):
        raise ExtractRefused(_("Only the study's named researchers, while it is in force."))
    with transaction.atomic():
        Study.unscoped.select_for_update().filter(pk=study.pk).first()
        pending = extracts_of(study).filter(status__in=IN_PROGRESS).order_by("pk").first()
        if pending is not None:
            return pending
        extract = StudyExtract.unscoped.create(
            district_id=study.district_id,
            study=study,
            version=study.approved_version,
            requested_by=actor,
        )
        transaction.on_commit(partial(_enqueue, extract.pk))
    return extract


def _enqueue(extract_id: int) -> None:
    from reports.tasks import build_extract

    build_extract.delay(extract_id)


# -- building -----------------------------------------------------------------------------


def extract_build(*, extract_id: int) -> StudyExtract | None:
    """Build a queued extract: check the study and the requester again, read, generalise,
    suppress, pseudonymise, write, record. Failures leave no file behind.

    Once: the worker building it holds its lease (records/leases.py), so a message
    delivered twice builds nothing more. One found building with nobody holding its lease
    lost its worker: it is failed, and asked for again by the researchers."""
    with leases.lease(StudyExtract._meta.label_lower, extract_id) as held:
        if not held:
            return StudyExtract.unscoped.filter(pk=extract_id).first()
        return _extract_build(extract_id)


def _extract_build(extract_id: int) -> StudyExtract | None:
    extract = (
        StudyExtract.unscoped.select_related("study__district", "version", "requested_by")
        .filter(pk=extract_id)
        .first()
    )
    if extract is None or extract.status not in IN_PROGRESS:
        return extract  # gone, or already built: a task delivered twice does nothing
    if extract.status == StudyExtract.Status.RUNNING:
        return _fail_lost(extract)  # its lease is ours: the worker building it died
    study = extract.study
    if not studies.in_force(study) or study.approved_version_id != extract.version_id:
        return _finish(extract, StudyExtract.Status.FAILED, error=str(NOT_IN_FORCE))
    if extract.requested_by is None or not studies.may_receive(extract.requested_by, study):
        return _finish(extract, StudyExtract.Status.FAILED, error=str(NOT_RECEIVER))
    written: list[str] = []  # the file, once stored: deleted again if anything fails
    try:
        return _build(extract, study, extract.version, written)
    except Exception as exc:
        # The exception's text may quote data: log its kind, not its message.
        logger.error("study extract %s failed with %s", extract.pk, type(exc).__name__)
        _delete_files(written)
        return _finish(extract, StudyExtract.Status.FAILED, error=str(FAILED))


def _fail_lost(extract: StudyExtract) -> StudyExtract:
    """Fail an extract whose worker died, and delete what that worker may have stored."""
    storage = StudyExtract._meta.get_field("file").storage
    prefix = f"study-{extract.study_id}-extract-{extract.pk}-"
    try:
        stored = [f"extracts/{name}" for name in storage.listdir("extracts")[1]]
    except FileNotFoundError:
        stored = []
    _delete_files(name for name in stored if name.startswith(f"extracts/{prefix}"))
    return _finish(extract, StudyExtract.Status.FAILED, error=str(LOST))


def extracts_expire_lost(*, now=None) -> int:
    """Fail the extracts no worker will finish (``leases.fail_lost``): how many."""
    return leases.fail_lost(StudyExtract.unscoped.all(), IN_PROGRESS, _fail_lost, now=now)


def _delete_files(names) -> None:
    storage = StudyExtract._meta.get_field("file").storage
    for name in names:
        storage.delete(name)


def _progress(extract: StudyExtract, percent: int, stage: str) -> None:
    StudyExtract.unscoped.filter(pk=extract.pk).update(
        status=StudyExtract.Status.RUNNING, progress=percent, stage=stage
    )


def _build(
    extract: StudyExtract, study: Study, version: StudyVersion, written: list[str]
) -> StudyExtract:
    _progress(extract, 5, "Reading the records")
    first, last = studies.study_window(version)
    elements = frozenset(element.code for element in studies.requested_elements(version))
    # The records counted may come from a read replica: the population is read on the
    # primary (studentdata/db/replica.py), and the study was checked there above.
    with replica_reads("a research extract's records, of the population the primary gave"):
        records = extract_records(
            studies.study_population(version),
            district_id=study.district_id,
            first=first,
            last=last,
            elements=elements,
            progress=lambda percent: _progress(extract, percent, "Reading the records"),
        )
    _progress(extract, 40, "De-identifying")
    floors = _earlier_levels(study)
    chosen = _hierarchies(version, elements, study.district_id)
    # A column an earlier extract released nothing of stays unreleased.
    withheld = {h.column: h for h in chosen if floors.get(h.column, 0) >= len(h.level_names) - 1}
    hierarchies = [
        _at_least(h, floors.get(h.column, 0)) for h in chosen if h.column not in withheld
    ]
    columns = _quasi_columns(records, version)
    outcomes = _outcome_columns(records, elements)
    anonymised = deidentify.anonymise(
        {**columns, **outcomes},
        hierarchies,
        k=study.district.k_anonymity,
        sensitive=list(outcomes),
        min_l=MIN_L,
        max_suppressed_share=MAX_SUPPRESSED_SHARE,
    )
    report = release_report(anonymised, hierarchies, version, first, last, floors, withheld)
    if anonymised.refused:
        return _finish(extract, StudyExtract.Status.REFUSED, report=report)
    _progress(extract, 70, "Writing the extract")
    pseudonym = studies.pseudonymiser(study)
    # Rows in the order of their pseudonyms: the order of internal ids (the disclosure
    # record's) would link each row to its student once the key is gone.
    kept = sorted(
        (pseudonym(records.student_ids[i]), i) for i, keep in enumerate(anonymised.kept) if keep
    )
    payload = _zip(anonymised, hierarchies, outcomes, kept, report)
    name = f"study-{study.pk}-extract-{extract.pk}-{secrets.token_hex(8)}.zip"
    extract.file.save(name, ContentFile(payload, name=name), save=False)
    written.append(extract.file.name)
    released = [records.student_ids[i] for _, i in kept]
    with transaction.atomic():
        # The study may have closed (its key destroyed) or been amended while this ran.
        locked = Study.unscoped.select_for_update().get(pk=study.pk)
        if not studies.in_force(locked) or locked.approved_version_id != version.pk:
            _delete_files(written)
            return _finish(extract, StudyExtract.Status.FAILED, error=str(NOT_IN_FORCE))
        audit.record_study_release(
            study=study,
            version=version,
            actor=extract.requested_by,
            student_ids=released,
            categories=studies.study_categories(version),
            legal_basis=studies.LEGAL_BASES[version.legal_basis],
        )
        return _finish(extract, StudyExtract.Status.READY, report=report, file=extract.file.name)


def _finish(extract: StudyExtract, status: str, *, report=None, error: str = "", file=""):
    StudyExtract.unscoped.filter(pk=extract.pk).update(
        status=status,
        progress=100 if status == StudyExtract.Status.READY else extract.progress,
        stage="",
        report=report or {},
        error=error,
        file=file,
        finished_at=timezone.now(),
    )
    extract.refresh_from_db()
    return extract


def _hierarchies(version: StudyVersion, elements: frozenset[str], district_id: int):
    chosen = []
    if "school" in elements:
        kinds = dict(
            School.unscoped.filter(district_id=district_id, pk__in=version.school_ids).values_list(
                "name", "kind"
            )
        )
        chosen.append(deidentify.school_hierarchy(kinds))
    if "grade" in elements:
        chosen.append(deidentify.grade_hierarchy())
    if "birth_year" in elements:
        by_age = version.birth_dates_as == StudyVersion.BirthDates.AGE_BAND
        chosen.append(age_band_hierarchy() if by_age else deidentify.birth_year_hierarchy())
    if "sex" in elements:
        chosen.append(deidentify.sex_hierarchy())
    if "race_ethnicity" in elements:
        chosen.append(deidentify.race_hierarchy())
    chosen.extend(
        deidentify.flag_hierarchy(code, str(studies.ELEMENTS_BY_CODE[code].label))
        for code in ("iep", "english_learner", "economically_disadvantaged", "homeless")
        if code in elements
    )
    return chosen


def _earlier_levels(study: Study) -> dict[str, int]:
    """The coarsest level of each column in the study's earlier extracts. A later extract
    generalises each column at least as far: joined by pseudonym, the extracts then tell
    no more of anyone than the coarsest did (one made finer would split its classes)."""
    floors: dict[str, int] = {}
    reports = (
        extracts_of(study).filter(status=StudyExtract.Status.READY).values_list("report", flat=True)
    )
    for report in reports:
        for column, level in (report or {}).get("levels", {}).items():
            floors[column] = max(floors.get(column, 0), int(level))
    return floors


def _at_least(hierarchy: deidentify.Hierarchy, floor: int) -> deidentify.Hierarchy:
    """``hierarchy`` starting at level ``floor``: no finer level can be chosen."""
    if floor <= 0:
        return hierarchy
    floor = min(floor, len(hierarchy.level_names) - 1)
    return deidentify.Hierarchy(
        hierarchy.column,
        hierarchy.level_names[floor:],
        lambda value, level: hierarchy.generalise(value, level + floor),
    )


# Attendance is released in bands, the lowest coded below 70%: an exact rate is nearly
# unique in a class, and whoever knows a student's attendance would find their row.
ATTENDANCE_BANDS = ((95, "95-100"), (90, "90-94"), (80, "80-89"), (70, "70-79"), (0, "under 70"))


def attendance_band(rate: int | None) -> str | None:
    if rate is None:
        return None
    return next(label for low, label in ATTENDANCE_BANDS if rate >= low)


def age_band(age: int | None) -> str:
    if age is None:
        return "unknown"
    return next(label for low, high, label in AGE_BANDS if low <= age <= high)


def age_band_hierarchy() -> deidentify.Hierarchy:
    """Age on the study's last day, in bands of three years, or nothing."""

    def generalise(age, level: int) -> str:
        return age_band(age) if level == 0 else "*"

    return deidentify.Hierarchy("age_band", ("age band", "not released"), generalise)


def _quasi_columns(records, version: StudyVersion) -> dict[str, list]:
    columns = dict(records.columns)
    columns["race_ethnicity"] = [RACE_LABELS[code] for code in columns.get("race_ethnicity", ())]
    columns["age_band"] = columns.get("age", [])
    return columns


def _outcome_columns(records, elements: frozenset[str]) -> dict[str, list]:
    outcomes = {}
    if "attendance_rate" in elements:
        outcomes["attendance_rate"] = [
            attendance_band(rate) for rate in records.columns.get("attendance_rate", [])
        ]
    if "assessment_levels" in elements:
        for subject in records.subjects:
            outcomes[f"level:{subject}"] = records.columns[f"level:{subject}"]
    return outcomes


def release_report(
    anonymised, hierarchies, version: StudyVersion, first, last, floors, withheld=None
) -> dict:
    """What the release did, for the zip, the study's page and the district; ``levels``
    (each column's level in its full hierarchy) bound the study's next extracts, and
    ``withheld`` columns (an earlier extract released nothing of them) stay at the top."""
    withheld = withheld or {}
    return {
        "levels": {
            **{
                h.column: floors.get(h.column, 0) + anonymised.levels[h.column] for h in hierarchies
            },
            **{column: len(h.level_names) - 1 for column, h in withheld.items()},
        },
        "k_required": anonymised.k_required,
        "k_achieved": anonymised.k_achieved,
        "records": anonymised.records,
        "suppressed": anonymised.suppressed,
        "released": anonymised.records - anonymised.suppressed,
        "suppressed_percent": round(100 * anonymised.suppressed / anonymised.records, 2)
        if anonymised.records
        else 0,
        "information_loss": round(anonymised.information_loss, 4),
        "generalisations": {
            h.column: "as recorded"
            if floors.get(h.column, 0) + anonymised.levels[h.column] == 0
            else anonymised.level_names[h.column]
            for h in hierarchies
        }
        | {column: h.level_names[-1] for column, h in withheld.items()},
        "l_diversity": {
            _outcome_header(column): value for column, value in anonymised.l_diversity.items()
        },
        "outcomes_blanked": {
            _outcome_header(column): int(mask.sum()) for column, mask in anonymised.blanked.items()
        },
        "refused": anonymised.refused,
        "version": version.number,
        "window": [first.isoformat(), last.isoformat()],
    }


def _zip(anonymised, hierarchies, outcomes, kept, report) -> bytes:
    """``kept``: (pseudonym, record index) of each released record, in the rows' order."""
    quasi = [h.column for h in hierarchies]
    header = ["pseudonym", *quasi, *(safe_cell(_outcome_header(name)) for name in outcomes)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        with (
            bundle.open("extract.csv", "w") as raw,
            io.TextIOWrapper(raw, "utf-8", newline="") as out,
        ):
            writer = csv.writer(out)
            writer.writerow(header)
            for pseudonym, i in kept:
                row = [pseudonym]
                row += [safe_cell(anonymised.values[column][i]) for column in quasi]
                row += [
                    "" if anonymised.blanked[name][i] or values[i] is None else values[i]
                    for name, values in outcomes.items()
                ]
                writer.writerow(row)
        bundle.writestr("data_dictionary.csv", _dictionary(hierarchies, anonymised, outcomes))
        bundle.writestr("release_report.txt", _report_text(report))
    return buffer.getvalue()


def _outcome_header(name: str) -> str:
    return f"level_{name.removeprefix('level:')}" if name.startswith("level:") else name


OUTCOME_MEANINGS = {
    "attendance_rate": "Share of days with a daily attendance mark that the student was "
    "present over the study's school years, in bands (95-100, 90-94, 80-89, 70-79, under "
    "70, in percent); blank: no marks, or withheld (ℓ-diversity).",
}


def _dictionary(hierarchies, anonymised, outcomes) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["column", "meaning", "released as"])
    writer.writerow([
        "pseudonym",
        "The study's pseudonym of the student: HMAC-SHA256 of the study key and an internal "
        "id. The same student has a different pseudonym in every study.",
        "64 hexadecimal characters",
    ])  # fmt: skip
    for hierarchy in hierarchies:
        level = anonymised.levels[hierarchy.column]
        writer.writerow([
            hierarchy.column,
            f"Quasi-identifier, generalised to: {hierarchy.level_names[level]}",
            " > ".join(hierarchy.level_names),
        ])  # fmt: skip
    for name in outcomes:
        meaning = OUTCOME_MEANINGS.get(
            name,
            f"Latest performance level in {name.removeprefix('level:')} within the study's "
            "school years; blank: not assessed, or withheld (ℓ-diversity).",
        )
        writer.writerow([_outcome_header(name), meaning, "number"])
    return out.getvalue()


def _report_text(report: dict) -> str:
    lines = [
        "De-identified release report",
        "",
        f"Records in the population: {report['records']}",
        f"Records released: {report['released']}",
        f"Records suppressed: {report['suppressed']} ({report['suppressed_percent']}%)",
        f"k required: {report['k_required']}; k achieved: {report['k_achieved']}",
        f"Information loss (0 = none, 1 = everything): {report['information_loss']}",
        "Generalisations applied:",
        *(f"  {column}: {level}" for column, level in report["generalisations"].items()),
        "l-diversity (distinct values per class) of the outcome columns:",
        *(f"  {column}: {value}" for column, value in report["l_diversity"].items()),
        "Outcome values withheld for l-diversity:",
        *(f"  {column}: {count}" for column, count in report["outcomes_blanked"].items()),
        f"School years: {report['window'][0]} to {report['window'][1]}",
    ]
    return "\n".join(lines) + "\n"


# -- fetching ----------------------------------------------------------------------------


def download_token(extract: StudyExtract, user) -> str:
    """A link that works for this person and this extract only, for ``LINK_MINUTES``."""
    return signing.TimestampSigner(salt=LINK_SALT).sign(f"{extract.pk}:{user.pk}")


def token_valid(token: str, extract: StudyExtract, user) -> bool:
    try:
        value = signing.TimestampSigner(salt=LINK_SALT).unsign(token, max_age=LINK_MINUTES * 60)
    except signing.BadSignature:
        return False
    return value == f"{extract.pk}:{user.pk}"


def may_download(user, extract: StudyExtract) -> bool:
    """A ready extract, of a study in force, by a researcher its agreement names."""
    return (
        extract.status == StudyExtract.Status.READY
        and bool(extract.file)
        and extract.version_id == extract.study.approved_version_id  # not a superseded one
        and studies.may_receive(user, extract.study)
    )


def download_record(*, extract: StudyExtract, user, client_address: str | None) -> None:
    with transaction.atomic():
        StudyExtract.unscoped.filter(pk=extract.pk).update(download_count=F("download_count") + 1)
        ExtractDownload.unscoped.create(
            district_id=extract.district_id,
            extract=extract,
            user=user,
            client_address=client_address,
        )


def delete_extract_files(study: Study) -> int:
    """Delete the study's extract files (the rows and their reports stay on record)."""
    removed = 0
    for pk, name in extracts_of(study).exclude(file="").values_list("pk", "file"):
        _delete_files([name])  # first the file: a failure leaves the row to retry
        StudyExtract.unscoped.filter(pk=pk).update(file="")
        removed += 1
    return removed


def close_ended_studies() -> int:
    """Close every approved study whose agreement has ended: delete its key and its
    extracts' files. The number closed."""
    from records.models import District

    closed = 0
    for district in District.objects.all():
        for study in studies.studies_to_close(district, district.today()):
            if studies.study_close(study):
                closed += 1
        # Every closed study's files, each hour: one whose deletion failed is retried,
        # and a build that stored its file as the study closed finds it gone.
        for study in Study.unscoped.filter(district=district, status=Study.Status.CLOSED):
            extracts_of(study).filter(status__in=IN_PROGRESS).update(
                status=StudyExtract.Status.FAILED, error=str(NOT_IN_FORCE), stage=""
            )
            delete_extract_files(study)
    return closed
