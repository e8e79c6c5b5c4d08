"""One table, every surface that shows students: reader → students → categories.

The table (``READERS``) says, for every kind of reader, exactly which students they
reach and which categories of each they may see once a purpose is declared. Each
test below is one surface (the students API, the staff student page, the family
pages, a teacher's roster and its CSV, the school list and its filters, the school's
sections, the request queues, "who can see"), parametrized by reader, driven through
the Django test client as a user would, and asserting exact sets (``==``), never
containment. The world is in tests/access/surface_world.py.

The rules are spelled out here, not imported from access/policy: the test must not
agree with a bug. Three of them are new and may not be implemented yet:

- RULE 1: a custody restriction scoped to ``contact`` also hides ``transportation``
  (a bus stop and pickup times tell where the child is).
- RULE 2: the students API applies the declared-purpose rule: for staff routes
  (teacher, substitute, school staff, district admin) programs, health and discipline
  are absent unless the request passes ``?purpose=`` with a key of the staff page's
  vocabulary (``other`` needs ``purpose_detail``). Family routes and emergency access
  are exempt.
- RULE 3: the request queues read students through the same decision as every page:
  a principal who is the restricted (scope ``all``) parent of a child at their school
  does not see that child's requests.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from http.cookies import SimpleCookie

import pytest
from django.db import transaction
from django.test import Client

from records.views.family import CATEGORY_NAMES  # labels only, to read the readers page
from tests.access.surface_world import ATTENDANCE, GRADES, PROGRAMS, build_surface_world
from tests.access.test_matrix import ALL_BUT_HEALTH, ALL_CATEGORIES, SENSITIVE

# --- The rules -------------------------------------------------------------------------

# Spelled out once for every access test (tests/access/test_matrix.py), never from access/.
ALL = ALL_CATEGORIES
TEACHER = frozenset(
    {"directory", "contact", "enrollment", "attendance", "grades", "assessments", "programs"}
)
EMERGENCY = frozenset(
    {"directory", "contact", "enrollment", "attendance", "health", "programs", "transportation"}
)
CONTACT_RESTRICTED = ALL - {"contact", "transportation"}  # RULE 1
TEACHER_PROGRAMS = frozenset({"iep", "section_504", "english_learner"})


@dataclass(frozen=True)
class Reader:
    """``route``: ``staff`` (declared-purpose rule applies), ``emergency`` or ``family``
    (exempt), ``none``. ``sees``: student → categories, with a purpose declared.
    ``programs``: the program kinds they see (``None``: every kind)."""

    route: str
    sees: dict[str, frozenset[str]]
    programs: frozenset[str] | None = None


def a(**students) -> dict[str, frozenset[str]]:
    return {f"a.{name}": cats for name, cats in students.items()}


def b(**students) -> dict[str, frozenset[str]]:
    return {f"b.{name}": cats for name, cats in students.items()}


SCHOOL1 = ("own", "schoolmate", "adult")
A_ALL = ("own", "schoolmate", "elsewhere", "adult", "dependent")
B_ALL = ("own", "schoolmate", "elsewhere", "adult")

# fmt: off
READERS: dict[str, Reader] = {
    # Staff routes.
    "teacher":            Reader("staff", a(own=TEACHER, adult=TEACHER), TEACHER_PROGRAMS),
    "substitute":         Reader("staff", a(own=TEACHER, adult=TEACHER), TEACHER_PROGRAMS),
    "substitute_ended":   Reader("staff", {}),
    "principal":          Reader("staff", a(**dict.fromkeys(SCHOOL1, ALL_BUT_HEALTH))),
    "school_admin":       Reader("staff", a(**dict.fromkeys(SCHOOL1, ALL_BUT_HEALTH))),
    "counselor":          Reader("staff", a(**dict.fromkeys(SCHOOL1, ALL_BUT_HEALTH))),
    "special_ed":         Reader("staff", a(**dict.fromkeys(SCHOOL1, ALL_BUT_HEALTH))),
    "nurse":              Reader("staff", a(**dict.fromkeys(SCHOOL1, ALL))),
    "district_admin":     Reader("staff", a(**dict.fromkeys(A_ALL, ALL))),
    # A principal of school 1 and the restricted (scope all) parent of ``own``.
    "principal_parent":   Reader("staff", a(schoolmate=ALL_BUT_HEALTH, adult=ALL_BUT_HEALTH)),
    "other_district":     Reader("staff", b(**dict.fromkeys(B_ALL, ALL))),  # b's district admin
    # Break-glass on the schoolmate.
    "emergency":          Reader("emergency", a(schoolmate=EMERGENCY), TEACHER_PROGRAMS),
    "emergency_expired":  Reader("emergency", {}),
    # Family.
    "parent":             Reader("family", a(own=ALL)),
    "restricted_all":     Reader("family", {}),
    "restricted_contact": Reader("family", a(own=CONTACT_RESTRICTED)),
    "eligible":           Reader("family", a(adult=ALL)),
    "adult_parent":       Reader("family", {}),  # the adult holds their own rights now
    "tax_parent":         Reader("family", a(dependent=ALL)),
    # Nobody.
    "superuser":          Reader("none", {}),
    "outsider":           Reader("none", {}),
    "anonymous":          Reader("none", {}),
}
# fmt: on
NAMES = list(READERS)

# Who opens which pages (everyone else signed in is refused; the anonymous signs in).
SCHOOL_OFFICIALS = {
    "principal", "school_admin", "counselor", "nurse", "special_ed", "district_admin",
    "principal_parent", "other_district",
}  # fmt: skip
RECORDS_OFFICERS = {
    "principal", "school_admin", "district_admin", "principal_parent", "other_district",
}  # fmt: skip
READER_LISTERS = RECORDS_OFFICERS  # "who can see": for each student they reach
FAMILY_PORTAL = {
    "parent", "restricted_all", "restricted_contact", "eligible", "adult_parent", "tax_parent",
    "principal_parent",
}  # fmt: skip
STAFF_VIEW = {name for name, reader in READERS.items() if reader.route in ("staff", "emergency")}
TEACHES = {"teacher": {"a.section"}, "substitute": {"a.section"}}  # /classes/<section>/
OFFICIAL_SECTIONS = {  # /school/sections/: the sections of their schools this term
    **{name: {"a.section"} for name in SCHOOL_OFFICIALS - {"district_admin", "other_district"}},
    "district_admin": {"a.section", "a.section2"},
    "other_district": {"b.section", "b.section2"},
}
ROSTERS = {
    "a.section": {"a.own", "a.adult"},
    "a.section2": {"a.elsewhere", "a.dependent"},
    "b.section": {"b.own", "b.adult"},
    "b.section2": {"b.elsewhere"},
}
FLAG_LABELS = {"iep": "IEP", "section_504": "504 plan", "english_learner": "English learner"}


def expected(name: str, *, purpose: bool) -> dict[str, frozenset[str]]:
    """What ``name`` sees of whom, with or without a declared purpose (RULE 2)."""
    reader = READERS[name]
    if reader.route == "staff" and not purpose:
        return {key: cats - SENSITIVE for key, cats in reader.sees.items()}
    return dict(reader.sees)


def staff_page_reach(name: str) -> dict[str, frozenset[str]]:
    """The staff student page opens for staff and emergency routes only."""
    return READERS[name].sees if READERS[name].route in ("staff", "emergency") else {}


def family_reach(name: str) -> dict[str, frozenset[str]]:
    return READERS[name].sees if READERS[name].route == "family" else {}


def programs_of(name: str, key: str) -> set[str]:
    """The active programs of student ``key`` that ``name`` may see."""
    kinds = {program for program, _ in PROGRAMS.get(key.split(".")[1], [])}
    allowed = READERS[name].programs
    return kinds if allowed is None else kinds & allowed


def listed(values) -> tuple[str, ...] | None:
    """A set as a sorted tuple: compared exactly, and a failure reads in full."""
    return None if values is None else tuple(sorted(values))


def described(categories) -> str:
    """A set of categories in short words, one wording per set (so still compared
    exactly): "everything", "all but health", "directory, contact"."""
    cats = frozenset(categories)
    if cats == ALL:
        return "everything"
    if cats <= ALL and len(cats) > len(ALL) // 2:
        return "all but " + ", ".join(sorted(ALL - cats))
    return ", ".join(sorted(cats)) or "nothing"


def shape(name: str, sees: dict[str, frozenset[str]]) -> dict[str, tuple]:
    """Per student: the categories, and the program kinds when programs are among them."""
    return {
        key: (described(cats), listed(programs_of(name, key)) if "programs" in cats else None)
        for key, cats in sees.items()
    }


# --- The world, once per module --------------------------------------------------------


@pytest.fixture(scope="module")
def surface_world(django_db_setup, django_db_blocker):
    """Built once, inside a transaction rolled back after the module; each test runs in
    its own savepoint inside it (pytest-django does not close the connection between
    non-transactional tests), so nothing a test writes outlives it."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_surface_world()
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def browser() -> Client:
    """One test client for the module, signed in afresh by each test: a new client
    loads every middleware again (WhiteNoise scans the static files), 60 ms apiece."""
    return Client()


