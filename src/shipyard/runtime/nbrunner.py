"""`NBRunner`: run a flow defined in a notebook cell, as Metaflow's NBRunner does.

A flow runs from a file (the task workers import it, and the run keeps it as its code
snapshot), but a notebook's flow lives in a cell. As Metaflow does, the cell's source is
written to a file of its own, cut after the flow's class and ended with the call that makes
it a flow file. Outside IPython the source is the module that defines the class (a script run
as `__main__`), cut the same way, so that code after the class does not run again.
"""

from __future__ import annotations

import ast
import inspect
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.exceptions import ShipyardError
from shipyard.runtime.runner import ExecutingRun, Runner

if TYPE_CHECKING:
    from shipyard.client import Run

__all__ = ["NBRunner", "flow_file_source"]


class NBRunner:
    """Runs the flow class `flow`, defined in the current notebook cell (or script).

    `run = NBRunner(MyFlow).nbrun(alpha=0.5)` runs it and returns the client `Run`; `run`,
    `resume`, `async_run` and `async_resume` are `Runner`'s. The flow file is written into
    `base_dir` (default: the current folder) and deleted by `cleanup()` (which `nbrun` and
    `nbresume` call).
    """

    def __init__(
        self,
        flow: type,
        show_output: bool = True,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        file_read_timeout: int = 3600,
        **kwargs: Any,
    ) -> None:
        self.flow = flow
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        source = flow_file_source(_defining_source(flow), flow.__name__)  # refused: no file
        handle, name = tempfile.mkstemp(prefix=flow.__name__, suffix=".py", dir=self.base_dir)
        with os.fdopen(handle, "w", encoding="utf-8") as fh:
            fh.write(source)
        self.flow_file = Path(name)
        self.runner = Runner(
            self.flow_file,
            show_output=show_output,
            profile=profile,
            # A notebook server's own variable would make the child think it is one.
            env={**(env or {}), "JPY_PARENT_PID": ""},
            cwd=self.base_dir,
            file_read_timeout=file_read_timeout,
            **kwargs,
        )

    def nbrun(self, **kwargs: Any) -> Run:
        """Run the flow, wait for it, clean up, and return the client `Run`."""
        try:
            return self.runner.run(**kwargs).run
        finally:
            self.cleanup()

    def nbresume(self, **kwargs: Any) -> Run:
        """Resume a run of the flow, wait for it, clean up, and return the client `Run`."""
        try:
            return self.runner.resume(**kwargs).run
        finally:
            self.cleanup()

    def run(self, **kwargs: Any) -> ExecutingRun:
        return self.runner.run(**kwargs)

    def resume(self, **kwargs: Any) -> ExecutingRun:
        return self.runner.resume(**kwargs)

    async def async_run(self, **kwargs: Any) -> ExecutingRun:
        return await self.runner.async_run(**kwargs)

    async def async_resume(self, **kwargs: Any) -> ExecutingRun:
        return await self.runner.async_resume(**kwargs)

    def cleanup(self) -> None:
        """Stop what the runner started and delete the flow file written for it."""
        self.runner.cleanup()
        self.flow_file.unlink(missing_ok=True)


def flow_file_source(source: str, flow_name: str) -> str:
    """`source` cut after the class `flow_name`, ended with the `__main__` call that makes
    it a flow file; raises `ShipyardError` if the source defines no such class."""
    classes = [
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef) and node.name == flow_name
    ]
    if not classes:
        raise ShipyardError(
            f"the flow class {flow_name} is not defined in this cell: define the flow and "
            "call NBRunner in the same cell"
        )
    lines = source.splitlines()[: classes[-1].end_lineno]
    return "\n".join([*lines, "", "", 'if __name__ == "__main__":', f"    {flow_name}()", ""])


def _defining_source(flow: type) -> str:
    cell = _current_cell()
    if cell is not None:
        return cell
    module = sys.modules.get(flow.__module__)
    try:
        return inspect.getsource(module) if module is not None else ""
    except (OSError, TypeError):
        raise ShipyardError(
            f"the source of {flow.__name__} cannot be found: NBRunner runs a flow defined in "
            "a notebook cell or a script; use Runner with the flow's file instead"
        ) from None


def _current_cell() -> str | None:
    """The source of the notebook cell being run, if this is IPython."""
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:
        return None
    shell = ipython_module.get_ipython()
    if shell is None:
        return None
    history: list[str] = shell.history_manager.input_hist_raw
    return history[-1] if history else None
