"""Running one task: bind the flow object to its inputs, call the step, store what it produced.

This is the code that runs inside a worker process (local fork or Ray worker). It reads and
writes only the datastore; the scheduler records the outcome in the metadata store.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shipyard.datastore.artifacts import ArtifactStore
from shipyard.datastore.flow_classes import FlowClasses
from shipyard.datastore.refs import ArtifactRef
from shipyard.exceptions import ArtifactNotFound, DatastoreError, StepTransitionError
from shipyard.flow.configs import bind_configs, configs_of
from shipyard.flow.current import TaskIdentity, current
from shipyard.flow.decorator_specs import graph_with
from shipyard.flow.graph import Node, NodeKind
from shipyard.flow.hooks import StepContext, run_step
from shipyard.flow.parallel import GANG_FRAME_VAR, Parallel
from shipyard.flow.scope import Transition, bind_scope, stored_values
from shipyard.flow.spec import FlowSpec, Inputs, InputView
from shipyard.metadata.records import ForeachFrame
from shipyard.runtime.spec import InputTask, Outcome, TaskResult, TaskSpec

# Shipyard's own frames are cut from a step's traceback: this file is shipyard/runtime/task.py.
_OWN_CODE = str(Path(__file__).parents[1])


class _StoredArtifacts:
    """Artifacts of one upstream task, loaded from the datastore on first access."""

    def __init__(self, task: InputTask, store: ArtifactStore) -> None:
        self._task = task
        self._store = store

    def names(self) -> Iterable[str]:
        return self._task.artifacts.keys()

    def ref(self, name: str) -> ArtifactRef:
        try:
            return self._task.artifacts[name]
        except KeyError:
            raise ArtifactNotFound(
                f"{self._task.pathspec} has no artifact '{name}'; it has: "
                f"{', '.join(sorted(self._task.artifacts)) or 'none'}"
            ) from None

    def load(self, name: str) -> Any:
        return self._store.load(self.ref(name))

    @property
    def index(self) -> int | None:
        stack = self._task.foreach_stack
        return stack[-1].index if stack else None

    @property
    def input(self) -> Any:
        return _foreach_input(self._task.foreach_stack, self.load)


def _foreach_input(stack: tuple[Any, ...], load: Any) -> Any:
    if not stack:
        raise AttributeError("`input` is only defined inside a foreach")
    return _element(stack[-1], load)


def _element(frame: ForeachFrame, load: Any) -> Any:
    """The element a foreach frame stands for; a gang member's is its node index."""
    return frame.index if frame.var == GANG_FRAME_VAR else load(frame.var)[frame.index]


class TaskScope:
    """The runtime side of `ArtifactScope`: what the flow object reads and where it goes next."""

    def __init__(self, spec: TaskSpec, node: Node, store: ArtifactStore) -> None:
        self.spec = spec
        self.store = store
        self.parameter_names = spec.parameter_names
        self.inherited: dict[str, ArtifactRef] = {}
        self.next_call: Transition | None = None
        #: Names the step assigned; others in the flow's __dict__ were only read.
        self.assigned: set[str] = set()
        if node.is_join:
            # A join starts empty apart from parameters; merge_artifacts brings the rest.
            first = spec.inputs[0].artifacts if spec.inputs else {}
            self.inherited = {k: v for k, v in first.items() if k in spec.parameter_names}
        elif spec.inputs:
            self.inherited = dict(spec.inputs[0].artifacts)

    def has(self, name: str) -> bool:
        return name in self.inherited

    def names(self) -> Iterable[str]:
        return self.inherited.keys()

    def load(self, name: str) -> Any:
        ref = self.inherited.get(name)
        if ref is None:
            available = ", ".join(sorted(self.inherited)) or "none"
            raise ArtifactNotFound(
                f"step '{self.spec.step_name}' has no artifact '{name}' "
                f"(available: {available}). Assign it in an earlier step"
                + (
                    " or call self.merge_artifacts(inputs) in this join"
                    if self.spec.inputs and len(self.spec.inputs) > 1
                    else ""
                )
            )
        return self.store.load(ref)

    def inherit_ref(self, name: str, ref: ArtifactRef) -> None:
        self.inherited[name] = ref

    def note_assigned(self, name: str) -> None:
        self.assigned.add(name)

    def unchanged_candidate(self, name: str) -> ArtifactRef | None:
        """The ref a read-only artifact was loaded from, to skip storing it again."""
        return None if name in self.assigned else self.inherited.get(name)

    def record_next(self, transition: Transition) -> None:
        if self.next_call is not None:
            raise StepTransitionError(
                f"step '{self.spec.step_name}' called self.next() twice; call it once, last"
            )
        self.next_call = transition

    @property
    def index(self) -> int | None:
        stack = self.spec.foreach_stack
        return stack[-1].index if stack else None

    @property
    def input(self) -> Any:
        return _foreach_input(self.spec.foreach_stack, self.load)

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        return [
            (frame.index, frame.num_splits, _element(frame, self.load))
            for frame in self.spec.foreach_stack
        ]