@pytest.fixture
def surface(surface_world, browser, db):
    surface_world.browser = browser
    return surface_world


def client_for(surface, name: str) -> Client:
    client = surface.browser
    client.cookies = SimpleCookie()  # signed out: the last test's session is gone
    if surface.users[name] is not None:
        client.force_login(surface.users[name])
    return client


def key_of(surface, student_id: int) -> str:
    for key, student in surface.students.items():
        if student.pk == student_id:
            return key
    return f"unknown:{student_id}"


def refused(name: str, status: int) -> int:
    return 302 if name == "anonymous" else status


def probed(surface, name: str, has_page: bool) -> dict:
    """The students whose pages to open: every one where the reader has such pages at
    all; for a reader refused at the door, those they reach by any route and one of
    each district (so a door left open would still show)."""
    if has_page:
        return surface.students
    keep = {*READERS[name].sees, "a.own", "b.own"}
    return {key: student for key, student in surface.students.items() if key in keep}


# --- The table covers every user -------------------------------------------------------


def test_the_table_names_every_user_of_district_a(surface):
    """Each user of district a is a row of the table (who-can-see lists them all)."""
    rows = {
        surface.users[n].username
        for n in NAMES
        if surface.users[n] is not None and surface.users[n].username.startswith("a-")
    }
    assert rows == surface.district_users["a"]


