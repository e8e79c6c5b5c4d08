"""OneRoster CSV deliveries: what a bundle holds (exact rows, categories, opt-outs), that
it imports back into an empty district unchanged, that it is built in bounded batches,
who may ask for, follow and download one, the expiring link, and the disclosure each
download records.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from access import deliveries
from access.models import AccessEvent, CsvDelivery, Grant, ProviderMember
from accounts.models import User
from records.models import (
    AcademicSession,
    Course,
    DirectoryOptOut,
    District,
    Enrollment,
    School,
    SchoolMembership,
    Section,
    SectionTeacher,
    Student,
)
from records.rights import directory_opt_outs_set
from tests import factories as f

pytestmark = pytest.mark.django_db

ROSTERING = ["directory", "contact", "identifiers", "enrollment", "demographics"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def grant_of(district, **fields) -> Grant:
    provider = f.ProviderFactory(district=district)
    return f.GrantFactory(agreement=f.AgreementFactory(provider=provider), **fields)


def member_of(provider, username: str):
    user = f.UserFactory(username=username, district=provider.district)
    ProviderMember.unscoped.create(district=provider.district, provider=provider, user=user)
    return user


def built(grant, requester, **kwargs) -> CsvDelivery:
    delivery = CsvDelivery.unscoped.create(
        district=grant.district, grant=grant, requested_by=requester
    )
    return deliveries.delivery_build(delivery_id=delivery.pk, **kwargs)


def read_zip(data: bytes) -> dict[str, list[dict]]:
    """Each member of the bundle as rows (dicts by header); the manifest as {name: value}."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {}
        for name in archive.namelist():
            text = archive.read(name).decode("utf-8")
            files[name.removesuffix(".csv")] = list(csv.DictReader(io.StringIO(text)))
    files["manifest"] = {row["propertyName"]: row["value"] for row in files["manifest"]}
    return files


def bundle_of(delivery: CsvDelivery) -> dict:
    with delivery.file.open("rb") as handle:
        return read_zip(handle.read())


def roster(world):
    """District a filled out: a second school's class with its own teacher, teachers and
    enrollments with sourcedIds, students with emails, a school year above the term."""
    a = world.a
    year = f.AcademicSessionFactory(
        district=a.district,
        kind="schoolYear",
        start_date=a.term.start_date - timedelta(days=30),
        end_date=a.term.end_date + timedelta(days=30),
    )
    AcademicSession.unscoped.filter(pk=a.term.pk).update(parent=year)
    section2 = f.SectionFactory(district=a.district, school=a.school2, term=a.term, period="3")
    teacher2 = f.UserFactory(username="a-teacher2", district=a.district)
    f.SectionTeacherFactory(section=section2, teacher=teacher2)
    a.enrollments["elsewhere"] = f.EnrollmentFactory(
        section=section2, student=a.students["elsewhere"]
    )
    for n, user in enumerate([a.users["teacher"], teacher2]):
        user.sourced_id = f"teacher-sid-{n}"
        user.save(update_fields=["sourced_id"])
    for n, enrollment in enumerate(Enrollment.unscoped.filter(district=a.district)):
        Enrollment.unscoped.filter(pk=enrollment.pk).update(sourced_id=f"enr-sid-{n}")
    for n, place in enumerate(SectionTeacher.unscoped.filter(district=a.district)):
        SectionTeacher.unscoped.filter(pk=place.pk).update(sourced_id=f"tch-sid-{n}")
    for key, student in a.students.items():
        Student.unscoped.filter(pk=student.pk).update(email=f"{key}@students.example")
    return a


