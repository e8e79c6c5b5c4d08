"""Hostile parameters answer with an ``imsx_StatusInfo`` body, never a 500: digits that
``str.isdigit`` takes but ``int`` refuses (``²``), digits of other scripts, and control
characters (NUL, which PostgreSQL refuses in text) in a filter or a path's sourcedId."""

from __future__ import annotations

import pytest

from records.oneroster_rest.errors import OneRosterError
from records.oneroster_rest.grammar import parse_filter
from tests.records.test_oneroster_rest import VERSIONS, Feed, error_code

IMSX_KEYS = {"imsx_codeMajor", "imsx_severity", "imsx_description", "imsx_CodeMinor"}
CONTROL = ("\x00", "\n", "\x1f", "\x7f", "\x85")


@pytest.fixture
def feed(client, world):
    return Feed(
        client,
        world.a.district,
        categories=["directory", "contact", "identifiers", "enrollment", "demographics"],
        shares_staff=True,
    )


def assert_imsx(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == IMSX_KEYS
    assert error_code(response) == code
    return body


@VERSIONS
@pytest.mark.parametrize("name", ["limit", "offset"])
@pytest.mark.parametrize("value", ["²", "1²", "٣", "³⁰"])
def test_paging_takes_ascii_digits_only(feed, version, name, value):
    response = feed.get(version, "students", **{name: value})
    body = assert_imsx(response, 400, "invalid_selection_field")
    assert f"The {name} parameter" in body["imsx_description"]


@VERSIONS
@pytest.mark.parametrize("value", ["²", "2⁰²⁶", "٢٠٢٦"])
def test_an_integer_filter_takes_ascii_digits_only(feed, version, value):
    # A well-formed filter with a value of the wrong type: 422, as the contract says.
    response = feed.get(version, "academicSessions", filter=f"schoolYear='{value}'")
    body = assert_imsx(response, 422, "invaliddata")
    assert "'schoolYear'" in body["imsx_description"]
    assert feed.get(version, "academicSessions", filter="schoolYear='2026'").status_code == 200


@VERSIONS
@pytest.mark.parametrize("char", CONTROL)
@pytest.mark.parametrize(
    "template",
    ["givenName='a{}b'", "sourcedId='{}'", "familyName~'{}'", "given{}Name='a'",
     "status='active' AND givenName='{}'", "status='active'{}"],
)  # fmt: skip
def test_a_control_character_in_a_filter_is_invalid_filter_field(feed, version, char, template):
    text = template.format(char)
    body = assert_imsx(feed.get(version, "students", filter=text), 400, "invalid_filter_field")
    assert "control character" in body["imsx_description"]


@VERSIONS
@pytest.mark.parametrize(
    "template",
    ["students/a{}b", "users/{}", "demographics/a{}", "classes/{}/students",
     "schools/x{}/students", "schools/x{}/classes/y/students", "users/a{}/classes",
     "terms/{}/gradingPeriods"],
)  # fmt: skip
def test_a_control_character_in_a_path_id_answers_as_a_missing_object(feed, version, template):
    hostile = feed.get(version, template.format("\x00"))
    missing = feed.get(version, template.format("Zq"))
    assert_imsx(hostile, 404, "unknownobject")
    assert hostile.content == missing.content


@pytest.mark.parametrize("char", CONTROL)
def test_the_grammar_refuses_control_characters(char):
    with pytest.raises(OneRosterError) as raised:
        parse_filter(f"givenName='x{char}'")
    assert raised.value.status == 400
    assert raised.value.code == "invalid_filter_field"
    assert "character 13" in raised.value.description
