"""The read API over past and running flows: `Flow`, `Run`, `Step` and `Task`.

Every object is built from a pathspec (`Run("TrainFlow/12")`) or reached from its parent
(`Flow("TrainFlow")["12"]["train"]`). An object is a snapshot of the metadata at the moment
it was created; create it again to see a running flow move on. Lists (runs, steps, tasks) are
queried afresh on each call.

Objects reached by pathspec are checked against the current namespace; objects reached from
a parent are not checked again, since the parent already passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

from shipyard.client.base import ClientObject, RecordObject, local_time
from shipyard.client.context import ClientContext, current_context
from shipyard.client.data import DataArtifact, TaskArtifacts, TaskData
from shipyard.client.namespaces import check_namespace, get_namespace, in_current_namespace
from shipyard.client.pathspec import parse_pathspec, split_pathspec
from shipyard.client.related import models_of_run
from shipyard.exceptions import ObjectNotFound
from shipyard.metadata.liveness import is_lost, shown_status
from shipyard.metadata.records import (
    AttemptRecord,
    ForeachFrame,
    RunRecord,
    RunStatus,
    TaskRecord,
    TaskStatus,
)

if TYPE_CHECKING:
    from shipyard.datastore import CodePackage

__all__ = ["Flow", "Run", "Step", "Task", "flows", "from_pathspec", "runs"]

LogStream = Literal["stdout", "stderr"]
END_STEP = "end"


class Flow(ClientObject):
    """A flow by name, `Flow("TrainFlow")`: the way in to its runs.

    Raises `ObjectNotFound` if no run of the flow was ever recorded.
    """

    def __init__(self, name: str, *, context: ClientContext | None = None) -> None:
        (name,) = parse_pathspec(name, "Flow")
        context = context or current_context()
        known = context.listing.list_flows()
        if name not in known:
            hint = f"known flows: {', '.join(known)}" if known else "no flow has run yet"
            raise ObjectNotFound(
                f"flow {name!r} does not exist in {context.metadata_url}; {hint}. "
                "Check SHIPYARD_METADATA if you expected it there."
            )
        self._setup(name, context)

    @classmethod
    def _known(cls, name: str, context: ClientContext) -> Flow:
        flow = cls.__new__(cls)
        flow._setup(name, context)
        return flow

    def _setup(self, name: str, context: ClientContext) -> None:
        self._context = context
        self._name = name

    @property
    def name(self) -> str:
        """The flow's class name."""
        return self._name

    @property
    def id(self) -> str:
        """The flow's name (for symmetry with `Run.id`, `Step.id`, ...)."""
        return self._name

    @property
    def pathspec(self) -> str:
        return self._name

    @property
    def parent(self) -> None:
        """A flow is the top of the hierarchy."""
        return None

    def _run_record(self) -> None:
        return None

    @property
    def origin_pathspec(self) -> None:
        """A flow is never cloned (runs are, by `resume`)."""
        return None

    @property
    def created_at(self) -> datetime:
        """When the flow's first run was created (naive, local time)."""
        oldest = self._context.listing.list_runs(self._name, tags=[], limit=None)[-1]
        return local_time(oldest.created_at)

    def __contains__(self, run_id: object) -> bool:
        """Whether the run `run_id` of this flow exists in the current namespace, so that
        `"12" in Flow("TrainFlow")` is True exactly when `Flow("TrainFlow")["12"]` works."""
        if not isinstance(run_id, str | int):
            return False
        try:
            record = self._context.metadata.get_run(self._name, str(run_id))
        except ObjectNotFound:
            return False
        return in_current_namespace(record)

    def runs(
        self, *tags: str, tag: str | Iterable[str] | None = None, limit: int | None = None
    ) -> list[Run]:
        """The flow's runs in the current namespace having all the given tags, newest first.

        Tags may be given positionally, `runs("prod", "v2")`, or by keyword, `runs(tag="prod")`
        (a string or a list); both forms may be combined. `limit` keeps the newest ones only.
        """
        wanted = list(tags)
        if isinstance(tag, str):
            wanted.append(tag)
        elif tag is not None:
            wanted.extend(tag)
        return _visible_runs(self._context, self._name, wanted, limit)

    def __iter__(self) -> Iterator[Run]:
        """The flow's runs in the current namespace, newest first."""
        return iter(self.runs())

    def __getitem__(self, run_id: str) -> Run:
        """The run `run_id` of this flow; raises `NamespaceMismatch` if outside the namespace."""
        return Run(f"{self._name}/{run_id}", context=self._context)

    @property
    def latest_run(self) -> Run | None:
        """The newest run in the current namespace, whatever its status; None if there is none."""
        latest = _visible_runs(self._context, self._name, limit=1)
        return latest[0] if latest else None

    @property
    def latest_successful_run(self) -> Run | None:
        """The newest run in the current namespace that succeeded; None if there is none."""
        return next((run for run in self.runs() if run.successful), None)