def test_a_rostering_grant_round_trips_through_the_importer(world, tmp_path):
    a = roster(world)
    grant = grant_of(a.district, categories=ROSTERING, shares_staff=True)
    member = member_of(grant.provider, "vendor-person")
    delivery = built(grant, member)
    assert delivery.status == CsvDelivery.Status.READY
    assert delivery.progress == 100
    assert sorted(delivery.categories) == sorted(ROSTERING)
    assert sorted(delivery.student_ids) == sorted(s.pk for s in a.students.values())
    assert bundle_of(delivery)["manifest"]["file.demographics"] == "bulk"

    path = tmp_path / "bundle.zip"
    with delivery.file.open("rb") as handle:
        path.write_bytes(handle.read())
    # --strict: a single warning (a column misread, a row skipped) would reject the run.
    call_command(
        "import_oneroster", str(path), "--district", "copy", "--strict", stdout=io.StringIO()
    )
    copy = District.objects.get(slug="copy")

    def sids(model, source):
        return set(model.unscoped.filter(district=source).values_list("sourced_id", flat=True))

    for model in (School, AcademicSession, Course, Section, Enrollment, SectionTeacher):
        assert sids(model, copy) == sids(model, a.district), model.__name__
    assert {s.name for s in School.unscoped.filter(district=copy)} == {
        s.name for s in School.unscoped.filter(district=a.district)
    }
    teacher_sids = {"teacher-sid-0", "teacher-sid-1"}
    copied_users = set(User.objects.filter(district=copy).values_list("sourced_id", flat=True))
    assert copied_users == teacher_sids | {s.sourced_id for s in a.students.values()}

    def students(district):
        return {
            s.sourced_id: (s.given_name, s.family_name, s.grade_level, s.birth_date, s.sex, s.email)
            for s in Student.unscoped.filter(district=district)
        }

    assert students(copy) == students(a.district)

    def schools_of(district):
        return {
            (m.student.sourced_id, m.school.sourced_id)
            for m in SchoolMembership.unscoped.filter(district=district).select_related(
                "student", "school"
            )
        }

    assert schools_of(copy) == schools_of(a.district)

    def enrolled(district):
        return {
            (e.sourced_id, e.section.sourced_id, e.student.sourced_id)
            for e in Enrollment.unscoped.filter(district=district).select_related(
                "section", "student"
            )
        }

    assert enrolled(copy) == enrolled(a.district)
    taught = {
        (t.section.sourced_id, t.teacher.sourced_id)
        for t in SectionTeacher.unscoped.filter(district=copy).select_related("section", "teacher")
    }
    assert taught == {
        (t.section.sourced_id, t.teacher.sourced_id)
        for t in SectionTeacher.unscoped.filter(district=a.district).select_related(
            "section", "teacher"
        )
    }
    assert {t[1] for t in taught} == teacher_sids


def test_a_directory_grant_carries_only_released_directory_fields(world):
    a = roster(world)
    own = a.students["own"]
    DirectoryOptOut.unscoped.create(district=a.district, student=own, field="family_name")
    grant = grant_of(a.district, categories=["directory"])
    delivery = built(grant, member_of(grant.provider, "vendor-person"))
    bundle = bundle_of(delivery)

    assert delivery.categories == ["directory"]
    assert bundle["manifest"]["file.demographics"] == "absent"
    assert "demographics" not in bundle
    assert bundle["classes"] == [] and bundle["enrollments"] == [] and bundle["courses"] == []
    users = {row["sourcedId"]: row for row in bundle["users"]}
    assert set(users) == {s.sourced_id for s in a.students.values()}  # no teachers, no b
    for row in users.values():
        assert row["email"] == row["phone"] == row["identifier"] == row["userIds"] == ""
        assert row["middleName"] == ""  # not designated by the district
    assert users[own.sourced_id]["familyName"] == ""
    assert users[own.sourced_id]["givenName"] == own.given_name
    schoolmate = a.students["schoolmate"]
    assert users[schoolmate.sourced_id]["familyName"] == schoolmate.family_name
    assert users[schoolmate.sourced_id]["orgSourcedIds"] == a.school1.sourced_id
    for member in ("orgs", "users", "academicSessions"):
        assert own.birth_date.isoformat() not in str(bundle[member])


