"""The `shipyard` command, invoked through click's runner against real stores."""

from __future__ import annotations

import operator
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from shipyard.cli.main import cli
from shipyard.cli.output import format_seconds
from shipyard.client import default_namespace
from shipyard.config import Config
from shipyard.exceptions import INFRASTRUCTURE_EXIT_CODE
from shipyard.metadata.records import TaskStatus

from ..client.conftest import History, open_history


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[History]:
    written = open_history(tmp_path, monkeypatch)
    yield written
    written.metadata.close()
    default_namespace()


def shipyard(*args: str) -> Result:
    Config.reload()  # as a `shipyard` process would, which reads it when it starts
    # Wide enough that rich never folds a pathspec across lines.
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})


def rows_of(output: str, prefix: str) -> list[str]:
    """The first cell of each table row starting with `prefix`, top to bottom."""
    return [line.split()[0] for line in rows_of_lines(output, prefix)]


def rows_of_lines(output: str, prefix: str) -> list[str]:
    """The table rows (stripped lines) starting with `prefix`, top to bottom."""
    return [line.strip() for line in output.splitlines() if line.strip().startswith(prefix)]


# -- runs ----------------------------------------------------------------------------------


def test_runs_lists_the_users_runs_newest_first(history: History) -> None:
    first = history.successful_run()
    second = history.failed_run()
    result = shipyard("runs")
    assert result.exit_code == 0
    assert rows_of(result.stdout, "TrainFlow/") == [f"TrainFlow/{second}", f"TrainFlow/{first}"]


def test_runs_shows_status_user_and_tags(history: History) -> None:
    history.successful_run(tags=["prod"])
    line = rows_of_lines(shipyard("runs").stdout, "TrainFlow/")[0]
    assert (line.split()[1], line.split()[2], line.split()[-1]) == ("succeeded", "alice", "prod")


def test_runs_hides_other_users_runs_by_default(history: History) -> None:
    mine = history.successful_run()
    history.successful_run(user="bob")
    assert rows_of(shipyard("runs").stdout, "TrainFlow/") == [f"TrainFlow/{mine}"]


def test_runs_all_users_shows_everyones_runs(history: History) -> None:
    history.successful_run()
    history.successful_run(user="bob")
    assert "bob" in shipyard("runs", "--all-users").stdout


def test_runs_of_one_flow_leaves_other_flows_out(history: History) -> None:
    history.successful_run("TrainFlow")
    other = history.successful_run("OtherFlow")
    output = shipyard("runs", "OtherFlow").stdout
    assert rows_of(output, "OtherFlow/") == [f"OtherFlow/{other}"]
    assert "TrainFlow/" not in output


def test_runs_filters_by_every_tag_given(history: History) -> None:
    both = history.successful_run(tags=["prod", "v2"])
    history.successful_run(tags=["prod"])
    result = shipyard("runs", "--tag", "prod", "--tag", "v2")
    assert rows_of(result.stdout, "TrainFlow/") == [f"TrainFlow/{both}"]


def test_runs_limit_keeps_the_newest_and_says_more_exist(history: History) -> None:
    ids = [history.successful_run() for _ in range(3)]
    result = shipyard("runs", "--limit", "2")
    assert rows_of(result.stdout, "TrainFlow/") == [f"TrainFlow/{ids[2]}", f"TrainFlow/{ids[1]}"]
    assert "--limit" in result.stdout


def test_runs_without_runs_points_at_all_users(history: History) -> None:
    history.successful_run(user="bob")
    result = shipyard("runs")
    assert result.exit_code == 0
    assert "--all-users" in result.stdout


def test_runs_of_an_unknown_flow_fails_with_a_message(history: History) -> None:
    history.successful_run()
    result = shipyard("runs", "NoSuchFlow")
    assert result.exit_code == 1
    assert "error: flow 'NoSuchFlow' does not exist" in result.stderr
    assert "Traceback" not in result.output