# --- The students API ------------------------------------------------------------------

LIST = "/api/v1/students/"
MISSING_ID = 10**12


def api_items(client, params: dict) -> list[dict]:
    response = client.get(LIST, {"page_size": 500, **params})
    assert response.status_code == 200
    body = response.json()
    items = list(body["results"])
    while body["next"]:
        body = client.get(body["next"]).json()
        items.extend(body["results"])
    assert body["count"] == len(items)
    return items


def api_shape(surface, items: list[dict], *, detail: bool) -> dict[str, tuple]:
    seen = {}
    for item in items:
        cats = frozenset(item) - {"id", "sourced_id", "disagreement_statements"}
        programs = None
        if "programs" in item:
            rows = item["programs"]["records"] if detail else item["programs"]["active"]
            programs = {row["program"] for row in rows} if detail else set(rows)
        seen[key_of(surface, item["id"])] = (described(cats), listed(programs))
        for one_row in ("health", "transportation"):  # on file for every student
            if one_row in item:
                assert item[one_row]["on_file"] is True
    return seen


PURPOSES = {"none": {}, "iep_meeting": {"purpose": "iep_meeting"}}
# Every reader without a purpose; with one, those who see anyone.
API_CASES = [
    (name, purpose)
    for name in NAMES
    for purpose in PURPOSES
    if purpose == "none" or READERS[name].sees
]


