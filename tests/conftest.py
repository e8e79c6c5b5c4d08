"""Two districts, every role in each, and an outsider: where leaks show up.

District ``a`` and district ``b`` are built alike. In each:

- ``own``: at school 1, on the teacher's current roster; the parent's child.
- ``schoolmate``: at school 1, on no roster of the teacher.
- ``elsewhere``: at school 2 only.
- ``adult``: at school 1 and on the roster, 18 years old, signs in as ``eligible``;
  their parent ``adult_parent`` has lost access (not a tax dependent).

Staff of school 1: principal, school_admin, counselor, nurse, special_ed; the
teacher teaches the one section. ``district_admin`` serves the district;
``superuser`` is a Django superuser of the district with no role at all.
``outsider`` belongs to no district.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone, translation
from rest_framework.test import APIClient

from accounts.models import Role
from records import models as m
from tests import factories as f


@dataclass
class DistrictWorld:
    district: m.District
    school1: m.School
    school2: m.School
    term: m.AcademicSession
    section: m.Section
    students: dict[str, m.Student] = field(default_factory=dict)
    users: dict[str, object] = field(default_factory=dict)
    links: dict[str, m.GuardianLink] = field(default_factory=dict)
    enrollments: dict[str, m.Enrollment] = field(default_factory=dict)


STAFF_ROLES = {
    "principal": Role.PRINCIPAL,
    "school_admin": Role.SCHOOL_ADMIN,
    "counselor": Role.COUNSELOR,
    "nurse": Role.NURSE,
    "special_ed": Role.SPECIAL_EDUCATION,
}


# Names no page's own words contain, so "this name is not on the page" can't pass or
# fail by chance (Faker once produced a family called English, beside the language menu).
NAMES = {
    slug: {
        role: {"given_name": given, "family_name": family}
        for role, (given, family) in zip(
            ("own", "schoolmate", "elsewhere", "adult"), pairs, strict=True
        )
    }
    for slug, pairs in {
        "a": [("Ysolde", "Quillfeather"), ("Caspian", "Brindlewood"),
              ("Odalys", "Thistlewaite"), ("Tiberius", "Marchbanks")],
        "b": [("Linnea", "Oakenshaw"), ("Evander", "Pemberthy"),
              ("Marisol", "Fairweather"), ("Cyprian", "Holloway")],
    }.items()
}  # fmt: skip


def build_district(slug: str) -> DistrictWorld:
    today = timezone.localdate()
    district = f.DistrictFactory(slug=slug, name=f"District {slug.upper()}")
    school1 = f.SchoolFactory(district=district, name=f"{slug.upper()} Middle")
    school2 = f.SchoolFactory(district=district, name=f"{slug.upper()} High")
    term = f.AcademicSessionFactory(district=district)
    section = f.SectionFactory(district=district, school=school1, term=term)
    world = DistrictWorld(district, school1, school2, term, section)

    def user(name, **kwargs):
        world.users[name] = f.UserFactory(username=f"{slug}-{name}", district=district, **kwargs)
        return world.users[name]

    for name, role in STAFF_ROLES.items():
        f.RoleMembershipFactory(user=user(name), role=role, school=school1)
    f.RoleMembershipFactory(user=user("district_admin"), role=Role.DISTRICT_ADMIN, school=None)
    teacher = user("teacher")
    f.RoleMembershipFactory(user=teacher, role=Role.TEACHER, school=school1)
    f.SectionTeacherFactory(section=section, teacher=teacher)
    user("superuser", is_superuser=True, is_staff=True)

    adult_birth = today.replace(year=today.year - 18) - timedelta(days=1)
    world.students = {
        "own": f.StudentFactory(district=district, **NAMES[slug]["own"]),
        "schoolmate": f.StudentFactory(district=district, **NAMES[slug]["schoolmate"]),
        "elsewhere": f.StudentFactory(district=district, **NAMES[slug]["elsewhere"]),
        "adult": f.StudentFactory(
            district=district,
            birth_date=adult_birth,
            grade_level="12",
            user=user("eligible"),
            **NAMES[slug]["adult"],
        ),
    }
    for name in ("own", "schoolmate", "adult"):
        f.SchoolMembershipFactory(student=world.students[name], school=school1)
    f.SchoolMembershipFactory(student=world.students["elsewhere"], school=school2)
    for name in ("own", "adult"):
        world.enrollments[name] = f.EnrollmentFactory(section=section, student=world.students[name])
    world.links["parent"] = f.GuardianLinkFactory(
        student=world.students["own"], guardian=user("parent")
    )
    world.links["adult_parent"] = f.GuardianLinkFactory(
        student=world.students["adult"], guardian=user("adult_parent")
    )
    return world


@dataclass
class World:
    a: DistrictWorld
    b: DistrictWorld
    outsider: object

    def all_students(self) -> dict[str, m.Student]:
        return {
            **{f"a.{k}": v for k, v in self.a.students.items()},
            **{f"b.{k}": v for k, v in self.b.students.items()},
        }


@pytest.fixture
def world(db) -> World:
    return World(
        a=build_district("a"),
        b=build_district("b"),
        outsider=f.UserFactory(username="outsider", district=None),
    )


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def api_as(api):
    def login(user):
        api.force_authenticate(user=user)
        return api

    return login


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2's deliberate slowness is for attackers, not for the test suite.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def plain_http_test_client(settings):
    # The test client speaks plain HTTP; production redirects it to HTTPS.
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def default_language():
    # A request in Spanish leaves Spanish active in the thread (LocaleMiddleware never
    # deactivates): code called directly by the next test must not inherit it.
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


# The role the suite's connections act as, once the test database is made: neither
# superuser nor owner, as production's application role, so row-level security applies.
SUITE_ROLE = "studentdata_suite"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, used as the application uses production's.

    Connections act as ``SUITE_ROLE``, subject to row-level security: a path that reads
    another district without saying so fails here as it would in production. (Where the
    configured user cannot make roles, the suite runs as that user.)

    And Django may empty the append-only log between transactional (live server) tests:
    only the TRUNCATE guards are dropped, and only in the test database; UPDATE and
    DELETE stay refused, and tests/access/test_audit.py checks the TRUNCATE guard by
    putting it back inside a rolled-back transaction.
    """
    from importlib import import_module

    from django.db import connection

    append_only = import_module("access.migrations.0003_append_only")
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        for table in (*append_only.LOG_TABLES, append_only.CHAIN_TABLE):
            cursor.execute(f'DROP TRIGGER IF EXISTS "{table}_no_truncate" ON "{table}"')
        acting = connection.vendor == "postgresql" and _make_suite_role(cursor)
    if not acting:
        yield
        return
    options = connection.settings_dict.setdefault("OPTIONS", {})
    configured = options.get("options")
    options["options"] = f"{configured or ''} -c role={SUITE_ROLE}".strip()
    connection.close()
    yield
    # The test database is dropped by the configured user, its owner, and only once no
    # session is left on it (a live server's thread may still hold one).
    if configured is None:
        del options["options"]
    else:
        options["options"] = configured
    connection.close()
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    connection.close()


