"""Research studies (REQUIREMENTS 9-11; 34 CFR 99.31(a)(6), 99.31(b)): who may propose,
review, follow and download; which students an approved study's extract holds and which
categories it reads; the study key behind its pseudonyms.

A researcher is a person of the district's choosing (``Researcher``) with no staff role:
their viewer has no route, so no page or API of named records opens to them. What they
receive is an approved study's de-identified extract (reports/extracts.py), built from
the population and the categories this module gives, under pseudonyms only this study's
key can compute. A study's written agreement is its approved ``StudyVersion``; it is in
force from its start date to its end date, and then the study closes: its key is
deleted (crypto-shredding), so no pseudonym can ever be recomputed or re-linked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from access.categories import Category
from access.districts import may_manage_district
from access.models import Researcher, Study, StudyKey, StudyVersion
from access.scoping import record_id
from access.viewer import Viewer, viewer_for
from accounts.staff_services import outside_account, staff_invitation_send
from records.models import AcademicSession, District, SchoolMembership


class StudyKeyDestroyed(Exception):
    """The study has closed: its key is gone and no pseudonym can be computed."""


@dataclass(frozen=True)
class DataElement:
    code: str
    label: str
    category: str
    quasi_identifier: bool  # generalised or suppressed to reach k (REQUIREMENTS 11)


# What a study may ask for: never a direct identifier (name, address, contact, id,
# exact birth date), which no element here carries (REQUIREMENTS 10).
DATA_ELEMENTS: tuple[DataElement, ...] = (
    DataElement("school", _("School"), Category.DIRECTORY, True),
    DataElement("grade", _("Grade"), Category.DIRECTORY, True),
    DataElement("birth_year", _("Birth year (or age band)"), Category.DEMOGRAPHICS, True),
    DataElement("sex", _("Sex"), Category.DEMOGRAPHICS, True),
    DataElement("race_ethnicity", _("Race and ethnicity"), Category.DEMOGRAPHICS, True),
    DataElement("iep", _("Special education (IEP)"), Category.PROGRAMS, True),
    DataElement("english_learner", _("English learner"), Category.PROGRAMS, True),
    DataElement(
        "economically_disadvantaged", _("Free or reduced-price meals"), Category.PROGRAMS, True
    ),
    DataElement("homeless", _("Homeless (McKinney-Vento)"), Category.PROGRAMS, True),
    DataElement("attendance_rate", _("Attendance rate"), Category.ATTENDANCE, False),
    DataElement(
        "assessment_levels", _("Assessment performance levels"), Category.ASSESSMENTS, False
    ),
)
ELEMENTS_BY_CODE = {element.code: element for element in DATA_ELEMENTS}
LEGAL_BASES = {
    StudyVersion.LegalBasis.STUDIES: "99.31(a)(6)",
    StudyVersion.LegalBasis.AUDIT: "99.31(a)(3)",
}


# -- who -----------------------------------------------------------------------------


def researcher_profile(user) -> Researcher | None:
    """The active researcher record of ``user`` in their own district, if any."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.district_id is None:
        return None
    return (
        Researcher.unscoped.filter(district_id=user.district_id, user=user, is_active=True)
        .select_related("district")
        .first()
    )


def is_researcher(user) -> bool:
    return researcher_profile(user) is not None


def studies_for(user, viewer: Viewer) -> QuerySet[Study]:
    """The studies this person may follow: every one of the district (its admin), or a
    researcher's candidates: those they proposed or were named in once sent for review.
    Newest first. ``may_follow`` has the last word on each (named no longer, out)."""
    base = Study.unscoped.select_related("approved_version", "proposed_by")
    if may_manage_district(viewer):
        return base.filter(district_id=viewer.district_id)
    if not is_researcher(user):
        return Study.unscoped.none()
    # Named in a version the district has seen: a draft naming someone opens nothing.
    named = (
        StudyVersion.unscoped.filter(district_id=user.district_id, researcher_ids__holds_id=user.pk)
        .exclude(state=StudyVersion.State.DRAFT)
        .values("study_id")
    )
    return base.filter(district_id=user.district_id).filter(Q(proposed_by=user) | Q(pk__in=named))


