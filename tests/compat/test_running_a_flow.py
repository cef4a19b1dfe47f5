"""Running a Metaflow flow, import line changed: output, IncludeFile, Config, parameters,
resume and the flow file's commands (issue 15, "Running a flow").

One flow (`mf_running.py`) is run once for the whole module, with spawned workers; each test
reads one row's behaviour off that run. Commands that run no task are called in this
process, through the flow file's own command line, so that the module stays fast.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from shipyard.cli.flow_cli import build_cli
from shipyard.config import Config

from .test_metaflow_compat import SOURCES, ported

MOVIES = "title,year\nAlien,1979\nHeat,1995\n"
SUMMARY = "RunningFlow-by-tester:16:sci-fi,drama:FAST"


@dataclass
class Ran:
    root: Path
    env: dict[str, str]
    flow: Path
    flow_class: type
    pathspec: str = ""
    output: str = ""

    @property
    def run_id(self) -> str:
        return self.pathspec.split("/")[1]

    def call(self, *args: str, script: Path | None = None) -> subprocess.CompletedProcess[str]:
        """`python flow.py ARGS` (or another script) in a process of its own."""
        return subprocess.run(
            [sys.executable, str(script or self.flow), *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def command(self, *args: str) -> Result:
        """`python flow.py ARGS` for a command that runs no task, in this process."""
        return CliRunner().invoke(build_cli(self.flow_class), list(args))


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    root = tmp_path_factory.mktemp("running")
    store = root / "store"
    settings = {
        "SHIPYARD_DATASTORE": str(store),
        "SHIPYARD_METADATA": f"sqlite:///{store / 'metadata.db'}",
        "SHIPYARD_USER": "tester",
        "SHIPYARD_CONFIG": str(root / "no-config.toml"),
    }
    (root / "movies.csv").write_text(MOVIES)
    config = {"cpu": 1, "memory": 64, "model": {"threshold": 0.5}}
    (root / "config.json").write_text(json.dumps(config))
    (root / "settings.toml").write_text('[run]\nmode = "fast"\n')
    flow = ported(SOURCES / "mf_running.py", root)
    module_spec = importlib.util.spec_from_file_location("mf_running", flow)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "mf_running", module)  # where inspect finds its source
        module_spec.loader.exec_module(module)
        for key, value in settings.items():
            patch.setenv(key, value)
        patch.chdir(root)
        Config.reload()
        ran = Ran(root, {**os.environ, **settings}, flow, module.RunningFlow)
        done = ran.call(
            "run", "--batch-size", "16", "--genres", "sci-fi,drama", "--run-id-file", "id.txt",
            "--start-method", "spawn",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        ran.pathspec = f"RunningFlow/{(root / 'id.txt').read_text()}"
        ran.output = done.stdout
        yield ran


def test_step_output_is_shown_while_running_prefixed_by_the_task_pathspec(ran: Ran):
    assert f"[{ran.pathspec}/start/1] loaded 2 movies" in ran.output
    assert f"[{ran.pathspec}/start/1] a warning on stderr" in ran.output
    scored = re.findall(rf"\[{ran.pathspec}/score/\d+\] scoring (\w+)", ran.output)
    assert sorted(scored) == ["Alien", "Heat"]
    # ... and stored, as before
    assert ran.command("logs", f"{ran.run_id}/start").output == "loaded 2 movies\n"


def test_include_file_is_read_at_start_and_the_same_in_every_task_and_the_client(ran: Ran):
    client = ran.call(ran.pathspec, script=ported(SOURCES / "mf_running_client.py", ran.root))
    assert client.returncode == 0, client.stderr
    assert f"client ok {ran.pathspec} {SUMMARY}" in client.stdout
    missing = ran.command("run", "--movies", "nowhere.csv")
    assert missing.exit_code == 2
    assert "nowhere.csv" in missing.stderr and missing.exception is not None


def test_config_is_read_once_and_feeds_decorators_steps_and_the_client(ran: Ran):
    from shipyard import Run

    run = Run(ran.pathspec)
    assert run.data.same_config_everywhere and run.data.same_file_everywhere
    assert run["start"].task.data.mode == "FAST"  # @environment(vars=config_expr(...))
    # A value a decorator refuses is found before anything runs, at the step.
    refused = ran.command("--config-value", "cfg", '{"cpu": -2, "memory": 1}', "check")
    assert refused.exit_code == 2
    assert "step 'start'" in refused.stderr and "@resources" in refused.stderr
    assert ran.command("check").exit_code == 0  # the files' configuration again


def test_parameters_take_dashes_separators_and_computed_defaults(ran: Ran):
    from shipyard import Run

    assert Run(ran.pathspec).data.summary == SUMMARY
    shown = ran.command("run", "--help").output
    assert "--batch-size" in shown and "Rows per batch" in shown
    assert "computed when the run starts" in shown


def test_resume_takes_the_step_first_and_the_origin_run_as_an_option(ran: Ran):
    from shipyard import Flow

    resumed = ran.call("resume", "join", "--origin-run-id", ran.run_id, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming {ran.pathspec} as" in resumed.stdout
    assert "] scoring" not in resumed.stdout  # --quiet hides the steps' output
    latest = Flow("RunningFlow").latest_run
    assert latest is not None and latest.origin_run_id == ran.run_id
    assert latest.data.summary == SUMMARY


def test_flow_file_commands_as_in_metaflow(ran: Ran):
    assert ran.command("--no-pylint", "check").exit_code == 0
    dot = ran.command("output-dot").output
    assert '"start" -> "score" [label="foreach rows"]' in dot
    dumped = ran.command("dump", f"{ran.run_id}/end", "--include", "summary,titles").output
    assert f"summary: '{SUMMARY}'" in dumped
    assert "titles: ['Alien', 'Heat']" in dumped and "movies" not in dumped
    assert ran.command("tag", "add", "--run-id", ran.run_id, "reviewed", "v2").exit_code == 0
    assert ran.command("tag", "remove", "--run-id", ran.run_id, "v2").exit_code == 0
    listed = ran.command("tag", "list", "--run-id", ran.run_id).output
    assert listed.strip().endswith(": reviewed")
    assert ran.command("--datastore", "local", "--metadata", "local", "check").exit_code == 0
    remote = ran.command("--metadata", "service", "check")
    assert remote.exit_code == 2 and "SHIPYARD_METADATA" in remote.stderr
    too_wide = ran.call("run", "--max-num-splits", "1", "--start-method", "fork")
    assert too_wide.returncode == 1
    assert "more than --max-num-splits 1" in too_wide.stderr
    assert "] loaded 2 movies" in too_wide.stdout  # forked tasks' output is shown too
