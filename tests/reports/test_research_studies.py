"""Research studies end to end: proposal, review, the written agreement, de-identified
extracts (no direct identifier, per-study pseudonyms, measured k, ℓ), the disclosure
record a family reads, who may download and when, the study's end (crypto-shredding),
and output review against margins and earlier tables."""

from __future__ import annotations

import csv
import io
import random
import zipfile
from collections import Counter
from datetime import date, timedelta
from unittest import mock

import pytest
from cryptography.exceptions import InvalidTag
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.urls import reverse

from access import studies
from access.models import AccessEvent, Researcher, Study, StudyKey, StudyVersion
from access.study_forms import StudyProposalForm
from accounts.models import Role
from records.models import (
    AcademicSession,
    AssessmentResult,
    AttendanceRecord,
    District,
    ProgramParticipation,
    School,
    SchoolMembership,
    Student,
)
from reports import extracts, outputs
from reports.models import ExtractDownload, StudyExtract, StudyOutput
from tests import factories as f

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4 irb approval letter"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


class Setting:
    """A district of two schools and 480 students, an admin, two researchers."""

    def __init__(self, students: int = 480, seed: int = 7):
        self.district = f.DistrictFactory(slug="research-district", name="Research District")
        today = self.district.today()
        self.year_end = date(today.year + (1 if today.month >= 7 else 0), 6, 30)
        self.year = AcademicSession.unscoped.create(
            district=self.district,
            title="This year",
            kind=AcademicSession.Kind.SCHOOL_YEAR,
            start_date=date(self.year_end.year - 1, 8, 15),
            end_date=self.year_end,
            school_year=self.year_end.year,
        )
        self.elementary = f.SchoolFactory(district=self.district, name="Elm", kind="elementary")
        self.middle = f.SchoolFactory(district=self.district, name="Oak", kind="middle")
        self.admin = f.UserFactory(username="admin", district=self.district)
        f.RoleMembershipFactory(user=self.admin, role=Role.DISTRICT_ADMIN)
        self.researcher = self._researcher("ada")
        self.other = self._researcher("bob")
        self.students = self._students(students, random.Random(seed))

    def _researcher(self, name: str):
        user = f.UserFactory(username=name, district=self.district)
        Researcher.unscoped.create(district=self.district, user=user, institution="State U")
        return user

    def _students(self, n: int, rng: random.Random) -> list[Student]:
        rows = []
        for i in range(n):
            school = self.elementary if i % 2 else self.middle
            grade = rng.choice(["03", "04", "05"] if school is self.elementary else ["06", "07"])
            age = 8 + int(grade) - 3
            rows.append(
                Student(
                    district=self.district,
                    sourced_id=f"stu-{i}",
                    given_name=f"Given{i}x",
                    family_name=f"Family{i}y",
                    grade_level=grade,
                    birth_date=date(self.year_end.year - age - 1, rng.randint(1, 12), 3),
                    sex=rng.choice("FM"),
                    white=rng.random() < 0.6,
                    hispanic_or_latino=rng.random() < 0.2,
                    state_id=f"9{i:09d}",
                    local_id=f"LOC{i:05d}",
                    address_line=f"{i} Uniquestreet",
                    phone=f"555-{i:04d}",
                    email=f"kid{i}@kids.example",
                )
            )
        students = Student.unscoped.bulk_create(rows)
        SchoolMembership.unscoped.bulk_create(
            SchoolMembership(
                district=self.district,
                student=s,
                school=self.elementary if i % 2 else self.middle,
                is_primary=True,
            )
            for i, s in enumerate(students)
        )
        ProgramParticipation.unscoped.bulk_create(
            ProgramParticipation(district=self.district, student=s, program="iep")
            for s in students[::7]
        )
        day = self.year.start_date + timedelta(days=3)
        AttendanceRecord.unscoped.bulk_create(
            AttendanceRecord(
                district=self.district,
                student=s,
                date=day + timedelta(days=d),
                status="absent" if (i + d) % 9 == 0 else "present",
            )
            for i, s in enumerate(students)
            for d in range(3)
        )
        AssessmentResult.unscoped.bulk_create(
            AssessmentResult(
                district=self.district,
                student=s,
                assessment="Fall Benchmark",
                subject="Mathematics",
                performance_level=1 + i % 4,
                administered_on=day,
            )
            for i, s in enumerate(students)
        )
        return students

    def agreement(self, **changes) -> dict:
        today = self.district.today()
        data = {
            "title": "Attendance and achievement",
            "principal_investigator": "Dr. Ada Lovelace",
            "institution": "State U",
            "purpose": "Whether attendance predicts mathematics levels.",
            "research_questions": "Does attendance predict achievement?\nDoes it differ by grade?",
            "legal_basis": "studies",
            "school_ids": [str(self.elementary.pk), str(self.middle.pk)],
            "grade_levels": ["03", "04", "05", "06", "07"],
            "school_years": [str(self.year.school_year)],
            "birth_dates_as": "birth_year",
            "irb_number": "IRB-2026-001",
            "irb_expires_on": (today + timedelta(days=400)).isoformat(),
            "researcher_ids": [str(self.researcher.pk)],
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=200)).isoformat(),
            "destroy_by": (today + timedelta(days=260)).isoformat(),
            "min_cell_size": "10",
            "element_school": "2",
            "element_grade": "2",
            "element_sex": "1",
            "element_birth_year": "1",
            "element_iep": "1",
            "element_attendance_rate": "1",
            "element_assessment_levels": "1",
        }
        data.update(changes)
        return data

    def approved_study(self, **changes) -> Study:
        study = studies.study_propose(user=self.researcher, title="Attendance and achievement")
        version = studies.latest_version(study)
        form = StudyProposalForm(
            self.agreement(**changes),
            {"irb_file": SimpleUploadedFile("irb.pdf", PDF)},
            version=version,
            submitting=True,
        )
        assert form.is_valid(), form.errors
        form.apply()
        studies.version_submit(version=version, actor=self.researcher)
        studies.version_decide(
            version=version, actor=self.admin, decision="approve", reason="Sound plan."
        )
        study.refresh_from_db()
        return study


