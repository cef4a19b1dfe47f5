"""`Runner`: run a flow file from Python or a notebook, as Metaflow's Runner API does.

    with Runner("train_flow.py", show_output=False) as runner:
        result = runner.run(alpha=0.5)
        print(result.status, result.run.data.score)

The flow runs in a child process, exactly as `python flow.py run` would: a separate process
keeps a notebook's own state (threads, GPU handles, open connections) out of the forked task
workers, and vice versa. `run`/`resume` wait for the run to end; `async_run`/`async_resume`
return as soon as it is recorded, with `wait()` and `stream_log()` to follow it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from shipyard.config import Config
from shipyard.exceptions import ShipyardError
from shipyard.runtime.child_process import ChildProcess, LogStream

if TYPE_CHECKING:
    from shipyard.client import ClientContext, Run

__all__ = ["ExecutingRun", "Runner", "cli_arguments"]

ProcessStatus = Literal["running", "successful", "failed", "timeout"]

#: Keyword arguments given as a list that become one option per element.
_REPEATED = {"tags": "tag", "with_": "with", "decospecs": "with"}
#: Options that are flags on the command line (the rest take a value).
_FLAGS = frozenset({"quiet", "new_metadata"})
#: Metaflow's top-level options that mean nothing here: the graph lint always runs.
_IGNORED = frozenset({"pylint"})
#: Metaflow's top-level options that are options of Shipyard's `run` and `resume`.
_COMMAND_LEVEL = frozenset({"quiet", "decospecs", "with_"})
#: How often `async_run` looks for the run to be recorded.
_POLL_SECONDS = 0.05
_ATTRIBUTE_FILE = "run.json"


class ExecutingRun:
    """A run started by `Runner`: the client `Run` and the process that executes it.

    For the simple form that predates Metaflow's API (`Runner(...).run().data`), attributes
    and items it does not have itself are the `Run`'s.
    """

    def __init__(
        self, runner: Runner, process: ChildProcess, pathspec: str, context: ClientContext
    ) -> None:
        self.runner = runner
        self.process = process
        self.pathspec = pathspec
        self._context = context
        self._final: Run | None = None

    @property
    def run(self) -> Run:
        """The client `Run`, read afresh while the run goes on, once more when it ended."""
        if self._final is not None:
            return self._final
        from shipyard.client import Run, in_namespace

        # The child may run as another user (SHIPYARD_USER in `env`): its run is ours to see.
        with in_namespace(None):
            run = Run(self.pathspec, context=self._context)
        if self.process.done:
            self._final = run
        return run

    @property
    def returncode(self) -> int | None:
        """The child process's exit status: 0 succeeded, 1 a task failed; None while it runs."""
        return self.process.returncode

    @property
    def status(self) -> ProcessStatus:
        """`running`, `successful`, `failed`, or `timeout` when `wait(timeout=...)` stopped it."""
        if self.process.timed_out:
            return "timeout"
        code = self.process.returncode
        if code is None:
            return "running"
        return "successful" if code == 0 else "failed"

    @property
    def stdout(self) -> str:
        """What the run printed to standard output so far (all of it once it ended)."""
        return self.process.output("stdout")

    @property
    def stderr(self) -> str:
        """What the run printed to standard error so far (all of it once it ended)."""
        return self.process.output("stderr")

    async def wait(
        self, timeout: float | None = None, stream: LogStream | None = None
    ) -> ExecutingRun:
        """Wait for the run to end, printing `stream` ("stdout" or "stderr") meanwhile if
        given; after `timeout` seconds the run is stopped and `status` is `timeout`."""

        async def follow() -> None:
            if stream is not None:
                async for _, line in self.process.stream_log(stream):
                    print(line)
            await asyncio.to_thread(self.process.wait)

        try:
            await asyncio.wait_for(follow(), timeout)
        except TimeoutError:
            self.process.timed_out = True
            await asyncio.to_thread(self.process.stop)
        return self

    async def stream_log(
        self, stream: LogStream, position: int | None = None
    ) -> AsyncIterator[tuple[int, str]]:
        """Each line of `stream` as it is written, with the position after it (give it back
        as `position` to resume), until the run ends."""
        async for item in self.process.stream_log(stream, position):
            yield item

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.run, name)

    def __getitem__(self, step_name: str) -> Any:
        return self.run[step_name]

    def __enter__(self) -> ExecutingRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.runner.cleanup()

    def __repr__(self) -> str:
        return f"ExecutingRun({self.pathspec!r}, status={self.status!r})"