class Run(RecordObject[RunRecord]):
    """One execution of a flow, `Run("TrainFlow/12")`: status, parameters, tags, steps, data."""

    def __init__(self, pathspec: str, *, context: ClientContext | None = None) -> None:
        flow_name, run_id = parse_pathspec(pathspec, "Run")
        context = context or current_context()
        record = context.metadata.get_run(flow_name, run_id)
        check_namespace(record, pathspec)
        self._setup(record, context)

    # -- identity ----------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The run id (unique across all flows)."""
        return self._record.run_id

    @property
    def flow(self) -> Flow:
        """The flow this run belongs to."""
        return Flow._known(self._record.flow_name, self._context)

    @property
    def parent(self) -> Flow:
        """The flow this run belongs to (Metaflow's name for `flow`)."""
        return self.flow

    def _run_record(self) -> RunRecord:
        return self._record

    # -- state -------------------------------------------------------------------------

    @property
    def status(self) -> RunStatus:
        """RUNNING, SUCCEEDED, FAILED, or LOST: marked running but nobody runs it any more
        (its runner was killed or its machine lost); `python flow.py resume` continues it."""
        return shown_status(self._record)

    @property
    def successful(self) -> bool:
        """Whether the run finished and every step succeeded."""
        return self._record.status is RunStatus.SUCCEEDED

    @property
    def finished(self) -> bool:
        """Whether the run ended, successfully or not (a LOST run never ended)."""
        return self._record.status not in (RunStatus.RUNNING, RunStatus.LOST)

    @property
    def lost(self) -> bool:
        """Whether the run is marked running but its runner is gone."""
        return is_lost(self._record)

    @property
    def user(self) -> str:
        """Who started the run."""
        return self._record.user

    @property
    def parameters(self) -> dict[str, Any]:
        """The parameter values the run was started with (a copy: changing it changes nothing)."""
        return dict(self._record.parameters)

    @property
    def origin_run_id(self) -> str | None:
        """The run this one resumed, if it was started by `resume`."""
        return self._record.origin_run_id

    @property
    def origin_pathspec(self) -> str | None:
        """The pathspec of the run this one resumed, if it was started by `resume`."""
        origin = self._record.origin_run_id
        return None if origin is None else f"{self.flow_name}/{origin}"

    @property
    def trigger(self) -> None:
        """The event that started the run: always None, since Shipyard has no event
        triggers yet (runs start from the command line or `Runner`)."""
        return None

    @cached_property
    def code(self) -> CodePackage | None:
        """The snapshot of the source the run executed; None if none was stored."""
        if self._record.code_hash is None:
            return None
        from shipyard.datastore import CodePackage

        return CodePackage(bytes(self._context.blobs.get(self._record.code_hash)))

    @property
    def models(self) -> list[Any]:
        """The model versions (`shipyard.registry.ModelVersion`) registered from this run, in
        registration order."""
        return models_of_run(self)

    # -- steps -------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        """The steps that have tasks, in the order they started."""
        names = self._context.metadata.list_steps(self.flow_name, self.id)
        return [Step._from_run(self._record, name, self._context) for name in names]

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps())

    def __contains__(self, step_name: object) -> bool:
        return step_name in self._context.metadata.list_steps(self.flow_name, self.id)

    def __getitem__(self, step_name: str) -> Step:
        """The step `step_name`; raises `ObjectNotFound` if it has no task (yet)."""
        names = self._context.metadata.list_steps(self.flow_name, self.id)
        if step_name not in names:
            raise ObjectNotFound(_missing_step(self.pathspec, step_name, names))
        return Step._from_run(self._record, step_name, self._context)

    @property
    def end_task(self) -> Task | None:
        """The task of the `end` step; None if the run has not reached it."""
        records = self._context.metadata.list_tasks(self.flow_name, self.id, END_STEP)
        return Task._from_record(records[0], self._context) if records else None

    @property
    def data(self) -> TaskData | None:
        """The artifacts of the `end` task, `run.data.model`: the run's final state.

        None if the run has not reached `end`; reach other steps' artifacts through
        `run["train"].task.data`.
        """
        end = self.end_task
        return None if end is None else end.data

    # -- tags --------------------------------------------------------------------------

    def add_tag(self, tag: str) -> None:
        """Add one user tag; see `add_tags`."""
        self.add_tags([tag])

    def add_tags(self, tags: Iterable[str]) -> None:
        """Add user tags, recorded at once for everyone; `self.tags` is updated too.

        Tags starting with `user:` or `flow:` are reserved and raise `ShipyardError`.
        """
        self._context.metadata.add_tags(self.flow_name, self.id, list(_as_tag_list(tags)))
        self._refresh()

    def remove_tag(self, tag: str) -> None:
        """Remove one user tag; see `remove_tags`."""
        self.remove_tags([tag])

    def remove_tags(self, tags: Iterable[str]) -> None:
        """Remove user tags (absent ones are ignored); system tags raise `ShipyardError`."""
        self._context.metadata.remove_tags(self.flow_name, self.id, list(_as_tag_list(tags)))
        self._refresh()

    def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> None:
        """Remove one user tag and add another; see `replace_tags`."""
        self.replace_tags([tag_to_remove], [tag_to_add])

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        """Remove some user tags and add others. Both lists are checked before anything
        changes, so a system tag in either leaves the run's tags as they were."""
        from shipyard.metadata.rules import validated_user_tags

        removed = validated_user_tags(_as_tag_list(tags_to_remove))
        added = validated_user_tags(_as_tag_list(tags_to_add))
        self._context.metadata.remove_tags(self.flow_name, self.id, sorted(removed - added))
        self._context.metadata.add_tags(self.flow_name, self.id, sorted(added))
        self._refresh()

    def _refresh(self) -> None:
        self._record = self._context.metadata.get_run(self.flow_name, self.id)


