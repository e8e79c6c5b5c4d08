"""From a read bundle to the entities it describes, checked and cross-referenced.

Errors (a value that does not parse, an unknown enum value, a duplicate sourcedId)
reject the run. A reference to something neither in the bundle nor already in the
district (an enrollment for an unknown user, a class of an unknown course) skips
that row with a warning, as does a row the standard forbids (a teacher given as a
student's agent).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from records.importers.oneroster import spec
from records.importers.oneroster.bundle import Bundle, Table
from records.importers.oneroster.rows import RowReader
from records.importers.report import ImportReport

GUARDIAN_ROLES = {"parent": "parent", "guardian": "guardian", "relative": "other"}
# OneRoster role -> studentdata staff role, for roles that carry access.
SCHOOL_ROLES = {
    "teacher": "teacher",
    "administrator": "school_admin",
    "siteAdministrator": "school_admin",
    "principal": "principal",
    "counselor": "counselor",
}
DISTRICT_ROLES = {"districtAdministrator": "district_admin", "administrator": "district_admin"}
NO_ACCESS_ROLES = ("aide", "proctor", "systemAdministrator")


@dataclass(slots=True)
class Org:
    line: int
    kind: str
    name: str
    identifier: str
    parent: str


@dataclass(slots=True)
class Session:
    title: str
    kind: str
    start: date
    end: date
    parent: str
    school_year: int


@dataclass(slots=True)
class Course:
    title: str
    code: str
    org: str
    subject: str


@dataclass(slots=True)
class Class:
    title: str
    course: str
    school: str
    term: str
    period: str
    room: str = ""  # OneRoster "location"


@dataclass(slots=True)
class Person:
    line: int
    username: str
    given_name: str
    middle_name: str
    family_name: str
    preferred_name: str
    email: str
    phone: str
    enabled: bool
    role: str  # the primary OneRoster role ("" when none is known)
    orgs: list[str]
    agents: list[str]
    grade: str


@dataclass(slots=True)
class RoleRow:
    sourced_id: str
    user: str
    role: str
    org: str
    begin: date | None
    end: date | None


@dataclass(slots=True)
class EnrollmentRow:
    line: int
    section: str
    user: str
    role: str
    primary: bool
    begin: date | None
    end: date | None


@dataclass(slots=True)
class Demographics:
    birth_date: date | None
    sex: str
    flags: dict[str, bool]


@dataclass
class Parsed:
    """What the bundle says, per entity: present rows, and sourcedIds to end (delta)."""

    version: str
    modes: dict[str, str]
    district_org: tuple[str, Org] | None = None
    orgs: dict[str, Org] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    courses: dict[str, Course] = field(default_factory=dict)
    classes: dict[str, Class] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)
    roles: list[RoleRow] = field(default_factory=list)
    enrollments: dict[str, EnrollmentRow] = field(default_factory=dict)
    demographics: dict[str, Demographics] = field(default_factory=dict)
    results: list[tuple[str, str, str, float]] = field(default_factory=list)
    deleted: dict[str, set[str]] = field(default_factory=dict)
    # A delta's deleted roles rows: (user, org, role) by sourcedId. A student's school
    # membership keeps no roles sourcedId (nor does a role from a 1.1 users.csv), so
    # ending it needs what the row named.
    deleted_roles: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def mode(self, name: str) -> str | None:
        return self.modes.get(name)


# The columns whose values parsing looks up among what the district already holds
# (``Known``), by file; a column named ``…SourcedIds`` holds a list.
REFERENCE_COLUMNS = {
    "academicSessions": ("parentSourcedId",),
    "courses": ("orgSourcedId",),
    "classes": ("courseSourcedId", "schoolSourcedId", "termSourcedIds"),
    "roles": ("userSourcedId", "orgSourcedId"),
    "users": ("agentSourcedIds",),
    "enrollments": ("classSourcedId", "userSourcedId"),
    "lineItems": ("classSourcedId", "gradingPeriodSourcedId"),
    "results": ("studentSourcedId",),
    "demographics": ("sourcedId",),
}


@dataclass
class Known:
    """sourcedIds already in the district, so a delta may refer to them."""

    schools: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    courses: set[str] = field(default_factory=set)
    sections: set[str] = field(default_factory=set)
    students: set[str] = field(default_factory=set)
    users: set[str] = field(default_factory=set)  # every user, students included
    staff: set[str] = field(default_factory=set)  # users holding a staff role


def _rows(
    table: Table | None,
    report: ImportReport,
    parsed: Parsed,
    name: str,
    deleted: dict[str, tuple[str, ...]] | None = None,
    deleted_columns: tuple[str, ...] = (),
):
    """Yield a RowReader per row to apply; handles status and duplicate sourcedIds. A
    delta's deleted row is recorded by sourcedId, and in ``deleted`` with its values of
    ``deleted_columns``."""
    if table is None:
        return
    seen: dict[str, int] = {}
    for row in table.rows(report):
        reader = RowReader(table, row, report)
        key = row.get("sourcedId")
        if key:
            if key in seen:
                reader._error(
                    "sourcedId", f"duplicate sourcedId {key!r} (first on line {seen[key]})"
                )
                continue
            seen[key] = row.line
        status = reader.choice("status", spec.STATUS, required=False, default="active")
        if status == "tobedeleted":
            if table.mode == "bulk":
                reader.warn(
                    "status",
                    f"{row.get('status')!r} in a bulk file: the row is left out, so its "
                    "record is ended like any record missing from a bulk file",
                )
            else:
                parsed.deleted.setdefault(name, set()).add(key)
                if deleted is not None:
                    deleted[key] = tuple((row.get(column) or "").strip()
                                         for column in deleted_columns)  # fmt: skip
            continue
        yield reader


def parse_bundle(bundle: Bundle, known: Known, report: ImportReport) -> Parsed:
    parsed = Parsed(version=bundle.version, modes={n: t.mode for n, t in bundle.tables.items()})
    _parse_orgs(bundle, parsed, report)
    _parse_sessions(bundle, parsed, known, report)
    _parse_courses(bundle, parsed, known, report)
    _parse_classes(bundle, parsed, known, report)
    _parse_users(bundle, parsed, report)
    _parse_roles(bundle, parsed, known, report)
    _check_agents(bundle, parsed, known, report)
    _parse_demographics(bundle, parsed, known, report)
    _parse_enrollments(bundle, parsed, known, report)
    _parse_gradebook(bundle, parsed, known, report)
    return parsed


def _parse_orgs(bundle: Bundle, parsed: Parsed, report: ImportReport) -> None:
    table = bundle.table("orgs")
    for r in _rows(table, report, parsed, "orgs"):
        sid = r.text("sourcedId", required=True)
        org = Org(
            line=r.row.line,
            kind=r.choice("type", spec.ORG_TYPES),
            name=r.text("name", required=True),
            identifier=r.text("identifier"),
            parent=r.text("parentSourcedId"),
        )
        if not r.ok:
            continue
        if org.kind == "district":
            if parsed.district_org is not None:
                r.warn("type", "a second district org: a bundle is for one district; ignored")
                continue
            parsed.district_org = (sid, org)
        elif org.kind in ("school", "department"):
            parsed.orgs[sid] = org
        else:
            r.warn("type", f"{org.kind} orgs are not imported (a bundle is for one district)")
    if table is None:
        return
    district_sid = parsed.district_org[0] if parsed.district_org else None
    for sid, org in parsed.orgs.items():
        parent_known = org.parent in parsed.orgs or org.parent == district_sid
        if org.parent and not parent_known:
            report.warning(
                table.file,
                org.line,
                table.column("parentSourcedId"),
                "parentSourcedId",
                message=f"parent org {org.parent!r} is not in orgs.csv: {sid!r} is placed "
                "directly under the district",
            )
            org.parent = ""
        if org.kind == "department" and org.parent not in parsed.orgs:
            report.warning(
                table.file,
                org.line,
                table.column("type"),
                "type",
                message=f"department {sid!r} has no school above it: imported as a school",
            )


def school_of(parsed: Parsed, org_sid: str) -> str:
    """The school an org stands for: a department counts as the school above it."""
    org = parsed.orgs.get(org_sid)
    if org is not None and org.kind == "department" and org.parent in parsed.orgs:
        return org.parent
    return org_sid


def _dangling(r: RowReader, column: str, kind: str, sid: str) -> None:
    r.warn(column, f"{kind} {sid!r} is neither in this bundle nor in the district: row skipped")


def _parse_sessions(bundle, parsed: Parsed, known: Known, report) -> None:
    table = bundle.table("academicSessions")
    pending = []
    for r in _rows(table, report, parsed, "academicSessions"):
        sid = r.text("sourcedId", required=True)
        session = Session(
            title=r.text("title", required=True),
            kind=r.choice("type", spec.SESSION_TYPES),
            start=r.day("startDate", required=True),
            end=r.day("endDate", required=True),
            parent=r.text("parentSourcedId"),
            school_year=r.year("schoolYear"),
        )
        if r.ok and session.end < session.start:
            r._error("endDate", "ends before it starts")
        if r.ok:
            parsed.sessions[sid] = session
            pending.append((r, sid, session))
    for r, _sid, session in pending:
        if (
            session.parent
            and session.parent not in parsed.sessions
            and (session.parent not in known.sessions)
        ):
            r.warn(
                "parentSourcedId",
                f"parent session {session.parent!r} is not in the bundle or the district: "
                "imported without a parent",
            )
            session.parent = ""


def _parse_courses(bundle, parsed: Parsed, known: Known, report) -> None:
    district_sid = parsed.district_org[0] if parsed.district_org else None
    for r in _rows(bundle.table("courses"), report, parsed, "courses"):
        sid = r.text("sourcedId", required=True)
        course = Course(
            title=r.text("title", required=True),
            code=r.text("courseCode"),
            org=r.text("orgSourcedId", required=True),
            subject=r.text("subjects")[:100],
        )
        if not r.ok:
            continue
        if course.org == district_sid:
            course.org = ""
        elif course.org in parsed.orgs or course.org in known.schools:
            course.org = school_of(parsed, course.org)
        else:
            _dangling(r, "orgSourcedId", "org", course.org)
            continue
        parsed.courses[sid] = course


def _parse_classes(bundle, parsed: Parsed, known: Known, report) -> None:
    for r in _rows(bundle.table("classes"), report, parsed, "classes"):
        sid = r.text("sourcedId", required=True)
        title = r.text("title", required=True)
        course = r.text("courseSourcedId", required=True)
        r.choice("classType", spec.CLASS_TYPES)
        school = r.text("schoolSourcedId", required=True)
        terms = r.id_list("termSourcedIds")
        if not terms:
            r._error("termSourcedIds", "a class needs at least one term")
        if not r.ok:
            continue
        if course not in parsed.courses and course not in known.courses:
            _dangling(r, "courseSourcedId", "course", course)
            continue
        if school not in parsed.orgs and school not in known.schools:
            _dangling(r, "schoolSourcedId", "school", school)
            continue
        usable = [t for t in terms if t in parsed.sessions or t in known.sessions]
        if not usable:
            _dangling(r, "termSourcedIds", "term", terms[0])
            continue
        parsed.classes[sid] = Class(
            title=title,
            course=course,
            school=school_of(parsed, school),
            term=usable[0],
            period=r.text("periods")[:32],
            room=r.text("location")[:64],
        )


def _grade(r: RowReader) -> str:
    grades = r.id_list("grades")
    if not grades:
        return ""
    mapping = {g: g for g in spec.GRADES}
    mapping.update({str(int(g)): g for g in spec.GRADES if g.isdigit()})  # "9" for "09"
    value = mapping.get(grades[0]) or {k.lower(): v for k, v in mapping.items()}.get(
        grades[0].lower()
    )
    if value is None:
        r._error(
            "grades", f"unknown grade {grades[0]!r}; expected one of: {', '.join(spec.GRADES)}"
        )
        return ""
    return value


def _parse_users(bundle, parsed: Parsed, report) -> None:
    roles = spec.ROLES_11 if bundle.version != "1.2" else spec.ROLES_12
    usernames: dict[str, int] = {}
    for r in _rows(bundle.table("users"), report, parsed, "users"):
        sid = r.text("sourcedId", required=True)
        role = ""
        if bundle.version != "1.2" or r.text("role"):
            role = r.choice("role", roles)
        username = r.text("username", required=True)
        if username and username in usernames:
            r._error(
                "username", f"username {username!r} is already used on line {usernames[username]}"
            )
        usernames.setdefault(username, r.row.line)
        person = Person(
            line=r.row.line,
            username=username[:150],
            given_name=r.text("givenName", required=True)[:100],
            middle_name=r.text("middleName")[:100],
            family_name=r.text("familyName", required=True)[:100],
            preferred_name=r.text("preferredGivenName")[:100],
            email=r.text("email")[:254],
            phone=(r.text("phone") or r.text("sms"))[:32],
            enabled=r.boolean("enabledUser", default=True),
            role=role,
            orgs=r.id_list("orgSourcedIds")
            or ([r.text("primaryOrgSourcedId")] if r.text("primaryOrgSourcedId") else []),
            agents=r.id_list("agentSourcedIds"),
            grade=_grade(r),
        )
        if r.ok:
            parsed.people[sid] = person


def _parse_roles(bundle, parsed: Parsed, known: Known, report) -> None:
    """OneRoster 1.2: who holds which role where; a user's primary role decides their kind."""
    primary: dict[str, str] = {}
    deleted = parsed.deleted_roles
    columns = ("userSourcedId", "orgSourcedId", "role")
    for r in _rows(bundle.table("roles"), report, parsed, "roles", deleted, columns):
        sid = r.text("sourcedId", required=True)
        row = RoleRow(
            sourced_id=sid,
            user=r.text("userSourcedId", required=True),
            role=r.choice("role", spec.ROLES_12),
            org=r.text("orgSourcedId", required=True),
            begin=r.day("beginDate"),
            end=r.day("endDate"),
        )
        role_type = r.choice("roleType", spec.ROLE_TYPES)
        if not r.ok:
            continue
        if row.user not in parsed.people and row.user not in known.users:
            _dangling(r, "userSourcedId", "user", row.user)
            continue
        district_sid = parsed.district_org[0] if parsed.district_org else None
        if row.org != district_sid and row.org not in parsed.orgs and row.org not in known.schools:
            _dangling(r, "orgSourcedId", "org", row.org)
            continue
        row.org = "" if row.org == district_sid else school_of(parsed, row.org)
        parsed.roles.append(row)
        if role_type == "primary":
            primary[row.user] = row.role
        else:
            primary.setdefault(row.user, row.role)
    for sid, person in parsed.people.items():
        if not person.role:
            person.role = primary.get(sid, "")


