"""`shipyard experiments ...` against a real store: the life of an experiment, and errors."""

from __future__ import annotations

from click.testing import CliRunner, Result

from shipyard.cli.main import cli
from shipyard.registry import models

from ..conftest import Home
from ..experiments.constant import constant_model


def shipyard(*args: str) -> Result:
    return CliRunner().invoke(cli, ["experiments", *args], env={"COLUMNS": "200"})


def test_create_start_show_list_stop_and_history(home: Home) -> None:
    models.register("ranker", constant_model(1.0))
    models.register("ranker", constant_model(2.0))
    models.set_alias("ranker", "production", 1)

    created = shipyard(
        "create", "ranker-v4", "--cell", "control=ranker@production", "--cell",
        "treatment=ranker/2", "--allocation", "control=0.6", "--allocation", "treatment=0.4",
        "--unit", "member_id",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "draft" in created.stdout and "member_id" in created.stdout

    started = shipyard("start", "ranker-v4")
    assert started.exit_code == 0, started.output
    control_row = next(line for line in started.stdout.splitlines() if "ranker@production" in line)
    assert control_row.split()[2:] == ["1", "0.6"]  # the alias resolved to version 1

    listed = shipyard("list", "--state", "running")
    assert listed.exit_code == 0, listed.output
    assert "ranker-v4" in listed.stdout and "control=ranker@production (v1) 0.6" in listed.stdout

    assert shipyard("stop", "ranker-v4").exit_code == 0
    shown = shipyard("show", "ranker-v4")
    assert "stopped" in shown.stdout

    history = shipyard("history", "ranker-v4")
    assert history.exit_code == 0, history.output
    actions = [line.split()[2] for line in history.stdout.splitlines() if "tester" in line]
    assert actions == ["created", "started", "stopped"]


def test_bad_definitions_fail_with_one_line_saying_what_is_wrong(home: Home) -> None:
    models.register("ranker", constant_model(1.0))
    reused = shipyard("create", "x", "--cell", "control=ranker/1", "--cell", "control=ranker/1")
    assert reused.exit_code == 1
    assert "cell name 'control' is used twice" in reused.stderr

    uneven = shipyard(
        "create", "x", "--cell", "control=ranker/1", "--cell", "treatment=ranker/1",
        "--allocation", "control=0.5", "--allocation", "treatment=0.6",
    )  # fmt: skip
    assert uneven.exit_code == 1
    assert "must sum to 1" in uneven.stderr

    unknown = shipyard("create", "x", "--cell", "control=ranker@staging")
    assert unknown.exit_code == 1
    assert "'ranker@staging' names no model version" in unknown.stderr
    assert "Traceback" not in unknown.output
