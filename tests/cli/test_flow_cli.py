"""`python flow.py ...`: the command line every flow file gets, run for real in a subprocess."""

from __future__ import annotations

import re

from shipyard import Flow

from ..conftest import Home


def test_the_summary_counts_tasks_not_attempts(home: Home) -> None:
    done = home.run_flow("flaky_flow.py", "run", "--failures", "2", "--with", "retry")

    assert done.returncode == 0, done.stdout + done.stderr
    run = Flow("FlakyFlow").latest_run
    assert run is not None
    listed = [task for step in run for task in step]
    assert len(listed) == 3 and len(run["work"].task.attempts) == 3
    assert re.search(r"succeeded\S*: 3 tasks \(5 attempts\) in ", done.stdout), done.stdout


def test_a_run_without_retries_counts_its_tasks_alone(home: Home) -> None:
    done = home.run_flow("flaky_flow.py", "run", "--failures", "0")

    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"succeeded\S*: 3 tasks in ", done.stdout), done.stdout


def test_dash_h_is_help_like_on_the_shipyard_command(home: Home) -> None:
    for args in (["-h"], ["run", "-h"], ["resume", "-h"]):
        done = home.run_flow("flaky_flow.py", *args)

        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("Usage: flaky_flow.py"), done.stdout


def test_a_datastore_in_memory_is_refused_before_the_run(home: Home) -> None:
    home.env["SHIPYARD_DATASTORE"] = "memory://shipyard"

    done = home.run_flow("flaky_flow.py", "run", "--failures", "0")

    assert done.returncode == 2, done.stdout + done.stderr
    assert "lives in the memory of one process" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Run FlakyFlow/" not in done.stdout  # nothing started


def test_a_misspelled_key_in_the_configuration_file_is_one_line_naming_the_file(
    home: Home,
) -> None:
    config = home.root / "config.toml"
    config.write_text('executer = "ray"\n')
    home.env["SHIPYARD_CONFIG"] = str(config)

    done = home.run_flow("flaky_flow.py", "run", "--failures", "0")

    assert done.returncode == 2, done.stdout + done.stderr
    assert f"the configuration file {config} has unknown key(s): executer" in done.stderr
    assert "Traceback" not in done.stderr