@pytest.mark.parametrize(("name", "purpose"), API_CASES)
def test_api_list(surface, name, purpose):
    client = client_for(surface, name)
    if name == "anonymous":
        assert client.get(LIST, PURPOSES[purpose]).status_code == 401
        return
    items = api_items(client, PURPOSES[purpose])
    want = shape(name, expected(name, purpose=purpose != "none"))
    assert api_shape(surface, items, detail=False) == want


@pytest.mark.parametrize(("name", "purpose"), API_CASES)
def test_api_detail_for_every_student_of_both_districts(surface, name, purpose):
    client = client_for(surface, name)
    want = shape(name, expected(name, purpose=purpose != "none"))
    found, statuses = [], {}
    for key, student in surface.students.items():
        response = client.get(f"{LIST}{student.pk}/", PURPOSES[purpose])
        statuses[key] = response.status_code
        if response.status_code == 200:
            found.append(response.json())
        elif name != "anonymous":
            assert response.json() == {"detail": "Not found."}  # missing and not yours alike
    missing = client.get(f"{LIST}{MISSING_ID}/", PURPOSES[purpose])
    if name == "anonymous":
        assert set(statuses.values()) == {401} and missing.status_code == 401
        return
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}
    assert statuses == {key: 200 if key in want else 404 for key in surface.students}
    assert api_shape(surface, found, detail=True) == want


@pytest.mark.parametrize("name", ["teacher", "principal", "nurse", "district_admin"])
def test_api_purpose_counts_for_one_request_only(surface, name):
    """RULE 2: a purpose opens the sensitive categories of that request, not of the next
    one (nor of a cached page), and only a key of the staff page's vocabulary opens them."""
    client = client_for(surface, name)
    closed = shape(name, expected(name, purpose=False))
    opened = shape(name, expected(name, purpose=True))
    one = next(iter(sorted(READERS[name].sees)))
    detail = f"{LIST}{surface.students[one].pk}/"

    def list_with(params):
        return api_shape(surface, api_items(client, params), detail=False)

    def detail_with(params):
        return api_shape(surface, [client.get(detail, params).json()], detail=True)[one]

    assert list_with({"purpose": "health_follow_up"}) == opened
    assert list_with({}) == closed
    assert detail_with({"purpose": "attendance_follow_up"}) == opened[one]
    assert detail_with({}) == closed[one]
    words = {"purpose": "other", "purpose_detail": "annual review"}
    assert list_with(words) == opened
    for not_a_purpose in ({"purpose": "other"}, {"purpose": "curiosity"}, {"purpose": ""}):
        response = client.get(LIST, {"page_size": 500, **not_a_purpose})
        if response.status_code != 400:  # refused outright, or read without a purpose
            assert api_shape(surface, response.json()["results"], detail=False) == closed


# --- The staff student page ------------------------------------------------------------

SECTION_MARKER = re.compile(r'<section class="card record-section" id="([a-z_]+)"')


def staff_page_categories(response) -> frozenset[str]:
    """What the page renders (one section per category), checked against its record."""
    rendered = frozenset(SECTION_MARKER.findall(response.content.decode()))
    record = frozenset(response.context["record"]) - {"id", "sourced_id", "disagreement_statements"}
    assert rendered == record
    return rendered


def page_programs(response) -> set[str] | None:
    programs = response.context["record"].get("programs")
    return None if programs is None else {row["program"] for row in programs["records"]}


@pytest.mark.parametrize("name", NAMES)
def test_staff_student_page(surface, name):
    """Closed sensitive parts until a purpose is declared (emergency: its reason is the
    purpose); 404 alike for every student the reader does not reach."""
    client = client_for(surface, name)
    reach = staff_page_reach(name)
    before = {
        key: described(cats - SENSITIVE if READERS[name].route == "staff" else cats)
        for key, cats in reach.items()
    }
    statuses, seen_before, seen_after = {}, {}, {}
    students = probed(surface, name, name in STAFF_VIEW)
    for key, student in students.items():
        url = f"/students/{student.pk}/"
        response = client.get(url)
        statuses[key] = response.status_code
        if response.status_code != 200:
            continue
        seen_before[key] = described(staff_page_categories(response))
        assert client.post(url, {"purpose": "iep_meeting"}).status_code == 302
        response = client.get(url)
        cats = staff_page_categories(response)
        seen_after[key] = (described(cats), listed(page_programs(response)))
    assert statuses == {key: 200 if key in reach else refused(name, 404) for key in students}
    assert seen_before == before
    assert seen_after == shape(name, reach)