def kind_of(role: str) -> str:
    if role == "student":
        return "student"
    if role in GUARDIAN_ROLES:
        return "guardian"
    return "staff" if role else "none"


def _check_agents(bundle, parsed: Parsed, known: Known, report) -> None:
    """agentSourcedIds, read in either direction; only guardian↔student pairs become links."""
    table = bundle.table("users")
    if table is None:
        return
    for sid, person in parsed.people.items():
        kind = kind_of(person.role)
        kept = []
        for agent in person.agents:
            other = parsed.people.get(agent)
            if other is None and agent not in known.users:
                report.warning(
                    table.file, person.line, table.column("agentSourcedIds"), "agentSourcedIds",
                    message=f"agent {agent!r} is neither in this bundle nor in the district: "
                    "link skipped",
                )  # fmt: skip
                continue
            if other is not None:
                other_kind = kind_of(other.role)
            elif agent in known.students:
                other_kind = "student"
            else:
                other_kind = "staff" if agent in known.staff else "guardian"
            pair = {kind, other_kind}
            if pair == {"student", "guardian"}:
                kept.append(agent)
                continue
            who = f"{other.role or 'user'} {agent!r}" if other else f"user {agent!r}"
            refused = (
                f"{who} is given as an agent of student {sid!r}: refused, a student's agents "
                "must be parents, guardians or relatives"
                if kind == "student"
                else f"{who} is given as an agent of {person.role or 'user'} {sid!r}: refused, "
                "agent links join a student and a parent, guardian or relative"
            )
            report.warning(
                table.file, person.line, table.column("agentSourcedIds"), "agentSourcedIds",
                message=refused,
            )  # fmt: skip
        person.agents = kept
    counts = Counter(p.role for p in parsed.people.values() if p.role in NO_ACCESS_ROLES)
    for role, n in sorted(counts.items()):
        report.warning(table.file, message=f"{n} user(s) with role {role!r}: imported as "
                       "accounts without access to student data")  # fmt: skip