def study_for(user, viewer: Viewer, raw_id) -> Study:
    """The study, if this person may follow it; 404 alike for missing and not theirs."""
    pk = record_id(raw_id)
    found = studies_for(user, viewer).filter(pk=pk).first() if pk is not None else None
    if found is None or not may_follow(user, viewer, found):
        raise Http404("No such study.")
    return found


def may_follow(user, viewer: Viewer, study: Study) -> bool:
    """A district admin of the study's district, or one of its researchers now (an
    amendment that drops a researcher closes the study to them)."""
    return may_review(viewer, study) or is_study_researcher(user, study)


def latest_version(study: Study) -> StudyVersion:
    return StudyVersion.unscoped.filter(district_id=study.district_id, study=study).latest("number")


def is_study_researcher(user, study: Study) -> bool:
    """A researcher of the study: its proposer, or named in the agreement in force (or,
    before any, in the version last sent for review)."""
    if researcher_profile(user) is None or user.district_id != study.district_id:
        return False
    if study.proposed_by_id == user.pk:
        return True
    named_in = study.approved_version or (
        StudyVersion.unscoped.filter(district_id=study.district_id, study=study)
        .exclude(state=StudyVersion.State.DRAFT)
        .order_by("-number")
        .first()
    )
    return named_in is not None and user.pk in named_in.researcher_ids


def may_edit(user, study: Study) -> bool:
    """The study's researchers may change a draft; nobody changes what was submitted."""
    return (
        study.status != Study.Status.CLOSED
        and latest_version(study).state == StudyVersion.State.DRAFT
        and is_study_researcher(user, study)
    )


# A new version may follow one approved, one the reviewer asked changes of, or a rejected
# amendment (the agreement it would have changed stays in force).
REVISABLE = frozenset({
    StudyVersion.State.APPROVED,
    StudyVersion.State.CHANGES_REQUESTED,
    StudyVersion.State.REJECTED,
})  # fmt: skip


def may_revise(user, study: Study) -> bool:
    """A new version (an amendment, or a revision the reviewer asked for) may be drafted
    once the latest one is decided, except of a rejected or closed study."""
    if study.status in (Study.Status.REJECTED, Study.Status.CLOSED):
        return False
    return latest_version(study).state in REVISABLE and is_study_researcher(user, study)


def in_force(study: Study, *, today: date | None = None) -> bool:
    """Approved, not closed, within the agreement's dates, under an IRB approval that
    has not expired (an amendment with its renewal restores it)."""
    version = study.approved_version
    if study.status != Study.Status.APPROVED or version is None:
        return False
    today = today or study.district.today()
    irb_valid = version.irb_expires_on is None or version.irb_expires_on >= today
    return version.starts_on <= today <= version.ends_on and irb_valid


def may_receive(user, study: Study, *, today: date | None = None) -> bool:
    """Extracts are asked for and downloaded only by the researchers the agreement in
    force names, each still an active researcher of the district, while it is in force."""
    if not in_force(study, today=today) or researcher_profile(user) is None:
        return False
    if (
        user.district_id != study.district_id
        or user.pk not in study.approved_version.researcher_ids
    ):
        return False
    return not reaches_named_records(user)


def reaches_named_records(user) -> bool:
    """Whether this account also opens named records (a staff role, a child, their own
    record, a provider's grants): such an account could match an extract's rows to the
    named students it sees, so it receives no extract."""
    from access.deliveries import member_provider_ids  # deliveries builds on the viewer

    return viewer_for(user).has_access or bool(member_provider_ids(user))


def may_review(viewer: Viewer, study: Study) -> bool:
    return may_manage_district(viewer) and viewer.district_id == study.district_id


def district_researchers(district_id: int) -> QuerySet[Researcher]:
    return (
        Researcher.unscoped.filter(district_id=district_id, is_active=True)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
    )


