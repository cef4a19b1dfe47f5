"""`current`: where the running task is (flow, run, step, task, attempt, user, tags)."""

from __future__ import annotations

from dataclasses import dataclass, field


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


class Current:
    """Read-only view of the task being run; each task process binds it once before the step."""

    def __init__(self) -> None:
        self._identity: TaskIdentity | None = None

    def bind(self, identity: TaskIdentity | None) -> None:
        self._identity = identity

    @property
    def is_running_flow(self) -> bool:
        return self._identity is not None

    def _get(self) -> TaskIdentity:
        if self._identity is None:
            raise RuntimeError("`current` is only available inside a running step")
        return self._identity

    @property
    def flow_name(self) -> str:
        return self._get().flow_name

    @property
    def run_id(self) -> str:
        return self._get().run_id

    @property
    def step_name(self) -> str:
        return self._get().step_name

    @property
    def task_id(self) -> str:
        return self._get().task_id

    @property
    def pathspec(self) -> str:
        i = self._get()
        return f"{i.flow_name}/{i.run_id}/{i.step_name}/{i.task_id}"

    @property
    def retry_count(self) -> int:
        return self._get().retry_count

    @property
    def username(self) -> str:
        return self._get().username

    @property
    def tags(self) -> frozenset[str]:
        return self._get().tags

    @property
    def origin_run_id(self) -> str | None:
        return self._get().origin_run_id


current = Current()
