"""The scheduler: turns the graph into tasks, decides what is ready, records every outcome.

It is the only writer of the metadata store during a run; executors only run tasks.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from shipyard.datastore.artifacts import ArtifactStore
from shipyard.datastore.refs import ArtifactRef
from shipyard.flow.graph import FlowGraph, NodeKind
from shipyard.flow.hooks import (
    CatchFailure,
    FailureContext,
    GiveUp,
    LaunchContext,
    RetryTask,
    StepFailure,
    StepHooks,
    TaskFinishedContext,
    TaskOutcome,
)
from shipyard.flow.parallel import GANG_FRAME_VAR, Parallel
from shipyard.metadata.liveness import HEARTBEAT_EVERY
from shipyard.metadata.records import FinishedTask as TaskEnd
from shipyard.metadata.records import ForeachFrame, RunStatus, StartedTask, TaskStatus
from shipyard.runtime.executor import Executor
from shipyard.runtime.resources import Resources, describe_request

if TYPE_CHECKING:
    from shipyard.metadata.contract import RunRecorder
from shipyard.runtime.resume import ReusableTask, TaskKey, task_key
from shipyard.runtime.spec import InputTask, Outcome, TaskResult, TaskSpec

#: How often the runner tells the metadata store it is alive while the run goes on.
HEARTBEAT_SECONDS = HEARTBEAT_EVERY.total_seconds()


@dataclass(frozen=True)
class RunContext:
    """Everything about the run that every task of it shares."""

    flow_name: str
    run_id: str
    datastore_url: str
    username: str
    tags: frozenset[str]
    parameters: dict[str, Any]
    origin_run_id: str | None = None
    #: Parameters stored before the run started (included files), by artifact.
    parameter_refs: dict[str, ArtifactRef] = field(default_factory=dict)
    code_hash: str | None = None
    #: `--with` decorator specs; each task attaches them to its step too.
    with_decorators: tuple[str, ...] = ()
    #: `--max-num-splits`: a foreach wider than this fails its task (None: no limit).
    max_num_splits: int | None = None


@dataclass(frozen=True)
class Launch:
    """How one attempt is launched: its launch hooks' answer and the resources it holds."""

    context: LaunchContext
    needed: Resources


@dataclass
class PendingTask:
    step_name: str
    task_id: str
    inputs: tuple[InputTask, ...]
    foreach_stack: tuple[ForeachFrame, ...]
    attempt: int = 0
    #: Asked of the launch hooks once per attempt, when the task is first considered.
    launch: Launch | None = None
    #: Its place in a `@parallel` gang, whose tasks are queued together and start together.
    parallel: Parallel | None = None


@dataclass
class FinishedTask:
    step_name: str
    task_id: str
    pathspec: str
    artifacts: dict[str, ArtifactRef]
    foreach_stack: tuple[ForeachFrame, ...]
    foreach_num_splits: int | None

    def as_input(self) -> InputTask:
        return InputTask(self.pathspec, self.step_name, self.artifacts, self.foreach_stack)


class ProgressListener(Protocol):
    """Anything that wants to follow a run (the CLI's live display, tests)."""

    def task_queued(self, step_name: str) -> None: ...
    def task_reused(self, step_name: str, task_id: str, origin: str) -> None: ...
    def task_started(self, spec: TaskSpec) -> None: ...
    def task_finished(self, spec: TaskSpec, result: TaskResult) -> None: ...


@dataclass
class RunSummary:
    run_id: str
    status: RunStatus
    failures: list[tuple[TaskSpec, TaskResult]] = field(default_factory=list)
    #: Tasks started (as `shipyard tasks` lists them, less those a resume reused) and their
    #: attempts: a retried task counts once in the first and once per attempt in the second.
    tasks_run: int = 0
    attempts_run: int = 0