# --- The family pages ------------------------------------------------------------------

CARD_CATEGORIES = frozenset({"directory", "attendance", "grades"})


@pytest.mark.parametrize("name", NAMES)
def test_family_home(surface, name):
    response = client_for(surface, name).get("/family/")
    if name not in FAMILY_PORTAL:
        assert response.status_code == refused(name, 404)
        return
    assert response.status_code == 200
    cards = {
        key_of(surface, child["id"]): described(
            category
            for category, shown in (
                ("directory", bool(child["name"])),
                ("attendance", child["shows_attendance"]),
                ("grades", child["shows_grades"]),
            )
            if shown
        )
        for child in response.context["children"]
    }
    assert cards == {
        key: described(cats & CARD_CATEGORIES) for key, cats in family_reach(name).items()
    }


@pytest.mark.parametrize("name", NAMES)
def test_family_child_page(surface, name):
    client = client_for(surface, name)
    reach = family_reach(name)
    statuses, seen = {}, {}
    students = probed(surface, name, name in FAMILY_PORTAL)
    for key, student in students.items():
        response = client.get(f"/family/{student.pk}/")
        statuses[key] = response.status_code
        if response.status_code == 200:
            record = response.context["record"]
            cats = frozenset(record) - {"id", "sourced_id", "disagreement_statements"}
            rendered = frozenset(SECTION_MARKER.findall(response.content.decode()))
            assert rendered == cats - {"identifiers"}  # the family page has no ids section
            programs = record.get("programs")
            kinds = None if programs is None else {r["program"] for r in programs["records"]}
            seen[key] = (described(cats), listed(kinds))
    assert statuses == {key: 200 if key in reach else refused(name, 404) for key in students}
    assert seen == shape(name, reach)


@pytest.mark.parametrize("name", NAMES)
def test_family_access_log_page(surface, name):
    client = client_for(surface, name)
    reach = family_reach(name)
    statuses, named = {}, {}
    students = probed(surface, name, name in FAMILY_PORTAL)
    for key, student in students.items():
        response = client.get(f"/family/{student.pk}/access/")
        statuses[key] = response.status_code
        if response.status_code == 200:
            named[key] = response.context["first_name"] == student.given_name
    assert statuses == {key: 200 if key in reach else refused(name, 404) for key in students}
    assert named == {key: "directory" in cats for key, cats in reach.items()}


# --- A teacher's roster and its CSV ----------------------------------------------------


def full_name(student) -> str:
    return f"{student.given_name} {student.family_name}"


def roster_flags(name: str, key: str) -> list[tuple[str, str]]:
    """A roster line's accommodation flags: the teacher's program kinds only."""
    shown = programs_of(name, key) & TEACHER_PROGRAMS
    return sorted(
        (FLAG_LABELS[program], text)
        for program, text in PROGRAMS.get(key.split(".")[1], [])
        if program in shown
    )