def _parse_demographics(bundle, parsed: Parsed, known: Known, report) -> None:
    flags = {
        "americanIndianOrAlaskaNative": "american_indian_or_alaska_native",
        "asian": "asian",
        "blackOrAfricanAmerican": "black_or_african_american",
        "nativeHawaiianOrOtherPacificIslander": "native_hawaiian_or_pacific_islander",
        "white": "white",
        "hispanicOrLatinoEthnicity": "hispanic_or_latino",
    }
    for r in _rows(bundle.table("demographics"), report, parsed, "demographics"):
        sid = r.text("sourcedId", required=True)
        values = Demographics(
            birth_date=r.day("birthDate"),
            sex=r.choice("sex", spec.SEX, required=False),
            flags={field_name: r.boolean(column) for column, field_name in flags.items()},
        )
        if not r.ok:
            continue
        person = parsed.people.get(sid)
        is_student = (person and person.role == "student") or (
            person is None and sid in known.students
        )
        if not is_student:
            if person is None and sid not in known.users:
                _dangling(r, "sourcedId", "user", sid)
            else:
                r.warn("sourcedId", f"{sid!r} is not a student: demographics skipped")
            continue
        parsed.demographics[sid] = values


def _parse_enrollments(bundle, parsed: Parsed, known: Known, report) -> None:
    # A person is enrolled in a class once: two rows for one pair (under two sourcedIds)
    # leave no way to tell which one the district means.
    first_line: dict[tuple[str, str], int] = {}
    for r in _rows(bundle.table("enrollments"), report, parsed, "enrollments"):
        sid = r.text("sourcedId", required=True)
        row = EnrollmentRow(
            line=r.row.line,
            section=r.text("classSourcedId", required=True),
            user=r.text("userSourcedId", required=True),
            role=r.choice("role", spec.ENROLLMENT_ROLES),
            primary=r.boolean("primary"),
            begin=r.day("beginDate"),
            end=r.day("endDate"),
        )
        r.text("schoolSourcedId", required=True)
        if not r.ok:
            continue
        pair = (row.section, row.user)
        if pair in first_line:
            r._error("userSourcedId", f"{row.user!r} is enrolled in class {row.section!r} "
                     f"twice (first on line {first_line[pair]})")  # fmt: skip
            continue
        first_line[pair] = row.line
        if row.section not in parsed.classes and row.section not in known.sections:
            _dangling(r, "classSourcedId", "class", row.section)
            continue
        person = parsed.people.get(row.user)
        if person is None and row.user not in known.users:
            _dangling(r, "userSourcedId", "user", row.user)
            continue
        is_student = (person.role == "student") if person else row.user in known.students
        if row.role == "student" and not is_student:
            r.warn("role", f"{row.user!r} is enrolled as a student but is not one: row skipped")
            continue
        if row.role == "teacher" and is_student:
            r.warn("role", f"student {row.user!r} is enrolled as a teacher: row skipped")
            continue
        if row.role not in ("student", "teacher"):
            r.warn("role", f"{row.role} enrollments carry no access here: row skipped")
            continue
        parsed.enrollments[sid] = row


