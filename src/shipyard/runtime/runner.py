"""`Runner`: run a flow file from Python or a notebook and get its `Run` back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.exceptions import ShipyardError

if TYPE_CHECKING:
    from shipyard.client import Run


class Runner:
    """Runs a flow in a child process, exactly as `python flow.py run` would.

    A separate process keeps a notebook's own state (threads, GPU handles, open
    connections) out of the forked task workers, and vice versa.
    """

    def __init__(
        self,
        flow_file: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.flow_file = Path(flow_file).resolve()
        if not self.flow_file.is_file():
            raise ShipyardError(f"no flow file at {self.flow_file}")
        self.env = dict(env or {})
        self.cwd = Path(cwd) if cwd else Path.cwd()
        self.stdout = ""
        self.stderr = ""
        self.returncode: int | None = None

    def run(
        self,
        *,
        max_workers: int | None = None,
        tags: Sequence[str] = (),
        executor: str | None = None,
        ray_address: str | None = None,
        with_: Sequence[str] = (),
        gpus: int | None = None,
        start_method: str | None = None,
        **parameters: Any,
    ) -> Run:
        """Run the flow with these parameters; returns the `Run`, successful or not.

        `executor="ray"` (and optionally `ray_address`) runs the tasks on a Ray cluster.
        `gpus` and `start_method` ("fork" or "spawn") are `--gpus` and `--start-method`.
        `with_` attaches step decorators to every step, as `--with` does on the command
        line: `with_=["retry", "catch:var=err"]`.
        """
        from shipyard.client import Run

        with tempfile.TemporaryDirectory(prefix="shipyard-runner-") as tmp:
            attribute_file = Path(tmp) / "run.json"
            command = [sys.executable, str(self.flow_file), "run", "--quiet"]
            command += ["--runner-attribute-file", str(attribute_file)]
            if max_workers:
                command += ["--max-workers", str(max_workers)]
            if executor:
                command += ["--executor", executor]
            if gpus is not None:
                command += ["--gpus", str(gpus)]
            if start_method:
                command += ["--start-method", start_method]
            if ray_address:
                command += ["--ray-address", ray_address]
            for tag in tags:
                command += ["--tag", tag]
            for decorator in with_:
                command += ["--with", decorator]
            for name, value in parameters.items():
                command += [f"--{name}", _cli_value(value)]
            completed = subprocess.run(
                command,
                cwd=self.cwd,
                env={**os.environ, **self.env},
                capture_output=True,
                text=True,
                check=False,
            )
            self.stdout, self.stderr = completed.stdout, completed.stderr
            self.returncode = completed.returncode
            if not attribute_file.exists():
                raise ShipyardError(
                    f"the flow {self.flow_file.name} did not start:\n{completed.stderr.strip()}"
                )
            attributes = json.loads(attribute_file.read_text())
        return Run(attributes["pathspec"])


def _cli_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value)