class Step(ClientObject):
    """A step of a run, `Step("TrainFlow/12/train")`: its tasks (several after a foreach)."""

    def __init__(self, pathspec: str, *, context: ClientContext | None = None) -> None:
        flow_name, run_id, step_name = parse_pathspec(pathspec, "Step")
        context = context or current_context()
        run = context.metadata.get_run(flow_name, run_id)
        check_namespace(run, pathspec)
        names = context.metadata.list_steps(flow_name, run_id)
        if step_name not in names:
            raise ObjectNotFound(_missing_step(run.pathspec, step_name, names))
        self._setup(run, step_name, context)

    @classmethod
    def _from_run(cls, run: RunRecord, step_name: str, context: ClientContext) -> Step:
        step = cls.__new__(cls)
        step._setup(run, step_name, context)
        return step

    def _setup(self, run: RunRecord, step_name: str, context: ClientContext) -> None:
        self._context = context
        self._run = run
        self._name = step_name

    @property
    def id(self) -> str:
        """The step's name."""
        return self._name

    @property
    def name(self) -> str:
        return self._name

    @property
    def pathspec(self) -> str:
        return f"{self._run.pathspec}/{self._name}"

    @property
    def run(self) -> Run:
        """The run this step belongs to."""
        return Run._from_record(self._run, self._context)

    @property
    def parent(self) -> Run:
        """The run this step belongs to (Metaflow's name for `run`)."""
        return self.run

    def _run_record(self) -> RunRecord:
        return self._run

    @property
    def origin_pathspec(self) -> str | None:
        """This step in the run this one resumed, if it was started by `resume`."""
        origin = self._run.origin_run_id
        return None if origin is None else f"{self._run.flow_name}/{origin}/{self._name}"

    def __contains__(self, task_id: object) -> bool:
        """Whether the step has a task `task_id`."""
        return any(task.id == str(task_id) for task in self.tasks())

    def tasks(self) -> list[Task]:
        """The step's tasks in the order they were created."""
        records = self._context.metadata.list_tasks(
            self._run.flow_name, self._run.run_id, self._name
        )
        return [Task._from_record(record, self._context) for record in records]

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks())

    def __getitem__(self, task_id: str) -> Task:
        """The task `task_id` of this step; raises `ObjectNotFound` if there is none."""
        record = self._context.metadata.get_task(
            self._run.flow_name, self._run.run_id, self._name, str(task_id)
        )
        return Task._from_record(record, self._context)

    @property
    def task(self) -> Task:
        """The step's task; for a step fanned out by a foreach, the first of its tasks."""
        return self.tasks()[0]

    @property
    def created_at(self) -> datetime:
        """When the step's first task was created (naive, local time)."""
        return min(task.created_at for task in self.tasks())

    @property
    def finished_at(self) -> datetime | None:
        """When the step's last task finished; None while any of its tasks is unfinished."""
        ends = [task.finished_at for task in self.tasks()]
        if any(end is None for end in ends):
            return None
        return max(end for end in ends if end is not None)


