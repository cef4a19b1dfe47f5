"""`current`: where the running task is (flow, run, step, task, attempt, user, tags, gang).

As in Metaflow, every field is None outside a running task (a notebook, a test, the client),
so code shared between steps and scripts can test `current.is_running_flow` or a field
instead of catching exceptions.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

from shipyard.flow.parallel import Parallel
from shipyard.plugs import Plug

#: The client object (`Run` or `Task`) at a pathspec, for `current.run` / `current.task`.
#: The client sits above this layer; the package root installs it.
client_object: Plug[[str], Any] = Plug("the client objects behind current.run and current.task")

#: Metaflow's `@project` tags: `current.project_name` / `branch_name` are read from them.
PROJECT_TAG, BRANCH_TAG, PRODUCTION_TAG = "project:", "project_branch:", "production"


@dataclass
class TaskIdentity:
    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    retry_count: int = 0
    username: str = ""
    tags: frozenset[str] = field(default_factory=frozenset)
    origin_run_id: str | None = None
    parallel: Parallel = field(default_factory=Parallel)


class Current:
    """Read-only view of the task being run; each task process binds it once before the step."""

    def __init__(self) -> None:
        self._identity: TaskIdentity | None = None
        self._tempdir: str | None = None

    def bind(self, identity: TaskIdentity | None) -> None:
        """Enter a task (or leave it with None, which also removes its `tempdir`)."""
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = None
        self._identity = identity

    @property
    def is_running_flow(self) -> bool:
        return self._identity is not None

    @property
    def identity(self) -> TaskIdentity | None:
        """The running task's identity as one typed record (None outside a task)."""
        return self._identity

    def get(self, name: str, default: Any = None) -> Any:
        """A field by name, `default` when there is none (Metaflow's `current.get`)."""
        if name.startswith("_"):
            return default
        value = getattr(self, name, default)
        return default if value is None else value

    @property
    def flow_name(self) -> str | None:
        return self._identity.flow_name if self._identity else None

    @property
    def run_id(self) -> str | None:
        return self._identity.run_id if self._identity else None

    @property
    def step_name(self) -> str | None:
        return self._identity.step_name if self._identity else None

    @property
    def task_id(self) -> str | None:
        return self._identity.task_id if self._identity else None

    @property
    def pathspec(self) -> str | None:
        i = self._identity
        return f"{i.flow_name}/{i.run_id}/{i.step_name}/{i.task_id}" if i else None

    @property
    def retry_count(self) -> int | None:
        return self._identity.retry_count if self._identity else None

    @property
    def username(self) -> str | None:
        return self._identity.username if self._identity else None

    @property
    def tags(self) -> frozenset[str] | None:
        return self._identity.tags if self._identity else None

    @property
    def origin_run_id(self) -> str | None:
        return self._identity.origin_run_id if self._identity else None

    @property
    def namespace(self) -> str | None:
        """The namespace the run lives in: its user's, as the client's default namespace."""
        return f"user:{self._identity.username}" if self._identity else None

    @property
    def run(self) -> Any:
        """The client `Run` of this run (read through the metadata store)."""
        i = self._identity
        return client_object(f"{i.flow_name}/{i.run_id}") if i else None

    @property
    def task(self) -> Any:
        """The client `Task` of this task."""
        return client_object(self.pathspec) if self.pathspec else None

    @property
    def tempdir(self) -> str | None:
        """A directory of this task's own, created on first use and removed when it ends."""
        if self._identity is None:
            return None
        if self._tempdir is None:
            self._tempdir = tempfile.mkdtemp(prefix=f"shipyard-{self._identity.step_name}-")
        return self._tempdir

    @property
    def project_name(self) -> str | None:
        return self._tagged(PROJECT_TAG)

    @property
    def branch_name(self) -> str | None:
        return self._tagged(BRANCH_TAG)

    @property
    def is_production(self) -> bool | None:
        """True on a project's production branch; False for any other run."""
        if self._identity is None:
            return None
        return PRODUCTION_TAG in self._identity.tags and self.project_name is not None

    @property
    def parallel(self) -> Parallel | None:
        return self._identity.parallel if self._identity else None

    @property
    def card(self) -> Any:
        """The step's cards; None until cards exist (their own issue)."""
        return None

    def _tagged(self, prefix: str) -> str | None:
        tags = self._identity.tags if self._identity else ()
        return next((t.removeprefix(prefix) for t in sorted(tags) if t.startswith(prefix)), None)


current = Current()