def test_the_bundle_of_chosen_schools_holds_only_their_students(world):
    a = world.a
    grant = grant_of(a.district, categories=ROSTERING, population="schools",
                     school_ids=[a.school2.pk])  # fmt: skip
    bundle = bundle_of(built(grant, member_of(grant.provider, "vendor-person")))
    assert {row["sourcedId"] for row in bundle["users"]} == {a.students["elsewhere"].sourced_id}
    assert {row["sourcedId"] for row in bundle["orgs"] if row["type"] == "school"} == {
        a.school2.sourced_id
    }
    assert {row["sourcedId"] for row in bundle["demographics"]} == {
        a.students["elsewhere"].sourced_id
    }


def test_students_are_read_in_batches_of_the_builders_size(world, monkeypatch):
    sizes = []
    project = deliveries.project_students

    def counting(viewer, students, allowed_by_id, **kwargs):
        sizes.append(len(students))
        return project(viewer, students, allowed_by_id, **kwargs)

    monkeypatch.setattr(deliveries, "project_students", counting)
    updates = []
    report = deliveries._BundleWriter._report

    def counting_report(self, percent):
        before = self.progress
        report(self, percent)
        if self.progress != before:
            updates.append(self.progress)

    monkeypatch.setattr(deliveries._BundleWriter, "_report", counting_report)
    grant = grant_of(world.a.district, categories=ROSTERING)
    delivery = built(grant, member_of(grant.provider, "vendor-person"), batch_size=3)
    assert sizes == [3, 1]
    assert delivery.status == CsvDelivery.Status.READY
    assert len(delivery.student_ids) == 4
    assert updates == sorted(updates) and len(updates) == len(set(updates)) <= 50


def test_a_grant_revoked_before_the_build_fails_it_without_a_file(world):
    grant = grant_of(world.a.district)
    member = member_of(grant.provider, "vendor-person")
    Grant.unscoped.filter(pk=grant.pk).update(status=Grant.Status.REVOKED)
    delivery = built(Grant.unscoped.get(pk=grant.pk), member)
    assert delivery.status == CsvDelivery.Status.FAILED
    assert delivery.error == deliveries.NOT_IN_FORCE_MESSAGE
    assert not delivery.file and delivery.student_ids == []


def test_a_requester_no_longer_of_the_provider_fails_the_build(world):
    grant = grant_of(world.a.district)
    member = member_of(grant.provider, "vendor-person")
    ProviderMember.unscoped.filter(user=member).delete()
    delivery = built(grant, member)
    assert delivery.status == CsvDelivery.Status.FAILED
    assert delivery.error == deliveries.REQUESTER_MESSAGE


def test_an_error_while_building_leaves_no_file(world, monkeypatch, media_root):
    def broken(self):
        raise RuntimeError("Quillfeather")  # a message that might quote data

    monkeypatch.setattr(deliveries._BundleWriter, "write", broken)
    grant = grant_of(world.a.district)
    delivery = built(grant, member_of(grant.provider, "vendor-person"))
    assert delivery.status == CsvDelivery.Status.FAILED
    assert delivery.error == deliveries.FAILED_MESSAGE
    assert "Quillfeather" not in delivery.error
    assert not (media_root / "deliveries").exists() or not any(
        (media_root / "deliveries").iterdir()
    )


# -- the pages -----------------------------------------------------------------------


@pytest.fixture
def setup(world):
    grant = grant_of(world.a.district, categories=["directory", "contact"])
    member = member_of(grant.provider, "vendor-person")
    other_provider_grant = grant_of(world.a.district)
    return {
        "world": world,
        "grant": grant,
        "member": member,
        "other_member": member_of(other_provider_grant.provider, "other-vendor"),
        "other_grant": other_provider_grant,
    }


def request_delivery(client, grant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("deliveries:request"), {"grant": grant.pk})


