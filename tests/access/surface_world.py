"""The world behind tests/access/test_surface_matrix.py: every kind of reader, once.

Districts ``a`` and ``b`` are the shared ones of tests/conftest.py (``build_district``):
students ``own``, ``schoolmate`` (school 1), ``elsewhere`` (school 2) and ``adult``
(school 1, 18, signs in as ``eligible``); the teacher's section at school 1 holds
``own`` and ``adult``. Added here, in district ``a``:

- ``dependent``: 18, at school 2, flagged ``is_tax_dependent``; ``tax_parent`` is their parent.
- ``section2``: a section at school 2 (no teacher) holding ``elsewhere`` and ``dependent``.
- ``substitute`` covers the teacher's section today; ``substitute_ended``'s assignment
  ended yesterday (the permission still stands: the beat task has not run).
- ``emergency`` holds a break-glass grant on ``schoolmate``; ``emergency_expired`` held
  one that expired an hour ago. Both are teachers of school 2 with no class.
- ``restricted_all`` and ``restricted_contact``: parents of ``own`` under a custody
  restriction (scope ``all``; scope ``categories`` ``["contact"]``).
- ``principal_parent``: a principal of school 1 who is also the restricted (scope
  ``all``) parent of ``own``.

In both districts every student gets programs, health, transportation, discipline and
attendance rows (so each category has something to show), one open amendment
request (contact: phone) and one open request to inspect.

Users are keyed by reader name (``teacher``, ``substitute``…); ``other_district`` is
``b``'s district admin and ``anonymous`` is ``None``. Students are keyed ``a.own``…
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta

from django.test import override_settings
from django.utils import timezone

from access.models import EmergencyAccess
from access.substitutes import assign_substitute
from access.viewer import viewer_for
from accounts.models import Role
from records import models as m
from records.rights import inspection_request_create
from records.services import amendment_request
from tests import factories as f
from tests.conftest import build_district

# name → (program, accommodations); the same in both districts.
PROGRAMS = {
    "own": [("iep", "Extended time"), ("free_reduced_lunch", "")],
    "schoolmate": [("section_504", "Seat near the door")],
    "elsewhere": [("iep", "Read-aloud tests")],
    "adult": [("english_learner", "Bilingual glossary"), ("homeless", "")],
    "dependent": [("free_reduced_lunch", "")],
}
GRADES = {"own": "07", "schoolmate": "08", "elsewhere": "09", "adult": "12", "dependent": "12"}
# Attendance this school year, newest first: own 50 %, schoolmate 100 %, elsewhere 25 %,
# dependent 100 %, adult nothing recorded.
ATTENDANCE = {
    "own": ["present", "absent", "absent", "tardy"],
    "schoolmate": ["present", "present", "present"],
    "elsewhere": ["absent", "absent", "absent", "present"],
    "dependent": ["present", "present"],
}
DEPENDENT_NAME = {"given_name": "Ottoline", "family_name": "Vexingham"}
REASON = "Anaphylaxis on the field trip; need allergy plan and parent phone"


@dataclass
class SurfaceWorld:
    students: dict[str, m.Student] = field(default_factory=dict)  # "a.own" → student
    users: dict[str, object] = field(default_factory=dict)  # reader name → user (or None)
    sections: dict[str, m.Section] = field(default_factory=dict)  # "a.section" → section
    amendments: dict[str, m.AmendmentRequest] = field(default_factory=dict)  # by student key
    inspections: dict[str, m.InspectionRequest] = field(default_factory=dict)  # by student key
    district_users: dict[str, set[str]] = field(default_factory=dict)  # slug → usernames
    browser: object = None  # the test client the tests share (tests/access/test_surface_matrix.py)


def _records(district, student, name: str, school, today) -> None:
    for program, accommodations in PROGRAMS.get(name, []):
        m.ProgramParticipation.unscoped.create(
            district=district, student=student, program=program, accommodations=accommodations
        )
    m.HealthRecord.unscoped.create(
        district=district, student=student, allergies="Peanuts", immunization_status="complete"
    )
    m.TransportationAssignment.unscoped.create(
        district=district,
        student=student,
        route="Route 7",
        stop="Elm & 3rd",
        pickup_time=time(7, 10),
        dropoff_time=time(15, 40),
    )
    m.DisciplineIncident.unscoped.create(
        district=district, student=student, school=school, occurred_on=today, incident_type="Tardy"
    )
    for n, status in enumerate(ATTENDANCE.get(name, [])):
        m.AttendanceRecord.unscoped.create(
            district=district, student=student, date=today - timedelta(days=n), status=status
        )


def _requests(world: SurfaceWorld, slug: str, requester) -> None:
    for key, student in world.students.items():
        if not key.startswith(f"{slug}."):
            continue
        world.amendments[key] = amendment_request(
            actor=requester,
            student=student,
            field="phone",
            category="contact",
            proposed_value="555-0199",
            reason="We changed numbers.",
            current_value=student.phone,
        )
        world.inspections[key] = inspection_request_create(
            actor=requester,
            district=student.district,
            student_id=student.pk,
            description="Last year's evaluation",
            preference=m.InspectionRequest.Preference.IN_PERSON,
        )


def _district(world: SurfaceWorld, slug: str):
    home = build_district(slug)
    today = viewer_for(home.users["principal"]).today  # the district's own today
    if slug == "a":
        adult_birth = home.students["adult"].birth_date
        home.students["dependent"] = f.StudentFactory(
            district=home.district,
            birth_date=adult_birth - timedelta(days=30),
            is_tax_dependent=True,
            **DEPENDENT_NAME,
        )
        f.SchoolMembershipFactory(student=home.students["dependent"], school=home.school2)
    for name, grade in GRADES.items():
        if name in home.students:
            m.Student.unscoped.filter(pk=home.students[name].pk).update(grade_level=grade)
    section2 = f.SectionFactory(district=home.district, school=home.school2, term=home.term)
    for name in ("elsewhere", "dependent"):
        if name in home.students:
            f.EnrollmentFactory(section=section2, student=home.students[name])
    world.sections[f"{slug}.section"] = home.section
    world.sections[f"{slug}.section2"] = section2
    for name, student in home.students.items():
        school = home.school2 if name in ("elsewhere", "dependent") else home.school1
        _records(home.district, student, name, school, today)
        student.refresh_from_db()
        world.students[f"{slug}.{name}"] = student
    return home, today


def _user(home, name: str, **kwargs):
    user = f.UserFactory(username=f"{home.district.slug}-{name}", district=home.district, **kwargs)
    home.users[name] = user
    return user


def build_surface_world() -> SurfaceWorld:
    world = SurfaceWorld()
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        a, today = _district(world, "a")
        b, _ = _district(world, "b")
        own = a.students["own"]

        # Substitutes: one covering the section today, one whose dates ended yesterday.
        principal = viewer_for(a.users["principal"])
        for name in ("substitute", "substitute_ended"):
            user = _user(a, name)
            f.RoleMembershipFactory(user=user, role=Role.TEACHER, school=a.school2)
            assignment = assign_substitute(
                principal, a.section, who=user.username, begin=today, end=today
            )
            if name == "substitute_ended":
                m.SubstituteAssignment.unscoped.filter(pk=assignment.pk).update(
                    begin_date=today - timedelta(days=5), end_date=today - timedelta(days=1)
                )

        # Break-glass on the schoolmate: active, and expired.
        now = timezone.now()
        for name, granted in (("emergency", now), ("emergency_expired", now - timedelta(hours=25))):
            user = _user(a, name)
            f.RoleMembershipFactory(user=user, role=Role.TEACHER, school=a.school2)
            EmergencyAccess.unscoped.create(
                district=a.district,
                student=a.students["schoolmate"],
                requested_by=user,
                reason=REASON,
                granted_at=granted,
                expires_at=granted + timedelta(hours=24),
            )

        # Parents of ``own`` under custody restrictions.
        for name, scope, categories in (
            ("restricted_all", m.CustodyRestriction.Scope.ALL, []),
            ("restricted_contact", m.CustodyRestriction.Scope.CATEGORIES, ["contact"]),
        ):
            link = f.GuardianLinkFactory(student=own, guardian=_user(a, name))
            f.CustodyRestrictionFactory(guardian_link=link, scope=scope, categories=categories)

        # A principal of school 1 who is also the restricted parent of ``own``.
        principal_parent = _user(a, "principal_parent")
        f.RoleMembershipFactory(user=principal_parent, role=Role.PRINCIPAL, school=a.school1)
        link = f.GuardianLinkFactory(student=own, guardian=principal_parent)
        f.CustodyRestrictionFactory(guardian_link=link, scope=m.CustodyRestriction.Scope.ALL)

        # The tax dependent's parent.
        f.GuardianLinkFactory(student=a.students["dependent"], guardian=_user(a, "tax_parent"))

        _requests(world, "a", a.users["parent"])
        _requests(world, "b", b.users["parent"])

        outsider = f.UserFactory(username="outsider", district=None)

    world.users.update(a.users)
    world.users["other_district"] = b.users["district_admin"]
    world.users["outsider"] = outsider
    world.users["anonymous"] = None
    world.district_users = {
        "a": {u.username for u in a.users.values()},
        "b": {u.username for u in b.users.values()},
    }
    return world
