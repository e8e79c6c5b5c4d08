"""OneRoster JSON objects, built from the rows the scope gives and, for students, from
access's one projection: a student field appears only when ``project_students`` shows
it (its category granted, a directory field designated and not opted out of), a school
only when the grants cover it.

The builder also keeps what the page told of each student, read off the objects as
sent (after ``fields``): the categories of the student fields they carry, a user's
school, an enrollment's user, and what the list itself tells (``discloses``: a class's
students tell their enrollment). That, and nothing more, is the page's disclosure."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import quote

from django.db.models import Exists, F, FilteredRelation, OuterRef, Q

from access.categories import Category
from access.projection import RACE_FIELDS, project_students
from access.providers import ProviderScope
from access.scoping import Allowed
from records.oneroster_rest.fields import (
    CLASS,
    COURSE,
    DISTRICT,
    ENROLLMENT,
    RESOURCE_FIELDS,
    SCHOOL,
    SESSION,
    STUDENT,
    TEACHER,
    TEACHING,
    V1P1,
    V1P2,
    Context,
    fallback_sourced_id,
    sourced_id,
)

ROOTS = {V1P1: "/ims/oneroster/v1p1/", V1P2: "/ims/oneroster/rostering/v1p2/"}
COLLECTION_OF_TYPE = {
    "user": "users",
    "org": "orgs",
    "academicSession": "academicSessions",
    "course": "courses",
    "class": "classes",
}
RACE_NAMES = {
    "american_indian_or_alaska_native": "americanIndianOrAlaskaNative",
    "asian": "asian",
    "black_or_african_american": "blackOrAfricanAmerican",
    "native_hawaiian_or_pacific_islander": "nativeHawaiianOrOtherPacificIslander",
    "white": "white",
}
SEX_NAMES = {V1P2: {"F": "female", "M": "male", "X": "other", "": "unspecified"}}
SEX_NAMES[V1P1] = {"F": "female", "M": "male"}  # 1.1 knows only these two
# Per resource of student objects: the category each of its names carries.
FIELD_CATEGORIES = {
    resource: {spec.name: spec.category for spec in RESOURCE_FIELDS[resource] if spec.category}
    for resource in ("users", "demographics")
}


def timestamp(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds, as OneRoster's dateLastModified."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def flag(value: bool) -> str:
    return "true" if value else "false"


def only(obj: dict, selected: list[str] | None) -> dict:
    """``obj`` with only the ``fields`` the client selected (all without a selection)."""
    if selected is None:
        return obj
    return {name: obj[name] for name in selected if name in obj}


@dataclass
class Builder:
    """Builds one page's objects, and remembers which students' data it carried."""

    ctx: Context
    request: object
    demographics: bool = False  # the page is of demographics objects, not users
    selected: list[str] | None = None  # the ``fields`` parameter
    # What naming a student on this list tells of them (a class's roster: enrollment).
    discloses: frozenset[str] = frozenset()
    # Per student on the page: what the grants allow, and what the page carried.
    decisions: dict[int, Allowed] = field(default_factory=dict)
    carried: dict[int, set[str]] = field(default_factory=dict)
    _school_ids: dict[int, str] = field(default_factory=dict)
    _enrolled: dict[int, int] = field(default_factory=dict)  # enrollment pk -> student pk

    @property
    def scope(self) -> ProviderScope:
        return self.ctx.scope

    @property
    def version(self) -> str:
        return self.ctx.version

    def ref(self, kind: str, sourced: str) -> dict:
        path = f"{ROOTS[self.version]}{COLLECTION_OF_TYPE[kind]}/{quote(sourced, safe='')}"
        return {"href": self.request.build_absolute_uri(path), "sourcedId": sourced, "type": kind}

    def district_ref(self) -> dict:
        return self.ref("org", self.ctx.district_sourced_id)

    # Each joined table in the district too (DESIGN section 4): the shape Citus keeps on
    # one node (docs/scaling.md).
    def _joined_in_district(self, *relations: str) -> dict:
        return {f"{relation}__district_id": self.ctx.district.pk for relation in relations}

    def _in_district_join(self, relation: str) -> FilteredRelation:
        """A nullable relation, joined within the district in the join itself."""
        return FilteredRelation(
            relation, condition=Q(**{f"{relation}__district_id": self.ctx.district.pk})
        )

    @staticmethod
    def base(sourced: str, modified, status: str = "active") -> dict:
        return {"sourcedId": sourced, "status": status, "dateLastModified": timestamp(modified)}

    # Loading: one query (or a few) per kind of row on the page.

    def build(self, keys: list[tuple[str, int]]) -> list[dict]:
        """The objects of ``keys`` (kind, pk), in that order, with only the selected
        fields; what each tells of a student is noted as it goes out."""
        by_kind: dict[str, list[int]] = defaultdict(list)
        for kind, pk in keys:
            by_kind[kind].append(pk)
        built: dict[tuple[str, int], dict] = {}
        for kind, pks in by_kind.items():
            for pk, obj in self._loader(kind)(pks).items():
                built[(kind, pk)] = only(obj, self.selected)
                self._note(kind, pk, built[(kind, pk)])
        return [built[key] for key in keys if key in built]

    def disclosed(self) -> dict[int, Allowed]:
        """Per student the page told something of: what it told, within the grants."""
        return {
            pk: self.decisions[pk].narrowed(frozenset(categories))
            for pk, categories in self.carried.items()
            if categories and pk in self.decisions
        }

    def carry(self, student_id: int, categories: frozenset[str]) -> None:
        """Note that the page told ``categories`` of a student it did not list (the
        student whose classes it lists)."""
        if student_id not in self.decisions:
            students = self.scope.students(among=[student_id])
            self.decisions.update(self.scope.allowed(students))
        self.carried.setdefault(student_id, set()).update(categories)

    def _note(self, kind: str, pk: int, obj: dict) -> None:
        if kind == STUDENT:
            told = self._categories_in(obj) | self.discloses
            self.carried.setdefault(pk, set()).update(told)
        elif kind == ENROLLMENT and "user" in obj:
            self.carried.setdefault(self._enrolled[pk], set()).add(Category.ENROLLMENT)

    def _categories_in(self, obj: dict) -> set[str]:
        """The student data categories a user or demographics object, as sent, carries."""
        names = FIELD_CATEGORIES["demographics" if self.demographics else "users"]
        categories = {names[name] for name in obj if name in names}
        if self._names_a_school(obj):
            categories.add(Category.DIRECTORY)  # a student's school is directory data
        return categories

    def _names_a_school(self, obj: dict) -> bool:
        refs = [*obj.get("orgs", ()), *(role["org"] for role in obj.get("roles", ()))]
        if "primaryOrg" in obj:
            refs.append(obj["primaryOrg"])
        return any(ref["sourcedId"] != self.ctx.district_sourced_id for ref in refs)

    def _loader(self, kind: str):
        return {
            STUDENT: self._students,
            TEACHER: self._teachers,
            DISTRICT: self._districts,
            SCHOOL: self._schools,
            SESSION: self._sessions,
            COURSE: self._courses,
            CLASS: self._classes,
            ENROLLMENT: self._enrollments,
            TEACHING: self._teachings,
        }[kind]

    def _students(self, pks: list[int]) -> dict[int, dict]:
        rows = list(self.scope.students(among=pks))
        allowed = self.scope.allowed(rows)
        self.decisions.update(allowed)
        # Project only what these objects can carry (no enrollment counts, say).
        names = FIELD_CATEGORIES["demographics" if self.demographics else "users"]
        carried = frozenset(names.values()) | {Category.DIRECTORY}
        shown = {pk: decision.narrowed(carried) for pk, decision in allowed.items()}
        projected = project_students(self.scope.viewer, rows, shown)
        updated = {row.pk: row.updated_at for row in rows}
        self._school_ids = self._school_sourced_ids(projected)
        make = self._demographics_object if self.demographics else self._student_object
        return {item["id"]: make(item, updated[item["id"]]) for item in projected}

    def _school_sourced_ids(self, projected: list[dict]) -> dict[int, str]:
        """The sourcedIds of the schools the projection shows (it carries their ids),
        among those the grants cover: no other school is ever named."""
        ids = {
            school["id"]
            for item in projected
            for school in item.get(Category.DIRECTORY, {}).get("schools", [])
        }
        if not ids:
            return {}
        rows = self.scope.schools().filter(pk__in=ids).only("sourced_id")
        return {school.pk: fallback_sourced_id(school, "school") for school in rows}

    def _student_object(self, item: dict, modified) -> dict:
        obj = self.base(item["sourced_id"], modified)
        obj["username"] = ""  # students hold no username this service may release
        obj["enabledUser"] = "true"
        directory = item.get(Category.DIRECTORY, {})
        for key, name in (
            ("given_name", "givenName"),
            ("family_name", "familyName"),
            ("middle_name", "middleName"),
        ):
            if key in directory:
                obj[name] = directory[key]
        if self.version == V1P2 and "preferred_name" in directory:
            obj["preferredFirstName"] = directory["preferred_name"]
        if "grade_level" in directory:
            obj["grades"] = [directory["grade_level"]] if directory["grade_level"] else []
        schools = [
            self.ref("org", self._school_ids[school["id"]])
            for school in directory.get("schools", [])
            if school["id"] in self._school_ids
        ]
        self._roles(obj, "student", schools)
        contact = item.get(Category.CONTACT)
        if contact is not None:
            obj["email"] = contact["email"]
            obj["phone"] = contact["phone"]
        identifiers = item.get(Category.IDENTIFIERS)
        if identifiers is not None:
            obj["identifier"] = identifiers["local_id"]
            obj["userIds"] = [
                {"type": kind, "identifier": identifiers[key]}
                for key, kind in (("state_id", "stateId"), ("local_id", "localId"))
                if identifiers[key]
            ]
        return obj

    def _roles(self, obj: dict, role: str, orgs: list[dict]) -> None:
        """1.1: ``role`` and ``orgs``; 1.2: ``roles`` (at least one) and ``primaryOrg``.
        With no school the provider may see, the district is the user's org."""
        orgs = orgs or [self.district_ref()]
        if self.version == V1P1:
            obj["role"] = role
            obj["orgs"] = orgs
        else:
            obj["roles"] = [
                {"roleType": "primary" if i == 0 else "secondary", "role": role, "org": org}
                for i, org in enumerate(orgs)
            ]
            obj["primaryOrg"] = orgs[0]

    def _demographics_object(self, item: dict, modified) -> dict:
        obj = self.base(item["sourced_id"], modified)
        shown = item.get(Category.DEMOGRAPHICS)
        if shown is None:
            return obj
        obj["birthDate"] = day(shown["birth_date"])
        sex = SEX_NAMES[self.version].get(shown["sex"])
        if sex is not None:
            obj["sex"] = sex
        races = set(shown["races"])
        for key in RACE_FIELDS:
            obj[RACE_NAMES[key]] = flag(key in races)
        obj["demographicRaceTwoOrMoreRaces"] = flag(len(races) > 1)
        obj["hispanicOrLatinoEthnicity"] = flag(shown["hispanic_or_latino"])
        return obj

    def _teachers(self, pks: list[int]) -> dict[int, dict]:
        schools: dict[int, list[str]] = defaultdict(list)
        places = (
            self.scope.teaching()
            .filter(teacher_id__in=pks)
            .filter(**self._joined_in_district("section", "section__school"))
            .annotate(or_school=sourced_id("section__school__", "school"))
            .order_by("teacher_id", "-is_primary", "or_school")
            .values_list("teacher_id", "or_school")
            .distinct()
        )
        for teacher_id, school in places:
            if school not in schools[teacher_id]:
                schools[teacher_id].append(school)
        objects = {}
        for user in self.scope.teachers().filter(pk__in=pks):
            obj = self.base(fallback_sourced_id(user, "user"), user.updated_at)
            obj.update(
                username=user.username,
                enabledUser=flag(user.is_active),
                givenName=user.first_name,
                familyName=user.last_name,
                email=user.email,
                phone=user.phone,
            )
            self._roles(obj, "teacher", [self.ref("org", s) for s in schools[user.pk]])
            objects[user.pk] = obj
        return objects

    def _districts(self, pks: list[int]) -> dict[int, dict]:
        district = self.ctx.district
        obj = self.base(self.ctx.district_sourced_id, district.created_at)
        obj.update(name=district.name, type="district", identifier=district.nces_id)
        return {district.pk: obj}

    def _schools(self, pks: list[int]) -> dict[int, dict]:
        objects = {}
        for school in self.scope.schools().filter(pk__in=pks):
            obj = self.base(fallback_sourced_id(school, "school"), school.updated_at)
            obj.update(
                name=school.name,
                type="school",
                identifier=school.nces_id,
                parent=self.district_ref(),
            )
            objects[school.pk] = obj
        return objects

    def _sessions(self, pks: list[int]) -> dict[int, dict]:
        objects = {}
        rows = (
            self.scope.academic_sessions()
            .filter(pk__in=pks)
            .annotate(district_parent=self._in_district_join("parent"))
            .select_related("district_parent")
        )
        for session in rows:
            obj = self.base(fallback_sourced_id(session, "session"), session.updated_at)
            obj.update(
                title=session.title,
                type=session.kind,
                startDate=day(session.start_date),
                endDate=day(session.end_date),
                schoolYear=str(session.school_year),
            )
            parent = getattr(session, "district_parent", None)  # unset when there is none
            if parent is not None:
                obj["parent"] = self.ref("academicSession", fallback_sourced_id(parent, "session"))
            objects[session.pk] = obj
        return objects

    def _courses(self, pks: list[int]) -> dict[int, dict]:
        objects = {}
        granted = self.scope.schools().filter(pk=OuterRef("school_id"))
        rows = (
            self.scope.courses()
            .filter(pk__in=pks)
            .annotate(district_school=self._in_district_join("school"))
            .select_related("district_school")
            .annotate(or_school_granted=Exists(granted))
        )
        for course in rows:
            obj = self.base(fallback_sourced_id(course, "course"), course.updated_at)
            # A course of a school outside the grants names the district, never that school.
            school = getattr(course, "district_school", None)  # unset when there is none
            org = (
                self.ref("org", fallback_sourced_id(school, "school"))
                if school is not None and course.or_school_granted
                else self.district_ref()
            )
            obj.update(
                title=course.title,
                courseCode=course.code,
                subjects=[course.subject] if course.subject else [],
                org=org,
            )
            objects[course.pk] = obj
        return objects

    def _classes(self, pks: list[int]) -> dict[int, dict]:
        objects = {}
        rows = (
            self.scope.sections()
            .filter(pk__in=pks, **self._joined_in_district("school", "course", "term"))
            .select_related("school", "course", "term")
        )
        for section in rows:
            obj = self.base(fallback_sourced_id(section, "class"), section.updated_at)
            obj.update(
                title=section.title,
                classType="scheduled",
                location=section.room,
                periods=[section.period] if section.period else [],
                course=self.ref("course", fallback_sourced_id(section.course, "course")),
                school=self.ref("org", fallback_sourced_id(section.school, "school")),
                terms=[self.ref("academicSession", fallback_sourced_id(section.term, "session"))],
            )
            objects[section.pk] = obj
        return objects

    def _enrollment_object(self, row, label: str, role: str, user: str, primary: bool) -> dict:
        status = "tobedeleted" if row.end_date and row.end_date < self.ctx.today else "active"
        obj = self.base(fallback_sourced_id(row, label), row.updated_at, status)
        obj.update(
            role=role,
            primary=flag(primary),
            user=self.ref("user", user),
            **{"class": self.ref("class", fallback_sourced_id(row.section, "class"))},
            school=self.ref("org", fallback_sourced_id(row.section.school, "school")),
        )
        if row.begin_date:
            obj["beginDate"] = day(row.begin_date)
        if row.end_date:
            obj["endDate"] = day(row.end_date)
        return obj

    def _enrollments(self, pks: list[int]) -> dict[int, dict]:
        rows = list(
            self.scope.enrollments()
            .filter(pk__in=pks, **self._joined_in_district("section", "section__school", "student"))
            .select_related("section__school")
            .annotate(or_user=F("student__sourced_id"))
        )
        # An enrollment's user is its student's sourcedId: a disclosure of their enrollment.
        students = self.scope.students(among=sorted({row.student_id for row in rows}))
        self.decisions.update(self.scope.allowed(students))
        self._enrolled.update({row.pk: row.student_id for row in rows})
        return {
            row.pk: self._enrollment_object(row, "enrollment", "student", row.or_user, False)
            for row in rows
        }

    def _teachings(self, pks: list[int]) -> dict[int, dict]:
        rows = (
            self.scope.teaching()
            .filter(pk__in=pks, **self._joined_in_district("section", "section__school"))
            .select_related("section__school")
            .annotate(or_user=sourced_id("teacher__", "user"))
        )
        return {
            row.pk: self._enrollment_object(row, "teaching", "teacher", row.or_user, row.is_primary)
            for row in rows
        }