def test_a_provider_person_asks_follows_and_downloads(
    client, setup, django_capture_on_commit_callbacks
):
    client.force_login(setup["member"])
    page = client.get(reverse("deliveries:list"))
    assert page.status_code == 200
    assert setup["grant"].purpose in page.content.decode()
    assert page["Cache-Control"].startswith("max-age=0")

    response = request_delivery(client, setup["grant"], django_capture_on_commit_callbacks)
    delivery = CsvDelivery.unscoped.get(grant=setup["grant"])
    assert response.status_code == 302
    assert response["Location"] == reverse("deliveries:progress", args=[delivery.pk])
    assert delivery.status == CsvDelivery.Status.READY  # eager: built on commit

    progress = client.get(reverse("deliveries:progress", args=[delivery.pk]), {"format": "json"})
    assert progress.json() == {"status": "ready", "progress": 100}
    page = client.get(reverse("deliveries:progress", args=[delivery.pk]))
    assert reverse("deliveries:download", args=[delivery.pk]) in page.content.decode()
    assert 'http-equiv="refresh"' not in page.content.decode()

    last = AccessEvent.unscoped.order_by("-pk").values_list("pk", flat=True).first() or 0
    download = client.get(reverse("deliveries:download", args=[delivery.pk]))
    assert download.status_code == 200
    assert "no-store" in download["Cache-Control"]
    assert "attachment" in download["Content-Disposition"]
    bundle = read_zip(b"".join(download.streaming_content))
    assert {row["sourcedId"] for row in bundle["users"]} == {
        s.sourced_id for s in setup["world"].a.students.values()
    }
    events = list(AccessEvent.unscoped.filter(pk__gt=last))
    assert len(events) == 1
    event = events[0]
    assert event.is_disclosure and event.grant_id == setup["grant"].pk
    assert event.actor_id == setup["member"].pk
    assert event.party == setup["grant"].provider.name
    assert sorted(event.categories) == ["contact", "directory"]
    assert sorted(event.disclosed_student_ids) == sorted(delivery.student_ids)
    assert "OneRoster CSV" in event.purpose
    delivery.refresh_from_db()
    assert delivery.download_count == 1


def test_a_queued_delivery_refreshes_itself_without_javascript(client, setup):
    delivery = CsvDelivery.unscoped.create(
        district=setup["grant"].district, grant=setup["grant"], requested_by=setup["member"]
    )
    client.force_login(setup["member"])
    page = client.get(reverse("deliveries:progress", args=[delivery.pk]))
    html = page.content.decode()
    assert '<meta http-equiv="refresh" content="2">' in html
    assert "access/delivery_progress.js" in html
    assert "<script>" not in html  # no inline script: the CSP may forbid it
    assert client.get(reverse("deliveries:download", args=[delivery.pk])).status_code == 302


def test_asking_again_while_one_is_built_answers_that_one(client, setup):
    client.force_login(setup["member"])
    first = client.post(reverse("deliveries:request"), {"grant": setup["grant"].pk})
    second = client.post(reverse("deliveries:request"), {"grant": setup["grant"].pk})
    assert first["Location"] == second["Location"]
    assert CsvDelivery.unscoped.filter(grant=setup["grant"]).count() == 1


def test_the_district_admin_sees_every_delivery_and_asks_on_a_providers_behalf(
    client, setup, django_capture_on_commit_callbacks
):
    admin = setup["world"].a.users["district_admin"]
    client.force_login(admin)
    assert client.get(reverse("deliveries:list"))["Location"] == reverse("deliveries:district-list")
    response = request_delivery(client, setup["other_grant"], django_capture_on_commit_callbacks)
    assert response.status_code == 302
    delivery = CsvDelivery.unscoped.get(grant=setup["other_grant"])
    assert delivery.requested_by == admin and delivery.status == CsvDelivery.Status.READY
    page = client.get(reverse("deliveries:district-list"))
    assert page.status_code == 200
    assert setup["other_grant"].provider.name in page.content.decode()
    assert client.get(reverse("deliveries:download", args=[delivery.pk])).status_code == 200