def execute_task(flow_class: type[FlowSpec], spec: TaskSpec, store: ArtifactStore) -> TaskResult:
    """Run one step for one task and return its outcome; never raises for user errors."""
    running = sys.modules.get(flow_class.__module__)
    run = f"{spec.flow_name}/{spec.run_id}"
    store = store.reading_run(FlowClasses(store.blobs, run, lambda: spec.code_hash, running))
    _bind_run_configs(flow_class, spec, store)
    node = graph_with(flow_class, spec.with_decorators)[spec.step_name]
    scope = TaskScope(spec, node, store)
    flow = flow_class(use_cli=False)
    bind_scope(flow, scope)
    current.bind(
        TaskIdentity(
            flow_name=spec.flow_name,
            run_id=spec.run_id,
            step_name=spec.step_name,
            task_id=spec.task_id,
            retry_count=spec.attempt,
            username=spec.username,
            tags=spec.tags,
            origin_run_id=spec.origin_run_id,
            parallel=spec.parallel or Parallel(),
        )
    )
    try:
        for name, value in spec.parameters.items():
            scope.inherited[name] = store.save(value)
        scope.inherited.update(spec.parameter_refs)
        _call_step(flow, node, spec, store)
        _flush_fact_logs()
        num_splits = _check_transition(flow, node, scope)
        artifacts = dict(scope.inherited)
        for name, value in stored_values(flow).items():
            artifacts[name] = store.save(value, unchanged_from=scope.unchanged_candidate(name))
        return TaskResult(Outcome.SUCCEEDED, artifacts=artifacts, foreach_num_splits=num_splits)
    except DatastoreError as exc:  # not the step's failure: no traceback of our own code
        result = TaskResult(Outcome.FAILED).storage_failed(exc)
        sys.stderr.write(result.error or "")
        return result
    except BaseException as exc:
        error = user_traceback(exc)
        sys.stderr.write(error)
        return TaskResult(Outcome.FAILED, error=error)
    finally:
        current.bind(None)


def _bind_run_configs(flow_class: type[FlowSpec], spec: TaskSpec, store: ArtifactStore) -> None:
    """Give the flow class the run's configurations before its graph is built, so that the
    step's decorators take the values the runner started the run with: the start task has
    them in its spec, every later task from its first input's artifacts."""
    names = configs_of(flow_class)
    if not names:
        return
    inherited = spec.inputs[0].artifacts if spec.inputs else {}
    bind_configs(
        flow_class,
        {
            name: spec.parameters[name] if name in spec.parameters else store.load(inherited[name])
            for name in names
        },
    )


def _call_step(flow: FlowSpec, node: Node, spec: TaskSpec, store: ArtifactStore) -> None:
    """Call the step between its decorators' `before_step` and `after_step` hooks."""
    method = getattr(flow, node.name)
    context = StepContext(step_name=node.name, attempt=spec.attempt, flow=flow)
    if node.is_join:
        views = [
            InputView(task.step_name, task.pathspec, _StoredArtifacts(task, store))
            for task in spec.inputs
        ]
        run_step(node.definition.decorators, context, lambda: method(Inputs(views)))
    else:
        run_step(node.definition.decorators, context, method)


def _flush_fact_logs() -> None:
    """Write the facts the step buffered with `facts.log` before the task ends: a forked task
    leaves through os._exit, which runs no exit handler. Free in a step that logged none."""
    fact_log = sys.modules.get("shipyard.features.fact_log")
    if fact_log is not None:
        fact_log.flush_all()


def _check_transition(flow: FlowSpec, node: Node, scope: TaskScope) -> int | None:
    """Compare the runtime `self.next` with the static graph; return the foreach width."""
    if node.kind is NodeKind.END:
        return None
    if scope.next_call is None:
        raise StepTransitionError(
            f"step '{node.name}' returned without calling self.next(); "
            "make self.next(...) the last statement and do not return early"
        )
    called = scope.next_call
    gang = node.kind is NodeKind.PARALLEL
    planned = Transition(node.out, node.foreach_var, node.condition, node.num_parallel)
    if (set(called.targets), called.foreach, called.condition) != (
        set(planned.targets),
        planned.foreach,
        planned.condition,
    ) or gang != (called.num_parallel is not None):
        raise StepTransitionError(
            f"step '{node.name}' called {_shown(called)} but the flow's graph says "
            f"{_shown(planned)}; transitions must not depend on data (a conditional "
            "transition chooses among fixed steps by its condition)"
        )
    if node.kind is NodeKind.SWITCH:
        node.chosen_step(getattr(flow, node.condition or ""))
    if gang:
        return _gang_size(node, called.num_parallel)
    foreach = called.foreach
    if foreach is None:
        return None
    values = getattr(flow, foreach)
    try:
        count = len(values)
    except TypeError:
        raise StepTransitionError(
            f"foreach artifact '{foreach}' of step '{node.name}' is a "
            f"{type(values).__name__}, which has no len(); make it a list"
        ) from None
    if count == 0:
        raise StepTransitionError(
            f"foreach artifact '{foreach}' of step '{node.name}' is empty; "
            "a foreach needs at least one element"
        )
    return count


def _gang_size(node: Node, size: Any) -> int:
    if type(size) is not int or size < 1:
        raise StepTransitionError(
            f"step '{node.name}' asked for num_parallel={size!r}; give a number of tasks, 1 or more"
        )
    return size


def _shown(transition: Transition) -> str:
    steps = ", ".join(transition.targets)
    if transition.condition is not None:
        steps = f"{{{steps}}}, condition={transition.condition!r}"
    foreach = f", foreach={transition.foreach!r}" if transition.foreach else ""
    if transition.num_parallel is not None:
        foreach += f", num_parallel={transition.num_parallel!r}"
    return f"self.next({steps}{foreach})"


def user_traceback(exc: BaseException) -> str:
    """The traceback as the user should see it: their frames, not Shipyard's."""
    if isinstance(exc, SystemExit):
        return f"SystemExit: the step called sys.exit({exc.code!r}); a step must not exit\n"
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith(_OWN_CODE)
    ]
    message = "".join(traceback.format_exception_only(type(exc), exc))
    if not frames:
        return message
    return "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) + message