class Runner:
    """Runs and resumes a flow file in a child process and hands back `ExecutingRun`s.

    `show_output` echoes the run's output here while `run`/`resume` wait (the async forms
    never echo; use `stream_log`). `env` is added to this process's environment for the
    child, `cwd` is where it runs (default: here). Other keyword arguments are the flow
    file's top-level options (`metadata="local"`); Metaflow's `pylint` is accepted and
    ignored, since Shipyard's structural lint always runs. Used as a context manager, it
    stops what it started and deletes its log files on exit.
    """

    def __init__(
        self,
        flow_file: str | os.PathLike[str],
        show_output: bool = True,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        file_read_timeout: int = 3600,
        **kwargs: Any,
    ) -> None:
        self.flow_file = Path(flow_file).resolve()
        if not self.flow_file.is_file():
            raise ShipyardError(f"no flow file at {self.flow_file}")
        if profile is not None:
            raise ShipyardError(
                "Shipyard has no configuration profiles: pass the settings as env="
                "{'SHIPYARD_DATASTORE': ..., 'SHIPYARD_METADATA': ...} instead"
            )
        self.show_output = show_output
        self.env = {**os.environ, **(env or {})}
        self.cwd = Path(cwd).resolve() if cwd else Path.cwd()
        self.file_read_timeout = file_read_timeout
        self.top_level = {k: v for k, v in kwargs.items() if k not in _IGNORED}
        self._started: list[ChildProcess] = []

    # -- the four ways to start -----------------------------------------------------------

    def run(self, **kwargs: Any) -> ExecutingRun:
        """Run the flow and wait for it to end; returns the run, successful or not.

        Keyword arguments are the flow's parameters and `run`'s options: `tags=[...]`,
        `max_workers=4`, `executor="ray"`, `with_=["retry"]` (Metaflow's `decospecs`).
        Raises `ShipyardError` with the reason when the flow could not start.
        """
        return self._started_and_waited("run", kwargs)

    def resume(self, **kwargs: Any) -> ExecutingRun:
        """Resume a run and wait for it to end: `origin_run_id="12"` (default: your latest
        run), `step_to_rerun="train"` to run again from that step."""
        return self._started_and_waited("resume", kwargs)

    async def async_run(self, **kwargs: Any) -> ExecutingRun:
        """Start the flow and return once the run is recorded; see `run`."""
        return await self._started_async("run", kwargs)

    async def async_resume(self, **kwargs: Any) -> ExecutingRun:
        """Start resuming a run and return once the new run is recorded; see `resume`."""
        return await self._started_async("resume", kwargs)

    # -- context manager -----------------------------------------------------------------

    def __enter__(self) -> Runner:
        return self

    async def __aenter__(self) -> Runner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.cleanup()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        """Stop every run this runner started that still runs, and delete their log files."""
        while self._started:
            self._started.pop().cleanup()

    # -- internals -----------------------------------------------------------------------

    def _start(self, command: str, kwargs: dict[str, Any], *, echo: bool) -> ChildProcess:
        folder = Path(tempfile.mkdtemp(prefix="shipyard-runner-"))
        # The child writes its run's pathspec there as soon as the run is recorded.
        options = {**kwargs, "runner_attribute_file": str(folder / _ATTRIBUTE_FILE)}
        process = ChildProcess(
            [sys.executable, *cli_arguments(self.flow_file, command, self.top_level, options)],
            env=self.env,
            cwd=self.cwd,
            show_output=echo,
            folder=folder,
        )
        self._started.append(process)
        return process

    def _started_and_waited(self, command: str, kwargs: dict[str, Any]) -> ExecutingRun:
        process = self._start(command, kwargs, echo=self.show_output)
        process.wait()
        return self._executing(process)

    async def _started_async(self, command: str, kwargs: dict[str, Any]) -> ExecutingRun:
        process = self._start(command, kwargs, echo=False)
        attribute_file = process.folder / _ATTRIBUTE_FILE
        deadline = time.monotonic() + self.file_read_timeout
        while not attribute_file.exists() and not process.done:
            if time.monotonic() > deadline:
                process.stop()
                raise ShipyardError(
                    f"the flow {self.flow_file.name} was not recorded within "
                    f"{self.file_read_timeout}s (file_read_timeout); it was stopped"
                )
            await asyncio.sleep(_POLL_SECONDS)
        return self._executing(process)

    def _executing(self, process: ChildProcess) -> ExecutingRun:
        attribute_file = process.folder / _ATTRIBUTE_FILE
        if not attribute_file.exists():
            process.wait()
            raise ShipyardError(
                f"the flow {self.flow_file.name} did not start:\n{process.output('stderr').strip()}"
            )
        attributes = json.loads(attribute_file.read_text())
        return ExecutingRun(self, process, attributes["pathspec"], self._child_context())

    def _child_context(self) -> ClientContext:
        """The stores the child records its run in: its configuration, read with its
        environment in its folder."""
        from shipyard.client import ClientContext

        config = Config.load(environ=self.env, cwd=self.cwd)
        return ClientContext.from_config(config, folder=self.cwd)


def cli_arguments(
    flow_file: Path, command: str, top_level: Mapping[str, Any], options: Mapping[str, Any]
) -> list[str]:
    """The command line for `python flow.py <top-level options> <command> <options>`:
    `max_workers=4` is `--max-workers 4`, a flag is given when true, `tags` (`--tag`) and
    `with_`/`decospecs` (`--with`) repeat their option per element, other lists and dicts
    are JSON; `resume`'s `origin_run_id` is its argument and `step_to_rerun` its `--step`."""
    command_options = {k: v for k, v in top_level.items() if k in _COMMAND_LEVEL}
    arguments = [str(flow_file)]
    for name, value in top_level.items():
        if name not in _COMMAND_LEVEL:
            arguments += _option(name, value)
    arguments.append(command)
    for name, value in {**command_options, **options}.items():
        if name == "origin_run_id":
            # `resume RUN_ID`: the form every version of the command line takes.
            arguments.append(str(value))
        else:
            arguments += _option(name, value)
    return arguments


def _option(name: str, value: Any) -> list[str]:
    if name == "step_to_rerun":
        name = "step"
    flag = "--" + _REPEATED.get(name, name).replace("_", "-")
    if name in _FLAGS:
        return [flag] if value else []
    if value is None:
        return []
    if name in _REPEATED:
        values = [value] if isinstance(value, str) else list(value)
        return [part for item in values for part in (flag, _cli_value(item))]
    return [flag, _cli_value(value)]


def _cli_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value)