def test_who_may_not(client, setup):
    world = setup["world"]
    delivery = built(setup["grant"], setup["member"])
    progress = reverse("deliveries:progress", args=[delivery.pk])
    download = reverse("deliveries:download", args=[delivery.pk])
    # Anonymous: to the sign-in page.
    for url in (reverse("deliveries:list"), progress, download):
        assert client.get(url).status_code == 302
    outsiders = [
        world.outsider,
        world.a.users["teacher"],
        world.a.users["principal"],
        world.b.users["district_admin"],
        setup["other_member"],
    ]
    for user in outsiders:
        client.force_login(user)
        assert client.get(progress).status_code == 404, user.username
        assert client.get(download).status_code == 404, user.username
        assert client.get(progress, {"format": "json"}).status_code == 404
    for user in (world.outsider, world.a.users["teacher"], world.b.users["parent"]):
        client.force_login(user)
        assert client.get(reverse("deliveries:list")).status_code == 403
        assert client.get(reverse("deliveries:district-list")).status_code == 403
        assert client.post(reverse("deliveries:request"), {"grant": 1}).status_code == 403
    client.force_login(setup["member"])
    assert client.get(reverse("deliveries:district-list")).status_code == 403
    for raw in (setup["other_grant"].pk, "nope", "", 10**12):
        assert client.post(reverse("deliveries:request"), {"grant": raw}).status_code == 404
    assert client.get(reverse("deliveries:progress", args=["x1"])).status_code == 404
    delivery.refresh_from_db()
    assert delivery.download_count == 0


def test_wrong_methods(client, setup):
    delivery = built(setup["grant"], setup["member"])
    client.force_login(setup["member"])
    assert client.get(reverse("deliveries:request")).status_code == 405
    assert client.post(reverse("deliveries:list")).status_code == 405
    assert client.post(reverse("deliveries:progress", args=[delivery.pk])).status_code == 405
    assert client.post(reverse("deliveries:download", args=[delivery.pk])).status_code == 405


def test_a_grant_not_in_force_cannot_be_asked_for(client, setup):
    grant = setup["grant"]
    Grant.unscoped.filter(pk=grant.pk).update(
        starts_on=timezone.localdate() - timedelta(days=60),
        ends_on=timezone.localdate() - timedelta(days=1),
    )
    client.force_login(setup["member"])
    response = client.post(reverse("deliveries:request"), {"grant": grant.pk})
    assert response.status_code == 400
    assert "not in force" in response.content.decode()
    assert not CsvDelivery.unscoped.filter(grant=grant).exists()


