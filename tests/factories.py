"""factory_boy factories for every model the tests build."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from access import models as access_models
from accounts.models import Role, RoleMembership, User
from records import models as m


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.District

    slug = factory.Sequence(lambda n: f"district-{n}")
    name = factory.Sequence(lambda n: f"District {n}")
    directory_fields = ["given_name", "family_name", "grade_level", "school"]


class SchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.School

    district = factory.SubFactory(DistrictFactory)
    sourced_id = factory.Sequence(lambda n: f"school-{n}")
    name = factory.Sequence(lambda n: f"School {n}")
    nces_id = factory.Sequence(lambda n: f"{1234567:07d}{n:05d}")
    kind = m.School.Kind.MIDDLE


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("correct horse battery")


class RoleMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleMembership

    district = factory.SelfAttribute("user.district")
    user = factory.SubFactory(UserFactory)
    role = Role.TEACHER


def _today():
    return timezone.localdate()


class AcademicSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.AcademicSession

    district = factory.SubFactory(DistrictFactory)
    sourced_id = factory.Sequence(lambda n: f"session-{n}")
    title = factory.Sequence(lambda n: f"Term {n}")
    kind = m.AcademicSession.Kind.TERM
    start_date = factory.LazyFunction(lambda: _today() - timedelta(days=60))
    end_date = factory.LazyFunction(lambda: _today() + timedelta(days=60))
    school_year = factory.LazyAttribute(lambda s: s.end_date.year)


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Course

    district = factory.SubFactory(DistrictFactory)
    sourced_id = factory.Sequence(lambda n: f"course-{n}")
    title = factory.Sequence(lambda n: f"Course {n}")


class SectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Section

    district = factory.SubFactory(DistrictFactory)
    sourced_id = factory.Sequence(lambda n: f"section-{n}")
    school = factory.SubFactory(SchoolFactory, district=factory.SelfAttribute("..district"))
    course = factory.SubFactory(CourseFactory, district=factory.SelfAttribute("..district"))
    term = factory.SubFactory(AcademicSessionFactory, district=factory.SelfAttribute("..district"))
    title = factory.Sequence(lambda n: f"Section {n}")
    period = "1"


class StudentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Student

    district = factory.SubFactory(DistrictFactory)
    sourced_id = factory.Sequence(lambda n: f"student-{n}")
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    grade_level = "07"
    birth_date = factory.LazyFunction(lambda: _today().replace(year=_today().year - 12))
    sex = "F"
    state_id = factory.Sequence(lambda n: f"{9000000000 + n}")
    local_id = factory.Sequence(lambda n: f"L{n:06d}")
    address_line = factory.Faker("street_address")
    city = "Springfield"
    state = "IL"
    postal_code = "62701"
    phone = "555-0100"


class SchoolMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.SchoolMembership

    district = factory.SelfAttribute("student.district")
    student = factory.SubFactory(StudentFactory)
    school = factory.SubFactory(SchoolFactory, district=factory.SelfAttribute("..district"))


class SectionTeacherFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.SectionTeacher

    district = factory.SelfAttribute("section.district")
    section = factory.SubFactory(SectionFactory)
    teacher = factory.SubFactory(UserFactory, district=factory.SelfAttribute("..district"))


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Enrollment

    district = factory.SelfAttribute("section.district")
    section = factory.SubFactory(SectionFactory)
    student = factory.SubFactory(StudentFactory, district=factory.SelfAttribute("..district"))


class GuardianLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.GuardianLink

    district = factory.SelfAttribute("student.district")
    student = factory.SubFactory(StudentFactory)
    guardian = factory.SubFactory(UserFactory, district=factory.SelfAttribute("..district"))
    relationship = m.GuardianLink.Relationship.MOTHER


class CustodyRestrictionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.CustodyRestriction

    district = factory.SelfAttribute("guardian_link.district")
    guardian_link = factory.SubFactory(GuardianLinkFactory)
    scope = m.CustodyRestriction.Scope.ALL
    begin_date = factory.LazyFunction(lambda: _today() - timedelta(days=1))
    reference = "Case 2026-FC-0001"


# Service providers (access/models.py).


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = access_models.Provider

    district = factory.SubFactory(DistrictFactory)
    name = factory.Sequence(lambda n: f"Provider {n}")
    services = "Student transportation"


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = access_models.Agreement

    district = factory.SelfAttribute("provider.district")
    provider = factory.SubFactory(ProviderFactory)
    title = factory.Sequence(lambda n: f"Data privacy agreement {n}")
    reference = factory.Sequence(lambda n: f"NDPA-{n:04d}")
    services = "Routing and rider rosters"
    data_elements = ["student_name", "student_address"]
    term_start = factory.LazyFunction(lambda: _today() - timedelta(days=30))
    term_end = factory.LazyFunction(lambda: _today() + timedelta(days=335))
    security_framework = access_models.Agreement.Framework.NIST_CSF
    breach_contact = "security@provider.example"


class GrantFactory(factory.django.DjangoModelFactory):
    """An active grant of the whole district's directory, from last month to next year."""

    class Meta:
        model = access_models.Grant

    district = factory.SelfAttribute("agreement.district")
    agreement = factory.SubFactory(AgreementFactory)
    provider = factory.SelfAttribute("agreement.provider")
    legal_basis = access_models.Grant.LegalBasis.SCHOOL_OFFICIAL
    purpose = "student transportation"
    categories = ["directory"]
    population = access_models.Grant.Population.DISTRICT
    starts_on = factory.LazyFunction(lambda: _today() - timedelta(days=30))
    ends_on = factory.LazyFunction(lambda: _today() + timedelta(days=300))
    status = access_models.Grant.Status.ACTIVE


CLIENT_SECRET = "provider-client-secret"


def api_client_for(provider, *, secret: str = CLIENT_SECRET, name: str = "Sync"):
    """An enabled OAuth 2 client (client credentials) of ``provider``, with ``secret``."""
    from oauth2_provider.models import Application

    application = Application.objects.create(
        name=f"{provider.name} {name}",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
    )
    return access_models.ApiClient.unscoped.create(
        district=provider.district, provider=provider, application=application, name=name
    )