@pytest.fixture
def setting(db) -> Setting:
    return Setting()


def build(study: Study, user) -> StudyExtract:
    extract = StudyExtract.unscoped.create(
        district=study.district, study=study, version=study.approved_version, requested_by=user
    )
    return extracts.extract_build(extract_id=extract.pk)


def rows_of(extract: StudyExtract) -> tuple[list[dict], zipfile.ZipFile]:
    with extract.file.open("rb") as handle:
        bundle = zipfile.ZipFile(io.BytesIO(handle.read()))
    text = bundle.read("extract.csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(text))), bundle


# -- proposing and deciding -------------------------------------------------------------


def test_an_incomplete_proposal_cannot_be_submitted(setting):
    study = studies.study_propose(user=setting.researcher, title="Half a plan")
    form = StudyProposalForm(
        {"title": "Half a plan", "min_cell_size": "10", "birth_dates_as": "birth_year"},
        version=studies.latest_version(study),
        submitting=True,
    )
    assert not form.is_valid()
    for field in ("purpose", "research_questions", "school_ids", "irb_number", "irb_file",
                  "researcher_ids", "ends_on", "destroy_by"):  # fmt: skip
        assert field in form.errors, field
    assert form.non_field_errors()  # no data element asked for
    # A draft saves with its title alone.
    draft = StudyProposalForm(
        {"title": "Half a plan", "min_cell_size": "10", "birth_dates_as": "birth_year"},
        version=studies.latest_version(study),
    )
    assert draft.is_valid(), draft.errors


def test_each_element_must_answer_a_question_that_exists(setting):
    study = studies.study_propose(user=setting.researcher, title="T")
    form = StudyProposalForm(
        setting.agreement(element_sex="3"),
        {"irb_file": SimpleUploadedFile("irb.pdf", PDF)},
        version=studies.latest_version(study),
        submitting=True,
    )
    assert not form.is_valid()
    assert "element_sex" in form.errors


def test_the_researchers_pages_propose_and_submit_and_the_admin_approves(client, setting):
    client.force_login(setting.researcher)
    response = client.post(reverse("access:study-create"), {"title": "Reading gains"})
    study = Study.unscoped.get(title="Reading gains")
    assert response.url == reverse("access:study-edit", kwargs={"study_id": study.pk})
    incomplete = client.post(response.url, {"title": "Reading gains", "submit": "1",
                                            "min_cell_size": "10"})  # fmt: skip
    assert incomplete.status_code == 400
    assert "Needed before the proposal can be submitted." in incomplete.content.decode()
    data = setting.agreement(title="Reading gains", submit="1")
    data["irb_file"] = SimpleUploadedFile("irb.pdf", PDF)
    sent = client.post(response.url, data)
    assert sent.status_code == 302
    version = studies.latest_version(study)
    assert version.state == StudyVersion.State.SUBMITTED
    assert client.get(response.url).status_code == 403  # nothing changes under review

    client.force_login(setting.admin)
    page = client.get(reverse("access:study-review", kwargs={"study_id": study.pk}))
    assert "Dr. Ada Lovelace" in page.content.decode()
    refused = client.post(
        reverse("access:study-decide", kwargs={"study_id": study.pk}),
        {"version": "1", "decision": "approve"},
    )
    assert refused.status_code == 400  # a decision needs its reason
    client.post(
        reverse("access:study-decide", kwargs={"study_id": study.pk}),
        {"version": "1", "decision": "approve", "reason": "Complete and minimal."},
    )
    study.refresh_from_db()
    assert study.status == Study.Status.APPROVED
    assert study.approved_version_id == version.pk
    assert StudyKey.unscoped.filter(study=study).exists()
    irb = client.get(reverse("access:study-irb", kwargs={"study_id": study.pk, "number": 1}))
    assert b"".join(irb.streaming_content) == PDF


def test_an_amendment_is_a_new_version_and_the_agreement_stays_until_approved(setting):
    study = setting.approved_study()
    agreement = study.approved_version
    amendment = studies.version_revise(study=study, actor=setting.researcher)
    assert amendment.number == 2 and amendment.state == StudyVersion.State.DRAFT
    amendment.research_questions = [*amendment.research_questions, "A third question?"]
    amendment.save()
    studies.version_submit(version=amendment, actor=setting.researcher)
    studies.version_decide(version=amendment, actor=setting.admin, decision="reject", reason="No.")
    study.refresh_from_db()
    assert study.status == Study.Status.APPROVED
    assert study.approved_version_id == agreement.pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL trigger")
def test_the_approved_version_never_changes(setting):
    study = setting.approved_study()
    with pytest.raises(DatabaseError, match="never changes"), transaction.atomic():
        StudyVersion.unscoped.filter(pk=study.approved_version_id).update(purpose="Anything")
    revision = studies.version_revise(study=study, actor=setting.researcher)
    studies.version_submit(version=revision, actor=setting.researcher)
    studies.version_decide(version=revision, actor=setting.admin, decision="changes", reason="x")
    with (
        pytest.raises(DatabaseError, match="never changes"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM access_studyversion WHERE id = %s", [revision.pk])


def test_a_district_admin_invites_a_researcher_who_reaches_no_record(client, setting):
    client.force_login(setting.admin)
    response = client.post(
        reverse("access:researcher-invite"),
        {"email": "carla@uni.example", "first_name": "Carla", "last_name": "Data",
         "institution": "Uni"},
    )  # fmt: skip
    assert response.status_code == 302
    assert mail.outbox and "carla@uni.example" in mail.outbox[-1].to
    staff = f.UserFactory(username="teacher", district=setting.district)
    f.RoleMembershipFactory(user=staff, role=Role.TEACHER, school=setting.middle)
    refused = client.post(
        reverse("access:researcher-invite"),
        {"email": staff.email, "first_name": "T", "last_name": "T", "institution": "Uni"},
    )
    assert refused.status_code == 400
    assert "staff role" in refused.content.decode()


def test_a_researcher_never_reaches_a_named_record(client, setting):
    setting.approved_study()
    client.force_login(setting.researcher)
    assert client.get("/").url == reverse("access:research")
    students = client.get("/api/v1/students/")
    assert students.status_code == 403 or students.json()["count"] == 0
    one = client.get(f"/api/v1/students/{setting.students[0].pk}/")
    assert one.status_code in (403, 404)
    for page in ("/school/", "/classes/", "/district/", "/family/"):
        assert client.get(page).status_code in (302, 403, 404), page


# -- extracts -------------------------------------------------------------------------------


def test_an_extract_holds_no_direct_identifier_and_reaches_k(setting):
    study = setting.approved_study()
    extract = build(study, setting.researcher)
    assert extract.status == StudyExtract.Status.READY, extract.error
    rows, bundle = rows_of(extract)
    assert {"extract.csv", "data_dictionary.csv", "release_report.txt"} <= set(bundle.namelist())
    text = bundle.read("extract.csv").decode()
    identifiers = Student.unscoped.filter(district=setting.district).values_list(
        "given_name", "family_name", "state_id", "local_id", "sourced_id", "address_line",
        "phone", "email", "birth_date",
    )  # fmt: skip
    for values in identifiers:
        for value in values:
            assert str(value) not in text, value
    for student in setting.students[:50]:
        assert str(student.pk) not in {row["pseudonym"] for row in rows}
    # k measured here, independently: a group-by over the released quasi-identifiers.
    quasi = ["school", "grade", "birth_year", "sex", "iep"]
    classes = Counter(tuple(row[q] for q in quasi) for row in rows)
    k = setting.district.k_anonymity
    assert min(classes.values()) >= k
    report = extract.report
    assert report["k_achieved"] == min(classes.values())
    assert report["released"] == len(rows)
    assert report["records"] == len(setting.students)
    assert report["suppressed"] == len(setting.students) - len(rows)
    assert set(report["generalisations"]) == set(quasi)
    assert "k achieved" in bundle.read("release_report.txt").decode()
    # Outcomes: ℓ-diversity of each released class is at least 2 or the value is blank.
    for column in ("attendance_rate", "level_Mathematics"):
        by_class: dict[tuple, set] = {}
        for row in rows:
            if row[column] != "":
                by_class.setdefault(tuple(row[q] for q in quasi), set()).add(row[column])
        assert all(len(values) >= 2 for values in by_class.values()), column


def test_pseudonyms_differ_between_studies_and_die_with_the_key(setting):
    first = setting.approved_study()
    second = setting.approved_study(title="Another study")
    student = setting.students[0].pk
    one, two = studies.pseudonymiser(first), studies.pseudonymiser(second)
    assert one(student) != two(student)
    assert len(one(student)) == 64
    rows_one, _ = rows_of(build(first, setting.researcher))
    rows_two, _ = rows_of(build(second, setting.researcher))
    assert not {r["pseudonym"] for r in rows_one} & {r["pseudonym"] for r in rows_two}
    StudyVersion.unscoped.filter(pk=first.approved_version_id)  # the agreement stays
    studies.study_close(first)
    assert not StudyKey.unscoped.filter(study=first).exists()
    with pytest.raises(studies.StudyKeyDestroyed):
        studies.pseudonymiser(first)
    assert studies.pseudonymiser(second)(student) == two(student)


def test_a_population_too_small_for_k_is_refused_not_released(setting):
    study = setting.approved_study(school_ids=[str(setting.middle.pk)], grade_levels=["07"])
    Student.unscoped.filter(district=setting.district, grade_level="07").exclude(
        pk__in=[s.pk for s in setting.students[:24:2]]
    ).update(grade_level="08")
    extract = build(study, setting.researcher)
    assert extract.status == StudyExtract.Status.REFUSED
    assert not extract.file
    assert "cannot be reached" in extract.report["refused"]
    assert not AccessEvent.unscoped.filter(study=study).exists()


def test_each_extract_is_one_disclosure_the_family_reads_grouped(client, setting):
    # One student alone of their sex: cheaper to suppress than to generalise sex away.
    Student.unscoped.filter(pk=setting.students[5].pk).update(sex=Student.Sex.NONBINARY)
    study = setting.approved_study()
    first = build(study, setting.researcher)
    build(study, setting.researcher)
    rows, _ = rows_of(first)
    events = AccessEvent.unscoped.filter(study=study).order_by("pk")
    assert events.count() == 2
    event = events.first()
    assert event.is_disclosure and event.legal_basis == "99.31(a)(6)"
    assert len(event.disclosed_student_ids) == len(rows)
    included = Student.unscoped.get(pk=event.disclosed_student_ids[0])
    parent = f.UserFactory(username="parent", district=setting.district)
    f.GuardianLinkFactory(guardian=parent, student=included)
    client.force_login(parent)
    page = client.get(reverse("family:access", kwargs={"student_id": included.pk}))
    text = page.content.decode()
    assert text.count("Included, without name or identifiers, in the study") == 1
    assert "State U" in text
    # A student the extract suppressed is not in the study's record.
    left_out = {s.pk for s in setting.students} - set(event.disclosed_student_ids)
    assert len(left_out) == first.report["suppressed"] > 0
    other = Student.unscoped.get(pk=min(left_out))
    f.GuardianLinkFactory(guardian=parent, student=other)
    page = client.get(reverse("family:access", kwargs={"student_id": other.pk}))
    assert "Included, without name" not in page.content.decode()


def test_only_the_named_researchers_download_and_only_while_approved(client, setting):
    study = setting.approved_study()
    extract = build(study, setting.researcher)
    page_url = reverse("research:extract", kwargs={"extract_id": extract.pk})
    client.force_login(setting.other)  # a researcher, not of this study
    assert client.get(page_url).status_code == 404
    client.force_login(setting.admin)  # follows it, may not download it
    assert client.get(page_url).context["may_download"] is False
    client.force_login(setting.researcher)
    page = client.get(page_url)
    token = page.context["token"]
    link = reverse("research:extract-download", kwargs={"extract_id": extract.pk, "token": token})
    assert link in page.content.decode()
    response = client.get(link)
    assert response.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert ExtractDownload.unscoped.filter(extract=extract, user=setting.researcher).count() == 1
    # The link is this person's alone and expires.
    client.force_login(setting.admin)
    assert client.get(link).status_code == 410
    client.force_login(setting.researcher)
    later = extracts.LINK_MINUTES * 60 + 5
    with mock.patch(
        "django.core.signing.time.time", return_value=__import__("time").time() + later
    ):
        assert client.get(link).status_code == 410
    # Once closed: nothing more.
    Study.unscoped.filter(pk=study.pk).update(status=Study.Status.CLOSED)
    assert client.get(link).status_code == 410


def test_extracts_are_asked_for_by_named_researchers_only(client, setting):
    study = setting.approved_study()
    url = reverse("research:extract-request", kwargs={"study_id": study.pk})
    client.force_login(setting.admin)
    client.post(url)
    assert not StudyExtract.unscoped.filter(study=study).exists()
    client.force_login(setting.researcher)
    with mock.patch("reports.extracts._enqueue"):
        response = client.post(url)
    extract = StudyExtract.unscoped.get(study=study)
    assert response.url == reverse("research:extract", kwargs={"extract_id": extract.pk})
    progress = client.get(response.url + "?format=json").json()
    assert progress == {"status": "queued", "progress": 0, "stage": ""}


def test_the_study_closes_itself_at_its_end(client, setting):
    study = setting.approved_study()
    extract = build(study, setting.researcher)
    name = extract.file.name
    version = study.approved_version
    past = setting.district.today() - timedelta(days=1)
    # (The agreement never changes: the test moves the study's dates in the database's
    # stead by approving an amendment that ended yesterday.)
    amendment = studies.version_revise(study=study, actor=setting.researcher)
    amendment.starts_on, amendment.ends_on = past - timedelta(days=30), past
    amendment.destroy_by = past
    amendment.save()
    studies.version_submit(version=amendment, actor=setting.researcher)
    studies.version_decide(version=amendment, actor=setting.admin, decision="approve", reason="ok")
    assert extracts.close_ended_studies() == 1
    study.refresh_from_db()
    assert study.status == Study.Status.CLOSED and study.key_destroyed_at
    assert not StudyKey.unscoped.filter(study=study).exists()
    extract.refresh_from_db()
    assert not extract.file
    assert not extract.file.storage.exists(name)
    assert version.pk != study.approved_version_id
    # Its destruction attestation is due, then overdue on the console.
    client.force_login(setting.admin)
    console = client.get(reverse("access:console")).content.decode()
    assert "1 destruction attestation overdue." in console
    client.force_login(setting.researcher)
    client.post(
        reverse("access:study-attest", kwargs={"study_id": study.pk}),
        {"destroyed_on": setting.district.today().isoformat(), "statement": "All copies."},
    )
    assert not studies.attestations_overdue(setting.district.pk, setting.district.today())


# -- output review -------------------------------------------------------------------------


def upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("table.csv", text.encode(), content_type="text/csv")


def test_output_review_hides_a_small_cell_its_margins_would_give_away(client, setting):
    study = setting.approved_study()
    table = "grade,female,male,Total\n03,40,3,43\n04,30,35,65\nTotal,70,38,108\n"
    output = outputs.output_submit(study=study, actor=setting.researcher, title="Sex by grade",
                                   upload=upload(table))  # fmt: skip
    hidden = {tuple(cell) for cell in output.hidden_cells}
    assert ("03", "male") in hidden
    assert len(hidden) >= 4  # the margins alone would give 3 back
    review = outputs.review_of(output)
    for cell in review.cells:
        if cell.status == "primary":
            assert cell.high - cell.low >= setting.district.suppression_width
    client.force_login(setting.researcher)
    page = client.get(reverse("research:output", kwargs={"study_id": study.pk,
                                                         "output_id": output.pk}))  # fmt: skip
    assert "below the minimum" in page.content.decode()
    client.force_login(setting.admin)
    client.post(
        reverse("research:output-decide", kwargs={"study_id": study.pk, "output_id": output.pk}),
        {"decision": "approve", "reason": "Cells hidden as marked."},
    )
    output.refresh_from_db()
    assert output.status == StudyOutput.Status.APPROVED
    published = client.get(
        reverse("research:output", kwargs={"study_id": study.pk, "output_id": output.pk})
        + "?format=csv"
    ).content.decode()
    assert ",3," not in published and "n<10" in published


def test_a_bad_table_lists_every_problem_with_line_and_column(client, setting):
    study = setting.approved_study()
    client.force_login(setting.researcher)
    response = client.post(
        reverse("research:outputs", kwargs={"study_id": study.pk}),
        {"title": "Broken", "table": upload("grade,a,b\n03,1,x\n04,-2\n")},
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "Line 2, column 3" in text and "Line 3" in text
    assert not StudyOutput.unscoped.filter(study=study).exists()


def test_only_a_study_in_force_takes_tables_from_its_researchers(client, setting):
    study = setting.approved_study()
    client.force_login(setting.admin)
    response = client.post(
        reverse("research:outputs", kwargs={"study_id": study.pk}),
        {"title": "T", "table": upload("g,a,b\n1,20,20\n")},
    )
    assert response.status_code == 403
    assert School.unscoped.filter(district=setting.district).count() == 2


def test_the_district_admin_sets_k_and_the_next_extract_applies_it(client, setting):
    client.force_login(setting.admin)
    url = reverse("access:study-settings")
    refused = client.post(url, {"k_anonymity": "3"})
    assert refused.status_code == 400
    assert "from 5 to 50" in refused.content.decode()
    client.post(url, {"k_anonymity": "25"})
    setting.district.refresh_from_db()
    assert setting.district.k_anonymity == 25
    extract = build(setting.approved_study(), setting.researcher)
    rows, _ = rows_of(extract)
    classes = Counter(tuple(row[q] for q in ("school", "grade", "birth_year", "sex", "iep"))
                      for row in rows)  # fmt: skip
    assert extract.report["k_required"] == 25 and min(classes.values()) >= 25


def test_the_research_pages_are_closed_to_staff_and_families(client, setting):
    teacher = f.UserFactory(username="teacher2", district=setting.district)
    f.RoleMembershipFactory(user=teacher, role=Role.TEACHER, school=setting.middle)
    client.force_login(teacher)
    assert client.get(reverse("access:research")).status_code == 403
    study = setting.approved_study()
    assert client.get(reverse("access:study", kwargs={"study_id": study.pk})).status_code == 403
    client.force_login(setting.other)  # a researcher of the district, not of this study
    assert client.get(reverse("access:study", kwargs={"study_id": study.pk})).status_code == 404
    assert client.get(reverse("access:studies")).status_code == 403


# -- what review found -------------------------------------------------------------------


def test_rows_follow_their_pseudonyms_not_the_students_ids(setting):
    study = setting.approved_study()
    extract = build(study, setting.researcher)
    rows, _ = rows_of(extract)
    pseudonyms = [row["pseudonym"] for row in rows]
    assert pseudonyms == sorted(pseudonyms)
    event = AccessEvent.unscoped.get(study=study)
    in_id_order = [studies.pseudonymiser(study)(pk) for pk in event.disclosed_student_ids]
    assert pseudonyms != in_id_order
    assert {row["attendance_rate"] for row in rows} <= {
        "95-100", "90-94", "80-89", "70-79", "under 70", "",
    }  # fmt: skip


def test_a_later_extract_is_never_finer_than_an_earlier_one(setting):
    study = setting.approved_study()
    District.objects.filter(pk=setting.district.pk).update(k_anonymity=25)
    coarse = build(study, setting.researcher)
    District.objects.filter(pk=setting.district.pk).update(k_anonymity=5)
    study.district.refresh_from_db()
    later = build(Study.unscoped.get(pk=study.pk), setting.researcher)
    assert later.status == StudyExtract.Status.READY
    for column, level in coarse.report["levels"].items():
        assert later.report["levels"][column] >= level, column
    assert any(level > 0 for level in coarse.report["levels"].values())


def test_an_extract_of_a_superseded_agreement_is_no_longer_downloadable(setting):
    study = setting.approved_study()
    extract = build(study, setting.researcher)
    assert extracts.may_download(setting.researcher, extract)
    amendment = studies.version_revise(study=study, actor=setting.researcher)
    amendment.data_elements = [e for e in amendment.data_elements if e["element"] != "sex"]
    amendment.save()
    studies.version_submit(version=amendment, actor=setting.researcher)
    studies.version_decide(version=amendment, actor=setting.admin, decision="approve", reason="ok")
    extract = StudyExtract.unscoped.select_related("study").get(pk=extract.pk)
    assert not extracts.may_download(setting.researcher, extract)


def test_a_study_closed_during_a_build_keeps_no_file_and_no_release(setting, settings):
    study = setting.approved_study()
    real = studies.pseudonymiser

    def closing(study_):
        made = real(study_)
        studies.study_close(study_)
        return made

    with mock.patch.object(extracts.studies, "pseudonymiser", closing):
        extract = build(study, setting.researcher)
    assert extract.status == StudyExtract.Status.FAILED and not extract.file
    folder = settings.MEDIA_ROOT / "extracts"
    assert not folder.exists() or not any(folder.iterdir())
    assert not AccessEvent.unscoped.filter(study=study).exists()
    assert studies.study_close(study) is False  # closing again changes nothing


def test_an_account_that_opens_named_records_receives_no_extract(setting):
    study = setting.approved_study()
    assert studies.may_receive(setting.researcher, study)
    f.GuardianLinkFactory(guardian=setting.researcher, student=setting.students[0])
    assert not studies.may_receive(setting.researcher, study)


def test_an_expired_irb_approval_stops_the_study(setting):
    study = setting.approved_study()
    assert studies.in_force(study)
    today = setting.district.today()
    assert not studies.in_force(study, today=study.approved_version.irb_expires_on + timedelta(1))
    assert studies.in_force(study, today=today)


def test_the_admin_decides_the_version_they_read(client, setting):
    study = setting.approved_study()
    amendment = studies.version_revise(study=study, actor=setting.researcher)
    studies.version_submit(version=amendment, actor=setting.researcher)
    client.force_login(setting.admin)
    url = reverse("access:study-decide", kwargs={"study_id": study.pk})
    stale = client.post(url, {"version": "1", "decision": "approve", "reason": "Read v1."})
    assert stale.status_code == 400
    assert "A newer version was sent meanwhile" in stale.content.decode()
    assert studies.latest_version(study).state == StudyVersion.State.SUBMITTED
    client.post(url, {"version": "2", "decision": "reject", "reason": "Not needed."})
    assert studies.latest_version(study).state == StudyVersion.State.REJECTED
    assert studies.may_revise(setting.researcher, Study.unscoped.get(pk=study.pk))


def test_an_approval_checked_against_a_changed_width_is_not_stuck(client, setting):
    study = setting.approved_study()
    table = "grade,female,male,Total\n03,40,3,43\n04,30,35,65\nTotal,70,38,108\n"
    output = outputs.output_submit(
        study=study, actor=setting.researcher, title="T", upload=upload(table)
    )
    District.objects.filter(pk=setting.district.pk).update(suppression_width=40)
    study.district.refresh_from_db()
    output = StudyOutput.unscoped.get(pk=output.pk)
    first, rechecked = outputs.output_decide(output=output, actor=setting.admin, decision="approve")
    assert rechecked and first.status == StudyOutput.Status.SUBMITTED
    approved, rechecked = outputs.output_decide(
        output=first, actor=setting.admin, decision="approve"
    )
    assert not rechecked and approved.status == StudyOutput.Status.APPROVED
    published = outputs.published_csv(approved)
    # The published pattern is the approved one, whatever the width becomes.
    District.objects.filter(pk=setting.district.pk).update(suppression_width=5)
    assert outputs.published_csv(StudyOutput.unscoped.get(pk=output.pk)) == published


def test_labels_never_reach_a_spreadsheet_as_formulas(setting):
    study = setting.approved_study()
    table = 'grade,"=HYPERLINK(""x"")",male\n@SUM(1),40,30\n04,30,35\n'
    output = outputs.output_submit(
        study=study, actor=setting.researcher, title="T", upload=upload(table)
    )
    output, _ = outputs.output_decide(output=output, actor=setting.admin, decision="approve")
    published = outputs.published_csv(output)
    assert "'=HYPERLINK" in published and "'@SUM(1)" in published


def test_a_researcher_gives_a_second_factor_at_sign_in(client, setting):
    response = client.post("/", {"username": "ada", "password": "correct horse battery"})
    assert response.status_code == 302
    response = client.get(reverse("access:research"))
    assert response.status_code == 302 and "/two-factor/setup/" in response.url
    # No longer a researcher: no second factor asked, and the research pages refuse them.
    Researcher.unscoped.filter(user=setting.researcher).update(is_active=False)
    assert client.get(reverse("access:research")).status_code == 403


def test_the_review_of_an_amendment_says_what_it_changes(client, setting):
    study = setting.approved_study()
    amendment = studies.version_revise(study=study, actor=setting.researcher)
    amendment.purpose = "A wider purpose."
    amendment.data_elements = [*amendment.data_elements, {"element": "homeless", "question": 1}]
    amendment.save()
    studies.version_submit(version=amendment, actor=setting.researcher)
    client.force_login(setting.admin)
    page = client.get(reverse("access:study-review", kwargs={"study_id": study.pk}))
    assert page.context["changed"] == ["Purpose", "Data elements"]
    assert "What it changes:" in page.content.decode()


def test_a_researcher_an_amendment_drops_no_longer_follows_the_study(client, setting):
    study = setting.approved_study(
        researcher_ids=[str(setting.researcher.pk), str(setting.other.pk)]
    )
    extract = build(study, setting.researcher)
    client.force_login(setting.other)
    page = reverse("access:study", kwargs={"study_id": study.pk})
    assert client.get(page).status_code == 200
    amendment = studies.version_revise(study=study, actor=setting.researcher)
    amendment.researcher_ids = [setting.researcher.pk]
    amendment.save()
    studies.version_submit(version=amendment, actor=setting.researcher)
    # Sent for review, not yet approved: the agreement in force still names them.
    assert client.get(page).status_code == 200
    studies.version_decide(version=amendment, actor=setting.admin, decision="approve", reason="ok")
    assert client.get(page).status_code == 404
    assert (
        client.get(reverse("research:extract", kwargs={"extract_id": extract.pk})).status_code
        == 404
    )
    assert study.title not in client.get(reverse("access:research")).content.decode()


def test_the_study_key_is_stored_wrapped_under_a_key_outside_the_database(setting, settings):
    study = setting.approved_study()
    pseudonym = studies.pseudonymiser(study)(setting.students[0].pk)
    stored = bytes(StudyKey.unscoped.get(study=study).secret)
    raw = studies.unwrap_key(study.pk, stored)
    assert len(raw) == 32 and raw not in stored
    assert len(pseudonym) == 64
    # A wrapped key moved to another study's row does not open there.
    with pytest.raises(InvalidTag):
        studies.unwrap_key(study.pk + 1, stored)
    # A copy of the database without the deployment's wrapping key recomputes nothing.
    settings.STUDY_KEY_WRAPPING_KEY = "another deployment's key"
    with pytest.raises(InvalidTag):
        studies.pseudonymiser(study)