def test_runs_answers_without_importing_sqlalchemy_or_fsspec(history: History) -> None:
    # Start-up time: listing reads SQLite directly, so SQLAlchemy (~0.2 s) is never imported.
    history.successful_run()
    code = (
        "import sys\n"
        "from shipyard.cli.main import main\n"
        "sys.argv = ['shipyard', 'runs']\n"
        "try:\n    main()\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print('sqlalchemy' in sys.modules, 'fsspec' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=os.environ.copy(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False False"


def test_importing_the_command_imports_nothing_heavy() -> None:
    code = (
        "import sys, shipyard.cli.main\n"
        "print(sorted(m for m in ('sqlalchemy', 'rich', 'fsspec', 'alembic') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


# -- show ----------------------------------------------------------------------------------


def test_show_run_gives_status_parameters_tags_and_steps(history: History) -> None:
    run_id = history.successful_run(tags=["prod"])
    result = shipyard("show", f"TrainFlow/{run_id}")
    assert result.exit_code == 0
    assert "succeeded" in result.stdout
    assert "alpha" in result.stdout and "0.5" in result.stdout
    assert "prod" in result.stdout
    steps = rows_of_lines(result.stdout, "train ")
    assert steps[0].split()[:4] == ["train", "2", "2", "succeeded"]


def test_show_run_lists_steps_in_order(history: History) -> None:
    run_id = history.successful_run()
    output = shipyard("show", f"TrainFlow/{run_id}").stdout
    assert output.index("start ") < output.index("train ") < output.index("end ")


def test_show_failed_run_counts_failed_tasks(history: History) -> None:
    run_id = history.failed_run()
    result = shipyard("show", f"TrainFlow/{run_id}")
    assert "failed" in result.stdout
    assert rows_of_lines(result.stdout, "train ")[0].split()[1:4] == ["1", "1", "failed"]


def test_show_step_lists_its_tasks(history: History) -> None:
    run_id = history.successful_run()
    result = shipyard("show", f"TrainFlow/{run_id}/train")
    assert rows_of(result.stdout, "TrainFlow/") == [
        f"TrainFlow/{run_id}/train/2",
        f"TrainFlow/{run_id}/train/3",
    ]


def test_show_task_gives_attempts_and_artifacts(history: History) -> None:
    run_id = history.successful_run()
    result = shipyard("show", f"TrainFlow/{run_id}/end/4")
    assert result.exit_code == 0
    assert "Attempts" in result.stdout
    model = rows_of_lines(result.stdout, "model")[0].split()
    assert model[:2] == ["model", "builtins.dict"]


def test_show_failed_task_prints_its_error(history: History) -> None:
    run_id = history.failed_run()
    result = shipyard("show", f"TrainFlow/{run_id}/train/2")
    assert "ValueError: alpha too large" in result.stdout


def test_show_task_gives_the_error_of_each_failed_attempt(history: History) -> None:
    run_id = history.run()
    history.task(
        "TrainFlow", run_id, "a", "1", status=TaskStatus.FAILED, error="Traceback\nOSError: flaky"
    )
    history.task("TrainFlow", run_id, "a", "1", attempt=1)
    attempt_rows = rows_of_lines(shipyard("show", f"TrainFlow/{run_id}/a/1").stdout, "0 ")
    assert attempt_rows[0].endswith("OSError: flaky")


def test_show_artifact_prints_its_value(history: History) -> None:
    run_id = history.successful_run()
    result = shipyard("show", f"TrainFlow/{run_id}/end/4/model")
    assert "{'weights': [1, 2, 3]}" in result.stdout


def test_show_flow_lists_its_runs(history: History) -> None:
    run_id = history.successful_run()
    assert f"TrainFlow/{run_id}" in shipyard("show", "TrainFlow").stdout


def test_show_reaches_another_users_run_by_pathspec(history: History) -> None:
    theirs = history.successful_run(user="bob")
    result = shipyard("show", f"TrainFlow/{theirs}")
    assert result.exit_code == 0
    assert "bob" in result.stdout


def test_show_of_an_unknown_run_fails_with_a_message(history: History) -> None:
    history.successful_run()
    result = shipyard("show", "TrainFlow/999")
    assert result.exit_code == 1
    assert "run 'TrainFlow/999' does not exist" in result.stderr
    assert "Traceback" not in result.output


def test_show_of_a_malformed_pathspec_names_the_expected_forms(history: History) -> None:
    result = shipyard("show", "TrainFlow//2")
    assert result.exit_code == 1
    assert "FlowName/run_id" in result.stderr


def test_user_data_that_looks_like_markup_is_printed_as_is(history: History) -> None:
    run_id = history.successful_run(tags=["[bold]x[/bold]"])
    assert "[bold]x[/bold]" in shipyard("show", f"TrainFlow/{run_id}").stdout


# -- tasks ---------------------------------------------------------------------------------


def test_tasks_lists_every_task_of_a_run(history: History) -> None:
    run_id = history.successful_run()
    result = shipyard("tasks", f"TrainFlow/{run_id}")
    assert len(rows_of(result.stdout, "TrainFlow/")) == 4


def test_tasks_shows_the_error_of_failed_tasks(history: History) -> None:
    run_id = history.failed_run()
    assert "ValueError: alpha too large" in shipyard("tasks", f"TrainFlow/{run_id}").stdout


# -- logs ----------------------------------------------------------------------------------


def test_logs_of_a_task_prints_its_stdout_exactly(history: History) -> None:
    run_id = history.successful_run()
    result = shipyard("logs", f"TrainFlow/{run_id}/train/3")
    assert (result.exit_code, result.stdout) == (0, "training b\n")


def test_logs_stderr_prints_the_error_stream(history: History) -> None:
    run_id = history.failed_run()
    result = shipyard("logs", "--stderr", f"TrainFlow/{run_id}/train/2")
    assert result.stdout.endswith("ValueError: alpha too large\n")


def test_logs_attempt_prints_an_earlier_attempt(history: History) -> None:
    run_id = history.run()
    history.task("TrainFlow", run_id, "a", "1", status=TaskStatus.FAILED, stdout="first\n")
    history.task("TrainFlow", run_id, "a", "1", attempt=1, stdout="second\n")
    assert shipyard("logs", f"TrainFlow/{run_id}/a/1").stdout == "second\n"
    assert shipyard("logs", "--attempt", "0", f"TrainFlow/{run_id}/a/1").stdout == "first\n"


def test_logs_of_an_attempt_never_made_fails(history: History) -> None:
    run_id = history.successful_run()
    result = shipyard("logs", "--attempt", "3", f"TrainFlow/{run_id}/end/4")
    assert result.exit_code == 1
    assert "no attempt 3" in result.stderr


def test_logs_of_a_step_prints_each_task_under_a_header(history: History) -> None:
    run_id = history.successful_run()
    lines = shipyard("logs", f"TrainFlow/{run_id}/train").stdout.splitlines()
    assert lines == [
        f"==> TrainFlow/{run_id}/train/2 (stdout, last attempt) <==",
        "training a",
        f"==> TrainFlow/{run_id}/train/3 (stdout, last attempt) <==",
        "training b",
    ]


def test_logs_of_a_run_covers_every_step(history: History) -> None:
    run_id = history.successful_run()
    output = shipyard("logs", f"TrainFlow/{run_id}").stdout
    assert [line for line in output.splitlines() if not line.startswith("==>")] == [
        "starting",
        "training a",
        "training b",
        "done",
    ]


def test_logs_with_nothing_stored_say_so_on_stderr(history: History) -> None:
    run_id = history.failed_run()
    result = shipyard("logs", f"TrainFlow/{run_id}/train/2")
    assert (result.exit_code, result.stdout) == (0, "")
    assert "no stdout stored" in result.stderr


def test_logs_of_a_run_leave_out_tasks_that_printed_nothing(history: History) -> None:
    run_id = history.failed_run()
    lines = shipyard("logs", f"TrainFlow/{run_id}").stdout.splitlines()
    assert lines == [f"==> TrainFlow/{run_id}/start/1 (stdout, last attempt) <==", "starting"]


def test_logs_of_a_flow_is_a_usage_error(history: History) -> None:
    history.successful_run()
    result = shipyard("logs", "TrainFlow")
    assert result.exit_code == 1
    assert "run, step or task pathspec" in result.stderr


# -- artifacts -----------------------------------------------------------------------------


def test_artifacts_of_a_task_lists_name_type_and_size(history: History) -> None:
    run_id = history.successful_run()
    result = shipyard("artifacts", f"TrainFlow/{run_id}/end/4")
    score = rows_of_lines(result.stdout, "score")[0].split()
    assert score[:4] == ["score", "builtins.float", "41", "B"]


def test_artifacts_of_a_step_names_the_task_of_each(history: History) -> None:
    run_id = history.successful_run()
    result = shipyard("artifacts", f"TrainFlow/{run_id}/train")
    assert rows_of(result.stdout, "train/") == ["train/2"] * 3 + ["train/3"] * 3


def test_artifacts_show_prints_the_values_repr(history: History) -> None:
    run_id = history.successful_run()
    result = shipyard("artifacts", f"TrainFlow/{run_id}/end/4", "--show", "model")
    assert result.stdout == "{'weights': [1, 2, 3]}\n"


def test_artifacts_show_on_a_step_prints_each_tasks_value(history: History) -> None:
    run_id = history.successful_run()
    result = shipyard("artifacts", f"TrainFlow/{run_id}/train", "--show", "item")
    assert result.stdout.splitlines() == [
        f"==> TrainFlow/{run_id}/train/2/item <==",
        "'a'",
        f"==> TrainFlow/{run_id}/train/3/item <==",
        "'b'",
    ]


def test_artifacts_show_truncates_a_large_value(history: History) -> None:
    run_id = history.run()
    history.task("TrainFlow", run_id, "start", "1", artifacts={"big": list(range(100_000))})
    result = shipyard("artifacts", f"TrainFlow/{run_id}/start/1", "--show", "big")
    assert result.stdout.startswith("[0, 1, 2")
    assert len(result.stdout) < 500


def test_artifacts_show_of_a_missing_name_lists_the_available_ones(history: History) -> None:
    run_id = history.successful_run()
    result = shipyard("artifacts", f"TrainFlow/{run_id}/end/4", "--show", "weights")
    assert result.exit_code == 1
    assert "its artifacts are: model, score" in result.stderr


# -- errors --------------------------------------------------------------------------------


class FailsToLoad:
    """Pickles as a call that raises KeyError when loaded: an error Shipyard does not expect."""

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (operator.getitem, ({}, "gone"))


def test_an_unexpected_error_is_one_line_without_traceback(history: History) -> None:
    run_id = history.run()
    history.task("TrainFlow", run_id, "start", "1", artifacts={"odd": FailsToLoad()})
    result = shipyard("show", f"TrainFlow/{run_id}/start/1/odd")
    assert result.exit_code == 1
    assert "error: unexpected" in result.stderr
    assert "--debug" in result.stderr
    assert "Traceback" not in result.output


def test_debug_lets_the_traceback_through(history: History) -> None:
    run_id = history.run()
    history.task("TrainFlow", run_id, "start", "1", artifacts={"odd": FailsToLoad()})
    result = shipyard("--debug", "show", f"TrainFlow/{run_id}/start/1/odd")
    assert result.exit_code == 1
    assert result.exception is not None
    assert not isinstance(result.exception, SystemExit)


def test_a_metadata_database_that_cannot_be_opened_is_one_line_and_exit_code_3(
    history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A directory where the database file should be: SQLite cannot open it.
    monkeypatch.setenv("SHIPYARD_METADATA", f"sqlite:///{tmp_path}")
    result = shipyard("show", "TrainFlow/1")
    assert result.exit_code == INFRASTRUCTURE_EXIT_CODE == 3
    assert result.stderr.startswith(f"error: cannot use the metadata database {tmp_path}: ")
    assert "unable to open database file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unknown_metadata_url_is_one_line_and_exit_code_3(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_METADATA", "nosuchdb://host/db")
    result = shipyard("runs")
    assert result.exit_code == INFRASTRUCTURE_EXIT_CODE
    assert "nosuchdb://host/db" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(4.24, "4.2s"), (184, "3m 04s"), (7500, "2h 05m"), (273_600, "3d 04h"), (-1, "0.0s")],
)
def test_durations_read_like_people_write_them(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


@pytest.mark.parametrize("command", ["runs", "gc", "models", "serve"])
def test_every_command_works_when_the_module_is_run_directly(command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shipyard.cli.main", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"Usage: shipyard {command}" in done.stdout