# -- proposing and deciding -----------------------------------------------------------

# Fields a version copies into the next one (an amendment starts from the agreement).
VERSION_FIELDS = (
    "title", "principal_investigator", "institution", "purpose", "research_questions",
    "legal_basis", "data_elements", "school_ids", "grade_levels", "school_years",
    "birth_dates_as", "irb_number", "irb_expires_on", "irb_file", "researcher_ids",
    "starts_on", "ends_on", "destroy_by", "min_cell_size",
)  # fmt: skip


def study_propose(*, user, title: str) -> Study:
    """A new study with its first version, a draft naming its proposer."""
    profile = researcher_profile(user)
    if profile is None:
        raise ValidationError(_("Only a researcher of the district may propose a study."))
    with transaction.atomic():
        study = Study.unscoped.create(district_id=user.district_id, title=title, proposed_by=user)
        StudyVersion.unscoped.create(
            district_id=user.district_id,
            study=study,
            number=1,
            title=title,
            institution=profile.institution,
            researcher_ids=[user.pk],
            min_cell_size=max(10, study.district.min_cell_size),
            created_by=user,
        )
    return study


def version_submit(*, version: StudyVersion, actor) -> StudyVersion:
    """Send a complete draft for review (the form has checked it is complete)."""
    if version.state != StudyVersion.State.DRAFT:
        raise ValidationError(_("Only a draft can be submitted."))
    version.state = StudyVersion.State.SUBMITTED
    version.submitted_at = timezone.now()
    version.save(update_fields=["state", "submitted_at"])
    return version


DECISIONS = {
    "approve": StudyVersion.State.APPROVED,
    "changes": StudyVersion.State.CHANGES_REQUESTED,
    "reject": StudyVersion.State.REJECTED,
}


def version_decide(*, version: StudyVersion, actor, decision: str, reason: str) -> StudyVersion:
    """(``version``: the one the admin read; a newer one sent meanwhile is not decided.)"""
    """A district admin's decision, with its reason. An approved version becomes the
    agreement in force (the study key is made with the first approval); a rejected first
    proposal rejects the study, a rejected amendment leaves the agreement as it was."""
    if decision not in DECISIONS or not reason.strip():
        raise ValidationError(_("Choose a decision and give the reason for it."))
    with transaction.atomic():
        study = Study.unscoped.select_for_update().get(pk=version.study_id)
        version = StudyVersion.unscoped.select_for_update().get(pk=version.pk)
        if version.state != StudyVersion.State.SUBMITTED or study.status == Study.Status.CLOSED:
            raise ValidationError(_("This version is not waiting for review."))
        version.state = DECISIONS[decision]
        version.decided_by, version.decided_at = actor, timezone.now()
        version.decision_reason = reason.strip()
        version.save(update_fields=["state", "decided_by", "decided_at", "decision_reason"])
        if version.state == StudyVersion.State.APPROVED:
            study.approved_version, study.status = version, Study.Status.APPROVED
            study.title = version.title
            StudyKey.unscoped.get_or_create(
                district_id=study.district_id,
                study=study,
                defaults={"secret": wrap_key(study.pk, secrets.token_bytes(32))},
            )
        elif version.state == StudyVersion.State.REJECTED and study.approved_version is None:
            study.status = Study.Status.REJECTED
        study.save(update_fields=["approved_version", "status", "title"])
    return version


def version_revise(*, study: Study, actor) -> StudyVersion:
    """A new draft, copied from the latest version: an amendment of the agreement in
    force, or the revision a reviewer asked for. It is reviewed like the first."""
    with transaction.atomic():
        locked = Study.unscoped.select_for_update().get(pk=study.pk)
        latest = latest_version(study)
        if locked.status in (Study.Status.REJECTED, Study.Status.CLOSED):
            raise ValidationError(_("A rejected or closed study takes no new version."))
        if latest.state not in REVISABLE:
            raise ValidationError(_("The latest version is not decided yet."))
        copied = {name: getattr(latest, name) for name in VERSION_FIELDS}
        return StudyVersion.unscoped.create(
            district_id=study.district_id,
            study=study,
            number=latest.number + 1,
            created_by=actor,
            **copied,
        )