class Task(RecordObject[TaskRecord]):
    """One task of a step, `Task("TrainFlow/12/train/3")`: status, attempts, logs, artifacts."""

    def __init__(self, pathspec: str, *, context: ClientContext | None = None) -> None:
        flow_name, run_id, step_name, task_id = parse_pathspec(pathspec, "Task")
        context = context or current_context()
        run = context.metadata.get_run(flow_name, run_id)
        check_namespace(run, pathspec)
        record = context.metadata.get_task(flow_name, run_id, step_name, task_id)
        self._setup(record, context)

    # -- identity ----------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The task id, unique within its run."""
        return self._record.task_id

    @property
    def step_name(self) -> str:
        return self._record.step_name

    @property
    def run_id(self) -> str:
        return self._record.run_id

    @property
    def parent(self) -> Step:
        """The step this task belongs to."""
        return Step._from_run(self._run_record(), self.step_name, self._context)

    def _run_record(self) -> RunRecord:
        return self._run

    @cached_property
    def _run(self) -> RunRecord:
        return self._context.metadata.get_run(self.flow_name, self.run_id)

    # -- state -------------------------------------------------------------------------

    @property
    def status(self) -> TaskStatus:
        return self._record.status

    @property
    def successful(self) -> bool:
        return self._record.status is TaskStatus.SUCCEEDED

    @property
    def finished(self) -> bool:
        """Whether the task ended, successfully or not (after its last retry)."""
        return self._record.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED)

    @property
    def attempts(self) -> list[AttemptRecord]:
        """Every try at running the task, oldest first; retries add attempts."""
        return sorted(self._record.attempts, key=lambda a: a.attempt)

    @property
    def exception(self) -> str | None:
        """The error of the last failed attempt, None if no attempt failed.

        A task that succeeded on a retry still reports the failure before it, which is
        what explains a flaky step.
        """
        for attempt in reversed(self.attempts):
            if attempt.status is TaskStatus.FAILED:
                return attempt.error
        return None

    @property
    def foreach_stack(self) -> tuple[ForeachFrame, ...]:
        """The foreach fan-outs the task sits inside, outermost first."""
        return self._record.foreach_stack

    @property
    def index(self) -> int | None:
        """The task's position in its innermost foreach; None outside any foreach."""
        stack = self._record.foreach_stack
        return stack[-1].index if stack else None

    @property
    def input_paths(self) -> tuple[str, ...]:
        """Pathspecs of the tasks whose outputs this task started from."""
        return self._record.input_paths

    @property
    def origin_pathspec(self) -> str | None:
        """The task of an earlier run this one was cloned from by `resume`, if it was."""
        return self._record.origin_pathspec

    @property
    def resources(self) -> dict[str, float] | None:
        """What the task asked for with `@resources` (cpu, memory in MB, gpu) when it ran."""
        return dict(self._record.resources) if self._record.resources is not None else None

    # -- logs --------------------------------------------------------------------------

    @property
    def stdout(self) -> str:
        """What the latest attempt printed to standard output ("" if nothing was stored)."""
        return self.logs("stdout")

    @property
    def stderr(self) -> str:
        """What the latest attempt printed to standard error ("" if nothing was stored)."""
        return self.logs("stderr")

    def logs(self, stream: LogStream = "stdout", attempt: int | None = None) -> str:
        """The stored log `stream` of attempt number `attempt` (default: the latest one).

        Raises `ObjectNotFound` for an attempt the task never made.
        """
        if stream not in ("stdout", "stderr"):
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")
        record = self._attempt(attempt)
        if record is None:
            return ""
        sha = record.stdout_hash if stream == "stdout" else record.stderr_hash
        if sha is None:
            return ""
        return bytes(self._context.blobs.get(sha)).decode("utf-8", errors="replace")

    def loglines(
        self, stream: LogStream, as_unicode: bool = True
    ) -> Iterator[tuple[datetime | None, str | bytes]]:
        """The latest attempt's log `stream` as `(timestamp, line)` pairs, as Metaflow gives.

        Shipyard stores a task's log whole, not line by line, so every line carries the time
        its attempt ended (None while it runs); `as_unicode=False` gives the lines as bytes.
        """
        record = self._attempt(None)
        end = record.finished_at if record is not None else None
        stamp = None if end is None else local_time(end)
        for line in self.logs(stream).splitlines():
            yield stamp, line if as_unicode else line.encode("utf-8")

    @property
    def current_attempt(self) -> int:
        """The number of the latest attempt (0 for the first; retries count up)."""
        attempts = self.attempts
        return attempts[-1].attempt if attempts else 0

    @property
    def metadata_dict(self) -> dict[str, str]:
        """What is recorded about the task, as Metaflow's metadata names it: `attempt`,
        `attempt_ok`, `user`, `ds-type`, `ds-root`, `code-package`, `origin-run-id`,
        `origin-task-id`, `host`, `exit-code` (each present when known)."""
        run = self._run_record()
        root = self._context.datastore_url
        found: dict[str, str | None] = {
            "attempt": str(self.current_attempt),
            "user": run.user,
            "ds-type": urlparse(root).scheme if "://" in root else "local",
            "ds-root": root,
            "code-package": run.code_hash,
        }
        latest = self._attempt(None)
        if latest is not None:
            if latest.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED):
                found["attempt_ok"] = str(latest.status is TaskStatus.SUCCEEDED)
            found["host"] = latest.host
            found["exit-code"] = None if latest.exit_code is None else str(latest.exit_code)
        origin = self._record.origin_pathspec
        if origin is not None:
            _, origin_run, _, origin_task = origin.split("/")
            found["origin-run-id"], found["origin-task-id"] = origin_run, origin_task
        return {name: value for name, value in found.items() if value is not None}

    @property
    def code(self) -> CodePackage | None:
        """The snapshot of the source the task's run executed; None if none was stored."""
        return Run._from_record(self._run_record(), self._context).code

    @property
    def parent_tasks(self) -> Iterator[Task]:
        """The tasks whose outputs this task started from (several for a join)."""
        for pathspec in self._record.input_paths:
            flow_name, run_id, step_name, task_id = pathspec.split("/")
            record = self._context.metadata.get_task(flow_name, run_id, step_name, task_id)
            yield Task._from_record(record, self._context)

    @property
    def child_tasks(self) -> Iterator[Task]:
        """The tasks of this run that started from this task's outputs."""
        metadata = self._context.metadata
        for step_name in metadata.list_steps(self.flow_name, self.run_id):
            for record in metadata.list_tasks(self.flow_name, self.run_id, step_name):
                if self.pathspec in record.input_paths:
                    yield Task._from_record(record, self._context)

    def _attempt(self, number: int | None) -> AttemptRecord | None:
        attempts = self.attempts
        if number is None:
            return attempts[-1] if attempts else None
        for record in attempts:
            if record.attempt == number:
                return record
        made = ", ".join(str(a.attempt) for a in attempts) or "none"
        raise ObjectNotFound(f"task '{self.pathspec}' has no attempt {number}; attempts: {made}")

    # -- artifacts ---------------------------------------------------------------------

    @cached_property
    def artifacts(self) -> TaskArtifacts:
        """The task's artifacts, `task.artifacts.model.data` or `task.artifacts["model"]`;
        listing them reads metadata only, never blobs."""
        records = self._context.metadata.task_artifacts(
            self.flow_name, self.run_id, self.step_name, self.id
        )
        return TaskArtifacts(
            self.pathspec,
            [
                DataArtifact.from_record(self.pathspec, records[name], self._context)
                for name in sorted(records)
            ],
        )

    @cached_property
    def data(self) -> TaskData:
        """The artifact values as attributes, `task.data.score`, each loaded on first access."""
        return TaskData(self.pathspec, self.artifacts.by_name)

    def __getitem__(self, name: str) -> DataArtifact:
        """The artifact `name`; raises `ArtifactNotFound` listing the task's artifacts."""
        return self.artifacts[name]

    def __contains__(self, name: object) -> bool:
        return name in self.artifacts

    def __iter__(self) -> Iterator[DataArtifact]:
        """The task's artifacts, sorted by name."""
        return iter(self.artifacts)


