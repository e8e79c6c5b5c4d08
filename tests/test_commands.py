"""Every management command of the project loads: a command that only runs by hand
(a benchmark, an operator's tool) must not break unnoticed when the code it uses moves."""

from __future__ import annotations

import pytest
from django.core.management import get_commands, load_command_class

PROJECT_APPS = ("access", "accounts", "records", "reports", "studentdata")
COMMANDS = sorted(name for name, app in get_commands().items() if app in PROJECT_APPS)


def test_the_project_has_commands():
    assert {"import_oneroster", "seed_demo", "bench_access", "bench_staff"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_loads_and_says_what_it_does(name):
    command = load_command_class(get_commands()[name], name)
    assert command.help.strip()
