"""The demo district's research study: a researcher of a university, a study the district
approved over every school and grade of this school year, and its first de-identified
extract already built, so a demo family sees the study in their child's record of
disclosures and the researcher has an extract to download.

Only ``make demo``'s district gets it (``seed_demo`` without ``--district``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.db import transaction

from access import studies
from access.forms import GRADE_CHOICES
from access.models import Researcher, StudyVersion
from accounts.models import RoleMembership, User
from records.models import AcademicSession, District, School
from reports import extracts
from reports.models import StudyExtract

STUDY_TITLE = "Attendance and early reading"
INSTITUTION = "Riverside State University"


@dataclass(frozen=True)
class DemoStudy:
    username: str
    title: str
    released: int
    k_achieved: int


@transaction.atomic
def seed_demo_study(district: District, *, password: str) -> DemoStudy | None:
    """The study of ``district``, unless it is there already (then ``None``)."""
    username = "researcher.riverside"
    if User.objects.filter(username=username).exists():
        return None
    person = User.objects.create(
        username=username, district=district, first_name="Maya", last_name="Okafor",
        email="maya.okafor@riverside-state.example", password=make_password(password),
    )  # fmt: skip
    Researcher.unscoped.create(district=district, user=person, institution=INSTITUTION)
    study = studies.study_propose(user=person, title=STUDY_TITLE)
    version = studies.latest_version(study)
    today = district.today()
    year = (
        AcademicSession.unscoped.filter(
            district=district, kind=AcademicSession.Kind.SCHOOL_YEAR, start_date__lte=today
        )
        .order_by("-start_date")
        .first()
    )
    version.principal_investigator = "Dr. Maya Okafor"
    version.institution = INSTITUTION
    version.purpose = (
        "Whether attendance in the early grades predicts reading levels, to help the "
        "district decide where to send its attendance outreach."
    )
    version.research_questions = [
        "Does attendance predict reading and mathematics levels?",
        "Do the differences vary by grade and by program?",
    ]
    version.legal_basis = StudyVersion.LegalBasis.STUDIES
    version.data_elements = [
        {"element": code, "question": 1 if code in ("attendance_rate", "assessment_levels") else 2}
        for code in ("school", "grade", "sex", "iep", "english_learner", "attendance_rate",
                     "assessment_levels")
    ]  # fmt: skip
    version.school_ids = sorted(
        School.unscoped.filter(district=district).values_list("pk", flat=True)
    )
    version.grade_levels = [code for code, _ in GRADE_CHOICES]  # whichever the schools have
    version.school_years = [year.school_year if year else today.year]
    version.irb_number = "RSU-IRB-2026-0412"
    version.irb_expires_on = today + timedelta(days=365)
    version.researcher_ids = [person.pk]
    version.starts_on, version.ends_on = today - timedelta(days=7), today + timedelta(days=180)
    version.destroy_by = version.ends_on + timedelta(days=60)
    version.save()
    studies.version_submit(version=version, actor=person)
    admin = (
        RoleMembership.unscoped.filter(district=district, role="district_admin")
        .select_related("user")
        .first()
    )
    studies.version_decide(
        version=version,
        actor=admin.user if admin else None,
        decision="approve",
        reason="Complete agreement; the data elements match the questions.",
    )
    study = version.study
    study.refresh_from_db()
    extract = StudyExtract.unscoped.create(
        district=district, study=study, version=version, requested_by=person
    )
    extract = extracts.extract_build(extract_id=extract.pk)
    report = extract.report or {}
    return DemoStudy(username, STUDY_TITLE, report.get("released", 0), report.get("k_achieved", 0))
