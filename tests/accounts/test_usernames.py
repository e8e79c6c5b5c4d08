"""Usernames are unique whatever their case, and no lookup settles for one of several.

``Teacher.Stephanie.Goodwin@Lakeside`` beside ``teacher.stephanie.goodwin@lakeside``
would make every lookup by name a guess: the database refuses the second, the migration
that brings the rule names the accounts already in the way, the roster import reports a
lookalike at its place, and assigning a substitute by an email two people share asks
for the username instead of picking one.
"""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from access.viewer import viewer_for
from accounts.models import Role, User
from records import models as m
from tests import factories as f
from tests.records.oneroster_bundles import small_district, write_bundle
from tests.records.test_import_oneroster import database_fingerprint, run, where
from tests.records.test_substitute_pages import assign_url, client_for
from tests.roles import as_owner

pytestmark = pytest.mark.django_db

GOODWIN = "teacher.stephanie.goodwin@lakeside"
LOOKALIKE = "Teacher.Stephanie.Goodwin@Lakeside"
AMBIGUOUS = "More than one person matches; enter the full username."
MIGRATION = importlib.import_module("accounts.migrations.0005_username_unique_whatever_its_case")


# The rule in the database.


@pytest.mark.parametrize("other_district", [False, True])
def test_the_database_refuses_a_lookalike(world, other_district):
    f.UserFactory(username=GOODWIN, district=world.a.district)
    district = world.b.district if other_district else world.a.district
    refused = pytest.raises(IntegrityError, match="accounts_user_username_lower_key")
    with refused, transaction.atomic():
        f.UserFactory(username=LOOKALIKE, district=district)
    assert list(User.objects.filter(username__iexact=GOODWIN).values_list("username")) == [
        (GOODWIN,)
    ]


def test_renaming_into_a_lookalike_is_refused_too(world):
    f.UserFactory(username=GOODWIN, district=world.a.district)
    other = f.UserFactory(username="someone.else", district=world.b.district)
    other.username = LOOKALIKE
    with pytest.raises(IntegrityError), transaction.atomic():
        other.save(update_fields=["username"])


def test_model_validation_names_the_clash(world):
    f.UserFactory(username=GOODWIN, district=world.a.district)
    lookalike = User(username=LOOKALIKE, district=world.b.district, password="x")
    with pytest.raises(ValidationError) as refused:
        lookalike.full_clean()
    assert "A user with that username already exists." in refused.value.messages


def test_a_person_may_change_the_case_of_their_own_username(world):
    user = f.UserFactory(username=GOODWIN, district=world.a.district, email="sg@example.org")
    user.username = LOOKALIKE
    user.save(update_fields=["username"])
    user.full_clean()
    assert User.objects.get(pk=user.pk).username == LOOKALIKE


def test_the_migration_stops_on_lookalikes_and_names_them(world):
    """Existing lookalikes are nobody's to merge: the migration names them and stops."""
    with as_owner(), connection.cursor() as cursor:  # undone with the test's transaction
        cursor.execute("DROP INDEX accounts_user_username_lower_key")
    first = f.UserFactory(username=GOODWIN, district=world.a.district)
    second = f.UserFactory(username=LOOKALIKE, district=world.b.district)
    f.UserFactory(username="b-TEACHER", district=world.b.district)  # world.b has b-teacher
    with pytest.raises(CommandError) as stopped, connection.schema_editor() as editor:
        MIGRATION.refuse_lookalikes(apps, editor)
    message = str(stopped.value)
    assert "differ only in case" in message
    assert f"'{GOODWIN}' (id {first.pk}, district a)" in message
    assert f"'{LOOKALIKE}' (id {second.pk}, district b)" in message
    assert "'b-TEACHER'" in message and "'b-teacher'" in message
    assert "'a-teacher'" not in message


def test_the_migration_passes_when_usernames_are_distinct(world):
    with connection.schema_editor() as editor:
        MIGRATION.refuse_lookalikes(apps, editor)  # raises nothing


# Assigning a substitute: a username names one person; a shared email names nobody.


@pytest.fixture
def covers(world):
    """Two teachers of district a who share one email address."""
    people = []
    for username in ("cover.one", "cover.two"):
        user = f.UserFactory(username=username, district=world.a.district, email="cover@a.org")
        f.RoleMembershipFactory(user=user, role=Role.TEACHER, school=world.a.school2)
        people.append(user)
    return people


def days(world) -> dict:
    today = viewer_for(world.a.users["principal"]).today
    return {"begin_date": today.isoformat(), "end_date": (today + timedelta(days=1)).isoformat()}


def assign(world, who: str):
    return client_for(world.a.users["principal"]).post(
        assign_url(world), {"substitute": who, **days(world)}
    )


@pytest.mark.parametrize("who", ["cover@a.org", "COVER@A.ORG"])
def test_an_email_two_people_share_asks_for_the_username(world, covers, who):
    response = assign(world, who)
    html = response.content.decode()
    assert response.status_code == 400
    assert f'<ul class="errors" id="substitute-errors"><li>{AMBIGUOUS}</li></ul>' in html
    assert not m.SubstituteAssignment.unscoped.exists()


@pytest.mark.parametrize("who", ["cover.two", "Cover.Two"])
def test_the_username_then_names_one_of_them(world, covers, who):
    assert assign(world, who).status_code == 302
    assert m.SubstituteAssignment.unscoped.get().substitute == covers[1]


def test_an_email_held_by_one_active_person_still_names_them(world, covers):
    User.objects.filter(pk=covers[0].pk).update(is_active=False)
    assert assign(world, "Cover@A.org").status_code == 302
    assert m.SubstituteAssignment.unscoped.get().substitute == covers[1]


def test_an_email_of_one_person_in_another_district_does_not_count(world, covers):
    User.objects.filter(pk=covers[0].pk).update(email="solo@a.org")
    f.UserFactory(username="b-cover", district=world.b.district, email="solo@a.org")
    assert assign(world, "solo@a.org").status_code == 302
    assert m.SubstituteAssignment.unscoped.get().substitute == covers[0]


def test_a_username_wins_over_someone_elses_email(world, covers):
    """A username is unique, an email is not: typing the username always finds its holder."""
    User.objects.filter(pk=covers[1].pk).update(email="cover.one")
    assert assign(world, "cover.one").status_code == 302
    assert m.SubstituteAssignment.unscoped.get().substitute == covers[0]


# The roster import: a lookalike of another account, or within the bundle.


def test_a_bundle_may_change_the_case_of_its_own_peoples_usernames(tmp_path):
    tables = small_district()
    report, _ = run(write_bundle(tmp_path / "first", tables))
    assert report.ok
    tables["users"][0]["username"] = tables["users"][0]["username"].upper()
    report, district = run(write_bundle(tmp_path / "second", tables))
    assert report.ok, [str(issue) for issue in report.errors]
    sid = tables["users"][0]["sourcedId"]
    assert User.objects.get(district=district, sourced_id=sid).username == "T.ONE"


def test_a_lookalike_of_a_deactivated_account_is_still_refused(tmp_path, world):
    teacher = world.b.users["teacher"]
    User.objects.filter(pk=teacher.pk).update(is_active=False)
    tables = small_district()
    tables["users"][2]["username"] = teacher.username.upper()
    before = database_fingerprint()
    report, _ = run(write_bundle(tmp_path / "b", tables))
    assert where(report.errors) == {("users.csv", 4, "username")}
    (issue,) = report.errors
    assert issue.message == (
        "username 'B-TEACHER' differs only in case from another account's username"
    )
    assert database_fingerprint() == before