# -- what an extract holds --------------------------------------------------------------


def requested_elements(version: StudyVersion) -> list[DataElement]:
    """The elements the agreement names, in the catalogue's order."""
    codes = {item["element"] for item in version.data_elements}
    return [element for element in DATA_ELEMENTS if element.code in codes]


def study_categories(version: StudyVersion) -> frozenset[str]:
    """The categories an extract of ``version`` reads: those of its elements alone."""
    return frozenset(element.category for element in requested_elements(version))


def study_window(version: StudyVersion) -> tuple[date, date]:
    """The first and last day of the school years the agreement names: the district's
    school-year sessions that end in those years, else July to June."""
    years = sorted(int(year) for year in version.school_years)
    sessions = AcademicSession.unscoped.filter(
        district_id=version.district_id,
        kind=AcademicSession.Kind.SCHOOL_YEAR,
        school_year__in=years,
    ).values_list("start_date", "end_date")
    starts, ends = zip(*sessions, strict=True) if sessions else ((), ())
    first = min(starts, default=date(years[0] - 1, 7, 1))
    last = max(ends, default=date(years[-1], 6, 30))
    return first, last


def study_population(version: StudyVersion) -> QuerySet[SchoolMembership]:
    """The students an extract of ``version`` may hold: a primary membership at one of
    its schools for some day of its school years, in one of its grades. One row per
    membership; ``reports/extracts.py`` keeps each student's latest."""
    first, last = study_window(version)
    return (
        SchoolMembership.unscoped.filter(
            district_id=version.district_id,
            is_primary=True,
            school_id__in=[int(pk) for pk in version.school_ids],
            student__district_id=version.district_id,
            student__grade_level__in=list(version.grade_levels),
        )
        .filter(Q(begin_date__isnull=True) | Q(begin_date__lte=last))
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=first))
    )


def _wrapping() -> AESGCM:
    """The key the study keys are stored under: from the deployment's settings, never
    from the database, so a copy of the database alone recomputes no pseudonym."""
    key = hashlib.sha256(settings.STUDY_KEY_WRAPPING_KEY.encode()).digest()
    return AESGCM(key)


def wrap_key(study_id: int, secret: bytes) -> bytes:
    """A study key as stored: a fresh nonce and the key sealed under it, bound to the
    study (a wrapped key copied to another study's row does not open)."""
    nonce = secrets.token_bytes(12)
    return nonce + _wrapping().encrypt(nonce, secret, f"study:{study_id}".encode())


def unwrap_key(study_id: int, wrapped: bytes) -> bytes:
    return _wrapping().decrypt(wrapped[:12], wrapped[12:], f"study:{study_id}".encode())


def pseudonymiser(study: Study):
    """The study's pseudonym function: HMAC-SHA256(study key, internal id), hex. Never
    derived from a state or local id; different in every study (REQUIREMENTS 10)."""
    wrapped = (
        StudyKey.unscoped.filter(district_id=study.district_id, study=study)
        .values_list("secret", flat=True)
        .first()
    )
    if wrapped is None:
        raise StudyKeyDestroyed(f"study {study.pk} has no key")
    secret = unwrap_key(study.pk, bytes(wrapped))

    def pseudonym(student_id: int) -> str:
        return hmac.new(secret, str(student_id).encode(), hashlib.sha256).hexdigest()

    return pseudonym


# -- the end of a study ----------------------------------------------------------------