def _make_suite_role(cursor) -> bool:
    cursor.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
    if not cursor.fetchone()[0]:
        return False
    # Roles are the cluster's: parallel workers may make it at the same moment.
    cursor.execute(f"""
        DO $$ BEGIN CREATE ROLE {SUITE_ROLE} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$
    """)
    cursor.execute(f"GRANT USAGE ON SCHEMA public TO {SUITE_ROLE}")
    cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {SUITE_ROLE}")
    cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {SUITE_ROLE}")
    cursor.execute(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {SUITE_ROLE}")
    cursor.execute(f"GRANT {SUITE_ROLE} TO current_user")
    return True


@pytest.fixture(scope="session", autouse=True)
def test_code_is_system():
    """The suite's own code (fixtures of any scope, set-up and checks) reads and writes
    every district: the system context. What it calls as an entry point (a request, a
    Celery task, a management command) starts without it, as in production."""
    from django.core.management import BaseCommand

    from records.tenancy import entry_scope, system_scope

    original = BaseCommand.execute

    def execute(self, *args, **options):
        with entry_scope():
            return original(self, *args, **options)

    BaseCommand.execute = execute
    try:
        with system_scope("the test suite's own code"):
            yield
    finally:
        BaseCommand.execute = original


@pytest.fixture(autouse=True)
def fresh_counters():
    # Sign-in failures and request counts live in the shared cache, not the database:
    # the database rolls back after each test, the cache must be emptied.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def force_login_gives_the_second_factor(monkeypatch):
    """``force_login`` stands for a whole sign-in, second factor included (as a person who
    gave it): pages then answer as they do after ``/two-factor/verify/``. The second
    factor's own tests sign in through the forms instead."""
    from django.test.client import ClientMixin
    from django_otp import DEVICE_ID_SESSION_KEY

    original = ClientMixin.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        session = self.session
        session[DEVICE_ID_SESSION_KEY] = "otp_totp.totpdevice/0"
        session.save()

    monkeypatch.setattr(ClientMixin, "force_login", force_login)
