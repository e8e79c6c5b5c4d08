"""Every statement of the main pages and API calls keeps to one district: the shape Citus
routes to one node (records/distribution.py, docs/scaling.md).

Each reader of the benchmark (``bench_load``'s, and the pages named in docs/scaling.md)
is requested with every statement captured; each statement is parsed (sqlglot, the
PostgreSQL dialect) and every occurrence of a distributed table in it must be held to
one district: ``district_id = <constant>`` in its WHERE or ON, or equal to the
``district_id`` of another occurrence so held — and the constant is the reader's
district. A statement may read reference tables beside them, never a local one. The
statements that cannot be single-district, because they are how a district is found or
read every district on purpose, are listed in ``CROSS_DISTRICT``, each with its reason;
the state reports are the named exception (``CROSS_DISTRICT_READERS``), and they must
indeed read several districts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import sqlglot
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from sqlglot import exp

from records import models as m
from records.distribution import LOCAL_TABLES, distributed_tables
from records.oneroster_rest.fields import fallback_sourced_id
from reports import published
from reports.models import StateAnalyst
from reports.state import publish_state_release
from tests import factories as f
from tests.records.test_oneroster_rest import ROOTS, Feed
from tests.reports.test_public_pages import publish_release

pytestmark = pytest.mark.django_db

# PREPARE and EXECUTE parse as commands, read here (``statements``): no warning each time.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

DISTRICT = "district_id"

# Statements that read across districts, by the prepared statement's name or by their
# SQL with its values left out (``%s``), and why. Each is how a request learns its
# district before any is known, and reads one row: on Citus one statement to every node
# (still joined on the district, which the test checks), then the request is
# single-node again.
CROSS_DISTRICT = {
    # studentdata/authentication.py: a provider's bearer token names its API client, and
    # the client its district (the token, a local table, is joined there too).
    "provider_client_by_token": "a provider's token check: the token names the district",
    # reports/published.py: a public report card names its school by id alone.
    'SELECT "records_school"."district_id" AS "district_id" FROM "records_school" '
    'WHERE "records_school"."id" = %s ORDER BY "records_school"."name" ASC LIMIT %s': (
        "the public page of a school: the school's id names its district"
    ),
}

# Readers that read several districts on purpose — the named exception (docs/scaling.md):
# each must indeed read more than one district, or it would not need to be one.
CROSS_DISTRICT_READERS = {
    "state: building a state release": "sums the districts' published releases (a task)",
    "state: an analyst's state page": "the report cards of a state's districts, side by side",
    "public: the report cards' index": "every district with a published report card",
}


# The check of one statement.


@dataclass
class Finding:
    problems: list[str] = field(default_factory=list)
    districts: set[str] = field(default_factory=set)
    tables: set[str] = field(default_factory=set)
    # Distributed occurrences by what ties their districts together: more than one group
    # is a join Citus cannot run node by node, even reading every district.
    groups: dict = field(default_factory=dict)

    def uncolocated(self) -> list[str]:
        groups = sorted(sorted(group) for group in self.groups.values())
        return [f"joined off the district: {groups}"] if len(groups) > 1 else []


class _Classes:
    """Union-find over (query node, alias) and constants: what ``=`` ties together."""

    def __init__(self):
        self.parent: dict = {}

    def find(self, item):
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, one, other):
        self.parent[self.find(one)] = self.find(other)


QUERY_NODES = (exp.Select, exp.Update, exp.Delete)


def _sources(node) -> dict[str, exp.Expression]:
    """The relations a query node reads itself (not its subqueries'), by alias."""
    found = []
    if isinstance(node, exp.Select):
        if node.args.get("from_"):
            found.append(node.args["from_"].this)
    elif isinstance(node, (exp.Update, exp.Delete)):
        found.append(node.this)
        if node.args.get("from_"):
            found.append(node.args["from_"].this)
        found += list(node.args.get("using") or [])
    found += [join.this for join in node.args.get("joins") or []]
    return {source.alias_or_name: source for source in found}


def _conjuncts(condition) -> Iterator[exp.Expression]:
    """The ANDed parts of a condition; an OR (or a NOT) ties nothing."""
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        yield from _conjuncts(condition.left)
        yield from _conjuncts(condition.right)
    elif condition is not None:
        yield condition


def _conditions(node) -> Iterator[exp.Expression]:
    if node.args.get("where"):
        yield from _conjuncts(node.args["where"].this)
    for join in node.args.get("joins") or []:
        yield from _conjuncts(join.args.get("on"))


def _unwrap(term):
    while isinstance(term, (exp.Paren, exp.Cast)):
        term = term.this
    return term


class _Statement:
    def __init__(self, tree: exp.Expression, distributed: set[str]):
        self.tree, self.distributed = tree, distributed
        self.classes = _Classes()
        self.nodes = list(tree.find_all(*QUERY_NODES))
        self.sources = {id(node): _sources(node) for node in self.nodes}

    def _owner(self, column: exp.Column, start) -> tuple | None:
        """The (query node, alias) a ``district_id`` column is of: its qualifier's nearest
        enclosing node, or the only relation of its own node."""
        node = start
        while node is not None:
            if isinstance(node, QUERY_NODES) and id(node) in self.sources:
                sources = self.sources[id(node)]
                if column.table and column.table in sources:
                    return (id(node), column.table)
                if not column.table and len(sources) == 1:
                    return (id(node), next(iter(sources)))
            node = node.parent
        return None

    def _term(self, term, node):
        term = _unwrap(term)
        if isinstance(term, exp.Literal):
            return ("district", str(term.this))
        if isinstance(term, exp.Column) and term.name == DISTRICT:
            return self._owner(term, node)
        return None

    def check(self) -> Finding:
        finding = Finding()
        for node in self.nodes:
            for condition in _conditions(node):
                if isinstance(condition, exp.EQ):
                    left, right = (
                        self._term(condition.left, node),
                        self._term(condition.right, node),
                    )
                    if left and right:
                        self.classes.union(left, right)
                elif isinstance(condition, exp.In) and len(condition.expressions) == 1:
                    left = self._term(condition.this, node)
                    right = self._term(condition.expressions[0], node)
                    if left and right:
                        self.classes.union(left, right)
        for insert in [self.tree, *self.tree.find_all(exp.Insert)]:
            if isinstance(insert, exp.Insert):
                self._check_insert(insert, finding)
        constants = {}
        for item in self.classes.parent:
            if item[0] == "district":
                constants.setdefault(self.classes.find(item), set()).add(item[1])
        for node in self.nodes:
            for alias, source in self.sources[id(node)].items():
                if not isinstance(source, exp.Table):
                    continue
                finding.tables.add(source.name)
                if source.name not in self.distributed:
                    continue
                key = self.classes.find((id(node), alias))
                finding.groups.setdefault(key, []).append(f"{source.name} AS {alias}")
                held = constants.get(key, set())
                if not held:
                    finding.problems.append(f"{source.name} AS {alias}: no district")
                finding.districts |= held
        if len(finding.districts) > 1:
            finding.problems.append(f"several districts: {sorted(finding.districts)}")
        return finding

    def _check_insert(self, insert: exp.Insert, finding: Finding) -> None:
        """The district of each row an INSERT writes: a constant of its VALUES, or what
        its SELECT gives in that column."""
        target = insert.this
        columns = [c.name for c in target.expressions] if isinstance(target, exp.Schema) else []
        table = target.this if isinstance(target, exp.Schema) else target
        finding.tables.add(table.name)
        if table.name not in self.distributed:
            return
        source = insert.expression
        if DISTRICT not in columns or not isinstance(source, (exp.Values, exp.Select)):
            finding.problems.append(f"INSERT INTO {table.name}: no district column given")
            return
        at = columns.index(DISTRICT)
        if isinstance(source, exp.Values):
            given = [_unwrap(row.expressions[at]) for row in source.expressions]
            for value in given:
                if not isinstance(value, exp.Literal):
                    finding.problems.append(f"INSERT INTO {table.name}: district {value.sql()}")
            finding.districts |= {str(v.this) for v in given if isinstance(v, exp.Literal)}
            return
        term = self._term(source.expressions[at], source)
        held = self.classes.find(term) if term else None
        constants = {
            item[1]
            for item in self.classes.parent
            if item[0] == "district" and self.classes.find(item) == held
        }
        if not constants:
            finding.problems.append(f"INSERT INTO {table.name} SELECT: no district")
        finding.districts |= constants


def _prepared_body(statement: str) -> tuple[str, str]:
    """``PREPARE name [(types)] AS body`` → (name, body)."""
    head, _, body = statement.partition(" AS ")
    return re.split(r"[\s(]", head.split(None, 1)[1], maxsplit=1)[0], body


def statements(
    captured: list[str], prepared: dict[str, str] | None = None
) -> Iterator[tuple[str, exp.Expression]]:
    """Each statement run, with prepared ones (``EXECUTE name (args)``) judged as what they
    execute (``prepared``: bodies prepared before, by name); labelled by the prepared
    name, or by the SQL itself."""
    prepared = dict(prepared or {})
    for sql in captured:
        for tree in sqlglot.parse(sql, read="postgres"):
            if tree is None:
                continue
            if isinstance(tree, exp.Command) and tree.this.upper() == "PREPARE":
                name, body = _prepared_body(f"PREPARE {tree.expression.this}")
                prepared[name] = body
                continue
            if isinstance(tree, exp.Command) and tree.this.upper() == "EXECUTE":
                name, _, arguments = tree.expression.this.partition(" ")
                values = sqlglot.parse_one(f"SELECT {arguments.strip()[1:-1]}", read="postgres")
                body = sqlglot.parse_one(prepared[name], read="postgres")
                body = body.transform(
                    lambda node, values=values.expressions: (
                        values[int(node.this.this) - 1].copy()
                        if isinstance(node, exp.Parameter)
                        else node
                    )
                )
                yield name, body
                continue
            yield shape(tree), tree


def shape(tree: exp.Expression) -> str:
    """The statement's SQL with every value left out: how CROSS_DISTRICT names it."""
    blank = tree.transform(
        lambda node: exp.Placeholder() if isinstance(node, exp.Literal) else node
    )
    return blank.sql(dialect="postgres")


def prepared_in_session() -> dict[str, str]:
    """The session's prepared statements, whenever they were prepared."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return dict(_prepared_body(row[0]) for row in cursor.fetchall())


@dataclass
class Verdict:
    label: str
    statements: int = 0
    problems: list[str] = field(default_factory=list)
    cross_district: set[str] = field(default_factory=set)
    districts: set[str] = field(default_factory=set)


def judge(label: str, captured: list[str], district_id: int | None, prepared=None) -> Verdict:
    distributed = distributed_tables()
    verdict = Verdict(label)
    for name, tree in statements(captured, prepared):
        verdict.statements += 1
        finding = _Statement(tree, distributed).check()
        if name in CROSS_DISTRICT:
            verdict.cross_district.add(name)
            # Every district's rows, but each district's on its node: a colocated join.
            verdict.problems += [f"{name[:160]}: {each}" for each in finding.uncolocated()]
            continue
        local = finding.tables & set(LOCAL_TABLES)
        touched = finding.tables & distributed
        if touched and local:
            verdict.problems.append(f"{name[:160]}: local {sorted(local)} beside {sorted(touched)}")
        verdict.problems += [f"{name[:160]}: {problem}" for problem in finding.problems]
        verdict.districts |= finding.districts
    if district_id is not None and verdict.districts - {str(district_id)}:
        verdict.problems.append(f"districts {sorted(verdict.districts)}, not {district_id}")
    return verdict


def run(label: str, request, district_id: int | None) -> Verdict:
    published.forget_everything()  # each page reads its rows, none from an earlier page
    with CaptureQueriesContext(connection) as captured:
        response = request()
    status = getattr(response, "status_code", 200)  # a task returns no response
    assert status == EXPECTED_STATUS.get(label, 200), (label, status, response.content[:300])
    sql = [query["sql"] for query in captured.captured_queries]
    return judge(label, sql, district_id, prepared_in_session())


# The analyser itself: it must fail where Citus would fan out.


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("SELECT s.id FROM records_student s WHERE s.district_id = 5", None),
        # A join held only through the other table's district.
        (
            "SELECT s.id FROM records_student s JOIN records_enrollment e "
            "ON e.student_id = s.id AND e.district_id = s.district_id WHERE s.district_id = 5",
            None,
        ),
        (
            "SELECT s.id FROM records_student s JOIN records_enrollment e "
            "ON e.student_id = s.id WHERE s.district_id = 5",
            "records_enrollment AS e: no district",
        ),
        # A correlated subquery, held by the outer row's district.
        (
            "SELECT s.id FROM records_student s WHERE s.district_id IN (5) AND EXISTS("
            "SELECT 1 FROM records_guardianlink U0 WHERE U0.district_id = (s.district_id))",
            None,
        ),
        (
            "SELECT s.id FROM records_student s WHERE s.district_id = 5 AND s.id IN ("
            "SELECT U0.student_id FROM records_enrollment U0 WHERE U0.section_id = 3)",
            "records_enrollment AS U0: no district",
        ),
        # An OR holds nothing; two districts are two nodes.
        (
            "SELECT s.id FROM records_student s WHERE s.district_id = 5 OR s.id = 1",
            "records_student AS s: no district",
        ),
        (
            "SELECT s.id FROM records_student s, records_school c "
            "WHERE s.district_id = 5 AND c.district_id = 6",
            "several districts",
        ),
        ("UPDATE records_student SET given_name = 'x' WHERE id = 3", "no district"),
        ("UPDATE records_student SET given_name = 'x' WHERE district_id = 5 AND id = 3", None),
        ("INSERT INTO records_grade (district_id, mark) VALUES (5, 'A'), (5, 'B')", None),
        ("INSERT INTO records_grade (district_id, mark) VALUES (5, 'A'), (6, 'B')", "several"),
        ("SELECT id FROM accounts_user WHERE username = 'x'", None),  # a reference table
    ],
)
def test_the_check_tells_single_district_statements_from_the_others(sql, problem):
    [(_, tree)] = statements([sql])
    found = _Statement(tree, distributed_tables()).check().problems
    if problem is None:
        assert found == []
    else:
        assert any(problem in each for each in found), found


def test_a_local_table_beside_a_distributed_one_is_refused():
    sql = (
        "SELECT s.id FROM records_student s JOIN django_session x ON x.session_key = 'k' "
        "WHERE s.district_id = 5"
    )
    assert "local ['django_session'] beside ['records_student']" in judge("t", [sql], 5).problems[0]


def test_a_cross_district_statement_must_still_join_on_the_district():
    """What Citus runs on every node, each node joining its own districts' rows."""
    colocated = (
        "SELECT c.id FROM access_apiclient c JOIN access_provider p "
        "ON p.district_id = c.district_id AND p.id = c.provider_id WHERE c.application_id = 1"
    )
    crossed = colocated.replace("p.district_id = c.district_id AND ", "")
    [(_, tree)] = statements([colocated])
    assert _Statement(tree, distributed_tables()).check().uncolocated() == []
    [(_, tree)] = statements([crossed])
    assert _Statement(tree, distributed_tables()).check().uncolocated() == [
        "joined off the district: [['access_apiclient AS c'], ['access_provider AS p']]"
    ]


def test_a_prepared_statement_is_judged_as_what_it_executes():
    captured = [
        "PREPARE student_epochs AS SELECT student_id, value FROM access_studentepoch "
        "WHERE district_id = $1 AND student_id = ANY($2)",
        "EXECUTE student_epochs (7, ARRAY[1, 2])",
        "EXECUTE student_epochs (8, ARRAY[1, 2])",
    ]
    verdict = judge("t", captured, 7)
    assert verdict.statements == 2
    assert verdict.problems == ["districts ['7', '8'], not 7"]


# The pages.

# Answers other than 200 that a reader must get (bench_load's checks).
EXPECTED_STATUS = {"parent: another family's child": 404, "anyone: password reset": 302}


@pytest.fixture
def readers(world, client):
    """District a with marks, grades, programs and a provider's feed (all of district
    a's categories but health, every school); district b alike, so a statement that
    strays has somewhere to stray to."""
    a = world.a
    today = timezone.localdate()
    for n, status in enumerate(["present", "absent", "tardy"]):
        m.AttendanceRecord.unscoped.create(
            district=a.district, student=a.students["own"], section=a.section,
            date=today - timedelta(days=n), status=status,
        )  # fmt: skip
    m.Grade.unscoped.create(
        district=a.district, student=a.students["own"], section=a.section,
        grading_period=a.term, mark="B",
    )  # fmt: skip
    m.ProgramParticipation.unscoped.create(
        district=a.district, student=a.students["own"], program="iep", accommodations="Time"
    )
    for each in (world.a, world.b):  # published report cards, and their state's
        each.district.state = "VT"
        each.district.save()
        publish_release(each.district, [each.school1, each.school2])
    publish_state_release("VT", 2027)
    feed = Feed(
        client,
        a.district,
        categories=["directory", "contact", "identifiers", "demographics", "enrollment"],
        shares_staff=True,
    )
    return world, feed


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pages(world, feed) -> list[tuple[str, int, Callable]]:
    """(label, district, request) for each reader's page and API call."""
    a = world.a
    own, section, school = a.students["own"], a.section, a.school1
    teacher, principal = signed_in(a.users["teacher"]), signed_in(a.users["principal"])
    admin, parent = signed_in(a.users["district_admin"]), signed_in(a.users["parent"])
    public = Client()
    found = [
        ("teacher: classes", teacher.get, "/classes/"),
        ("teacher: class roster", teacher.get, f"/classes/{section.pk}/"),
        ("teacher: a roster student", teacher.get, f"/students/{own.pk}/"),
        ("teacher: students API", teacher.get, "/api/v1/students/"),
        ("parent: family page", parent.get, "/family/"),
        ("parent: a child's page", parent.get, f"/family/{own.pk}/"),
        ("parent: who saw the child", parent.get, f"/family/{own.pk}/access/"),
        ("parent: another family's child", parent.get, f"/family/{a.students['schoolmate'].pk}/"),
        ("principal: school", principal.get, "/school/"),
        ("principal: school ?q", principal.get, "/school/?q=quill"),
        ("principal: school ?grade", principal.get, "/school/?grade=07"),
        ("principal: school ?program", principal.get, "/school/?program=iep"),
        ("principal: school ?attendance_below", principal.get, "/school/?attendance_below=90"),
        (
            "principal: school, every filter",
            principal.get,
            "/school/?q=ysolde&grade=07&program=iep&attendance_below=90",
        ),
        ("principal: a student", principal.get, f"/students/{own.pk}/"),
        ("principal: students API", principal.get, "/api/v1/students/?page_size=500"),
        ("principal: one student (API)", principal.get, f"/api/v1/students/{own.pk}/"),
        ("district admin: console", admin.get, "/district/"),
        ("district admin: school", admin.get, "/school/"),
        ("district admin: students API", admin.get, "/api/v1/students/"),
        ("public: a district's report card", public.get, f"/reports/districts/{a.district.pk}/"),
        ("public: a school's report card", public.get, f"/reports/schools/{school.pk}/"),
        (
            "public: a school's report (API)",
            public.get,
            f"/api/v1/public/schools/{school.pk}/report/",
        ),
        ("state: the state's report card", public.get, "/reports/states/VT/"),
        ("state: the state's report (API)", public.get, "/api/v1/public/states/VT/report/"),
    ]
    requests = [
        (label, a.district.pk, lambda get=get, path=path: get(path)) for label, get, path in found
    ]
    requests.append(
        (
            "anyone: password reset",
            a.district.pk,
            lambda: public.post("/password-reset/", {"email": a.users["parent"].email}),
        )
    )
    ids = {
        "class": section.sourced_id,
        "course": section.course.sourced_id,
        "term": a.term.sourced_id,
        "school": fallback_sourced_id(school, "school"),
        "student": own.sourced_id,
        "teacher": fallback_sourced_id(a.users["teacher"], "user"),
        "enrollment": fallback_sourced_id(a.enrollments["own"], "enrollment"),
    }
    collections = [
        "academicSessions", "classes", "courses", "demographics", "enrollments",
        "gradingPeriods", "orgs", "schools", "students?limit=100", "teachers", "terms", "users",
        "students?filter=familyName~'wood' OR givenName='Ysolde'",
    ]  # fmt: skip
    singles = [
        "academicSessions/{term}", "classes/{class}", "courses/{course}",
        "demographics/{student}", "enrollments/{enrollment}", "orgs/{school}",
        "schools/{school}", "students/{student}", "teachers/{teacher}", "terms/{term}",
        "users/{student}", "users/{teacher}",
    ]  # fmt: skip
    nested = [
        "classes/{class}/students", "classes/{class}/teachers", "courses/{course}/classes",
        "schools/{school}/classes", "schools/{school}/classes/{class}/enrollments",
        "schools/{school}/classes/{class}/students", "schools/{school}/classes/{class}/teachers",
        "schools/{school}/courses", "schools/{school}/enrollments", "schools/{school}/students",
        "schools/{school}/teachers", "schools/{school}/terms", "students/{student}/classes",
        "teachers/{teacher}/classes", "terms/{term}/classes", "terms/{term}/gradingPeriods",
        "users/{teacher}/classes",
    ]  # fmt: skip
    for version in ("v1p1", "v1p2"):
        for path in (*collections, *(each.format(**ids) for each in (*singles, *nested))):
            requests.append(
                (
                    f"provider: OneRoster {version} {path}",
                    a.district.pk,
                    lambda version=version, path=path: feed.client.get(
                        ROOTS[version] + path,
                        HTTP_AUTHORIZATION=f"Bearer {feed.token(version)}",
                    ),
                )
            )
    return requests


def test_every_page_keeps_to_the_readers_district(readers):
    world, feed = readers
    for version in ROOTS:
        feed.token(version)  # the token endpoint itself is no reader's page
    verdicts = [run(label, request, district) for label, district, request in pages(world, feed)]
    failed = {v.label: v.problems for v in verdicts if v.problems}
    assert failed == {}, "\n".join(
        f"{label}:\n  " + "\n  ".join(problems) for label, problems in failed.items()
    )
    # Every page read its district's rows (a check over no statement would pass
    # anything); the public state pages read the state's release alone, and a password
    # reset the users (a reference table): no tenant table.
    district = str(world.a.district.pk)
    wrong = {
        v.label: v.districts
        for v in verdicts
        if v.districts != (set() if v.label.startswith(("state:", "anyone:")) else {district})
    }
    assert wrong == {}
    providers = [v for v in verdicts if v.label.startswith("provider:")]
    assert all(v.cross_district == {"provider_client_by_token"} for v in providers)
    # Each named cross-district statement still runs: a renamed one keeps no pass.
    assert set().union(*(v.cross_district for v in verdicts)) == set(CROSS_DISTRICT)


def test_the_cross_district_readers_do_read_several_districts(readers):
    analyst = f.UserFactory(username="vt-analyst", district=None)
    StateAnalyst.objects.create(user=analyst, state="VT")
    requests = {
        "state: building a state release": lambda: publish_state_release("VT", 2027),
        "state: an analyst's state page": lambda: signed_in(analyst).get("/state/VT/"),
        "public: the report cards' index": lambda: Client().get("/reports/"),
    }
    assert set(requests) == set(CROSS_DISTRICT_READERS)
    for label, request in requests.items():
        verdict = run(label, request, None)
        several = verdict.problems or len(verdict.districts) > 1
        assert several, f"{label} keeps to one district: no exception needed"