def _parse_gradebook(bundle, parsed: Parsed, known: Known, report) -> None:
    """results → marks per student, class and grading period (lineItems say which)."""
    line_items: dict[str, tuple[str, str, float | None]] = {}
    for r in _rows(bundle.table("lineItems"), report, parsed, "lineItems"):
        sid = r.text("sourcedId", required=True)
        section = r.text("classSourcedId", required=True)
        period = r.text("gradingPeriodSourcedId", required=True)
        maximum = r.number("resultValueMax")
        if not r.ok:
            continue
        if section not in parsed.classes and section not in known.sections:
            _dangling(r, "classSourcedId", "class", section)
            continue
        if period not in parsed.sessions and period not in known.sessions:
            _dangling(r, "gradingPeriodSourcedId", "grading period", period)
            continue
        line_items[sid] = (section, period, float(maximum) if maximum else None)
    for r in _rows(bundle.table("results"), report, parsed, "results"):
        item = r.text("lineItemSourcedId", required=True)
        student = r.text("studentSourcedId", required=True)
        score = r.number("score")
        if not r.ok or score is None:
            continue
        if item not in line_items:
            _dangling(r, "lineItemSourcedId", "line item", item)
            continue
        person = parsed.people.get(student)
        if not ((person and person.role == "student") or student in known.students):
            _dangling(r, "studentSourcedId", "student", student)
            continue
        section, period, maximum = line_items[item]
        percent = float(score) * 100 / maximum if maximum else float(score)
        parsed.results.append((student, section, period, percent))
