"""Production's response headers: a Content-Security-Policy that no inline script or
style needs, a Permissions-Policy, HSTS, and the rest Django's deploy check asks for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
APPS = ("accounts", "access", "records", "reports", "studentdata")

# What the policy refuses, as it would appear in a template or in HTML built in Python.
INLINE = {
    "an inline script": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "a <style> element": re.compile(r"<style\b", re.IGNORECASE),
    "a style attribute": re.compile(r"""\sstyle=["'{]"""),
    "an event-handler attribute": re.compile(r"""\son[a-z]+=["']"""),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def _page_sources() -> list[Path]:
    templates = [*(ROOT / "templates").rglob("*.html")]
    for app in APPS:
        templates += (ROOT / app / "templates").rglob("*.html")
        templates += [path for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts]
    return templates


def test_no_page_source_holds_what_the_policy_refuses():
    found = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}: {what}"
        for path in _page_sources()
        for text in [path.read_text()]
        for what, pattern in INLINE.items()
        for match in pattern.finditer(text)
    ]
    assert not found, "\n".join(found)


def test_the_scan_finds_what_it_looks_for():
    for sample in (
        "<script>alert(1)</script>",
        "<style>p{}</style>",
        '<span style="color: red">',
        '<button onclick="go()">',
        '<a href="javascript:go()">',
    ):
        assert any(pattern.search(sample) for pattern in INLINE.values()), sample
    assert not any(
        pattern.search('<script src="/static/a.js"></script>') for pattern in INLINE.values()
    )


def _policy(response) -> dict[str, list[str]]:
    directives = [part.split() for part in response["Content-Security-Policy"].split(";")]
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("path", ["/", "/reports/", "/api/schema/", "/healthz/"])
def test_every_answer_carries_the_policy(client, path):
    response = client.get(path, secure=True)
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]
    assert "unsafe" not in response["Content-Security-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in response["Permissions-Policy"]
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_hsts_is_only_sent_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/healthz/")


def test_the_api_explorer_loads_its_start_up_script_as_a_file(client):
    page = client.get("/api/docs/", secure=True)
    assert page.status_code == 200
    html = page.content.decode()
    [script_url] = re.findall(r'<script src="([^"]*script=[^"]*)"', html)
    script = client.get(script_url.replace("&amp;", "&"), secure=True)
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content
