"""The load run's readers (``bench_load``): each answer as the product gives it passes its
reader's check, and another reader's answer does not (the checks can fail)."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from access.management.commands.bench_load import Command
from records.seeding import seed_demo

pytestmark = pytest.mark.django_db


def answer(client: Client, scenario) -> tuple[int, bytes]:
    extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in scenario.headers.items()}
    extra.pop("HTTP_CONTENT_TYPE", None)
    response = client.generic(
        scenario.method,
        scenario.path,
        data=scenario.body,
        content_type="application/x-www-form-urlencoded",
        secure=True,
        **extra,
    )
    return response.status_code, response.content


def test_each_reader_gets_what_its_check_expects_and_only_that():
    [seeded] = seed_demo(students=150, seed=7, as_of=date.today(), district="demo")
    scenarios = Command().scenarios(seeded.district)
    assert len(scenarios) == 8
    answers = {scenario.name: answer(Client(), scenario) for scenario in scenarios}
    for scenario in scenarios:
        assert scenario.check(*answers[scenario.name]) is None, scenario.name
    family, classes = scenarios[0], scenarios[2]
    assert family.check(*answers[classes.name]) is not None
    assert classes.check(*answers[family.name]) is not None
