from __future__ import annotations

import re

import pytest


def rostered(user):
    """``user`` as the roster import leaves a guardian: no usable password."""
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


def link_token(body: str) -> str:
    """The token of the one invitation link in an email body."""
    tokens = set(re.findall(r"http://testserver/welcome/([A-Za-z0-9_-]+)/", body))
    assert len(tokens) == 1, body
    return tokens.pop()


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = "http://testserver"