def runs(
    flow_name: str | None = None,
    *,
    tags: Iterable[str] = (),
    limit: int | None = None,
    context: ClientContext | None = None,
) -> list[Run]:
    """Runs in the current namespace, of one flow or of all, having all `tags`, newest first.

    Raises `ObjectNotFound` for a flow that never ran, rather than quietly listing nothing.
    """
    context = context or current_context()
    if flow_name is not None:
        return Flow(flow_name, context=context).runs(*tags, limit=limit)
    return _visible_runs(context, None, tags, limit)


def _visible_runs(
    context: ClientContext,
    flow_name: str | None,
    tags: Iterable[str] = (),
    limit: int | None = None,
) -> list[Run]:
    if isinstance(tags, str):
        raise TypeError("tags must be a list of strings, not a single string")
    required = set(tags)
    ns = get_namespace()
    if ns is not None:
        required.add(ns)
    records = context.listing.list_runs(flow_name, tags=sorted(required), limit=limit)
    return [Run._from_record(record, context) for record in records]


def flows(*, context: ClientContext | None = None) -> list[Flow]:
    """The flows with at least one run in the current namespace, alphabetically."""
    context = context or current_context()
    return [
        Flow._known(name, context)
        for name in context.listing.list_flows()
        if get_namespace() is None or _visible_runs(context, name, limit=1)
    ]


def from_pathspec(
    pathspec: str, *, context: ClientContext | None = None
) -> Flow | Run | Step | Task | DataArtifact:
    """The object any pathspec names, from a flow (`TrainFlow`) to an artifact
    (`TrainFlow/12/train/3/model`); what tools taking a pathspec from the user call."""
    pathspec = "/".join(split_pathspec(pathspec))
    match pathspec.count("/"):
        case 0:
            return Flow(pathspec, context=context)
        case 1:
            return Run(pathspec, context=context)
        case 2:
            return Step(pathspec, context=context)
        case 3:
            return Task(pathspec, context=context)
        case _:
            return DataArtifact(pathspec, context=context)


def _missing_step(run_pathspec: str, step_name: str, names: list[str]) -> str:
    listing = f"its steps are: {', '.join(names)}" if names else "it has no tasks yet"
    return f"run '{run_pathspec}' has no step {step_name!r}; {listing}"


def _as_tag_list(tags: Iterable[str]) -> Iterable[str]:
    if isinstance(tags, str):
        # A lone string would otherwise become a set of one-letter tags.
        raise TypeError("tags must be a list of strings; use add_tag/remove_tag for one tag")
    return tags