def study_close(study: Study, *, now=None) -> bool:
    """Close the study: extracts stop, and its key is deleted, so no pseudonym can be
    recomputed (the key lives nowhere else; backups age out with the district's policy).
    Whether it closed now (a closed study stays as it was)."""
    now = now or timezone.now()
    with transaction.atomic():
        closed = Study.unscoped.filter(pk=study.pk, status=Study.Status.APPROVED).update(
            status=Study.Status.CLOSED, closed_at=now, key_destroyed_at=now
        )
        StudyKey.unscoped.filter(district_id=study.district_id, study=study).delete()
    study.refresh_from_db()
    return bool(closed)


def studies_to_close(district: District, today: date) -> QuerySet[Study]:
    """Approved studies whose agreement ended before ``today``."""
    return Study.unscoped.filter(
        district=district,
        status=Study.Status.APPROVED,
        approved_version__district=district,
        approved_version__ends_on__lt=today,
    )


def attestations_overdue(district_id: int, today: date) -> QuerySet[Study]:
    """Closed studies whose destruction deadline passed without an attestation."""
    return Study.unscoped.filter(
        district_id=district_id,
        status=Study.Status.CLOSED,
        destroyed_on__isnull=True,
        approved_version__district_id=district_id,
        approved_version__destroy_by__lt=today,
    ).select_related("approved_version")


def console_counts(district: District) -> dict[str, int]:
    """The district console's card: proposals waiting, studies in force, overdue
    destruction attestations."""
    today = district.today()
    return {
        "studies_waiting": StudyVersion.unscoped.filter(
            district=district, state=StudyVersion.State.SUBMITTED
        ).count(),
        "studies_in_force": Study.unscoped.filter(
            district=district,
            status=Study.Status.APPROVED,
            approved_version__district=district,
            approved_version__starts_on__lte=today,
            approved_version__ends_on__gte=today,
        ).count(),
        "studies_overdue": attestations_overdue(district.pk, today).count(),
    }


def attestation_record(*, study: Study, actor, destroyed_on: date, statement: str) -> Study:
    """The researchers' statement that they destroyed the study's data (by the study's
    researcher, or by a district admin on their behalf)."""
    if study.status != Study.Status.CLOSED:
        raise ValidationError(_("Destruction is attested once the study has closed."))
    if study.destroyed_on is not None:
        raise ValidationError(_("The destruction has already been attested."))
    if destroyed_on < timezone.localdate(study.closed_at, study.district.zone):
        raise ValidationError(
            {"destroyed_on": _("The data cannot have been destroyed before the study closed.")}
        )
    if destroyed_on > study.district.today():
        raise ValidationError({"destroyed_on": _("The date cannot be in the future.")})
    Study.unscoped.filter(pk=study.pk).update(
        destroyed_on=destroyed_on,
        destruction_statement=statement.strip(),
        destruction_recorded_by=actor,
        destruction_recorded_at=timezone.now(),
    )
    study.refresh_from_db()
    return study


# -- researchers' accounts ---------------------------------------------------------------


def researcher_invite(
    *, actor, district: District, email: str, first_name: str, last_name: str, institution: str
) -> Researcher:
    """A researcher's account and an emailed link to choose a password. Someone with a
    staff role, or of another district, cannot be one: a researcher must have their own
    account, which reaches no named record."""
    with transaction.atomic():
        user = outside_account(
            district_id=district.pk,
            email=email,
            first_name=first_name,
            last_name=last_name,
            staff_refusal=_(
                "This person holds a staff role: a researcher needs an account of their own."
            ),
        )
        researcher, created = Researcher.unscoped.get_or_create(
            district_id=district.pk,
            user=user,
            defaults={"institution": institution.strip(), "invited_by": actor},
        )
        if not created:
            if researcher.is_active:
                raise ValidationError({"email": _("This person is already a researcher.")})
            researcher.is_active, researcher.institution = True, institution.strip()
            researcher.save(update_fields=["is_active", "institution"])
        if not user.has_usable_password():
            staff_invitation_send(actor=actor, user=user)
    return researcher


def researcher_remove(*, researcher: Researcher) -> None:
    """The person can no longer propose or receive anything (their account stays)."""
    Researcher.unscoped.filter(pk=researcher.pk).update(is_active=False)