@dataclass(frozen=True)
class _Step:
    """A step's hooks and what its tasks ask for before any hook sees a task: found once."""

    hooks: StepHooks
    planned: Launch

    @classmethod
    def of(cls, graph: FlowGraph, name: str) -> _Step:
        hooks = StepHooks.of(graph, name)
        planned = hooks.launch()
        return cls(hooks, Launch(planned, Resources.of(planned)))


@dataclass
class _Round:
    """What one scheduling round records in one commit, and what waits for that commit.

    The tasks that finished and those that start next are recorded together (a commit costs
    more than the rows of a small task). A task is submitted at once, so that its process
    starts while the round commits; the runner is single-threaded, so its start is committed
    before its outcome is ever read, and a runner that dies before the commit takes the task
    with it (executors stop their tasks when the runner goes), leaving nothing recorded for
    resume to trust. Listeners and `after_task` hooks hear of a task once it is committed.
    """

    changes: list[StartedTask | TaskEnd] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    #: An `after_task` hook waits for this commit; it must run before the launch hooks of
    #: the tasks started next, so the finishes are committed on their own first.
    hooks_waiting: bool = False


@dataclass
class _JoinBarrier:
    expected: int
    arrived: dict[int, FinishedTask] = field(default_factory=dict)


class Scheduler:
    """Walks the graph from `start`, submitting each task as soon as its inputs are done."""

    def __init__(
        self,
        graph: FlowGraph,
        context: RunContext,
        executor: Executor,
        metadata: RunRecorder,
        artifacts: ArtifactStore,
        listener: ProgressListener | None = None,
        reuse: Mapping[TaskKey, ReusableTask] | None = None,
    ) -> None:
        self.artifacts = artifacts
        self.reuse = reuse or {}
        self.graph = graph
        self.context = context
        self.executor = executor
        self.metadata = metadata
        self.listener = listener
        self._ids: Callable[[], int] = itertools.count(1).__next__
        self._ready: deque[PendingTask] = deque()
        self._delayed: list[tuple[float, PendingTask]] = []  # retries waiting for their time
        self._in_use = Resources()
        self._steps = {n.name: _Step.of(graph, n.name) for n in graph}
        self._running_resources: dict[str, Resources] = {}
        #: Running tasks of each `@parallel` gang (by control task id), to stop them all
        #: when one fails: its mates would wait for it at their rendezvous.
        self._gangs: dict[str, dict[str, TaskSpec]] = {}
        #: Tasks stopped because a gang mate failed, with the error they are recorded with.
        self._stopped: dict[str, str] = {}
        self._barriers: dict[tuple[Any, ...], _JoinBarrier] = {}
        self._running = 0
        self._failures: list[tuple[TaskSpec, TaskResult]] = []
        self._tasks_run = 0
        self._attempts_run = 0
        self._round = _Round()

    def run(self) -> RunSummary:
        self._enqueue("start", (), ())
        last_beat = time.monotonic()
        finished: list[tuple[TaskSpec, TaskResult]] = []
        while True:
            for spec, result in finished:
                self._running -= 1
                self._in_use = self._in_use - self._running_resources.pop(spec.key)
                self._left_gang(spec)
                stopped = self._stopped.pop(spec.key, None)
                if stopped is not None:
                    result = TaskResult(Outcome.FAILED, error=stopped, host=result.host)
                self._finish(spec, result)
            if self._round.hooks_waiting:
                self._commit_round()
            self._release_due_retries()
            if not self._failures:
                self._submit_what_fits()
            self._commit_round()
            if not (self._ready or self._running or self._delayed):
                break
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                self.metadata.beat(self.context.flow_name, self.context.run_id)
                last_beat = time.monotonic()
            finished = []
            if not self._running:
                if not self._delayed:
                    break
                # In slices, so that a long wait for a retry still beats the heartbeat.
                due = self._delayed[0][0] - time.monotonic()
                time.sleep(min(HEARTBEAT_SECONDS, max(0.0, due)))
                continue
            finished = self.executor.wait(timeout=self._wait_timeout())
        status = RunStatus.FAILED if self._failures or self._ready else RunStatus.SUCCEEDED
        self.metadata.finish_run(self.context.flow_name, self.context.run_id, status)
        return RunSummary(
            self.context.run_id, status, self._failures, self._tasks_run, self._attempts_run
        )

    def _commit_round(self) -> None:
        """Record the round's starts and finishes in one commit, then act on them."""
        done, self._round = self._round, _Round()
        if done.changes:
            self.metadata.record_tasks(done.changes)
        for act in done.after_commit:
            act()

    def _tell(self, event: Callable[[ProgressListener], None]) -> None:
        """Tell the listener once the round is committed, in order with its other events."""
        listener = self.listener
        if listener is not None:
            self._round.after_commit.append(lambda: event(listener))

    def _wait_timeout(self) -> float:
        if not self._delayed:
            return 1.0
        return min(1.0, max(0.0, self._delayed[0][0] - time.monotonic()))

    def _release_due_retries(self) -> None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            self._ready.append(heapq.heappop(self._delayed)[1])

    def _submit_what_fits(self) -> None:
        """Start ready tasks in order, skipping those whose resources are not free yet.

        Stops as soon as the executor is full, so a thousand queued tasks cost nothing
        per scheduling round.
        """
        limits = self.executor.limits
        waiting: deque[PendingTask] = deque()
        while self._ready and self._running < limits.max_tasks:
            task = self._ready.popleft()
            if self.reuse and task.attempt == 0:
                reusable = self.reuse.get(task_key(task.step_name, task.foreach_stack))
                if reusable is not None:
                    self._reuse(task, reusable)
                    continue
            if task.parallel is not None and task.attempt == 0:
                mates = [self._ready.popleft() for _ in range(task.parallel.num_nodes - 1)]
                waiting.extend(self._submit_gang([task, *mates]))
                continue
            launch = self._launch(task)
            if (self._in_use + launch.needed).fits(limits):
                self._submit(task, launch)
            elif not launch.needed.fits(limits):
                self._refuse(task, launch, f"for attempt {task.attempt}")
            else:
                waiting.append(task)
        waiting.extend(self._ready)
        self._ready = waiting

    def _submit_gang(self, gang: list[PendingTask]) -> list[PendingTask]:
        """Start every task of a `@parallel` gang now, or none of them (returned to wait):
        a member started alone would wait for its mates' rendezvous while holding its place.

        A local executor that caps requests starts a gang larger than its task slots once
        nothing else runs (Metaflow runs a local gang as N processes whatever the machine).
        """
        limits = self.executor.limits
        launches = [self._launch(task) for task in gang]
        total = sum((launch.needed for launch in launches), Resources())
        size = len(gang)
        room = self._running + size <= limits.max_tasks or (
            limits.caps_requests and self._running == 0
        )
        if room and (self._in_use + total).fits(limits):
            for task, launch in zip(gang, launches, strict=True):
                self._submit(task, launch)
            return []
        if not total.fits(limits) or (size > limits.max_tasks and not limits.caps_requests):
            for task, launch in zip(gang, launches, strict=True):
                self._refuse(task, launch, f"as one of a @parallel gang of {size}")
            return []
        return gang

    # -- submitting --------------------------------------------------------------------------
    def _launch(self, task: PendingTask) -> Launch:
        """The attempt's launch: the step's planned one unless a hook may vary it per task."""
        if task.launch is None:
            step = self._steps[task.step_name]
            launch = step.planned
            if step.hooks.before_launch:
                context = step.hooks.launch(task.attempt, task.task_id)
                launch = Launch(context, Resources.of(context))
            gang = task.parallel.num_nodes if task.parallel else 1
            admitted = self.executor.limits.admit(launch.needed, gang)
            task.launch = replace(launch, needed=admitted)
        return task.launch

    def _enqueue(
        self, step: str, inputs: tuple[InputTask, ...], stack: tuple[ForeachFrame, ...]
    ) -> PendingTask:
        task = PendingTask(step, str(self._ids()), inputs, stack)
        self._ready.append(task)
        self._tell(lambda listener: listener.task_queued(step))
        return task

    def _reuse(self, task: PendingTask, origin: ReusableTask) -> None:
        """Record a task of the origin run as this run's own and move on without running it."""
        ctx = self.context
        pathspec = f"{ctx.flow_name}/{ctx.run_id}/{task.step_name}/{task.task_id}"
        self.metadata.clone_task(
            ctx.flow_name,
            ctx.run_id,
            task.step_name,
            task.task_id,
            origin=origin.record,
            artifacts=origin.artifacts,
            foreach_stack=task.foreach_stack,
            input_paths=[i.pathspec for i in task.inputs],
        )
        origin_pathspec = origin.record.pathspec
        self._tell(
            lambda listener: listener.task_reused(task.step_name, task.task_id, origin_pathspec)
        )
        self._advance(
            FinishedTask(
                task.step_name,
                task.task_id,
                pathspec,
                origin.artifacts,
                task.foreach_stack,
                origin.foreach_num_splits,
            )
        )

    def _submit(self, task: PendingTask, launch: Launch) -> None:
        spec = self._start(task, launch)
        if spec.parallel is not None:
            self._gangs.setdefault(spec.parallel.control_task_id or "", {})[spec.key] = spec
        self.executor.submit(spec)
        self._in_use = self._in_use + launch.needed
        self._running_resources[spec.key] = launch.needed
        self._running += 1

    def _refuse(self, task: PendingTask, launch: Launch, why: str) -> None:
        """Fail an attempt whose launch hooks asked for more than the executor ever has.

        The requests of every step were checked before the run; only a hook that asks for
        more on a later attempt (or for one task) gets here.
        """
        spec = self._start(task, launch)
        error = (
            f"ResourcesUnavailable: {describe_request(task.step_name, launch.needed)} {why} "
            f"(task {task.task_id}), more than {self.executor.description} has\n"
        )
        self._finish(spec, TaskResult(Outcome.FAILED, error=error))

    def _start(self, task: PendingTask, launch: Launch) -> TaskSpec:
        """The attempt's spec, recorded as started in the round (then for the listener)."""
        ctx = self.context
        needed = launch.needed
        spec = TaskSpec(
            flow_name=ctx.flow_name,
            run_id=ctx.run_id,
            step_name=task.step_name,
            task_id=task.task_id,
            attempt=task.attempt,
            inputs=task.inputs,
            foreach_stack=task.foreach_stack,
            datastore_url=ctx.datastore_url,
            username=ctx.username,
            tags=ctx.tags,
            origin_run_id=ctx.origin_run_id,
            parameters=ctx.parameters if task.step_name == "start" else {},
            parameter_refs=ctx.parameter_refs if task.step_name == "start" else {},
            parameter_names=frozenset(ctx.parameters) | frozenset(ctx.parameter_refs),
            kill_after_seconds=launch.context.kill_after_seconds,
            resources=needed,
            code_hash=ctx.code_hash,
            with_decorators=ctx.with_decorators,
            fresh_interpreter=launch.context.fresh_interpreter,
            parallel=task.parallel,
        )
        self._round.changes.append(
            StartedTask(
                ctx.flow_name,
                ctx.run_id,
                spec.step_name,
                spec.task_id,
                attempt=spec.attempt,
                foreach_stack=spec.foreach_stack,
                input_paths=[i.pathspec for i in spec.inputs],
                resources={"cpu": needed.cpu, "memory": needed.memory, "gpu": needed.gpu},
            )
        )
        self._attempts_run += 1
        if spec.attempt == 0:
            self._tasks_run += 1
        self._tell(lambda listener: listener.task_started(spec))
        return spec

    def _left_gang(self, spec: TaskSpec) -> None:
        """Forget a gang member that ended."""
        if spec.parallel is None:
            return
        gang = self._gangs.get(spec.parallel.control_task_id or "", {})
        gang.pop(spec.key, None)
        if not gang:
            self._gangs.pop(spec.parallel.control_task_id or "", None)

    def _stop_gang(self, failed: TaskSpec) -> None:
        """Stop the running mates of a failed gang member, which would wait for it forever."""
        assert failed.parallel is not None
        for mate in self._gangs.get(failed.parallel.control_task_id or "", {}).values():
            if mate.key not in self._stopped:
                self._stopped[mate.key] = (
                    f"GangStopped: stopped because {failed.pathspec}, of the same @parallel "
                    "gang, failed\n"
                )
                self.executor.cancel(mate)

    # -- finishing ---------------------------------------------------------------------------
    def _finish(self, spec: TaskSpec, result: TaskResult) -> None:
        """Record an attempt; if it failed, act on what the step's `on_failure` hooks decide.

        A task whose output the datastore refused (`storage_error`) fails without asking them:
        retrying or catching is for the step's own failures, not for a full disk.
        """
        hooks = self._steps[spec.step_name].hooks
        outcome = TaskOutcome.SUCCEEDED
        result = self._within_split_limit(spec, result)
        if result.outcome is Outcome.FAILED and spec.parallel is not None:
            self._stop_gang(spec)
        if result.outcome is Outcome.FAILED:
            decision = GiveUp() if result.storage_error else None
            match decision or hooks.decide(self._failure_context(spec, result)):
                case RetryTask(delay_seconds=delay):
                    self._record(spec, result, hooks, TaskOutcome.RETRYING)
                    self._schedule_retry(spec, delay)
                    return
                case CatchFailure(var=var):
                    result, outcome = self._caught(spec, result, var), TaskOutcome.CAUGHT
                case GiveUp():
                    outcome = TaskOutcome.FAILED
        self._record(spec, result, hooks, outcome)
        if outcome is TaskOutcome.FAILED:
            self._failures.append((spec, result))
            return
        self._advance(
            FinishedTask(
                spec.step_name,
                spec.task_id,
                spec.pathspec,
                result.artifacts,
                spec.foreach_stack,
                result.foreach_num_splits,
            )
        )

    def _within_split_limit(self, spec: TaskSpec, result: TaskResult) -> TaskResult:
        """A foreach wider than `--max-num-splits` fails the task that opened it, as in
        Metaflow: a runaway list should not start thousands of tasks by mistake."""
        limit, splits = self.context.max_num_splits, result.foreach_num_splits
        if limit is None or splits is None or splits <= limit:
            return result
        error = (
            f"ForeachTooWide: step '{spec.step_name}' would start {splits} foreach tasks, more "
            f"than --max-num-splits {limit}; raise --max-num-splits or shorten the list\n"
        )
        return replace(
            result, outcome=Outcome.FAILED, artifacts={}, foreach_num_splits=None, error=error
        )

    @staticmethod
    def _failure_context(spec: TaskSpec, result: TaskResult) -> FailureContext:
        return FailureContext(
            flow_name=spec.flow_name,
            run_id=spec.run_id,
            step_name=spec.step_name,
            task_id=spec.task_id,
            attempt=spec.attempt,
            error=result.error,
            exit_code=result.exit_code,
        )

    def _schedule_retry(self, spec: TaskSpec, delay_seconds: float) -> None:
        again = PendingTask(
            spec.step_name, spec.task_id, spec.inputs, spec.foreach_stack, spec.attempt + 1
        )
        heapq.heappush(self._delayed, (time.monotonic() + delay_seconds, again))

    def _caught(self, spec: TaskSpec, result: TaskResult, var: str) -> TaskResult:
        """Turn a final failure into success with the error stored, as `@catch` promises."""
        node = self.graph[spec.step_name]
        artifacts = dict(spec.inputs[0].artifacts) if spec.inputs and not node.is_join else {}
        if node.is_join and spec.inputs:
            first = spec.inputs[0].artifacts
            artifacts = {k: v for k, v in first.items() if k in spec.parameter_names}
        for name, value in spec.parameters.items():
            artifacts[name] = self.artifacts.save(value)
        artifacts.update(spec.parameter_refs)
        artifacts[var] = self.artifacts.save(StepFailure.from_error(result.error or ""))
        return replace(result, outcome=Outcome.SUCCEEDED, artifacts=artifacts)

    def _record(
        self, spec: TaskSpec, result: TaskResult, hooks: StepHooks, outcome: TaskOutcome
    ) -> None:
        """Record the attempt in the round; once committed, tell the listener, then the step's
        `after_task` hooks."""
        succeeded = result.outcome is Outcome.SUCCEEDED
        self._round.changes.append(
            TaskEnd(
                spec.flow_name,
                spec.run_id,
                spec.step_name,
                spec.task_id,
                attempt=spec.attempt,
                status=TaskStatus.SUCCEEDED if succeeded else TaskStatus.FAILED,
                artifacts=result.artifacts if succeeded else {},
                stdout_hash=result.stdout_hash,
                stderr_hash=result.stderr_hash,
                exit_code=result.exit_code,
                error=result.error,
                host=result.host,
            )
        )
        self._tell(lambda listener: listener.task_finished(spec, result))
        if hooks.after_task:
            self._round.after_commit.append(lambda: self._after_task(spec, result, hooks, outcome))
            self._round.hooks_waiting = True

    def _after_task(
        self, spec: TaskSpec, result: TaskResult, hooks: StepHooks, outcome: TaskOutcome
    ) -> None:
        succeeded = result.outcome is Outcome.SUCCEEDED
        hooks.finished(
            TaskFinishedContext(
                flow_name=spec.flow_name,
                run_id=spec.run_id,
                step_name=spec.step_name,
                task_id=spec.task_id,
                attempt=spec.attempt,
                outcome=outcome,
                artifacts=result.artifacts if succeeded else {},
                error=result.error,
                store=self.artifacts,
            )
        )

    def _advance(self, done: FinishedTask) -> None:
        """Queue what a finished task unlocks: its successors, or its share of a join."""
        node = self.graph[done.step_name]
        if node.kind.fans_out:
            width = done.foreach_num_splits
            assert width is not None
            var = node.foreach_var or GANG_FRAME_VAR
            tasks = [
                self._enqueue(
                    node.out[0],
                    (done.as_input(),),
                    (*done.foreach_stack, ForeachFrame(node.name, var, index, width)),
                )
                for index in range(width)
            ]
            if node.kind is NodeKind.PARALLEL:
                for index, task in enumerate(tasks):
                    task.parallel = Parallel(
                        num_nodes=width, node_index=index, control_task_id=tasks[0].task_id
                    )
            return
        targets = node.out
        if node.kind is NodeKind.SWITCH:
            # The task checked the value; a reused one has it among its artifacts too.
            value = self.artifacts.load(done.artifacts[node.condition or ""])
            targets = (node.chosen_step(value),)
        for target in targets:
            if self.graph[target].is_join:
                self._arrive_at_join(target, done)
            else:
                self._enqueue(target, (done.as_input(),), done.foreach_stack)

    def _arrive_at_join(self, join: str, done: FinishedTask) -> None:
        split = self.graph.closed_split(join)
        assert split is not None
        stack = done.foreach_stack
        if self.graph[split].kind.fans_out:
            outer, frame = stack[:-1], stack[-1]
            expected, position = frame.num_splits, frame.index
        else:
            outer = stack
            expected = len(self.graph[split].out)
            position = self.graph.branch_index(split, done.step_name)
        key = (join, tuple((f.step, f.index) for f in outer))
        barrier = self._barriers.setdefault(key, _JoinBarrier(expected))
        barrier.arrived[position] = done
        if len(barrier.arrived) == barrier.expected:
            del self._barriers[key]
            inputs = tuple(barrier.arrived[i].as_input() for i in sorted(barrier.arrived))
            self._enqueue(join, inputs, outer)
