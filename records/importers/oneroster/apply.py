"""Applying a parsed bundle to one district, in one transaction, as a set difference.

Every entity is loaded once, compared in memory and written with bulk statements:
created, updated, ended or unchanged. Nothing a roster no longer lists is deleted —
it is ended (dates set, accounts deactivated) so history stays and access goes. A
student missing from a bulk users file keeps the guardian links that let the family
see the record; only the school's access ends.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db.models import Q
from django.utils import timezone

from accounts.models import RoleMembership, User
from records.importers.oneroster.parse import (
    DISTRICT_ROLES,
    GUARDIAN_ROLES,
    SCHOOL_ROLES,
    Parsed,
    kind_of,
    school_of,
)
from records.importers.report import ImportReport
from records.models import (
    AcademicSession,
    Course,
    District,
    Enrollment,
    Grade,
    GuardianLink,
    School,
    SchoolMembership,
    Section,
    SectionTeacher,
    Student,
)

BATCH = 2000
Progress = Callable[[str, int, int], None]


def row_type(names: Iterable[str]) -> type[tuple]:
    """A tuple read by column name: a million existing rows as tuples, not dicts."""
    index = {name: i for i, name in enumerate(names)}

    class RowTuple(tuple):
        __slots__ = ()

        def __getitem__(self, key):
            return tuple.__getitem__(self, index[key] if isinstance(key, str) else key)

        def get(self, key, default=None):
            position = index.get(key)
            return default if position is None else tuple.__getitem__(self, position)

        def as_dict(self) -> dict:
            return dict(zip(index, self, strict=True))

    return RowTuple


def load_rows(queryset, key: Callable[[tuple], object], names: list[str]) -> dict:
    """``{key: (pk, row)}`` from ``queryset.values_list("id", *names)``."""
    make = row_type(names)
    return {key(row := make(values[1:])): (values[0], row) for values in
            queryset.values_list("id", *names).iterator(chunk_size=20_000)}  # fmt: skip


class Applier:
    def __init__(
        self,
        parsed: Parsed,
        district: District,
        report: ImportReport,
        *,
        today: date,
        progress: Progress,
    ):
        self.p, self.district, self.report = parsed, district, report
        self.ended_on = today - timedelta(days=1)  # ended today: no access from today on
        self.progress = progress
        self.done = 0
        self.ids: dict[str, dict[str, int]] = {}

    # -- the steps, in dependency order -------------------------------------------------

    def run(self) -> None:
        steps = [
            (self.schools, len(self.p.orgs)),
            (self.sessions, len(self.p.sessions)),
            (self.courses, len(self.p.courses)),
            (self.sections, len(self.p.classes)),
            (self.users, len(self.p.people)),
            (self.students, len(self.p.people)),
            (self.role_memberships, len(self.p.roles) + len(self.p.people)),
            (self.school_memberships, len(self.p.people)),
            (self.guardian_links, len(self.p.people)),
            (self.enrollments, len(self.p.enrollments)),
            (self.demographics, len(self.p.demographics)),
            (self.grades, len(self.p.results)),
        ]
        total = sum(n for _, n in steps)
        for step, rows in steps:
            step()
            self.done += rows
            self.progress("applying", self.done, total)

    def _bulk(self, name: str) -> bool:
        return self.p.mode(name) == "bulk"

    def _deleted(self, name: str) -> set[str]:
        return self.p.deleted.get(name, set())

    def _id_map(self, model, **filters) -> dict[str, int]:
        rows = model.unscoped.filter(district=self.district, sourced_id__isnull=False, **filters)
        return dict(rows.values_list("sourced_id", "id"))

    def schools(self) -> None:
        if self.p.district_org:
            sid, _ = self.p.district_org
            if self.district.sourced_id != sid:
                self.district.sourced_id = sid
                self.district.save(update_fields=["sourced_id"])
        desired = {
            sid: {"name": org.name[:200], "nces_id": _nces_school_id(org.identifier)}
            for sid, org in self.p.orgs.items()
            if not (org.kind == "department" and org.parent in self.p.orgs)
        }
        self._sync_by_sourced_id("schools", School, desired, defaults={"kind": "other"})
        self.ids["school"] = self._id_map(School)

    def sessions(self) -> None:
        desired = {
            sid: {
                "title": s.title[:200],
                "kind": s.kind,
                "start_date": s.start,
                "end_date": s.end,
                "school_year": s.school_year,
            }
            for sid, s in self.p.sessions.items()
        }
        self._sync_by_sourced_id("academic_sessions", AcademicSession, desired)
        self.ids["session"] = self._id_map(AcademicSession)
        parents = {
            self.ids["session"][sid]: self.ids["session"].get(s.parent)
            for sid, s in self.p.sessions.items()
        }
        current = dict(
            AcademicSession.unscoped.filter(
                district=self.district, pk__in=list(parents)
            ).values_list("id", "parent_id")
        )
        changed = [
            AcademicSession(pk=pk, parent_id=parent)
            for pk, parent in parents.items()
            if current.get(pk) != parent
        ]
        AcademicSession.unscoped.bulk_update(
            changed, sorted(_stamped(AcademicSession, changed, ["parent"])), batch_size=BATCH
        )

    def courses(self) -> None:
        schools = self.ids["school"]
        desired = {
            sid: {
                "title": c.title[:200],
                "code": c.code[:64],
                "subject": c.subject,
                "school_id": schools.get(c.org) if c.org else None,
            }
            for sid, c in self.p.courses.items()
        }
        self._sync_by_sourced_id("courses", Course, desired)
        self.ids["course"] = self._id_map(Course)

    def sections(self) -> None:
        schools, courses, sessions = self.ids["school"], self.ids["course"], self.ids["session"]
        desired = {
            sid: {
                "title": c.title[:200],
                "period": c.period,
                "room": c.room,
                "school_id": schools[c.school],
                "course_id": courses[c.course],
                "term_id": sessions[c.term],
            }
            for sid, c in self.p.classes.items()
        }
        self._sync_by_sourced_id("sections", Section, desired)
        self.ids["section"] = self._id_map(Section)

    def users(self) -> None:
        """One account per OneRoster user, students included; none has a usable password."""
        desired = {
            sid: {
                "username": person.username,
                "first_name": person.given_name[:150],
                "last_name": person.family_name[:150],
                "email": person.email,
                "phone": person.phone,
                "is_active": person.enabled,
            }
            for sid, person in self.p.people.items()
        }
        users = User.objects.filter(district=self.district, sourced_id__isnull=False)
        if not self._bulk("users"):
            users = users.filter(sourced_id__in=self._named("users", desired))
        # A delta whose every row is tobedeleted still ends its users; an empty bulk
        # file ends nobody.
        read = desired or (not self._bulk("users") and self._deleted("users"))
        fields = next(iter(desired.values()), {"is_active": True}).keys()
        existing = (
            {
                row["sourced_id"]: (row.pop("id"), row)
                for row in users.values("id", "sourced_id", *fields)
            }
            if read
            else {}
        )
        to_create, to_update, fields = [], [], set()
        for sid, values in desired.items():
            found = existing.get(sid)
            if found is None:
                to_create.append(
                    User(district=self.district, sourced_id=sid, password=make_password(None),
                         **values)
                )  # fmt: skip
                continue
            pk, current = found
            changed = {f for f, v in values.items() if current.get(f) != v}
            if changed:
                to_update.append(User(pk=pk, **values))
                fields |= changed
        ended = self._absent_or_deleted("users", existing, desired)
        deactivate = [pk for sid in ended if (pk := existing[sid][0]) and existing[sid][1].get(
            "is_active", True)]  # fmt: skip
        User.objects.bulk_create(to_create, batch_size=BATCH)
        if to_update:
            User.objects.bulk_update(
                to_update, sorted(_stamped(User, to_update, fields)), batch_size=BATCH
            )
        if deactivate:
            User.objects.filter(district=self.district, pk__in=deactivate).update(
                is_active=False, updated_at=timezone.now()
            )
        self._count("users", len(to_create), len(to_update), len(deactivate), len(desired))
        self.ids["user"] = dict(
            User.objects.filter(district=self.district, sourced_id__isnull=False).values_list(
                "sourced_id", "id"
            )
        )
        self.ended_users = set(ended)

    def students(self) -> None:
        users = self.ids["user"]
        desired = {
            sid: {
                "given_name": p.given_name,
                "middle_name": p.middle_name,
                "family_name": p.family_name,
                "preferred_name": p.preferred_name,
                "grade_level": p.grade,
                "email": p.email,
                "phone": p.phone,
                "user_id": users[sid],
                "enrollment_status": Student.Status.ACTIVE,
            }
            for sid, p in self.p.people.items()
            if p.role == "student"
        }
        among = None
        if not self._bulk("users"):
            among = Q(sourced_id__in=self._named("users", desired))
        existing = self._existing(Student, ("sourced_id",), desired, among=among)
        absent = [
            sid
            for sid in self._absent_or_deleted("users", existing, desired)
            if existing[sid][1]["enrollment_status"] == Student.Status.ACTIVE
        ]
        self._write("students", Student, desired, existing, key_fields=("sourced_id",))
        Student.unscoped.filter(district=self.district, sourced_id__in=absent).update(
            enrollment_status=Student.Status.INACTIVE
        )
        self.report.count("students", "ended", len(absent))
        self.ids["student"] = self._id_map(Student)
        self.ended_students = {self.ids["student"][sid] for sid in absent}
        self.present_students = {self.ids["student"][sid] for sid in desired}

    def role_memberships(self) -> None:
        users, schools = self.ids["user"], self.ids["school"]
        desired: dict[tuple, dict] = {}
        for user_sid, role, org, begin, end, sourced_id in self._staff_roles():
            role_name = (DISTRICT_ROLES if not org else SCHOOL_ROLES).get(role)
            if role_name is None or (org and org not in schools):
                continue
            key = (users[user_sid], role_name, schools[org] if org else None)
            desired[key] = {"begin_date": begin, "end_date": end, "sourced_id": sourced_id}
        ended_users = {users[sid] for sid in self.ended_users if sid in users}
        in_scope = self._bulk("users") or self._bulk("roles")
        deleted = self._deleted("roles")
        deleted_keys = self._deleted_role_keys()
        # Out of scope, only the roles of the users it names, ends or deletes a role of
        # can change.
        touched = set(users.values()) if in_scope else (
            {key[0] for key in desired} | ended_users | {key[0] for key in deleted_keys}
        )  # fmt: skip
        existing = load_rows(
            RoleMembership.unscoped.filter(district=self.district, user_id__in=sorted(touched)),
            lambda row: (row["user_id"], row["role"], row["school_id"]),
            ["user_id", "role", "school_id", "begin_date", "end_date", "sourced_id"],
        )
        absent = [
            key
            for key, (_, row) in existing.items()
            if key not in desired
            and (in_scope or key[0] in ended_users or key in deleted_keys
                 or row["sourced_id"] in deleted)
            and _is_open(row["end_date"], self.ended_on)
        ]  # fmt: skip
        self._write_keyed("role_memberships", RoleMembership, desired, existing,
                          ("user_id", "role", "school_id"), absent)  # fmt: skip

    def _deleted_role_keys(self) -> set[tuple]:
        """The staff roles a delta's deleted roles rows name: (user, role, school)."""
        users, schools = self.ids["user"], self.ids["school"]
        district_sid = self.p.district_org[0] if self.p.district_org else None
        keys = set()
        for user, org, role in self.p.deleted_roles.values():
            at_district = org == district_sid
            role_name = (DISTRICT_ROLES if at_district else SCHOOL_ROLES).get(role)
            school = None if at_district else schools.get(_school(self.p, org))
            if user in users and role_name and (at_district or school):
                keys.add((users[user], role_name, school))
        return keys

    def _staff_roles(self) -> Iterable[tuple]:
        """(user, OneRoster role, school sid or "" for the district, begin, end, sourcedId)."""
        district_sid = self.p.district_org[0] if self.p.district_org else None
        if self.p.roles:
            for row in self.p.roles:
                if kind_of(row.role) == "staff":
                    yield row.user, row.role, row.org, row.begin, row.end, row.sourced_id
            return
        for sid, person in self.p.people.items():
            if kind_of(person.role) != "staff":
                continue
            for org in person.orgs:
                if org == district_sid:
                    yield sid, person.role, "", None, None, None
                elif org in self.ids["school"] or org in self.p.orgs:
                    yield sid, person.role, _school(self.p, org), None, None, None

    def school_memberships(self) -> None:
        students, schools = self.ids["student"], self.ids["school"]
        desired: dict[tuple, dict] = {}
        if self.p.roles:
            pairs = [
                (r.user, r.org, r.begin, r.end)
                for r in self.p.roles
                if r.role == "student" and r.org
            ]
        else:
            pairs = [
                (sid, _school(self.p, org), None, None)
                for sid, p in self.p.people.items()
                if p.role == "student"
                for org in p.orgs
                if org in self.p.orgs or org in schools
            ]
        for student_sid, org, begin, end in pairs:
            if student_sid in students and org in schools:
                key = (students[student_sid], schools[org])
                desired.setdefault(key, {"begin_date": begin, "end_date": end, "is_primary": True})
        # A delta's deleted roles rows: the student leaves the school they named.
        left = {
            (students[user], schools[_school(self.p, org)])
            for user, org, _ in self.p.deleted_roles.values()
            if user in students and _school(self.p, org) in schools
        }
        # Only the memberships of students it names, ends or takes out of a school change.
        touched = {key[0] for key in desired} | self.ended_students | self.present_students
        touched |= {student for student, _ in left}
        memberships = SchoolMembership.unscoped.filter(district=self.district)
        existing = load_rows(
            memberships.filter(student_id__in=sorted(touched)),
            lambda row: (row["student_id"], row["school_id"]),
            ["student_id", "school_id", "begin_date", "end_date", "is_primary"],
        )
        absent = [
            key
            for key, (_, row) in existing.items()
            if key not in desired
            and (key[0] in self.ended_students or key in left
                 or (self._bulk("users") and key[0] in self.present_students))
            and _is_open(row["end_date"], self.ended_on)
        ]  # fmt: skip
        self._write_keyed("school_memberships", SchoolMembership, desired, existing,
                          ("student_id", "school_id"), absent)  # fmt: skip

    def guardian_links(self) -> None:
        users, students = self.ids["user"], self.ids["student"]
        desired: dict[tuple, dict] = {}
        for sid, person in self.p.people.items():
            for agent in person.agents:
                if person.role == "student":
                    student_sid, guardian_sid = sid, agent
                else:
                    student_sid, guardian_sid = agent, sid
                guardian = self.p.people.get(guardian_sid)
                relationship = GUARDIAN_ROLES.get(guardian.role, "guardian") if guardian else None
                if student_sid in students and guardian_sid in users:
                    key = (users[guardian_sid], students[student_sid])
                    values = {"end_date": None}
                    if relationship:
                        values["relationship"] = relationship
                    desired.setdefault(key, values)
        present_users = {users[sid] for sid in self.p.people if sid in users}
        ended_users = {users[sid] for sid in self.ended_users if sid in users}
        # Only the links of guardians it names or ends (or, in bulk, lists) can change.
        touched = {key[0] for key in desired} | ended_users
        if self._bulk("users"):
            touched |= present_users
        existing = load_rows(
            GuardianLink.unscoped.filter(district=self.district, guardian_id__in=sorted(touched)),
            lambda row: (row["guardian_id"], row["student_id"]),
            ["guardian_id", "student_id", "relationship", "end_date"],
        )
        absent = [
            key
            for key, (_, row) in existing.items()
            if key not in desired
            and _is_open(row["end_date"], self.ended_on)
            and (
                key[0] in ended_users
                or (self._bulk("users") and key[0] in present_users
                    and key[1] in self.present_students)
            )
        ]  # fmt: skip
        for values in desired.values():
            values.setdefault("relationship", "guardian")
        self._write_keyed("guardian_links", GuardianLink, desired, existing,
                          ("guardian_id", "student_id"), absent)  # fmt: skip

    def enrollments(self) -> None:
        sections, students, users = self.ids["section"], self.ids["student"], self.ids["user"]
        rosters: dict[str, dict] = {}
        teachers: dict[str, dict] = {}
        for sid, e in self.p.enrollments.items():
            if e.section not in sections:
                continue
            dates = {"begin_date": e.begin, "end_date": e.end, "section_id": sections[e.section]}
            if e.role == "student" and e.user in students:
                rosters[sid] = {**dates, "student_id": students[e.user]}
            elif e.role == "teacher" and e.user in users:
                teachers[sid] = {**dates, "teacher_id": users[e.user], "is_primary": e.primary}
        self._sync_enrollment_like("enrollments", Enrollment, rosters, "student_id")
        self._sync_enrollment_like("section_teachers", SectionTeacher, teachers, "teacher_id")

    def _sync_enrollment_like(self, entity: str, model, desired: dict[str, dict], who: str):
        """Enrollments and section teachers: by sourcedId, ended when the roster drops them."""
        among = None
        if not self._bulk("enrollments"):
            # A delta touches only the rows it names or deletes, and those of its sections
            # (a row re-issued under a new sourcedId): not the district's every roster.
            sections = {values["section_id"] for values in desired.values()}
            among = Q(sourced_id__in=self._named("enrollments", desired)) | Q(
                section_id__in=sorted(sections)
            )
        existing = self._existing(
            model, ("sourced_id",), desired, extra=("section_id", who), among=among
        )
        by_pair = {(row["section_id"], row[who]): sid for sid, (_, row) in existing.items()}
        for sid, values in list(desired.items()):
            # A row re-issued under a new sourcedId takes over the old one.
            old = by_pair.get((values["section_id"], values[who]))
            if old and old != sid and old not in desired:
                pk, row = existing.pop(old)
                existing[sid] = (pk, {**row.as_dict(), "sourced_id": sid, "_renamed": True})
        deleted = self._deleted("enrollments")
        absent = [
            sid
            for sid, (_, row) in existing.items()
            if sid not in desired
            and (self._bulk("enrollments") or sid in deleted)
            and _is_open(row["end_date"], self.ended_on)
        ]
        self._write(entity, model, desired, existing, key_fields=("sourced_id",), ended=absent)

    def demographics(self) -> None:
        students = self.ids["student"]
        rows = {
            students[sid]: {"birth_date": d.birth_date, "sex": d.sex, **d.flags}
            for sid, d in self.p.demographics.items()
            if sid in students
        }
        if not rows:
            return
        fields = list(next(iter(rows.values())))
        current = {
            row.pop("id"): row
            for row in Student.unscoped.filter(district=self.district, pk__in=list(rows)).values(
                "id", *fields
            )
        }
        changed = [Student(pk=pk, **values) for pk, values in rows.items() if current[pk] != values]
        Student.unscoped.bulk_update(changed, _stamped(Student, changed, fields), batch_size=BATCH)
        self._count("demographics", 0, len(changed), 0, len(rows))

    def grades(self) -> None:
        if not self.p.results:
            return
        students, sections, sessions = self.ids["student"], self.ids["section"], self.ids["session"]
        scores: dict[tuple, list[float]] = defaultdict(list)
        for student, section, period, percent in self.p.results:
            if student in students and section in sections and period in sessions:
                scores[(students[student], sections[section], sessions[period])].append(percent)
        desired = {
            key: {"percent": Decimal(str(round(sum(v) / len(v), 2)))} for key, v in scores.items()
        }
        existing = load_rows(
            Grade.unscoped.filter(district=self.district),
            lambda row: (row["student_id"], row["section_id"], row["grading_period_id"]),
            ["student_id", "section_id", "grading_period_id", "percent"],
        )
        self._write_keyed("grades", Grade, desired, existing,
                          ("student_id", "section_id", "grading_period_id"), [])  # fmt: skip

    # -- set differences and bulk writes ----------------------------------------------

    def _existing(self, model, key_fields, desired, extra=(), among: Q | None = None) -> dict:
        """The district's rows of ``model`` by key (``among``: only those it picks)."""
        value_fields = list(next(iter(desired.values()), {}).keys())
        names = {*key_fields, *value_fields, *extra}
        if any(f.name == "end_date" for f in model._meta.fields):
            names.add("end_date")
        if model is Student:
            names.add("enrollment_status")
        names = sorted(names)
        rows = model.unscoped.filter(district=self.district, sourced_id__isnull=False)
        return load_rows(
            rows.filter(among) if among is not None else rows,
            lambda row: row[key_fields[0]],
            names,
        )

    def _named(self, name: str, desired: dict) -> list[str]:
        """The sourcedIds a delta file names: its rows and those it deletes."""
        return sorted(set(desired) | self._deleted(name))

    def _absent_or_deleted(self, name: str, existing: dict, desired: dict) -> list[str]:
        if self._bulk(name):
            return [sid for sid in existing if sid not in desired]
        return [sid for sid in self._deleted(name) if sid in existing]

    def _sync_by_sourced_id(self, entity, model, desired, defaults=None) -> None:
        existing = self._existing(model, ("sourced_id",), desired)
        self._write(entity, model, desired, existing, key_fields=("sourced_id",), defaults=defaults)

    def _write(self, entity, model, desired, existing, *, key_fields, ended=(), defaults=None):
        to_create, to_update, fields = [], [], set()
        for key, values in desired.items():
            found = existing.get(key)
            if found is None:
                to_create.append(
                    model(district=self.district, sourced_id=key, **(defaults or {}), **values)
                )
                continue
            pk, current = found
            changed = {f for f, v in values.items() if current.get(f) != v}
            if current.get("_renamed"):
                changed.add("sourced_id")
            if changed:
                to_update.append(model(pk=pk, district=self.district, sourced_id=key, **values))
                fields |= changed
        self._flush(entity, model, to_create, to_update, fields, ended_pks=[
            existing[k][0] for k in ended], total=len(desired))  # fmt: skip

    def _write_keyed(self, entity, model, desired, existing, key_names, ended_keys):
        to_create, to_update, fields = [], [], set()
        for key, values in desired.items():
            found = existing.get(key)
            identity = dict(zip(key_names, key, strict=True))
            if found is None:
                to_create.append(model(district=self.district, **identity, **values))
                continue
            pk, current = found
            changed = {f for f, v in values.items() if current.get(f) != v}
            if changed:
                to_update.append(model(pk=pk, district=self.district, **identity, **values))
                fields |= changed
        self._flush(entity, model, to_create, to_update, fields,
                    ended_pks=[existing[k][0] for k in ended_keys], total=len(desired))  # fmt: skip

    def _flush(self, entity, model, to_create, to_update, fields, *, ended_pks, total):
        manager = model.unscoped
        manager.bulk_create(to_create, batch_size=BATCH)
        stamped = _stamped(model, to_update, fields)
        if to_update:
            manager.bulk_update(to_update, sorted(stamped), batch_size=BATCH)
        ended = {"end_date": self.ended_on}
        if _has_updated_at(model):
            ended["updated_at"] = timezone.now()
        if ended_pks:
            for start in range(0, len(ended_pks), 10_000):
                manager.filter(district=self.district, pk__in=ended_pks[start : start + 10_000]
                               ).update(**ended)  # fmt: skip
        self._count(entity, len(to_create), len(to_update), len(ended_pks), total)

    def _count(self, entity, created, updated, ended, total) -> None:
        self.report.count(entity, "created", created)
        self.report.count(entity, "updated", updated)
        self.report.count(entity, "ended", ended)
        self.report.count(entity, "unchanged", max(total - created - updated, 0))


def _is_open(end_date: date | None, ended_on: date) -> bool:
    return end_date is None or end_date > ended_on


def _school(parsed: Parsed, org: str) -> str:
    return school_of(parsed, org)


def _nces_school_id(identifier: str) -> str:
    """An org identifier that is an NCES school id (12 digits); anything else is not kept."""
    return identifier if identifier.isdigit() and len(identifier) == 12 else ""


def _has_updated_at(model) -> bool:
    return any(field.name == "updated_at" for field in model._meta.concrete_fields)


def _stamped(model, rows, fields) -> set[str]:
    """The fields a bulk update writes, with ``updated_at`` (OneRoster's dateLastModified)
    set on each changed row: bulk updates do not run ``auto_now``."""
    if not rows or not _has_updated_at(model):
        return set(fields)
    now = timezone.now()
    for row in rows:
        row.updated_at = now
    return {*fields, "updated_at"}