@pytest.mark.parametrize("how", ["expired", "revoked", "ended", "file removed"])
def test_the_link_is_gone_once_expired_or_the_grant_ends(client, setup, how):
    delivery = built(setup["grant"], setup["member"])
    grant = setup["grant"]
    if how == "expired":
        CsvDelivery.unscoped.filter(pk=delivery.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
    elif how == "revoked":
        Grant.unscoped.filter(pk=grant.pk).update(status=Grant.Status.REVOKED)
    elif how == "ended":
        Grant.unscoped.filter(pk=grant.pk).update(ends_on=timezone.localdate() - timedelta(days=1))
    else:
        deliveries.delivery_files_delete(CsvDelivery.unscoped.filter(pk=delivery.pk))
    client.force_login(setup["member"])
    before = AccessEvent.unscoped.count()
    response = client.get(reverse("deliveries:download", args=[delivery.pk]))
    assert response.status_code == 410
    sentence = "no longer in force" if how in ("revoked", "ended") else "has expired"
    assert sentence in response.content.decode()
    assert AccessEvent.unscoped.count() == before
    delivery.refresh_from_db()
    assert delivery.download_count == 0


def test_each_download_is_one_more_disclosure(client, setup):
    delivery = built(setup["grant"], setup["member"])
    client.force_login(setup["member"])
    before = AccessEvent.unscoped.filter(is_disclosure=True).count()
    for _ in range(2):
        response = client.get(reverse("deliveries:download", args=[delivery.pk]))
        b"".join(response.streaming_content)
    assert AccessEvent.unscoped.filter(is_disclosure=True).count() == before + 2
    delivery.refresh_from_db()
    assert delivery.download_count == 2
    assert default_storage.exists(delivery.file.name)


# -- a directory change after the build --------------------------------------------


def download(client, delivery):
    return client.get(reverse("deliveries:download", args=[delivery.pk]))


def opt_out(student, field, *, opted=True):
    directory_opt_outs_set(
        actor=None,
        district_id=student.district_id,
        student_id=student.pk,
        offered=[field],
        opted_out=[field] if opted else [],
    )


def test_a_bundle_built_before_an_opt_out_is_refused_and_a_new_one_withholds_the_field(
    client, setup
):
    a = setup["world"].a
    own = a.students["own"]
    stale = built(setup["grant"], setup["member"])
    assert stale.data_as_of is not None
    assert stale.directory_fields == a.district.directory_fields
    opt_out(own, "family_name")
    client.force_login(setup["member"])
    before = AccessEvent.unscoped.count()
    response = download(client, stale)
    assert response.status_code == 410
    assert "Ask for a new delivery" in response.content.decode()
    progress = client.get(reverse("deliveries:progress", args=[stale.pk])).content.decode()
    assert "a family opted out" in progress
    assert reverse("deliveries:download", args=[stale.pk]) not in progress
    assert AccessEvent.unscoped.count() == before
    stale.refresh_from_db()
    assert stale.download_count == 0

    fresh = built(setup["grant"], setup["member"])
    response = download(client, fresh)
    assert response.status_code == 200
    users = {r["sourcedId"]: r for r in read_zip(b"".join(response.streaming_content))["users"]}
    assert users[own.sourced_id]["familyName"] == ""
    assert users[own.sourced_id]["givenName"] == own.given_name


def test_a_field_no_longer_designated_makes_the_bundle_stale(client, setup):
    district = setup["world"].a.district
    delivery = built(setup["grant"], setup["member"])
    District.objects.filter(pk=district.pk).update(
        directory_fields=[name for name in district.directory_fields if name != "family_name"]
    )
    client.force_login(setup["member"])
    assert download(client, delivery).status_code == 410


@pytest.mark.parametrize(
    "change", ["opted back in", "undesignated field", "student not in the bundle", "b's student"]
)
def test_a_change_the_bundle_does_not_carry_leaves_it_downloadable(client, world, change):
    a = world.a
    grant = grant_of(a.district, categories=["directory"], population="schools",
                     school_ids=[a.school1.pk])  # fmt: skip
    member = member_of(grant.provider, "vendor-person")
    own = a.students["own"]
    if change == "opted back in":
        opt_out(own, "family_name")
    delivery = built(grant, member)
    assert a.students["elsewhere"].pk not in delivery.student_ids
    if change == "opted back in":
        opt_out(own, "family_name", opted=False)
    elif change == "undesignated field":
        opt_out(own, "middle_name")
    elif change == "student not in the bundle":
        opt_out(a.students["elsewhere"], "family_name")
    else:
        opt_out(world.b.students["own"], "family_name")
    client.force_login(member)
    assert download(client, delivery).status_code == 200


def test_a_bundle_without_directory_information_ignores_opt_outs(client, world):
    a = world.a
    provider = f.ProviderFactory(district=a.district)
    agreement = f.AgreementFactory(provider=provider, data_elements=["student_email"])
    grant = f.GrantFactory(agreement=agreement, categories=["contact"])
    member = member_of(provider, "vendor-person")
    delivery = built(grant, member)
    assert delivery.categories == ["contact"]
    opt_out(a.students["own"], "*")
    client.force_login(member)
    assert download(client, delivery).status_code == 200


def test_a_bundle_built_before_the_designation_was_recorded_is_stale(client, setup):
    delivery = built(setup["grant"], setup["member"])
    CsvDelivery.unscoped.filter(pk=delivery.pk).update(data_as_of=None, directory_fields=None)
    client.force_login(setup["member"])
    assert download(client, delivery).status_code == 410


def test_a_grant_whose_agreement_ended_is_not_offered(client, setup):
    from access.models import Agreement

    grant = setup["grant"]
    client.force_login(setup["member"])
    assert grant.purpose in client.get(reverse("deliveries:list")).content.decode()
    yesterday = grant.district.today() - timedelta(days=1)
    Agreement.unscoped.filter(pk=grant.agreement_id).update(
        term_start=yesterday - timedelta(days=60), term_end=yesterday
    )
    response = client.get(reverse("deliveries:list"))
    assert list(response.context["grants"]) == []