@pytest.mark.parametrize("name", NAMES)
def test_teacher_roster_and_csv(surface, name):
    client = client_for(surface, name)
    sections = TEACHES.get(name, set())
    listing = client.get("/classes/")
    if not sections:
        assert listing.status_code == refused(name, 404)
    else:
        assert listing.status_code == 200
        by_pk = {section.pk: key for key, section in surface.sections.items()}
        counts = {by_pk.get(s.pk, s.pk): s.student_count for s in listing.context["sections"]}
        sees = READERS[name].sees
        assert counts == {key: len(ROSTERS[key] & set(sees)) for key in sections}
    statuses, lines, exported = {}, {}, {}
    probes = dict(surface.sections)
    if not sections:  # refused at the door: one section of each district shows it
        probes = {key: surface.sections[key] for key in ("a.section", "b.section")}
    for key, section in probes.items():
        page = client.get(f"/classes/{section.pk}/")
        export = client.get(f"/classes/{section.pk}/", {"format": "csv"})
        statuses[key] = (page.status_code, export.status_code)
        if page.status_code != 200:
            continue
        lines[key] = {
            key_of(surface, line["id"]): (
                line["shows_attendance"],
                sorted((str(flag["label"]), flag["text"]) for flag in line["flags"]),
            )
            for line in page.context["lines"]
        }
        rows = list(csv.reader(io.StringIO(export.content.decode())))
        exported[key] = {row[0]: row[3] for row in rows[1:]}
    assert statuses == {
        key: (200, 200) if key in sections else (refused(name, 404),) * 2 for key in probes
    }
    sees = READERS[name].sees
    assert lines == {
        key: {s: (True, roster_flags(name, s)) for s in ROSTERS[key] & set(sees)}
        for key in sections
    }
    assert exported == {
        key: {
            full_name(surface.students[s]): "; ".join(
                f"{label}: {text}" if text else label for label, text in roster_flags(name, s)
            )
            for s in ROSTERS[key] & set(sees)
        }
        for key in sections
    }


# --- /school/: the list, its search, filters and counts --------------------------------


def school_queries(surface) -> dict[str, dict]:
    """Each query of /school/ and the students it narrows to, before reach is applied."""
    queries: dict[str, tuple[dict, set[str]]] = {"all": ({}, set(surface.students))}
    # Names: at school 1 (``own`` is hidden from the principal-parent), at school 2,
    # the tax dependent, and one of the other district.
    for key in ("a.own", "a.schoolmate", "a.elsewhere", "a.dependent", "b.own"):
        family_name = surface.students[key].family_name
        queries[f"q={family_name}"] = ({"q": family_name}, {key})
    for grade in sorted(set(GRADES.values())):
        queries[f"grade={grade}"] = (
            {"grade": grade},
            {k for k in surface.students if GRADES[k.split(".")[1]] == grade},
        )
    for program in ("iep", "section_504", "homeless"):
        queries[f"program={program}"] = (
            {"program": program},
            {k for k in surface.students if program in programs_of("district_admin", k)},
        )
    below = {
        k
        for k in surface.students
        if (marks := ATTENDANCE.get(k.split(".")[1]))
        and 100 * sum(s in ("present", "tardy") for s in marks) / len(marks) < 60
    }
    queries["attendance_below=60"] = ({"attendance_below": "60"}, below)
    return queries


@pytest.mark.parametrize("name", NAMES)
def test_school_list_search_filters_and_counts(surface, name):
    """Every search and filter narrows within the reader's school routes: the count shown
    and the students listed are exactly the table's students that match."""
    client = client_for(surface, name)
    if name not in SCHOOL_OFFICIALS:
        assert client.get("/school/").status_code == refused(name, 403)
        return
    reach = set(READERS[name].sees)
    seen, want = {}, {}
    for label, (params, narrowed) in school_queries(surface).items():
        response = client.get("/school/", params)
        assert response.status_code == 200, label
        rows = response.context["rows"]
        shown = {key_of(surface, row["id"]) for row in rows}
        seen[label] = (response.context["page"].paginator.count, shown)
        want[label] = (len(reach & narrowed), reach & narrowed)
        assert all(row["shows_attendance"] for row in rows)  # every school role sees it
    assert seen == want


# --- /school/sections/: counts and a section's roster ----------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_school_sections_counts_and_rosters(surface, name):
    client = client_for(surface, name)
    listing = client.get("/school/sections/")
    if name not in SCHOOL_OFFICIALS:
        assert listing.status_code == refused(name, 403)
    else:
        assert listing.status_code == 200
        by_pk = {section.pk: key for key, section in surface.sections.items()}
        counts = {
            by_pk.get(row["section"].pk, row["section"].pk): row["section"].student_count
            for row in listing.context["sections"]
        }
        reach = set(READERS[name].sees)
        assert counts == {key: len(ROSTERS[key] & reach) for key in OFFICIAL_SECTIONS[name]}
    mine = OFFICIAL_SECTIONS.get(name, set())
    statuses, rosters = {}, {}
    for key, section in surface.sections.items():
        response = client.get(f"/school/sections/{section.pk}/")
        statuses[key] = response.status_code
        if response.status_code == 200:
            rosters[key] = {key_of(surface, row["id"]) for row in response.context["rows"]}
    gate = 404 if name in SCHOOL_OFFICIALS else refused(name, 403)
    assert statuses == {key: 200 if key in mine else gate for key in surface.sections}
    reach = set(READERS[name].sees)
    assert rosters == {key: ROSTERS[key] & reach for key in mine}


# --- The request queues ----------------------------------------------------------------


def queue_reach(name: str) -> set[str]:
    """RULE 3: a records officer's queue holds exactly the students they reach."""
    return set(READERS[name].sees) if name in RECORDS_OFFICERS else set()


def queue_probes(requests: dict, name: str) -> dict:
    """Which requests' pages to open: every one for a records officer; for anyone else
    (refused before any lookup) one of each district."""
    if name in RECORDS_OFFICERS:
        return requests
    return {key: item for key, item in requests.items() if key in ("a.own", "b.own")}


@pytest.mark.parametrize("name", NAMES)
def test_amendment_queue(surface, name):
    client = client_for(surface, name)
    response = client.get("/district/amendments/")
    want = queue_reach(name)
    if name not in RECORDS_OFFICERS:
        assert response.status_code == refused(name, 403)
    else:
        assert response.status_code == 200
        by_pk = {item.pk: key for key, item in surface.amendments.items()}
        assert {by_pk[row["id"]] for row in response.context["rows"]} == want
    statuses = {
        key: client.get(f"/district/amendments/{item.pk}/").status_code
        for key, item in queue_probes(surface.amendments, name).items()
    }
    assert statuses == {key: 200 if key in want else refused(name, 404) for key in statuses}


@pytest.mark.parametrize("name", NAMES)
def test_inspection_queue(surface, name):
    client = client_for(surface, name)
    response = client.get("/district/inspections/")
    want = queue_reach(name)
    if name not in RECORDS_OFFICERS:
        assert response.status_code == refused(name, 403)
    else:
        assert response.status_code == 200
        by_pk = {item.pk: key for key, item in surface.inspections.items()}
        entries = response.context["open_items"] + response.context["closed_items"]
        assert {by_pk[entry["item"].pk] for entry in entries} == want
    statuses = {
        key: client.get(f"/district/inspections/{item.pk}/").status_code
        for key, item in queue_probes(surface.inspections, name).items()
    }
    gate = 404 if name in RECORDS_OFFICERS else refused(name, 403)
    assert statuses == {key: 200 if key in want else gate for key in statuses}


# --- Who can see this student? ---------------------------------------------------------

LABELS = {str(label): category for category, label in CATEGORY_NAMES.items()}


def readers_of(surface, key: str) -> dict[str, str]:
    """From the table: everyone of the student's district who reaches them, and what."""
    return {
        surface.users[name].username: described(reader.sees[key])
        for name, reader in READERS.items()
        if key in reader.sees
    }


@pytest.mark.parametrize("name", NAMES)
def test_who_can_see(surface, name):
    """Listers get 200 for the students they reach; other staff who reach a student 403;
    everyone else 404. The list itself is the table's column for that student."""
    client = client_for(surface, name)
    reach = staff_page_reach(name)
    statuses, lists = {}, {}
    students = probed(surface, name, name in STAFF_VIEW)
    for key, student in students.items():
        response = client.get(f"/students/{student.pk}/readers/")
        statuses[key] = response.status_code
        if response.status_code == 200 and key.startswith("a."):
            lists[key] = {
                r["username"]: described(LABELS[str(c)] for c in r["categories"])
                for r in response.context["readers"]
            }
    assert statuses == {
        key: (200 if name in READER_LISTERS else 403) if key in reach else refused(name, 404)
        for key in students
    }
    assert lists == {
        key: readers_of(surface, key)
        for key in reach
        if name in READER_LISTERS and key.startswith("a.")
    }
